//! `run`: job files (or the recorded plan of `--resume DIR|latest`) through the session.

use std::path::{Path, PathBuf};

use super::resume::{self, Continued};
use crate::cli::RunArgs;
use crate::config::{self, Output, RunConfig};
use crate::error::{Error, Exit};
use crate::job::{self, Action, JobFile};
use crate::progress::Ui;
use crate::record::{self, JobFileRef, RunKind};
use crate::runner::plan;
use crate::session::{self, PlanSource, Resumed, Spec};

/// `run JOBFILE...`, `run --dry-run`, `run --resume DIR|latest`.
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
    let latest = a.resume.as_deref() == Some(Path::new("latest"));
    let mut cont = match &a.resume {
        Some(d) if !latest => Some(resume::open_dir(d)?),
        _ => None,
    };
    let mut files = load(&a, cont.as_ref(), latest, ui)?;
    plan::scope_job_names(&mut files);
    let entries: Vec<_> = files
        .iter()
        .flat_map(|f| f.entries.iter().cloned())
        .collect();
    let lines = record::plan_lines(&entries);
    if latest {
        let cfg = RunConfig::for_run(&a, &files, argv.clone(), None)?;
        let digest = record::plan_digest(&lines, cfg.settings.shard);
        if let Some(dir) = resume::find_latest(&cfg.settings.report_root, &digest) {
            ui.info(&format!("--resume latest: continuing {}", dir.display()));
            cont = Some(resume::open_dir(&dir)?);
        }
    }
    if let Some(c) = cont.as_ref().filter(|_| !a.jobfiles.is_empty()) {
        let recorded = c
            .record
            .plan_lines()
            .map_err(|e| Error::Usage(e.to_string()))?;
        resume::same_plan(c.record.dir(), &recorded, &lines)?;
    }
    let cfg = RunConfig::for_run(&a, &files, argv, cont.as_ref().map(|c| &c.state))?;
    let action = a.settings.action.or(cont
        .as_ref()
        .and_then(|c| recorded_action(c).ok().flatten()));
    let spec = Spec {
        kind: RunKind::Run,
        name: match &cont {
            Some(c) => c.state.name.clone(),
            None => files
                .first()
                .map(|f| f.name.clone())
                .unwrap_or_else(|| "run".into()),
        },
        job_files: files.iter().map(job_file_ref).collect(),
        action: action.map(|a| a.as_str().to_string()),
        lines,
        plan: match cont {
            Some(c) => PlanSource::Recorded(Box::new(Resumed {
                record: c.record,
                plan: c.plan,
            })),
            None => PlanSource::Expand(entries),
        },
        sources: Vec::new(),
    };
    session::run(cfg, spec).await
}

/// The job files: as given, or (resuming without them) the ones the run recorded, loaded with
/// the `--action` the run used unless another is given.
///
/// A job the run read from stdin is not read again when resuming without job files: stdin
/// then holds whatever the resuming shell has (a terminal, cron's nothing), not that job. The
/// recorded plan goes on without it, and the operator is told that its settings are missed
/// and how to apply them: give `-` and the same job on stdin (its plan is compared with the
/// record, like a file's).
fn load(
    a: &RunArgs,
    cont: Option<&Continued>,
    latest: bool,
    ui: &Ui,
) -> Result<Vec<JobFile>, Error> {
    let paths: Vec<PathBuf> = match (cont, a.jobfiles.is_empty()) {
        (Some(c), true) => {
            let (stdin, files): (Vec<_>, Vec<_>) = c
                .state
                .job_files
                .iter()
                .map(|j| j.path.clone())
                .partition(|p| p == Path::new(job::STDIN_NAME));
            if !stdin.is_empty() {
                ui.warn(&format!(
                    "the job of {} was read from stdin, which is not read again: continuing the recorded plan without that job's settings (to apply them, resume with `-` and the same job on stdin)",
                    c.record.dir().display()
                ));
            }
            files
        }
        (_, false) => a.jobfiles.clone(),
        (None, true) if latest => {
            return Err(Error::Usage(
                "--resume latest needs the job files, to know which run to continue: docspace-batch run JOBFILE... --resume latest".into(),
            ))
        }
        (None, true) => {
            return Err(Error::Usage(
                "no job file given: docspace-batch run JOBFILE... (see --help)".into(),
            ))
        }
    };
    let action = match (a.settings.action, cont) {
        (Some(a), _) => Some(a),
        (None, Some(c)) => recorded_action(c)?,
        (None, None) => None,
    };
    let files = match config::load_jobs(&paths, action, a.format) {
        Ok(f) => f,
        // The plan is in the record: job files that moved or changed since do not stop a
        // resume that did not name them; only their settings are missed.
        Err(e) if cont.is_some() && a.jobfiles.is_empty() => {
            ui.warn(&format!(
                "the recorded job files cannot be loaded ({}); continuing the recorded plan with the command line's settings",
                e.to_string().lines().next().unwrap_or_default()
            ));
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    for f in &files {
        for w in &f.warnings {
            ui.warn(&format!("{}: {w}", f.path.display()));
        }
    }
    Ok(files)
}

/// The `--action` the continued run recorded.
fn recorded_action(c: &Continued) -> Result<Option<Action>, Error> {
    c.state
        .action
        .as_deref()
        .map(|r| Action::parse(r).map_err(Error::Usage))
        .transpose()
}

fn job_file_ref(f: &JobFile) -> JobFileRef {
    JobFileRef {
        // Absolute, so `run --resume DIR` without job files works from anywhere; a job from
        // stdin keeps its name `<stdin>` (no file of that name is ever opened).
        path: match f.path == Path::new(job::STDIN_NAME) {
            true => f.path.clone(),
            false => std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone()),
        },
        sha256: f.sha256.clone(),
    }
}
