//! Cases 3 and 4: `kill -9` at random moments and `restore`. The sandbox applies each write at
//! once and answers it 80 ms later (`answer_delay`), as a remote portal whose answer is still
//! on the wire when the client dies: the lock is made, the client never hears of it. The write
//! intent in `run.db` is what lets the resume and `restore` know. And a `restore` cut short
//! (`--max-duration`) continues where it stopped instead of starting over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use docspace_batch::sandbox::{Injected, SandboxOptions};

use super::*;

/// A small deterministic generator (64-bit LCG, high bits): the same kill moments on every run
/// of the test.
struct Moments(u64);

impl Moments {
    /// A delay in `lo..hi` milliseconds.
    fn next(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis(lo + (self.0 >> 33) % (hi - lo))
    }
}

/// Starts `args`, waits until its first request reaches the sandbox (or it exits), then
/// `after` more, and kills it with SIGKILL.
async fn kill_after_first_request(w: &Work, sb: &Sandbox, args: &[&str], after: Duration) -> Ran {
    let before = sb.requests().len();
    let mut child = Cli::new(w).sandbox(sb).args(args).spawn();
    wait_until(Duration::from_secs(20), || {
        sb.requests().len() > before || child.exited()
    })
    .await;
    tokio::time::sleep(after).await;
    kill9(child).await
}

const FILES: u32 = 200;
const KILLS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_kill_9_then_resume_and_restore_leave_no_file_locked() {
    let t0 = Instant::now();
    let sb = sandbox_with(SandboxOptions {
        files: FILES,
        answer_delay: Duration::from_millis(80),
        ..SandboxOptions::default()
    })
    .await;
    assert!(
        locked(&sb, bulk(FILES)).is_empty(),
        "every file starts unlocked"
    );
    let w = Work::new();
    w.csv_job("job.csv", bulk(FILES), "lock");
    let report = w.report();
    let fresh = quick(
        "run",
        &["job.csv", "--report-dir", "report", "--concurrency", "4"],
    );
    let resume = quick(
        "run",
        &["job.csv", "--resume", "report", "--concurrency", "4"],
    );
    // Start, then always resume; a process killed before the plan was recorded leaves a
    // directory that `--resume` refuses and a new run may use (and the other way round), so an
    // exit 2 switches.
    let mut resuming = false;
    let mut moments = Moments(0x5eed);
    let (mut kills, mut tries) = (0, 0);
    while kills < KILLS {
        tries += 1;
        assert!(tries <= 3 * KILLS, "{kills} kills in {tries} tries");
        let args = if resuming { &resume } else { &fresh };
        // From the key check's arrival: its answer comes at 80 ms, the start-up reads' (side by
        // side) at 160 ms, the state reads' at 240 ms, the PUTs' at 320 ms. Every other kill
        // falls while the PUTs are applied and their answers on the wire; the rest anywhere in
        // the first round.
        let after = if tries % 2 == 0 {
            moments.next(245, 320)
        } else {
            moments.next(0, 320)
        };
        let o = kill_after_first_request(&w, &sb, args, after).await;
        match o.output.status.code() {
            None => {
                kills += 1;
                resuming |= report.join("results.csv").exists();
            }
            Some(2) => resuming = !resuming,
            Some(c) => panic!("exit {c} before the kill: {}", o.stderr()),
        }
    }
    let killed_at = locked(&sb, bulk(FILES)).len();
    let unanswered = sb
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.status == 0)
        .count();
    assert!(
        unanswered >= 5,
        "kills fell while locks were applied and unanswered: {unanswered}"
    );
    assert!(
        killed_at > 0 && killed_at < FILES as usize,
        "the kills fell mid-run: {killed_at} locked"
    );

    let o = Cli::new(&w)
        .sandbox(&sb)
        .args(quick(
            "run",
            &["job.csv", "--resume", "report", "--concurrency", "50"],
        ))
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rows = w.rows();
    assert_eq!(rows.len(), FILES as usize);
    // Every file was locked by one of these processes, and the record says so: `ok` with
    // `was_locked=false`, also where the only PUT was the one whose answer never arrived.
    assert!(
        rows.iter()
            .all(|r| r.outcome == "ok" && r.was_locked == "false"),
        "{:#?}",
        rows.iter()
            .filter(|r| r.outcome != "ok" || r.was_locked != "false")
            .collect::<Vec<_>>()
    );
    assert!(
        bulk(FILES).all(|id| sb.lock_owner(&id.to_string()).as_deref() == Some(CALLER)),
        "every file is locked by the caller"
    );

    // `restore`, itself killed a few times, then run until it says it is done.
    let restore = quick("restore", &["report", "--concurrency", "50"]);
    for _ in 0..5 {
        // While the first unlocks are applied and unanswered.
        kill_after_first_request(&w, &sb, &restore, moments.next(310, 450)).await;
    }
    let mut done = false;
    for _ in 0..5 {
        let o = Cli::new(&w).sandbox(&sb).args(&restore).run();
        assert!(matches!(o.code(), 0 | 1), "{}", o.stderr());
        if o.code() == 0 {
            done = true;
            break;
        }
    }
    assert!(done, "restore finishes");
    let left = locked(&sb, bulk(FILES));
    assert!(
        left.is_empty(),
        "{} files still locked: {left:?}",
        left.len()
    );
    // Done means done: one more restore finds nothing and sends no write.
    let puts = sb.requests().iter().filter(|r| r.method == "PUT").count();
    let o = Cli::new(&w).sandbox(&sb).args(&restore).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(o.stderr().contains("0 files to unlock"), "{}", o.stderr());
    assert_eq!(
        sb.requests().iter().filter(|r| r.method == "PUT").count(),
        puts
    );
    eprintln!(
        "chaos: {kills} kills in {tries} tries, {unanswered} PUTs applied and unanswered, {killed_at} files locked at the last kill, {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_under_repeated_max_duration_finishes_without_rereading_released_files() {
    const N: u32 = 60;
    let slow = Arc::new(AtomicBool::new(false));
    let s2 = slow.clone();
    // File requests (not the key check) take 50 ms once `slow` is set.
    let sb = sandbox_with(SandboxOptions {
        files: N,
        interceptor: Some(Arc::new(move |r| {
            (s2.load(Ordering::SeqCst) && r.path.starts_with("/api/2.0/files/file/"))
                .then(|| Injected::Delay(Duration::from_millis(50)))
        })),
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    let job = w.csv_job("job.csv", bulk(N), "lock");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(locked(&sb, bulk(N)).len(), N as usize);
    slow.store(true, Ordering::SeqCst);
    let before = sb.requests().len();

    // About 0.7 s of work per run at 2 × 100 ms per file: 14 files or so each time.
    let restore = quick(
        "restore",
        &["report", "--max-duration", "800ms", "--concurrency", "2"],
    );
    let mut released = vec![0usize];
    let mut last = None;
    for _ in 0..15 {
        let o = Cli::new(&w).sandbox(&sb).args(&restore).run();
        let now = N as usize - locked(&sb, bulk(N)).len();
        assert!(
            now > *released.last().unwrap(),
            "each run makes progress: {released:?} then {now}; {}",
            o.stderr()
        );
        released.push(now);
        last = Some(o.code());
        if o.code() == 0 {
            break;
        }
        assert_eq!(o.code(), 4, "{}", o.stderr());
        assert!(
            o.stderr()
                .contains("resume with: docspace-batch restore report"),
            "{}",
            o.stderr()
        );
    }
    assert_eq!(last, Some(0), "restore finishes: {released:?}");
    assert!(
        released.len() > 2,
        "it took more than one run: {released:?}"
    );
    assert_eq!(*released.last().unwrap(), N as usize);
    // A released file is never read or written again by the next runs. (A file whose state
    // was read but whose unlock was cut by the deadline, waiting for the rate limiter, is not
    // released: the next run reads it again.)
    let after: Vec<_> = sb.requests()[before..].to_vec();
    let unlocks = puts_per_file(&after, false);
    assert_eq!(unlocks.len(), N as usize);
    assert!(unlocks.values().all(|&n| n == 1), "{unlocks:?}");
    let mut unlocked: std::collections::HashSet<String> = Default::default();
    for r in &after {
        match (r.method.as_str(), file_path(&r.path)) {
            ("PUT", Some((id, "lock"))) => {
                unlocked.insert(id.to_string());
            }
            ("GET", Some((id, ""))) => {
                assert!(!unlocked.contains(id), "{id} read again after its release")
            }
            _ => {}
        }
    }
    let reads = reads_per_file(&after);
    assert!(reads.values().all(|&n| n <= 2), "{reads:?}");
}
