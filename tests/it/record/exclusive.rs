//! Case 2: one process per report directory. A second `run`, `--resume`, `restore` or
//! `--dry-run` on a directory in use exits 2 at once, naming the holder's pid, having sent
//! nothing (not even the key check); two runs on the default name in the same second get a
//! directory each. Counted from the sandbox's request log: each file is locked by one PUT.

use std::time::{Duration, Instant};

use docspace_batch::sandbox::SandboxOptions;

use super::*;

/// 60 bulk files, every request answered after 50 ms: a lock run at `--concurrency 2` takes
/// about 3 s, so a second process started meanwhile finds the first one working.
async fn slow_bulk() -> (Sandbox, Work) {
    let sb = sandbox_with(SandboxOptions {
        files: 60,
        latency: Duration::from_millis(50),
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    w.csv_job("job.csv", bulk(60), "lock");
    (sb, w)
}

const RUN: [&str; 9] = [
    "run",
    "job.csv",
    "--report-dir",
    "report",
    "--concurrency",
    "2",
    "--rate",
    "unlimited",
    "--progress=never",
];

const RESUME: [&str; 9] = [
    "run",
    "job.csv",
    "--resume",
    "report",
    "--concurrency",
    "2",
    "--rate",
    "unlimited",
    "--progress=never",
];

fn in_use_by(pid: u32) -> String {
    format!("is in use by another docspace-batch process (pid {pid})")
}

/// Key checks in the log: one per process that got past the directory lock.
fn key_checks(sb: &Sandbox) -> usize {
    sb.requests()
        .iter()
        .filter(|r| r.path == "/api/2.0/authentication")
        .count()
}

/// Starts `first`, then `second` 0.1 s later, and waits for both. Whichever got the directory
/// first (normally `first`) must finish the work; the other must exit 2 while the holder still
/// runs, naming the holder's pid. Returns how the holder ended.
async fn race(w: &Work, sb: &Sandbox, first: &[&str], second: &[&str]) -> Ran {
    let mut a = Cli::new(w).sandbox(sb).args(first).spawn();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut b = Cli::new(w).sandbox(sb).args(second).spawn();
    let (pa, pb) = (a.pid(), b.pid());
    let t0 = Instant::now();
    assert!(
        wait_until(Duration::from_secs(30), || a.exited() || b.exited()).await,
        "neither exits"
    );
    let (mut holder, loser, holder_pid) = if b.exited() { (a, b, pa) } else { (b, a, pb) };
    let loser_took = t0.elapsed();
    assert!(
        !holder.exited(),
        "the loser exits while the holder still runs (after {loser_took:?})"
    );
    let loser = loser.wait(Duration::from_secs(5)).await;
    let holder = holder.wait(Duration::from_secs(60)).await;
    assert_eq!(loser.code(), 2, "{}", loser.stderr());
    assert!(
        loser.stderr().contains(&in_use_by(holder_pid)),
        "{}",
        loser.stderr()
    );
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_on_one_report_dir_0_1_s_apart_lock_each_file_once() {
    let (sb, w) = slow_bulk().await;
    let holder = race(&w, &sb, &RUN, &RUN).await;
    assert_eq!(holder.code(), 0, "{}", holder.stderr());
    assert_eq!(key_checks(&sb), 1, "the loser sent nothing");
    let puts = puts_per_file(&sb.requests(), true);
    assert_eq!(puts.len(), 60);
    assert!(
        puts.values().all(|&n| n == 1),
        "a file locked twice: {:?}",
        puts.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert_eq!(locked(&sb, bulk(60)).len(), 60);
    let rows = w.rows();
    assert_eq!(rows.len(), 60);
    assert!(rows
        .iter()
        .all(|r| r.outcome == "ok" && r.was_locked == "false"));
    assert_eq!(w.summary()["resumes"], 0, "the loser is not a resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_restore_or_dry_run_while_the_run_goes_are_exit_2_and_send_nothing() {
    let (sb, w) = slow_bulk().await;
    let a = Cli::new(&w).sandbox(&sb).args(RUN).spawn();
    let report = w.report();
    assert!(
        wait_until(Duration::from_secs(20), || whole_rows(&report) >= 4).await,
        "rows appear"
    );
    let others: [&[&str]; 3] = [
        &RESUME,
        &["restore", "report", "--progress", "never"],
        &[
            "run",
            "job.csv",
            "--dry-run",
            "--report-dir",
            "report",
            "--progress",
            "never",
        ],
    ];
    for args in others {
        let o = Cli::new(&w).sandbox(&sb).args(args).run();
        assert_eq!(o.code(), 2, "{args:?}: {}", o.stderr());
        assert!(
            o.stderr().contains(&in_use_by(a.pid())),
            "{args:?}: {}",
            o.stderr()
        );
    }
    let o = a.wait(Duration::from_secs(60)).await;
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(key_checks(&sb), 1, "only the run checked its key");
    let puts = puts_per_file(&sb.requests(), true);
    assert_eq!(puts.len(), 60);
    assert!(puts.values().all(|&n| n == 1), "{puts:?}");
    assert!(
        puts_per_file(&sb.requests(), false).is_empty(),
        "nothing unlocked"
    );
    assert_eq!(locked(&sb, bulk(60)).len(), 60);
    let s = w.summary();
    assert_eq!(
        (s["outcomes"]["ok"].as_u64(), s["resumes"].as_u64()),
        (Some(60), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resumes_0_1_s_apart_only_one_does_the_work() {
    let (sb, w) = slow_bulk().await;
    let a = Cli::new(&w).sandbox(&sb).args(RUN).spawn();
    let report = w.report();
    assert!(
        wait_until(Duration::from_secs(20), || whole_rows(&report) >= 10).await,
        "rows appear"
    );
    kill9(a).await;
    let holder = race(&w, &sb, &RESUME, &RESUME).await;
    assert_eq!(holder.code(), 0, "{}", holder.stderr());
    assert_eq!(key_checks(&sb), 2, "the run and one resume");
    // A PUT cut off by the kill during the sandbox's latency was never applied; the resume
    // sends it again. No file is locked by two PUTs that were answered.
    let log = sb.requests();
    let answered: Vec<_> = log.iter().filter(|r| r.status == 200).cloned().collect();
    let puts = puts_per_file(&answered, true);
    assert!(puts.values().all(|&n| n == 1), "{puts:?}");
    let sent: usize = puts_per_file(&log, true).values().sum();
    assert!(
        sent <= 62,
        "at most --concurrency PUTs cut off by the kill: {sent}"
    );
    assert_eq!(locked(&sb, bulk(60)).len(), 60);
    let rows = w.rows();
    assert_eq!(rows.len(), 60);
    assert!(
        rows.iter()
            .all(|r| r.outcome == "ok" && r.was_locked == "false"),
        "{rows:#?}"
    );
    assert_eq!(w.summary()["resumes"], 1, "the loser is not counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_on_the_default_name_at_once_never_share_a_directory() {
    let sb = sandbox().await;
    let args = [
        "run",
        "job.csv",
        "--rate",
        "unlimited",
        "--progress",
        "never",
    ];
    for _ in 0..3 {
        let w = Work::new();
        w.csv_job("job.csv", 105..=114, "info");
        let before = sb.requests().len();
        let a = Cli::new(&w).sandbox(&sb).args(args).spawn();
        let b = Cli::new(&w).sandbox(&sb).args(args).spawn();
        let (a, b) = (a.wait(RUN_WAIT).await, b.wait(RUN_WAIT).await);
        // Both at once on one name: one has the directory, the other exits 2 having sent
        // nothing. One after the other (or in different seconds): a directory each.
        let ran: Vec<_> = [&a, &b].into_iter().filter(|o| o.code() == 0).collect();
        for o in [&a, &b].into_iter().filter(|o| o.code() != 0) {
            assert_eq!(o.code(), 2, "{}", o.stderr());
            assert!(
                o.stderr()
                    .contains("is in use by another docspace-batch process"),
                "{}",
                o.stderr()
            );
        }
        let dirs: Vec<_> = std::fs::read_dir(w.path().join("reports"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(dirs.len(), ran.len());
        for d in &dirs {
            let rows = rows_in(&d.path());
            assert_eq!(rows.len(), 10);
            assert!(rows.iter().all(|r| r.outcome == "ok"));
        }
        let gets = sb.requests()[before..]
            .iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/api/2.0/files/file/"))
            .count();
        assert_eq!(
            gets,
            10 * ran.len(),
            "no task done twice within one directory"
        );
    }
}

const RUN_WAIT: Duration = Duration::from_secs(60);
