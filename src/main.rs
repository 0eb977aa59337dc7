//! Thin entry point: parse, build the runtime, call the library, map the result to an exit code.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = docspace_batch::cli::Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match cli.command {
        docspace_batch::cli::Command::Sandbox(args) => {
            match rt.block_on(docspace_batch::sandbox::run_cli(args)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::from(2)
                }
            }
        }
        _ => {
            eprintln!("not yet");
            std::process::ExitCode::from(2)
        }
    }
}
