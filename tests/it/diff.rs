//! `diff`: two runs against the sandbox with a known set of changes made between them
//! through the sandbox (a lock by another user, an unlock over HTTP, a user joining the room,
//! a rename to a hostile title, a file deleted, a file leaving and one joining the job), in
//! each output format; `--latest NAME`; directories that cannot be compared.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use docspace_batch::sandbox::Sandbox;
use serde_json::json;

use crate::common::*;

/// A YAML job named `nightly`: info and protectusers on each file.
fn job(w: &Work, file: &str, ids: &[u32]) -> PathBuf {
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    w.file(
        file,
        &format!(
            "name: nightly\njobs:\n  - files: [{}]\n    actions: [info, protectusers]\n",
            ids.join(", ")
        ),
    )
}

/// `run JOB ARGS...` against `sb`, quietly and at full speed.
fn run(w: &Work, sb: &Sandbox, job: &Path, args: &[&str]) -> Ran {
    Cli::new(w)
        .sandbox(sb)
        .arg("run")
        .arg(job)
        .args([
            "--progress",
            "never",
            "--rate",
            "unlimited",
            "--retries",
            "0",
        ])
        .args(args)
        .run()
}

/// `diff ARGS...`, with no portal in the environment.
fn diff<S: AsRef<std::ffi::OsStr>>(w: &Work, args: impl IntoIterator<Item = S>) -> Ran {
    Cli::new(w).arg("diff").args(args).run()
}

/// The CSV rows as (file_id, title, what, before, after).
fn csv_rows(text: &str) -> Vec<[String; 5]> {
    let t = Table::parse(text);
    assert_eq!(t.headers, ["file_id", "title", "what", "before", "after"]);
    t.rows()
        .map(|r| ["file_id", "title", "what", "before", "after"].map(|c| r[c].to_string()))
        .collect()
}

fn rows(expected: &[[&str; 5]]) -> Vec<[String; 5]> {
    expected.iter().map(|r| r.map(String::from)).collect()
}

/// A PUT through the sandbox's HTTP API with its key.
async fn put(sb: &Sandbox, path: &str, body: serde_json::Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}/api/2.0{path}", sb.url()))
        .header("Authorization", format!("Bearer {}", sb.api_key()))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), 200, "{path}");
}

/// The user ID of `name` in a run's access.csv.
fn user_id(dir: &Path, name: &str) -> String {
    Table::read(&dir.join("access.csv"))
        .rows()
        .find(|r| &r["name"] == name)
        .map(|r| r["user_id"].to_string())
        .unwrap_or_else(|| panic!("{name} in access.csv"))
}

/// A sandbox where file 104 can be deleted: once `gone` is set, it answers as DocSpace does
/// for a missing file (404 on info, 403 "The required file was not found" on protectusers).
async fn sandbox_with_deletable_104() -> (Sandbox, Arc<AtomicBool>) {
    let gone = Arc::new(AtomicBool::new(false));
    let g = gone.clone();
    let sb = sandbox_with(opts_with(move |r| {
        if !g.load(Ordering::SeqCst) || !r.path.starts_with("/api/2.0/files/file/104") {
            return None;
        }
        let status = if r.path.ends_with("/protectusers") {
            403
        } else {
            404
        };
        let body = json!({"status": 1, "statusCode": status,
            "error": {"message": "The required file was not found"}});
        Some(respond(status, &[], body.to_string().as_bytes()))
    }))
    .await;
    (sb, gone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_with_known_changes_give_exactly_those_rows() {
    let (sb, gone) = sandbox_with_deletable_104().await;
    let w = Work::new();
    let (old, new) = (w.path().join("old"), w.path().join("new"));
    let o = run(
        &w,
        &sb,
        &job(&w, "mon.yaml", &[101, 102, 103, 104, 105]),
        &["--report-dir", old.to_str().unwrap()],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());

    // Between the runs: Bob locks 101; the caller unlocks Jane's lock on 103 over HTTP; Pat
    // Reviewer joins room Finance (101–150); 102 is renamed to a formula; 104 is deleted;
    // 105 leaves the job and 106 joins it.
    sb.set_lock_owner("101", Some("Bob Finch"));
    put(&sb, "/files/file/103/lock", json!({"lockFile": false})).await;
    let pat = user_id(&old, "Pat Reviewer");
    put(
        &sb,
        "/files/rooms/5001/share",
        json!({"invitations": [{"id": pat, "access": "Read"}]}),
    )
    .await;
    sb.set_title("102", "=cmd()");
    gone.store(true, Ordering::SeqCst);
    let o = run(
        &w,
        &sb,
        &job(&w, "tue.yaml", &[101, 102, 103, 104, 106]),
        &["--report-dir", new.to_str().unwrap()],
    );
    assert_eq!(o.code(), 1, "104 is gone: {}", o.stderr());

    let before = sb.requests().len();
    let pat = "Pat Reviewer <pat.reviewer@example.com>";
    let o = diff(
        &w,
        [
            old.as_os_str(),
            new.as_os_str(),
            "--format".as_ref(),
            "csv".as_ref(),
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(
        csv_rows(&o.stdout()),
        rows(&[
            ["101", "Invoice-101.xlsx", "lock", "unlocked", "locked"],
            ["101", "Invoice-101.xlsx", "locked_by", "", "Bob Finch"],
            ["101", "Invoice-101.xlsx", "access_added", "", pat],
            ["102", "'=cmd()", "access_added", "", pat],
            ["102", "'=cmd()", "title", "Invoice-102.xlsx", "'=cmd()"],
            ["103", "Invoice-103.xlsx", "lock", "locked", "unlocked"],
            ["103", "Invoice-103.xlsx", "locked_by", "Jane Auditor", ""],
            ["103", "Invoice-103.xlsx", "access_added", "", pat],
            [
                "104",
                "Invoice-104.xlsx",
                "only_in_old",
                "present",
                "not_found"
            ],
            [
                "105",
                "Invoice-105.xlsx",
                "only_in_old",
                "present",
                "absent"
            ],
            [
                "106",
                "Invoice-106.xlsx",
                "only_in_new",
                "absent",
                "present"
            ],
        ])
    );
    assert!(
        !o.stdout().contains(",=cmd()"),
        "a formula cell is escaped: {}",
        o.stdout()
    );

    // JSON: the same rows, text as sent.
    let o = diff(
        &w,
        [
            old.as_os_str(),
            new.as_os_str(),
            "--format".as_ref(),
            "json".as_ref(),
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let v: serde_json::Value = serde_json::from_str(&o.stdout()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 11);
    assert_eq!(
        v[4],
        json!({"file_id": "102", "title": "=cmd()", "what": "title", "before": "Invoice-102.xlsx", "after": "=cmd()"})
    );

    // The table, for a person.
    let o = diff(&w, [&old, &new]);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let table = [
        "file_id  title             what          before            after",
        "101      Invoice-101.xlsx  lock          unlocked          locked",
        "101      Invoice-101.xlsx  locked_by     -                 Bob Finch",
        "101      Invoice-101.xlsx  access_added  -                 Pat Reviewer <pat.reviewer@example.com>",
        "102      =cmd()            access_added  -                 Pat Reviewer <pat.reviewer@example.com>",
        "102      =cmd()            title         Invoice-102.xlsx  =cmd()",
        "103      Invoice-103.xlsx  lock          locked            unlocked",
        "103      Invoice-103.xlsx  locked_by     Jane Auditor      -",
        "103      Invoice-103.xlsx  access_added  -                 Pat Reviewer <pat.reviewer@example.com>",
        "104      Invoice-104.xlsx  only_in_old   present           not_found",
        "105      Invoice-105.xlsx  only_in_old   present           absent",
        "106      Invoice-106.xlsx  only_in_new   absent            present",
        "",
        "11 differences in 6 files",
        "",
    ];
    assert_eq!(o.stdout(), table.join("\n"));

    // Swapped, every change reads the other way round.
    let o = diff(&w, [&new, &old]);
    assert_eq!(o.code(), 1);
    assert!(o.stdout().contains("only_in_new"), "{}", o.stdout());
    assert_eq!(sb.requests().len(), before, "diff sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_with_no_change_exit_0() {
    let sb = sandbox().await;
    let w = Work::new();
    let j = job(&w, "nightly.yaml", &[101, 103, 201, 202]);
    for dir in ["a", "b"] {
        let o = run(&w, &sb, &j, &["--report-dir", dir]);
        assert_eq!(o.code(), 0, "{}", o.stderr());
    }
    let o = diff(&w, ["a", "b"]);
    assert_eq!(
        (o.code(), o.stdout().as_str()),
        (0, "no differences\n"),
        "{}",
        o.stderr()
    );
    let o = diff(&w, ["a", "b", "--format", "csv"]);
    assert_eq!(
        (o.code(), o.stdout().as_str()),
        (0, "file_id,title,what,before,after\n")
    );
    let o = diff(&w, ["a", "b", "--format", "json"]);
    assert_eq!((o.code(), o.stdout().trim()), (0, "[]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_compares_the_two_newest_complete_runs_of_the_name() {
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let sb = sandbox_with(opts_with(move |r| {
        (f.load(Ordering::SeqCst) && r.path == "/api/2.0/files/file/101")
            .then(|| respond(500, &[], b"{}"))
    }))
    .await;
    let w = Work::new();
    let j = job(&w, "nightly.yaml", &[101, 102]);
    let root = ["--report-root", "reports"];
    let o = diff(&w, ["--latest", "nightly", "--report-root", "reports"]);
    assert_eq!(o.code(), 2, "no report root yet");
    // Three complete runs: Bob locks 101 before the second, Jane 102 before the third.
    for change in [
        None,
        Some(("101", "Bob Finch")),
        Some(("102", "Jane Auditor")),
    ] {
        if let Some((id, who)) = change {
            sb.set_lock_owner(id, Some(who));
        }
        let o = run(&w, &sb, &j, &root);
        assert_eq!(o.code(), 0, "{}", o.stderr());
        let o = diff(&w, ["--latest", "nightly", "--report-root", "reports"]);
        assert_eq!(
            o.code(),
            if change.is_none() { 2 } else { 1 },
            "{}",
            o.stderr()
        );
    }
    // Newer, but not complete: a dry run, a run with work left, another job's run.
    sb.set_lock_owner("101", None);
    assert_eq!(
        run(&w, &sb, &j, &["--report-root", "reports", "--dry-run"]).code(),
        0
    );
    fail.store(true, Ordering::SeqCst);
    assert_eq!(run(&w, &sb, &j, &root).code(), 1);
    let other = w.file(
        "other.yaml",
        "name: other\njobs:\n  - files: [101]\n    actions: [info]\n",
    );
    fail.store(false, Ordering::SeqCst);
    assert_eq!(run(&w, &sb, &other, &root).code(), 0);

    let o = diff(
        &w,
        [
            "--latest",
            "nightly",
            "--report-root",
            "reports",
            "--format",
            "csv",
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(
        csv_rows(&o.stdout()),
        rows(&[
            ["102", "Invoice-102.xlsx", "lock", "unlocked", "locked"],
            ["102", "Invoice-102.xlsx", "locked_by", "", "Jane Auditor"],
        ])
    );
    assert!(
        o.stderr().contains("comparing reports/nightly-"),
        "{}",
        o.stderr()
    );
    // `reports` is the default root.
    assert_eq!(diff(&w, ["--latest", "nightly"]).code(), 1);
    let o = diff(&w, ["--latest", "other"]);
    assert_eq!(o.code(), 2);
    assert!(o.stderr().contains("found one"), "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_that_cannot_be_compared_are_exit_2() {
    let sb = sandbox().await;
    let w = Work::new();
    let j = job(&w, "nightly.yaml", &[101]);
    assert_eq!(run(&w, &sb, &j, &["--report-dir", "real"]).code(), 0);
    assert_eq!(
        run(&w, &sb, &j, &["--report-dir", "dry", "--dry-run"]).code(),
        0
    );
    std::fs::create_dir(w.path().join("empty")).unwrap();
    for (dir, says) in [
        (
            "empty",
            "is not a docspace-batch report directory (no run.db)",
        ),
        ("missing", "is not a directory"),
        ("nightly.yaml", "is not a directory"),
        ("dry", "holds a dry run"),
    ] {
        for args in [[dir, "real"], ["real", dir]] {
            let o = diff(&w, args);
            assert_eq!(o.code(), 2, "{args:?}");
            assert!(o.stderr().contains(says), "{args:?}: {}", o.stderr());
            assert_eq!(o.stdout(), "", "{args:?}");
        }
    }
    std::fs::write(w.path().join("empty/run.db"), "not a database").unwrap();
    let o = diff(&w, ["empty", "real"]);
    assert_eq!(o.code(), 2);
    assert!(
        o.stderr()
            .contains("is not a readable docspace-batch report directory"),
        "{}",
        o.stderr()
    );
    assert_eq!(diff(&w, ["real"]).code(), 2, "NEW is required");
    assert_eq!(diff(&w, ["real", "real", "--latest", "x"]).code(), 2);

    // In use: another process holds the directory's lock (here, this test process).
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(w.path().join("real/.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    std::fs::write(w.path().join("real/.lock"), std::process::id().to_string()).unwrap();
    let o = diff(&w, ["real", "real"]);
    assert_eq!(o.code(), 2);
    assert!(
        o.stderr().contains(&format!(
            "real is in use by another docspace-batch process (pid {})",
            std::process::id()
        )),
        "{}",
        o.stderr()
    );
    drop(lock);
    assert_eq!(diff(&w, ["real", "real"]).code(), 0);
    // diff released its check at once: a run can record into the directory right after.
    let o = run(&w, &sb, &j, &["--resume", "real"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
}

/// Share entries compare by subject: a user joining room Legal is a `share_added` on its
/// files, a member leaving or a revoked link a `share_removed`; the owner is no row. `info`
/// alongside, as docs/guide.md recommends: the share list carries no title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_entries_added_and_removed_between_runs() {
    let sb = sandbox().await;
    let w = Work::new();
    let j = w.file(
        "shares.yaml",
        "name: shares\njobs:\n  - files: [105, 201]\n    actions: [info, shares]\n",
    );
    let (old, new) = (w.path().join("old"), w.path().join("new"));
    let o = run(&w, &sb, &j, &["--report-dir", old.to_str().unwrap()]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let id_of = |name: &str| {
        Table::read(&old.join("shares.csv"))
            .rows()
            .find(|r| &r["name"] == name)
            .map(|r| r["subject_id"].to_string())
            .unwrap_or_else(|| panic!("{name} in shares.csv"))
    };
    let (pat, alice) = (id_of("Pat Reviewer"), id_of("Alice Brown"));
    put(
        &sb,
        "/files/rooms/5003/share",
        json!({"invitations": [{"id": pat, "access": "Read"}, {"id": alice, "access": 0}]}),
    )
    .await;
    sb.revoke_link("201");
    let o = run(&w, &sb, &j, &["--report-dir", new.to_str().unwrap()]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let link = Table::read(&old.join("shares.csv"))
        .rows()
        .find(|r| &r["subject_type"] == "external_link")
        .map(|r| {
            let (name, url, exp) = (&r["name"], &r["link_url"], &r["expires"]);
            format!("external_link {name} {url}: read, expires {exp}")
        })
        .expect("201's link");
    let o = diff(
        &w,
        [
            old.as_os_str(),
            new.as_os_str(),
            "--format".as_ref(),
            "csv".as_ref(),
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let t = "Contract-201.docx";
    assert_eq!(
        csv_rows(&o.stdout()),
        rows(&[
            [
                "201",
                t,
                "share_added",
                "",
                "user Pat Reviewer <pat.reviewer@example.com>: read"
            ],
            ["201", t, "share_removed", &link, ""],
            [
                "201",
                t,
                "share_removed",
                "user Alice Brown <alice.brown@example.com>: editing",
                ""
            ],
        ])
    );
}
