//! A client that goes away mid-request: `latency` waits before the change, so the request is
//! cancelled; `answer_delay` waits after it, so the change stays, as with a remote portal whose
//! answer is still on the wire when the client dies.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::common::wait_until;

/// Sends a lock PUT for `id` and drops the client, closing its connection, as soon as the
/// sandbox has received the request: a client killed mid-request. Returns once the sandbox has
/// seen the connection go (the PUT finished as dropped, status 0).
async fn lock_then_vanish(sb: &Sandbox, id: &str) {
    let c = Client::new(sb);
    let body = json!({ "lockFile": true }).to_string();
    let path = format!("/files/file/{id}/lock");
    let put = tokio::spawn(async move {
        let _ = c.try_send(reqwest::Method::PUT, &path, Some(&body)).await;
    });
    let logged = format!("/api/2.0/files/file/{id}/lock");
    let arrived = wait_until(Duration::from_secs(10), || {
        sb.requests().iter().any(|r| r.path == logged)
    })
    .await;
    assert!(arrived, "the PUT never arrived");
    put.abort();
    let gone = wait_until(Duration::from_secs(10), || {
        sb.status_counts().get(&0) == Some(&1)
    })
    .await;
    assert!(gone, "no disconnect seen: {:?}", sb.requests());
}

#[tokio::test]
async fn answer_delay_keeps_a_lock_whose_client_went_away() {
    let delay = Duration::from_secs(2);
    let sb = sandbox(SandboxOptions {
        answer_delay: delay,
        ..Default::default()
    })
    .await;
    lock_then_vanish(&sb, "201").await;
    assert_eq!(sb.lock_owner("201").as_deref(), Some("Sandbox Admin"));
    let c = Client::new(&sb);
    let asked = std::time::Instant::now();
    let f = c.get("/files/file/201").await.json()["response"].clone();
    assert_eq!(f["locked"], true, "{f}");
    assert!(
        asked.elapsed() >= delay,
        "the answer waits: {:?}",
        asked.elapsed()
    );
    let log = sb.requests();
    let puts: Vec<_> = log.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 1, "{log:?}");
    assert_eq!(puts[0].path, "/api/2.0/files/file/201/lock");
    assert_eq!(puts[0].status, 0, "the answer never left");
}

#[tokio::test]
async fn latency_cancels_a_lock_whose_client_went_away() {
    // The wait comes before the change, so a client that goes away during it cancels the
    // request; the long latency only makes sure it goes away during that wait.
    let sb = sandbox(SandboxOptions {
        latency: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    lock_then_vanish(&sb, "201").await;
    assert_eq!(sb.lock_owner("201"), None);
    let log = sb.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].method.as_str(), log[0].status), ("PUT", 0));
}
