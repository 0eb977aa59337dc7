//! The `run`, `validate` and `restore` commands: load and validate job files, check the key,
//! expand folders, plan, execute under one limiter, write reports, pick the exit code.

pub mod engine;
pub mod exec;
pub mod gate;
pub mod limiter;
pub mod plan;
mod restore;
pub mod stop;

pub use restore::restore;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use secrecy::SecretString;

use crate::api::{Client, ClientOptions};
use crate::cli::{ExecArgs, RunArgs, ValidateArgs};
use crate::config::{self, ExecConfig};
use crate::error::{Error, Exit};
use crate::job::{self, Action, FileId, JobFile, Target, Task};
use crate::progress::{print_stdout, Ui};
use crate::report::summary::{self, RunStats, Summary};
use crate::report::{Outcome, ReportWriter, ResultRow};
use exec::{Ctx, RequestEnd};
use plan::{JobFileRef, Plan, RunState};
use stop::StopReason;

/// `validate`: load and check job files; no network.
pub fn validate(a: ValidateArgs) -> Exit {
    let ui = Ui::new(config::Output {
        bar: false,
        quiet: a.quiet,
        json: false,
    });
    let files = match load_jobs(&a.jobfiles, a.action.as_deref(), &ui) {
        Ok(f) => f,
        Err(e) => return report_error(&ui, &e),
    };
    let action_flag = a.action.is_some();
    // Each file is valid on its own; conflicting settings only matter when the files are run
    // together, so here they are a warning.
    if let Err(e) = config::merge_settings(&files, &|k| k == "action" && action_flag) {
        ui.warn(&format!("{e} (only if these files are run together)"));
    }
    if !a.quiet {
        let mut out = String::new();
        for f in &files {
            let folders = f
                .entries
                .iter()
                .filter(|e| matches!(e.target, Target::Folder(_)))
                .count();
            let mut per_action: BTreeMap<&str, u64> = BTreeMap::new();
            for e in &f.entries {
                if let Target::File(_) = e.target {
                    for a in e.actions.iter() {
                        *per_action.entry(a.as_str()).or_default() += 1;
                    }
                }
            }
            let actions: Vec<String> = per_action.iter().map(|(a, n)| format!("{a} {n}")).collect();
            out.push_str(&format!(
                "{}: OK — {} tasks ({}){}\n",
                f.path.display(),
                per_action.values().sum::<u64>(),
                if actions.is_empty() {
                    "no listed files".to_string()
                } else {
                    actions.join(", ")
                },
                if folders > 0 {
                    format!(", plus {folders} folder targets whose files are listed at run time")
                } else {
                    String::new()
                }
            ));
        }
        print_stdout(&out);
    }
    Exit::Success
}

pub(super) fn report_error(ui: &Ui, e: &Error) -> Exit {
    for line in e.to_string().lines() {
        ui.error(line);
    }
    e.exit()
}

fn load_jobs(paths: &[PathBuf], action: Option<&str>, ui: &Ui) -> Result<Vec<JobFile>, Error> {
    let flag = config::default_action(action)?;
    let is_yaml = |p: &PathBuf| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    };
    // YAML files first: a YAML `settings.action` is the default action for the CSV files given
    // with it (the flag still wins), like every other setting.
    let mut loaded: Vec<Option<Result<JobFile, job::JobError>>> =
        paths.iter().map(|_| None).collect();
    let opts = job::LoadOptions {
        default_action: flag,
    };
    for (i, p) in paths.iter().enumerate().filter(|(_, p)| is_yaml(p)) {
        loaded[i] = Some(job::load_file(p, &opts));
    }
    let yaml_action = loaded
        .iter()
        .flatten()
        .flatten()
        .find_map(|f| f.settings.action);
    let opts = job::LoadOptions {
        default_action: flag.or(yaml_action),
    };
    for (i, p) in paths.iter().enumerate().filter(|(_, p)| !is_yaml(p)) {
        loaded[i] = Some(job::load_file(p, &opts));
    }
    let (mut files, mut errs) = (Vec::new(), Vec::new());
    for r in loaded.into_iter().flatten() {
        match r {
            Ok(f) => files.push(f),
            Err(e) => errs.push(e.to_string()),
        }
    }
    if !errs.is_empty() {
        errs.push("nothing was sent; fix the job file and run again".into());
        return Err(Error::Usage(errs.join("\n")));
    }
    for f in &files {
        for w in &f.warnings {
            ui.warn(&format!("{}: {w}", f.path.display()));
        }
    }
    Ok(files)
}

/// Where to send requests, and an in-process sandbox to keep alive for `--sandbox`.
pub(super) struct Portal {
    url: url::Url,
    key: SecretString,
    _sandbox: Option<crate::sandbox::Sandbox>,
}

pub(super) async fn portal(
    exec: &ExecArgs,
    cfg: &ExecConfig,
    settings_portal: Option<&str>,
    ui: &Ui,
) -> Result<Portal, Error> {
    if exec.sandbox {
        let mut opts = crate::sandbox::SandboxOptions::default();
        if let Some(n) = exec.sandbox_files {
            opts.files = n;
        }
        if let Some(l) = &exec.sandbox_latency {
            opts.latency = crate::units::parse_duration(l)
                .map_err(|e| Error::Usage(format!("--sandbox-latency: {e}")))?;
        }
        let sb = crate::sandbox::Sandbox::start(opts)
            .await
            .map_err(|e| Error::Io(format!("cannot start the in-process sandbox: {e}")))?;
        let url = url::Url::parse(&sb.url()).map_err(|e| Error::Io(e.to_string()))?;
        ui.info(&format!("using the in-process sandbox portal at {url}"));
        let key = SecretString::from(sb.api_key().to_string());
        return Ok(Portal {
            url,
            key,
            _sandbox: Some(sb),
        });
    }
    let raw = exec.portal.as_deref().or(settings_portal).ok_or_else(|| {
        Error::Usage("no portal: pass --portal https://yourportal.onlyoffice.com or set DOCSPACE_URL (or use --sandbox)".into())
    })?;
    let url = config::portal_url(raw, cfg.allow_http)?;
    let (key, warnings) = config::api_key(exec.api_key_file.as_deref())?;
    for w in warnings {
        ui.warn(&w);
    }
    Ok(Portal {
        url,
        key,
        _sandbox: None,
    })
}

pub(super) fn client(p: &Portal, cfg: &ExecConfig) -> Result<Client, Error> {
    let ca_cert = match &cfg.ca_cert {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Usage(format!("--ca-cert {}: {e}", path.display())))?;
            // Checked here so the message names the file (Client::new only sees bytes).
            crate::api::pem_certificates(&pem)
                .map_err(|e| Error::Usage(format!("--ca-cert {}: {e}", path.display())))?;
            Some(pem)
        }
        None => None,
    };
    Client::new(&ClientOptions {
        base: p.url.clone(),
        key: p.key.clone(),
        timeout: cfg.timeout,
        ca_cert,
        pool: cfg.concurrency,
    })
    .map_err(Error::Usage)
}

/// GET /api/2.0/authentication before anything else (SPEC §4).
pub(super) async fn check_key(ctx: &Ctx) -> Result<(), Error> {
    // Through the retry loop: a 502 or a dropped connection at the very first request must not
    // abort a cron run that the next attempt would have started (issue #4, fault matrix).
    match ctx
        .request(exec::Endpoint::Read, || ctx.client.check_auth())
        .await
    {
        Ok((true, _)) => Ok(()),
        Ok((false, _)) => Err(Error::Aborted(
            "the portal rejected the API key (GET /api/2.0/authentication); nothing was written"
                .into(),
        )),
        Err(RequestEnd::Cancelled { .. }) if ctx.stop.reason() == Some(StopReason::Signal) => {
            Err(Error::Interrupted(
                "interrupted while checking the API key; nothing was written".into(),
            ))
        }
        Err(f) => Err(Error::Aborted(format!(
            "cannot check the API key at {}: {}; nothing was written",
            ctx.client.base(),
            f
        ))),
    }
}

/// Installs SIGINT/SIGTERM handling: the first stops starting tasks, the second exits at once.
pub(super) fn install_signals(ctx: Arc<Ctx>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            let mut first = true;
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if first {
                    first = false;
                    ctx.ui.warn("stopping: no new tasks; finishing requests in flight (signal again to exit at once)");
                    ctx.stop.stop(StopReason::Signal);
                } else {
                    ctx.ui
                        .error("second signal: exiting now; rows already written stay valid");
                    std::process::exit(Exit::Interrupted.code() as i32);
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            ctx.stop.stop(StopReason::Signal);
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(Exit::Interrupted.code() as i32);
        }
    });
}

/// A job name is a `skip_rest` scope (SPEC §3: "the same file in that job"), so jobs of
/// different job files must not share one by accident (two files' `job-1`, or two `x.csv`):
/// a name already used by an earlier file becomes `<file name>/<job>` (then `#2`, `#3`…).
fn scope_job_names(files: &mut [JobFile]) {
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for f in files.iter_mut() {
        let mut renamed: HashMap<String, Arc<str>> = HashMap::new();
        let mut mine: std::collections::HashSet<String> = std::collections::HashSet::new();
        for e in f.entries.iter_mut() {
            let old = e.job.to_string();
            if seen.contains(&old) {
                let new = renamed
                    .entry(old.clone())
                    .or_insert_with(|| {
                        let base = format!("{}/{old}", f.name);
                        let mut name = base.clone();
                        let mut k = 2;
                        while seen.contains(&name) {
                            name = format!("{base}#{k}");
                            k += 1;
                        }
                        Arc::from(name)
                    })
                    .clone();
                e.job = new;
            }
            mine.insert(e.job.to_string());
        }
        seen.extend(mine);
    }
}

/// `--max-duration`, counted from `from` (the command's start, so folder expansion is inside
/// the window): after it no new task starts; started tasks finish.
fn start_deadline(ctx: &Arc<Ctx>, max: Option<std::time::Duration>, from: Instant) {
    if let Some(max) = max {
        let c = ctx.clone();
        let at = tokio::time::Instant::from_std(from + max);
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            c.stop.stop_starting(StopReason::MaxDuration);
        });
    }
}

/// Default report directory: `reports/<name>-<UTC yyyymmddThhmmssZ>`.
pub(super) fn default_report_dir(name: &str) -> PathBuf {
    let ts = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    let base = PathBuf::from("reports").join(format!("{name}-{ts}"));
    // Two runs of one job started in the same second (cron and a person) get distinct
    // directories rather than the second one refusing to start.
    (1..1000)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                PathBuf::from(format!("{}-{n}", base.display()))
            }
        })
        .find(|d| !d.join(plan::RUN_JSON).exists())
        .unwrap_or(base)
}

pub(super) fn fresh_report_dir(dir: &Path) -> Result<(), Error> {
    // The report files are opened (results.csv gets its header) before the key check and the
    // folder expansion, so a start that ended there (key rejected, Ctrl-C while expanding, a
    // missing folder) leaves a header-only results.csv and no run.json. Such a directory holds
    // no work: running the same command again must be allowed, since `--resume` cannot take it.
    let has_rows = std::fs::read(dir.join(crate::report::RESULTS))
        .map(|d| d.iter().filter(|&&b| b == b'\n').count() > 1)
        .unwrap_or(false);
    if dir.join(plan::RUN_JSON).exists() || has_rows {
        return Err(Error::Usage(format!(
            "{} already holds a run's reports; continue it with --resume {} or choose another --report-dir",
            dir.display(),
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Io(format!(
            "cannot create report directory {}: {e}",
            dir.display()
        ))
    })
}

/// Shell-quotes one argument for the printed resume command.
pub(super) fn shell_quote(s: &str) -> String {
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
fn resume_command(argv: &[String], dir: &Path) -> String {
    let mut out = resume_command_without(argv);
    out.push("--resume".into());
    out.push(shell_quote(&dir.display().to_string()));
    out.join(" ")
}

/// The command line as typed (shell-quoted, program name `docspace-batch`) without
/// `--report-dir`, `--resume` and `--dry-run`: the base of every printed "run this next".
fn resume_command_without(argv: &[String]) -> Vec<String> {
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

/// `run`.
pub async fn run(a: RunArgs, argv: Vec<String>) -> Exit {
    let bootstrap = Ui::new(config::Output {
        bar: false,
        quiet: a.exec.quiet,
        json: a.exec.log_format == Some(crate::cli::LogFormat::Json),
    });
    match run_inner(a, argv, &bootstrap).await {
        Ok(code) => code,
        Err(e) => report_error(&bootstrap, &e),
    }
}

async fn run_inner(a: RunArgs, argv: Vec<String>, bootstrap: &Ui) -> Result<Exit, Error> {
    let command_start = Instant::now();
    // 1. Everything local first: job files, settings, resume state.
    if a.dry_run && a.resume.is_some() {
        // A dry run writes `planned` rows: into a real run's directory they would replace its
        // record (and `restore` would then find nothing to release).
        return Err(Error::Usage(
            "--dry-run cannot be combined with --resume: the directory holds a real run's record. Run the dry run with its own --report-dir".into(),
        ));
    }
    let resumed = match &a.resume {
        Some(dir) => Some(plan::load(dir).map_err(Error::Usage)?),
        None => None,
    };
    if let Some((st, _)) = &resumed {
        if st.dry_run {
            return Err(Error::Usage(
                "that directory holds a dry run; start a real run instead of resuming it".into(),
            ));
        }
        if st.kind != plan::RunKind::Run {
            return Err(Error::Usage(
                "that directory holds a restore report; run `docspace-batch restore` again instead"
                    .into(),
            ));
        }
    }
    let paths: Vec<PathBuf> = match (&resumed, a.jobfiles.is_empty()) {
        (Some((st, _)), true) => st.job_files.iter().map(|j| j.path.clone()).collect(),
        (_, false) => a.jobfiles.clone(),
        (None, true) => {
            return Err(Error::Usage(
                "no job file given: docspace-batch run JOBFILE... (see --help)".into(),
            ))
        }
    };
    // A resume uses the --action of the run it continues unless told otherwise.
    let action = a
        .action
        .clone()
        .or_else(|| resumed.as_ref().and_then(|(st, _)| st.action.clone()));
    let files = load_jobs(&paths, action.as_deref(), bootstrap)?;
    if let Some((st, _)) = &resumed {
        let now: Vec<&str> = files.iter().map(|f| f.sha256.as_str()).collect();
        let then: Vec<&str> = st.job_files.iter().map(|j| j.sha256.as_str()).collect();
        if now != then {
            return Err(Error::Usage(format!(
                "the job files differ from those {} was made from ({}); resuming would run a different plan. Start a new run instead",
                a.resume.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
                st.job_files.iter().map(|j| j.path.display().to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let settings = config::merge_settings(&files, &|k| {
        config::cli_sets(
            &a.exec,
            k,
            a.shard.is_some(),
            a.action.is_some(),
            a.skip_missing_folders,
        )
    })?;
    let cfg = config::exec_config(
        &a.exec,
        &settings,
        a.shard.as_deref(),
        a.skip_missing_folders,
    )?;
    let mut ui = Ui::new(cfg.output);
    let mut files = files;
    scope_job_names(&mut files);
    let entries: Vec<job::Entry> = files
        .iter()
        .flat_map(|f| f.entries.iter().cloned())
        .collect();
    let has_folders = entries
        .iter()
        .any(|e| matches!(e.target, Target::Folder(_)));
    let name = files
        .first()
        .map(|f| f.name.clone())
        .unwrap_or_else(|| "run".into());

    // 2. Portal and key (not needed for a dry run over listed files only).
    let needs_portal = !a.dry_run || has_folders;
    let portal = if needs_portal || a.exec.portal.is_some() || a.exec.sandbox {
        Some(portal(&a.exec, &cfg, settings.portal.as_deref(), &ui).await?)
    } else {
        None
    };

    // The HTTP client (and `--ca-cert`) is checked before the report directory exists: a usage
    // error must not leave a directory that the next run refuses as "already holds reports".
    let http = match &portal {
        Some(p) => Some(client(p, &cfg)?),
        None => None,
    };

    // 3. Report directory, created before the first request so a bad path fails fast.
    let dir = match (&a.resume, &cfg.report_dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => default_report_dir(&name),
    };
    if resumed.is_none() {
        fresh_report_dir(&dir)?;
    }
    // When DIR's run was created: the summary's first start even if no summary.json survived
    // (a `kill -9` leaves none).
    let resumed_created = resumed.as_ref().map(|(st, _)| st.created_at.clone());
    let mut writer = ReportWriter::open(&dir)
        .map_err(|e| Error::Io(format!("cannot write reports in {}: {e}", dir.display())))?;

    let started_at = crate::now_rfc3339();
    let t0 = Instant::now();
    let portal_str = portal
        .as_ref()
        .map(|p| p.url.to_string())
        .unwrap_or_default();
    let (ctx, plan) = match http {
        Some(http) => {
            let ctx = Arc::new(Ctx::new(http, cfg.clone(), ui.clone()));
            install_signals(ctx.clone());
            start_deadline(&ctx, cfg.max_duration, command_start);
            if needs_portal {
                check_key(&ctx).await?;
            }
            let plan = match resumed {
                Some((_, plan)) => plan,
                None => make_plan(&ctx, &entries, &cfg).await?,
            };
            (Some(ctx), plan)
        }
        None => (None, plan::build(&entries, &HashMap::new())),
    };
    let plan = match (cfg.shard, a.resume.is_some()) {
        (Some(s), false) => Plan {
            tasks: plan::shard(plan.tasks, s),
            ..plan
        },
        _ => plan,
    };
    if a.resume.is_none() {
        let st = RunState {
            version: 1,
            name: name.clone(),
            job_files: files
                .iter()
                .map(|f| JobFileRef {
                    // Absolute, so `run --resume DIR` without job files works from anywhere.
                    path: std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone()),
                    sha256: f.sha256.clone(),
                })
                .collect(),
            argv: argv.clone(),
            portal: portal_str.clone(),
            dry_run: a.dry_run,
            shard: a.shard.clone(),
            created_at: started_at.clone(),
            tasks: plan.tasks.len() as u64,
            kind: plan::RunKind::Run,
            action: action.clone(),
        };
        plan::save(&dir, &st, &plan)
            .map_err(|e| Error::Io(format!("cannot write run state in {}: {e}", dir.display())))?;
    }

    if a.dry_run {
        let requests = ctx
            .as_ref()
            .map(|c| c.stats.requests.load(std::sync::atomic::Ordering::Relaxed))
            .unwrap_or(0);
        return dry_run(
            &plan,
            &cfg,
            &name,
            &dir,
            writer,
            &portal_str,
            &started_at,
            &ui,
            requests,
        );
    }
    let Some(ctx) = ctx else {
        return Err(Error::Usage("no portal".into()));
    };

    // 4. Execute what is left.
    let previous = crate::report::read_results(&dir).map_err(|e| Error::Io(e.to_string()))?;
    let finished: std::collections::HashSet<u64> = previous
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
    if a.resume.is_some() {
        ui.info(&format!(
            "resuming {}: {} of {} tasks left",
            dir.display(),
            pending.len(),
            plan.tasks.len()
        ));
    }
    let executed = engine::execute(
        ctx.clone(),
        Arc::new(pending),
        Arc::new(plan.titles.clone()),
        &mut writer,
        &mut ui,
        &name,
    )
    .await
    .map_err(|e| Error::Io(format!("writing reports in {}: {e}", dir.display())))?;
    let rows = writer
        .finish()
        .map_err(|e| Error::Io(format!("writing reports in {}: {e}", dir.display())))?;
    let elapsed = t0.elapsed().as_secs_f64();
    finish(
        &ctx,
        &name,
        &portal_str,
        &dir,
        &rows,
        &plan,
        &|| resume_command(&argv, &dir),
        &started_at,
        resumed_created.as_deref(),
        executed.cannot_lock,
        elapsed,
        &ui,
    )
}

/// Expands folders (under the run's limiter) and builds the task list.
async fn make_plan(ctx: &Ctx, entries: &[job::Entry], cfg: &ExecConfig) -> Result<Plan, Error> {
    let mut listings: HashMap<FileId, plan::Listing> = HashMap::new();
    for e in entries {
        if let Target::Folder(f) = &e.target {
            if listings.contains_key(f) {
                continue;
            }
            ctx.ui.info(&format!("expanding folder {f}…"));
            let mut spinner = crate::progress::Spinner::new(&ctx.ui);
            let result =
                plan::expand_folder(ctx, f, cfg.skip_missing_folders, &mut |pages, files| {
                    spinner.update(&format!(
                        "expanding folder {f}: {pages} pages listed, {files} files so far"
                    ))
                })
                .await;
            spinner.finish();
            match result {
                Ok(l) => {
                    ctx.ui.info(&format!(
                        "folder {f}{}: {} files",
                        l.title
                            .as_deref()
                            .map(|t| format!(" \"{}\"", crate::progress::sanitize(t)))
                            .unwrap_or_default(),
                        l.files.len()
                    ));
                    listings.insert(f.clone(), l);
                }
                Err(plan::ExpandError::Missing(m)) => {
                    return Err(Error::Usage(format!(
                        "{m}; nothing was written. Fix the job file or pass --skip-missing-folders"
                    )))
                }
                Err(plan::ExpandError::Failed(m)) => {
                    if let Some(r) = ctx.stop.reason() {
                        return Err(match r {
                            // Exit 130, not 3: it was a signal, not an abort (SPEC §6).
                            StopReason::Signal => Error::Interrupted(format!(
                                "interrupted while expanding folders; nothing was written ({m})"
                            )),
                            _ => Error::Aborted(format!("{}; nothing was written", r.describe())),
                        });
                    }
                    return Err(Error::Aborted(format!("{m}; nothing was written")));
                }
            }
        }
    }
    Ok(plan::build(entries, &listings))
}

#[allow(clippy::too_many_arguments)]
fn dry_run(
    plan: &Plan,
    cfg: &ExecConfig,
    name: &str,
    dir: &Path,
    mut writer: ReportWriter,
    portal: &str,
    started_at: &str,
    ui: &Ui,
    requests_sent: u64,
) -> Result<Exit, Error> {
    let io = |e: std::io::Error| Error::Io(format!("writing reports in {}: {e}", dir.display()));
    let mut per_action: BTreeMap<Action, u64> = BTreeMap::new();
    let mut per_job: BTreeMap<String, u64> = BTreeMap::new();
    for t in &plan.tasks {
        *per_action.entry(t.action).or_default() += 1;
        *per_job.entry(t.job.to_string()).or_default() += 1;
        let mut row = ResultRow::new(t.seq, &t.job, &t.file, t.action, Outcome::Planned);
        row.title = plan.titles.get(&t.file).cloned().unwrap_or_default();
        row.finished_at = crate::now_rfc3339();
        writer.result(&row).map_err(io)?;
    }
    let rows = writer.finish().map_err(io)?;
    let writes: u64 = per_action
        .iter()
        .filter(|(a, _)| a.is_write())
        .map(|(_, n)| n)
        .sum();
    let requests = plan.tasks.len() as u64 + if cfg.check_state { writes } else { 0 };
    let mut out = format!("Plan for {name} (dry run, nothing sent):\n");
    for (j, n) in &per_job {
        out.push_str(&format!(
            "  job {}: {n} tasks\n",
            crate::progress::sanitize(j)
        ));
    }
    for (a, n) in &per_action {
        out.push_str(&format!("  {a}: {n}\n"));
    }
    out.push_str(&format!(
        "  total: {} tasks on {} files\n",
        plan.tasks.len(),
        plan.tasks
            .iter()
            .map(|t| &t.file)
            .collect::<std::collections::HashSet<_>>()
            .len()
    ));
    out.push_str(&format!(
        "  writes (PUT): up to {writes}{}\n",
        if cfg.check_state {
            " (fewer where the state check finds the file already as wanted)"
        } else {
            ""
        }
    ));
    match cfg.rate.interval() {
        Some(i) => out.push_str(&format!(
            "  requests: about {requests}; estimated duration at {}: {}\n",
            cfg.rate,
            crate::units::human_duration(i * requests.min(u32::MAX as u64) as u32)
        )),
        None => out.push_str(&format!(
            "  requests: about {requests}; rate unlimited: duration depends on the portal\n"
        )),
    }
    if writes > 10_000 {
        out.push_str(&format!(
            "  WARNING: {writes} writes exceed DocSpace's default daily cap of 10000 writes per user; the run would stop at the cap (exit 3) and resume the next day. Consider --shard to spread it over days\n"
        ));
    }
    out.push_str(&format!("  report: {}\n", dir.display()));
    print_stdout(&out);
    let s = Summary {
        stats: RunStats {
            requests: requests_sent,
            ..RunStats::default()
        },
        started_at: started_at.to_string(),
        dry_run: true,
        ..Summary::from_rows(name, portal, &rows)
    };
    s.write_json(dir).map_err(io)?;
    summary::write_markdown(dir, &s, &rows, &plan.groups).map_err(io)?;
    let _ = ui;
    Ok(Exit::Success)
}

/// Picks the exit code, writes summary.json/summary.md, prints the summary.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    ctx: &Ctx,
    name: &str,
    portal: &str,
    dir: &Path,
    rows: &[ResultRow],
    plan: &Plan,
    resume_cmd: &dyn Fn() -> String,
    started_at: &str,
    resumed_created: Option<&str>,
    cannot_lock: Vec<String>,
    elapsed: f64,
    ui: &Ui,
) -> Result<Exit, Error> {
    let io = |e: std::io::Error| Error::Io(format!("writing reports in {}: {e}", dir.display()));
    let base = Summary::from_rows(name, portal, rows);
    let n = |o: Outcome| base.outcome(o);
    let left = n(Outcome::Cancelled) + n(Outcome::Failed) + n(Outcome::Skipped);
    let reason = ctx.stop.reason();
    let exit = match &reason {
        Some(StopReason::MaxDuration) if n(Outcome::Cancelled) == 0 => None,
        Some(r) => Some(r.exit()),
        None => None,
    }
    .unwrap_or(
        if n(Outcome::Failed) + n(Outcome::Skipped) + n(Outcome::Cancelled) > 0 {
            Exit::TaskFailures
        } else {
            Exit::Success
        },
    );
    let resume = (left > 0).then(resume_cmd);
    let prev = Summary::read(dir);
    let mut stats = prev.as_ref().map(|p| p.stats.clone()).unwrap_or_default();
    let ord = std::sync::atomic::Ordering::Relaxed;
    stats.requests += ctx.stats.requests.load(ord);
    stats.retries += ctx.stats.retries.load(ord);
    stats.rate_limited_429 += ctx.stats.throttled.load(ord);
    stats.busy_seconds += elapsed;
    // A resume whose directory lost its summary.json (hard kill before the first summary) is
    // still a resume: count it as one and date the run from run.json, so the summary stays
    // true for the union of the runs.
    let first_start = prev
        .as_ref()
        .map(|p| p.started_at.clone())
        .or_else(|| resumed_created.map(str::to_string))
        .unwrap_or_else(|| started_at.to_string());
    let finished_at = crate::now_rfc3339();
    let s = Summary {
        achieved_rate: if stats.busy_seconds > 0.0 {
            stats.requests as f64 / stats.busy_seconds
        } else {
            0.0
        },
        duration_seconds: crate::seconds_between(&first_start, &finished_at).unwrap_or(elapsed),
        started_at: first_start,
        finished_at,
        stats,
        exit_code: exit.code() as i32,
        stop_reason: reason.as_ref().map(|r| r.describe()),
        resume_command: resume.clone(),
        resumes: prev
            .map(|p| p.resumes + 1)
            .unwrap_or(u32::from(resumed_created.is_some())),
        cannot_lock,
        ..base
    };
    s.write_json(dir).map_err(io)?;
    summary::write_markdown(dir, &s, rows, &plan.groups).map_err(io)?;

    let parts: Vec<String> = Outcome::ALL
        .iter()
        .filter_map(|o| {
            s.outcomes
                .get(o.as_str())
                .map(|c| format!("{c} {}", o.as_str()))
        })
        .collect();
    let line = format!(
        "{name}: {} tasks: {} ({:.1} s, {} requests, {} retries, {} 429s) — exit {}\n",
        s.tasks,
        if parts.is_empty() {
            "nothing to do".into()
        } else {
            parts.join(", ")
        },
        elapsed,
        ctx.stats.requests.load(ord),
        ctx.stats.retries.load(ord),
        ctx.stats.throttled.load(ord),
        exit.code()
    );
    if ui.output().json {
        ui.event(
            // Notice: the one-line summary survives --quiet in JSON as it does in text.
            crate::progress::Level::Notice,
            line.trim_end(),
            serde_json::json!({"event": "summary", "tasks": s.tasks, "outcomes": s.outcomes, "exit_code": exit.code(), "report_dir": dir.display().to_string(), "resume_command": resume}),
        );
    } else {
        print_stdout(&line);
    }
    if let Some(r) = reason.as_ref().filter(|r| r.exit() != exit) {
        // The deadline passed after every task had started: nothing was cut short, so it is
        // not an error (the exit code follows the normal rules).
        ui.info(&format!("{}; every task had started by then", r.describe()));
    } else if let Some(r) = &reason {
        ui.log(
            if exit == Exit::Interrupted {
                crate::progress::Level::Warn
            } else {
                crate::progress::Level::Error
            },
            &r.describe(),
        );
    }
    ui.info(&format!("reports: {}", dir.display()));
    if let Some(c) = &resume {
        // Shown even with --quiet: it is what the operator (or cron mail) needs next.
        ui.log(
            crate::progress::Level::Notice,
            &format!("work is left; resume with: {c}"),
        );
    }
    Ok(exit)
}
