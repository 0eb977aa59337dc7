//! Cases 5, 7 and 8: the exports follow the record. A `results.csv` deleted mid-run does not
//! read as success; a result and its access rows are committed together, so a kill never
//! leaves an `ok` protectusers row without its users; `summary.json` counts every request and
//! every resume across `kill -9`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use docspace_batch::sandbox::SandboxOptions;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_csv_deleted_mid_run_or_before_resume_does_not_read_as_success() {
    // 104 is read-only: its lock fails (403). At the state read of 115, results.csv goes.
    let w = Work::new();
    let report = w.report();
    let deleted = Arc::new(AtomicBool::new(false));
    let (d2, r2) = (deleted.clone(), report.clone());
    let sb = sandbox_with(SandboxOptions {
        interceptor: Some(Arc::new(move |r| {
            if r.method == "GET"
                && r.path == "/api/2.0/files/file/115"
                && !d2.swap(true, Ordering::SeqCst)
            {
                std::fs::remove_file(r2.join("results.csv")).expect("results.csv exists mid-run");
            }
            None
        })),
        ..SandboxOptions::default()
    })
    .await;
    let job = w.csv_job("job.csv", 104..=124, "lock");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([
            job.to_str().unwrap(),
            "--concurrency",
            "1",
            "--rate",
            "unlimited",
        ])
        .run();
    assert!(deleted.load(Ordering::SeqCst));
    let check = |o: &Ran, what: &str| {
        assert_eq!(
            o.code(),
            1,
            "{what}: a failed task is exit 1: {}",
            o.stderr()
        );
        assert!(
            !o.stdout().contains("nothing to do"),
            "{what}: {}",
            o.stdout()
        );
        let rows = w.rows();
        assert_eq!(rows.len(), 21, "{what}: results.csv has every row again");
        let failed: Vec<_> = rows.iter().filter(|r| r.outcome != "ok").collect();
        assert_eq!(failed.len(), 1, "{what}: {failed:#?}");
        assert_eq!(
            (failed[0].file.as_str(), failed[0].kind.as_str()),
            ("104", "forbidden")
        );
        let s = w.summary();
        assert_eq!(s["outcomes"]["ok"], 20, "{what}: {s}");
        assert_eq!(s["outcomes"]["failed"], 1, "{what}: {s}");
        assert_eq!(s["exit_code"], 1, "{what}: {s}");
    };
    check(&o, "deleted mid-run");
    // And gone before a resume: the record still knows.
    for name in ["results.csv", "access.csv", "summary.json", "summary.md"] {
        std::fs::remove_file(report.join(name)).unwrap();
    }
    let o = Cli::new(&w)
        .sandbox(&sb)
        .args(quick("run", &["job.csv", "--resume", "report"]))
        .run();
    check(&o, "deleted before --resume");
    let puts = puts_per_file(&sb.requests(), true);
    assert!(
        puts.iter().all(|(f, &n)| n == 1 || f == "104"),
        "no finished lock sent again: {puts:?}"
    );
}

/// For each `ok` protectusers result in `dir`'s record: (its users count, its access rows);
/// and the access rows whose task has no `ok` result.
fn access_in_record(dir: &Path) -> (Vec<(i64, i64, i64)>, i64) {
    use rusqlite::{Connection, OpenFlags};
    let db = Connection::open_with_flags(dir.join("run.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("run.db opens");
    let mut stmt = db
        .prepare(
            "SELECT r.seq, r.users, (SELECT COUNT(*) FROM access a WHERE a.seq = r.seq)
             FROM results r WHERE r.action = 'protectusers' AND r.outcome = 'ok'",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let orphans = db
        .query_row(
            "SELECT COUNT(*) FROM access WHERE seq NOT IN (SELECT seq FROM results WHERE outcome = 'ok')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (rows, orphans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_rows_and_their_result_survive_kills_together() {
    let sb = sandbox_with(SandboxOptions {
        latency: Duration::from_millis(30),
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    w.csv_job("job.csv", (101..=160).chain(201..=220), "protectusers");
    let report = w.report();
    let fresh = quick(
        "run",
        &["job.csv", "--report-dir", "report", "--concurrency", "4"],
    );
    let resume = quick(
        "run",
        &["job.csv", "--resume", "report", "--concurrency", "4"],
    );
    for (args, rows) in [(&fresh, 15), (&resume, 45)] {
        let child = Cli::new(&w).sandbox(&sb).args(args).spawn();
        assert!(
            wait_until(Duration::from_secs(20), || whole_rows(&report) >= rows).await,
            "rows appear"
        );
        kill9(child).await;
        let (ok, orphans) = access_in_record(&report);
        assert!(ok.len() >= rows, "{}", ok.len());
        let torn: Vec<_> = ok.iter().filter(|(_, users, n)| users != n).collect();
        assert!(torn.is_empty(), "(seq, users, access rows): {torn:?}");
        assert_eq!(orphans, 0, "access rows without their result");
    }
    let o = Cli::new(&w).sandbox(&sb).args(&resume).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let results = Table::read(&report.join("results.csv"));
    let access = Table::read(&report.join("access.csv"));
    let mut per_file: HashMap<String, usize> = HashMap::new();
    for a in access.rows() {
        *per_file.entry(a["file_id"].to_string()).or_default() += 1;
    }
    let mut files = 0;
    let mut users_total = 0;
    for r in results.rows() {
        assert_eq!(&r["outcome"], "ok", "{r:?}");
        let users: usize = r["users"].parse().unwrap();
        assert_eq!(
            per_file.get(&r["file_id"]).copied().unwrap_or(0),
            users,
            "access.csv rows of {}",
            &r["file_id"]
        );
        files += 1;
        users_total += users;
    }
    assert_eq!(files, 80);
    assert!(users_total > 80, "files have users: {users_total}");
    assert_eq!(access.rows().count(), users_total, "no access row twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_counts_every_request_and_resume_across_kills() {
    const CONCURRENCY: usize = 4;
    const KILLS: usize = 3;
    let sb = sandbox_with(SandboxOptions {
        files: 150,
        latency: Duration::from_millis(40),
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    w.csv_job("job.csv", bulk(150), "lock");
    let report = w.report();
    let fresh = quick(
        "run",
        &["job.csv", "--report-dir", "report", "--concurrency", "4"],
    );
    let resume = quick(
        "run",
        &["job.csv", "--resume", "report", "--concurrency", "4"],
    );
    let mut done = 0;
    for k in 0..KILLS {
        let args = if k == 0 { &fresh } else { &resume };
        let child = Cli::new(&w).sandbox(&sb).args(args).spawn();
        // Killed once it has committed rows of its own: it has recorded its start.
        let want = done + 15;
        assert!(
            wait_until(Duration::from_secs(20), || whole_rows(&report) >= want).await,
            "rows appear"
        );
        kill9(child).await;
        done = whole_rows(&report);
    }
    let o = Cli::new(&w).sandbox(&sb).args(&resume).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let s = w.summary();
    assert_eq!(s["tasks"], 150);
    assert_eq!(s["outcomes"]["ok"], 150, "{s}");
    assert_eq!(s["resumes"], KILLS as u64, "{s}");
    let received = sb.requests().len() as u64;
    let recorded = s["requests"].as_u64().unwrap();
    // A killed process loses at most the requests of the tasks in flight (a state read and a
    // PUT each) and of rows not committed yet; the key check is in its first commit.
    let margin = (KILLS * (2 * CONCURRENCY + 2)) as u64;
    assert!(
        recorded <= received + KILLS as u64 && recorded + margin >= received,
        "summary.json says {recorded} requests; the sandbox received {received}"
    );
    eprintln!("summary: {recorded} requests recorded, {received} received");
}
