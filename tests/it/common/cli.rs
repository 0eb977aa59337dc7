//! Running the binary: [`Cli`] builds a command line, [`Running`] watches it, [`Ran`] is
//! what it left.

use super::*;

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
