//! `run`: job files (or the recorded plan of `--resume DIR`) through the session.

use std::path::PathBuf;

use crate::cli::RunArgs;
use crate::config::{self, Output, RunConfig};
use crate::error::{Error, Exit};
use crate::job::{Action, JobFile};
use crate::progress::Ui;
use crate::record::{JobFileRef, Record, RunKind, RunState};
use crate::runner::plan::{self, Plan};
use crate::session::{self, PlanSource, Resumed, Spec};

/// `run JOBFILE...`, `run --dry-run`, `run --resume DIR`.
pub async fn run(a: RunArgs, argv: Vec<String>) -> Exit {
    let ui = Ui::new(Output::from_partial(&a.settings.partial()));
    match run_inner(a, argv, &ui).await {
        Ok(code) => code,
        Err(e) => super::report_error(&ui, &e),
    }
}

async fn run_inner(a: RunArgs, argv: Vec<String>, ui: &Ui) -> Result<Exit, Error> {
    if a.dry_run && a.resume.is_some() {
        // A dry run writes `planned` rows: into a real run's directory they would replace its
        // record (and `restore` would then find nothing to release).
        return Err(Error::Usage(
            "--dry-run cannot be combined with --resume: the directory holds a real run's record. Run the dry run with its own --report-dir".into(),
        ));
    }
    let resumed = a.resume.as_deref().map(resumable).transpose()?;
    let paths: Vec<PathBuf> = match (&resumed, a.jobfiles.is_empty()) {
        (Some((st, ..)), true) => st.job_files.iter().map(|j| j.path.clone()).collect(),
        (_, false) => a.jobfiles.clone(),
        (None, true) => {
            return Err(Error::Usage(
                "no job file given: docspace-batch run JOBFILE... (see --help)".into(),
            ))
        }
    };
    // A resume uses the --action of the run it continues unless told otherwise.
    let recorded_action = resumed.as_ref().and_then(|(st, ..)| st.action.as_deref());
    let action = match (a.settings.action, recorded_action) {
        (Some(a), _) => Some(a),
        (None, Some(r)) => Some(Action::parse(r).map_err(Error::Usage)?),
        (None, None) => None,
    };
    let mut files = config::load_jobs(&paths, action)?;
    for f in &files {
        for w in &f.warnings {
            ui.warn(&format!("{}: {w}", f.path.display()));
        }
    }
    if let Some((st, ..)) = &resumed {
        same_job_files(st, &files, a.resume.as_deref().unwrap_or(".".as_ref()))?;
    }
    let cfg = RunConfig::for_run(&a, &files, argv)?;
    plan::scope_job_names(&mut files);
    let spec = Spec {
        kind: RunKind::Run,
        name: files
            .first()
            .map(|f| f.name.clone())
            .unwrap_or_else(|| "run".into()),
        job_files: files.iter().map(job_file_ref).collect(),
        action: action.map(|a| a.as_str().to_string()),
        plan: match resumed {
            Some((_, plan, record)) => PlanSource::Recorded(Box::new(Resumed { record, plan })),
            None => PlanSource::Expand(files.into_iter().flat_map(|f| f.entries).collect()),
        },
        sources: Vec::new(),
    };
    session::run(cfg, spec).await
}

/// The record of `--resume DIR` (locked) with its state and plan, refused when DIR is not a
/// run that can continue.
fn resumable(dir: &std::path::Path) -> Result<(RunState, Plan, Record), Error> {
    let (record, st) = session::open_existing(dir)?;
    let p = record.plan().map_err(|e| Error::Usage(e.to_string()))?;
    if st.dry_run {
        return Err(Error::Usage(
            "that directory holds a dry run; start a real run instead of resuming it".into(),
        ));
    }
    if st.kind != RunKind::Run {
        return Err(Error::Usage(
            "that directory holds a restore report; run `docspace-batch restore` again instead"
                .into(),
        ));
    }
    Ok((st, p, record))
}

fn same_job_files(st: &RunState, files: &[JobFile], dir: &std::path::Path) -> Result<(), Error> {
    let now: Vec<&str> = files.iter().map(|f| f.sha256.as_str()).collect();
    let then: Vec<&str> = st.job_files.iter().map(|j| j.sha256.as_str()).collect();
    if now == then {
        return Ok(());
    }
    let names: Vec<String> = st
        .job_files
        .iter()
        .map(|j| j.path.display().to_string())
        .collect();
    Err(Error::Usage(format!(
        "the job files differ from those {} was made from ({}); resuming would run a different plan. Start a new run instead",
        dir.display(),
        names.join(", ")
    )))
}

fn job_file_ref(f: &JobFile) -> JobFileRef {
    JobFileRef {
        // Absolute, so `run --resume DIR` without job files works from anywhere.
        path: std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone()),
        sha256: f.sha256.clone(),
    }
}
