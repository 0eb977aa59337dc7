//! `restore DIR...`: release exactly the locks the recorded runs made, through the same session
//! as `run`. Progress is recorded in each DIR, so running the same command again continues.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::cli::RestoreArgs;
use crate::config::{Output, RunConfig};
use crate::error::{Error, Exit};
use crate::job::{Action, FileId, OnFailure, Task};
use crate::progress::{print_stdout, Ui};
use crate::record::{Record, RunKind, RunState};
use crate::report::Outcome;
use crate::runner::plan::Plan;
use crate::runner::state::PageRef;
use crate::session::{self, PlanSource, Spec};

/// `restore DIR...`: unlock what the runs locked and has not been released yet.
pub async fn restore(a: RestoreArgs, argv: Vec<String>) -> Exit {
    let ui = Ui::new(Output::from_partial(&a.settings.partial()));
    match restore_inner(a, argv, &ui).await {
        Ok(code) => code,
        Err(e) => super::report_error(&ui, &e),
    }
}

async fn restore_inner(a: RestoreArgs, argv: Vec<String>, ui: &Ui) -> Result<Exit, Error> {
    let mut sources = Vec::new();
    let mut first: Option<RunState> = None;
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut dirs_seen = HashSet::new();
    // Where the run listed each file: one listing page read again tells the state of 100.
    let mut pages = HashMap::new();
    for dir in &a.dirs {
        // The same directory named twice (or through another path) is restored once.
        if !dirs_seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())) {
            continue;
        }
        let (record, st) = session::open_existing(dir)?;
        check_source(dir, &st, first.as_ref())?;
        for (f, page) in locked_by_run(dir, &record)? {
            if seen.insert(f.clone()) {
                pages.extend(page.map(|p| (f.clone(), p)));
                files.push(f);
            }
        }
        first.get_or_insert(st);
        sources.push(record);
    }
    let st = first.ok_or_else(|| Error::Usage("restore needs a report directory".into()))?;
    let cfg = RunConfig::for_restore(&a, &st, argv)?;
    let shown: Vec<String> = a.dirs.iter().map(|d| d.display().to_string()).collect();
    ui.info(&format!(
        "{}: {} to unlock",
        shown.join(", "),
        crate::text::count(files.len() as u64, "file")
    ));
    if files.is_empty() {
        if let Some(hint) = other_run_hint(&cfg.settings.report_root, &st, &a.dirs) {
            ui.alert(&hint);
        }
    }
    if a.dry_run {
        let mut out = format!(
            "Restore plan for {} (dry run, nothing sent): unlock {}\n",
            shown.join(", "),
            crate::text::count(files.len() as u64, "file")
        );
        for f in &files {
            out.push_str(&format!("  {f}\n"));
        }
        print_stdout(&out);
        return Ok(Exit::Success);
    }
    let job: Arc<str> = Arc::from("restore");
    let tasks = files
        .into_iter()
        .enumerate()
        .map(|(i, file)| Task {
            seq: i as u64 + 1,
            job: job.clone(),
            file,
            action: Action::Unlock,
            on_failure: OnFailure::Continue,
        })
        .collect();
    let spec = Spec {
        kind: RunKind::Restore,
        name: format!("{}-restore", st.name),
        plan: PlanSource::Ready(Plan {
            tasks,
            pages,
            ..Plan::default()
        }),
        job_files: Vec::new(),
        action: None,
        lines: Vec::new(),
        sources,
    };
    session::run(cfg, spec).await
}

/// When this run locked nothing (the files were already locked, by an earlier run of the
/// same plan), the directory under `root` of the run that did, as a hint.
fn other_run_hint(root: &Path, st: &RunState, given: &[std::path::PathBuf]) -> Option<String> {
    let mut best: Option<(String, std::path::PathBuf, usize)> = None;
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let dir = entry.path();
        if given.iter().any(|g| same_dir(g, &dir)) {
            continue;
        }
        let Some(record) = Record::peek(&dir) else {
            continue;
        };
        let Ok(Some(other)) = record.state() else {
            continue;
        };
        if other.kind != RunKind::Run || other.dry_run || other.plan_digest != st.plan_digest {
            continue;
        }
        let n = locked_by_run(&dir, &record).map(|f| f.len()).unwrap_or(0);
        if n > 0 && best.as_ref().is_none_or(|(at, ..)| *at < other.created_at) {
            best = Some((other.created_at, dir, n));
        }
    }
    best.map(|(_, dir, n)| {
        format!(
            "nothing to unlock here, but {} (a run of the same plan) locked {}: run `docspace-batch restore {}`",
            dir.display(),
            crate::text::count(n as u64, "file"),
            crate::session::shell_quote(&dir.display().to_string())
        )
    })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn check_source(dir: &Path, st: &RunState, first: Option<&RunState>) -> Result<(), Error> {
    if st.dry_run {
        return Err(Error::Usage(format!(
            "{} holds a dry run: it locked nothing",
            dir.display()
        )));
    }
    if st.kind != RunKind::Run {
        return Err(Error::Usage(format!(
            "{} holds a restore report; restore the run's own directory",
            dir.display()
        )));
    }
    if let Some(f) = first.filter(|f| f.portal != st.portal) {
        return Err(Error::Usage(format!(
            "{} was run against {} but the first directory against {}; restore them separately",
            dir.display(),
            f.portal,
            st.portal
        )));
    }
    Ok(())
}

/// The files the run in `dir` locked and no restore has released yet: lock tasks `ok` that
/// found the file unlocked, and lock intents with no answer recorded (the process ended while
/// the request was on the wire) on files known to have been unlocked before; each with the
/// listing page the run found it on, if it came from a folder.
fn locked_by_run(dir: &Path, record: &Record) -> Result<Vec<(FileId, Option<PageRef>)>, Error> {
    let bad = |e: crate::record::RecordError| Error::Usage(e.to_string());
    let rows = record.results().map_err(bad)?;
    let released = record.released().map_err(bad)?;
    let locked_ok: Vec<_> = rows
        .iter()
        .filter(|r| r.action == Action::Lock && r.outcome == Outcome::Ok)
        .collect();
    if !locked_ok.is_empty() && locked_ok.iter().all(|r| r.was_locked.is_none()) {
        return Err(Error::Usage(format!(
            "{} does not record whether the files were locked before the run (it ran with --no-check-state), so restore cannot tell which locks it made. Unlock them with a job file instead",
            dir.display()
        )));
    }
    let plan = record.plan().map_err(bad)?;
    let by_seq: std::collections::HashMap<u64, &FileId> =
        plan.tasks.iter().map(|t| (t.seq, &t.file)).collect();
    let mut out: Vec<(u64, FileId)> = Vec::new();
    for r in locked_ok.iter().filter(|r| r.was_locked == Some(false)) {
        if let Ok(f) = FileId::parse(&r.file_id) {
            out.push((r.seq, f));
        }
    }
    for (seq, i) in record.unsettled_intents().map_err(bad)? {
        if i.lock && i.was_locked == Some(false) {
            if let Some(f) = by_seq.get(&seq) {
                out.push((seq, (*f).clone()));
            }
        }
    }
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out
        .into_iter()
        .filter(|(_, f)| !released.contains(&f.to_string()))
        .map(|(_, f)| {
            let page = plan.pages.get(&f).cloned();
            (f, page)
        })
        .collect())
}
