//! Helpers: an in-process sandbox on 127.0.0.1:0, one builder ([`Cli`]) that runs the real binary
//! with a clean environment, and report files read by column name.
//!
//! Every run of the binary goes through [`Cli`]: it starts from an empty environment (PATH
//! only), closes stdin (or feeds it the bytes [`Cli::stdin`] gave), captures stdout and stderr,
//! and never waits without a deadline.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use docspace_batch::sandbox::{
    Injected, InterceptRequest, RecordedRequest, Sandbox, SandboxOptions,
};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_docspace-batch"))
}

/// A sandbox with default options.
pub async fn sandbox() -> Sandbox {
    sandbox_with(SandboxOptions::default()).await
}

/// A sandbox with options.
pub async fn sandbox_with(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts).await.expect("sandbox starts")
}

/// The requests every run makes before its tasks: the sign-in or credential check, then the
/// server version, the caller and the key's description.
pub const START_PATHS: [&str; 4] = [
    "/api/2.0/authentication",
    "/api/2.0/settings/version/build",
    "/api/2.0/people/@self",
    "/api/2.0/keys/@self",
];

/// Requests the sandbox received, without the credential check and the start-up reads.
pub fn api_requests(sb: &Sandbox) -> Vec<RecordedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| !START_PATHS.contains(&r.path.as_str()))
        .collect()
}

/// Sandbox options whose interceptor is `f` (answers or drops chosen requests).
pub fn opts_with(
    f: impl Fn(&InterceptRequest) -> Option<Injected> + Send + Sync + 'static,
) -> SandboxOptions {
    SandboxOptions {
        interceptor: Some(std::sync::Arc::new(f)),
        ..SandboxOptions::default()
    }
}

/// An injected answer.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Injected {
    Injected::Respond {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

/// A credential as the binary is given it (through its environment variables).
#[derive(Clone, Debug)]
pub enum Cred {
    /// DOCSPACE_API_KEY
    Key(String),
    /// DOCSPACE_TOKEN
    Token(String),
    /// DOCSPACE_USER and DOCSPACE_PASSWORD
    Password { user: String, password: String },
}

impl Cred {
    /// The secret that must never show.
    pub fn secret(&self) -> &str {
        match self {
            Cred::Key(s) | Cred::Token(s) => s,
            Cred::Password { password, .. } => password,
        }
    }

    /// `key`, `token` or `password`, for labels and summary.json's `credential`.
    pub fn kind(&self) -> &'static str {
        match self {
            Cred::Key(_) => "api_key",
            Cred::Token(_) => "token",
            Cred::Password { .. } => "password",
        }
    }

    /// The sandbox's caller with `password`.
    pub fn caller(password: &str) -> Cred {
        Cred::Password {
            user: docspace_batch::sandbox::CALLER_EMAIL.into(),
            password: password.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running the binary

/// How long a run may take before the test gives up on it (kills it and fails). Generous: a
/// bound for a hung binary, not a performance assertion.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// A command line for the binary under test, built up and then run once:
///
/// ```ignore
/// let o = Cli::new(&w).sandbox(&sb).job([job, "--rate", "unlimited"]).run();
/// assert_eq!(o.code(), 0, "{}", o.stderr());
/// ```
///
/// The child gets PATH and nothing else from the test's environment, plus what
/// [`env`](Cli::env), [`sandbox`](Cli::sandbox) or [`portal`](Cli::portal) add.
#[must_use]
pub struct Cli {
    program: PathBuf,
    /// The arguments (`-c <line>` first for [`Cli::shell`]).
    args: Vec<OsString>,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
    path: OsString,
    /// Fed to the child's stdin, which is then closed; `None`: stdin is /dev/null.
    stdin: Option<Vec<u8>>,
}

impl Cli {
    /// `docspace-batch` in `cwd`.
    pub fn new(cwd: impl AsRef<Path>) -> Cli {
        Cli {
            program: bin(),
            args: Vec::new(),
            cwd: cwd.as_ref().to_path_buf(),
            env: Vec::new(),
            path: std::env::var_os("PATH").unwrap_or_default(),
            stdin: None,
        }
    }

    /// `sh -c <line>` in `cwd`, with the binary under test first on PATH as `docspace-batch`:
    /// a printed command line run exactly as an operator would paste it.
    pub fn shell(cwd: impl AsRef<Path>, line: &str) -> Cli {
        let mut path = bin().parent().unwrap().as_os_str().to_os_string();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        Cli {
            program: PathBuf::from("sh"),
            args: vec!["-c".into(), line.into()],
            path,
            ..Cli::new(cwd)
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cli {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    /// Appends arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Cli {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// `run <args> --report-dir <cwd>/report --progress never`: a job run reporting where
    /// [`Work::report`] looks.
    pub fn job<S: AsRef<OsStr>>(self, args: impl IntoIterator<Item = S>) -> Cli {
        let report = self.cwd.join("report");
        self.arg("run")
            .args(args)
            .args([OsStr::new("--report-dir"), report.as_os_str()])
            .args(["--progress", "never"])
    }

    /// Feeds `bytes` to the binary's stdin (a job given as `-`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cli {
        self.stdin = Some(bytes.into());
        self
    }

    /// Sets one environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cli {
        self.env
            .push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }

    /// Points the binary at `sb` with its key (DOCSPACE_URL, DOCSPACE_API_KEY).
    pub fn sandbox(self, sb: &Sandbox) -> Cli {
        self.portal(&sb.url(), Some(sb.api_key()))
    }

    /// Points the binary at `url`, with `key` in DOCSPACE_API_KEY when given.
    pub fn portal(self, url: &str, key: Option<&str>) -> Cli {
        let c = self.env("DOCSPACE_URL", url);
        match key {
            Some(k) => c.env("DOCSPACE_API_KEY", k),
            None => c,
        }
    }

    /// Points the binary at `url` with `cred` in its environment variables.
    pub fn with_cred(self, url: &str, cred: &Cred) -> Cli {
        let c = self.env("DOCSPACE_URL", url);
        match cred {
            Cred::Key(k) => c.env("DOCSPACE_API_KEY", k),
            Cred::Token(t) => c.env("DOCSPACE_TOKEN", t),
            Cred::Password { user, password } => c
                .env("DOCSPACE_USER", user)
                .env("DOCSPACE_PASSWORD", password),
        }
    }

    fn command(&self, wrapper: &[&OsStr]) -> Command {
        let (program, pre): (&OsStr, &[&OsStr]) = match wrapper.split_first() {
            Some((p, rest)) => (p, rest),
            None => (self.program.as_os_str(), &[]),
        };
        let mut c = Command::new(program);
        c.args(pre);
        if !wrapper.is_empty() {
            c.arg(&self.program);
        }
        c.args(&self.args)
            .env_clear()
            .env("PATH", &self.path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Starts the binary without waiting for it.
    pub fn spawn(self) -> Running {
        Running::start(self.command(&[]), self.stdin)
    }

    /// Runs the binary to the end (at most [`RUN_LIMIT`]). The in-process sandbox runs on the
    /// test's runtime: its other workers go on while this thread waits.
    pub fn run(self) -> Ran {
        let r = self.spawn();
        tokio::task::block_in_place(move || r.wait_blocking(RUN_LIMIT))
    }

    /// Like [`Cli::run`], also returning the peak resident set size in KiB: from
    /// `/usr/bin/time` when present, otherwise by polling `VmHWM` in `/proc/<pid>/status`.
    pub fn run_measured(self) -> (Ran, u64) {
        let time = Path::new("/usr/bin/time");
        let rss_file = self.cwd.join(".maxrss");
        let wrapper: Vec<&OsStr> = if time.exists() {
            vec![
                time.as_os_str(),
                "-f".as_ref(),
                "%M".as_ref(),
                "-o".as_ref(),
                rss_file.as_os_str(),
            ]
        } else {
            Vec::new()
        };
        let r = Running::start(self.command(&wrapper), self.stdin.clone());
        let pid = r.pid();
        let polled = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = {
            let (polled, done) = (polled.clone(), done.clone());
            std::thread::spawn(move || {
                use std::sync::atomic::Ordering::SeqCst;
                while !done.load(SeqCst) {
                    if let Some(kib) = vm_hwm_kib(pid) {
                        polled.fetch_max(kib, SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let out = tokio::task::block_in_place(move || r.wait_blocking(RUN_LIMIT));
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
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Collects a pipe on its own thread, so a chatty child never blocks on a full pipe and what it
/// wrote so far can be looked at while it runs.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: JoinHandle<()>,
}

impl Collector {
    fn start(mut pipe: impl Read + Send + 'static) -> Collector {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        let thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                b.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Collector { buf, thread }
    }

    fn so_far(&self) -> Vec<u8> {
        self.buf.lock().unwrap().clone()
    }

    fn finish(self) -> Vec<u8> {
        self.thread.join().expect("pipe reader");
        Arc::try_unwrap(self.buf)
            .map(|m| m.into_inner().unwrap())
            .unwrap_or_else(|b| b.lock().unwrap().clone())
    }
}

/// A started binary.
pub struct Running {
    child: Child,
    stdout: Collector,
    stderr: Collector,
}

impl Running {
    fn start(mut c: Command, stdin: Option<Vec<u8>>) -> Running {
        let mut child = c.spawn().expect("the binary starts");
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // On its own thread: a child that exits without reading must not block the test,
            // and dropping the pipe afterwards is the end of input.
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = pipe.write_all(&bytes);
            });
        }
        let stdout = Collector::start(child.stdout.take().unwrap());
        let stderr = Collector::start(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Its process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig` (e.g. "TERM", "INT", "KILL") with kill(1).
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(st.success(), "kill -{sig} {}", self.pid());
    }

    /// True once it has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    /// What it has written to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.so_far()).into_owned()
    }

    /// Kills it (if it still runs) and reaps it; for background processes a test started.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (async, so an in-process sandbox keeps serving) for it to exit, at most `limit`;
    /// kills it and panics when it does not exit in time.
    pub async fn wait(mut self, limit: Duration) -> Ran {
        let exited = wait_until(limit, || self.exited()).await;
        self.finish(exited, limit)
    }

    /// Like [`Running::wait`], blocking this thread.
    fn wait_blocking(mut self, limit: Duration) -> Ran {
        let t0 = Instant::now();
        let mut exited = self.exited();
        while !exited && t0.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(5));
            exited = self.exited();
        }
        self.finish(exited, limit)
    }

    fn finish(mut self, exited: bool, limit: Duration) -> Ran {
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "the binary did not exit within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&self.stderr.finish())
            );
        }
        let status = self.child.wait().expect("wait");
        Ran {
            output: Output {
                status,
                stdout: self.stdout.finish(),
                stderr: self.stderr.finish(),
            },
        }
    }
}

/// A finished run: exit code, stdout, stderr.
pub struct Ran {
    /// The raw output.
    pub output: Output,
}

impl Ran {
    /// The exit code; -1 when killed by a signal.
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    /// stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The `resume with: ...` command printed on stderr.
    pub fn resume_command(&self) -> String {
        let err = self.stderr();
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
}

/// Waits (async, so the in-process sandbox keeps serving) until `done` holds or `limit` passes.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

// ---------------------------------------------------------------------------------------------
// The work directory and its report files

/// A scratch directory holding job files and reports.
pub struct Work {
    /// The directory.
    pub dir: tempfile::TempDir,
}

impl AsRef<Path> for Work {
    fn as_ref(&self) -> &Path {
        self.dir.path()
    }
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
    /// The report directory [`Cli::job`] names.
    pub fn report(&self) -> PathBuf {
        self.dir.path().join("report")
    }
    /// results.csv as text (empty when there is none).
    pub fn results(&self) -> String {
        std::fs::read_to_string(self.report().join("results.csv")).unwrap_or_default()
    }
    /// results.csv, parsed by column name.
    pub fn rows(&self) -> Vec<Row> {
        rows_in(&self.report())
    }
    /// summary.json.
    pub fn summary(&self) -> serde_json::Value {
        summary_in(&self.report())
    }
}

/// summary.json in `dir`.
pub fn summary_in(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One results.csv row (the columns tests look at), read by header name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Row {
    pub seq: u64,
    #[serde(rename = "file_id")]
    pub file: String,
    pub action: String,
    pub outcome: String,
    #[serde(rename = "http_status")]
    pub status: String,
    pub attempts: u32,
    #[serde(rename = "error_kind")]
    pub kind: String,
    pub error: String,
    pub was_locked: String,
    pub locked: String,
    pub locked_by: String,
    pub title: String,
    pub users: String,
    pub state_from: String,
}

/// results.csv in `dir` (no rows when there is none).
pub fn rows_in(dir: &Path) -> Vec<Row> {
    let Ok(mut rd) = csv::Reader::from_path(dir.join("results.csv")) else {
        return Vec::new();
    };
    rd.deserialize()
        .map(|r| r.expect("a results.csv row"))
        .collect()
}

/// A report CSV (results.csv, access.csv, …) as text cells addressed by column name.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names, in file order.
    pub headers: Vec<String>,
    rows: Vec<csv::StringRecord>,
    index: HashMap<String, usize>,
}

/// One row of a [`Table`]; `row["outcome"]` is the cell in column `outcome`.
#[derive(Clone, Copy)]
pub struct TableRow<'a> {
    table: &'a Table,
    record: &'a csv::StringRecord,
}

impl Table {
    /// Reads the CSV file at `path` (which must exist and parse).
    pub fn read(path: &Path) -> Table {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Table::parse(&text)
    }

    /// Parses CSV text with a header line. Every row must have as many cells as the header.
    pub fn parse(text: &str) -> Table {
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let headers: Vec<String> = rd
            .headers()
            .expect("a header line")
            .iter()
            .map(str::to_string)
            .collect();
        let rows = rd
            .records()
            .map(|r| r.expect("a whole row"))
            .collect::<Vec<_>>();
        let index = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        Table {
            headers,
            rows,
            index,
        }
    }

    /// The data rows.
    pub fn rows(&self) -> impl Iterator<Item = TableRow<'_>> {
        self.rows.iter().map(|record| TableRow {
            table: self,
            record,
        })
    }

    fn column(&self, name: &str) -> usize {
        *self
            .index
            .get(name)
            .unwrap_or_else(|| panic!("no column `{name}` in {:?}", self.headers))
    }

    /// The table as CSV text again, with every cell of column `name` replaced by `with` for each
    /// `(name, with)` in `redact`.
    pub fn to_csv_redacted(&self, redact: &[(&str, &str)]) -> String {
        let cols: Vec<(usize, &str)> = redact
            .iter()
            .map(|(name, with)| (self.column(name), *with))
            .collect();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.headers).unwrap();
        for r in &self.rows {
            let mut cells: Vec<&str> = r.iter().collect();
            for (i, with) in &cols {
                cells[*i] = with;
            }
            w.write_record(&cells).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }
}

impl<'a> TableRow<'a> {
    /// Every cell with its column name, in file order.
    pub fn cells(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.table
            .headers
            .iter()
            .map(String::as_str)
            .zip(self.record.iter())
    }
}

impl std::fmt::Debug for TableRow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.cells()).finish()
    }
}

impl std::ops::Index<&str> for TableRow<'_> {
    type Output = str;
    fn index(&self, name: &str) -> &str {
        &self.record[self.table.column(name)]
    }
}

/// Finished data rows in a results.csv, counting only whole lines (a torn last line, as left
/// by `kill -9`, is not counted).
pub fn whole_rows(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap_or_default();
    text.matches('\n').count().saturating_sub(1)
}

// ---------------------------------------------------------------------------------------------
// Hostile files and byte searches

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

// ---------------------------------------------------------------------------------------------
// Markdown files of the repository

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The user and developer documents: README.md, CONTRIBUTING.md and docs/*.md.
pub fn doc_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut out = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// A fenced code block of a Markdown text.
#[derive(Debug)]
pub struct CodeBlock {
    /// The info string after the opening fence (`console`, `sh`, …), empty when none.
    pub lang: String,
    /// The 1-based line number of the block's first content line.
    pub first_line: usize,
    /// The content lines.
    pub lines: Vec<String>,
}

/// The fenced (```) code blocks of `text`, and the lines outside them with their 1-based
/// numbers. An unclosed fence is a panic: the rest of the file would silently be code.
pub fn markdown_split(text: &str) -> (Vec<CodeBlock>, Vec<(usize, &str)>) {
    let (mut blocks, mut prose) = (Vec::new(), Vec::new());
    let mut open: Option<(usize, CodeBlock)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let fence = t.starts_with("```");
        match open.take() {
            Some((indent, b))
                if fence && t.trim_end() == "```" && line.len() - t.len() <= indent =>
            {
                blocks.push(b)
            }
            Some((indent, mut b)) => {
                b.lines
                    .push(line.get(indent..).unwrap_or(line.trim_start()).to_string());
                open = Some((indent, b));
            }
            None if fence => {
                let lang = t.trim_start_matches('`').trim().to_string();
                open = Some((
                    line.len() - t.len(),
                    CodeBlock {
                        lang,
                        first_line: i + 2,
                        lines: Vec::new(),
                    },
                ));
            }
            None => prose.push((i + 1, line)),
        }
    }
    if let Some((_, b)) = open {
        panic!(
            "a code fence opened before line {} is never closed",
            b.first_line
        );
    }
    (blocks, prose)
}
