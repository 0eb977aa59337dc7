//! `restore DIR`: release exactly the locks a run made (SPEC §2), through the same engine and
//! reports as `run`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::exec::Ctx;
use super::plan::{self, Plan, RunKind, RunState};
use super::{
    check_key, client, default_report_dir, engine, finish, fresh_report_dir, install_signals,
    portal, report_error, resume_command_without, start_deadline,
};
use crate::cli::RestoreArgs;
use crate::config;
use crate::error::{Error, Exit};
use crate::job::{self, Action, FileId, OnFailure, Task};
use crate::progress::{print_stdout, Ui};
use crate::report::{Outcome, ReportWriter, ResultRow};

/// `restore DIR`: unlock exactly the files DIR's run locked (lock rows `ok` with `was_locked=false`).
pub async fn restore(a: RestoreArgs, argv: Vec<String>) -> Exit {
    let bootstrap = Ui::new(config::Output {
        bar: false,
        quiet: a.exec.quiet,
        json: a.exec.log_format == Some(crate::cli::LogFormat::Json),
    });
    match restore_inner(a, argv).await {
        Ok(code) => code,
        Err(e) => report_error(&bootstrap, &e),
    }
}

async fn restore_inner(a: RestoreArgs, argv: Vec<String>) -> Result<Exit, Error> {
    let (st, _) = plan::load(&a.dir).map_err(Error::Usage)?;
    if st.dry_run {
        return Err(Error::Usage(format!(
            "{} holds a dry run: it locked nothing",
            a.dir.display()
        )));
    }
    let rows = crate::report::read_results(&a.dir).map_err(|e| Error::Io(e.to_string()))?;
    let locked_ok: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.action == Action::Lock && r.outcome == Outcome::Ok)
        .collect();
    if !locked_ok.is_empty() && locked_ok.iter().all(|r| r.was_locked.is_none()) {
        return Err(Error::Usage(format!(
            "{} does not record whether the files were locked before the run (it ran with --no-check-state), so restore cannot tell which locks it made. Unlock them with a job file instead",
            a.dir.display()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut tasks = Vec::new();
    let job: Arc<str> = Arc::from("restore");
    for r in &locked_ok {
        if r.was_locked != Some(false) {
            continue;
        }
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
    let settings = job::Settings::default();
    let mut cfg = config::exec_config(&a.exec, &settings, None, false)?;
    cfg.report_dir = None;
    let mut ui = Ui::new(cfg.output);
    ui.info(&format!(
        "{}: {} files to unlock",
        a.dir.display(),
        tasks.len()
    ));
    let name = format!("{}-restore", st.name);
    let plan = Plan {
        tasks,
        ..Plan::default()
    };
    let dir = a
        .exec
        .report_dir
        .clone()
        .unwrap_or_else(|| default_report_dir(&name));
    if a.dry_run {
        let mut out = format!(
            "Restore plan for {} (dry run, nothing sent): unlock {} files\n",
            a.dir.display(),
            plan.tasks.len()
        );
        for t in &plan.tasks {
            out.push_str(&format!("  {}\n", t.file));
        }
        print_stdout(&out);
        return Ok(Exit::Success);
    }
    let portal_flag = a
        .exec
        .portal
        .clone()
        .or_else(|| (!st.portal.is_empty() && !a.exec.sandbox).then(|| st.portal.clone()));
    let mut exec = a.exec.clone();
    exec.portal = portal_flag;
    let portal = portal(&exec, &cfg, None, &ui).await?;
    // Client first (see `run_inner`): a bad --ca-cert must not leave a report directory.
    let http = client(&portal, &cfg)?;
    fresh_report_dir(&dir)?;
    let mut writer = ReportWriter::open(&dir)
        .map_err(|e| Error::Io(format!("cannot write reports in {}: {e}", dir.display())))?;
    let started_at = crate::now_rfc3339();
    let t0 = Instant::now();
    let ctx = Arc::new(Ctx::new(http, cfg.clone(), ui.clone()));
    install_signals(ctx.clone());
    start_deadline(&ctx, cfg.max_duration, t0);
    check_key(&ctx).await?;
    let rs = RunState {
        version: 1,
        name: name.clone(),
        job_files: Vec::new(),
        argv: argv.clone(),
        portal: portal.url.to_string(),
        dry_run: false,
        shard: None,
        created_at: started_at.clone(),
        tasks: plan.tasks.len() as u64,
        kind: RunKind::Restore,
        action: None,
    };
    plan::save(&dir, &rs, &plan).map_err(|e| Error::Io(e.to_string()))?;
    let executed = engine::execute(
        ctx.clone(),
        Arc::new(plan.tasks.clone()),
        Arc::new(HashMap::new()),
        &mut writer,
        &mut ui,
        &name,
    )
    .await
    .map_err(|e| Error::Io(e.to_string()))?;
    let rows = writer.finish().map_err(|e| Error::Io(e.to_string()))?;
    // A restore is re-run as a whole into a new report directory: its plan comes from the
    // source directory, and files it already unlocked show as `unchanged` the second time.
    let again = || resume_command_without(&argv).join(" ");
    finish(
        &ctx,
        &name,
        portal.url.as_ref(),
        &dir,
        &rows,
        &plan,
        &again,
        &started_at,
        None,
        executed.cannot_lock,
        t0.elapsed().as_secs_f64(),
        &ui,
    )
}
