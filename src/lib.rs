//! docspace-batch: bulk operations against an ONLYOFFICE DocSpace portal.
//!
//! The path of one command: [`cli`] (what was typed) → [`config`] (settings resolved once) →
//! [`commands`] (each subcommand, thin) → [`session`] (connect, plan, execute, finish, shared by
//! `run` and `restore`) → [`job`] (job files to entries) → [`runner`] (expansion, scheduling,
//! rate limiting, retries) → [`api`] (the portal client) → [`record`] and [`report`] (the
//! report directory). [`sandbox`] is a simulated portal for rehearsals and tests.
#![warn(missing_docs)]

// What the binary, the tests, the benchmark and the fuzz targets use; everything else is
// internal to the crate.

pub(crate) mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod job;
pub(crate) mod progress;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod runner;
pub mod sandbox;
pub(crate) mod session;
pub mod signals;
pub(crate) mod text;
pub(crate) mod units;

pub use api::decode_envelope;

/// Now as RFC 3339 UTC with milliseconds (the `finished_at` column).
pub fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

/// A time as RFC 3339 UTC.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    dt.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

/// Seconds between two RFC 3339 timestamps written by [`rfc3339`].
pub fn seconds_between(a: &str, b: &str) -> Option<f64> {
    let p = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    Some((p(b)? - p(a)?).as_seconds_f64())
}
