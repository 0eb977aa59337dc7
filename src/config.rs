//! Validated, resolved settings: flags + environment + YAML `settings:` + defaults. The only
//! place that knows about flags; nothing downstream sees [`crate::cli`] types.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::cli::{ExecArgs, LogFormat, ProgressMode};
use crate::job::{Action, JobFile, Settings};
use crate::units::{parse_duration, parse_rate, parse_shard, Rate, Shard};

/// A usage or configuration problem: exit 2, nothing sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// How the run talks to people.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Draw an indicatif bar (a terminal, or `--progress always`).
    pub bar: bool,
    /// `--quiet`
    pub quiet: bool,
    /// `--log-format`
    pub json: bool,
}

/// Execution settings after merging.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// Tasks in flight.
    pub concurrency: usize,
    /// Rate cap.
    pub rate: Rate,
    /// Back-to-back requests after idle.
    pub burst: u32,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Explicit report directory.
    pub report_dir: Option<PathBuf>,
    /// Stop starting tasks after this long.
    pub max_duration: Option<Duration>,
    /// Abort after this many failed tasks.
    pub max_failures: Option<u64>,
    /// Read state before lock/unlock.
    pub check_state: bool,
    /// Treat unreadable/missing folders as empty.
    pub skip_missing_folders: bool,
    /// `--shard`
    pub shard: Option<Shard>,
    /// Output mode.
    pub output: Output,
    /// `--ca-cert` file contents.
    pub ca_cert: Option<PathBuf>,
    /// `--allow-http`
    pub allow_http: bool,
}

/// Where the portal is and the key for it.
pub struct PortalConfig {
    /// Base URL.
    pub url: url::Url,
    /// The key (never printed).
    pub key: SecretString,
}

impl std::fmt::Debug for PortalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalConfig")
            .field("url", &self.url.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Merges YAML `settings:` of several job files; the same key with different values in two
/// files is an error (which one should win is not ours to guess).
///
/// `cli_has(key)` says whether the command line sets that option: then a conflict between files
/// does not matter, since the command line wins anyway (SPEC §2).
pub fn merge_settings(
    files: &[JobFile],
    cli_has: &dyn Fn(&str) -> bool,
) -> Result<Settings, ConfigError> {
    let mut out = Settings::default();
    let mut from: std::collections::HashMap<&'static str, &Path> = Default::default();
    macro_rules! take {
        ($f:ident, $file:expr) => {
            if let Some(v) = &$file.settings.$f {
                match &out.$f {
                    Some(prev) if prev != v && !cli_has(stringify!($f)) => {
                        return Err(bad(format!(
                            "settings.{} differs between {} and {}; set it once, or on the command line",
                            stringify!($f),
                            from[stringify!($f)].display(),
                            $file.path.display()
                        )))
                    }
                    _ => {
                        out.$f = Some(v.clone());
                        from.insert(stringify!($f), &$file.path);
                    }
                }
            }
        };
    }
    for f in files {
        take!(portal, f);
        take!(concurrency, f);
        take!(rate, f);
        take!(burst, f);
        take!(retries, f);
        take!(timeout, f);
        take!(report_dir, f);
        take!(max_duration, f);
        take!(max_failures, f);
        take!(check_state, f);
        take!(shard, f);
        take!(action, f);
        take!(progress, f);
        take!(quiet, f);
        take!(log_format, f);
        take!(ca_cert, f);
        take!(allow_http, f);
        take!(skip_missing_folders, f);
    }
    Ok(out)
}

/// Which settings keys the command line sets (flags or their environment forms).
pub fn cli_sets(a: &ExecArgs, key: &str, shard: bool, action: bool, skip_missing: bool) -> bool {
    match key {
        "portal" => a.portal.is_some(),
        "concurrency" => a.concurrency.is_some(),
        "rate" => a.rate.is_some(),
        "burst" => a.burst.is_some(),
        "retries" => a.retries.is_some(),
        "timeout" => a.timeout.is_some(),
        "report_dir" => a.report_dir.is_some(),
        "max_duration" => a.max_duration.is_some(),
        "max_failures" => a.max_failures.is_some(),
        "check_state" => a.check_state || a.no_check_state,
        "shard" => shard,
        "action" => action,
        "progress" => a.progress.is_some(),
        "quiet" => a.quiet,
        "log_format" => a.log_format.is_some(),
        "ca_cert" => a.ca_cert.is_some(),
        "allow_http" => a.allow_http,
        "skip_missing_folders" => skip_missing,
        _ => false,
    }
}

/// Resolves execution settings: command line, then YAML, then defaults.
pub fn exec_config(
    a: &ExecArgs,
    s: &Settings,
    shard_flag: Option<&str>,
    skip_missing_flag: bool,
) -> Result<ExecConfig, ConfigError> {
    let concurrency = a.concurrency.or(s.concurrency).unwrap_or(8);
    if concurrency == 0 || concurrency > 1000 {
        return Err(bad("--concurrency must be between 1 and 1000"));
    }
    let rate = match &a.rate {
        Some(r) => parse_rate(r).map_err(|e| bad(format!("--rate: {e}")))?,
        None => s.rate.unwrap_or(Rate::PerSecond(20.0)),
    };
    let burst = a.burst.or(s.burst).unwrap_or(1);
    if burst == 0 || burst > 10_000 {
        return Err(bad("--burst must be between 1 and 10000"));
    }
    let retries = a.retries.or(s.retries).unwrap_or(4);
    if retries > 100 {
        return Err(bad("--retries must be at most 100"));
    }
    let timeout = match &a.timeout {
        Some(t) => parse_duration(t).map_err(|e| bad(format!("--timeout: {e}")))?,
        None => s.timeout.unwrap_or(Duration::from_secs(30)),
    };
    if timeout < Duration::from_millis(1) {
        return Err(bad("--timeout must be at least 1ms"));
    }
    let max_duration = match &a.max_duration {
        Some(t) => Some(parse_duration(t).map_err(|e| bad(format!("--max-duration: {e}")))?),
        None => s.max_duration,
    };
    let shard = match shard_flag {
        Some(k) => Some(parse_shard(k).map_err(|e| bad(format!("--shard: {e}")))?),
        None => s.shard,
    };
    let check_state = if a.check_state {
        true
    } else if a.no_check_state {
        false
    } else {
        s.check_state.unwrap_or(true)
    };
    let progress = match a.progress {
        Some(p) => p,
        None => match s.progress.as_deref() {
            None | Some("auto") => ProgressMode::Auto,
            Some("always") => ProgressMode::Always,
            Some("never") => ProgressMode::Never,
            Some(o) => {
                return Err(bad(format!(
                    "settings.progress: `{o}` is not one of auto, always, never"
                )))
            }
        },
    };
    let json = match a.log_format {
        Some(f) => f == LogFormat::Json,
        None => match s.log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(o) => {
                return Err(bad(format!(
                    "settings.log_format: `{o}` is not one of text, json"
                )))
            }
        },
    };
    let quiet = a.quiet || s.quiet.unwrap_or(false);
    let bar = !quiet
        && !json
        && match progress {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        };
    Ok(ExecConfig {
        concurrency,
        rate,
        burst,
        retries,
        timeout,
        report_dir: a.report_dir.clone().or_else(|| s.report_dir.clone()),
        max_duration,
        max_failures: a.max_failures.or(s.max_failures),
        check_state,
        skip_missing_folders: skip_missing_flag || s.skip_missing_folders.unwrap_or(false),
        shard,
        output: Output { bar, quiet, json },
        ca_cert: a.ca_cert.clone().or_else(|| s.ca_cert.clone()),
        allow_http: a.allow_http || s.allow_http.unwrap_or(false),
    })
}

/// `--action` for CSV files without an action column.
pub fn default_action(flag: Option<&str>) -> Result<Option<Action>, ConfigError> {
    flag.map(|a| Action::parse(a).map_err(|e| bad(format!("--action: {e}"))))
        .transpose()
}

/// Checks a portal URL: https (http only to loopback or with `--allow-http`), no user-info,
/// no query or fragment.
pub fn portal_url(raw: &str, allow_http: bool) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(raw.trim()).map_err(|e| {
        bad(format!(
            "portal URL `{}` is not a URL ({e}); use e.g. https://yourportal.onlyoffice.com",
            shown(raw)
        ))
    })?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("the portal URL must not contain a user name or password; pass the key through DOCSPACE_API_KEY or --api-key-file"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad(
            "the portal URL must not contain a query or fragment; give just https://host[/path]",
        ));
    }
    let host = u.host_str().unwrap_or_default();
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(host) || allow_http => {}
        "http" => {
            return Err(bad(format!(
                "refusing http:// to {host}: the key would travel in clear text. Use https://, or pass --allow-http if you really mean it"
            )))
        }
        s => return Err(bad(format!("portal URL scheme `{s}` is not supported; use https://"))),
    }
    if host.is_empty() {
        return Err(bad("the portal URL has no host"));
    }
    Ok(u)
}

fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Reads the key: `--api-key-file` wins over `DOCSPACE_API_KEY`. Returns warnings to show.
pub fn api_key(file: Option<&Path>) -> Result<(SecretString, Vec<String>), ConfigError> {
    let mut warnings = Vec::new();
    let raw = if let Some(p) = file {
        let meta = std::fs::metadata(p)
            .map_err(|e| bad(format!("--api-key-file {}: {e}", p.display())))?;
        if meta.len() > 64 * 1024 {
            return Err(bad(format!(
                "--api-key-file {}: too large to be an API key",
                p.display()
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                warnings.push(format!(
                    "{} is readable by other users; run `chmod 600 {}`",
                    p.display(),
                    p.display()
                ));
            }
        }
        let bytes =
            std::fs::read(p).map_err(|e| bad(format!("--api-key-file {}: {e}", p.display())))?;
        String::from_utf8(bytes)
            .map_err(|_| bad(format!("--api-key-file {}: not UTF-8 text", p.display())))?
    } else {
        match std::env::var("DOCSPACE_API_KEY") {
            Ok(k) => k,
            Err(_) => {
                return Err(bad(
                    "no API key: set DOCSPACE_API_KEY or pass --api-key-file PATH (or use --sandbox to rehearse)",
                ))
            }
        }
    };
    let key = raw.trim().to_string();
    if key.is_empty() {
        return Err(bad("the API key is empty"));
    }
    if key.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad(
            "the API key contains spaces or control characters; check the key file",
        ));
    }
    Ok((SecretString::from(key), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_urls() {
        assert!(portal_url("https://x.onlyoffice.com", false).is_ok());
        assert!(portal_url("http://127.0.0.1:8080", false).is_ok());
        assert!(portal_url("http://localhost:1", false).is_ok());
        assert!(portal_url("http://[::1]:1", false).is_ok());
        assert!(portal_url("http://portal.example", false)
            .unwrap_err()
            .0
            .contains("--allow-http"));
        assert!(portal_url("http://portal.example", true).is_ok());
        assert!(portal_url("https://u:p@portal.example", false)
            .unwrap_err()
            .0
            .contains("user name"));
        assert!(portal_url("ftp://portal.example", false).is_err());
        assert!(portal_url("portal.example", false).is_err());
    }
}
