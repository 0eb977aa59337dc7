//! Helpers: an in-process sandbox on 127.0.0.1:0 and the real binary run against it with a clean
//! environment.

use std::path::{Path, PathBuf};
use std::process::Output;

use docspace_batch::sandbox::{Sandbox, SandboxOptions};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_docspace-batch"))
}

/// A sandbox with default options.
pub async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox starts")
}

/// A sandbox with options.
pub async fn sandbox_with(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts).await.expect("sandbox starts")
}

/// A scratch directory holding job files and reports.
pub struct Work {
    /// The directory.
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Writes a file into the directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    /// Writes a `file_id,action` CSV job with one `action` row per ID.
    pub fn csv_job(&self, name: &str, ids: impl IntoIterator<Item = u32>, action: &str) -> PathBuf {
        let mut csv = String::from("file_id,action\n");
        for id in ids {
            csv.push_str(&format!("{id},{action}\n"));
        }
        self.file(name, &csv)
    }
    pub fn report(&self) -> PathBuf {
        self.dir.path().join("report")
    }
    pub fn results(&self) -> String {
        std::fs::read_to_string(self.report().join("results.csv")).unwrap_or_default()
    }
    /// results.csv as (seq, file_id, action, outcome, error_kind, attempts) tuples.
    pub fn rows(&self) -> Vec<Row> {
        rows_in(&self.report())
    }
}

/// One parsed results.csv row (the columns tests look at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub seq: u64,
    pub file: String,
    pub action: String,
    pub outcome: String,
    pub status: String,
    pub attempts: u32,
    pub kind: String,
    pub error: String,
    pub was_locked: String,
    pub locked: String,
    pub locked_by: String,
    pub title: String,
    pub users: String,
}

pub fn rows_in(dir: &Path) -> Vec<Row> {
    let mut rd = match csv::Reader::from_path(dir.join("results.csv")) {
        Ok(r) => r,
        Err(_) => return Vec::new(),
    };
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            Row {
                seq: r[0].parse().unwrap(),
                file: r[2].to_string(),
                action: r[3].to_string(),
                outcome: r[4].to_string(),
                status: r[5].to_string(),
                attempts: r[6].parse().unwrap(),
                kind: r[7].to_string(),
                error: r[8].to_string(),
                was_locked: r[9].to_string(),
                locked: r[10].to_string(),
                locked_by: r[11].to_string(),
                title: r[12].to_string(),
                users: r[13].to_string(),
            }
        })
        .collect()
}

/// Runs the binary with a clean environment (PATH only) plus `env`, in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = std::process::Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(cwd)
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    // The sandbox runs on this runtime: let its workers go on while we wait.
    tokio::task::block_in_place(|| c.output().expect("binary runs"))
}

/// Runs `docspace-batch run <args> --report-dir <work>/report --progress never` against `sb`.
pub fn run(sb: &Sandbox, w: &Work, args: &[&str]) -> Output {
    let report = w.report();
    let mut all: Vec<&str> = vec!["run"];
    all.extend_from_slice(args);
    let rd = report.to_str().unwrap().to_string();
    all.extend_from_slice(&["--report-dir", &rd, "--progress", "never"]);
    run_in(
        w.path(),
        &all,
        &[
            ("DOCSPACE_URL", &sb.url()),
            ("DOCSPACE_API_KEY", sb.api_key()),
        ],
    )
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Requests the sandbox received, without the key check.
pub fn api_requests(sb: &Sandbox) -> Vec<docspace_batch::sandbox::RecordedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| r.path != "/api/2.0/authentication")
        .collect()
}

/// The environment that points the binary at `sb`.
pub fn portal_env(sb: &Sandbox) -> Vec<(String, String)> {
    vec![
        ("DOCSPACE_URL".into(), sb.url()),
        ("DOCSPACE_API_KEY".into(), sb.api_key().to_string()),
    ]
}

/// Runs `docspace-batch <args>` in the work directory against `sb`, adding nothing (no
/// `--report-dir`), so relative paths on the command line are relative to the work directory.
pub fn run_raw(sb: &Sandbox, w: &Work, args: &[&str]) -> Output {
    let env = portal_env(sb);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_in(w.path(), args, &env)
}

/// Starts `docspace-batch <args>` in the work directory against `sb` without waiting for it.
pub fn spawn_raw(sb: &Sandbox, w: &Work, args: &[&str]) -> std::process::Child {
    let mut c = std::process::Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(w.path())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in portal_env(sb) {
        c.env(k, v);
    }
    c.spawn().expect("binary starts")
}

/// Sends `sig` (e.g. "TERM", "INT", "KILL") to `pid` with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Waits (async, so the in-process sandbox keeps serving) until `done` holds or `limit` passes.
pub async fn wait_until(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    done()
}

/// Waits for `child` to exit (at most `limit`), then collects its output. Kills it and panics
/// when it does not exit in time.
pub async fn wait_child(mut child: std::process::Child, limit: std::time::Duration) -> Output {
    let exited = wait_until(limit, || child.try_wait().expect("try_wait").is_some()).await;
    if !exited {
        let _ = child.kill();
        let o = child.wait_with_output().unwrap();
        panic!(
            "the binary did not exit within {limit:?}; stderr:\n{}",
            stderr(&o)
        );
    }
    child.wait_with_output().expect("output")
}

/// Finished data rows in a results.csv, counting only whole lines (a torn last line, as left
/// by `kill -9`, is not counted).
pub fn whole_rows(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap_or_default();
    text.matches('\n').count().saturating_sub(1)
}

/// The `resume with: ...` command the binary printed on stderr.
pub fn printed_resume_command(o: &Output) -> String {
    let err = stderr(o);
    let line = err
        .lines()
        .find(|l| l.contains("resume with: "))
        .unwrap_or_else(|| panic!("no resume command printed:\n{err}"));
    line.split_once("resume with: ")
        .unwrap()
        .1
        .trim()
        .to_string()
}

/// Runs a printed command line through `sh -c` in the work directory, with the binary under
/// test first on PATH as `docspace-batch`, exactly as an operator would paste it.
pub fn run_shell(sb: &Sandbox, w: &Work, cmd: &str) -> Output {
    let bindir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bindir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = std::process::Command::new("sh");
    c.env_clear()
        .env("PATH", path)
        .current_dir(w.path())
        .args(["-c", cmd]);
    for (k, v) in portal_env(sb) {
        c.env(k, v);
    }
    tokio::task::block_in_place(|| c.output().expect("sh runs"))
}

/// Like [`run`], but with an explicit portal URL and key (or none) instead of `sb`'s.
pub fn run_at(url: &str, key: Option<&str>, w: &Work, args: &[&str]) -> Output {
    let report = w.report();
    let rd = report.to_str().unwrap().to_string();
    let mut all: Vec<&str> = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--report-dir", &rd, "--progress", "never"]);
    let mut env = vec![("DOCSPACE_URL", url)];
    if let Some(k) = key {
        env.push(("DOCSPACE_API_KEY", k));
    }
    run_in(w.path(), &all, &env)
}

/// Runs the binary like [`run_in`] and also returns its peak resident set size in KiB, from
/// `/usr/bin/time` when present, otherwise by polling `VmHWM` in `/proc/<pid>/status`.
pub fn run_measured(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, u64) {
    let time = Path::new("/usr/bin/time");
    let rss_file = cwd.join(".maxrss");
    let mut c = if time.exists() {
        let mut c = std::process::Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(bin());
        c
    } else {
        std::process::Command::new(bin())
    };
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(cwd)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    tokio::task::block_in_place(|| {
        let child = c.spawn().expect("binary runs");
        let pid = child.id();
        let polled = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = {
            let (polled, done) = (polled.clone(), done.clone());
            std::thread::spawn(move || {
                use std::sync::atomic::Ordering::SeqCst;
                while !done.load(SeqCst) {
                    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                        if let Some(kib) = s
                            .lines()
                            .find(|l| l.starts_with("VmHWM:"))
                            .and_then(|l| l.split_whitespace().nth(1))
                            .and_then(|v| v.parse::<u64>().ok())
                        {
                            polled.fetch_max(kib, SeqCst);
                        }
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            })
        };
        let out = child.wait_with_output().expect("binary runs");
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        poller.join().unwrap();
        let from_time = std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|s| s.lines().last().and_then(|l| l.trim().parse::<u64>().ok()));
        let _ = std::fs::remove_file(&rss_file);
        let peak = from_time
            .unwrap_or(0)
            .max(polled.load(std::sync::atomic::Ordering::SeqCst));
        (out, peak)
    })
}

/// Every file below `dir` (recursively), with its bytes.
pub fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_below(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

/// True when `needle` occurs in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
