//! Executing requests and tasks: the retry loop around one API call (limiter, 429 cooldown,
//! backoff with jitter, 401 abort, key re-check) and the per-action logic that turns answers
//! into report rows. A lock has succeeded when the answer says `locked` without `lockedBy`
//! (DocSpace names the holder only when it is someone else); an unlock when `locked` is gone.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::sync::OnceCell;

use super::gate::Gate;
use super::journal::Journal;
use super::limiter::Limiter;
use super::state::StateCache;
use super::stop::{Stop, StopReason};
use crate::api::{ApiError, ErrorKind, Portal};
use crate::config::Settings;
use crate::job::{Action, Task};
use crate::progress::Ui;
use crate::report::{AccessRow, Outcome, ResultRow, ShareRow};

/// A 429 whose `Retry-After` is longer than this is DocSpace's daily write cap (10 000 PUT/POST
/// a day per user, waits of up to a day); its minute and in-flight limiters send no
/// `Retry-After` at all. Writes stop; reads go on unless a read is told to wait that long.
pub const DAILY_CAP_THRESHOLD: Duration = Duration::from_secs(15 * 60);

/// Request counters of a run.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent, every attempt counted.
    pub requests: AtomicU64,
    /// Attempts after the first.
    pub retries: AtomicU64,
    /// 429s received.
    pub throttled: AtomicU64,
    /// Lock/unlock requests sent (each may have changed the portal).
    pub writes: AtomicU64,
}

/// What every worker shares.
pub struct Ctx {
    /// The portal: the HTTP client in a run, a scripted fake in the runner's tests.
    pub client: Arc<dyn Portal>,
    /// The run's one limiter.
    pub limiter: Limiter,
    /// The cap on requests in flight (`--concurrency`, lowered by concurrency 429s).
    pub gate: Gate,
    /// The resolved execution settings: concurrency, retries, timeout, `--check-state`,
    /// `--max-failures`.
    pub cfg: Settings,
    /// Whether (and why) the run stops; checked before every task and every request.
    pub stop: Stop,
    /// Request, retry and 429 counts, for the progress display and the summary.
    pub stats: Stats,
    /// Log output; during execution only expansion's warnings (a skipped folder) use it.
    pub ui: Ui,
    /// What the run knows of each file's state: from listings, reads and write answers.
    pub states: StateCache,
    /// The caller's display name, once the start-up read has it: DocSpace leaves `lockedBy`
    /// out when the caller holds the lock, and a report that says nobody holds it misleads.
    pub caller_name: std::sync::OnceLock<String>,
    auth_recheck: OnceCell<bool>,
    /// When the context was made: the process's working time counts from here.
    started: std::time::Instant,
    /// Set once tasks run: from then on a deadline also ends waits for the rate limiter. The
    /// key check and folder listings before it finish, so the plan is recorded and a resume
    /// has something to continue.
    pub(crate) tasks_running: std::sync::atomic::AtomicBool,
}

/// A request the portal's answers ended: not worth retrying, or out of retries.
#[derive(Debug)]
pub struct Failure {
    /// The error of the last attempt, the one that decided.
    pub err: ApiError,
    /// HTTP attempts made.
    pub attempts: u32,
}

/// How a request ended when it did not succeed. A stop is not a failure: its task is
/// `cancelled` (and `--resume` runs it again), so it is a variant of its own.
#[derive(Debug)]
pub enum RequestEnd {
    /// The task fails with this error.
    Failed(Failure),
    /// The run stopped (or stopped writes) before the request could succeed.
    Cancelled {
        /// HTTP attempts made before the stop.
        attempts: u32,
        /// The error of the last attempt, when one was made: the daily-cap 429 itself, or the
        /// fault that was being retried.
        last: Option<ApiError>,
    },
}

impl RequestEnd {
    /// HTTP attempts made.
    pub fn attempts(&self) -> u32 {
        match self {
            RequestEnd::Failed(f) => f.attempts,
            RequestEnd::Cancelled { attempts, .. } => *attempts,
        }
    }

    fn failed(err: ApiError, attempts: u32) -> RequestEnd {
        RequestEnd::Failed(Failure { err, attempts })
    }
}

impl fmt::Display for RequestEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestEnd::Failed(x) => x.err.fmt(f),
            RequestEnd::Cancelled { last: Some(e), .. } => e.fmt(f),
            RequestEnd::Cancelled { last: None, .. } => f.write_str("not started: the run stopped"),
        }
    }
}

/// Which kind of endpoint a request goes to; decides how 403 and long `Retry-After` are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// PUT lock (counts toward the daily write cap).
    Write,
    /// File info / folder listing: anonymous access allowed, so a bad key shows as 403.
    AnonymousRead,
    /// protectusers: a bad key shows as 401.
    Read,
}

impl Ctx {
    /// The counters as they stand, for the record.
    pub fn counters(&self) -> crate::record::Counters {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        crate::record::Counters {
            requests: get(&self.stats.requests),
            retries: get(&self.stats.retries),
            throttled: get(&self.stats.throttled),
            writes: get(&self.stats.writes),
            busy_ms: self.started.elapsed().as_millis() as u64,
        }
    }

    /// A context for one run against `client`.
    pub fn new(client: impl Portal + 'static, cfg: Settings, ui: Ui) -> Ctx {
        Ctx {
            states: StateCache::new(cfg.state_max_age),
            limiter: Limiter::new(cfg.rate, cfg.burst),
            gate: Gate::new(cfg.concurrency),
            client: Arc::new(client),
            cfg,
            stop: Stop::default(),
            stats: Stats::default(),
            ui,
            caller_name: std::sync::OnceLock::new(),
            auth_recheck: OnceCell::new(),
            started: std::time::Instant::now(),
            tasks_running: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `op` under the limiter with retries. Returns the value and the attempts used.
    pub async fn request<T, F, Fut>(&self, ep: Endpoint, op: F) -> Result<(T, u32), RequestEnd>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut attempts = 0u32;
        let mut last: Option<ApiError> = None;
        loop {
            if self.stop.stopped() || (ep == Endpoint::Write && self.stop.writes_stopped()) {
                return Err(RequestEnd::Cancelled { attempts, last });
            }
            let place = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return Err(RequestEnd::Cancelled { attempts, last }),
                p = self.gate.enter() => p,
            };
            let deadline = async {
                if self.tasks_running.load(Ordering::Relaxed) {
                    self.stop.starting_cancelled().await
                } else {
                    self.stop.cancelled().await
                }
            };
            let sent_at = tokio::select! {
                biased;
                _ = deadline => return Err(RequestEnd::Cancelled { attempts, last }),
                t = self.limiter.acquire() => t,
            };
            attempts += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            if ep == Endpoint::Write {
                self.stats.writes.fetch_add(1, Ordering::Relaxed);
            }
            if attempts > 1 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            let result = op().await;
            let in_flight = self.gate.in_flight();
            drop(place);
            let err = match result {
                Ok(v) => {
                    self.limiter.on_success();
                    return Ok((v, attempts));
                }
                Err(e) => e,
            };
            let err = self
                .judge(
                    ep,
                    err,
                    Attempt {
                        n: attempts,
                        sent_at,
                        in_flight,
                    },
                )
                .await?;
            if err.kind != ErrorKind::RateLimited {
                // 429s wait in the limiter's shared cooldown; other faults back off per task.
                let delay = backoff(attempts);
                tokio::select! {
                    biased;
                    _ = self.stop.cancelled() => {
                        return Err(RequestEnd::Cancelled { attempts, last: Some(err) })
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            last = Some(err);
        }
    }

    /// Reads a failed attempt: `Ok(err)` when it is worth another attempt, otherwise how the
    /// request ends. Feeds 429s to the limiter and the gate, and stops the run on a rejected key
    /// or the daily cap.
    async fn judge(
        &self,
        ep: Endpoint,
        err: ApiError,
        at: Attempt,
    ) -> Result<ApiError, RequestEnd> {
        match err.kind {
            ErrorKind::Unauthorized => {
                self.stop.stop(StopReason::Unauthorized);
                return Err(RequestEnd::failed(err, at.n));
            }
            ErrorKind::Forbidden if ep == Endpoint::AnonymousRead => {
                // A revoked key shows as 403 on anonymous endpoints (DocSpace serves them to
                // anyone, so a bad key reads as "no access"): check the key once.
                if !self.key_still_valid().await {
                    self.stop.stop(StopReason::Unauthorized);
                    let mut e = err;
                    e.kind = ErrorKind::Unauthorized;
                    e.message = format!("{}; the key re-check was rejected", e.message);
                    return Err(RequestEnd::failed(e, at.n));
                }
                return Err(RequestEnd::failed(err, at.n));
            }
            ErrorKind::RateLimited => {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                if let Some(ra) = err.retry_after.filter(|ra| *ra > DAILY_CAP_THRESHOLD) {
                    let resume_at = SystemTime::now() + ra;
                    self.stop.stop_writes(resume_at);
                    if ep != Endpoint::Write {
                        // Reads are not under the daily cap; a read told to wait hours stops everything.
                        self.stop.stop(StopReason::DailyCap { resume_at });
                    }
                    return Err(RequestEnd::Cancelled {
                        attempts: at.n,
                        last: Some(err),
                    });
                }
                // DocSpace's concurrency limiters name their cap in X-RateLimit-Limit; when we
                // had that many open, the answer is fewer requests in flight, not a lower rate.
                let concurrency = err.retry_after.is_none()
                    && err.rate_limit.is_some_and(|l| l as usize <= at.in_flight);
                if concurrency {
                    self.gate.limit_to(err.rate_limit.unwrap_or(1) as usize);
                }
                self.limiter
                    .on_429(at.sent_at, err.retry_after, !concurrency);
            }
            _ => {}
        }
        if !err.retryable() || at.n > self.cfg.retries {
            return Err(RequestEnd::failed(err, at.n));
        }
        Ok(err)
    }

    /// `GET /api/2.0/authentication`, once per run, shared by all callers.
    async fn key_still_valid(&self) -> bool {
        *self
            .auth_recheck
            .get_or_init(|| async {
                self.limiter.acquire().await;
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
                // Only a clear "no" counts as rejected; a network error is not a verdict on the key.
                !matches!(self.client.check_auth().await, Ok(false))
            })
            .await
    }
}

/// One attempt as [`Ctx::judge`] needs it.
#[derive(Clone, Copy)]
struct Attempt {
    /// Its number (1 for the first).
    n: u32,
    /// When the limiter let it go: 429s of requests sent before a cooldown began belong to it.
    sent_at: tokio::time::Instant,
    /// Requests in flight when it was answered, itself included.
    in_flight: usize,
}

/// Exponential backoff with full jitter: 0.5 s, 1 s, 2 s, … capped at 30 s, times 0.5–1.0.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1).min(10));
    base.min(Duration::from_secs(30))
        .mul_f64(rand::rng().random_range(0.5..1.0))
}

/// The result of one task.
#[derive(Debug)]
pub struct TaskOutput {
    /// Its results.csv row.
    pub row: ResultRow,
    /// Its access.csv rows.
    pub access: Vec<AccessRow>,
    /// Its shares.csv rows.
    pub shares: Vec<ShareRow>,
}

/// Per-file memory carried between the tasks of one file (they run one at a time).
#[derive(Debug, Default)]
pub struct FileMemo {
    /// Title learnt from an earlier answer.
    pub title: Option<String>,
}

/// Runs one task. Never fails: every ending is a row.
pub async fn run_task(
    ctx: &Ctx,
    task: &Task,
    memo: &mut FileMemo,
    journal: &Journal,
) -> TaskOutput {
    let started = std::time::Instant::now();
    let mut row = ResultRow::new(task.seq, &task.job, &task.file, task.action, Outcome::Ok);
    let mut access = Vec::new();
    let mut shares = Vec::new();
    let mut attempts = 0u32;
    let result = match task.action {
        Action::Info => actions::info(ctx, task, &mut row, &mut attempts).await,
        Action::ProtectUsers => {
            actions::protect_users(ctx, task, &mut row, &mut attempts, memo, &mut access).await
        }
        Action::Shares => actions::shares(ctx, task, &mut row, &mut attempts, &mut shares).await,
        Action::Lock | Action::Unlock => {
            actions::lock(ctx, task, &mut row, &mut attempts, journal).await
        }
    };
    if let Err(end) = result {
        let (outcome, err) = match end {
            RequestEnd::Failed(f) => (Outcome::Failed, Some(f.err)),
            RequestEnd::Cancelled { last, .. } => (Outcome::Cancelled, last),
        };
        row.outcome = outcome;
        match err {
            Some(e) => {
                row.http_status = e.status;
                row.error_kind = Some(e.kind);
                row.error = e.message;
            }
            None => {
                row.http_status = None;
                row.error = ctx
                    .stop
                    .reason()
                    .map(|r| r.describe())
                    .unwrap_or_else(|| "the run stopped".into());
            }
        }
    }
    if let Some(t) = row.title.is_empty().then(|| memo.title.clone()).flatten() {
        row.title = t;
    } else if !row.title.is_empty() {
        memo.title = Some(row.title.clone());
    }
    for a in &mut access {
        if a.title.is_empty() {
            a.title = row.title.clone();
        }
    }
    for s in &mut shares {
        s.title = row.title.clone();
    }
    row.attempts = attempts;
    row.duration_ms = started.elapsed().as_millis() as u64;
    row.finished_at = crate::now_rfc3339();
    TaskOutput {
        row,
        access,
        shares,
    }
}

/// Adds the attempts of a finished request to the task's count.
pub(crate) fn counted<T>(
    attempts: &mut u32,
    r: Result<(T, u32), RequestEnd>,
) -> Result<T, RequestEnd> {
    match r {
        Ok((v, n)) => {
            *attempts += n;
            Ok(v)
        }
        Err(end) => {
            *attempts += end.attempts();
            Err(end)
        }
    }
}

mod actions;

#[cfg(test)]
pub(super) mod tests;
