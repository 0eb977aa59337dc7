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

/// The exit codes as README.md's table has them (a test keeps the two the same).
pub const EXIT_CODES: [(&str, &str); 6] = [
    ("0", "every task `ok`, `unchanged` or `locked_by_other`"),
    ("1", "finished, but some tasks `failed` or `skipped`: the report says which and why"),
    ("2", "invalid input or usage, or the report directory is in use; no request was sent"),
    ("3", "aborted: credential rejected (or a key without `files:write` on a lock run), 401, the daily write cap, `--max-failures`, the record could not be written"),
    ("4", "`--max-duration` reached with work left: resume in the next window"),
    ("130", "interrupted by a signal: resume"),
];

/// The environment variables the program reads, with what each means (see
/// `config::credential` for the rules: one kind of credential, an empty variable is unset).
pub const ENVIRONMENT: [(&str, &str); 5] = [
    ("DOCSPACE_URL", "The portal base URL, as --portal gives it (the flag wins). Ignored with run --sandbox."),
    ("DOCSPACE_API_KEY", "An API key, sent as `Authorization: Bearer <key>`; DocSpace 3.1 and later. --api-key-file takes its place."),
    ("DOCSPACE_TOKEN", "A session token, e.g. one that `POST /api/2.0/authentication` issued; every DocSpace version. --token-file takes its place."),
    ("DOCSPACE_USER", "The user (e-mail) to sign in as, with DOCSPACE_PASSWORD or --password-file; the run signs in once. Not for accounts with two-factor sign-in."),
    ("DOCSPACE_PASSWORD", "The password of DOCSPACE_USER. --password-file takes its place."),
];

/// Writes the roff man page to `out`: one page for the whole program, with a section per
/// command (its synopsis and every option), the environment, the exit codes and the version.
/// clap_mangen alone would list the commands as `docspace-batch-run(1)`, pages nobody can
/// produce, and fold the multi-line `--version` text into one paragraph.
pub fn man(out: &mut dyn Write) -> Exit {
    match page() {
        Ok(page) => finish(out.write_all(&title_first(page)), "man page"),
        Err(e) => finish(Err(e), "man page"),
    }
}

fn page() -> std::io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    cmd.build();
    let top = clap_mangen::Man::new(cmd.clone()).title("DOCSPACE-BATCH");
    let mut page = Vec::new();
    top.render_title(&mut page)?;
    top.render_name_section(&mut page)?;
    top.render_synopsis_section(&mut page)?;
    top.render_description_section(&mut page)?;
    page.extend_from_slice(
        b".PP\nEach command is described below with its options; \\fBdocspace\\-batch \\fICOMMAND\\fB \\-\\-help\\fR prints the same.\n",
    );
    top.render_options_section(&mut page)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let title = format!("COMMAND: {}", sub.get_name().to_uppercase());
        page.extend_from_slice(format!(".SH \"{}\"\n", roff(&title)).as_bytes());
        let man = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        man.render_description_section(&mut part)?;
        man.render_synopsis_section(&mut part)?;
        man.render_options_section(&mut part)?;
        page.extend_from_slice(retitled(&part).as_bytes());
    }
    page.extend_from_slice(extra_sections().as_bytes());
    Ok(plain(&page))
}

/// The page with clap_mangen's preamble (an `Aq` string definition each render call repeats)
/// once, right after the title, and every character outside ASCII as a roff escape (`…` as
/// `\[u2026]`): groff without a `preconv` step reads its input as Latin-1.
fn plain(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let is_preamble = |l: &str| l.starts_with(".ie \\n(.g .ds Aq") || l.starts_with(".el .ds Aq");
    let preamble: Vec<&str> = text.lines().filter(|l| is_preamble(l)).take(2).collect();
    let mut out = String::new();
    for line in text.lines().filter(|l| !is_preamble(l)) {
        for c in line.chars() {
            if c.is_ascii() {
                out.push(c);
            } else if c == '\u{2026}' {
                // Not in groff's ASCII device; three dots read the same everywhere.
                out.push_str("...");
            } else {
                out.push_str(&format!("\\[u{:04X}]", c as u32));
            }
        }
        out.push('\n');
        if line.starts_with(".TH ") {
            for p in &preamble {
                out.push_str(p);
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

/// A command's own sections as subsections of its `COMMAND:` section.
fn retitled(part: &[u8]) -> String {
    let text = String::from_utf8_lossy(part);
    let mut out = String::new();
    for line in text.lines() {
        match line {
            // Its text follows the command's heading directly.
            ".SH DESCRIPTION" => continue,
            ".SH SYNOPSIS" => out.push_str(".SS Synopsis"),
            ".SH OPTIONS" => out.push_str(".SS Options"),
            other => out.push_str(other),
        }
        out.push('\n');
    }
    out
}

/// ENVIRONMENT, EXIT STATUS, FILES, SEE ALSO and VERSION.
fn extra_sections() -> String {
    let mut s = String::from(".SH ENVIRONMENT\n");
    for (var, what) in ENVIRONMENT {
        s.push_str(&format!(".TP\n\\fB{var}\\fR\n{}\n", roff(what)));
    }
    s.push_str(".PP\nOne kind of credential per run: an API key, a session token, or a user and password (two kinds, or none, is exit 2). An empty variable counts as unset. No flag takes a secret itself, since a command line shows in \\fBps\\fR(1).\n");
    s.push_str(".SH \"EXIT STATUS\"\n");
    for (code, what) in EXIT_CODES {
        s.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff(what)));
    }
    s.push_str(".PP\n\\fBdiff\\fR exits 0 (no differences), 1 (differences) or 2 (a directory is not a report or is in use).\n");
    s.push_str(&format!(
        ".SH FILES\n.TP\n\\fIreports/<name>\\-<UTC time>/\\fR\n{}\n",
        roff("A run's report directory (--report-dir, under --report-root): run.db, the record of the run; results.csv, one row per task; summary.json and summary.md; access.csv and shares.csv. --resume DIR and restore DIR read it.")
    ));
    s.push_str(&format!(
        ".SH \"SEE ALSO\"\n{}\n",
        roff("docs/guide.md in the source distribution: job files, commands and options, how a run behaves, reports, resume and restore, cron, systemd and Kubernetes. docs/sandbox.md: the simulated portal. docs/security.md: the credential and hostile input.")
    ));
    // The short version: the build details of `--version` are for bug reports, not the page.
    s.push_str(&format!(
        ".SH VERSION\n{}\n.PP\n{}\n",
        env!("CARGO_PKG_VERSION"),
        roff("docspace-batch --version prints the commit, build date, target and TLS library as well.")
    ));
    s
}

/// `text` as roff running text: backslashes and hyphens escaped (a `-` unescaped may print as
/// a hyphen that breaks or copies wrong), backticks dropped, and a leading `.` or `'` kept
/// from being read as a request.
fn roff(text: &str) -> String {
    let body = text
        .replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('`', "");
    if body.starts_with(['.', '\'']) {
        format!("\\&{body}")
    } else {
        body
    }
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
