//! `completions` and `man`: generated from the clap definitions, so they cannot drift from the
//! parser.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::Exit;

/// The binary's name as users type it (also the completion target).
const BIN: &str = "docspace-batch";

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> Exit {
    // Into a buffer first: `generate` panics when its writer fails (e.g. `| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    finish(out.write_all(&script), "completion script")
}

/// Writes the roff man page to `out`.
pub fn man(out: &mut dyn Write) -> Exit {
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
        return finish(Err(e), "man page");
    }
    finish(out.write_all(&title_first(page)), "man page")
}

/// Moves the `.TH` line ahead of clap_mangen's preamble (a string definition that only has to
/// precede its uses), so tools that identify a man page by its first line (`file`, `lexgrog`)
/// see one.
fn title_first(page: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&page);
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let title = lines.remove(i);
        lines.insert(0, title);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out.into_bytes()
}

fn finish(written: std::io::Result<()>, what: &str) -> Exit {
    match written {
        Ok(()) => Exit::Success,
        // `| head` closing the pipe early is how a reader says it has seen enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
        // A full disk or a closed file: say so instead of panicking.
        Err(e) => {
            eprintln!("error: cannot write the {what}: {e}");
            Exit::Usage
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_shell_gets_a_script_that_knows_the_subcommands() {
        for shell in Shell::value_variants() {
            let mut out = Vec::new();
            assert_eq!(completions(*shell, &mut out), Exit::Success);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.is_empty(), "{shell}");
            assert!(text.contains("run"), "{shell}");
        }
    }

    #[test]
    fn man_page_is_roff() {
        let mut out = Vec::new();
        assert_eq!(man(&mut out), Exit::Success);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(".TH"), "{}", &text[..80.min(text.len())]);
        assert!(text.contains("restore"));
    }
}
