//! A run that never reaches the portal (connection refused, no such host, https to a plain-http
//! port) or whose credential is refused says "nothing was written" and leaves no report
//! directory behind: no empty run for `--resume latest` to pick, no directory the next run with
//! the same `--report-dir` has to step around.

use std::path::Path;

use crate::common::*;

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Every entry under `dir`, relative, sorted: what a run left in its working directory.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn run_lock(w: &Work, url: &str, key: &str, extra: &[&str]) -> Ran {
    Cli::new(w)
        .args(["run", "job.csv", "--progress", "never", "--retries", "0"])
        .args(extra)
        .portal(url, Some(key))
        .run()
}

#[test]
fn a_refused_connection_leaves_no_report_directory() {
    let w = Work::new();
    w.csv_job("job.csv", [101], "lock");
    let url = format!("http://127.0.0.1:{}", closed_port());
    let o = run_lock(&w, &url, "sk-unused", &[]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(o.stderr().contains("nothing was written"), "{}", o.stderr());
    assert_eq!(tree(w.path()), ["job.csv"], "not even an empty reports/");
    // A --report-dir with missing parents: all of them go again.
    let o = run_lock(&w, &url, "sk-unused", &["--report-dir", "a/b/c"]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert_eq!(tree(w.path()), ["job.csv"]);
}

#[test]
fn directories_that_were_there_before_stay() {
    let w = Work::new();
    w.csv_job("job.csv", [101], "lock");
    std::fs::create_dir_all(w.path().join("reports/keep")).unwrap();
    std::fs::create_dir(w.path().join("mine")).unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let o = run_lock(&w, &url, "sk-unused", &[]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    let o = run_lock(&w, &url, "sk-unused", &["--report-dir", "mine/run"]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert_eq!(
        tree(w.path()),
        ["job.csv", "mine", "reports", "reports/keep"]
    );
    // An existing --report-dir stays, without the record this run began in it; a file of the
    // operator's that happens to have a report's name stays too.
    std::fs::write(w.path().join("mine/results.csv"), "mine\n").unwrap();
    let o = run_lock(&w, &url, "sk-unused", &["--report-dir", "mine"]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert_eq!(
        tree(w.path()),
        [
            "job.csv",
            "mine",
            "mine/results.csv",
            "reports",
            "reports/keep"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_record_in_the_directory_survives_a_run_that_could_not_start() {
    let sb = sandbox().await;
    let w = Work::new();
    w.csv_job("job.csv", [101], "lock");
    let o = run_lock(
        &w,
        &sb.url(),
        sb.api_key(),
        &["--dry-run", "--report-dir", "r"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let before = tree(w.path());
    assert!(before.contains(&"r/run.db".to_string()), "{before:?}");
    let o = run_lock(&w, &sb.url(), "sk-wrong", &["--report-dir", "r"]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    let after = tree(w.path());
    assert!(after.contains(&"r/run.db".to_string()), "{after:?}");
    // The rehearsed plan is still there for the real run.
    let o = run_lock(&w, &sb.url(), sb.api_key(), &["--report-dir", "r"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_port_is_named_and_leaves_nothing() {
    let sb = sandbox().await;
    let w = Work::new();
    w.csv_job("job.csv", [101], "lock");
    let url = sb.url().replacen("http://", "https://", 1);
    let o = run_lock(&w, &url, sb.api_key(), &[]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(
        o.stderr().contains("the port speaks plain http"),
        "{}",
        o.stderr()
    );
    assert!(sb.requests().is_empty(), "no HTTP request was understood");
    assert_eq!(tree(w.path()), ["job.csv"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_leaves_no_report_directory_and_the_retry_works() {
    let sb = sandbox().await;
    let w = Work::new();
    w.csv_job("job.csv", [101], "lock");
    let o = run_lock(&w, &sb.url(), "sk-wrong", &[]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(o.stderr().contains("nothing was written"), "{}", o.stderr());
    assert_eq!(sb.requests().len(), 1, "the key check only");
    assert_eq!(tree(w.path()), ["job.csv"]);
    // `--resume latest` has no empty run to pick: it says there is none.
    let o = Cli::new(&w)
        .args(["run", "--resume", "latest", "--progress", "never"])
        .sandbox(&sb)
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    let o = run_lock(&w, &sb.url(), sb.api_key(), &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let runs = std::fs::read_dir(w.path().join("reports")).unwrap().count();
    assert_eq!(runs, 1, "{:?}", tree(w.path()));
}

/// A loopback port that accepts connections and hangs up on them, as a TLS-only server does
/// with a plain-HTTP request; or answers `answer` first when given (nginx's words).
fn tls_like_port(answer: Option<&'static [u8]>) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            if let Some(a) = answer {
                let _ = s.write_all(a);
            }
        }
    });
    port
}

#[test]
fn http_to_a_port_that_speaks_https_is_named() {
    let w = Work::new();
    w.csv_job("job.csv", [101], "lock");
    // A server that hangs up without a word: only a hint, with the URL to try.
    let port = tls_like_port(None);
    let o = run_lock(&w, &format!("http://127.0.0.1:{port}"), "sk-unused", &[]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(
        o.stderr().contains(&format!(
            "if that port speaks https, use https://127.0.0.1:{port}"
        )),
        "{}",
        o.stderr()
    );
    // nginx says it in words.
    let nginx: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 90\r\nConnection: close\r\n\r\n<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head></html>";
    let port = tls_like_port(Some(nginx));
    let o = run_lock(&w, &format!("http://127.0.0.1:{port}"), "sk-unused", &[]);
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(
        o.stderr().contains("the port speaks https, not plain http"),
        "{}",
        o.stderr()
    );
    // Connection refused is not that.
    let o = run_lock(
        &w,
        &format!("http://127.0.0.1:{}", closed_port()),
        "sk-unused",
        &[],
    );
    assert!(!o.stderr().contains("speaks https"), "{}", o.stderr());
    assert_eq!(tree(w.path()), ["job.csv"]);
}
