//! Choosing, creating and locking the report directory, and the commands printed for "run
//! this next".

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::record::{self, files, Record, RunState};

/// A new run's record and the directories made for it, innermost first: a run that ends
/// before its plan is recorded (the portal never answered, the credential was refused)
/// removes them again, so it leaves nothing that looks like a run.
pub struct NewRecord {
    /// The open, locked record.
    pub record: Record,
    /// Directories this run created, innermost first.
    pub created: Vec<PathBuf>,
}

/// Opens the report directory of a new run or dry run, locked: the one given (created 0700 if
/// missing; refused when it already holds a run), or a new default one.
pub fn open_new(dir: Option<&Path>, root: &Path, name: &str) -> Result<NewRecord, Error> {
    let Some(dir) = dir else {
        return open_default(root, name);
    };
    let missing = missing_dirs(dir);
    files::create_private_dir(dir).map_err(|e| {
        Error::Io(format!(
            "cannot create report directory {}: {e}",
            dir.display()
        ))
    })?;
    if dir.join("run.json").exists() && !dir.join(record::RUN_DB).exists() {
        return Err(Error::Usage(format!(
            "{} holds a run recorded by an earlier docspace-batch (run.json); choose another --report-dir",
            dir.display()
        )));
    }
    let record = open_record(dir)?;
    if let Some(st) = record.state().map_err(|e| Error::Usage(e.to_string()))? {
        // A dry run's record may be replaced by the real run it was rehearsing.
        if !st.dry_run {
            return Err(Error::Usage(format!(
                "{} already holds a run's reports; continue it with --resume {} or choose another --report-dir",
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(NewRecord {
        record,
        created: missing,
    })
}

/// `ROOT/<name>-<UTC yyyymmddThhmmssZ>`. Two runs of one job started at once want the same
/// directory: the lock lets one have it and the other exits 2 ("in use"), so the same work is
/// never done twice by accident. A directory of that name that holds a finished run (a
/// second run, or restore, started within the same second after the first ended) makes the
/// name `-2`, `-3`…
fn open_default(root: &Path, name: &str) -> Result<NewRecord, Error> {
    // The root is removed with the run's directory only when this run made it (a first run
    // that could not reach the portal leaves no empty `reports/` behind).
    let root_missing = missing_dirs(root);
    let ts = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    let base = root.join(format!("{name}-{ts}"));
    for n in 1..1000 {
        let dir = match n {
            1 => base.clone(),
            n => PathBuf::from(format!("{}-{n}", base.display())),
        };
        let missing = missing_dirs(&dir);
        files::create_private_dir(&dir).map_err(|e| {
            Error::Io(format!(
                "cannot create report directory {}: {e}",
                dir.display()
            ))
        })?;
        let record = open_record(&dir)?;
        match record.state().map_err(|e| Error::Usage(e.to_string()))? {
            Some(st) if !st.dry_run => continue,
            _ => {
                // `missing` holds the root's missing part only for the first name tried.
                let mut created = missing;
                for d in root_missing {
                    if !created.contains(&d) {
                        created.push(d);
                    }
                }
                return Ok(NewRecord { record, created });
            }
        }
    }
    Err(Error::Io(format!(
        "no free report directory name like {}; pass --report-dir",
        base.display()
    )))
}

/// `dir` and those of its ancestors that do not exist yet, innermost first: what creating it
/// will make.
fn missing_dirs(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .filter(|d| !d.as_os_str().is_empty())
        .take_while(|d| std::fs::symlink_metadata(d).is_err())
        .map(Path::to_path_buf)
        .collect()
}

/// Locks and opens `dir`'s record; in use or unreadable is a usage error (nothing sent yet).
pub fn open_record(dir: &Path) -> Result<Record, Error> {
    Record::open(dir).map_err(|e| Error::Usage(e.to_string()))
}

/// Opens the record of a directory that must already hold one (`--resume`, `restore`).
pub fn open_existing(dir: &Path) -> Result<(Record, RunState), Error> {
    let meta = std::fs::symlink_metadata(dir);
    if !meta.as_ref().is_ok_and(|m| m.is_dir()) || !dir.join(record::RUN_DB).exists() {
        return Err(Error::Usage(format!(
            "{} is not a docspace-batch report directory (no {}), or it was made by a run that never started",
            dir.display(),
            record::RUN_DB
        )));
    }
    let record = open_record(dir)?;
    match record.state().map_err(|e| Error::Usage(e.to_string()))? {
        Some(st) => Ok((record, st)),
        None => Err(Error::Usage(format!(
            "{} holds no plan: the run that made it stopped before it started; start a new run",
            dir.display()
        ))),
    }
}

/// A real run (not a dry run, not a restore) recorded under a report root.
pub struct RecordedRun {
    /// Its report directory.
    pub dir: PathBuf,
    /// What made it.
    pub state: RunState,
    /// Whether a resume would have something to do.
    pub work_left: bool,
}

/// The real runs recorded in the directories right under `root`, read without taking their
/// locks (a run being recorded is seen as it stands), oldest first. `None` when `root` cannot
/// be read.
pub fn recorded_runs(root: &Path) -> Option<Vec<RecordedRun>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let dir = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Some(record) = Record::peek(&dir) else {
            continue;
        };
        let Ok(Some(state)) = record.state() else {
            continue;
        };
        if state.dry_run || state.kind != record::RunKind::Run {
            continue;
        }
        let (Ok(plan), Ok(rows)) = (record.plan(), record.results()) else {
            continue;
        };
        let work_left = super::pending::work_left(&plan.tasks, &rows);
        out.push(RecordedRun {
            dir,
            state,
            work_left,
        });
    }
    out.sort_by(|a, b| a.state.created_at.cmp(&b.state.created_at));
    Some(out)
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
