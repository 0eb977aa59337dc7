//! The portal's contract as DocSpace keeps it: the envelope, lock rules, permissions, keys,
//! protectusers, folder paging, connected-storage IDs and the bulk data set.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn envelope_and_file_info() {
    let (sb, c) = default_sandbox().await;
    assert!(sb.api_key().starts_with("sk-") && sb.api_key().len() == 35);
    let a = c.get("/files/file/101").await;
    assert_eq!(a.status, 200);
    assert!(a
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let v = a.json();
    assert_eq!(v["status"], 0);
    assert_eq!(v["statusCode"], 200);
    assert_eq!(v["count"], 1);
    assert_eq!(
        v["links"],
        json!([{"href": format!("{}/api/2.0/files/file/101", sb.url()), "action": "GET"}])
    );
    let f = &v["response"];
    assert_eq!(f["id"], 101);
    assert_eq!(f["title"], "Invoice-101.xlsx");
    assert_eq!(f["folderId"], 5001);
    assert_eq!(f["rootFolderType"], 14);
    assert_eq!(f["fileEntryType"], 2);
    assert_eq!(f["fileExst"], ".xlsx");
    assert_eq!(f["security"]["Lock"], true);
    assert_eq!(f["createdBy"]["displayName"], "Sandbox Admin");
    assert!(f.get("locked").is_none() && f.get("lockedBy").is_none());
}

#[tokio::test]
async fn lock_unlock_and_empty_body_unlocks() {
    let (sb, c) = default_sandbox().await;
    let a = c.lock("201", true).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["links"][0]["action"], "PUT");
    assert_eq!(v["response"]["locked"], true);
    assert!(v["response"].get("lockedBy").is_none(), "caller holds it");
    assert_eq!(sb.lock_owner("201").as_deref(), Some("Sandbox Admin"));

    let v = c.lock("201", false).await.json();
    assert!(v["response"].get("locked").is_none(), "absent, never false");
    assert_eq!(sb.lock_owner("201"), None);

    c.lock("201", true).await;
    let a = c.put("/files/file/201/lock", "{}").await;
    assert_eq!(a.status, 200);
    assert!(a.json()["response"].get("locked").is_none(), "{{}} unlocks");
    assert_eq!(
        c.lock("201", false).await.status,
        200,
        "unlock when unlocked"
    );

    // Property names bind case-insensitively.
    c.put("/files/file/202/lock", r#"{"LockFile":true}"#).await;
    assert_eq!(sb.lock_owner("202").as_deref(), Some("Sandbox Admin"));
    let bad = c.put("/files/file/202/lock", "{lockFile:").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["statusCode"], 400);
}

#[tokio::test]
async fn file_103_is_held_by_jane_and_keeps_its_first_owner() {
    let (sb, c) = default_sandbox().await;
    let f = c.get("/files/file/103").await.json()["response"].clone();
    assert_eq!(f["locked"], true);
    assert_eq!(f["lockedBy"], "Jane Auditor");
    assert_eq!(f["security"]["Edit"], false);
    assert_eq!(f["security"]["Lock"], true);
    assert_eq!(f["security"]["Read"], true);

    let f = c.lock("103", true).await.json()["response"].clone();
    assert_eq!(f["lockedBy"], "Jane Auditor", "first owner stays");
    assert_eq!(sb.lock_owner("103").as_deref(), Some("Jane Auditor"));

    let f = c.lock("103", false).await.json()["response"].clone();
    assert!(f.get("locked").is_none() && f.get("lockedBy").is_none());
    assert_eq!(sb.lock_owner("103"), None);

    sb.set_lock_owner("105", Some("Bob Finch"));
    let f = c.get("/files/file/105").await.json()["response"].clone();
    assert_eq!(f["lockedBy"], "Bob Finch");
    sb.set_lock_owner("105", None);
    sb.set_title("105", "=cmd|' /C calc'!A0");
    let f = c.get("/files/file/105").await.json()["response"].clone();
    assert!(f.get("locked").is_none());
    assert_eq!(f["title"], "=cmd|' /C calc'!A0");
}

#[tokio::test]
async fn read_only_and_missing_files() {
    let (_sb, c) = default_sandbox().await;
    let msg = "You do not have enough permissions to edit the file";
    assert_error(&c.lock("104", true).await, 403, msg, INVALID_OP_TYPE);
    assert_error(&c.lock("104", false).await, 403, msg, INVALID_OP_TYPE);
    assert_eq!(
        c.get("/files/file/104").await.json()["response"]["security"]["Lock"],
        false
    );

    let nf = "The required file was not found";
    assert_error(&c.lock("999", true).await, 404, nf, NOT_FOUND_TYPE);
    assert_error(&c.get("/files/file/999").await, 404, nf, NOT_FOUND_TYPE);
    // protectusers says 403 for a missing file, on every server version.
    assert_error(
        &c.get("/files/file/999/protectusers").await,
        403,
        nf,
        INVALID_OP_TYPE,
    );
    // A segment that does not decode to UTF-8 is just an ID that does not exist.
    assert_error(&c.get("/files/file/%FF").await, 404, nf, NOT_FOUND_TYPE);
    assert_eq!(c.get("/files/file/%FF/protectusers").await.status, 403);
    let a = c.get("/no/such/route").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["statusCode"], 404);
}

#[tokio::test]
async fn bad_keys() {
    let sb = sandbox(SandboxOptions {
        api_key: Some("sk-right".into()),
        ..Default::default()
    })
    .await;
    for auth in [None, Some("Bearer sk-wrong"), Some("sk-right")] {
        let c = Client::with_auth(&sb, auth);
        for a in [
            c.lock("201", true).await,
            c.get("/files/file/201/protectusers").await,
        ] {
            assert_eq!(a.status, 401, "{auth:?}");
            assert!(a.body.is_empty());
        }
        let a = c.get("/files/file/201").await;
        assert_eq!(a.status, 403, "AllowAnonymous: 403, not 401");
        assert_eq!(a.json()["statusCode"], 403);
        assert_eq!(c.get("/files/5003").await.status, 403);
        let v = c.get("/authentication").await.json();
        assert_eq!(v["response"], false);
    }
    let ok = Client::with_auth(&sb, Some("Bearer sk-right"));
    assert_eq!(ok.get("/authentication").await.json()["response"], true);
    assert_eq!(sb.lock_owner("201"), None);
}

#[tokio::test]
async fn protect_users() {
    let (sb, c) = default_sandbox().await;
    let v = c.get("/files/file/201/protectusers").await.json();
    assert_eq!(v["count"], 5);
    let list = v["response"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Alice Brown",
            "Carlos Diaz",
            "Mei Chen",
            "Omar Haddad",
            "Zoe Turner"
        ]
    );
    for m in list {
        assert_eq!(m["hasAccess"], false);
        assert_eq!(m["id"].as_str().unwrap().len(), 36);
        assert_eq!(m["user"]["id"], m["id"]);
        assert_eq!(m["email"], m["user"]["email"]);
        assert!(m["image"].as_str().unwrap().starts_with(&sb.url()));
    }
    // Through folder Q4 and room Finance; Restrict entries are skipped.
    let v = c.get("/files/file/151/protectusers").await.json();
    let names: Vec<&str> = v["response"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bob Finch", "Jane Auditor", "Quinn Ledger"]);
    assert_eq!(
        c.get("/files/file/202/protectusers").await.json()["count"],
        5
    );
    assert_eq!(
        c.get("/files/file/101/protectusers").await.json()["count"],
        2
    );
}

#[tokio::test]
async fn room_members_set_through_share_change_protectusers() {
    let (sb, c) = default_sandbox().await;
    let names = |v: serde_json::Value| -> Vec<String> {
        v["response"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    let id_of = |v: serde_json::Value, name: &str| -> String {
        let list = v["response"].as_array().unwrap().clone();
        let m = list.iter().find(|m| m["name"] == name).unwrap();
        m["id"].as_str().unwrap().to_string()
    };
    let pat = id_of(
        c.get("/files/file/105/protectusers").await.json(),
        "Pat Reviewer",
    );
    let jane = id_of(
        c.get("/files/file/101/protectusers").await.json(),
        "Jane Auditor",
    );
    // Pat joins Finance (access as a name), Jane leaves it (0 = None); an unknown user and an
    // entry without access are dropped without an error.
    let body = json!({"invitations": [
        {"id": pat, "access": "Read"},
        {"id": jane, "access": 0},
        {"id": "00000000-0000-0000-0000-000000000000", "access": 2},
        {"id": pat},
    ], "notify": false});
    let a = c.put("/files/rooms/5001/share", &body.to_string()).await;
    assert_eq!(a.status, 200);
    let members = &a.json()["response"]["members"];
    assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
    assert_eq!(members[0]["access"], 2);
    assert_eq!(members[0]["sharedToUser"]["name"], "Pat Reviewer");
    assert_eq!(
        names(c.get("/files/file/101/protectusers").await.json()),
        ["Bob Finch", "Pat Reviewer"]
    );
    // Pat's file-level review share on 105 still counts once.
    assert_eq!(
        names(c.get("/files/file/105/protectusers").await.json()),
        ["Bob Finch", "Pat Reviewer"]
    );
    // Legal is untouched.
    assert_eq!(
        c.get("/files/file/201/protectusers").await.json()["count"],
        5
    );
    // A folder that is not a room, a connected-storage room, no JSON, no key.
    for path in ["/files/rooms/5002/share", "/files/rooms/box-12/share"] {
        assert_eq!(
            c.put(path, r#"{"invitations":[]}"#).await.status,
            404,
            "{path}"
        );
    }
    let a = c
        .try_send(reqwest::Method::PUT, "/files/rooms/5001/share", None)
        .await
        .unwrap();
    assert_eq!(a.status, 415);
    let anon = Client::with_auth(&sb, None);
    assert_eq!(anon.put("/files/rooms/5001/share", "{}").await.status, 401);
}

#[tokio::test]
async fn folder_paging() {
    let sb = sandbox(SandboxOptions {
        files: 250,
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    let mut ids = Vec::new();
    for (start, expect) in [(0, 100), (100, 100), (200, 50)] {
        let v = c
            .get(&format!("/files/6000?startIndex={start}&count=100"))
            .await
            .json();
        assert_eq!(v["count"], 1, "envelope count is 1 for an object");
        let r = &v["response"];
        assert_eq!(r["total"], 250);
        assert_eq!(r["count"], expect);
        assert_eq!(r["startIndex"], start);
        assert_eq!(r["current"]["id"], 6000);
        ids.extend(
            r["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_u64().unwrap()),
        );
    }
    assert_eq!(ids, (100_000..100_250).collect::<Vec<u64>>());
    for bad in ["count=101", "count=0"] {
        let a = c.get(&format!("/files/6000?{bad}")).await;
        assert_eq!(a.status, 400);
        let v = a.json();
        assert_eq!(
            (v["status"].clone(), v["statusCode"].clone()),
            (json!(1), json!(400))
        );
    }
    // Folders first, then files.
    let r = c.get("/files/5001?count=2").await.json()["response"].clone();
    assert_eq!(r["total"], 51);
    assert_eq!(r["folders"][0]["id"], 5002);
    assert_eq!(r["files"][0]["id"], 101);
    let r = c.get("/files/5001?filterType=1").await.json()["response"].clone();
    assert_eq!(r["total"], 60, "FilesOnly lists the subtree");
    assert_eq!(c.get("/files/7777").await.status, 404);
}

#[tokio::test]
async fn connected_storage_ids() {
    let (sb, c) = default_sandbox().await;
    let a = c.get("/files/file/box-12-%7C123").await;
    assert_eq!(a.status, 200);
    let f = a.json()["response"].clone();
    assert_eq!(f["id"], "box-12-|123");
    assert_eq!(f["folderId"], "box-12");
    assert_eq!(f["rootFolderId"], "4");
    assert_eq!(f["providerItem"], true);
    assert_eq!(f["providerKey"], "Box");
    assert_eq!(c.lock("box-12-%7C123", true).await.status, 200);
    assert_eq!(
        sb.lock_owner("box-12-|123").as_deref(),
        Some("Sandbox Admin")
    );
    assert_eq!(
        c.get("/files/file/dropbox-337-L9Cd0L7QstGL0Lkg")
            .await
            .status,
        200
    );
    // `%2F` stays inside the segment: an ID that does not exist, not another route.
    assert_eq!(c.get("/files/file/box-12-%2F123").await.status, 404);
    assert_eq!(c.lock("box-12-%2F123", true).await.status, 404);
    let r = c.get("/files/dropbox-337").await.json()["response"].clone();
    assert_eq!(r["folders"][0]["id"], "dropbox-337-LzEyMw");
    assert_eq!(r["files"].as_array().unwrap().len(), 2);
    let r = c.get("/files/dropbox-337-LzEyMw").await.json()["response"].clone();
    assert_eq!(r["total"], 1);
    let paths: Vec<String> = sb.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.contains(&"/api/2.0/files/file/box-12-%7C123".to_string()),
        "raw paths"
    );
}

#[tokio::test]
async fn bulk_of_a_million_starts_fast() {
    let started = std::time::Instant::now();
    let sb = sandbox(SandboxOptions {
        files: 1_000_000,
        ..Default::default()
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    let c = Client::new(&sb);
    assert_eq!(c.get("/files/file/1099999").await.status, 200);
    assert_eq!(c.get("/files/file/1100000").await.status, 404);
    let r = c.get("/files/6000?startIndex=999990").await.json()["response"].clone();
    assert_eq!(
        (r["total"].clone(), r["count"].clone()),
        (json!(1_000_000), json!(10))
    );
}
