//! DocSpace's limiter (sliding window, writes in flight, daily cap), injected faults, the test
//! interceptor and the request log.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use docspace_batch::sandbox::Injected;

use super::*;

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
