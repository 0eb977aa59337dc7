//! Scheduled runs that never get stuck: `--resume latest`, final vs transient failures, the
//! recorded portal, plan comparison, dry-run directories, the `--quiet` contract, expected
//! stops as warnings, skipped folders, `--max-duration` and the limiter, restore's hint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;

/// Requests for one file's info (`GET /api/2.0/files/file/{id}`) in the sandbox's log.
fn info_gets(sb: &docspace_batch::sandbox::Sandbox, id: u32) -> usize {
    let path = format!("/api/2.0/files/file/{id}");
    sb.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .count()
}

/// The report directories under `root`, sorted.
fn dirs(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nights_with_resume_latest() {
    // File 102 answers 503 on night 1 only; 999999 does not exist (a final failure).
    let night1 = Arc::new(AtomicBool::new(true));
    let n1 = night1.clone();
    let sb = sandbox_with(opts_with(move |r| {
        (n1.load(Ordering::SeqCst) && r.path == "/api/2.0/files/file/102")
            .then(|| respond(503, &[], b"busy"))
    }))
    .await;
    let w = Work::new();
    w.file(
        "nightly.csv",
        "file_id,action\n101,info\n102,info\n103,info\n999999,info\n",
    );
    let night = |_: ()| {
        Cli::new(&w)
            .sandbox(&sb)
            .args([
                "run",
                "nightly.csv",
                "--resume",
                "latest",
                "--quiet",
                "--retries",
                "0",
            ])
            .run()
    };
    let root = w.path().join("reports");

    let o = night(());
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert!(
        o.stderr().contains("resume with:"),
        "the 503 left work: {}",
        o.stderr()
    );
    assert_eq!(dirs(&root).len(), 1);
    let first = dirs(&root)[0].clone();
    let before = (
        info_gets(&sb, 101),
        info_gets(&sb, 102),
        info_gets(&sb, 999999),
    );

    night1.store(false, Ordering::SeqCst);
    let o = night(());
    assert_eq!(o.code(), 1, "999999 still does not exist: {}", o.stderr());
    assert!(
        !o.stderr().contains("resume with:"),
        "nothing left: {}",
        o.stderr()
    );
    assert_eq!(
        dirs(&root),
        std::slice::from_ref(&first),
        "night 2 continued night 1's directory"
    );
    assert_eq!(
        info_gets(&sb, 101),
        before.0,
        "a finished task is not repeated"
    );
    assert_eq!(
        info_gets(&sb, 999999),
        before.2,
        "a final failure is not repeated"
    );
    assert_eq!(info_gets(&sb, 102), before.1 + 1, "the 503 is run again");
    let s = summary_in(&first);
    assert_eq!(s["outcomes"]["ok"], 3);
    assert_eq!(s["resumes"], 1);
    assert!(s["resume_command"].is_null(), "{s}");

    // Night 3 is another night: a new directory name (runs of one job within one second
    // want the same directory, and the second is refused).
    let name_now = || docspace_batch::now_rfc3339()[..19].replace(['-', ':'], "");
    let night2_name = name_now();
    assert!(wait_until(Duration::from_secs(3), || name_now() != night2_name).await);
    let o = night(());
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(dirs(&root).len(), 2, "night 3 starts a new directory");
    assert_eq!(info_gets(&sb, 101), before.0 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_job_in_the_same_second_do_not_share_the_work() {
    let sb = sandbox_with(docspace_batch::sandbox::SandboxOptions {
        latency: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let w = Work::new();
    let job = w.csv_job("job.csv", [101, 102, 105, 106], "lock");
    let args = [
        "run",
        "job.csv",
        "--progress",
        "never",
        "--rate",
        "unlimited",
    ];
    // Start early in a second, so both starts fall in it even on a slow machine.
    let millis = || {
        docspace_batch::now_rfc3339()[20..23]
            .parse::<u32>()
            .unwrap()
    };
    assert!(wait_until(Duration::from_secs(3), || millis() < 200).await);
    let first = Cli::new(&w).sandbox(&sb).args(args).spawn();
    // Started within the first one's second: same default directory.
    let second = Cli::new(&w).sandbox(&sb).args(args).run();
    let first = first.wait(Duration::from_secs(60)).await;
    let codes = [first.code(), second.code()];
    assert!(
        codes.contains(&0) && codes.contains(&2),
        "{codes:?}\n{}\n{}",
        first.stderr(),
        second.stderr()
    );
    let puts = sb.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 4, "each file locked by exactly one PUT");
    let _ = job;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_uses_the_recorded_portal_and_refuses_another() {
    let sb = sandbox().await;
    let other = sandbox().await;
    let w = Work::new();
    let job = w.csv_job("job.csv", [101, 102], "info");
    let o = Cli::new(&w).sandbox(&sb).job([job.to_str().unwrap()]).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let sent = sb.requests().len();
    let o = Cli::new(&w)
        .sandbox(&other)
        .args(["run", "--resume", "report"])
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr()
            .contains(&sb.url().trim_end_matches('/').to_string()),
        "{}",
        o.stderr()
    );
    assert!(
        other.requests().is_empty(),
        "nothing sent to the other portal"
    );
    // No portal given: the recorded one, with the key from the environment.
    let o = Cli::new(&w)
        .env("DOCSPACE_API_KEY", sb.api_key())
        .args(["run", "--resume", "report", "--progress", "never"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        sb.requests().len() > sent,
        "the resume went to the recorded portal"
    );
    assert_eq!(w.summary()["outcomes"]["ok"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_directory_is_used_by_the_real_run() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.csv_job("job.csv", [101, 102], "lock");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--dry-run"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(
        w.rows().iter().filter(|r| r.outcome == "planned").count(),
        2
    );
    let o = Cli::new(&w).sandbox(&sb).job([job.to_str().unwrap()]).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(w.rows().iter().all(|r| r.outcome == "ok"));
    assert_eq!(w.summary()["dry_run"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_keeps_credential_warnings_the_reports_line_and_the_summary() {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox().await;
    let w = Work::new();
    let key = w.file("key.txt", sb.api_key());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let job = w.csv_job("job.csv", [101], "info");
    let o = Cli::new(&w)
        .env("DOCSPACE_URL", sb.url())
        .job([
            job.to_str().unwrap(),
            "--quiet",
            "--api-key-file",
            key.to_str().unwrap(),
        ])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr().contains("readable by other users"),
        "{}",
        o.stderr()
    );
    assert!(o.stderr().contains("reports: "), "{}", o.stderr());
    assert!(o.stdout().contains("job: 1 task: 1 ok"), "{}", o.stdout());
    assert!(
        !o.stderr().contains("using"),
        "no info lines: {}",
        o.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expected_stop_is_a_warning_and_ends_limiter_waits() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.csv_job("job.csv", [101, 102, 103], "info");
    let t = Instant::now();
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([
            job.to_str().unwrap(),
            "--rate",
            "1/h",
            "--max-duration",
            "1s",
            "--log-format",
            "json",
        ])
        .run();
    assert_eq!(o.code(), 4, "{}", o.stderr());
    // The key check took the hour's only slot; the tasks waiting for the next one end with
    // the window instead of holding the run an hour.
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let stop = o
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["msg"] == "--max-duration reached")
        .unwrap_or_else(|| panic!("{}", o.stderr()));
    assert_eq!(stop["level"], "warn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_folders_are_in_the_summaries() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "jobs:\n  - folders: [5001, 987654]\n    actions: [info]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([
            job.to_str().unwrap(),
            "--skip-missing-folders",
            "--quiet",
            "--rate",
            "unlimited",
        ])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let s = w.summary();
    assert_eq!(s["skipped_folders"][0]["folder_id"], "987654", "{s}");
    let md = std::fs::read_to_string(w.report().join("summary.md")).unwrap();
    assert!(
        md.contains("## Skipped folders") && md.contains("987654"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_of_a_run_that_locked_nothing_names_the_one_that_did() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.csv_job("lock.csv", [110, 111], "lock");
    for dir in ["reports/first", "reports/second"] {
        let o = Cli::new(&w)
            .sandbox(&sb)
            .args([
                "run",
                job.to_str().unwrap(),
                "--report-dir",
                dir,
                "--progress",
                "never",
            ])
            .run();
        assert_eq!(o.code(), 0, "{}", o.stderr());
    }
    let o = Cli::new(&w)
        .sandbox(&sb)
        .args(["restore", "reports/second", "--report-dir", "r2", "--quiet"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr().contains("reports/first (a run of the same plan) locked 2 files: run `docspace-batch restore reports/first`"),
        "{}",
        o.stderr()
    );
}
