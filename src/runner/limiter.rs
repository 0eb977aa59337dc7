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
/// Share of that rate up to which a lowered rate recovers in one step.
const LIMIT_SHARE: f64 = 0.95;
/// Quiet time after which a rate held just under the portal's limit probes above it again.
const PROBE_AFTER: Duration = Duration::from_secs(30);
/// Quiet time after a 429 before the rate is raised again, and between raises.
const RECOVER_EVERY: Duration = Duration::from_secs(5);

/// Counts sends per second, so an `unlimited` run knows what rate it was going at when the
/// portal pushed back.
#[derive(Debug)]
struct Meter {
    bucket_start: Instant,
    count: u64,
    /// Sends per second over the last whole bucket; 0 until one second has been measured.
    last_rate: f64,
}

/// Successes over the last second, in ten 100 ms slots, counted without the limiter's lock:
/// what the portal accepted just before it pushed back is the best estimate of its limit (a
/// window limiter admits exactly its size per window). Each slot holds its tick (100 ms since
/// `origin`) above 24 bits of count.
#[derive(Debug)]
struct Recent {
    origin: Instant,
    slots: [AtomicU64; 10],
}

impl Recent {
    fn tick(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.origin).as_millis() / 100) as u64
    }

    fn add(&self, at: Instant) {
        let tick = self.tick(at);
        let slot = &self.slots[(tick % 10) as usize];
        let mut cur = slot.load(Ordering::Relaxed);
        loop {
            let new = if cur >> 24 == tick {
                cur + 1
            } else {
                (tick << 24) | 1
            };
            match slot.compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(x) => cur = x,
            }
        }
    }

    /// Successes per second over the ten slots up to `at`'s (the last 0.9 to 1 s).
    fn per_second(&self, at: Instant) -> f64 {
        let since = at.saturating_duration_since(self.origin);
        let tick = self.tick(at);
        let n: u64 = self
            .slots
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|v| tick.saturating_sub(v >> 24) < 10)
            .map(|v| v & 0xff_ffff)
            .sum();
        let in_slot = (since.as_millis() % 100) as f64 / 1000.0;
        let covered = (0.9 + in_slot).min(since.as_secs_f64()).max(0.1);
        n as f64 / covered
    }
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
    /// What the portal accepted over the second before the last rate cut: recovery goes
    /// quickly up to just under it, then holds there until [`PROBE_AFTER`] without a 429.
    limit: Option<f64>,
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
    successes: Recent,
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
            successes: Recent {
                origin: now,
                slots: Default::default(),
            },
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
                },
                limit: None,
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
                    count(&mut s.meter, now);
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
        let accepted = self.successes.per_second(now);
        // Lower the effective rate from what we were doing (the current interval, or the
        // measured rate before the first cut: at least what the portal accepted, since the
        // last whole bucket may hold a pause).
        let measured = measured.max(accepted);
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
        s.limit = (accepted > 0.0).then_some(accepted);
        let lowered = (current * 0.7)
            .max(accepted * ACCEPTED_SHARE)
            .min(current)
            .max(MIN_RATE);
        s.interval = Some(Duration::from_secs_f64(1.0 / lowered));
        s.tat = s.tat.max(s.pause_until);
        s.pause_until.saturating_duration_since(now)
    }

    /// Reports a successful request (cheap until the first 429).
    pub fn on_success(&self) {
        self.successes.add(Instant::now());
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
        let rate = 1.0 / i.as_secs_f64();
        let mut up = rate * 1.25;
        if let Some(cap) = s.limit.map(|l| l * LIMIT_SHARE) {
            // (a rate set to the cap reads back a hair under it through its interval)
            if rate < cap * 0.999 {
                up = up.min(cap);
            } else if s
                .last_429
                .is_some_and(|t| now.duration_since(t) < PROBE_AFTER)
            {
                // Just under what the portal took: going over only buys a 429 and a pause.
                return;
            } else {
                s.limit = None; // long quiet: the portal's limit may have moved; probe.
            }
        }
        let raised = Duration::from_secs_f64(1.0 / up);
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

/// Counts a send at `at`. A bucket closes at the first send a second or more after it opened.
fn count(m: &mut Meter, at: Instant) {
    let el = at.saturating_duration_since(m.bucket_start);
    if el >= Duration::from_secs(1) {
        m.last_rate = m.count as f64 / el.as_secs_f64();
        m.bucket_start = at;
        m.count = 0;
    }
    m.count += 1;
}

#[cfg(test)]
mod tests;
