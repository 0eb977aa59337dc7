//! DocSpace's chained rate limiter, per partition (the user, whose API key and sessions share
//! one; the client IP for unauthenticated requests), checked in the server's order: sliding
//! window → concurrency (GET vs everything else) → daily PUT/POST cap. Rejections are 429 with
//! no body; only the daily cap adds `Retry-After` and `X-RateLimit-Reset`, as RedisRateLimiting
//! 1.2.1 does. Each limit is off unless a `--limit*` flag sets it, as the whole limiter is off
//! on a self-hosted portal unless configured.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderValue, Method, Response, StatusCode};

/// The daily write window (fixed, starting when the sandbox starts).
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Which limits are on; each `None` is off.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LimitConfig {
    /// Sliding window: N requests per window.
    pub rate: Option<(u32, Duration)>,
    /// Non-GET requests in flight.
    pub writes: Option<u32>,
    /// GET requests in flight.
    pub reads: Option<u32>,
    /// PUT/POST per fixed 24 h window.
    pub daily_writes: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Read,
    Write,
}

/// (partition, kind) of a concurrency slot.
type SlotKey = (String, Kind);

#[derive(Default)]
struct State {
    windows: HashMap<String, VecDeque<Instant>>,
    in_flight: HashMap<SlotKey, u32>,
    /// partition → (window number, writes in it)
    daily: HashMap<String, (u64, u32)>,
}

/// The limiter shared by all connections.
pub(crate) struct Limiter {
    cfg: LimitConfig,
    started: Instant,
    started_unix: SystemTime,
    state: Arc<Mutex<State>>,
}

/// A concurrency slot, released when dropped (after the response is produced).
pub(crate) struct Permit {
    slot: Option<(SlotKey, Arc<Mutex<State>>)>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.slot.is_some() {
            "Permit(slot)"
        } else {
            "Permit"
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((key, state)) = self.slot.take() {
            let mut st = lock(&state);
            if let Some(n) = st.in_flight.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    st.in_flight.remove(&key);
                }
            }
        }
    }
}

/// A 429 to send: headers only, never a body.
#[derive(Debug)]
pub(crate) struct Rejection {
    headers: Vec<(&'static str, String)>,
}

impl Rejection {
    fn limit(limit: u32) -> Rejection {
        Rejection {
            headers: vec![
                ("x-ratelimit-limit", limit.to_string()),
                ("x-ratelimit-remaining", "0".to_string()),
            ],
        }
    }

    /// The 429 response.
    pub fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Limiter {
    /// A limiter whose daily window starts now.
    pub fn new(cfg: LimitConfig) -> Limiter {
        Limiter {
            cfg,
            started: Instant::now(),
            started_unix: SystemTime::now(),
            state: Arc::default(),
        }
    }

    /// Admits a request of `method` for `partition`, or says why not.
    pub fn admit(&self, partition: &str, method: &Method) -> Result<Permit, Rejection> {
        let now = Instant::now();
        let mut st = lock(&self.state);
        if let Some((limit, window)) = self.cfg.rate {
            let q = st.windows.entry(partition.to_string()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
            if q.len() >= limit as usize {
                return Err(Rejection::limit(limit));
            }
            q.push_back(now);
        }
        let kind = if method == Method::GET || method == Method::HEAD {
            Kind::Read
        } else {
            Kind::Write
        };
        let cap = match kind {
            Kind::Read => self.cfg.reads,
            Kind::Write => self.cfg.writes,
        };
        let key = (partition.to_string(), kind);
        if let Some(cap) = cap {
            if st.in_flight.get(&key).copied().unwrap_or(0) >= cap {
                return Err(Rejection::limit(cap));
            }
        }
        if let (Some(cap), true) = (
            self.cfg.daily_writes,
            *method == Method::PUT || *method == Method::POST,
        ) {
            self.check_daily(&mut st, partition, cap, now)?;
        }
        if cap.is_none() {
            return Ok(Permit { slot: None });
        }
        *st.in_flight.entry(key.clone()).or_insert(0) += 1;
        Ok(Permit {
            slot: Some((key, Arc::clone(&self.state))),
        })
    }

    fn check_daily(
        &self,
        st: &mut State,
        partition: &str,
        cap: u32,
        now: Instant,
    ) -> Result<(), Rejection> {
        let elapsed = now.duration_since(self.started);
        let window = elapsed.as_secs() / DAY.as_secs();
        let entry = st.daily.entry(partition.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= cap {
            let window_end = DAY * (window as u32 + 1);
            let retry = (window_end - elapsed).as_secs_f64().ceil() as u64;
            let reset = (self.started_unix + window_end)
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let mut r = Rejection::limit(cap);
            r.headers.push(("retry-after", retry.to_string()));
            r.headers.push(("x-ratelimit-reset", reset.to_string()));
            return Err(r);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_rejects_over_limit() {
        let l = Limiter::new(LimitConfig {
            rate: Some((2, Duration::from_secs(60))),
            ..Default::default()
        });
        assert!(l.admit("k", &Method::GET).is_ok());
        assert!(l.admit("k", &Method::PUT).is_ok());
        let r = l.admit("k", &Method::GET).unwrap_err();
        assert_eq!(r.headers.len(), 2);
        assert!(l.admit("other", &Method::GET).is_ok(), "per partition");
    }

    #[test]
    fn concurrency_slots_are_released_on_drop() {
        let l = Limiter::new(LimitConfig {
            writes: Some(1),
            ..Default::default()
        });
        let p = l.admit("k", &Method::PUT).unwrap();
        assert!(l.admit("k", &Method::PUT).is_err());
        assert!(l.admit("k", &Method::GET).is_ok(), "reads are separate");
        drop(p);
        assert!(l.admit("k", &Method::PUT).is_ok());
    }

    #[test]
    fn daily_cap_counts_put_and_post_only() {
        let l = Limiter::new(LimitConfig {
            daily_writes: Some(1),
            ..Default::default()
        });
        assert!(l.admit("k", &Method::PUT).is_ok());
        assert!(l.admit("k", &Method::GET).is_ok());
        assert!(l.admit("k", &Method::DELETE).is_ok());
        let r = l.admit("k", &Method::POST).unwrap_err();
        let names: Vec<_> = r.headers.iter().map(|h| h.0).collect();
        assert!(names.contains(&"retry-after") && names.contains(&"x-ratelimit-reset"));
    }
}
