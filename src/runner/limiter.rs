//! The one rate limiter of a run: an absolute GCRA schedule shared by every request (retries and
//! folder listings included), plus the shared 429 cooldown and adaptive rate. DocSpace's
//! one-minute window and its in-flight limiters answer 429 without `Retry-After`, so the rate
//! itself has to come down after one, and every worker has to pause, not only the one that
//! got it.
//!
//! Why not `governor`: its quota is fixed at construction, and a run needs the effective rate
//! lowered after a 429 without `Retry-After` and recovered gradually, and one cooldown that
//! pauses every worker. This limiter keeps a theoretical arrival time (`tat`) and hands out
//! slots on an absolute schedule: a waiter sleeps until its slot, never polls, and after a stall
//! the schedule restarts from "now" (no catch-up burst beyond `--burst`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::units::Rate;

/// Slowest rate the adaptive decrease goes down to.
const MIN_RATE: f64 = 0.2;
/// Cooldown after the first 429 without `Retry-After`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest cooldown without `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Share of the rate the portal accepted over the last second below which a cut never goes.
const ACCEPTED_SHARE: f64 = 0.9;
/// Quiet time after a 429 before the rate is raised again, and between raises.
const RECOVER_EVERY: Duration = Duration::from_secs(5);

/// Counts sends and successes per second, so a run knows what rate it was going at, and what
/// the portal accepted, when the portal pushed back.
#[derive(Debug)]
struct Meter {
    bucket_start: Instant,
    count: u64,
    /// Sends per second over the last whole bucket; 0 until one second has been measured.
    last_rate: f64,
    /// [`Limiter::successes`] when the bucket started.
    ok_at_start: u64,
    /// Successes per second over the last whole bucket.
    last_ok_rate: f64,
}

#[derive(Debug)]
struct State {
    tat: Instant,
    /// Effective interval; `None` = unlimited.
    interval: Option<Duration>,
    pause_until: Instant,
    pause_set_at: Option<Instant>,
    backoff: Duration,
    last_429: Option<Instant>,
    last_change: Instant,
    /// For an unlimited run: the rate above which we return to unlimited.
    ceiling: Option<f64>,
    meter: Meter,
    /// A request succeeded after the last cooldown ended: the next 429 starts a new episode
    /// (cooldown back to 1 s) instead of continuing the old one.
    success_since_pause: bool,
}

/// A shared limiter. All methods take `&self`.
#[derive(Debug)]
pub struct Limiter {
    /// FIFO queue of waiters: only the head computes and sleeps until its slot.
    turn: tokio::sync::Mutex<()>,
    configured: Option<Duration>,
    burst: u32,
    state: Mutex<State>,
    /// Set once any 429 was seen, so successes only take the lock when it matters.
    armed: std::sync::atomic::AtomicBool,
    /// Successful requests so far (a counter, so a success never takes the lock for it).
    successes: AtomicU64,
}

impl Limiter {
    /// A limiter for `rate` allowing `burst` back-to-back requests after idle time.
    pub fn new(rate: Rate, burst: u32) -> Limiter {
        let now = Instant::now();
        let configured = rate.interval();
        Limiter {
            turn: tokio::sync::Mutex::new(()),
            configured,
            burst: burst.max(1),
            armed: std::sync::atomic::AtomicBool::new(false),
            successes: AtomicU64::new(0),
            state: Mutex::new(State {
                tat: now,
                interval: configured,
                pause_until: now,
                pause_set_at: None,
                backoff: FIRST_BACKOFF,
                last_429: None,
                last_change: now,
                ceiling: None,
                success_since_pause: false,
                meter: Meter {
                    bucket_start: now,
                    count: 0,
                    last_rate: 0.0,
                    ok_at_start: 0,
                    last_ok_rate: 0.0,
                },
            }),
        }
    }

    /// Waits for the next slot and returns its time (the moment the request may be sent).
    ///
    /// Waiters queue in FIFO order and the head of the queue sleeps until its slot. A waiter
    /// that wakes up to half an interval late keeps the absolute schedule (otherwise timer
    /// granularity alone costs 5 % of the rate at 50/s); one that wakes later pushes the
    /// schedule back to its wake time instead of letting the next requests catch up: the rate
    /// holds as the portal sees it, with no 1-second window more than one request over.
    /// Cancel-safe: dropping the future leaves the queue and takes no slot.
    pub async fn acquire(&self) -> Instant {
        let _turn = self.turn.lock().await;
        // The slot this waiter slept until, if it slept.
        let mut slept_until: Option<Instant> = None;
        loop {
            let target = {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                self.recover(&mut s, now);
                let slot = match s.interval {
                    None => now,
                    // Woke a little late for the slot it slept until (timer granularity, a
                    // busy machine): keep the absolute schedule. Restarting it from the wake
                    // time would lose that lateness on every request (-5 % at 50/s with 1 ms
                    // timers) for no gain: the next slot is still at least half an interval
                    // away, so no 1-second window gets more than one extra request.
                    Some(i)
                        if slept_until == Some(s.tat)
                            && s.pause_until <= now
                            && now.saturating_duration_since(s.tat) <= i / 2 =>
                    {
                        s.tat
                    }
                    Some(i) => s
                        .tat
                        .max(now.checked_sub(i * (self.burst - 1)).unwrap_or(now)),
                };
                let target = slot.max(s.pause_until);
                if target <= now {
                    if let Some(i) = s.interval {
                        s.tat = slot + i;
                    }
                    count(&mut s.meter, now, self.successes.load(Ordering::Relaxed));
                    return now;
                }
                target
            };
            // A cooldown or a lowered rate may arrive while we sleep: look again on waking.
            slept_until = Some(target);
            tokio::time::sleep_until(target).await;
        }
    }

    /// Reports a 429 for a request sent at `sent_at`. Every worker pauses: at least
    /// `retry_after` when given; otherwise a cooldown from 1 s doubling while 429s keep coming,
    /// and the effective rate is lowered. Returns the pause length.
    /// `lower_rate` is false when the 429 came from a concurrency limiter (the caller lowers
    /// the in-flight cap instead): then only the shared cooldown applies.
    pub fn on_429(
        &self,
        sent_at: Instant,
        retry_after: Option<Duration>,
        lower_rate: bool,
    ) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some(ra) = retry_after {
            let until = now + ra;
            if until > s.pause_until {
                s.pause_until = until;
                s.pause_set_at = Some(now);
            }
            s.last_429 = Some(now);
            s.tat = s.tat.max(s.pause_until);
            return s.pause_until.saturating_duration_since(now);
        }
        // Requests that were already on the wire when the cooldown began belong to the same
        // episode: they must not escalate it again.
        if s.pause_set_at.is_some_and(|at| sent_at <= at) {
            return s.pause_until.saturating_duration_since(now);
        }
        // Consecutive 429s (no success since the last cooldown) double the cooldown; a 429
        // after requests went through again starts over from 1 s.
        let recent = !s.success_since_pause
            && s.last_429
                .is_some_and(|t| now.duration_since(t) < s.backoff * 4 + Duration::from_secs(10));
        s.success_since_pause = false;
        self.armed.store(true, std::sync::atomic::Ordering::Relaxed);
        s.backoff = if recent {
            (s.backoff * 2).min(MAX_BACKOFF)
        } else {
            FIRST_BACKOFF
        };
        let jitter = rand::rng().random_range(0.9..1.1);
        let pause = s.backoff.mul_f64(jitter);
        s.pause_until = s.pause_until.max(now + pause);
        s.pause_set_at = Some(now);
        s.last_429 = Some(now);
        if !lower_rate {
            s.tat = s.tat.max(s.pause_until);
            return s.pause_until.saturating_duration_since(now);
        }
        // Nothing measured yet (the first second of a run or of a resume): there is no rate to
        // lower from. A 429 this early says the portal's window was already used (by a run
        // that just ended, or another shard on the same key), not that this run is too fast;
        // cutting from a guess would land on the floor and crawl for half a minute.
        let Some(measured) = (s.meter.last_rate > 0.0).then_some(s.meter.last_rate) else {
            s.tat = s.tat.max(s.pause_until);
            return s.pause_until.saturating_duration_since(now);
        };
        s.last_change = now;
        // Lower the effective rate from what we were doing (the current interval, or the
        // measured rate before the first cut).
        let current = match s.interval {
            Some(i) => 1.0 / i.as_secs_f64(),
            None => {
                s.ceiling = Some(measured.max(MIN_RATE * 2.0) * 2.0);
                measured.max(MIN_RATE * 2.0)
            }
        };
        // Multiplicative decrease by 0.7 (TCP-like AIMD): gentle enough that a steady limiter
        // is tracked closely, quick enough to get below it within a few episodes. Never below
        // what the portal accepted over the last second: that rate went through, so going
        // under it only wastes time (a window limiter admits exactly its size per window).
        let accepted = s.meter.last_ok_rate * ACCEPTED_SHARE;
        let lowered = (current * 0.7).max(accepted.min(current)).max(MIN_RATE);
        s.interval = Some(Duration::from_secs_f64(1.0 / lowered));
        s.tat = s.tat.max(s.pause_until);
        s.pause_until.saturating_duration_since(now)
    }

    /// Reports a successful request (cheap until the first 429).
    pub fn on_success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        if !self.armed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if Instant::now() >= s.pause_until {
            s.success_since_pause = true;
        }
    }

    /// The effective rate now (requests/s), `None` when unlimited.
    #[cfg(test)]
    pub fn effective_rate(&self) -> Option<f64> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.interval.map(|i| 1.0 / i.as_secs_f64())
    }

    /// Raises a lowered rate by 25% after each quiet period, up to the configured one.
    fn recover(&self, s: &mut State, now: Instant) {
        if s.interval == self.configured {
            return;
        }
        let quiet = s
            .last_429
            .is_none_or(|t| now.duration_since(t) >= RECOVER_EVERY);
        if !quiet || now.duration_since(s.last_change) < RECOVER_EVERY {
            return;
        }
        let Some(i) = s.interval else { return };
        let raised = Duration::from_secs_f64(i.as_secs_f64() / 1.25);
        s.last_change = now;
        s.interval = match self.configured {
            Some(c) if raised <= c => Some(c),
            Some(_) => Some(raised),
            None => {
                if s.ceiling.is_some_and(|c| 1.0 / raised.as_secs_f64() >= c) {
                    None
                } else {
                    Some(raised)
                }
            }
        };
    }
}

/// Counts a send at `at`; `ok` is the success counter now. A bucket closes at the first send
/// a second or more after it opened.
fn count(m: &mut Meter, at: Instant, ok: u64) {
    let el = at.saturating_duration_since(m.bucket_start);
    if el >= Duration::from_secs(1) {
        m.last_rate = m.count as f64 / el.as_secs_f64();
        m.last_ok_rate = ok.saturating_sub(m.ok_at_start) as f64 / el.as_secs_f64();
        m.bucket_start = at;
        m.ok_at_start = ok;
        m.count = 0;
    }
    m.count += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_on_an_absolute_schedule() {
        let l = Limiter::new(Rate::PerSecond(10.0), 1);
        let t0 = Instant::now();
        for k in 0..5u32 {
            let slot = l.acquire().await;
            assert_eq!(slot.duration_since(t0), Duration::from_millis(100) * k);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slightly_late_wakeups_keep_the_schedule() {
        // 30/s is 33.3 ms; timers fire on whole milliseconds, so every waiter wakes up to
        // 1 ms late. The schedule must not drift by that much per request.
        let l = Limiter::new(Rate::PerSecond(30.0), 1);
        let t0 = Instant::now();
        let mut last = t0;
        for _ in 0..31 {
            last = l.acquire().await;
        }
        let took = last.duration_since(t0);
        assert!(
            took >= Duration::from_millis(1000) && took <= Duration::from_millis(1002),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_catch_up_after_a_stall_beyond_the_burst() {
        let l = Limiter::new(Rate::PerSecond(10.0), 3);
        l.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t1 = Instant::now();
        let mut slots = Vec::new();
        for _ in 0..6 {
            slots.push(l.acquire().await.duration_since(t1));
        }
        // Three back-to-back (the burst), then one per 100 ms.
        assert_eq!(&slots[..3], &[Duration::ZERO; 3]);
        assert_eq!(slots[3], Duration::from_millis(100));
        assert_eq!(slots[5], Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_everyone() {
        let l = std::sync::Arc::new(Limiter::new(Rate::Unlimited, 1));
        let sent = l.acquire().await;
        l.on_429(sent, Some(Duration::from_secs(3)), true);
        let t = Instant::now();
        let a = tokio::spawn({
            let l = l.clone();
            async move { l.acquire().await }
        });
        let b = l.acquire().await;
        assert!(b.duration_since(t) >= Duration::from_secs(3));
        assert!(a.await.unwrap().duration_since(t) >= Duration::from_secs(3));
    }

    /// Sends at the limiter's pace for `secs`, every request a success.
    async fn send_for(l: &Limiter, secs: f64) -> Instant {
        let t0 = Instant::now();
        loop {
            let sent = l.acquire().await;
            l.on_success();
            if sent.duration_since(t0).as_secs_f64() >= secs {
                return sent;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bare_429_backs_off_lowers_the_rate_and_recovers() {
        let l = Limiter::new(Rate::PerSecond(20.0), 1);
        let sent = send_for(&l, 1.5).await;
        let p = l.on_429(sent, None, true);
        assert!(
            p >= Duration::from_millis(900) && p <= Duration::from_millis(1100),
            "{p:?}"
        );
        // 20/s × 0.7 is 14/s, but the portal accepted 20/s over the last second: the cut
        // stops at 90 % of that.
        let r = l.effective_rate().unwrap();
        assert!((r - 18.0).abs() < 0.01, "{r}");
        // A second 429 from a request sent before the cooldown does not escalate.
        let p2 = l.on_429(sent, None, true);
        assert!(p2 <= p);
        assert!((l.effective_rate().unwrap() - r).abs() < 1e-9);
        // After quiet periods the rate climbs back to the configured one.
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            l.acquire().await;
        }
        assert_eq!(l.effective_rate(), Some(20.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cut_goes_by_0_7_when_the_portal_accepted_less() {
        // Sends at 20/s, but only every other one succeeded: the accepted 10/s is no floor
        // above 20 × 0.7.
        let l = Limiter::new(Rate::PerSecond(20.0), 1);
        let t0 = Instant::now();
        let mut sent = t0;
        for k in 0..31 {
            sent = l.acquire().await;
            if k % 2 == 0 {
                l.on_success();
            }
        }
        l.on_429(sent, None, true);
        let r = l.effective_rate().unwrap();
        assert!((r - 14.0).abs() < 0.01, "{r}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_bare_429_pauses_an_unlimited_run_without_lowering_its_rate() {
        // The first 50 ms of a run (or a resume right after the portal's window ran out):
        // nothing is measured yet, so the run pauses and then goes on at full speed. It used
        // to cut to the floor (0.28/s) and crawl for half a minute.
        let l = Limiter::new(Rate::Unlimited, 1);
        let t0 = Instant::now();
        for _ in 0..5 {
            l.acquire().await;
            l.on_success();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let sent = l.acquire().await;
        let p = l.on_429(sent, None, true);
        assert!(
            p >= Duration::from_millis(900) && p <= Duration::from_millis(1100),
            "{p:?}"
        );
        assert_eq!(l.effective_rate(), None, "still unlimited");
        // Nobody goes before the pause ends; then 100 requests go at once.
        let first = l.acquire().await;
        let waited = first.duration_since(t0) - Duration::from_millis(20);
        // (timers fire on whole milliseconds)
        assert!(
            waited >= p && waited <= p + Duration::from_millis(1),
            "{waited:?}"
        );
        for _ in 0..100 {
            l.on_success();
            assert_eq!(l.acquire().await, first);
        }
        // A later 429, with a second measured, lowers from what was measured (106 requests,
        // all accepted, in the 2 s bucket since the start: 47/s at 90 %), far above the floor.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let sent = l.acquire().await;
        l.on_429(sent, None, true);
        let r = l.effective_rate().expect("now a rate");
        assert!(r > 40.0, "{r}");
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_429s_double_the_cooldown() {
        let l = Limiter::new(Rate::PerSecond(100.0), 1);
        let s1 = l.acquire().await;
        let p1 = l.on_429(s1, None, true);
        let s2 = l.acquire().await; // after the first cooldown
        let p2 = l.on_429(s2, None, true);
        assert!(p2 > p1 * 3 / 2, "{p1:?} then {p2:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_after_successes_starts_a_new_episode_from_one_second() {
        let l = Limiter::new(Rate::PerSecond(100.0), 1);
        let s1 = l.acquire().await;
        let p1 = l.on_429(s1, None, true);
        l.acquire().await; // after the cooldown
        l.on_success();
        let s2 = l.acquire().await;
        let p2 = l.on_429(s2, None, true);
        assert!(p2 < p1 * 3 / 2, "{p1:?} then {p2:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_concurrency_429_pauses_without_lowering_the_rate() {
        let l = Limiter::new(Rate::PerSecond(20.0), 1);
        let s1 = l.acquire().await;
        let p = l.on_429(s1, None, false);
        assert!(p >= Duration::from_millis(900));
        assert_eq!(l.effective_rate(), Some(20.0));
    }
}
