//! Audit workflows (issue 7): folder and room expansion, state-aware writes, restore, sharding,
//! summary.md.

use std::collections::BTreeMap;

use docspace_batch::sandbox::SandboxOptions;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_expand_across_pages_and_each_file_is_a_target_once() {
    let sb = sandbox_with(SandboxOptions {
        files: 250,
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    // 5002 is listed directly and reached again through 5001; 6000 spans three pages.
    let job = w.file(
        "audit.yaml",
        "jobs:\n  - name: rooms\n    folders: [5001, 5002, 6000]\n    files: [151]\n    actions: [info]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rows = w.rows();
    let mut per_file: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *per_file.entry(r.file.clone()).or_default() += 1;
    }
    assert_eq!(
        rows.len(),
        60 + 250,
        "Finance (50 + Q4 10) and Bulk 250, each once"
    );
    assert!(per_file.values().all(|n| *n == 1), "no file twice");
    assert!(per_file.contains_key("160") && per_file.contains_key("100249"));
    // The listing went page by page with count=100.
    let listing: Vec<String> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/2.0/files/6000")
        .map(|r| r.query.unwrap_or_default())
        .collect();
    assert_eq!(listing.len(), 3, "{listing:?}");
    for (i, q) in listing.iter().enumerate() {
        assert!(
            q.contains(&format!("startIndex={}", i * 100)) && q.contains("count=100"),
            "{q}"
        );
    }
    // The listing carried every file's state: no file was read on its own (151, listed by
    // ID, is in 5002 too).
    let reqs = api_requests(&sb);
    assert!(!reqs.iter().any(|r| r.path.contains("/file/")), "{reqs:?}");
    assert!(rows.iter().all(|r| r.state_from == "listing"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_storage_and_csv_folder_ids_expand() {
    let sb = sandbox().await;
    let w = Work::new();
    let csv = w.file(
        "rooms.csv",
        "folder_id,action\ndropbox-337,info\n5002,info\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([csv.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rows = w.rows();
    assert!(
        rows.iter()
            .any(|r| r.file == "dropbox-337-L9Cd0L7QstGL0Lkg"),
        "{rows:#?}"
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.file.parse::<u32>().is_ok())
            .count(),
        10,
        "Q4 holds 151-160"
    );
    assert!(rows.iter().all(|r| r.outcome == "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_folder_stops_before_any_write_unless_skipped() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "jobs:\n  - folders: [5001, 777777]\n    actions: [lock]\n",
    );
    let o = Cli::new(&w).sandbox(&sb).job([job.to_str().unwrap()]).run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("777777") && o.stderr().contains("--skip-missing-folders"),
        "{}",
        o.stderr()
    );
    assert!(
        sb.requests().iter().all(|r| r.method == "GET"),
        "nothing written"
    );
    let w2 = Work::new();
    let o = Cli::new(&w2)
        .sandbox(&sb)
        .job([
            job.to_str().unwrap(),
            "--skip-missing-folders",
            "--rate",
            "unlimited",
        ])
        .run();
    assert_eq!(
        o.code(),
        1,
        "104 is read-only, so one lock fails: {}",
        o.stderr()
    );
    assert_eq!(w2.rows().len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_then_restore_releases_exactly_what_the_run_locked() {
    let sb = sandbox().await;
    // Before the audit: 102 already locked by the caller, 103 by Jane Auditor.
    sb.set_lock_owner("102", Some("Sandbox Admin"));
    let w = Work::new();
    let job = w.file("lock.yaml", "name: audit\njobs:\n  - folders: [5002]\n    files: [101, 102, 103]\n    actions: [lock]\n");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    for id in ["101", "151", "160"] {
        assert_eq!(
            sb.lock_owner(id).as_deref(),
            Some("Sandbox Admin"),
            "{id} locked by the run"
        );
    }
    let puts_before = api_requests(&sb)
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(
        puts_before, 11,
        "101 and 151-160: 102 and 103 need no write"
    );

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
    for id in ["101", "151", "160"] {
        assert_eq!(sb.lock_owner(id), None, "{id} released");
    }
    assert_eq!(
        sb.lock_owner("102").as_deref(),
        Some("Sandbox Admin"),
        "locked before the run: stays locked"
    );
    assert_eq!(
        sb.lock_owner("103").as_deref(),
        Some("Jane Auditor"),
        "someone else's lock: untouched"
    );
    let rows = rows_in(&restore_dir);
    assert_eq!(rows.len(), 11);
    assert!(
        rows.iter()
            .all(|r| r.action == "unlock" && r.outcome == "ok"),
        "{rows:#?}"
    );
    let unlocks: Vec<String> = api_requests(&sb)
        .into_iter()
        .filter(|r| r.method == "PUT" && r.body.contains("false"))
        .map(|r| r.path)
        .collect();
    assert_eq!(unlocks.len(), 11);
    assert!(!unlocks
        .iter()
        .any(|p| p.contains("/102/") || p.contains("/103/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_run_without_state_information() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file("lock.csv", "file_id,action\n101,lock\n");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--no-check-state"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let before = sb.requests().len();
    let o = Cli::new(&w)
        .args(["restore", w.report().to_str().unwrap()])
        .sandbox(&sb)
        .run();
    assert_eq!(o.code(), 2);
    assert!(o.stderr().contains("--no-check-state"), "{}", o.stderr());
    assert_eq!(sb.requests().len(), before, "nothing sent");
    let o = Cli::new(&w)
        .args(["restore", w.path().to_str().unwrap()])
        .run();
    assert_eq!(o.code(), 2, "not a report directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_cover_every_task_exactly_once() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "jobs:\n  - folders: [5001, 5003]\n    actions: [info, protectusers]\n",
    );
    let mut seqs: Vec<u64> = Vec::new();
    let mut files_per_shard: Vec<std::collections::BTreeSet<String>> = Vec::new();
    for k in 1..=3 {
        let dir = w.path().join(format!("shard{k}"));
        let o = Cli::new(&w)
            .args([
                "run",
                job.to_str().unwrap(),
                "--shard",
                &format!("{k}/3"),
                "--report-dir",
                dir.to_str().unwrap(),
                "--rate",
                "unlimited",
                "--progress",
                "never",
            ])
            .sandbox(&sb)
            .run();
        assert_eq!(o.code(), 0, "{}", o.stderr());
        let rows = rows_in(&dir);
        assert!(!rows.is_empty());
        // Per-file order intact: each file's info comes before its protectusers.
        for pair in rows.chunks(2) {
            assert_eq!(pair[0].file, pair[1].file);
            assert_eq!(
                (pair[0].action.as_str(), pair[1].action.as_str()),
                ("info", "protectusers")
            );
        }
        files_per_shard.push(rows.iter().map(|r| r.file.clone()).collect());
        seqs.extend(rows.iter().map(|r| r.seq));
    }
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=160).collect::<Vec<u64>>(),
        "80 files x 2 actions, each task in exactly one shard"
    );
    for a in 0..3 {
        for b in (a + 1)..3 {
            assert!(files_per_shard[a].is_disjoint(&files_per_shard[b]));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_md_is_written_for_people() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file("job.yaml", "name: legal-audit\njobs:\n  - folders: [5003]\n    files: [103, 104]\n    actions: [info, protectusers, lock]\n");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let md = std::fs::read_to_string(w.report().join("summary.md")).unwrap();
    assert!(md.contains("# legal-audit"), "{md}");
    assert!(
        md.contains("## Failures (1)") && md.contains("| 104 | lock | forbidden | 403 |"),
        "{md}"
    );
    assert!(
        md.contains("## Locked files by holder") && md.contains("### Jane Auditor"),
        "{md}"
    );
    assert!(
        md.contains("## Users with access") && md.contains("### Legal"),
        "{md}"
    );
}

/// DocSpace leaves `lockedBy` out when the caller holds the lock: the report names the caller
/// (from the start-up read) in results.csv and groups the file under "you" in summary.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_locks_are_named_in_results_and_summary() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "name: own\njobs:\n  - files: [101, 103]\n    actions: [lock]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let t = Table::read(&w.report().join("results.csv"));
    let by: Vec<(String, String)> = t
        .rows()
        .map(|r| (r["file_id"].to_string(), r["locked_by"].to_string()))
        .collect();
    assert_eq!(
        by,
        [
            ("101".to_string(), "Sandbox Admin".to_string()),
            ("103".to_string(), "Jane Auditor".to_string())
        ]
    );
    let md = std::fs::read_to_string(w.report().join("summary.md")).unwrap();
    let you = md.find("### you (Sandbox Admin) (1)").expect(&md);
    let jane = md.find("### Jane Auditor (1)").expect(&md);
    assert!(you < jane, "{md}");
    assert!(md.contains("| 101 |"), "{md}");
}

/// `shares`: every user, group and link of a file is a row of shares.csv; the links show in
/// summary.md; a link's password goes nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_lists_users_groups_and_links_without_passwords() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "name: shares\njobs:\n  - files: [201, 203, 204, 206]\n    actions: [SHARES]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = std::fs::read_to_string(w.report().join("shares.csv")).unwrap();
    assert!(text.starts_with(
        "file_id,title,subject_type,subject_id,name,email,access,link_url,expires,password_protected,deny_download,is_owner\n"
    ), "{text}");
    let t = Table::parse(&text);
    let links: Vec<(String, String, String, String)> = t
        .rows()
        .filter(|r| &r["subject_type"] == "external_link")
        .map(|r| {
            assert!(!r["expires"].is_empty() && r["link_url"].starts_with("http"));
            (
                r["file_id"].to_string(),
                r["access"].to_string(),
                r["password_protected"].to_string(),
                r["deny_download"].to_string(),
            )
        })
        .collect();
    let s = |v: &str| v.to_string();
    assert_eq!(
        links,
        [
            (s("201"), s("read"), s("false"), s("false")),
            (s("203"), s("read"), s("true"), s("false")),
            (s("204"), s("read"), s("false"), s("true")),
        ]
    );
    let group = t
        .rows()
        .find(|r| &r["subject_type"] == "group")
        .expect("206's group");
    assert_eq!((&group["file_id"], &group["name"]), ("206", "Auditors"));
    let owners = t.rows().filter(|r| &r["is_owner"] == "true").count();
    assert_eq!(owners, 4, "one owner entry per file");
    assert!(t
        .rows()
        .any(|r| &r["subject_type"] == "user" && r["email"].contains('@')));
    let rows = w.rows();
    assert!(rows
        .iter()
        .all(|r| r.action == "shares" && r.outcome == "ok"));
    let md = std::fs::read_to_string(w.report().join("summary.md")).unwrap();
    assert!(md.contains("## External links (3)"), "{md}");
    assert!(
        md.contains("| yes | allowed |") && md.contains("| no | denied |"),
        "{md}"
    );
    for f in std::fs::read_dir(w.report()).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap_or_default();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains("sandbox-link-secret"),
            "a link password was written"
        );
    }
}

/// A portal that sends enumerations by name (as a server configured for string enums does),
/// a primary link with a hostile title and an invitation link: each subject type becomes its
/// word, the access its word, and the title is escaped for spreadsheets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_read_names_every_subject_type_and_escape_hostile_titles() {
    let body = serde_json::json!({"count": 3, "status": 0, "statusCode": 200, "response": [
        {"access": "ReadWrite", "subjectType": "User", "isOwner": true, "isLocked": true,
         "canEditAccess": false, "canEditInternal": false, "canEditDenyDownload": false,
         "canEditExpirationDate": false, "canRevoke": false,
         "sharedToUser": {"id": "u1", "displayName": "Ann Owner", "email": "ann@example.com"}},
        {"access": "Comment", "subjectType": "PrimaryExternalLink", "isOwner": false,
         "isLocked": false, "canEditAccess": true, "canEditInternal": true,
         "canEditDenyDownload": true, "canEditExpirationDate": true, "canRevoke": true,
         "sharedLink": {"id": "l1", "title": "=HYPERLINK(\"http://x\")", "shareLink": "https://p/s/l1",
             "linkType": "External", "primary": true, "password": null, "denyDownload": false}},
        {"access": "ContentCreator", "subjectType": "InvitationLink", "isOwner": false,
         "isLocked": false, "canEditAccess": true, "canEditInternal": false,
         "canEditDenyDownload": false, "canEditExpirationDate": false, "canRevoke": true,
         "sharedLink": {"id": "l2", "title": "Invite", "shareLink": "https://p/i/l2",
             "linkType": "Invitation", "expirationDate": {"utcTime": "2027-02-01T00:00:00.0000000Z"}}}
    ]})
    .to_string();
    let sb = sandbox_with(opts_with(move |r| {
        (r.path == "/api/2.0/files/file/101/share").then(|| respond(200, &[], body.as_bytes()))
    }))
    .await;
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "name: named\njobs:\n  - files: [101]\n    actions: [shares]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let t = Table::read(&w.report().join("shares.csv"));
    let got: Vec<[String; 5]> = t
        .rows()
        .map(|r| {
            ["subject_type", "name", "access", "expires", "is_owner"].map(|c| r[c].to_string())
        })
        .collect();
    let s = |a: [&str; 5]| a.map(String::from);
    assert_eq!(
        got,
        [
            s(["user", "Ann Owner", "read_write", "", "true"]),
            s([
                "primary_external_link",
                "'=HYPERLINK(\"http://x\")",
                "comment",
                "",
                "false"
            ]),
            s([
                "invitation_link",
                "Invite",
                "content_creator",
                "2027-02-01T00:00:00.0000000Z",
                "false"
            ]),
        ]
    );
    let md = std::fs::read_to_string(w.report().join("summary.md")).unwrap();
    assert!(
        md.contains("## External links (1)") && md.contains("| comment | never |"),
        "{md}"
    );
}
