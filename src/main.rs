//! Thin entry point: signals first, parse, build the runtime, call the library, map the result
//! to an exit code.
use std::process::ExitCode;

use clap::Parser;
use docspace_batch::cli::Cli;
use docspace_batch::error::Exit;

/// Blocks SIGINT/SIGTERM before `main` and before the Rust runtime's own start-up: the loader
/// runs `.init_array` entries first, so from here on a signal waits for the handler instead of
/// killing the process (which would leave a cron wrapper an exit status of 143).
#[used]
#[link_section = ".init_array"]
static BLOCK_SIGNALS_AT_LOAD: extern "C" fn() = {
    extern "C" fn block() {
        docspace_batch::signals::block();
    }
    block
};

fn main() -> ExitCode {
    // Again, in case the loader did not run the entry above (it is idempotent).
    docspace_batch::signals::block();
    // `args_os`: a non-UTF-8 argument (a file name) must be a usage error, not a panic.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            match docspace_batch::cli::value_error(&e) {
                Some(text) => eprintln!("{text}"),
                None => {
                    let _ = e.print();
                }
            }
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
    let owns_signals = matches!(cli.command, docspace_batch::cli::Command::Sandbox(_));
    let exit = rt.block_on(async {
        docspace_batch::signals::install(owns_signals);
        docspace_batch::commands::dispatch(cli.command, argv).await
    });
    // Do not wait for in-flight background work (e.g. a request still running after a stop).
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(exit.code())
}
