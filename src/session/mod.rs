//! One command's life, shared by `run`, `run --resume`, `run --dry-run` and `restore`: connect,
//! lock and open the report directory's record, check the credential, expand and plan (or take
//! the recorded plan), execute what is left, export, decide the exit code.

mod connect;
mod dry_run;
mod expand;
mod finish;
mod pending;
mod recorder;
mod report_dir;
mod startup;

use std::sync::Arc;
use std::time::Instant;

pub use pending::work_left;
pub use report_dir::{open_existing, recorded_runs, shell_quote};

use crate::config::{PortalTarget, ReportTarget, RunConfig, Settings};
use crate::error::{Error, Exit};
use crate::job::Entry;
use crate::progress::Ui;
use crate::record::{JobFileRef, Record, RunKind, RunState};
use crate::report::export::Stream;
use crate::runner::engine;
use crate::runner::exec::Ctx;
use crate::runner::plan::{self, Plan};
use connect::Connection;

/// Where the tasks come from.
pub enum PlanSource {
    /// Job entries; folder targets are expanded now.
    Expand(Vec<Entry>),
    /// `--resume`: the directory's record (locked) and the plan and state it holds.
    Recorded(Box<Resumed>),
    /// A plan made by the command (restore).
    Ready(Plan),
}

/// The run `--resume` continues.
pub struct Resumed {
    /// Its record, locked.
    pub record: Record,
    /// Its plan.
    pub plan: Plan,
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
    /// The job entries as comparable lines ([`crate::record::plan_lines`]), recorded so a
    /// resume can compare plans and `--resume latest` can find this one.
    pub lines: Vec<String>,
    /// For `restore`: the records of the runs it restores (locked), marked as files are
    /// released.
    pub sources: Vec<Record>,
}

/// A command in progress; see the module comment for its steps.
pub struct Session {
    settings: Settings,
    ui: Ui,
    name: String,
    kind: RunKind,
    record: Record,
    sources: Vec<Record>,
    argv: Vec<String>,
    portal: String,
    started_at: String,
    t0: Instant,
    resumed: bool,
    /// Directories this run made for its record, removed if it ends before recording a plan.
    created: Vec<std::path::PathBuf>,
}

/// Runs a command to its exit code.
pub async fn run(cfg: RunConfig, spec: Spec) -> Result<Exit, Error> {
    let Spec {
        kind,
        name,
        plan,
        job_files,
        action,
        lines,
        sources,
    } = spec;
    let ui = Ui::new(cfg.output);
    for w in &cfg.warnings {
        // About the credential: shown even with --quiet (a cron mail is where it is read).
        ui.alert(w);
    }
    let conn = match &cfg.portal {
        Some(p) => Some(Connection::open(p, &cfg.settings, &ui).await?),
        None => None,
    };
    let (record, created, source) = match plan {
        PlanSource::Recorded(r) => (r.record, Vec::new(), Source::Recorded(r.plan)),
        other => {
            let dir = match &cfg.report {
                ReportTarget::New(d) => d.as_deref(),
                ReportTarget::Resume(d) => Some(d.as_path()),
            };
            let root = &cfg.settings.report_root;
            let new = report_dir::open_new(dir, root, &name)?;
            (new.record, new.created, Source::Fresh(other))
        }
    };
    let session = Session {
        settings: cfg.settings.clone(),
        ui,
        name,
        kind,
        portal: conn.as_ref().map(|c| c.url.to_string()).unwrap_or_default(),
        record,
        sources,
        argv: cfg.argv.clone(),
        started_at: crate::now_rfc3339(),
        t0: Instant::now(),
        resumed: matches!(source, Source::Recorded(..)),
        created,
    };
    session
        .go(
            cfg,
            Saved {
                job_files,
                action,
                lines,
            },
            source,
            conn,
        )
        .await
}

/// Folders `--skip-missing-folders` skipped: (folder ID, why).
type Skipped = Vec<(String, String)>;

/// What a new run records about where its plan came from.
struct Saved {
    job_files: Vec<JobFileRef>,
    action: Option<String>,
    lines: Vec<String>,
}

/// [`PlanSource`] once the record is open.
enum Source {
    Fresh(PlanSource),
    Recorded(Plan),
}

impl Session {
    async fn go(
        self,
        cfg: RunConfig,
        saved: Saved,
        source: Source,
        conn: Option<Connection>,
    ) -> Result<Exit, Error> {
        let client = conn.as_ref().map(|c| c.client.clone());
        let ctx = conn.map(|c| {
            let ctx = Arc::new(Ctx::new(c.client, self.settings.clone(), self.ui.clone()));
            connect::install_signals(ctx.clone());
            connect::start_deadline(&ctx, self.settings.max_duration, cfg.started);
            (ctx, c.sandbox)
        });
        let sent = ctx.as_ref().map(|(c, _)| c.clone());
        let result = self.proceed(cfg, saved, source, ctx, client).await;
        // An I/O failure after requests went out is an abort, not a usage error: the portal
        // may have been changed, and the operator needs to know how much.
        result.map_err(|e| match (e, sent) {
            (Error::Io(m), Some(c)) if c.counters().requests > 0 => Error::Aborted(format!(
                "{m}; the run stopped. {} lock/unlock requests had been sent",
                c.counters().writes
            )),
            (e, _) => e,
        })
    }

    /// [`Session::go`] once the context exists: credential check and start-up reads, plan,
    /// record, execute or dry run.
    async fn proceed(
        mut self,
        cfg: RunConfig,
        saved: Saved,
        source: Source,
        ctx: Option<(Arc<Ctx>, Option<crate::sandbox::Sandbox>)>,
        client: Option<crate::api::Client>,
    ) -> Result<Exit, Error> {
        let needs_key = !cfg.dry_run
            || matches!(&source, Source::Fresh(PlanSource::Expand(e)) if e.iter().any(Entry::is_folder));
        if let (Some((ctx, _)), Some(client), true) = (&ctx, &client, needs_key) {
            let writes = startup::writes_planned(&source);
            let info = match startup::start(ctx, client, writes, cfg.dry_run).await {
                Ok(info) => info,
                Err(e) => return Err(self.abandon(e)),
            };
            if let Some(c) = &info.caller {
                let _ = ctx.caller_name.set(c.name.clone());
            }
            self.record
                .set_portal_info(&info)
                .map_err(|e| Error::Io(e.to_string()))?;
        }
        let plan = match source {
            Source::Recorded(plan) => plan,
            Source::Fresh(p) => {
                let planned = self.plan(ctx.as_ref().map(|(c, _)| &**c), p).await;
                let (plan, skipped) = match planned {
                    Ok(p) => p,
                    Err(e) => return Err(self.abandon(e)),
                };
                let sandbox = matches!(cfg.portal, Some(PortalTarget::Sandbox(_)));
                self.save(&plan, saved, cfg.dry_run, sandbox)?;
                for (folder, reason) in skipped {
                    self.record
                        .skipped_folder(&folder, &reason)
                        .map_err(|e| Error::Io(e.to_string()))?;
                }
                plan
            }
        };
        let kind = match (cfg.dry_run, self.resumed, self.kind) {
            (true, ..) => "dry_run",
            (_, true, _) => "resume",
            (_, _, RunKind::Restore) => "restore",
            _ => "run",
        };
        self.record
            .begin(kind)
            .map_err(|e| Error::Io(e.to_string()))?;
        if cfg.dry_run {
            let sent = ctx
                .as_ref()
                .map(|(c, _)| c.counters().requests)
                .unwrap_or(0);
            return self.dry_run(&plan, sent);
        }
        let Some((ctx, _sandbox)) = ctx else {
            return Err(Error::Usage("no portal".into()));
        };
        self.execute(&ctx, plan).await
    }

    /// The plan: expanded now (and sharded), or given; with the folders skipped on the way.
    async fn plan(&self, ctx: Option<&Ctx>, source: PlanSource) -> Result<(Plan, Skipped), Error> {
        let (plan, skipped) = match source {
            PlanSource::Ready(p) => return Ok((p, Vec::new())),
            PlanSource::Recorded(r) => return Ok((r.plan, Vec::new())),
            PlanSource::Expand(entries) => match ctx {
                Some(ctx) => {
                    expand::make_plan(ctx, &entries, self.settings.skip_missing_folders).await?
                }
                None => (plan::build(&entries, &Default::default()), Vec::new()),
            },
        };
        let plan = match self.settings.shard {
            Some(s) => Plan {
                tasks: plan::shard(plan.tasks, s),
                ..plan
            },
            None => plan,
        };
        Ok((plan, skipped))
    }

    /// Ends a new run that failed before its plan was recorded: the directories it made go
    /// again, so a portal that never answered leaves no report directory ("nothing was
    /// written" stays true on disk too, and `--resume latest` never picks an empty run).
    fn abandon(self, e: Error) -> Error {
        self.record.discard(&self.created);
        e
    }

    fn save(
        &mut self,
        plan: &Plan,
        saved: Saved,
        dry_run: bool,
        sandbox: bool,
    ) -> Result<(), Error> {
        let st = RunState {
            version: 2,
            name: self.name.clone(),
            job_files: saved.job_files,
            argv: self.argv.clone(),
            portal: self.portal.clone(),
            dry_run,
            shard: self.settings.shard.map(|s| format!("{}/{}", s.k, s.n)),
            created_at: self.started_at.clone(),
            tasks: plan.tasks.len() as u64,
            kind: self.kind,
            action: saved.action,
            plan_digest: crate::record::plan_digest(&saved.lines, self.settings.shard),
            sandbox,
        };
        self.record
            .start_plan(&st, plan, &saved.lines)
            .map_err(|e| Error::Io(e.to_string()))
    }

    /// Runs the tasks that are not final yet and finishes.
    async fn execute(mut self, ctx: &Arc<Ctx>, plan: Plan) -> Result<Exit, Error> {
        let io = |e: crate::record::RecordError| Error::Io(e.to_string());
        let previous = self.record.results().map_err(io)?;
        let unsettled = self.record.unsettled_intents().map_err(io)?;
        let pending = pending::pending(&plan.tasks, &previous, self.settings.retry_failed);
        if self.resumed {
            self.ui.info(&format!(
                "resuming {}: {} of {} left",
                self.record.dir().display(),
                pending.len(),
                crate::text::count(plan.tasks.len() as u64, "task")
            ));
        }
        let access = self.record.access().map_err(io)?;
        let shares = self.record.shares().map_err(io)?;
        let rec = crate::report::export::Exported {
            rows: &previous,
            access: &access,
            shares: &shares,
        };
        let stream = Stream::open(self.record.dir(), rec, self.settings.csv_bom)
            .map_err(|e| Error::Io(e.to_string()))?;
        let mut ui = self.ui.clone();
        let mut sink = recorder::Recorder {
            record: &mut self.record,
            stream,
            sources: &mut self.sources,
        };
        // Where each file was listed, so a resume or a restore reads 100 files per request.
        ctx.states.seed_pages(&plan.pages);
        let executed = engine::execute(
            ctx.clone(),
            Arc::new(pending),
            Arc::new(plan.titles.clone()),
            &mut sink,
            unsettled,
            &mut ui,
            &self.name,
        )
        .await;
        let _ = executed;
        self.finish(ctx, &plan)
    }

    /// What to run to continue: `--resume DIR` for a run; a restore is simply run again.
    fn next_command(&self) -> String {
        match self.kind {
            RunKind::Run => report_dir::resume_command(&self.argv, self.record.dir()),
            RunKind::Restore => report_dir::command_without_target(&self.argv).join(" "),
        }
    }

    fn dir(&self) -> &std::path::Path {
        self.record.dir()
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        Error::Io(format!("writing reports in {}: {e}", self.dir().display()))
    }
}
