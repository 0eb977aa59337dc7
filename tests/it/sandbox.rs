//! The sandbox contract (the seeded data set, and the real server's answers, quirks included),
//! request by request, against an in-process [`Sandbox`] on `127.0.0.1:0`; plus one end-to-end
//! run of `docspace-batch sandbox`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use docspace_batch::sandbox::{Injected, Sandbox, SandboxOptions};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::common::{wait_until, Cli};

/// One answer: status, headers, raw body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A client bound to one sandbox, sending `Bearer <key>` unless told otherwise.
struct Client {
    http: reqwest::Client,
    base: String,
    auth: Option<String>,
}

impl Client {
    fn new(sb: &Sandbox) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: format!("{}/api/2.0", sb.url()),
            auth: Some(format!("Bearer {}", sb.api_key())),
        }
    }

    fn with_auth(sb: &Sandbox, auth: Option<&str>) -> Client {
        Client {
            auth: auth.map(str::to_owned),
            ..Client::new(sb)
        }
    }

    async fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
    ) -> reqwest::Result<Answer> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn get(&self, path: &str) -> Answer {
        self.try_send(reqwest::Method::GET, path, None)
            .await
            .expect("GET")
    }

    async fn put(&self, path: &str, body: &str) -> Answer {
        self.try_send(reqwest::Method::PUT, path, Some(body))
            .await
            .expect("PUT")
    }

    async fn lock(&self, id: &str, lock: bool) -> Answer {
        self.put(
            &format!("/files/file/{id}/lock"),
            &json!({ "lockFile": lock }).to_string(),
        )
        .await
    }
}

async fn sandbox(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts).await.expect("start sandbox")
}

async fn default_sandbox() -> (Sandbox, Client) {
    let sb = sandbox(SandboxOptions::default()).await;
    let c = Client::new(&sb);
    (sb, c)
}

fn assert_error(a: &Answer, status: u16, message: &str, ty: &str) {
    assert_eq!(a.status, status, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["status"], 1);
    assert_eq!(v["statusCode"], status);
    assert_eq!(v["error"]["message"], message);
    assert_eq!(v["error"]["type"], ty);
    assert!(v["error"]["hresult"].is_i64());
    assert!(v["error"]["stack"]
        .as_str()
        .is_some_and(|s| s.starts_with("   at ")));
}

const NOT_FOUND_TYPE: &str = "ASC.Common.Web.ItemNotFoundException";
const INVALID_OP_TYPE: &str = "System.InvalidOperationException";

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
async fn sliding_window_429_has_no_body_and_no_retry_after() {
    let sb = sandbox(SandboxOptions {
        limit_rate: Some((3, Duration::from_secs(60))),
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    for _ in 0..3 {
        assert_eq!(c.get("/files/file/101").await.status, 200);
    }
    let a = c.get("/files/file/101").await;
    assert_eq!(a.status, 429);
    assert!(a.body.is_empty());
    assert_eq!(a.header("retry-after"), None);
    assert_eq!(a.header("x-ratelimit-reset"), None);
    assert_eq!(a.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(a.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(sb.status_counts().get(&429), Some(&1));
}

#[tokio::test]
async fn writes_in_flight_limit() {
    let sb = sandbox(SandboxOptions {
        limit_writes: Some(2),
        latency: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    let ids = ["201", "202", "203", "204", "205"];
    let answers = futures::future::join_all(ids.iter().map(|id| c.lock(id, true))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429, 429, 429]);
    for a in answers.iter().filter(|a| a.status == 429) {
        assert!(a.body.is_empty());
        assert_eq!(a.header("retry-after"), None);
        assert_eq!(a.header("x-ratelimit-limit"), Some("2"));
    }
    assert!(sb.max_in_flight() >= 3, "{}", sb.max_in_flight());
    // Reads are limited separately.
    assert_eq!(c.get("/files/file/201").await.status, 200);
}

#[tokio::test]
async fn daily_write_cap() {
    let sb = sandbox(SandboxOptions {
        limit_daily_writes: Some(2),
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    assert_eq!(c.lock("201", true).await.status, 200);
    assert_eq!(c.lock("201", false).await.status, 200);
    assert_eq!(c.get("/files/file/201").await.status, 200, "GETs are free");
    let a = c.lock("201", true).await;
    assert_eq!(a.status, 429);
    assert!(a.body.is_empty());
    let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((86_300..=86_400).contains(&retry), "{retry}");
    let reset: u64 = a.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset.abs_diff(now + 86_400) < 120, "{reset} vs {now}");
}

/// Sends `n` sequential GETs; a failed request (dropped connection) counts as 0.
async fn outcomes(sb: &Sandbox, n: usize) -> Vec<u16> {
    let c = Client::new(sb);
    let mut out = Vec::new();
    for _ in 0..n {
        let r = c
            .try_send(reqwest::Method::GET, "/files/file/101", None)
            .await;
        out.push(r.map(|a| a.status).unwrap_or(0));
    }
    out
}

#[tokio::test]
async fn faults_are_repeatable_per_seed() {
    let opts = |seed| SandboxOptions {
        faults: 0.5,
        seed,
        ..Default::default()
    };
    let (a, b, other) = (
        sandbox(opts(42)).await,
        sandbox(opts(42)).await,
        sandbox(opts(43)).await,
    );
    let run_a = outcomes(&a, 40).await;
    assert_eq!(run_a, outcomes(&b, 40).await);
    assert_ne!(run_a, outcomes(&other, 40).await);
    for s in [0, 200, 500, 502, 503] {
        assert!(run_a.contains(&s), "{s} in {run_a:?}");
    }
    let counts = a.status_counts();
    assert_eq!(counts.values().sum::<u64>(), 40);
    let dropped = run_a.iter().filter(|s| **s == 0).count() as u64;
    assert_eq!(counts.get(&0).copied().unwrap_or(0), dropped);

    // 502 is nginx's HTML page.
    let idx = run_a.iter().position(|s| *s == 502).unwrap();
    let fresh = sandbox(opts(42)).await;
    let c = Client::new(&fresh);
    for _ in 0..idx {
        let _ = c
            .try_send(reqwest::Method::GET, "/files/file/101", None)
            .await;
    }
    let page = c.get("/files/file/101").await;
    assert_eq!(page.status, 502);
    assert_eq!(page.header("content-type"), Some("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("<h1>502 Bad Gateway</h1>"));
}

#[tokio::test]
async fn interceptor_and_request_log() {
    let sb = sandbox(SandboxOptions {
        api_key: Some("sk-log".into()),
        interceptor: Some(Arc::new(|r| match r.n {
            0 => Some(Injected::Drop),
            1 => Some(Injected::Respond {
                status: 503,
                headers: vec![("X-Test".into(), "yes".into())],
                body: b"busy".to_vec(),
            }),
            2 => Some(Injected::Delay(Duration::from_millis(50))),
            _ => None,
        })),
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    let dropped = c
        .try_send(reqwest::Method::GET, "/files/file/101", None)
        .await;
    assert!(dropped.is_err(), "a dropped connection is a client error");
    let a = c.get("/files/file/101").await;
    assert_eq!((a.status, a.header("x-test")), (503, Some("yes")));
    assert_eq!(a.body, b"busy");
    assert_eq!(c.lock("box-12-%7C123", true).await.status, 200);
    assert_eq!(c.get("/files/6000?count=5").await.status, 200);

    let log = sb.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [0, 503, 200, 200]
    );
    let put = &log[2];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.path, "/api/2.0/files/file/box-12-%7C123/lock");
    assert_eq!(put.body, r#"{"lockFile":true}"#);
    assert_eq!(put.authorization.as_deref(), Some("Bearer sk-log"));
    assert!(put.end - put.start >= Duration::from_millis(50));
    assert_eq!(log[3].query.as_deref(), Some("count=5"));
    assert!(log.windows(2).all(|w| w[0].start <= w[1].start));
    assert_eq!(sb.status_counts().get(&0), Some(&1));
    sb.shutdown().await;
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

#[tokio::test]
async fn cli_binary_serves_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = Cli::new(&dir)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--api-key", "sk-test"])
        .spawn();
    assert!(
        wait_until(Duration::from_secs(30), || child
            .stdout_so_far()
            .contains('\n'))
        .await,
        "the sandbox prints its URL"
    );
    let first = child.stdout_so_far().lines().next().unwrap().to_string();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    let http = reqwest::Client::new();
    let base = format!("{url}/api/2.0/files/file/201");
    for (method, path, body) in [
        (reqwest::Method::PUT, "/lock", Some(r#"{"lockFile":true}"#)),
        (reqwest::Method::PUT, "/lock", Some(r#"{"lockFile":false}"#)),
        (reqwest::Method::GET, "/protectusers", None),
    ] {
        let mut req = http
            .request(method, format!("{base}{path}"))
            .header("Authorization", "Bearer sk-test");
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        assert_eq!(req.send().await.unwrap().status(), 200, "{path}");
    }
    child.signal("TERM");
    let o = child.wait(Duration::from_secs(30)).await;
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let out = o.stdout();
    let rest = out.split_once('\n').map_or("", |(_, rest)| rest);
    assert!(rest.contains("API key: sk-test"), "{rest}");
    assert!(rest.contains("requests by status: 200=3"), "{rest}");
}
