//! The `settings:` block of a YAML job file: [`RawSettings`] as written, each value checked by
//! its own visitor (so a bad value is reported at its line and column), and
//! [`RawSettings::into_settings`] for the loader. The command line overrides these values;
//! merging happens in `config`, not here.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserializer;

use super::visit::{int_in, non_empty, scalar, shown};
use super::MAX_CONCURRENCY;
use crate::job::{Action, Settings};
use crate::units::{parse_duration, parse_rate, parse_shard, Rate, Shard};

/// `settings:` as written; every value is validated by its visitor (so errors have a position).
#[derive(serde::Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a `settings:` mapping, e.g. `settings: {concurrency: 8, rate: 20/s}`"
)]
pub(super) struct RawSettings {
    #[serde(default, deserialize_with = "de_portal")]
    portal: Option<String>,
    #[serde(default, deserialize_with = "de_concurrency")]
    concurrency: Option<usize>,
    #[serde(default, deserialize_with = "de_rate")]
    rate: Option<Rate>,
    #[serde(default, deserialize_with = "de_burst")]
    burst: Option<u32>,
    #[serde(default, deserialize_with = "de_retries")]
    retries: Option<u32>,
    #[serde(default, deserialize_with = "de_duration")]
    timeout: Option<Duration>,
    #[serde(default, alias = "report-dir", deserialize_with = "de_path")]
    report_dir: Option<PathBuf>,
    #[serde(default, alias = "max-duration", deserialize_with = "de_duration")]
    max_duration: Option<Duration>,
    #[serde(default, alias = "max-failures", deserialize_with = "de_max_failures")]
    max_failures: Option<u64>,
    #[serde(default, alias = "check-state", deserialize_with = "de_bool")]
    check_state: Option<bool>,
    #[serde(default, deserialize_with = "de_shard")]
    shard: Option<Shard>,
    #[serde(default, deserialize_with = "de_action")]
    action: Option<Action>,
    #[serde(default, deserialize_with = "de_progress")]
    progress: Option<String>,
    #[serde(default, deserialize_with = "de_bool")]
    quiet: Option<bool>,
    #[serde(default, alias = "log-format", deserialize_with = "de_log_format")]
    log_format: Option<String>,
    #[serde(default, alias = "ca-cert", deserialize_with = "de_path")]
    ca_cert: Option<PathBuf>,
    #[serde(default, alias = "allow-http", deserialize_with = "de_bool")]
    allow_http: Option<bool>,
    #[serde(default, alias = "skip-missing-folders", deserialize_with = "de_bool")]
    skip_missing_folders: Option<bool>,
}

impl RawSettings {
    pub(super) fn into_settings(self) -> Settings {
        Settings {
            portal: self.portal,
            concurrency: self.concurrency,
            rate: self.rate,
            burst: self.burst,
            retries: self.retries,
            timeout: self.timeout,
            report_dir: self.report_dir,
            max_duration: self.max_duration,
            max_failures: self.max_failures,
            check_state: self.check_state,
            shard: self.shard,
            action: self.action,
            progress: self.progress,
            quiet: self.quiet,
            log_format: self.log_format,
            ca_cert: self.ca_cert,
            allow_http: self.allow_http,
            skip_missing_folders: self.skip_missing_folders,
        }
    }
}

fn de_portal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(
        d,
        "a portal URL like `https://yourportal.onlyoffice.com`",
        |s| non_empty(s, "portal"),
    )
}
fn de_concurrency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    scalar(d, "a number of tasks like `8`", |s| {
        int_in(s, "concurrency", 1, MAX_CONCURRENCY as u64)
    })
}
fn de_burst<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    scalar(d, "a number like `1`", |s| int_in(s, "burst", 1, 10_000))
}
fn de_retries<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    scalar(d, "a number like `4`", |s| int_in(s, "retries", 0, 100))
}
fn de_max_failures<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    scalar(d, "a number like `50`", |s| {
        int_in(s, "max_failures", 1, u64::from(u32::MAX))
    })
}
fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Rate>, D::Error> {
    scalar(
        d,
        "a rate like `20/s`, `1500/min` or `unlimited`",
        parse_rate,
    )
}
fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    scalar(d, "a duration like `30s`, `500ms` or `2m`", |s| {
        // A zero timeout or time budget would fail every request or start nothing.
        parse_duration(s).and_then(|d| {
            if d.is_zero() {
                Err(format!(
                    "the duration `{}` must be greater than zero",
                    shown(s)
                ))
            } else {
                Ok(d)
            }
        })
    })
}
fn de_shard<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Shard>, D::Error> {
    scalar(d, "a shard like `2/4`", parse_shard)
}
fn de_action<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Action>, D::Error> {
    scalar(
        d,
        "an action: lock, unlock, protectusers or info",
        Action::parse,
    )
}
fn de_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    scalar(d, "a path", |s| non_empty(s, "path").map(PathBuf::from))
}
fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    scalar(d, "`true` or `false`", |s| {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("expected `true` or `false`, not `{}`", shown(s))),
        }
    })
}
fn de_progress<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(d, "`auto`, `always` or `never`", |s| {
        one_of(s, "progress", &["auto", "always", "never"])
    })
}
fn de_log_format<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(d, "`text` or `json`", |s| {
        one_of(s, "log_format", &["text", "json"])
    })
}

fn one_of(s: &str, key: &str, allowed: &[&str]) -> Result<String, String> {
    let v = s.trim().to_ascii_lowercase();
    if allowed.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(format!(
            "`{key}` must be one of {}, not `{}`",
            allowed.join(", "),
            shown(s)
        ))
    }
}
