//! Hostile input, hostile portals and the credential (issues 5 and 15): the real binary against
//! in-process sandboxes. Every refusal is exit 2 with nothing sent; no secret (an API key, a
//! session token, a password, a token a sign-in issued) ever shows anywhere.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use docspace_batch::sandbox::{Injected, InterceptRequest, Sandbox, SandboxOptions};

use crate::common::*;
use crate::hostile_table::{hostile_dir, hostile_table};

/// A key that is easy to find in any output.
const CANARY: &str = "sk-CANARY0123456789abcdef0123456789";
/// A session token, likewise.
const CANARY_TOKEN: &str = "tok-CANARY-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
/// A password, likewise.
const CANARY_PASSWORD: &str = "pw-CANARY-f0e1d2c3b4a59687";

/// Each kind of credential, with the canary secrets the sandbox of [`canary_options`] accepts.
fn every_cred() -> [Cred; 3] {
    [
        Cred::Key(CANARY.into()),
        Cred::Token(CANARY_TOKEN.into()),
        Cred::caller(CANARY_PASSWORD),
    ]
}

/// A sandbox that accepts the canary key, token and password.
fn canary_options() -> SandboxOptions {
    SandboxOptions {
        api_key: Some(CANARY.into()),
        token: Some(CANARY_TOKEN.into()),
        password: Some(CANARY_PASSWORD.into()),
        ..SandboxOptions::default()
    }
}

fn intercepting(
    f: impl Fn(&InterceptRequest) -> Option<Injected> + Send + Sync + 'static,
) -> SandboxOptions {
    SandboxOptions {
        interceptor: Some(Arc::new(f)),
        ..canary_options()
    }
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Option<Injected> {
    Some(Injected::Respond {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.into(),
    })
}

fn is_file(r: &InterceptRequest, id: &str) -> bool {
    r.path == format!("/api/2.0/files/file/{id}")
}

// ---------------------------------------------------------------------------------------------
// Input: every file of tests/hostile/ through `validate` and `run`.

/// Checks one refusal: exit 2, the fragment, the file name, no panic.
fn assert_refused(what: &str, o: &Ran, file: &str, fragment: &str) -> Result<(), String> {
    let err = o.stderr();
    let mut problems = Vec::new();
    if o.code() != 2 {
        problems.push(format!("exit {} instead of 2", o.code()));
    }
    if !err.contains(fragment) {
        problems.push(format!("no `{fragment}` in the message"));
    }
    if !err.contains(file) {
        problems.push(format!("the message does not name {file}"));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("panic".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what} {file}: {}\n--- stderr:\n{err}",
            problems.join("; ")
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_job_file_is_refused_by_validate_and_run_with_nothing_sent() {
    // Fails unless every file in the directory has a row and every row a file.
    let table = hostile_table();
    let mut sandboxes = Vec::new();
    for _ in &table {
        sandboxes.push(sandbox().await);
    }
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((file, fragment)) = table.get(i) else {
                        break;
                    };
                    let sb = &sandboxes[i];
                    let path = hostile_dir().join(file);
                    let p = path.to_str().unwrap();
                    let w = Work::new();
                    let fail = |m: String| failures.lock().unwrap().push(m);
                    let v = Cli::new(&w).args(["validate", p]).run();
                    if let Err(m) = assert_refused("validate", &v, file, fragment) {
                        fail(m);
                    }
                    let r = Cli::new(&w).sandbox(sb).job([p]).run();
                    if let Err(m) = assert_refused("run", &r, file, fragment) {
                        fail(m);
                    }
                    if !sb.requests().is_empty() {
                        fail(format!(
                            "run {file}: the sandbox received {} requests",
                            sb.requests().len()
                        ));
                    }
                    if w.report().exists() {
                        fail(format!("run {file}: a report directory was created"));
                    }
                });
            }
        })
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A generated job file through `validate` and `run`: exit 2, `fragment`, the name, nothing sent.
async fn refused_generated(w: &Work, name: &str, fragment: &str) {
    let sb = sandbox().await;
    let p = w.path().join(name);
    let p = p.to_str().unwrap();
    let v = Cli::new(w).args(["validate", p]).run();
    assert_refused("validate", &v, name, fragment).unwrap();
    let r = Cli::new(w).sandbox(&sb).job([p]).run();
    assert_refused("run", &r, name, fragment).unwrap();
    assert!(sb.requests().is_empty(), "nothing is sent");
    assert!(!w.report().exists(), "no report directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_yaml_file_is_refused() {
    let w = Work::new();
    // A real (not sparse) 100 MB file of valid-looking YAML.
    let mut text = String::with_capacity(100 * 1024 * 1024 + 64);
    text.push_str("jobs:\n  - actions: [lock]\n    files:\n");
    while text.len() < 100 * 1024 * 1024 {
        text.push_str("      - 1234567890\n");
    }
    std::fs::write(w.path().join("huge.yaml"), &text).unwrap();
    drop(text);
    refused_generated(&w, "huge.yaml", "the limit is 4 MiB").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_mb_csv_line_is_refused() {
    let w = Work::new();
    let mut text = String::from("file_id,action\n101,lock\n");
    text.push_str(&"7".repeat(1024 * 1024));
    text.push_str(",lock\n");
    w.file("long-line.csv", &text);
    refused_generated(&w, "long-line.csv", "long-line.csv:3: invalid file ID").await;
    // The same line as a quoted field spanning several lines.
    let w = Work::new();
    let mut text = String::from("file_id,action\n101,lock\n\"");
    for _ in 0..16 {
        text.push_str(&"a".repeat(64 * 1024));
        text.push('\n');
    }
    text.push_str("\",lock\n");
    w.file("long-quoted.csv", &text);
    refused_generated(&w, "long-quoted.csv", "long-quoted.csv:3:").await;
}

// ---------------------------------------------------------------------------------------------
// No secret shows: stdout, stderr (text and JSON) and every report file (run.db included), for
// each kind of credential, whatever fails.

fn assert_no_key(label: &str, o: &Ran, w: &Work, key: &str) {
    let half = &key[key.len() / 2..];
    for (what, bytes) in [("stdout", &o.output.stdout), ("stderr", &o.output.stderr)] {
        for k in [key, half] {
            assert!(
                !contains_bytes(bytes, k.as_bytes()),
                "{label}: the secret is in {what}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
    let files = files_below(w.path());
    for (p, bytes) in &files {
        for k in [key, half] {
            assert!(
                !contains_bytes(bytes, k.as_bytes()),
                "{label}: the secret is in {}",
                p.display()
            );
        }
    }
}

/// One run of a leak check: its label, output and work directory.
struct LeakRun {
    label: String,
    out: Ran,
    work: Work,
    cred: Cred,
}

/// Runs `job` against `sb` with each of `creds`, in text and JSON logs (all side by side), with
/// `args`; checks the exit code (`want_exit` for that credential) and that the credential's
/// secret, and every token the sandbox issued to a sign-in, appears nowhere. Returns each
/// run's label and stderr.
fn leak_check(
    label: &str,
    sb: &Sandbox,
    creds: &[Cred],
    job: &str,
    args: &[&str],
    want_exit: impl Fn(&Cred) -> i32 + Sync,
) -> Vec<(String, String)> {
    let run = |cred: &Cred, fmt: &str| {
        let w = Work::new();
        let p = w.file("job.yaml", job);
        // The rate is beside the point here; the default 20/s would only add waiting.
        let mut all = vec![
            p.to_str().unwrap(),
            "--log-format",
            fmt,
            "--rate",
            "unlimited",
        ];
        all.extend_from_slice(args);
        let out = Cli::new(&w).with_cred(&sb.url(), cred).job(&all).run();
        LeakRun {
            label: format!("{label} ({}, {fmt})", cred.kind()),
            out,
            work: w,
            cred: cred.clone(),
        }
    };
    // The runs mostly wait on timeouts and backoff: run them all at the same time.
    let runs: Vec<LeakRun> = tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = creds
                .iter()
                .flat_map(|c| ["text", "json"].map(|fmt| (c, fmt)))
                .map(|(c, fmt)| s.spawn(move || run(c, fmt)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    });
    // Known only now: the tokens the sandbox issued to the sign-ins of these runs.
    let issued: Vec<String> = sb
        .tokens()
        .into_iter()
        .filter(|t| t != CANARY_TOKEN)
        .collect();
    for r in &runs {
        let want = want_exit(&r.cred);
        assert_eq!(r.out.code(), want, "{}: {}", r.label, r.out.stderr());
        assert!(
            r.work.report().join("results.csv").exists() || want == 3,
            "{}: reports written",
            r.label
        );
        assert_no_key(&r.label, &r.out, &r.work, r.cred.secret());
        for t in &issued {
            assert_no_key(&format!("{} (issued token)", r.label), &r.out, &r.work, t);
        }
    }
    runs.into_iter()
        .map(|r| (r.label, r.out.stderr()))
        .collect()
}

const LOCK_101: &str = "jobs:\n  - files: [101, 102]\n    actions: [info, lock, protectusers]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shown_when_the_portal_rejects_the_credential() {
    // The sandbox expects another key, knows no canary token and has another password: the
    // check (or the sign-in) is refused.
    let sb = sandbox().await;
    let errs = leak_check("rejected", &sb, &every_cred(), LOCK_101, &[], |_| 3);
    for (label, err) in &errs {
        let want = if label.contains("password") {
            "refused the sign-in"
        } else if label.contains("token") {
            "rejected the session token"
        } else {
            "rejected the API key"
        };
        assert!(err.contains(want), "{label}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shown_after_401_403_and_5xx_even_when_the_portal_echoes_it() {
    // 101: lock → 401 during the run (abort, exit 3).
    let sb = sandbox_with(intercepting(|r| {
        (r.method == "PUT").then(|| respond(401, &[], "")).flatten()
    }))
    .await;
    leak_check(
        "401 mid-run",
        &sb,
        &every_cred(),
        LOCK_101,
        &["--no-check-state"],
        |_| 3,
    );

    // 403 and 5xx whose bodies repeat every secret (a chatty proxy or a hostile portal).
    let all = format!("{CANARY} {CANARY_TOKEN} {CANARY_PASSWORD}");
    let echo = format!(
        r#"{{"status":1,"statusCode":403,"error":{{"message":"token Bearer {all} may not do this"}}}}"#
    );
    let html = format!("<html><body>502 upstream said Authorization: Bearer {all}</body></html>");
    let json500 = format!(r#"{{"status":1,"statusCode":500,"error":{{"message":"boom {all}"}}}}"#);
    let sb = sandbox_with(intercepting(move |r| {
        if r.path.ends_with("/protectusers") {
            respond(403, &[], echo.clone())
        } else if r.method == "PUT" && r.path.contains("/101/") {
            respond(502, &[("content-type", "text/html")], html.clone())
        } else if r.method == "PUT" {
            respond(500, &[], json500.clone())
        } else {
            None
        }
    }))
    .await;
    leak_check(
        "403/5xx",
        &sb,
        &every_cred(),
        LOCK_101,
        &["--no-check-state", "--retries", "1"],
        |_| 1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shown_after_timeouts_and_dropped_connections() {
    let sb = sandbox_with(intercepting(|r| {
        if r.method == "PUT" {
            Some(Injected::Delay(Duration::from_secs(3)))
        } else if r.path.ends_with("/protectusers") {
            Some(Injected::Drop)
        } else {
            None
        }
    }))
    .await;
    leak_check(
        "timeout",
        &sb,
        &every_cred(),
        LOCK_101,
        &["--no-check-state", "--retries", "1", "--timeout", "300ms"],
        |_| 1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_the_target_never_sees_a_secret() {
    let target = sandbox_with(canary_options()).await;
    // The hostile portal even puts the secrets into the redirect target.
    let to_api = format!(
        "{}/api/2.0/files/file/101?leak={CANARY}&t={CANARY_TOKEN}&p={CANARY_PASSWORD}",
        target.url()
    );
    let to_auth = format!("{}/api/2.0/authentication", target.url());
    // First: the check or the sign-in itself is redirected (a moved portal).
    let sb = sandbox_with(intercepting(move |_| {
        respond(307, &[("location", to_auth.as_str())], "")
    }))
    .await;
    let errs = leak_check(
        "redirect at start",
        &sb,
        &every_cred(),
        LOCK_101,
        &[],
        |_| 3,
    );
    let host = target.addr().to_string();
    for (label, err) in &errs {
        assert!(
            err.contains("redirected to") && err.contains(&host),
            "{label} names the target: {err}"
        );
    }
    // Then: everything after the sign-in or the check is redirected.
    let sb = sandbox_with(intercepting(move |r| {
        (r.path != "/api/2.0/authentication")
            .then(|| respond(302, &[("location", to_api.as_str())], ""))
            .flatten()
    }))
    .await;
    for cred in every_cred() {
        for fmt in ["text", "json"] {
            let w = Work::new();
            let p = w.file("job.yaml", LOCK_101);
            let o = Cli::new(&w)
                .with_cred(&sb.url(), &cred)
                .job([
                    p.to_str().unwrap(),
                    "--log-format",
                    fmt,
                    "--rate",
                    "unlimited",
                ])
                .run();
            let label = format!("redirect mid-run ({}, {fmt})", cred.kind());
            assert_eq!(o.code(), 1, "{label}: {}", o.stderr());
            assert_no_key(&label, &o, &w, cred.secret());
            let rows = w.rows();
            assert!(!rows.is_empty());
            for r in rows.iter().filter(|r| r.outcome == "failed") {
                assert_eq!(r.kind, "bad_response", "{r:?}");
                assert!(
                    r.error.contains("redirected to") && r.error.contains(&host),
                    "{r:?}"
                );
                assert_eq!(r.attempts, 1, "a redirect is not retried: {r:?}");
            }
            assert!(
                rows.iter().all(|r| r.outcome != "ok"),
                "nothing succeeded through a redirect"
            );
        }
    }
    assert!(
        target.requests().is_empty(),
        "the redirect target received {:?}",
        target.requests()
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile text from the portal.

const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Every cell of a report CSV: no cell starts with a formula character.
fn assert_cells_escaped(path: &Path) -> Table {
    let table = Table::read(path);
    for r in table.rows() {
        for (_, c) in r.cells() {
            assert!(
                !c.starts_with(FORMULA_START),
                "{}: unescaped cell {c:?} in {r:?}",
                path.display()
            );
        }
    }
    table
}

fn assert_no_escapes(label: &str, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        // ESC, BEL, CR, BS, and the C1 CSI (U+009B as UTF-8 `c2 9b`).
        let c1_csi = *b == 0xc2 && bytes.get(i + 1) == Some(&0x9b);
        assert!(
            !matches!(*b, 0x1b | 0x07 | b'\r' | 0x08) && !c1_csi,
            "{label}: control byte {b:#04x} at {i}:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_titles_names_and_messages_are_escaped_and_stripped() {
    let hostile_error = r#"{"status":1,"statusCode":404,"error":{"message":"=cmd|' /C calc'!A0\u001b[2J\u001b]0;owned\u0007"}}"#;
    let listing = r#"{"response":{"current":{"id":7000,"title":"\u001b[31m=Folder\u001b]0;x\u0007"},"files":[{"id":110}],"folders":[],"count":1,"total":1},"status":0,"statusCode":200}"#;
    let sb = sandbox_with(intercepting(move |r| {
        if is_file(r, "113") {
            respond(404, &[], hostile_error)
        } else if r.path == "/api/2.0/files/7000" {
            respond(200, &[], listing)
        } else {
            None
        }
    }))
    .await;
    let titles: [(&str, &str, &str); 8] = [
        (
            "101",
            "=HYPERLINK(\"http://evil.example/?x\",\"click\")",
            "'=HYPERLINK(\"http://evil.example/?x\",\"click\")",
        ),
        ("102", "\x1b[31mred\x1b[0m.docx", "\x1b[31mred\x1b[0m.docx"),
        ("105", "+1+2", "'+1+2"),
        ("106", "-2-3", "'-2-3"),
        ("107", "@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("108", "\r=1+1\r\n", "'\r=1+1\r\n"),
        ("109", "\t=tab", "'\t=tab"),
        ("110", "Plain title.docx", "Plain title.docx"),
    ];
    for (id, t, _) in &titles {
        sb.set_title(id, t);
    }
    sb.set_lock_owner("112", Some("=HYPERLINK(\"x\")\x1b[5m"));
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "jobs:\n  - files: [101, 102, 105, 106, 107, 108, 109, 110, 112, 113]\n    folders: [7000]\n    actions: [info, protectusers]\n",
    );
    for fmt in ["text", "json"] {
        let w2 = Work::new();
        let o = Cli::new(&w2)
            .sandbox(&sb)
            .job([
                job.to_str().unwrap(),
                "--log-format",
                fmt,
                "--rate",
                "unlimited",
            ])
            .run();
        assert_eq!(o.code(), 1, "113 fails: {}", o.stderr());
        assert_no_escapes(&format!("stdout ({fmt})"), &o.output.stdout);
        assert_no_escapes(&format!("stderr ({fmt})"), &o.output.stderr);
    }
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let results = assert_cells_escaped(&w.report().join("results.csv"));
    let access = assert_cells_escaped(&w.report().join("access.csv"));
    for (id, _, want) in &titles {
        let info = results
            .rows()
            .find(|r| &r["file_id"] == *id && &r["action"] == "info")
            .unwrap_or_else(|| panic!("info row for {id}"));
        assert_eq!(&info["title"], *want, "title of {id}");
        let acc: Vec<_> = access.rows().filter(|r| &r["file_id"] == *id).collect();
        assert!(!acc.is_empty(), "access rows for {id}");
        for a in acc {
            assert_eq!(&a["title"], *want, "access.csv title of {id}");
        }
    }
    let r112 = results.rows().find(|r| &r["file_id"] == "112").unwrap();
    assert_eq!(&r112["locked_by"], "'=HYPERLINK(\"x\")\x1b[5m");
    let r113 = results.rows().find(|r| &r["file_id"] == "113").unwrap();
    assert_eq!(&r113["error_kind"], "not_found");
    assert!(r113["error"].starts_with("'=cmd|"), "{:?}", &r113["error"]);
    assert!(!r113["error"].contains('\x1b'));
    // Numbers stay numbers.
    for r in results.rows() {
        for col in ["seq", "http_status", "attempts", "users", "duration_ms"] {
            assert!(
                r[col].chars().all(|c| c.is_ascii_digit()),
                "column {col} is a plain number: {r:?}"
            );
        }
    }
    // summary.md carries the same text: no escapes there either.
    let md = std::fs::read(w.report().join("summary.md")).unwrap();
    assert_no_escapes("summary.md", &md);
}

// ---------------------------------------------------------------------------------------------
// A huge answer: refused at 64 MiB, memory stays bounded.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_70_mib_answer_fails_with_bad_response_and_memory_stays_bounded() {
    let big: Arc<Vec<u8>> = Arc::new({
        let mut v = br#"{"response":{"title":""#.to_vec();
        v.resize(70 * 1024 * 1024, b'a');
        v.extend_from_slice(br#""},"status":0}"#);
        v
    });
    for chunked in [false, true] {
        let body = big.clone();
        let sb = sandbox_with(intercepting(move |r| {
            if !is_file(r, "101") {
                return None;
            }
            // Without Content-Length (chunked) the client must count while reading.
            let headers: &[(&str, &str)] = if chunked {
                &[("transfer-encoding", "chunked")]
            } else {
                &[]
            };
            respond(200, headers, body.as_ref().clone())
        }))
        .await;
        let w = Work::new();
        let job = w.file("job.yaml", "jobs:\n  - files: [101]\n    actions: [info]\n");
        let (o, peak_kib) = Cli::new(&w)
            .portal(&sb.url(), Some(CANARY))
            .job([job.to_str().unwrap()])
            .run_measured();
        assert_eq!(o.code(), 1, "{}", o.stderr());
        let rows = w.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, "bad_response", "{:?}", rows[0]);
        assert!(rows[0].error.contains("larger than"), "{:?}", rows[0]);
        assert_eq!(rows[0].attempts, 1, "not retried");
        eprintln!(
            "70 MiB answer (chunked: {chunked}): peak RSS {} MiB; error: {}",
            peak_kib / 1024,
            rows[0].error
        );
        assert!(peak_kib > 0, "peak memory measured");
        assert!(
            peak_kib < 200 * 1024,
            "peak RSS {} MiB (chunked: {chunked})",
            peak_kib / 1024
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Transport rules.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_to_a_non_loopback_host_is_refused_and_nothing_is_sent() {
    // Listening on every interface; 0.0.0.0 reaches it but is not a loopback name.
    let sb = sandbox_with(SandboxOptions {
        listen: "0.0.0.0:0".parse().unwrap(),
        api_key: Some(CANARY.into()),
        ..SandboxOptions::default()
    })
    .await;
    let url = format!("http://0.0.0.0:{}", sb.addr().port());
    let w = Work::new();
    let job = w.file("job.yaml", LOCK_101);
    let o = Cli::new(&w)
        .portal(&url, Some(CANARY))
        .job([job.to_str().unwrap()])
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("refusing http://"), "{}", o.stderr());
    assert!(o.stderr().contains("--allow-http"), "names the fix");
    assert!(sb.requests().is_empty(), "nothing sent");
    assert!(!w.report().exists());
    // Control: the same URL with --allow-http does reach the sandbox.
    let w = Work::new();
    let job = w.file("job.yaml", LOCK_101);
    let o = Cli::new(&w)
        .portal(&url, Some(CANARY))
        .job([job.to_str().unwrap(), "--allow-http"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(!sb.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_info_in_the_portal_url_is_refused() {
    let sb = sandbox().await;
    for cred in ["admin:hunter2secret@", "hunter2secret@"] {
        let url = format!("http://{cred}{}", sb.addr());
        let w = Work::new();
        let job = w.file("job.yaml", LOCK_101);
        let o = Cli::new(&w)
            .portal(&url, Some(sb.api_key()))
            .job([job.to_str().unwrap()])
            .run();
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(
            o.stderr().contains("user name or password"),
            "{}",
            o.stderr()
        );
        assert!(!o.stderr().contains("hunter2secret") && !o.stdout().contains("hunter2secret"));
        assert!(!w.report().exists());
    }
    assert!(sb.requests().is_empty(), "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_file_readable_by_others_warns_even_with_quiet() {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox_with(canary_options()).await;
    let files: [(&str, &str, Option<&str>); 3] = [
        ("--api-key-file", CANARY, None),
        ("--token-file", CANARY_TOKEN, None),
        (
            "--password-file",
            CANARY_PASSWORD,
            Some(docspace_batch::sandbox::CALLER_EMAIL),
        ),
    ];
    for (flag, secret, user) in files {
        for (mode, warns) in [(0o644, true), (0o600, false)] {
            let w = Work::new();
            // The secret file lives outside the scanned directory.
            let secrets = Work::new();
            let file = secrets.file("secret.txt", &format!("{secret}\n"));
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let job = w.file("job.yaml", "jobs:\n  - files: [101]\n    actions: [info]\n");
            let mut cli = Cli::new(&w).portal(&sb.url(), None);
            if let Some(u) = user {
                cli = cli.env("DOCSPACE_USER", u);
            }
            let o = cli
                .job([
                    job.to_str().unwrap(),
                    flag,
                    file.to_str().unwrap(),
                    "--quiet",
                    "--rate",
                    "unlimited",
                ])
                .run();
            assert_eq!(o.code(), 0, "{flag}: {}", o.stderr());
            assert_eq!(
                o.stderr().contains("readable by other users") && o.stderr().contains("chmod 600"),
                warns,
                "{flag} mode {mode:o}: {}",
                o.stderr()
            );
            assert_no_key(&format!("{flag} {mode:o}"), &o, &w, secret);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_cert_that_is_not_pem_is_a_clear_error() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file("job.yaml", LOCK_101);
    for (name, content) in [
        ("garbage.pem", "this is not a certificate\n"),
        (
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
        ),
    ] {
        let ca = w.file(name, content);
        let o = Cli::new(&w)
            .sandbox(&sb)
            .job([job.to_str().unwrap(), "--ca-cert", ca.to_str().unwrap()])
            .run();
        assert_eq!(o.code(), 2, "{name}: {}", o.stderr());
        let err = o.stderr();
        assert!(
            err.contains("--ca-cert") && err.contains(name) && err.contains("PEM"),
            "{name}: {err}"
        );
        assert!(
            !w.report().exists(),
            "{name}: no report directory left behind"
        );
    }
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--ca-cert", "/nonexistent/ca.pem"])
        .run();
    assert_eq!(o.code(), 2);
    assert!(o.stderr().contains("/nonexistent/ca.pem"), "{}", o.stderr());
    assert!(sb.requests().is_empty(), "nothing sent");
}
