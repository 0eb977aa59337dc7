//! Thin entry point: parse, build the runtime, call the library, map the result to an exit code.
use std::process::ExitCode;

use clap::Parser;
use docspace_batch::cli::{Cli, Command};
use docspace_batch::error::Exit;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors; every usage error is exit 2.
            return ExitCode::from(if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            });
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Usage.code());
        }
    };
    let exit = match cli.command {
        Command::Run(a) => rt.block_on(docspace_batch::runner::run(a, argv)),
        Command::Validate(a) => docspace_batch::runner::validate(a),
        Command::Restore(a) => rt.block_on(docspace_batch::runner::restore(a, argv)),
        Command::Sandbox(a) => match rt.block_on(docspace_batch::sandbox::run_cli(a)) {
            Ok(()) => Exit::Success,
            Err(e) => {
                eprintln!("error: {e:#}");
                Exit::Usage
            }
        },
    };
    // Do not wait for in-flight background work (e.g. a request still running after a stop).
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(exit.code())
}
