//! Reading the runs `diff` compares: a report directory's record, opened read-only, and the
//! two newest complete runs of a name for `diff --latest`. Nothing here writes, and nothing
//! talks to a portal.
//!
//! A directory another process is recording into is refused (exit 2, "in use"): its record is
//! half written, and comparing it would report as changes the files it has not reached yet.
//! The check takes the directory's lock only for that instant ([`DirLock::check_free`]), so
//! a run that starts while `diff` reads is never turned away because of it.

use std::path::{Path, PathBuf};

use super::RunFacts;
use crate::error::Error;
use crate::record::{DirLock, LockError, Record, RUN_DB};
use crate::session;

/// One run as `diff` sees it.
#[derive(Debug)]
pub struct Run {
    /// Its report directory.
    pub dir: PathBuf,
    /// Its files and their final known state.
    pub facts: RunFacts,
    /// Tasks that did not finish: their files' facts are partly unknown.
    pub work_left: bool,
}

/// Reads the run recorded in `dir`. Exit 2 (usage) when `dir` is not a report directory, holds
/// only a dry run, or is in use by another process.
pub fn load(dir: &Path) -> Result<Run, Error> {
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(Error::Usage(format!(
            "{} is not a directory; diff compares two report directories",
            dir.display()
        )));
    }
    DirLock::check_free(dir).map_err(|e| match e {
        LockError::InUse { .. } => Error::Usage(format!(
            "{}; compare it once that process has finished",
            e.describe(dir)
        )),
        LockError::Io(e) => Error::Usage(format!(
            "cannot check whether {} is in use: {e}",
            dir.display()
        )),
    })?;
    if !std::fs::symlink_metadata(dir.join(RUN_DB)).is_ok_and(|m| m.is_file()) {
        return Err(Error::Usage(format!(
            "{} is not a docspace-batch report directory (no {RUN_DB})",
            dir.display()
        )));
    }
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::Usage(format!(
            "{} is not a readable docspace-batch report directory: {e}",
            dir.display()
        ))
    };
    let record = Record::open_read_only(dir).map_err(|e| unreadable(&e))?;
    let Some(state) = record.state().map_err(|e| unreadable(&e))? else {
        return Err(Error::Usage(format!(
            "{} holds no run: the run that made it stopped before it started",
            dir.display()
        )));
    };
    if state.dry_run {
        return Err(Error::Usage(format!(
            "{} holds a dry run, which read nothing from the portal; compare real runs",
            dir.display()
        )));
    }
    let plan = record.plan().map_err(|e| unreadable(&e))?;
    let results = record.results().map_err(|e| unreadable(&e))?;
    let access = record.access_by_seq().map_err(|e| unreadable(&e))?;
    let shares = record.shares_by_seq().map_err(|e| unreadable(&e))?;
    let planned = plan.tasks.iter().map(|t| {
        let title = plan.titles.get(&t.file).map(String::as_str);
        (t.file.to_string(), title)
    });
    let facts = super::facts(planned, &results, &access, &shares);
    Ok(Run {
        dir: dir.to_path_buf(),
        work_left: session::work_left(&plan.tasks, &results),
        facts,
    })
}

/// `diff --latest NAME`: the two newest complete runs named `name` under `root`, older first.
/// Complete means a real run (not a dry run, not a restore) with no work left; newest by the
/// time the record was made. A run still going has work left, so it is never chosen.
pub fn latest(root: &Path, name: &str) -> Result<(PathBuf, PathBuf), Error> {
    let runs = session::recorded_runs(root)
        .ok_or_else(|| Error::Usage(format!("cannot read the report root {}", root.display())))?;
    let mut found: Vec<(String, PathBuf)> = runs
        .into_iter()
        .filter(|r| r.state.name == name && !r.work_left)
        .map(|r| (r.state.created_at, r.dir))
        .collect();
    match (found.pop(), found.pop()) {
        (Some((_, new)), Some((_, old))) => Ok((old, new)),
        (one, _) => Err(Error::Usage(format!(
            "diff --latest needs two complete runs named `{}` under {}; found {}",
            crate::text::shown(name),
            root.display(),
            if one.is_some() { "one" } else { "none" }
        ))),
    }
}
