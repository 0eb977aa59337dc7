//! Every kind of credential (issue 15): an API key, a session token, a user and password
//! signing in once; exactly one kind; the two-factor account; the start-up reads (server
//! version, caller, the key's expiry and permissions) and what they change; a resume reads the
//! credential again. The real binary against in-process sandboxes, asserting what the sandbox
//! received.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use docspace_batch::sandbox::{
    Injected, RecordedRequest, Sandbox, SandboxOptions, CALLER_EMAIL, PASSWORD, TFA_EMAIL,
};

use crate::common::*;

const TOKEN: &str = "tok-0123456789abcdef0123456789abcdef";

fn with_token() -> SandboxOptions {
    SandboxOptions {
        token: Some(TOKEN.into()),
        ..SandboxOptions::default()
    }
}

fn is_version(r: &RecordedRequest) -> bool {
    r.path == "/api/2.0/settings/version/build"
}

fn sign_ins(sb: &Sandbox) -> Vec<RecordedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/api/2.0/authentication")
        .collect()
}

fn puts(sb: &Sandbox) -> usize {
    sb.requests().iter().filter(|r| r.method == "PUT").count()
}

/// A file outside any scanned directory holding `text`, mode 0600.
fn secret_file(dir: &Work, name: &str, text: &str) -> String {
    let p = dir.file(name, &format!("{text}\n"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.to_str().unwrap().to_string()
}

const LOCK_AND_INFO: &str = "file_id,action\n101,lock\n102,info\n";

/// Runs LOCK_AND_INFO with `cli` (portal and credential set) and `args`, expecting exit 0;
/// returns the summary.
fn run_ok(w: &Work, cli: Cli, args: &[&str]) -> serde_json::Value {
    let job = w.file("job.csv", LOCK_AND_INFO);
    let o = cli
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .args(args)
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    w.summary()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_goes_as_bearer_on_every_request_but_the_public_version() {
    let sb = sandbox().await;
    let w = Work::new();
    let s = run_ok(&w, Cli::new(&w).sandbox(&sb), &[]);
    let key = format!("Bearer {}", sb.api_key());
    for r in sb.requests() {
        let want = (!is_version(&r)).then_some(key.as_str());
        assert_eq!(r.authorization.as_deref(), want, "{} {}", r.method, r.path);
    }
    let paths: Vec<String> = sb.requests().iter().map(|r| r.path.clone()).collect();
    for p in START_PATHS {
        assert!(paths.contains(&p.to_string()), "{p} was asked: {paths:?}");
    }
    assert!(sign_ins(&sb).is_empty());
    assert_eq!(s["credential"], "api_key");
    assert_eq!(s["server_version"], "3.7.2");
    assert_eq!(s["caller"]["name"], "Sandbox Admin");
    assert!(s["caller"]["id"].as_str().unwrap().len() == 36, "{s}");
    assert_eq!(s["key_permissions"], serde_json::json!(["*"]));
    assert_eq!(s["key_expires_at"], serde_json::Value::Null);
    // Every start-up request counts among the run's requests.
    assert_eq!(s["requests"], sb.requests().len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_goes_raw_from_the_environment_or_a_file() {
    let sb = sandbox_with(with_token()).await;
    let secrets = Work::new();
    let file = secret_file(&secrets, "token", TOKEN);
    for how in ["env", "file"] {
        let before = sb.requests().len();
        let w = Work::new();
        let cli = Cli::new(&w).portal(&sb.url(), None);
        let (cli, args) = match how {
            "env" => (cli.env("DOCSPACE_TOKEN", TOKEN), vec![]),
            _ => (cli, vec!["--token-file", file.as_str()]),
        };
        let s = run_ok(&w, cli, &args);
        let reqs = &sb.requests()[before..];
        assert_eq!(reqs[0].path, "/api/2.0/authentication", "checked first");
        for r in reqs {
            let want = (!is_version(r)).then_some(TOKEN);
            assert_eq!(
                r.authorization.as_deref(),
                want,
                "{how}: {} {}",
                r.method,
                r.path
            );
        }
        assert!(
            reqs.iter().all(|r| r.path != "/api/2.0/keys/@self"),
            "a token has no key to describe"
        );
        assert_eq!(s["credential"], "token");
        assert_eq!(s["caller"]["name"], "Sandbox Admin");
        assert_eq!(s["key_permissions"], serde_json::Value::Null);
    }
    assert!(sign_ins(&sb).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_and_password_sign_in_once_then_use_the_issued_token() {
    let sb = sandbox().await;
    let secrets = Work::new();
    let file = secret_file(&secrets, "password", PASSWORD);
    for how in ["env", "file"] {
        let before = sb.requests().len();
        let w = Work::new();
        let cli = Cli::new(&w)
            .portal(&sb.url(), None)
            .env("DOCSPACE_USER", CALLER_EMAIL);
        let (cli, args) = match how {
            "env" => (cli.env("DOCSPACE_PASSWORD", PASSWORD), vec![]),
            _ => (cli, vec!["--password-file", file.as_str()]),
        };
        let s = run_ok(&w, cli, &args);
        let reqs = &sb.requests()[before..];
        let first = &reqs[0];
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("POST", "/api/2.0/authentication"),
            "{how}: signs in first"
        );
        assert_eq!(
            first.authorization, None,
            "nothing to send before the sign-in"
        );
        let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"userName": CALLER_EMAIL, "password": PASSWORD})
        );
        let rest = &reqs[1..];
        assert!(
            rest.iter().all(|r| r.method != "POST"),
            "{how}: one sign-in"
        );
        let tokens = sb.tokens();
        for r in rest {
            let sent = r.authorization.as_deref();
            if is_version(r) {
                assert_eq!(sent, None);
            } else {
                let t = sent
                    .unwrap_or_else(|| panic!("{how}: {} {} unauthenticated", r.method, r.path));
                assert!(
                    tokens.iter().any(|x| x == t),
                    "{how}: the issued token, raw"
                );
            }
        }
        assert_eq!(s["credential"], "password");
        assert_eq!(s["caller"]["name"], "Sandbox Admin");
    }
    assert_eq!(sign_ins(&sb).len(), 2, "one per run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kinds_of_credential_or_none_are_refused_before_anything_is_sent() {
    let sb = sandbox_with(with_token()).await;
    let secrets = Work::new();
    let token_file = secret_file(&secrets, "token", TOKEN);
    // (environment, flags, what the message must name)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("DOCSPACE_API_KEY", sb.api_key()),
                ("DOCSPACE_TOKEN", TOKEN),
            ],
            vec![],
            vec!["DOCSPACE_API_KEY", "DOCSPACE_TOKEN", "exactly one"],
        ),
        (
            vec![
                ("DOCSPACE_API_KEY", sb.api_key()),
                ("DOCSPACE_USER", CALLER_EMAIL),
                ("DOCSPACE_PASSWORD", PASSWORD),
            ],
            vec!["--token-file", token_file.as_str()],
            vec!["DOCSPACE_API_KEY", "--token-file", "DOCSPACE_PASSWORD"],
        ),
        (
            vec![("DOCSPACE_PASSWORD", PASSWORD)],
            vec![],
            vec!["DOCSPACE_USER"],
        ),
        (
            vec![("DOCSPACE_USER", CALLER_EMAIL)],
            vec![],
            vec!["no password"],
        ),
        (
            vec![],
            vec![],
            vec![
                "no credential",
                "DOCSPACE_API_KEY",
                "DOCSPACE_TOKEN",
                "DOCSPACE_PASSWORD",
            ],
        ),
    ];
    for (env, args, fragments) in cases {
        let w = Work::new();
        let job = w.file("job.csv", LOCK_AND_INFO);
        let mut cli = Cli::new(&w).portal(&sb.url(), None);
        for (k, v) in &env {
            cli = cli.env(k, v);
        }
        let o = cli.job([job.to_str().unwrap()]).args(&args).run();
        assert_eq!(o.code(), 2, "{env:?}: {}", o.stderr());
        for f in fragments {
            assert!(
                o.stderr().contains(f),
                "{env:?}: no `{f}` in {}",
                o.stderr()
            );
        }
        assert!(!o.stderr().contains(PASSWORD) && !o.stderr().contains(TOKEN));
        assert!(!w.report().exists(), "no report directory");
    }
    assert!(sb.requests().is_empty(), "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_exit_3_after_one_sign_in_and_nothing_written() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file("job.csv", LOCK_AND_INFO);
    let o = Cli::new(&w)
        .with_cred(&sb.url(), &Cred::caller("not-the-password"))
        .job([job.to_str().unwrap()])
        .run();
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(
        o.stderr()
            .contains("refused the sign-in of admin@sandbox.test")
            && o.stderr().contains("nothing was written"),
        "{}",
        o.stderr()
    );
    let reqs = sb.requests();
    assert_eq!(reqs.len(), 1, "the sign-in only: {reqs:?}");
    assert_eq!(reqs[0].status, 401);
    assert_eq!(puts(&sb), 0);
    assert!(w.rows().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_factor_account_is_exit_3_with_the_reason() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file("job.csv", LOCK_AND_INFO);
    let o = Cli::new(&w)
        .with_cred(
            &sb.url(),
            &Cred::Password {
                user: TFA_EMAIL.into(),
                password: PASSWORD.into(),
            },
        )
        .job([job.to_str().unwrap(), "--quiet"])
        .run();
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(
        o.stderr()
            .contains("two-factor sign-in cannot be scripted; use an API key or a token"),
        "{}",
        o.stderr()
    );
    assert_eq!(sb.requests().len(), 1, "the sign-in only");
    assert_eq!(puts(&sb), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_expires_in_3_days_warns_even_with_quiet_and_is_recorded() {
    let sb = sandbox_with(SandboxOptions {
        key_expires_in: Some(Duration::from_secs(3 * 86_400)),
        ..SandboxOptions::default()
    })
    .await;
    for fmt in ["text", "json"] {
        let w = Work::new();
        let job = w.file("job.csv", LOCK_AND_INFO);
        let o = Cli::new(&w)
            .sandbox(&sb)
            .job([
                job.to_str().unwrap(),
                "--quiet",
                "--log-format",
                fmt,
                "--rate",
                "unlimited",
            ])
            .run();
        assert_eq!(o.code(), 0, "{}", o.stderr());
        let err = o.stderr();
        let line = err
            .lines()
            .find(|l| l.contains("expires in 3 days"))
            .unwrap_or_else(|| panic!("{fmt}: no expiry warning in {err}"));
        match fmt {
            "text" => assert!(line.starts_with("warning: "), "{line}"),
            _ => {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["level"], "warn", "{line}");
            }
        }
        let s = w.summary();
        assert!(s["key_expires_at"].as_str().is_some(), "{s}");
        let warnings = s["credential_warnings"].as_array().unwrap();
        assert!(
            warnings
                .iter()
                .any(|x| x.as_str().unwrap().contains("expires in 3 days")),
            "{s}"
        );
        let md = std::fs::read_to_string(w.report().join("summary.md")).unwrap();
        assert!(md.contains("expires in 3 days"), "{md}");
    }
    // A key without expiry, or expiring in a month, says nothing.
    let sb = sandbox_with(SandboxOptions {
        key_expires_in: Some(Duration::from_secs(30 * 86_400)),
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    let job = w.file("job.csv", LOCK_AND_INFO);
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0);
    assert!(!o.stderr().contains("expires"), "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_key_stops_a_lock_run_before_any_write() {
    let sb = sandbox_with(SandboxOptions {
        key_permissions: vec!["files:read".into()],
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    let job = w.file("job.csv", LOCK_AND_INFO);
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(
        o.stderr().contains("files:write") && o.stderr().contains("files:read"),
        "{}",
        o.stderr()
    );
    assert_eq!(puts(&sb), 0, "no PUT");
    assert!(
        api_requests(&sb).is_empty(),
        "not even a state check: {:?}",
        api_requests(&sb)
    );
    // The same key reads: an info run is fine, and a dry run of the lock run only warns.
    let w = Work::new();
    let info = w.file("info.csv", "file_id,action\n101,info\n");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([info.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "jobs:\n  - folders: [5002]\n    actions: [lock]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([
            job.to_str().unwrap(),
            "--dry-run",
            "--quiet",
            "--rate",
            "unlimited",
        ])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(o.stderr().contains("real run would stop"), "{}", o.stderr());
    assert_eq!(puts(&sb), 0);
}

/// Runs the version-sensitive job against a sandbox playing `version` with a session token
/// (DocSpace before 3.1 has no API keys): "My documents" (folder 8000) locked, Jane's lock on
/// 402 unlocked by a content creator, missing file 999 read.
fn version_run(sb: &Sandbox) -> (Vec<Row>, serde_json::Value) {
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "jobs:\n  - folders: [8000]\n    actions: [lock]\n  - files: [402]\n    actions: [unlock]\n  - files: [999]\n    actions: [info]\n",
    );
    let o = Cli::new(&w)
        .with_cred(&sb.url(), &Cred::Token(TOKEN.into()))
        .job([
            job.to_str().unwrap(),
            "--no-check-state",
            "--rate",
            "unlimited",
        ])
        .run();
    assert_eq!(o.code(), 1, "{}", o.stderr());
    (w.rows(), w.summary())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_server_changes_the_classified_outcomes() {
    let current = sandbox_with(with_token()).await;
    let old = sandbox_with(SandboxOptions {
        server_version: [3, 0, 0],
        ..with_token()
    })
    .await;
    let (now, s_now) = version_run(&current);
    let (then, s_then) = version_run(&old);
    assert_eq!(s_now["server_version"], "3.7.2");
    assert_eq!(s_then["server_version"], "3.0.0");
    let row = |rows: &[Row], file: &str| rows.iter().find(|r| r.file == file).unwrap().clone();
    // "My documents": lockable by its owner from 3.7.1; before, refused, and the row says why.
    for id in ["301", "302", "303"] {
        assert_eq!(row(&now, id).outcome, "ok", "{:?}", row(&now, id));
        let r = row(&then, id);
        assert_eq!(
            (r.outcome.as_str(), r.kind.as_str()),
            ("failed", "forbidden")
        );
        assert!(
            r.error.contains("before 3.7.1") && r.error.contains("\"My documents\""),
            "{r:?}"
        );
    }
    // Someone else's lock: a content creator may break it only before 3.5.
    let r = row(&now, "402");
    assert_eq!(
        (r.outcome.as_str(), r.kind.as_str()),
        ("failed", "forbidden"),
        "{r:?}"
    );
    assert!(!r.error.contains("My documents"), "{r:?}");
    assert_eq!(row(&then, "402").outcome, "ok");
    // A missing file: 404 from 3.7.1, 403 before; not_found either way.
    let (a, b) = (row(&now, "999"), row(&then, "999"));
    assert_eq!((a.kind.as_str(), a.status.as_str()), ("not_found", "404"));
    assert_eq!((b.kind.as_str(), b.status.as_str()), ("not_found", "403"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_need_3_1_and_keys_at_self_is_ignored_before_3_2() {
    let w = Work::new();
    let job = w.file("job.csv", "file_id,action\n101,info\n");
    let old = sandbox_with(SandboxOptions {
        server_version: [3, 0, 0],
        ..SandboxOptions::default()
    })
    .await;
    let o = Cli::new(&w)
        .sandbox(&old)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 3, "{}", o.stderr());
    assert!(
        o.stderr().contains("rejected the API key"),
        "{}",
        o.stderr()
    );

    let v31 = sandbox_with(SandboxOptions {
        server_version: [3, 1, 0],
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    let job = w.file("job.csv", "file_id,action\n101,lock\n");
    let o = Cli::new(&w)
        .sandbox(&v31)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(
        o.code(),
        0,
        "the 404 of keys/@self is no failure: {}",
        o.stderr()
    );
    assert!(!o.stderr().contains("keys/@self"), "{}", o.stderr());
    let s = w.summary();
    assert_eq!(s["server_version"], "3.1.0");
    assert_eq!(s["key_permissions"], serde_json::Value::Null);
    let keys: Vec<_> = v31
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/2.0/keys/@self")
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_reads_the_credential_again() {
    // 102 answers 503 until the resume: transient, so work is left.
    let outage = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let o2 = outage.clone();
    let sb = sandbox_with(SandboxOptions {
        interceptor: Some(std::sync::Arc::new(move |r| {
            (r.path == "/api/2.0/files/file/102" && o2.load(std::sync::atomic::Ordering::SeqCst))
                .then(|| Injected::Respond {
                    status: 503,
                    headers: vec![],
                    body: vec![],
                })
        })),
        ..with_token()
    })
    .await;
    let w = Work::new();
    let job = w.file("job.csv", LOCK_AND_INFO);
    let o = Cli::new(&w)
        .with_cred(&sb.url(), &Cred::caller(PASSWORD))
        .job([
            job.to_str().unwrap(),
            "--retries",
            "0",
            "--rate",
            "unlimited",
        ])
        .run();
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let resume = o.resume_command();
    outage.store(false, std::sync::atomic::Ordering::SeqCst);
    // Without a credential: refused, nothing sent.
    let sent = sb.requests().len();
    let o = Cli::shell(&w, &resume).portal(&sb.url(), None).run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("no credential"), "{}", o.stderr());
    assert_eq!(sb.requests().len(), sent);
    // With another kind of credential: it continues.
    let o = Cli::shell(&w, &resume)
        .with_cred(&sb.url(), &Cred::Token(TOKEN.into()))
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(w.summary()["credential"], "token");
    let db = std::fs::read(w.report().join("run.db")).unwrap();
    for secret in [PASSWORD, TOKEN] {
        assert!(
            !contains_bytes(&db, secret.as_bytes()),
            "{secret} in run.db"
        );
    }
}
