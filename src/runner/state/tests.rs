//! The state cache's rules through the engine against the fake portal, on tokio's paused clock
//! (so "61 s later" costs nothing): which requests each decision sends, and which state it
//! says it used.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::StateSource;
use crate::api::fake::{Call, FakePortal, Op};
use crate::config::Settings;
use crate::job::{Action, FileId, Task};
use crate::record::{Counters, Intent};
use crate::report::{Outcome, ResultRow};
use crate::runner::engine::execute;
use crate::runner::exec::tests::{cfg, ctx_for, f, task};
use crate::runner::exec::{Ctx, TaskOutput};
use crate::runner::journal::Sink;
use crate::runner::plan::expand_folder;

/// Rows by `seq`, and every intent as (seq, lock, was_locked).
#[derive(Default)]
struct Rows {
    rows: std::collections::BTreeMap<u64, ResultRow>,
    intents: Vec<(u64, bool, Option<bool>)>,
}

impl Sink for Rows {
    fn intent(
        &mut self,
        seq: u64,
        _: &FileId,
        lock: bool,
        was_locked: Option<bool>,
        _: &Counters,
    ) -> Result<(), String> {
        self.intents.push((seq, lock, was_locked));
        Ok(())
    }
    fn commit(&mut self, batch: &[&TaskOutput], _: &Counters) -> Result<(), String> {
        for o in batch {
            self.rows.insert(o.row.seq, o.row.clone());
        }
        Ok(())
    }
}

async fn run_with(ctx: &Arc<Ctx>, tasks: Vec<Task>, unsettled: HashMap<u64, Intent>) -> Rows {
    let mut rows = Rows::default();
    let mut ui = ctx.ui.clone();
    execute(
        ctx.clone(),
        Arc::new(tasks),
        Arc::new(HashMap::new()),
        &mut rows,
        unsettled,
        &mut ui,
        "test",
    )
    .await;
    rows
}

async fn run(ctx: &Arc<Ctx>, tasks: Vec<Task>) -> Rows {
    run_with(ctx, tasks, HashMap::new()).await
}

/// A fake portal whose folder 9 lists `files`, and a context that has expanded it.
async fn listed(files: std::ops::RangeInclusive<u32>, cfg: Settings) -> (FakePortal, Arc<Ctx>) {
    let fake = FakePortal::new().with_latency(Duration::from_millis(20));
    fake.folder(9, files);
    let ctx = ctx_for(&fake, cfg);
    expand_folder(&ctx, &f(9), false, &mut |_, _| {})
        .await
        .expect("the folder lists");
    (fake, ctx)
}

/// The calls made after the expansion (of a folder that fits on one page).
fn after_listing(fake: &FakePortal) -> Vec<Call> {
    let calls = fake.calls();
    assert_eq!(calls[0], Call::FolderPage(f(9), 0));
    calls[1..].to_vec()
}

fn tasks(files: std::ops::RangeInclusive<u32>, action: Action) -> Vec<Task> {
    files
        .enumerate()
        .map(|(i, n)| task(i as u64 + 1, n, action))
        .collect()
}

fn outcomes(rows: &Rows) -> Vec<(Outcome, Option<StateSource>)> {
    rows.rows
        .values()
        .map(|r| (r.outcome, r.state_from))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn info_on_a_listed_file_sends_nothing() {
    let (fake, ctx) = listed(1..=3, cfg()).await;
    fake.file(2, true, Some("Jane"));
    let rows = run(&ctx, tasks(1..=3, Action::Info)).await;
    assert_eq!(after_listing(&fake), []);
    let r = &rows.rows[&1];
    assert_eq!(
        (r.outcome, r.state_from, r.attempts),
        (Outcome::Ok, Some(StateSource::Listing), 0)
    );
    assert_eq!(r.title, "file 1");
    // The listing was read before Jane locked 2: the row says what the listing said.
    assert_eq!(rows.rows[&2].locked, Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_needed_lock_goes_out_without_a_read_and_its_intent_has_the_listed_state() {
    let (fake, ctx) = listed(1..=3, cfg()).await;
    let rows = run(&ctx, tasks(1..=3, Action::Lock)).await;
    assert_eq!(
        after_listing(&fake),
        [1, 2, 3].map(|n| Call::SetLock(f(n), true))
    );
    for r in rows.rows.values() {
        assert_eq!(r.outcome, Outcome::Ok);
        assert_eq!(r.was_locked, Some(false));
        assert_eq!(r.locked, Some(true));
        assert_eq!(r.state_from, Some(StateSource::Listing));
    }
    assert_eq!(
        rows.intents,
        [
            (1, true, Some(false)),
            (2, true, Some(false)),
            (3, true, Some(false))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_skip_rests_on_the_listing_while_it_is_fresh() {
    let fake = FakePortal::new();
    fake.file(1, true, None).file(2, true, Some("Jane"));
    fake.folder(9, 1..=2);
    let ctx = ctx_for(&fake, cfg());
    expand_folder(&ctx, &f(9), false, &mut |_, _| {})
        .await
        .unwrap();
    let rows = run(&ctx, tasks(1..=2, Action::Lock)).await;
    assert_eq!(after_listing(&fake), []);
    assert_eq!(
        outcomes(&rows),
        [
            (Outcome::Unchanged, Some(StateSource::Listing)),
            (Outcome::LockedByOther, Some(StateSource::Listing))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_stale_skip_reads_the_page_again_once_for_all_its_files() {
    // Listed locked by Jane; 61 s later Jane has let go of 1 and 2 but still holds 3.
    let fake = FakePortal::new().with_latency(Duration::from_millis(20));
    for n in 1..=3 {
        fake.file(n, true, Some("Jane"));
    }
    fake.folder(9, 1..=3);
    let ctx = ctx_for(
        &fake,
        Settings {
            concurrency: 3,
            ..cfg()
        },
    );
    expand_folder(&ctx, &f(9), false, &mut |_, _| {})
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await;
    fake.file(1, false, None).file(2, false, None);
    let rows = run(&ctx, tasks(1..=3, Action::Lock)).await;
    assert_eq!(
        after_listing(&fake),
        [
            Call::FolderPage(f(9), 0),
            Call::SetLock(f(1), true),
            Call::SetLock(f(2), true)
        ]
    );
    assert_eq!(
        outcomes(&rows),
        [
            (Outcome::Ok, Some(StateSource::Listing)),
            (Outcome::Ok, Some(StateSource::Listing)),
            (Outcome::LockedByOther, Some(StateSource::Listing))
        ]
    );
    assert_eq!(rows.rows[&1].was_locked, Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_stale_needed_lock_still_goes_out_without_a_read_but_an_unlock_does_not() {
    let (fake, ctx) = listed(1..=2, cfg()).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    let tasks = vec![task(1, 1, Action::Lock), task(2, 2, Action::Unlock)];
    let rows = run(&ctx, tasks).await;
    // The lock goes on the old listing; the unlock's skip needs fresh state: the page again.
    assert_eq!(
        after_listing(&fake),
        [Call::SetLock(f(1), true), Call::FolderPage(f(9), 0)]
    );
    assert_eq!(
        outcomes(&rows),
        [
            (Outcome::Ok, Some(StateSource::Listing)),
            (Outcome::Unchanged, Some(StateSource::Listing))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_file_gone_from_its_page_is_read_by_itself() {
    let (fake, ctx) = listed(1..=2, cfg()).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    fake.folder(9, [1]);
    let rows = run(&ctx, vec![task(1, 2, Action::Info)]).await;
    assert_eq!(
        after_listing(&fake),
        [Call::FolderPage(f(9), 0), Call::FileInfo(f(2))]
    );
    assert_eq!(rows.rows[&1].state_from, Some(StateSource::Read));
}

#[tokio::test(start_paused = true)]
async fn an_earlier_read_or_answer_is_reused_within_the_same_rule() {
    // An ID-listed file: info reads it once; lock goes on that read; unlock on the lock's
    // answer; a final info on the unlock's answer.
    let fake = FakePortal::new();
    let ctx = ctx_for(&fake, cfg());
    let t = |seq, a| task(seq, 7, a);
    let rows = run(
        &ctx,
        vec![
            t(1, Action::Info),
            t(2, Action::Lock),
            t(3, Action::Unlock),
            t(4, Action::Info),
        ],
    )
    .await;
    assert_eq!(
        fake.calls(),
        [
            Call::FileInfo(f(7)),
            Call::SetLock(f(7), true),
            Call::SetLock(f(7), false)
        ]
    );
    assert_eq!(
        outcomes(&rows),
        [
            (Outcome::Ok, Some(StateSource::Read)),
            (Outcome::Ok, Some(StateSource::Read)),
            (Outcome::Ok, Some(StateSource::Answer)),
            (Outcome::Ok, Some(StateSource::Answer))
        ]
    );
    assert_eq!(rows.rows[&3].was_locked, Some(true));
    assert_eq!(rows.rows[&4].locked, Some(false));
}

#[tokio::test(start_paused = true)]
async fn settling_an_intent_reads_the_file_even_when_the_listing_is_fresh() {
    let (fake, ctx) = listed(1..=1, cfg()).await;
    // An earlier process sent the lock and died; the portal has it.
    fake.file(1, true, None);
    let unsettled = HashMap::from([(
        1,
        Intent {
            lock: true,
            was_locked: Some(false),
        },
    )]);
    let rows = run_with(&ctx, tasks(1..=1, Action::Lock), unsettled).await;
    assert_eq!(after_listing(&fake), [Call::FileInfo(f(1))]);
    let r = &rows.rows[&1];
    assert_eq!(
        (r.outcome, r.was_locked, r.state_from),
        (Outcome::Ok, Some(false), Some(StateSource::Read))
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_state_check_the_write_goes_alone_and_names_no_state() {
    let (fake, ctx) = listed(
        1..=1,
        Settings {
            check_state: false,
            ..cfg()
        },
    )
    .await;
    fake.file(1, true, None);
    let rows = run(&ctx, tasks(1..=1, Action::Lock)).await;
    assert_eq!(after_listing(&fake), [Call::SetLock(f(1), true)]);
    let r = &rows.rows[&1];
    assert_eq!((r.was_locked, r.state_from), (None, None));
}

#[tokio::test(start_paused = true)]
async fn a_recorded_page_is_read_once_for_the_files_of_a_resume() {
    let fake = FakePortal::new().with_latency(Duration::from_millis(20));
    fake.folder(9, 1..=150);
    let ctx = ctx_for(
        &fake,
        Settings {
            concurrency: 8,
            ..cfg()
        },
    );
    let pages: HashMap<FileId, super::PageRef> = (1..=150u32)
        .map(|n| {
            let start = if n <= 100 { 0 } else { 100 };
            (
                f(n),
                super::PageRef {
                    folder: f(9),
                    start,
                },
            )
        })
        .collect();
    ctx.states.seed_pages(&pages);
    let rows = run(&ctx, tasks(1..=150, Action::Lock)).await;
    let calls = fake.calls();
    let listings: Vec<_> = calls.iter().filter(|c| c.op() == Op::FolderPage).collect();
    assert_eq!(
        listings,
        [&Call::FolderPage(f(9), 0), &Call::FolderPage(f(9), 100)]
    );
    assert_eq!(calls.len(), 152, "two pages and 150 locks");
    assert!(rows.rows.values().all(|r| r.outcome == Outcome::Ok));
}
