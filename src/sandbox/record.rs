//! The request log: every request in arrival order with what came in and how it was answered,
//! for tests ([`super::Sandbox::requests`]) and the CLI's exit summary. One `Mutex<Vec>`; the
//! arrival index doubles as the request number `n` used by faults and interceptors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::RecordedRequest;

struct Entry {
    req: RecordedRequest,
    done: bool,
}

/// All requests received so far.
pub(crate) struct RequestLog {
    started: Instant,
    entries: Mutex<Vec<Entry>>,
}

impl RequestLog {
    /// An empty log; times are measured from now.
    pub fn new() -> RequestLog {
        RequestLog {
            started: Instant::now(),
            entries: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time since the sandbox started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records an arriving request (status 0, `end == start` until finished) and returns its
    /// guard; the guard's `n` is the 0-based arrival index.
    pub fn begin(self: &Arc<Self>, mut req: RecordedRequest) -> Pending {
        req.start = self.elapsed();
        req.end = req.start;
        req.status = 0;
        let mut entries = self.lock();
        let n = entries.len() as u64;
        entries.push(Entry { req, done: false });
        Pending {
            log: Arc::clone(self),
            n,
            done: false,
        }
    }

    fn finish(&self, n: u64, status: u16) {
        let end = self.elapsed();
        if let Some(e) = self.lock().get_mut(n as usize) {
            e.req.status = status;
            e.req.end = end;
            e.done = true;
        }
    }

    /// A copy of every request so far.
    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().iter().map(|e| e.req.clone()).collect()
    }

    /// Finished requests by status (0 = dropped).
    pub fn status_counts(&self) -> BTreeMap<u16, u64> {
        let mut counts = BTreeMap::new();
        for e in self.lock().iter().filter(|e| e.done) {
            *counts.entry(e.req.status).or_insert(0) += 1;
        }
        counts
    }
}

/// A request being answered. Dropping it unfinished (the connection went away, or the server
/// dropped it on purpose) records status 0.
pub(crate) struct Pending {
    log: Arc<RequestLog>,
    /// 0-based arrival index.
    pub n: u64,
    done: bool,
}

impl Pending {
    /// Records the final status (0 = dropped).
    pub fn finish(mut self, status: u16) {
        self.done = true;
        self.log.finish(self.n, status);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.log.finish(self.n, 0);
        }
    }
}
