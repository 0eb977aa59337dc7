//! The report directory's name and state, and the commands printed for "run this next".

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::record;

/// Default report directory: `reports/<name>-<UTC yyyymmddThhmmssZ>`.
pub fn default_report_dir(name: &str) -> PathBuf {
    let ts = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    let base = PathBuf::from("reports").join(format!("{name}-{ts}"));
    // Two runs of one job started in the same second (cron and a person) get distinct
    // directories rather than the second one refusing to start.
    (1..1000)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                PathBuf::from(format!("{}-{n}", base.display()))
            }
        })
        .find(|d| !d.join(record::RUN_JSON).exists())
        .unwrap_or(base)
}

/// Refuses a directory that already holds a run, then creates it.
pub fn fresh_report_dir(dir: &Path) -> Result<(), Error> {
    // The report files are opened (results.csv gets its header) before the key check and the
    // folder expansion, so a start that ended there (key rejected, Ctrl-C while expanding, a
    // missing folder) leaves a header-only results.csv and no run.json. Such a directory holds
    // no work: running the same command again must be allowed, since `--resume` cannot take it.
    let has_rows = std::fs::read(dir.join(crate::report::RESULTS))
        .map(|d| d.iter().filter(|&&b| b == b'\n').count() > 1)
        .unwrap_or(false);
    if dir.join(record::RUN_JSON).exists() || has_rows {
        return Err(Error::Usage(format!(
            "{} already holds a run's reports; continue it with --resume {} or choose another --report-dir",
            dir.display(),
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Io(format!(
            "cannot create report directory {}: {e}",
            dir.display()
        ))
    })
}

/// Shell-quotes one argument for the printed resume command.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command that continues the run in `dir`: the same arguments, `--resume DIR` instead of
/// `--report-dir`/`--resume`.
pub fn resume_command(argv: &[String], dir: &Path) -> String {
    let mut out = command_without_target(argv);
    out.push("--resume".into());
    out.push(shell_quote(&dir.display().to_string()));
    out.join(" ")
}

/// The command line as typed (shell-quoted, program name `docspace-batch`) without
/// `--report-dir`, `--resume` and `--dry-run`: the base of every printed "run this next".
pub fn command_without_target(argv: &[String]) -> Vec<String> {
    let mut out = vec!["docspace-batch".to_string()];
    let mut it = argv.iter().skip(1).peekable();
    while let Some(a) = it.next() {
        if a == "--report-dir" || a == "--resume" || a == "--dry-run" {
            if a != "--dry-run" {
                it.next();
            }
            continue;
        }
        if a.starts_with("--report-dir=") || a.starts_with("--resume=") {
            continue;
        }
        out.push(shell_quote(a));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_command_replaces_the_target() {
        let argv: Vec<String> = [
            "docspace-batch",
            "run",
            "a b.csv",
            "--report-dir",
            "r",
            "--dry-run",
            "--rate=5/s",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            resume_command(&argv, Path::new("reports/x")),
            "docspace-batch run 'a b.csv' --rate=5/s --resume reports/x"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
