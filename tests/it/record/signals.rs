//! A signal in the first milliseconds. "Signals are handled from the first
//! instruction: a SIGINT/SIGTERM at any moment gives exit 130 (or the documented drain), never
//! death by signal." The same holds for the sandbox, which exits 0 on a signal.
//!
//! "0 ms" is taken as the moment the process starts running its own code: a signal that
//! lands while the dynamic loader still runs kills any program, so sending it the instant the
//! spawn returns would make the test depend on the schedule. The Rust runtime installs its
//! SIGSEGV handler (stack overflow detection) just before `main`; the signal is sent as soon as
//! `/proc/PID/status` shows it, so it lands at the start of `main`, before the arguments are
//! parsed.

use std::time::{Duration, Instant};

use super::*;

/// The caught-signals mask of `pid`, from `/proc/PID/status` (`SigCgt:`, hex).
fn caught(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hex = s.lines().find_map(|l| l.strip_prefix("SigCgt:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

fn bit(sig: libc::c_int) -> u64 {
    1 << (sig - 1)
}

/// Starts `cli`, waits (spinning, at most 10 s) until the Rust runtime is up, sends `sig` with
/// kill(2). Returns how the process ended and whether `sig` already had a handler when sent.
async fn signal_at_main(cli: Cli, sig: libc::c_int) -> (Ran, bool) {
    let child = cli.spawn();
    let pid = child.pid();
    let t0 = Instant::now();
    let mask = loop {
        match caught(pid) {
            Some(m) if m & bit(libc::SIGSEGV) != 0 => break m,
            None => break 0, // already gone
            _ if t0.elapsed() > Duration::from_secs(10) => panic!("the runtime never started"),
            _ => std::thread::yield_now(),
        }
    };
    let raw = libc::pid_t::try_from(pid).unwrap();
    assert_eq!(unsafe { libc::kill(raw, sig) }, 0);
    (
        child.wait(Duration::from_secs(20)).await,
        mask & bit(sig) != 0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn sigterm_or_sigint_at_0_ms_is_exit_130_never_death_by_signal() {
    let sb = sandbox().await;
    let w = Work::new();
    w.csv_job("job.csv", 105..=109, "lock");
    for (i, sig) in [libc::SIGTERM, libc::SIGINT]
        .into_iter()
        .cycle()
        .take(12)
        .enumerate()
    {
        let dir = format!("r{i}");
        let cli = Cli::new(&w)
            .sandbox(&sb)
            .args(quick("run", &["job.csv", "--report-dir", &dir]));
        let (o, handled) = signal_at_main(cli, sig).await;
        assert_eq!(
            o.output.status.code(),
            Some(130),
            "try {i}, signal {sig} (handler installed when sent: {handled}): {:?}; stderr: {}",
            o.output.status,
            o.stderr()
        );
    }
    assert!(
        locked(&sb, 105..=109).is_empty(),
        "stopped before any write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn the_sandbox_signalled_at_0_ms_exits_0_never_death_by_signal() {
    let w = Work::new();
    for i in 0..6 {
        let cli = Cli::new(&w).args(["sandbox", "--listen", "127.0.0.1:0"]);
        let (o, handled) = signal_at_main(cli, libc::SIGTERM).await;
        assert_eq!(
            o.output.status.code(),
            Some(0),
            "try {i} (handler installed when sent: {handled}): {:?}; stderr: {}",
            o.output.status,
            o.stderr()
        );
    }
}
