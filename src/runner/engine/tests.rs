//! Several workers against the fake portal on tokio's paused clock: what one worker's answer
//! does to the others (the shared 429 cooldown, the daily cap, a rejected key) and what it
//! does not (a 5xx backs off only its own task). Times are virtual, so waits of seconds or
//! minutes cost nothing and are asserted exactly.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::execute;
use crate::api::fake::{http_error, Call, FakePortal, Op, Reply};
use crate::api::ErrorKind;
use crate::config::Settings;
use crate::job::{Action, FileId, Task};
use crate::record::Counters;
use crate::report::{Outcome, ResultRow};
use crate::runner::exec::tests::{cfg, ctx_for, f, task};
use crate::runner::exec::Ctx;
use crate::runner::exec::TaskOutput;
use crate::runner::journal::Sink;
use crate::runner::stop::StopReason;
use crate::units::Rate;

const LATENCY: Duration = Duration::from_millis(100);

/// Keeps the last row per `seq`, like the record.
#[derive(Default)]
struct Rows(std::collections::BTreeMap<u64, ResultRow>);

impl Sink for Rows {
    fn intent(
        &mut self,
        _: u64,
        _: &FileId,
        _: bool,
        _: Option<bool>,
        _: &Counters,
    ) -> Result<(), String> {
        Ok(())
    }
    fn commit(&mut self, batch: &[&TaskOutput], _: &Counters) -> Result<(), String> {
        for o in batch {
            self.0.insert(o.row.seq, o.row.clone());
        }
        Ok(())
    }
}

/// Runs `tasks` through the engine; returns the final rows in `seq` order.
async fn run(ctx: &Arc<Ctx>, tasks: Vec<Task>) -> Vec<ResultRow> {
    let mut rows = Rows::default();
    let mut ui = ctx.ui.clone();
    execute(
        ctx.clone(),
        Arc::new(tasks),
        Arc::new(HashMap::new()),
        &mut rows,
        HashMap::new(),
        &mut ui,
        "test",
    )
    .await;
    rows.0.into_values().collect()
}

fn infos(n: u32) -> Vec<Task> {
    (1..=n).map(|i| task(i.into(), i, Action::Info)).collect()
}

fn workers(n: usize) -> Settings {
    Settings {
        concurrency: n,
        ..cfg()
    }
}

/// Offsets from `t0` of the calls made after it.
fn offsets(fake: &FakePortal, t0: Instant) -> Vec<Duration> {
    fake.log().into_iter().map(|(t, _)| t - t0).collect()
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_worker_for_at_least_its_retry_after() {
    let fake = FakePortal::new().with_latency(LATENCY);
    let retry_after = Duration::from_secs(3);
    fake.then_on(
        Op::FileInfo,
        1,
        Reply::Fail(http_error(429, Some(retry_after))),
    );
    let ctx = ctx_for(&fake, workers(4));
    let t0 = Instant::now();
    let rows = run(&ctx, infos(8)).await;

    assert!(rows.iter().all(|r| r.outcome == Outcome::Ok), "{rows:#?}");
    assert_eq!(rows[0].attempts, 2, "the throttled task went again");
    assert_eq!(ctx.stats.throttled.load(Ordering::Relaxed), 1);
    // Four requests went out at once; the 429 came back while three were still in flight.
    // Those three finish, and then nobody sends anything until the Retry-After has passed,
    // although each of them has more work and a free place.
    let at = offsets(&fake, t0);
    let cooldown_end = fake.scripted_latency() + retry_after;
    assert_eq!(at.len(), 9);
    assert_eq!(&at[..4], &[Duration::ZERO; 4]);
    assert!(at[4..].iter().all(|&t| t >= cooldown_end), "{at:?}");
    // A minimum, not a multiple: work resumes as soon as it is over.
    assert_eq!(at[4], cooldown_end);
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_pauses_everyone_and_lowers_the_rate() {
    let fake = FakePortal::new().with_latency(LATENCY);
    // Sent at 1.4 s, after a whole second has been measured (an earlier 429 only pauses).
    fake.fail_on(Op::FileInfo, 15, 429);
    let ctx = ctx_for(
        &fake,
        Settings {
            rate: Rate::PerSecond(10.0),
            ..workers(4)
        },
    );
    let t0 = Instant::now();
    let rows = run(&ctx, infos(24)).await;

    assert!(rows.iter().all(|r| r.outcome == Outcome::Ok), "{rows:#?}");
    let at = offsets(&fake, t0);
    assert_eq!(at[14], Duration::from_millis(1400));
    // The 429 comes back before the next request's slot (100 ms at 10/s): no worker sends
    // anything during the cooldown, 1 s with ±10 % jitter.
    let pause = at[15] - at[14] - fake.scripted_latency();
    assert!(
        pause >= Duration::from_millis(900) && pause <= Duration::from_millis(1100),
        "{at:?}"
    );
    // Then 10/s lowered by 0.7 but not below 90 % of what the portal accepted over the last
    // second (about 10/s): about 9/s, and requests spaced accordingly.
    let rate = ctx.limiter.effective_rate().unwrap();
    assert!((8.5..9.9).contains(&rate), "{rate}");
    let gap = Duration::from_secs_f64(1.0 / rate) - Duration::from_millis(1);
    for w in at[15..].windows(2) {
        assert!(w[1] - w[0] >= gap, "{at:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_500_backs_off_only_its_own_task() {
    let fake = FakePortal::new().with_latency(LATENCY);
    fake.fail_on(Op::FileInfo, 1, 500)
        .fail_on(Op::FileInfo, 1, 500);
    let ctx = ctx_for(&fake, workers(2));
    let t0 = Instant::now();
    let rows = run(&ctx, infos(6)).await;

    assert!(rows.iter().all(|r| r.outcome == Outcome::Ok), "{rows:#?}");
    assert_eq!(rows[0].attempts, 3);
    let log = fake.log();
    let retries: Vec<Duration> = log
        .iter()
        .filter(|(_, c)| *c == Call::FileInfo(f(1)))
        .map(|(t, _)| *t - t0)
        .collect();
    // The other worker went through files 2–6 while file 1 waited out its backoff.
    let others_done = log
        .iter()
        .filter(|(_, c)| *c != Call::FileInfo(f(1)))
        .map(|(t, _)| *t - t0)
        .max()
        .unwrap();
    assert_eq!(retries.len(), 3);
    assert!(others_done < retries[2], "{others_done:?} vs {retries:?}");
    assert!(retries[1] >= Duration::from_millis(250), "{retries:?}");
}

#[tokio::test(start_paused = true)]
async fn a_daily_cap_429_stops_writes_and_cancels_the_rest_of_them() {
    let fake = FakePortal::new();
    fake.then(
        Op::SetLock,
        Reply::Fail(http_error(429, Some(Duration::from_secs(16 * 60)))),
    );
    let ctx = ctx_for(
        &fake,
        Settings {
            check_state: false,
            ..workers(1)
        },
    );
    let tasks = vec![
        task(1, 1, Action::Lock),
        task(2, 2, Action::Lock),
        task(3, 3, Action::Info),
        task(4, 4, Action::Unlock),
        task(5, 5, Action::Info),
    ];
    let t0 = Instant::now();
    let rows = run(&ctx, tasks).await;

    let got: Vec<(Outcome, Option<ErrorKind>, u32)> = rows
        .iter()
        .map(|r| (r.outcome, r.error_kind, r.attempts))
        .collect();
    assert_eq!(
        got,
        [
            (Outcome::Cancelled, Some(ErrorKind::RateLimited), 1),
            (Outcome::Cancelled, None, 0),
            (Outcome::Ok, None, 1),
            (Outcome::Cancelled, None, 0),
            (Outcome::Ok, None, 1),
        ]
    );
    assert!(
        rows[1].error.contains("daily write cap"),
        "{}",
        rows[1].error
    );
    assert_eq!(
        fake.calls(),
        [
            Call::SetLock(f(1), true),
            Call::FileInfo(f(3)),
            Call::FileInfo(f(5))
        ]
    );
    assert!(matches!(
        ctx.stop.reason(),
        Some(StopReason::DailyCap { .. })
    ));
    assert!(
        Instant::now() - t0 < Duration::from_secs(2),
        "nobody waits out the cap"
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_aborts_every_worker() {
    let fake = FakePortal::new().with_latency(LATENCY);
    fake.fail_on(Op::FileInfo, 1, 401);
    let ctx = ctx_for(&fake, workers(3));
    let t0 = Instant::now();
    let rows = run(&ctx, infos(8)).await;

    // The two requests already in flight finish; nothing else is sent.
    assert_eq!(offsets(&fake, t0), [Duration::ZERO; 3]);
    let outcomes: Vec<Outcome> = rows.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            [Outcome::Failed].as_slice(),
            &[Outcome::Ok; 2],
            &[Outcome::Cancelled; 5]
        ]
        .concat()
    );
    assert_eq!(rows[0].error_kind, Some(ErrorKind::Unauthorized));
    assert_eq!(ctx.stop.reason(), Some(StopReason::Unauthorized));
    assert!(rows[3..]
        .iter()
        .all(|r| r.error == StopReason::Unauthorized.describe()));
}
