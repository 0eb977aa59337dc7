//! One task at a time against the fake portal, on tokio's paused clock: how answers become
//! report rows (the lock/unlock outcome table) and how one request retries, backs off and ends.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{run_task, Ctx, Endpoint, FileMemo, RequestEnd};
use crate::api::fake::{http_error, Call, FakePortal, Op, Reply};
use crate::api::{ErrorKind, FileState};
use crate::config::{Output, PartialSettings, Settings};
use crate::job::{Action, FileId, OnFailure, Task};
use crate::progress::Ui;
use crate::report::{Outcome, ResultRow};
use crate::runner::stop::StopReason;
use crate::units::Rate;

/// Settings of a test run: unlimited rate (the limiter only paces on 429s), three retries,
/// state checks on, nothing printed.
pub(in crate::runner) fn cfg() -> Settings {
    Settings {
        concurrency: 1,
        rate: Rate::Unlimited,
        retries: 3,
        ..PartialSettings::default().resolve()
    }
}

pub(in crate::runner) fn ctx_for(fake: &FakePortal, cfg: Settings) -> Arc<Ctx> {
    let ui = Ui::new(Output {
        quiet: true,
        ..Output::default()
    });
    Arc::new(Ctx::new(fake.clone(), cfg, ui))
}

pub(in crate::runner) fn task(seq: u64, file: u32, action: Action) -> Task {
    Task {
        seq,
        job: "job".into(),
        file: FileId::Int(file),
        action,
        on_failure: OnFailure::Continue,
    }
}

pub(in crate::runner) fn f(id: u32) -> FileId {
    FileId::Int(id)
}

async fn run_on(ctx: &Ctx, action: Action) -> ResultRow {
    run_task(
        ctx,
        &task(1, 1, action),
        &mut FileMemo::default(),
        &crate::runner::journal::Journal::default(),
    )
    .await
    .row
}

/// `action` on file 1 with the default settings.
async fn run_one(fake: &FakePortal, action: Action) -> ResultRow {
    run_on(&ctx_for(fake, cfg()), action).await
}

fn locked_state(locked_by: Option<&str>) -> FileState {
    FileState {
        title: Some("file 1".into()),
        locked: true,
        locked_by: locked_by.map(str::to_owned),
        can_lock: Some(true),
    }
}

#[tokio::test(start_paused = true)]
async fn the_state_check_decides_whether_lock_and_unlock_write() {
    // (action, file 1 before: locked, locked by) → (outcome, was_locked, locked, writes sent)
    let table = [
        (Action::Lock, (false, None), (Outcome::Ok, false, true, 1)),
        (
            Action::Lock,
            (true, None),
            (Outcome::Unchanged, true, true, 0),
        ),
        (
            Action::Lock,
            (true, Some("Jane")),
            (Outcome::LockedByOther, true, true, 0),
        ),
        (Action::Unlock, (true, None), (Outcome::Ok, true, false, 1)),
        (
            Action::Unlock,
            (false, None),
            (Outcome::Unchanged, false, false, 0),
        ),
        (
            Action::Unlock,
            (true, Some("Jane")),
            (Outcome::LockedByOther, true, true, 0),
        ),
    ];
    for (action, (locked, by), (outcome, was, now, writes)) in table {
        let fake = FakePortal::new();
        fake.file(1, locked, by);
        let row = run_one(&fake, action).await;
        let case = format!("{action} on locked={locked} by={by:?}: {row:?}");
        assert_eq!(row.outcome, outcome, "{case}");
        assert_eq!(
            (row.was_locked, row.locked),
            (Some(was), Some(now)),
            "{case}"
        );
        assert_eq!(row.error_kind, None, "{case}");
        assert_eq!(row.locked_by, by.unwrap_or(""), "{case}");
        let mut expected = vec![Call::FileInfo(f(1))];
        if writes == 1 {
            expected.push(Call::SetLock(f(1), action == Action::Lock));
        }
        assert_eq!(fake.calls(), expected, "{case}");
        assert_eq!(row.attempts, 1 + writes, "{case}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_403_on_the_write_fails_forbidden_without_a_key_check() {
    let fake = FakePortal::new();
    fake.fail(Op::SetLock, 403);
    let row = run_one(&fake, Action::Lock).await;
    assert_eq!(
        (row.outcome, row.error_kind, row.http_status),
        (Outcome::Failed, Some(ErrorKind::Forbidden), Some(403))
    );
    assert_eq!(row.was_locked, Some(false));
    assert_eq!(
        fake.calls(),
        [Call::FileInfo(f(1)), Call::SetLock(f(1), true)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_403_on_the_state_read_checks_the_key_once() {
    // File info is served to anonymous callers, so a revoked key reads as 403 there.
    let fake = FakePortal::new();
    fake.fail(Op::FileInfo, 403);
    let ctx = ctx_for(&fake, cfg());
    let row = run_on(&ctx, Action::Unlock).await;
    assert_eq!(
        (row.outcome, row.error_kind),
        (Outcome::Failed, Some(ErrorKind::Forbidden))
    );
    assert_eq!(fake.calls(), [Call::FileInfo(f(1)), Call::CheckAuth]);
    assert_eq!(ctx.stop.reason(), None);

    let fake = FakePortal::new();
    fake.fail(Op::FileInfo, 403)
        .then(Op::CheckAuth, Reply::Auth(false));
    let ctx = ctx_for(&fake, cfg());
    let row = run_on(&ctx, Action::Lock).await;
    assert_eq!(
        (row.outcome, row.error_kind),
        (Outcome::Failed, Some(ErrorKind::Unauthorized))
    );
    assert_eq!(ctx.stop.reason(), Some(StopReason::Unauthorized));
}

#[tokio::test(start_paused = true)]
async fn a_404_fails_not_found_and_sends_no_write() {
    let fake = FakePortal::new();
    fake.fail(Op::FileInfo, 404);
    let row = run_one(&fake, Action::Lock).await;
    assert_eq!(
        (row.outcome, row.error_kind, row.http_status, row.attempts),
        (Outcome::Failed, Some(ErrorKind::NotFound), Some(404), 1)
    );
    assert_eq!(fake.calls(), [Call::FileInfo(f(1))]);
}

#[tokio::test(start_paused = true)]
async fn an_unlock_answered_with_the_file_still_locked_fails_still_locked() {
    let fake = FakePortal::new();
    fake.file(1, true, None)
        .then(Op::SetLock, Reply::State(locked_state(None)));
    let row = run_one(&fake, Action::Unlock).await;
    assert_eq!(
        (row.outcome, row.error_kind, row.locked),
        (Outcome::Failed, Some(ErrorKind::StillLocked), Some(true))
    );
    assert_eq!(row.error, "still locked after unlock");

    // Someone took the lock between the state check and the write.
    let fake = FakePortal::new();
    fake.file(1, true, None)
        .then(Op::SetLock, Reply::State(locked_state(Some("Jane"))));
    let row = run_one(&fake, Action::Unlock).await;
    assert_eq!(row.error_kind, Some(ErrorKind::StillLocked));
    assert_eq!(row.error, "still locked by Jane");
}

#[tokio::test(start_paused = true)]
async fn a_lock_answered_with_the_file_unlocked_or_held_by_another() {
    let fake = FakePortal::new();
    fake.then(Op::SetLock, Reply::State(FileState::default()));
    let row = run_one(&fake, Action::Lock).await;
    assert_eq!(
        (row.outcome, row.error_kind),
        (Outcome::Failed, Some(ErrorKind::BadResponse))
    );

    let fake = FakePortal::new();
    fake.then(Op::SetLock, Reply::State(locked_state(Some("Jane"))));
    let row = run_one(&fake, Action::Lock).await;
    assert_eq!(
        (row.outcome, row.error_kind),
        (Outcome::LockedByOther, None)
    );
    assert_eq!(row.locked_by, "Jane");
}

#[tokio::test(start_paused = true)]
async fn no_check_state_sends_the_write_alone() {
    let fake = FakePortal::new();
    fake.file(1, true, None);
    let ctx = ctx_for(
        &fake,
        Settings {
            check_state: false,
            ..cfg()
        },
    );
    let row = run_on(&ctx, Action::Unlock).await;
    assert_eq!(
        (row.outcome, row.was_locked, row.locked, row.attempts),
        (Outcome::Ok, None, Some(false), 1)
    );
    assert_eq!(fake.calls(), [Call::SetLock(f(1), false)]);
}

#[tokio::test(start_paused = true)]
async fn a_500_is_retried_with_growing_backoff_then_succeeds() {
    let fake = FakePortal::new();
    fake.fail(Op::FileInfo, 500).fail(Op::FileInfo, 500);
    let ctx = ctx_for(&fake, cfg());
    let row = run_on(&ctx, Action::Info).await;
    assert_eq!((row.outcome, row.attempts), (Outcome::Ok, 3));
    assert_eq!(
        ctx.stats.retries.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let t: Vec<Instant> = fake.log().into_iter().map(|(t, _)| t).collect();
    // Full jitter: the n-th wait is 0.5 s · 2^(n-1) times 0.5–1.0.
    let (first, second) = (t[1] - t[0], t[2] - t[1]);
    assert!(
        first >= Duration::from_millis(250) && first <= Duration::from_millis(500),
        "{first:?}"
    );
    assert!(
        second >= Duration::from_millis(500) && second <= Duration::from_secs(1),
        "{second:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_run_out_into_a_failure() {
    let fake = FakePortal::new();
    for _ in 0..3 {
        fake.fail(Op::FileInfo, 503);
    }
    let ctx = ctx_for(
        &fake,
        Settings {
            retries: 2,
            ..cfg()
        },
    );
    let row = run_on(&ctx, Action::Info).await;
    assert_eq!(
        (row.outcome, row.error_kind, row.http_status, row.attempts),
        (Outcome::Failed, Some(ErrorKind::ServerError), Some(503), 3)
    );
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_401_stops_the_run_without_a_retry() {
    let fake = FakePortal::new();
    fake.fail(Op::FileInfo, 401);
    let ctx = ctx_for(&fake, cfg());
    let row = run_on(&ctx, Action::Info).await;
    assert_eq!(
        (row.outcome, row.error_kind, row.attempts),
        (Outcome::Failed, Some(ErrorKind::Unauthorized), 1)
    );
    assert_eq!(ctx.stop.reason(), Some(StopReason::Unauthorized));
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_a_request_as_cancelled_not_failed() {
    // Before anything was sent: no error of the portal's to show, the row says why.
    let fake = FakePortal::new();
    let ctx = ctx_for(&fake, cfg());
    ctx.stop.stop(StopReason::Signal);
    let one = f(1);
    let end = ctx
        .request(Endpoint::AnonymousRead, || ctx.client.file_info(&one))
        .await
        .unwrap_err();
    assert!(
        matches!(
            end,
            RequestEnd::Cancelled {
                attempts: 0,
                last: None
            }
        ),
        "{end:?}"
    );
    let row = run_on(&ctx, Action::Info).await;
    assert_eq!(
        (row.outcome, row.error_kind, row.http_status),
        (Outcome::Cancelled, None, None)
    );
    assert_eq!(row.error, StopReason::Signal.describe());
    assert!(fake.calls().is_empty());

    // During the backoff after a 500: the row keeps the error that was being retried.
    let fake = FakePortal::new();
    fake.fail(Op::FileInfo, 500);
    let ctx = ctx_for(&fake, cfg());
    let stopper = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            ctx.stop.stop(StopReason::Signal);
        })
    };
    let row = run_on(&ctx, Action::Info).await;
    stopper.await.unwrap();
    assert_eq!(
        (row.outcome, row.error_kind, row.http_status, row.attempts),
        (
            Outcome::Cancelled,
            Some(ErrorKind::ServerError),
            Some(500),
            1
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_daily_cap_429_on_a_write_cancels_it_and_stops_writes_only() {
    let fake = FakePortal::new();
    fake.then(
        Op::SetLock,
        Reply::Fail(http_error(429, Some(Duration::from_secs(16 * 60)))),
    );
    let ctx = ctx_for(&fake, cfg());
    let t0 = Instant::now();
    let row = run_on(&ctx, Action::Lock).await;
    assert_eq!(
        (row.outcome, row.error_kind, row.http_status),
        (Outcome::Cancelled, Some(ErrorKind::RateLimited), Some(429))
    );
    assert!(ctx.stop.writes_stopped() && !ctx.stop.stopped());
    assert!(matches!(
        ctx.stop.reason(),
        Some(StopReason::DailyCap { .. })
    ));
    // Nobody waits out the cap: it is left for a resume.
    assert!(Instant::now() - t0 < Duration::from_secs(1));
    // Reads go on.
    assert_eq!(run_on(&ctx, Action::Info).await.outcome, Outcome::Ok);
}
