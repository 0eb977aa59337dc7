//! Validated, resolved configuration: flags + environment + YAML `settings:` + defaults, merged
//! once into a [`RunConfig`]. The only module that sees [`crate::cli`] types; everything below
//! (session, runner, report) reads the resolved values.

mod credential;
mod portal;
pub mod settings;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

pub use credential::credential;
pub use portal::{is_loopback, portal_url};
pub use settings::{LogFormat, PartialSettings, ProgressMode, Settings};

use crate::cli::{JobFormat, PortalArgs, RestoreArgs, RunArgs, SandboxFlags};
use crate::error::Error;
use crate::job::{self, JobFile};
use crate::record::RunState;
use crate::sandbox::SandboxOptions;

/// A usage or configuration problem: exit 2, nothing sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<settings::SettingsError> for ConfigError {
    fn from(e: settings::SettingsError) -> Self {
        ConfigError(e.0)
    }
}

/// Where a portal URL was given, so that a message about it says where to fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalSource {
    /// `--portal`.
    Flag,
    /// The DOCSPACE_URL environment variable.
    Env,
    /// A job file's `settings.portal`.
    JobFile,
}

impl PortalSource {
    /// Where `raw`, the portal URL in use, came from: `--portal` when it is on the command
    /// line, DOCSPACE_URL when that holds it, else a job file (clap merges the flag and the
    /// variable into one value, so the command line is looked at again).
    fn of(raw: &str) -> PortalSource {
        let flag = std::env::args_os().any(|a| {
            let a = a.to_string_lossy();
            a == "--portal" || a.starts_with("--portal=")
        });
        if flag {
            PortalSource::Flag
        } else if std::env::var_os("DOCSPACE_URL").is_some_and(|v| v == raw) {
            PortalSource::Env
        } else {
            PortalSource::JobFile
        }
    }
}

/// [`portal_url`], with its advice (`use --portal https://host`) worded for `source`.
pub fn portal_url_from(
    raw: &str,
    allow_http: bool,
    source: PortalSource,
) -> Result<url::Url, ConfigError> {
    portal_url(raw, allow_http).map_err(|e| {
        const FLAG: &str = "use --portal ";
        let Some(at) = e.0.rfind(FLAG) else {
            return e;
        };
        let suggested = &e.0[at + FLAG.len()..];
        let fix = match source {
            PortalSource::Flag => return e,
            PortalSource::Env => format!("set DOCSPACE_URL={suggested}"),
            PortalSource::JobFile => format!("write `portal: {suggested}`"),
        };
        ConfigError(format!("{}{fix}", &e.0[..at]))
    })
}

/// Checks a portal URL's form (scheme, host, no path, query or user) where it is written,
/// leaving the plain-http decision to the run, where `--allow-http` is known.
pub fn check_portal(raw: &str, source: PortalSource) -> Result<(), ConfigError> {
    portal_url_from(raw, true, source).map(|_| ())
}

/// How the command talks to people.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    /// Draw an indicatif bar (a terminal, or `--progress always`).
    pub bar: bool,
    /// `--quiet`
    pub quiet: bool,
    /// `--log-format json`
    pub json: bool,
}

impl Output {
    /// The output mode the settings ask for, on this terminal (or none).
    pub fn from_settings(s: &Settings) -> Output {
        let json = s.log_format == LogFormat::Json;
        let bar = !s.quiet
            && !json
            && match s.progress {
                ProgressMode::Always => true,
                ProgressMode::Never => false,
                ProgressMode::Auto => std::io::stderr().is_terminal(),
            };
        Output {
            bar,
            quiet: s.quiet,
            json,
        }
    }

    /// Before the settings are merged (errors while loading job files): only what the
    /// command line says.
    pub fn from_partial(p: &PartialSettings) -> Output {
        Output {
            bar: false,
            quiet: p.quiet.unwrap_or(false),
            json: p.log_format == Some(LogFormat::Json),
        }
    }
}

/// The portal a command talks to.
pub enum PortalTarget {
    /// A real portal and the credential for it.
    Real {
        /// Base URL, checked by [`portal_url`].
        url: url::Url,
        /// The API key, session token or user and password; never printed.
        credential: crate::api::Credential,
    },
    /// An in-process sandbox started for this command (`--sandbox`).
    Sandbox(SandboxOptions),
}

impl std::fmt::Debug for PortalTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortalTarget::Real { url, credential } => f
                .debug_struct("Real")
                .field("url", &url.as_str())
                .field("credential", credential)
                .finish(),
            PortalTarget::Sandbox(_) => f.write_str("Sandbox"),
        }
    }
}

/// Where the command's record and reports go.
#[derive(Clone, Debug)]
pub enum ReportTarget {
    /// A new directory: the one given, or a default name made from the run name.
    New(Option<PathBuf>),
    /// `--resume DIR`: the directory of the run being continued.
    Resume(PathBuf),
}

/// Everything a command needs, resolved once.
#[derive(Debug)]
pub struct RunConfig {
    /// Execution settings (command line over YAML over defaults).
    pub settings: Settings,
    /// How to talk to people.
    pub output: Output,
    /// The portal; `None` for a dry run over listed files that names none.
    pub portal: Option<PortalTarget>,
    /// Where the reports go.
    pub report: ReportTarget,
    /// `--dry-run`: plan only, send no write.
    pub dry_run: bool,
    /// The command line as typed (lossily UTF-8), for the printed resume command.
    pub argv: Vec<String>,
    /// Warnings found while resolving (e.g. a key file readable by others), shown once.
    pub warnings: Vec<String>,
    /// When the command started: `--max-duration` counts from here.
    pub started: Instant,
}

impl RunConfig {
    /// Resolves `run`: settings from the command line over those of `files`, the portal
    /// (needed unless a dry run has no folder to expand; for a resume, the one `recorded`)
    /// and the report target.
    pub fn for_run(
        a: &RunArgs,
        files: &[JobFile],
        argv: Vec<String>,
        recorded: Option<&RunState>,
    ) -> Result<RunConfig, Error> {
        let started = Instant::now();
        let yaml: Vec<_> = files
            .iter()
            .map(|f| (f.path.as_path(), &f.settings))
            .collect();
        let settings = settings::merge(a.settings.partial(), &yaml)
            .map_err(ConfigError::from)?
            .resolve();
        let has_folders = files.iter().any(JobFile::has_folders);
        // A dry run over listed files needs no portal, unless one is named on the command line
        // (then its key is read and the dry run's summary names it).
        let needs_portal =
            !a.dry_run || has_folders || a.sandbox.sandbox || a.settings.portal.is_some();
        let mut warnings = Vec::new();
        let portal = match recorded {
            Some(st) => Some(recorded_portal(st, a, &settings, &mut warnings)?),
            None if needs_portal => Some(portal_target(
                &a.portal,
                Some(&a.sandbox),
                &settings,
                &mut warnings,
            )?),
            None => None,
        };
        let report = match (&a.resume, recorded) {
            // `--resume latest` that found nothing to continue starts a new run.
            (Some(d), Some(_)) => ReportTarget::Resume(d.clone()),
            _ => ReportTarget::New(settings.report_dir.clone()),
        };
        Ok(RunConfig {
            output: Output::from_settings(&settings),
            settings,
            portal,
            report,
            dry_run: a.dry_run,
            argv,
            warnings,
            started,
        })
    }

    /// Resolves `restore`: command-line settings only (the source run's job files are not
    /// read), and the portal the source run used unless another is given.
    pub fn for_restore(
        a: &RestoreArgs,
        recorded: &RunState,
        argv: Vec<String>,
    ) -> Result<RunConfig, Error> {
        let started = Instant::now();
        if recorded.sandbox {
            // Its locks lived in a sandbox that ended with that run; the same IDs on a real
            // portal are other people's files.
            return Err(Error::Usage(
                "this run was recorded against the in-process sandbox (--sandbox), which ended with it: there are no locks left to release".into(),
            ));
        }
        let recorded_portal = recorded.portal.as_str();
        let partial = a.settings.partial();
        for (set, flag) in [
            (partial.shard.is_some(), "--shard"),
            (partial.action.is_some(), "--action"),
            (
                partial.skip_missing_folders.is_some(),
                "--skip-missing-folders",
            ),
        ] {
            if set {
                return Err(Error::Usage(format!(
                    "{flag} has no meaning for restore: it releases exactly what the recorded run locked"
                )));
            }
        }
        let mut settings = partial.resolve();
        if settings.portal.is_none() && !recorded_portal.is_empty() {
            settings.portal = Some(recorded_portal.to_string());
        }
        let mut warnings = Vec::new();
        let portal = if a.dry_run {
            None
        } else {
            Some(portal_target(&a.portal, None, &settings, &mut warnings)?)
        };
        Ok(RunConfig {
            output: Output::from_settings(&settings),
            report: ReportTarget::New(settings.report_dir.clone()),
            settings,
            portal,
            dry_run: a.dry_run,
            argv,
            warnings,
            started,
        })
    }
}

/// The sandbox, or the portal URL and key (key file first, then `DOCSPACE_API_KEY`).
fn portal_target(
    a: &PortalArgs,
    sandbox: Option<&SandboxFlags>,
    s: &Settings,
    warnings: &mut Vec<String>,
) -> Result<PortalTarget, Error> {
    if let Some(sb) = sandbox.filter(|sb| sb.sandbox) {
        let mut opts = SandboxOptions::default();
        if let Some(n) = sb.sandbox_files {
            opts.files = n;
        }
        if let Some(l) = sb.sandbox_latency {
            opts.latency = l;
        }
        return Ok(PortalTarget::Sandbox(opts));
    }
    let raw = s.portal.as_deref().ok_or_else(|| {
        Error::Usage("no portal: pass --portal https://yourportal.onlyoffice.com or set DOCSPACE_URL (or use --sandbox)".into())
    })?;
    let url = portal_url_from(raw, s.allow_http, PortalSource::of(raw))?;
    let (credential, w) = credential(a)?;
    warnings.extend(w);
    Ok(PortalTarget::Real { url, credential })
}

/// A resume talks to the portal its run recorded: a different one given now is refused (the
/// record would mix two portals), none given means the recorded one.
fn recorded_portal(
    st: &RunState,
    a: &RunArgs,
    s: &Settings,
    warnings: &mut Vec<String>,
) -> Result<PortalTarget, Error> {
    let differs = |now: &str| {
        Error::Usage(format!(
            "this run was recorded against {}, not {now}; a resume uses the portal its run used (leave out --portal/DOCSPACE_URL, or start a new run)",
            if st.sandbox { "the in-process sandbox (--sandbox)" } else { &st.portal }
        ))
    };
    if st.sandbox {
        match &s.portal {
            Some(p) if !a.sandbox.sandbox => return Err(differs(p)),
            _ => {}
        }
        let sb = SandboxFlags {
            sandbox: true,
            ..a.sandbox.clone()
        };
        return portal_target(&a.portal, Some(&sb), s, warnings);
    }
    if a.sandbox.sandbox {
        return Err(differs("the in-process sandbox (--sandbox)"));
    }
    let recorded = portal_url(&st.portal, true)?;
    if let Some(now) = &s.portal {
        let now_url = portal_url(now, s.allow_http)?;
        if now_url.as_str().trim_end_matches('/') != recorded.as_str().trim_end_matches('/') {
            return Err(differs(now_url.as_str()));
        }
    }
    let s = Settings {
        portal: Some(recorded.to_string()),
        allow_http: true,
        ..s.clone()
    };
    portal_target(&a.portal, None, &s, warnings)
}

/// Loads every job file, YAML first: a YAML `settings.action` is the default action for the
/// CSV files given with it (the `--action` flag still wins), like every other setting. Every
/// file is loaded before anything is reported, so one run shows every broken file, and every
/// error of each (up to [`job::MAX_ERRORS_SHOWN`]).
///
/// `-` is a job read from stdin, as `format` says or as sniffed from its content
/// ([`job::sniff`]); stdin holds one job, so `-` twice is an error, and `--format` without
/// `-` is one too (job files are read by their extension).
pub fn load_jobs(
    paths: &[PathBuf],
    action: Option<job::Action>,
    format: Option<JobFormat>,
) -> Result<Vec<JobFile>, Error> {
    let from_stdin = paths.iter().filter(|p| job::is_stdin(p)).count();
    if from_stdin > 1 {
        return Err(Error::Usage(
            "`-` is given twice: stdin holds one job; give the other jobs as files".into(),
        ));
    }
    if format.is_some() && from_stdin == 0 {
        return Err(Error::Usage(
            "--format says how to read a job from stdin (`-`); job files are read by their extension".into(),
        ));
    }
    let format = format.map(|f| match f {
        JobFormat::Yaml => job::Format::Yaml,
        JobFormat::Csv => job::Format::Csv,
    });
    // Read first: the format of stdin's job decides whether it loads with the YAML files.
    let mut stdin = (from_stdin == 1).then(job::read_stdin);
    let stdin_format = match &stdin {
        Some(Ok(bytes)) => format.unwrap_or_else(|| job::sniff(bytes)),
        _ => job::Format::Csv,
    };
    let is_yaml = |p: &PathBuf| {
        if job::is_stdin(p) {
            return stdin_format == job::Format::Yaml;
        }
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    };
    let mut load = |p: &PathBuf, opts: &job::LoadOptions| match stdin.take() {
        Some(read) if job::is_stdin(p) => read
            .map_err(job::JobErrors::from)
            .and_then(|bytes| job::load_stdin(bytes, Some(stdin_format), opts)),
        other => {
            stdin = other;
            job::load_file(p, opts)
        }
    };
    let mut loaded: Vec<Option<Result<JobFile, job::JobErrors>>> =
        paths.iter().map(|_| None).collect();
    let opts = job::LoadOptions {
        default_action: action,
    };
    for (i, p) in paths.iter().enumerate().filter(|(_, p)| is_yaml(p)) {
        loaded[i] = Some(load(p, &opts));
    }
    let yaml_action = loaded
        .iter()
        .flatten()
        .flatten()
        .find_map(|f| f.settings.action);
    let opts = job::LoadOptions {
        default_action: action.or(yaml_action),
    };
    for (i, p) in paths.iter().enumerate().filter(|(_, p)| !is_yaml(p)) {
        loaded[i] = Some(load(p, &opts));
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
    Ok(files)
}
