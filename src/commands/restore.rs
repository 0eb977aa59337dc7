//! `restore DIR`: release exactly the locks a run made, through the same session as `run`.

use std::collections::HashSet;
use std::sync::Arc;

use crate::cli::RestoreArgs;
use crate::config::{Output, RunConfig};
use crate::error::{Error, Exit};
use crate::job::{Action, FileId, OnFailure, Task};
use crate::progress::{print_stdout, Ui};
use crate::record::{self, RunKind};
use crate::report::{self, Outcome, ResultRow};
use crate::runner::plan::Plan;
use crate::session::{self, PlanSource, Spec};

/// `restore DIR`: unlock the files DIR's run locked (lock rows `ok` with `was_locked=false`).
pub async fn restore(a: RestoreArgs, argv: Vec<String>) -> Exit {
    let ui = Ui::new(Output::from_partial(&a.settings.partial()));
    match restore_inner(a, argv, &ui).await {
        Ok(code) => code,
        Err(e) => super::report_error(&ui, &e),
    }
}

async fn restore_inner(a: RestoreArgs, argv: Vec<String>, ui: &Ui) -> Result<Exit, Error> {
    let (st, _) = record::load(&a.dir).map_err(Error::Usage)?;
    if st.dry_run {
        return Err(Error::Usage(format!(
            "{} holds a dry run: it locked nothing",
            a.dir.display()
        )));
    }
    let rows = report::read_results(&a.dir).map_err(|e| Error::Io(e.to_string()))?;
    let tasks = unlock_tasks(&a.dir, &rows)?;
    let cfg = RunConfig::for_restore(&a, &st.portal, argv)?;
    ui.info(&format!(
        "{}: {} files to unlock",
        a.dir.display(),
        tasks.len()
    ));
    if a.dry_run {
        let mut out = format!(
            "Restore plan for {} (dry run, nothing sent): unlock {} files\n",
            a.dir.display(),
            tasks.len()
        );
        for t in &tasks {
            out.push_str(&format!("  {}\n", t.file));
        }
        print_stdout(&out);
        return Ok(Exit::Success);
    }
    let spec = Spec {
        kind: RunKind::Restore,
        name: format!("{}-restore", st.name),
        plan: PlanSource::Ready(Plan {
            tasks,
            ..Plan::default()
        }),
        job_files: Vec::new(),
        action: None,
    };
    session::run(cfg, spec).await
}

/// One unlock per file the run locked: lock tasks `ok` that found the file unlocked.
fn unlock_tasks(dir: &std::path::Path, rows: &[ResultRow]) -> Result<Vec<Task>, Error> {
    let locked_ok: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.action == Action::Lock && r.outcome == Outcome::Ok)
        .collect();
    if !locked_ok.is_empty() && locked_ok.iter().all(|r| r.was_locked.is_none()) {
        return Err(Error::Usage(format!(
            "{} does not record whether the files were locked before the run (it ran with --no-check-state), so restore cannot tell which locks it made. Unlock them with a job file instead",
            dir.display()
        )));
    }
    let mut seen = HashSet::new();
    let mut tasks = Vec::new();
    let job: Arc<str> = Arc::from("restore");
    for r in locked_ok.iter().filter(|r| r.was_locked == Some(false)) {
        let Ok(file) = FileId::parse(&r.file_id) else {
            continue;
        };
        if seen.insert(file.clone()) {
            tasks.push(Task {
                seq: tasks.len() as u64 + 1,
                job: job.clone(),
                file,
                action: Action::Unlock,
                on_failure: OnFailure::Continue,
            });
        }
    }
    Ok(tasks)
}
