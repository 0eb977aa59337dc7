//! The start of a command that talks to the portal, before anything is planned or written:
//! sign in (a user and password become a session token), check the credential, then read what
//! the report records about the portal: the server version (which also tells classification
//! what older servers refuse), the caller, and for an API key its expiry and permissions.
//!
//! Every request goes through the run's limiter and retry loop and counts in its requests. A
//! rejected credential, a two-factor account and a key that may not write on a run that
//! writes end the command here (exit 3, nothing written); a read that fails otherwise only
//! leaves its fact unknown.

use std::time::Duration;

use super::{PlanSource, Source};
use crate::api::{ApiError, Client, CredentialKind, ErrorKind, KeyInfo, SignIn};
use crate::error::Error;
use crate::record::{CallerInfo, PortalInfo};
use crate::runner::exec::{Ctx, Endpoint, RequestEnd};
use crate::runner::stop::StopReason;

/// A key that expires within this is a warning on every run, `--quiet` or not.
const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// Whether the command's tasks include a lock or unlock.
pub(super) fn writes_planned(source: &Source) -> bool {
    let in_plan = |p: &crate::runner::plan::Plan| p.tasks.iter().any(|t| t.action.is_write());
    match source {
        Source::Recorded(p) | Source::Fresh(PlanSource::Ready(p)) => in_plan(p),
        Source::Fresh(PlanSource::Recorded(r)) => in_plan(&r.plan),
        Source::Fresh(PlanSource::Expand(entries)) => entries
            .iter()
            .any(|e| e.actions.iter().any(|a| a.is_write())),
    }
}

/// Signs in if needed, checks the credential and reads what the record keeps about the portal.
/// `writes`: the command locks or unlocks; `dry_run`: it will not (a key that may not write is
/// then a warning, not the end).
pub(super) async fn start(
    ctx: &Ctx,
    client: &Client,
    writes: bool,
    dry_run: bool,
) -> Result<PortalInfo, Error> {
    let kind = client.credential_kind();
    // A token the portal has just issued needs no check of its own.
    match kind {
        CredentialKind::Password => sign_in(ctx, client).await?,
        _ => super::connect::check_key(ctx, kind).await?,
    }
    let mut info = PortalInfo {
        credential: Some(kind.as_str().to_string()),
        ..PortalInfo::default()
    };
    // Three independent reads: side by side, so a slow portal costs one round trip, not three.
    let (version, caller, key) = futures::join!(
        read(
            ctx,
            "the server version (GET /api/2.0/settings/version/build)",
            || { client.server_version() }
        ),
        read(ctx, "the caller (GET /api/2.0/people/@self)", || client
            .caller()),
        async {
            match kind {
                CredentialKind::ApiKey => {
                    let what = "the API key's expiry and permissions (GET /api/2.0/keys/@self)";
                    read(ctx, what, || client.key_info()).await
                }
                _ => Ok(None),
            }
        }
    );
    if let Some(v) = version?.flatten() {
        info.server_version = Some(v.text.clone());
        client.note_version(v);
    }
    if let Some(c) = caller? {
        info.caller = Some(CallerInfo {
            id: c.id,
            name: c.name,
        });
    }
    if let Some(k) = key?.flatten() {
        judge_key(ctx, &k, &mut info, writes, dry_run)?;
    }
    ctx.ui.info(&describe(&info));
    Ok(info)
}

/// `POST /api/2.0/authentication`: exit 3 when the portal refuses, or wants a second factor.
async fn sign_in(ctx: &Ctx, client: &Client) -> Result<(), Error> {
    // A read as far as the limiter is concerned: it changes no file and DocSpace does not
    // count it toward the daily write cap of the user (nobody is signed in yet).
    match ctx.request(Endpoint::Read, || client.sign_in()).await {
        Ok((SignIn::Token, _)) => Ok(()),
        Ok((SignIn::TwoFactor, _)) => Err(Error::Aborted(
            "two-factor sign-in cannot be scripted; use an API key or a token (nothing was written)"
                .into(),
        )),
        Err(RequestEnd::Cancelled { .. }) if ctx.stop.reason() == Some(StopReason::MaxDuration) => {
            Err(Error::Deadline(
                "--max-duration ran out while signing in; nothing was written".into(),
            ))
        }
        Err(end) => Err(ended(ctx, "signing in", end)),
    }
}

/// One start-up read. `Ok(None)` when it failed in a way that leaves only this fact unknown (a
/// warning says so), or when the run stopped starting meanwhile (`--max-duration`, the daily
/// cap: no task will start either); a rejected credential or a signal ends the command.
async fn read<T, F, Fut>(ctx: &Ctx, what: &str, op: F) -> Result<Option<T>, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    // A deadline ends the wait for these reads even before tasks run: at `--rate 1/h` they
    // would hold the run for hours, and no task will start after it anyway.
    let answer = tokio::select! {
        biased;
        a = ctx.request(Endpoint::Read, op) => a,
        _ = ctx.stop.starting_cancelled() => return Ok(None),
    };
    match answer {
        Ok((v, _)) => Ok(Some(v)),
        Err(RequestEnd::Failed(f)) if f.err.kind != ErrorKind::Unauthorized => {
            ctx.ui.warn(&format!("cannot read {what}: {}", f.err));
            Ok(None)
        }
        Err(RequestEnd::Cancelled { .. }) if ctx.stop.reason() != Some(StopReason::Signal) => {
            Ok(None)
        }
        Err(end) => Err(ended(ctx, &format!("reading {what}"), end)),
    }
}

/// How the command ends when a start-up request ended it: interrupted by a signal, or aborted.
fn ended(ctx: &Ctx, doing: &str, end: RequestEnd) -> Error {
    match end {
        RequestEnd::Cancelled { .. } if ctx.stop.reason() == Some(StopReason::Signal) => {
            Error::Interrupted(format!("interrupted while {doing}; nothing was written"))
        }
        RequestEnd::Failed(f) if f.err.kind == ErrorKind::Unauthorized => {
            Error::Aborted(format!("{}; nothing was written", f.err.message))
        }
        other => Error::Aborted(format!(
            "{doing} at {} failed: {other}; nothing was written",
            ctx.client.base()
        )),
    }
}

/// The key's expiry (a warning within 14 days, printed even with `--quiet` and recorded) and
/// its permissions (exit 3 on a run that writes without `files:write`).
fn judge_key(
    ctx: &Ctx,
    k: &KeyInfo,
    info: &mut PortalInfo,
    writes: bool,
    dry_run: bool,
) -> Result<(), Error> {
    info.key_permissions = Some(k.permissions.clone());
    info.key_expires_at = k.expires_at.clone();
    if let Some(w) = k.expires_at.as_deref().and_then(expiry_warning) {
        ctx.ui.alert(&w);
        info.credential_warnings.push(w);
    }
    if !writes || k.can_write_files() {
        return Ok(());
    }
    let perms = if k.permissions.is_empty() {
        "none".to_string()
    } else {
        k.permissions.join(", ")
    };
    let why = format!(
        "the API key may not write files (its permissions: {perms}), and this run locks or unlocks; create a key with files:write (or *)"
    );
    if dry_run {
        ctx.ui
            .alert(&format!("{why}. The real run would stop before any write"));
        info.credential_warnings.push(why);
        return Ok(());
    }
    Err(Error::Aborted(format!("{why}; nothing was written")))
}

/// The warning for a key expiring at `at` (DocSpace's `2026-01-15T10:30:00.0000000+03:00`),
/// when that is within [`EXPIRY_WARNING`]; `None` otherwise or when `at` is not a date.
fn expiry_warning(at: &str) -> Option<String> {
    expiry_warning_at(at, time::OffsetDateTime::now_utc())
}

fn expiry_warning_at(at: &str, now: time::OffsetDateTime) -> Option<String> {
    let when =
        time::OffsetDateTime::parse(at.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    let left = when - now;
    if left > time::Duration::try_from(EXPIRY_WARNING).ok()? {
        return None;
    }
    // Whole days, rounded up: a key made to last 3 days "expires in 3 days" a minute later.
    let days = (left.whole_seconds() + 86_399).div_euclid(86_400);
    let within = match days {
        d if left.is_negative() || d <= 0 => {
            return Some(format!("the API key expired on {at}; create a new one"))
        }
        1 => "within a day".to_string(),
        d => format!("in {d} days"),
    };
    Some(format!(
        "the API key expires {within} ({at}); create a new one and replace it before then, or the run will be refused"
    ))
}

/// One line for the log: the server and the caller.
fn describe(info: &PortalInfo) -> String {
    let version = info.server_version.as_deref().unwrap_or("version unknown");
    match &info.caller {
        Some(c) => format!("portal: DocSpace {version}; signed in as {}", c.name),
        None => format!("portal: DocSpace {version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_warns_within_fourteen_days_only() {
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let w = expiry_warning_at("2026-01-04T12:00:00.0000000+00:00", now).unwrap();
        assert!(w.contains("in 3 days"), "{w}");
        assert!(expiry_warning_at("2026-01-14T12:00:00.0000000+00:00", now).is_some());
        assert!(expiry_warning_at("2026-01-16T12:00:01.0000000+00:00", now).is_none());
        let w = expiry_warning_at("2025-12-30T00:00:00+03:00", now).unwrap();
        assert!(w.contains("expired"), "{w}");
        let w = expiry_warning_at("2026-01-04T11:59:00Z", now).unwrap();
        assert!(w.contains("in 3 days"), "{w}");
        assert!(expiry_warning_at("2026-01-01T18:00:00Z", now)
            .unwrap()
            .contains("within a day"));
        assert!(expiry_warning_at("soon", now).is_none());
    }
}
