//! One task's requests per action, and how their answers become the row. Lock, unlock and
//! `info` ask the state cache ([`crate::runner::state`]) first, so a file whose state the run
//! already knows costs no read.

use super::{counted, Ctx, Endpoint, FileMemo, RequestEnd};
use crate::api::{ErrorKind, FileState};
use crate::job::{Action, FileId, Task};
use crate::report::{AccessRow, Outcome, ResultRow, ShareRow};
use crate::runner::journal::Journal;
use crate::runner::state::Seen;

fn record_state(ctx: &Ctx, row: &mut ResultRow, st: &FileState) {
    row.locked = Some(st.locked);
    row.can_lock = st.can_lock;
    row.locked_by = match st.locked_by.as_deref() {
        Some(name) => crate::api::report_text(name),
        // The portal names only another holder: a lock without a name is the caller's own.
        None if st.locked => ctx
            .caller_name
            .get()
            .map(|n| crate::api::report_text(n))
            .unwrap_or_default(),
        None => String::new(),
    };
    if let Some(t) = &st.title {
        row.title = crate::api::report_text(t);
    }
}

/// Fills the row from the state a decision used. The status is that of the answer the state
/// came from (a listing, a read or a write), all of them 200s.
fn record_seen(ctx: &Ctx, row: &mut ResultRow, seen: &Seen) {
    record_state(ctx, row, &seen.state);
    row.http_status = Some(200);
    row.state_from = Some(seen.from);
}

/// Known state when it is fresh, else read again.
async fn fresh_state(ctx: &Ctx, file: &FileId, attempts: &mut u32) -> Result<Seen, RequestEnd> {
    match ctx.states.lookup(file) {
        Some(s) if s.fresh => Ok(s),
        _ => ctx.states.refresh(ctx, file, attempts).await,
    }
}

/// `info`: the row is the file's state; a file reached through a folder, or read by an earlier
/// task, needs no request while that state is fresh.
pub(super) async fn info(
    ctx: &Ctx,
    task: &Task,
    row: &mut ResultRow,
    attempts: &mut u32,
) -> Result<(), RequestEnd> {
    let seen = fresh_state(ctx, &task.file, attempts).await?;
    record_seen(ctx, row, &seen);
    Ok(())
}

pub(super) async fn protect_users(
    ctx: &Ctx,
    task: &Task,
    row: &mut ResultRow,
    attempts: &mut u32,
    memo: &FileMemo,
    access: &mut Vec<AccessRow>,
) -> Result<(), RequestEnd> {
    let users = counted(
        attempts,
        ctx.request(Endpoint::Read, || ctx.client.protect_users(&task.file))
            .await,
    )?;
    row.http_status = Some(200);
    row.users = Some(users.len());
    let title = memo.title.clone().unwrap_or_default();
    access.extend(users.into_iter().map(|u| AccessRow {
        file_id: task.file.to_string(),
        title: title.clone(),
        user_id: crate::api::report_text(&u.id),
        name: crate::api::report_text(&u.name),
        email: crate::api::report_text(&u.email),
    }));
    Ok(())
}

/// `shares`: every user, group and link the file is shared with, one row each; `users` is
/// the count of entries.
pub(super) async fn shares(
    ctx: &Ctx,
    task: &Task,
    row: &mut ResultRow,
    attempts: &mut u32,
    out: &mut Vec<ShareRow>,
) -> Result<(), RequestEnd> {
    let entries = counted(
        attempts,
        ctx.request(Endpoint::Read, || ctx.client.shares(&task.file))
            .await,
    )?;
    row.http_status = Some(200);
    row.users = Some(entries.len());
    out.extend(entries.into_iter().map(|entry| ShareRow {
        file_id: task.file.to_string(),
        title: String::new(),
        entry,
    }));
    Ok(())
}

/// The state a lock/unlock decides on. A lock that known state says is needed goes out on
/// state of any age: its answer is the truth, and locking never takes someone else's lock
/// (the answer then names them). A skip needs fresh state, or it could report `unchanged` for
/// a file someone changed meanwhile; so does an unlock, which a room manager's key would send
/// through another user's lock taken since.
async fn decision_state(
    ctx: &Ctx,
    file: &FileId,
    want: bool,
    attempts: &mut u32,
) -> Result<Seen, RequestEnd> {
    match ctx.states.lookup(file) {
        Some(s) if s.fresh || (want && already(want, &s.state).is_none()) => Ok(s),
        _ => ctx.states.refresh(ctx, file, attempts).await,
    }
}

pub(super) async fn lock(
    ctx: &Ctx,
    task: &Task,
    row: &mut ResultRow,
    attempts: &mut u32,
    journal: &Journal,
) -> Result<(), RequestEnd> {
    let want = task.action == Action::Lock;
    let intent = journal.unsettled(task.seq).filter(|i| i.lock == want);
    if ctx.cfg.check_state || intent.is_some() {
        if ctx.stop.writes_stopped() {
            return Err(RequestEnd::Cancelled {
                attempts: 0,
                last: None,
            });
        }
        let seen = match intent {
            // An earlier process sent this write and died before the answer: only the file
            // itself can say whether it went through.
            Some(_) => ctx.states.read(ctx, &task.file, attempts).await?,
            None => decision_state(ctx, &task.file, want, attempts).await?,
        };
        record_seen(ctx, row, &seen);
        let st = &seen.state;
        row.was_locked = Some(st.locked);
        // If the file is as the lost write wanted, that write did it. `unchanged` here would
        // hide a lock from `restore`.
        if let Some(i) = intent.filter(|_| st.locked == want && st.locked_by.is_none()) {
            row.was_locked = i.was_locked;
            return Ok(());
        }
        if let Some(outcome) = already(want, st) {
            row.outcome = outcome;
            return Ok(());
        }
    }
    if !journal
        .intent(task.seq, &task.file, want, row.was_locked)
        .await
    {
        // The record cannot say a write is on its way: it must not leave.
        return Err(RequestEnd::Cancelled {
            attempts: 0,
            last: None,
        });
    }
    let st = counted(
        attempts,
        ctx.request(Endpoint::Write, || ctx.client.set_lock(&task.file, want))
            .await,
    )?;
    if ctx.cfg.check_state {
        // (without the state check nothing known decides a write: a bulk run of 100 000 IDs
        // keeps no state it will not use)
        ctx.states
            .saw(&task.file, &st, crate::runner::state::StateSource::Answer);
    }
    record_state(ctx, row, &st);
    row.http_status = Some(200);
    judge_write(want, &st, row);
    Ok(())
}

/// The outcome when the known state shows nothing to write.
fn already(want: bool, st: &FileState) -> Option<Outcome> {
    match (want, st.locked, st.locked_by.is_some()) {
        // Someone else holds it: locking changes nothing and unlocking would break their lock.
        (_, true, true) => Some(Outcome::LockedByOther),
        (true, true, false) | (false, false, _) => Some(Outcome::Unchanged),
        _ => None,
    }
}

/// Reads the write's answer: the state it shows is the truth.
fn judge_write(want: bool, st: &FileState, row: &mut ResultRow) {
    match (want, st.locked, st.locked_by.is_some()) {
        (true, true, false) => {}
        (true, true, true) => row.outcome = Outcome::LockedByOther,
        (true, false, _) => {
            row.outcome = Outcome::Failed;
            row.error_kind = Some(ErrorKind::BadResponse);
            row.error = "the portal answered 200 but the file is not locked".into();
        }
        (false, false, _) => {}
        (false, true, _) => {
            row.outcome = Outcome::Failed;
            row.error_kind = Some(ErrorKind::StillLocked);
            row.error = match &st.locked_by {
                Some(by) => format!("still locked by {}", crate::api::clean_text(by)),
                None => "still locked after unlock".into(),
            };
        }
    }
}
