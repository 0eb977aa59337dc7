//! One command's life, shared by `run`, `run --resume`, `run --dry-run` and `restore`: connect,
//! open the report directory, check the credential, expand and plan (or take the recorded
//! plan), execute what is left, write the summaries, decide the exit code.

mod connect;
mod dry_run;
mod expand;
mod finish;
mod report_dir;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use finish::{decide, Tally};
pub use report_dir::shell_quote;

use crate::config::{ReportTarget, RunConfig, Settings};
use crate::error::{Error, Exit};
use crate::job::{Entry, Task};
use crate::progress::Ui;
use crate::record::{self, JobFileRef, RunKind, RunState};
use crate::report::{self, ReportWriter};
use crate::runner::engine;
use crate::runner::exec::Ctx;
use crate::runner::plan::{self, Plan};
use connect::Connection;

/// Where the tasks come from.
pub enum PlanSource {
    /// Job entries; folder targets are expanded now.
    Expand(Vec<Entry>),
    /// The plan recorded in the directory being resumed, and when that run started.
    Recorded(Plan, String),
    /// A plan made by the command (restore).
    Ready(Plan),
}

/// What a command asks of the session besides its configuration.
pub struct Spec {
    /// What the report directory records.
    pub kind: RunKind,
    /// Run name (report directory names, summaries).
    pub name: String,
    /// The tasks.
    pub plan: PlanSource,
    /// Job files and their hashes, recorded for `--resume`.
    pub job_files: Vec<JobFileRef>,
    /// `--action` as typed, recorded for `--resume`.
    pub action: Option<String>,
}

/// A command in progress; see the module comment for its steps.
pub struct Session {
    settings: Settings,
    ui: Ui,
    name: String,
    kind: RunKind,
    dir: PathBuf,
    argv: Vec<String>,
    portal: String,
    started_at: String,
    t0: Instant,
    resumed_created: Option<String>,
}

/// Runs a command to its exit code.
pub async fn run(cfg: RunConfig, spec: Spec) -> Result<Exit, Error> {
    let ui = Ui::new(cfg.output);
    for w in &cfg.warnings {
        ui.warn(w);
    }
    let conn = match &cfg.portal {
        Some(p) => Some(Connection::open(p, &cfg.settings, &ui).await?),
        None => None,
    };
    let (dir, resumed) = match &cfg.report {
        ReportTarget::Resume(d) => (d.clone(), true),
        ReportTarget::New(d) => {
            let d = d
                .clone()
                .unwrap_or_else(|| report_dir::default_report_dir(&spec.name));
            report_dir::fresh_report_dir(&d)?;
            (d, false)
        }
    };
    let writer = ReportWriter::open(&dir)
        .map_err(|e| Error::Io(format!("cannot write reports in {}: {e}", dir.display())))?;
    let session = Session {
        settings: cfg.settings.clone(),
        ui,
        name: spec.name.clone(),
        kind: spec.kind,
        portal: conn.as_ref().map(|c| c.url.to_string()).unwrap_or_default(),
        dir,
        argv: cfg.argv.clone(),
        started_at: crate::now_rfc3339(),
        t0: Instant::now(),
        resumed_created: match &spec.plan {
            PlanSource::Recorded(_, created) => Some(created.clone()),
            _ => None,
        },
    };
    debug_assert_eq!(resumed, session.resumed_created.is_some());
    session.go(cfg, spec, conn, writer).await
}

impl Session {
    async fn go(
        self,
        cfg: RunConfig,
        spec: Spec,
        conn: Option<Connection>,
        writer: ReportWriter,
    ) -> Result<Exit, Error> {
        let needs_key = !cfg.dry_run
            || matches!(&spec.plan, PlanSource::Expand(e) if e.iter().any(Entry::is_folder));
        let ctx = conn.map(|c| {
            let ctx = Arc::new(Ctx::new(c.client, self.settings.clone(), self.ui.clone()));
            connect::install_signals(ctx.clone());
            connect::start_deadline(&ctx, self.settings.max_duration, cfg.started);
            (ctx, c.sandbox)
        });
        if let (Some((ctx, _)), true) = (&ctx, needs_key) {
            connect::check_key(ctx).await?;
        }
        let plan = self
            .plan(ctx.as_ref().map(|(c, _)| &**c), spec.plan)
            .await?;
        if self.resumed_created.is_none() {
            self.save(&plan, spec.job_files, spec.action, cfg.dry_run)?;
        }
        if cfg.dry_run {
            let sent = ctx
                .as_ref()
                .map(|(c, _)| c.stats.requests.load(std::sync::atomic::Ordering::Relaxed))
                .unwrap_or(0);
            return self.dry_run(&plan, writer, sent);
        }
        let Some((ctx, _conn)) = ctx else {
            return Err(Error::Usage("no portal".into()));
        };
        self.execute(ctx, plan, writer).await
    }

    /// The plan: expanded now (and sharded), or the recorded one.
    async fn plan(&self, ctx: Option<&Ctx>, source: PlanSource) -> Result<Plan, Error> {
        let plan = match source {
            PlanSource::Recorded(p, _) | PlanSource::Ready(p) => return Ok(p),
            PlanSource::Expand(entries) => match ctx {
                Some(ctx) => {
                    expand::make_plan(ctx, &entries, self.settings.skip_missing_folders).await?
                }
                None => plan::build(&entries, &Default::default()),
            },
        };
        Ok(match self.settings.shard {
            Some(s) => Plan {
                tasks: plan::shard(plan.tasks, s),
                ..plan
            },
            None => plan,
        })
    }

    fn save(
        &self,
        plan: &Plan,
        job_files: Vec<JobFileRef>,
        action: Option<String>,
        dry_run: bool,
    ) -> Result<(), Error> {
        let st = RunState {
            version: 1,
            name: self.name.clone(),
            job_files,
            argv: self.argv.clone(),
            portal: self.portal.clone(),
            dry_run,
            shard: self.settings.shard.map(|s| format!("{}/{}", s.k, s.n)),
            created_at: self.started_at.clone(),
            tasks: plan.tasks.len() as u64,
            kind: self.kind,
            action,
        };
        record::save(&self.dir, &st, plan).map_err(|e| {
            Error::Io(format!(
                "cannot write run state in {}: {e}",
                self.dir.display()
            ))
        })
    }

    /// Runs the tasks that are not final yet and finishes.
    async fn execute(
        self,
        ctx: Arc<Ctx>,
        plan: Plan,
        mut writer: ReportWriter,
    ) -> Result<Exit, Error> {
        let previous = report::read_results(&self.dir).map_err(|e| self.io_error(e))?;
        let finished: HashSet<u64> = previous
            .iter()
            .filter(|r| r.outcome.is_final())
            .map(|r| r.seq)
            .collect();
        let pending: Vec<Task> = plan
            .tasks
            .iter()
            .filter(|t| !finished.contains(&t.seq))
            .cloned()
            .collect();
        if self.resumed_created.is_some() {
            self.ui.info(&format!(
                "resuming {}: {} of {} tasks left",
                self.dir.display(),
                pending.len(),
                plan.tasks.len()
            ));
        }
        let mut ui = self.ui.clone();
        let executed = engine::execute(
            ctx.clone(),
            Arc::new(pending),
            Arc::new(plan.titles.clone()),
            &mut writer,
            &mut ui,
            &self.name,
        )
        .await
        .map_err(|e| self.io_error(e))?;
        let rows = writer.finish().map_err(|e| self.io_error(e))?;
        self.finish(&ctx, &rows, &plan, executed.cannot_lock)
    }

    /// What to run to continue: `--resume DIR` for a run; a restore is simply run again.
    fn next_command(&self) -> String {
        match self.kind {
            RunKind::Run => report_dir::resume_command(&self.argv, &self.dir),
            RunKind::Restore => report_dir::command_without_target(&self.argv).join(" "),
        }
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        Error::Io(format!("writing reports in {}: {e}", self.dir.display()))
    }
}
