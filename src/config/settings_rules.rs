//! The value rules: each setting's parse and range check, for flags and YAML alike.

use super::*;

/// `concurrency`.
pub const CONCURRENCY: RangeInclusive<u64> = 1..=MAX_CONCURRENCY as u64;
/// `burst`.
pub const BURST: RangeInclusive<u64> = 1..=10_000;
/// `retries`.
pub const RETRIES: RangeInclusive<u64> = 0..=100;
/// `max_failures`: at least 1, since `0` would abort before the first failure.
pub const MAX_FAILURES: RangeInclusive<u64> = 1..=u32::MAX as u64;

fn int_in<T: TryFrom<u64>>(s: &str, key: &str, range: RangeInclusive<u64>) -> Result<T, String> {
    let (min, max) = (*range.start(), *range.end());
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            hinted(
                s,
                format!(
                    "`{key}` must be a whole number from {min} to {max}, not `{}`",
                    shown(s)
                ),
            )
        })
}

/// `msg` plus the hint for a pasted invisible character in the typed value `s`, if any.
fn hinted(s: &str, msg: String) -> String {
    match crate::text::paste_hint(s) {
        Some(h) => format!("{msg}; {h}"),
        None => msg,
    }
}

/// Trimmed text for `key` that is not empty and has no control characters.
pub(crate) fn non_empty(s: &str, key: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.chars().any(char::is_control) {
        return Err(format!(
            "`{key}` must be a non-empty text without control characters"
        ));
    }
    Ok(t.to_string())
}

/// Checked for form here; [`crate::config::portal_url`] checks it as a URL.
pub fn portal(s: &str) -> Result<String, String> {
    non_empty(s, "portal")
}
/// `portal` in a job file: also checked as a URL at load time, so `validate` finds a path
/// or a missing scheme with its line. Whether plain http is allowed is left to the run
/// (`--allow-http` on the command line counts).
pub fn portal_in_job_file(s: &str) -> Result<String, String> {
    let t = non_empty(s, "portal")?;
    crate::config::check_portal(&t, crate::config::PortalSource::JobFile).map_err(|e| e.0)?;
    Ok(t)
}
/// [`CONCURRENCY`].
pub fn concurrency(s: &str) -> Result<usize, String> {
    int_in(s, "concurrency", CONCURRENCY)
}
/// [`BURST`].
pub fn burst(s: &str) -> Result<u32, String> {
    int_in(s, "burst", BURST)
}
/// [`RETRIES`].
pub fn retries(s: &str) -> Result<u32, String> {
    int_in(s, "retries", RETRIES)
}
/// [`MAX_FAILURES`].
pub fn max_failures(s: &str) -> Result<u64, String> {
    int_in(s, "max_failures", MAX_FAILURES)
}
/// A positive duration: a zero timeout fails every request and a zero `max_duration`
/// starts nothing.
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "the duration `{}` must be greater than zero",
            shown(s)
        ));
    }
    Ok(d)
}
/// A non-empty path.
pub fn path(s: &str) -> Result<PathBuf, String> {
    non_empty(s, "path").map(PathBuf::from)
}
/// `true` or `false` (a flag given without a value is `true`).
pub fn flag(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(hinted(
            s,
            format!("expected `true` or `false`, not `{}`", shown(s)),
        )),
    }
}
/// auto | always | never.
pub fn progress(s: &str) -> Result<ProgressMode, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(ProgressMode::Auto),
        "always" => Ok(ProgressMode::Always),
        "never" => Ok(ProgressMode::Never),
        _ => Err(hinted(
            s,
            format!(
                "`progress` must be one of auto, always, never, not `{}`",
                shown(s)
            ),
        )),
    }
}
/// text | json.
pub fn log_format(s: &str) -> Result<LogFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(hinted(
            s,
            format!("`log_format` must be one of text, json, not `{}`", shown(s)),
        )),
    }
}
