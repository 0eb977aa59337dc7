//! The cap on requests in flight. It starts at `--concurrency` and comes down when the portal's
//! concurrency limiter answers 429 (DocSpace: 15 writes and 50 reads in flight per user by
//! default, the 429 carrying that number as `X-RateLimit-Limit`). Cutting the request *rate* is
//! the wrong answer to that limit: what is too high is the number of requests open at once.
//! After a quiet period the cap climbs back one request at a time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Quiet time before the cap is raised by one.
const RAISE_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct State {
    cap: usize,
    /// Permits to drop as they come back (the cap went down while they were out).
    debt: usize,
    in_flight: usize,
    last_change: Instant,
}

/// A shared in-flight cap. All methods take `&self`.
#[derive(Debug)]
pub struct Gate {
    sem: Semaphore,
    max: usize,
    state: Mutex<State>,
}

/// One request's place in flight; dropping it gives the place back.
#[derive(Debug)]
pub struct Place<'a> {
    gate: &'a Gate,
    permit: Option<SemaphorePermit<'a>>,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut s = self.gate.state.lock().unwrap_or_else(|p| p.into_inner());
        s.in_flight -= 1;
        if s.debt > 0 {
            s.debt -= 1;
            if let Some(p) = self.permit.take() {
                p.forget();
            }
        }
    }
}

impl Gate {
    /// A gate allowing `max` requests in flight.
    pub fn new(max: usize) -> Gate {
        let max = max.max(1);
        Gate {
            sem: Semaphore::new(max),
            max,
            state: Mutex::new(State {
                cap: max,
                debt: 0,
                in_flight: 0,
                last_change: Instant::now(),
            }),
        }
    }

    /// Waits for a place in flight.
    pub async fn enter(&self) -> Place<'_> {
        self.raise_if_quiet();
        // The semaphore is never closed, so acquire cannot fail.
        let permit = self.sem.acquire().await.ok();
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .in_flight += 1;
        Place { gate: self, permit }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .in_flight
    }

    /// The current cap.
    #[cfg(test)]
    pub fn cap(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).cap
    }

    /// A 429 from a concurrency limiter that allows `limit` requests in flight: cap there.
    pub fn limit_to(&self, limit: usize) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let target = limit.clamp(1, self.max);
        s.last_change = Instant::now();
        if target >= s.cap {
            return;
        }
        let cut = s.cap - target;
        s.cap = target;
        let taken = self.sem.forget_permits(cut);
        s.debt += cut - taken;
    }

    fn raise_if_quiet(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.cap >= self.max || s.last_change.elapsed() < RAISE_EVERY {
            return;
        }
        s.cap += 1;
        s.last_change = Instant::now();
        if s.debt > 0 {
            s.debt -= 1;
        } else {
            self.sem.add_permits(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_cap_comes_down_to_the_limit_and_climbs_back() {
        let g = Gate::new(8);
        let held: Vec<Place<'_>> = futures::future::join_all((0..8).map(|_| g.enter())).await;
        assert_eq!(g.in_flight(), 8);
        g.limit_to(3);
        assert_eq!(g.cap(), 3);
        drop(held);
        assert_eq!(g.in_flight(), 0);
        // Only 3 places now.
        let three: Vec<Place<'_>> = futures::future::join_all((0..3).map(|_| g.enter())).await;
        let fourth = tokio::time::timeout(Duration::from_millis(10), g.enter()).await;
        assert!(fourth.is_err(), "a fourth request waits");
        drop(three);
        // After a quiet period the cap goes up by one.
        tokio::time::sleep(RAISE_EVERY + Duration::from_millis(1)).await;
        let four: Vec<Place<'_>> = futures::future::join_all((0..4).map(|_| g.enter())).await;
        assert_eq!(g.cap(), 4);
        assert_eq!(four.len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_higher_limit_never_raises_the_cap_above_concurrency() {
        let g = Gate::new(4);
        g.limit_to(50);
        assert_eq!(g.cap(), 4);
    }
}
