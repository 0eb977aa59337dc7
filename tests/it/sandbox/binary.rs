//! `docspace-batch sandbox` as a process: it prints its URL first, serves, and on SIGTERM prints
//! the count of requests by status and exits 0.

use std::time::Duration;

use crate::common::{wait_until, Cli, Running};

/// `docspace-batch sandbox` on a free port with key `sk-test`, and the first line it printed.
async fn start(dir: &tempfile::TempDir) -> (Running, String) {
    let child = Cli::new(dir)
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
    (child, first)
}

#[tokio::test]
async fn cli_binary_serves_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, first) = start(&dir).await;
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

/// SIGTERM sent the moment the URL line is read must still end in the clean summary and exit 0:
/// the listeners are in place before anything is printed. Several tries, because the window
/// this guards is a race.
#[tokio::test]
async fn cli_binary_sigterm_right_after_url_line_exits_cleanly() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (child, first) = start(&dir).await;
        assert!(first.contains("http://127.0.0.1:"), "{first}");
        // kill(2) directly: kill(1) would take a fork and exec, widening the gap this closes.
        let pid = libc::pid_t::try_from(child.pid()).unwrap();
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let o = child.wait(Duration::from_secs(30)).await;
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert!(
            o.stdout().contains("requests by status: none"),
            "{}",
            o.stdout()
        );
    }
}
