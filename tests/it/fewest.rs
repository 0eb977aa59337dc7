//! Fewest requests (issue 13): what a folder listing already said is used, and each rule is
//! checked by counting, exactly, what the sandbox received. Room 5001 "Finance" lists in two
//! requests (50 files and subfolder 5002 on one page, 5002's 10 files on another).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use docspace_batch::sandbox::{Injected, Sandbox, SandboxOptions, CALLER_NAME};

use crate::common::*;

/// Requests by kind, start-up reads (the key check and the like) left out.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sent {
    /// `GET /api/2.0/files/{folder}`
    listings: Vec<String>,
    /// `GET /api/2.0/files/file/{id}`
    reads: usize,
    /// `PUT /api/2.0/files/file/{id}/lock`
    writes: usize,
}

fn sent(sb: &Sandbox, skip: usize) -> Sent {
    let mut s = Sent::default();
    for r in sb.requests().into_iter().skip(skip) {
        let Some(rest) = r.path.strip_prefix("/api/2.0/files/") else {
            continue;
        };
        match (r.method.as_str(), rest.strip_prefix("file/")) {
            ("PUT", Some(p)) if p.ends_with("/lock") => s.writes += 1,
            ("GET", Some(p)) if !p.contains('/') => s.reads += 1,
            ("GET", None) => s.listings.push(rest.to_string()),
            _ => {}
        }
    }
    s
}

fn listings(folders: &[&str]) -> Vec<String> {
    folders.iter().map(|f| f.to_string()).collect()
}

fn room_job(w: &Work, actions: &str) -> std::path::PathBuf {
    w.file(
        "room.yaml",
        &format!("name: room\njobs:\n  - folders: [5001]\n    actions: [{actions}]\n"),
    )
}

fn run(w: &Work, sb: &Sandbox, job: &std::path::Path, extra: &[&str]) -> Ran {
    let mut args = vec![job.to_str().unwrap(), "--rate", "unlimited"];
    args.extend_from_slice(extra);
    Cli::new(w).sandbox(sb).job(args).run()
}

fn row<'a>(rows: &'a [Row], file: &str) -> &'a Row {
    rows.iter().find(|r| r.file == file).expect("a row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_info_report_is_the_listing_and_nothing_else() {
    let sb = sandbox().await;
    let w = Work::new();
    let o = run(&w, &sb, &room_job(&w, "info"), &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(
        sent(&sb, 0),
        Sent {
            listings: listings(&["5001", "5002"]),
            reads: 0,
            writes: 0
        }
    );
    let rows = w.rows();
    assert_eq!(rows.len(), 60);
    assert!(rows
        .iter()
        .all(|r| r.outcome == "ok" && r.state_from == "listing"));
    let jane = row(&rows, "103");
    assert_eq!(
        (
            jane.locked.as_str(),
            jane.locked_by.as_str(),
            jane.title.as_str()
        ),
        ("true", "Jane Auditor", "Invoice-103.xlsx")
    );
    assert_eq!(row(&rows, "101").attempts, 0, "no request of its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_lock_writes_each_file_that_needs_it_without_reading_it() {
    let sb = sandbox().await;
    let w = Work::new();
    let o = run(&w, &sb, &room_job(&w, "lock"), &[]);
    // 104 is read-only for the caller: its lock is sent and refused (exit 1).
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(
        sent(&sb, 0),
        Sent {
            listings: listings(&["5001", "5002"]),
            reads: 0,
            // 60 files less 103, which the fresh listing shows locked by Jane.
            writes: 59
        }
    );
    let rows = w.rows();
    let r = row(&rows, "101");
    assert_eq!(
        (
            r.outcome.as_str(),
            r.was_locked.as_str(),
            r.state_from.as_str()
        ),
        ("ok", "false", "listing")
    );
    assert_eq!(row(&rows, "103").outcome, "locked_by_other");
    assert_eq!(row(&rows, "104").kind, "forbidden");
    // The write intents carry the state the listing showed.
    let db = rusqlite::Connection::open(w.report().join("run.db")).unwrap();
    let (n, unlocked): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), SUM(was_locked = 0) FROM intents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n, unlocked), (59, 59));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_already_locked_by_the_caller_costs_only_its_listing() {
    let sb = sandbox().await;
    for id in (101..=160).filter(|&n| n != 103) {
        sb.set_lock_owner(&id.to_string(), Some(CALLER_NAME));
    }
    let w = Work::new();
    let o = run(&w, &sb, &room_job(&w, "lock"), &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(
        sent(&sb, 0),
        Sent {
            listings: listings(&["5001", "5002"]),
            reads: 0,
            writes: 0
        }
    );
    let rows = w.rows();
    assert_eq!(
        rows.iter()
            .filter(|r| r.outcome == "unchanged" && r.state_from == "listing")
            .count(),
        59
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_never_rests_on_a_stale_listing() {
    // The listing of 5001 shows 103 locked by Jane; by the time the run decides, she has let
    // it go. The listing is made stale (older than --state-max-age 1s) by holding 5002's
    // listing back 1.3 s. The skips on 5001's files need fresh state: one page read again.
    let stale: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let replay = stale.clone();
    let sb = sandbox_with(SandboxOptions {
        interceptor: Some(Arc::new(move |r| match r.path.as_str() {
            "/api/2.0/files/5001" => replay.lock().unwrap().take().map(|body| Injected::Respond {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            }),
            "/api/2.0/files/5002" => Some(Injected::Delay(Duration::from_millis(1300))),
            _ => None,
        })),
        ..SandboxOptions::default()
    })
    .await;
    for id in (101..=150).filter(|&n| n != 103) {
        sb.set_lock_owner(&id.to_string(), Some(CALLER_NAME));
    }
    let body = reqwest::Client::new()
        .get(format!(
            "{}/api/2.0/files/5001?startIndex=0&count=100",
            sb.url()
        ))
        .bearer_auth(sb.api_key())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&body).contains("Jane Auditor"));
    let before = sb.requests().len();
    *stale.lock().unwrap() = Some(body.to_vec());
    sb.set_lock_owner("103", None);

    let w = Work::new();
    let o = run(&w, &sb, &room_job(&w, "lock"), &["--state-max-age", "1s"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(
        sent(&sb, before),
        Sent {
            listings: listings(&["5001", "5002", "5001"]),
            reads: 0,
            // 103, and 151-160 (unlocked: a lock goes out on state of any age)
            writes: 11
        }
    );
    let rows = w.rows();
    let r = row(&rows, "103");
    assert_eq!(
        (
            r.outcome.as_str(),
            r.was_locked.as_str(),
            r.state_from.as_str()
        ),
        ("ok", "false", "listing")
    );
    assert_eq!(sb.lock_owner("103").as_deref(), Some(CALLER_NAME));
    assert_eq!(rows.iter().filter(|r| r.outcome == "unchanged").count(), 49);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_listed_lock_reads_each_file_first_and_reuses_what_it_read() {
    let sb = sandbox().await;
    let w = Work::new();
    // 101: info reads it, lock goes on that read, info after on the lock's answer.
    // 102-105: a lock each, read first (nothing listed them).
    let job = w.file(
        "job.csv",
        "file_id,action\n101,info\n101,lock\n101,info\n102,lock\n103,lock\n104,lock\n105,lock\n",
    );
    let o = run(&w, &sb, &job, &[]);
    assert_eq!(o.code(), 1, "104 is read-only: {}", o.stderr());
    assert_eq!(
        sent(&sb, 0),
        Sent {
            listings: vec![],
            reads: 5,
            // 103 is Jane's: skipped
            writes: 4
        }
    );
    let from: Vec<(String, String)> = w
        .rows()
        .into_iter()
        .map(|r| (r.file, r.state_from))
        .collect();
    let want: Vec<(String, String)> = [
        ("101", "read"),
        ("101", "read"),
        ("101", "answer"),
        ("102", "read"),
        ("103", "read"),
        ("104", "read"),
        ("105", "read"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(from, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_state_check_no_state_is_named() {
    let sb = sandbox().await;
    let w = Work::new();
    let o = run(&w, &sb, &room_job(&w, "unlock"), &["--no-check-state"]);
    assert_eq!(o.code(), 1, "104: {}", o.stderr());
    assert_eq!(
        sent(&sb, 0),
        Sent {
            listings: listings(&["5001", "5002"]),
            reads: 0,
            writes: 60
        }
    );
    assert!(w.rows().iter().all(|r| r.state_from.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_reads_each_listing_page_once_instead_of_each_file() {
    let sb = sandbox().await;
    let w = Work::new();
    let o = run(&w, &sb, &room_job(&w, "lock"), &[]);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let before = sb.requests().len();
    let restore_dir = w.path().join("restore-report");
    let o = Cli::new(&w)
        .args([
            "restore",
            w.report().to_str().unwrap(),
            "--report-dir",
            restore_dir.to_str().unwrap(),
            "--rate",
            "unlimited",
            "--progress",
            "never",
        ])
        .sandbox(&sb)
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // The run locked 58 files (not 103, Jane's; not 104, refused), found on two pages.
    assert_eq!(
        sent(&sb, before),
        Sent {
            listings: listings(&["5001", "5002"]),
            reads: 0,
            writes: 58
        }
    );
    // 104's refused lock left an intent without a success, so restore looks at it too: the
    // listing shows it unlocked.
    let rows = rows_in(&restore_dir);
    assert_eq!(rows.len(), 59);
    assert!(rows.iter().all(|r| r.state_from == "listing"), "{rows:#?}");
    assert_eq!(
        rows.iter()
            .filter(|r| r.outcome == "ok" && r.was_locked == "true")
            .count(),
        58
    );
    assert_eq!(row(&rows, "104").outcome, "unchanged");
    assert_eq!(sb.lock_owner("103").as_deref(), Some("Jane Auditor"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_reads_the_recorded_pages_and_settles_its_intent_with_a_read() {
    // One worker, so the order is fixed: PUTs go to 101, 102, 104, 105, …; the 20th (121) is
    // answered 401 without being applied, and the run stops with its intent unsettled.
    let puts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = puts.clone();
    let sb = sandbox_with(SandboxOptions {
        interceptor: Some(Arc::new(move |r| {
            let n = (r.method == "PUT").then(|| seen.fetch_add(1, Ordering::SeqCst) + 1);
            (n == Some(20)).then(|| Injected::Respond {
                status: 401,
                headers: vec![],
                body: vec![],
            })
        })),
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    let o = run(&w, &sb, &room_job(&w, "lock"), &["--concurrency", "1"]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert_eq!(sb.lock_owner("121"), None);
    let before = sb.requests().len();
    let o = Cli::shell(&w, &o.resume_command()).sandbox(&sb).run();
    assert_eq!(o.code(), 1, "104 was refused: {}", o.stderr());
    assert_eq!(
        sent(&sb, before),
        Sent {
            // 122-150 on 5001's page, 151-160 on 5002's: no read per file.
            listings: listings(&["5001", "5002"]),
            // 121: only the file can say whether the lost write went through. (104's refused
            // lock failed for good: a resume leaves it without --retry-failed.)
            reads: 1,
            // 121-160 less 103 (Jane's)
            writes: 40
        }
    );
    let rows = w.rows();
    assert_eq!(row(&rows, "121").state_from, "read");
    assert_eq!(row(&rows, "160").state_from, "listing");
    assert_eq!(sb.lock_owner("160").as_deref(), Some(CALLER_NAME));
}
