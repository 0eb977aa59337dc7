//! The subcommands, each a thin layer: resolve the configuration, hand it to the session (or
//! to the loaders, or the sandbox), print what went wrong.

mod diff;
mod docs;
mod restore;
mod resume;
mod run;
mod validate;

use crate::cli::Command;
use crate::error::{Error, Exit};
use crate::progress::Ui;

/// Runs one subcommand to its exit code. `argv` is the command line as typed (for the
/// printed resume command).
pub async fn dispatch(cmd: Command, argv: Vec<String>) -> Exit {
    match cmd {
        Command::Run(a) => run::run(a, argv).await,
        Command::Validate(a) => validate::validate(a),
        Command::Restore(a) => restore::restore(a, argv).await,
        Command::Diff(a) => diff::diff(a),
        Command::Completions(a) => docs::completions(a.shell, &mut std::io::stdout()),
        Command::Man => docs::man(&mut std::io::stdout()),
        Command::Sandbox(a) => match crate::sandbox::run_cli(a).await {
            Ok(()) => Exit::Success,
            Err(e) => {
                eprintln!("error: {e:#}");
                Exit::Usage
            }
        },
    }
}

/// Prints an error that ended a command and gives its exit code.
fn report_error(ui: &Ui, e: &Error) -> Exit {
    for line in e.to_string().lines() {
        ui.error(line);
    }
    e.exit()
}
