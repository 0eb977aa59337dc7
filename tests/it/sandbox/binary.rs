//! `docspace-batch sandbox` as a process: it prints its URL first, serves, and on SIGTERM prints
//! the count of requests by status and exits 0.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

#[tokio::test]
async fn cli_binary_serves_until_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_docspace-batch"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--api-key", "sk-test"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn docspace-batch sandbox");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
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
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("API key: sk-test"), "{rest}");
    assert!(rest.contains("requests by status: 200=3"), "{rest}");
}

/// SIGTERM sent the moment the URL line is read must still end in the clean summary and exit 0:
/// the listeners are in place before anything is printed. Several tries, because the window
/// this guards is a race.
#[test]
fn cli_binary_sigterm_right_after_url_line_exits_cleanly() {
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_docspace-batch"))
            .args(["sandbox", "--listen", "127.0.0.1:0", "--api-key", "sk-test"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docspace-batch sandbox");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("http://127.0.0.1:"), "{first:?}");
        // kill(2) directly: kill(1) would take a fork and exec, widening the gap this closes.
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert!(rest.contains("requests by status: none"), "{rest}");
    }
}
