//! Why and how a run stops early: signals, a rejected key, the daily cap, `--max-failures`,
//! `--max-duration`, and the exit code each one means. The first reason wins; workers only
//! look at the token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::error::Exit;

/// The first reason a run stopped starting tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT / SIGTERM.
    Signal,
    /// 401, or the key re-check failed.
    Unauthorized,
    /// A `Retry-After` over 15 minutes: DocSpace's daily write cap.
    DailyCap {
        /// When the portal said writes are accepted again.
        resume_at: SystemTime,
    },
    /// `--max-failures` reached.
    MaxFailures(u64),
    /// `--max-duration` reached.
    MaxDuration,
    /// The run's record could not be written (the message names the file and the cause).
    Record(String),
}

impl StopReason {
    /// Exit code for this reason.
    pub fn exit(&self) -> Exit {
        match self {
            StopReason::Signal => Exit::Interrupted,
            StopReason::Unauthorized
            | StopReason::DailyCap { .. }
            | StopReason::MaxFailures(_)
            | StopReason::Record(_) => Exit::Aborted,
            StopReason::MaxDuration => Exit::MaxDuration,
        }
    }

    /// For the report's `error` column of cancelled tasks and the summary.
    pub fn describe(&self) -> String {
        match self {
            StopReason::Signal => "interrupted by a signal".into(),
            StopReason::Unauthorized => {
                "the portal rejected the credential (401); run aborted".into()
            }
            StopReason::DailyCap { resume_at } => format!(
                "DocSpace's daily write cap was reached; writes are accepted again after {}",
                crate::rfc3339(*resume_at)
            ),
            StopReason::MaxFailures(n) => format!("--max-failures {n} reached; run aborted"),
            StopReason::MaxDuration => "--max-duration reached".into(),
            StopReason::Record(e) => {
                format!("the run's record could not be written ({e}); run aborted")
            }
        }
    }
}

/// Shared stop state: the first reason, and how far the stop goes (no new writes, no new
/// tasks, or nothing more at all).
#[derive(Debug, Default)]
pub struct Stop {
    token: CancellationToken,
    /// Cancelled with `token`, and also by [`Stop::stop_starting`]: ends waits for a turn on
    /// the rate limiter, which a stopping run must not sit out (`--rate 1/h`).
    starting: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    writes_stopped: AtomicBool,
    no_new_tasks: AtomicBool,
}

impl Stop {
    /// Stops starting new requests for `reason` (the first reason is kept).
    pub fn stop(&self, reason: StopReason) {
        {
            let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.token.cancel();
        self.starting.cancel();
    }

    /// `--max-duration`: no new task starts, but tasks already started finish all their
    /// requests (a lock whose state check went out still gets its write).
    pub fn stop_starting(&self, reason: StopReason) {
        {
            let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.no_new_tasks.store(true, Ordering::SeqCst);
        self.starting.cancel();
    }

    /// True once no new task may start.
    pub fn no_new_tasks(&self) -> bool {
        self.no_new_tasks.load(Ordering::SeqCst) || self.token.is_cancelled()
    }

    /// The daily cap stops writes only; reads go on.
    pub fn stop_writes(&self, resume_at: SystemTime) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(StopReason::DailyCap { resume_at });
        }
        self.writes_stopped.store(true, Ordering::SeqCst);
    }

    /// True once no more writes may start.
    pub fn writes_stopped(&self) -> bool {
        self.writes_stopped.load(Ordering::SeqCst) || self.token.is_cancelled()
    }

    /// True once nothing more may start.
    pub fn stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the run stops or stops starting tasks.
    pub fn starting_cancelled(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.starting.cancelled()
    }

    /// Resolves when the run stops.
    pub fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// The reason, if the run stopped.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
