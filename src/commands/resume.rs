//! `--resume DIR` and `--resume latest`: which recorded run to continue, and the check that a
//! resume runs the same plan.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::record::{Record, RunKind, RunState};
use crate::runner::plan::Plan;
use crate::session;

/// A recorded run, locked, ready to continue.
pub struct Continued {
    /// Its record.
    pub record: Record,
    /// What made it.
    pub state: RunState,
    /// Its plan.
    pub plan: Plan,
}

/// `--resume DIR`: the record of DIR (locked), refused when DIR is not a run that can go on.
pub fn open_dir(dir: &Path) -> Result<Continued, Error> {
    let (record, state) = session::open_existing(dir)?;
    if state.dry_run {
        return Err(Error::Usage(format!(
            "{} holds a dry run: start the real run with --report-dir {} (the dry run's plan is replaced) instead of resuming it",
            dir.display(),
            dir.display()
        )));
    }
    if state.kind != RunKind::Run {
        return Err(Error::Usage(
            "that directory holds a restore report; run `docspace-batch restore` again instead"
                .into(),
        ));
    }
    let plan = record.plan().map_err(|e| Error::Usage(e.to_string()))?;
    Ok(Continued {
        record,
        state,
        plan,
    })
}

/// `--resume latest`: the newest directory under `root` whose plan is `digest` and that has
/// work left, or `None` (then a new run starts). A directory another process is recording
/// into counts: continuing it is refused as in use rather than starting the same work twice.
pub fn find_latest(root: &Path, digest: &str) -> Option<PathBuf> {
    session::recorded_runs(root)?
        .into_iter()
        .rfind(|r| r.state.plan_digest == digest && r.work_left)
        .map(|r| r.dir)
}

/// A resume's job files must describe the recorded plan: compared entry by entry (job,
/// target, actions, failure policy), so a comment or a blank line changes nothing and a real
/// change is named.
pub fn same_plan(dir: &Path, recorded: &[String], now: &[String]) -> Result<(), Error> {
    let first = (0..recorded.len().max(now.len())).find(|&i| recorded.get(i) != now.get(i));
    let Some(i) = first else {
        return Ok(());
    };
    let show = |l: Option<&String>| l.map_or("nothing".to_string(), |l| format!("`{l}`"));
    Err(Error::Usage(format!(
        "the job files describe a different plan than {} was made from: entry {} was {}, now {}. Resume without the changes, or start a new run",
        dir.display(),
        i + 1,
        show(recorded.get(i)),
        show(now.get(i))
    )))
}
