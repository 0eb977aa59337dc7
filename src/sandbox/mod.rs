//! The simulated DocSpace portal, for rehearsals (`docspace-batch sandbox`), for `run --sandbox`,
//! and for integration tests, which also inspect what it received and inject faults. It answers
//! as the real server does, quirks included: `locked` true or absent, `lockedBy` only for
//! another user, a 403 for a missing file from `protectusers`, 403 rather than 401 for a bad key
//! on the anonymous file endpoints, 429s without a body.
//!
//! Layout: `data` seeds users, rooms and files; `handlers` implements the file endpoints
//! (`rooms` the room-membership one) and `account` the sign-in, version, caller and key;
//! `rules` holds what depends on the credential and on the server version played; `dto` shapes
//! the JSON; `limiter` is DocSpace's rate limiter; `faults` picks injected failures; `record`
//! is the request log; `server` runs hyper and the per-request pipeline; `cli` is the `sandbox`
//! subcommand.

mod account;
mod cli;
mod data;
mod dto;
mod faults;
mod handlers;
mod limiter;
mod record;
mod rooms;
mod rules;
mod server;
mod shares;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use cli::{run_cli, LimitsPreset, SandboxArgs};
pub use data::{CALLER_EMAIL, CALLER_NAME, PASSWORD, TFA_EMAIL};

/// The DocSpace version the sandbox plays unless told otherwise.
pub const DEFAULT_SERVER_VERSION: [u32; 3] = [3, 7, 2];

/// How to run a sandbox. Every limit is off unless set.
#[derive(Clone)]
pub struct SandboxOptions {
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// The API key clients must send as `Authorization: Bearer <key>`; `None` makes a random
    /// `sk-` + 32 hex characters.
    pub api_key: Option<String>,
    /// Extra bulk files `100000..100000+files` in room 6000 "Bulk".
    pub files: u32,
    /// Waited before a request is handled. A client that disconnects during this wait cancels
    /// the request: nothing is applied.
    pub latency: Duration,
    /// Waited after a request is handled, before its answer is sent. The request has been
    /// applied by then and stays applied if the client disconnects during the wait, as with a
    /// remote portal whose answer is still on the wire when the client dies.
    pub answer_delay: Duration,
    /// Share (0.0..=1.0) of requests answered with 500, 502 (HTML), 503 or a dropped connection.
    pub faults: f64,
    /// Seeds the fault choice: the same seed and arrival order give the same faults.
    pub seed: u64,
    /// Sliding window: N requests per window per user; 429 without body or `Retry-After`.
    pub limit_rate: Option<(u32, Duration)>,
    /// PUT/POST/DELETE in flight per user; 429 when exceeded.
    pub limit_writes: Option<u32>,
    /// GET in flight per user; 429 when exceeded.
    pub limit_reads: Option<u32>,
    /// PUT/POST per 24 h window (from start); 429 with `Retry-After` and `X-RateLimit-Reset`.
    pub limit_daily_writes: Option<u32>,
    /// Test hook, consulted for every request before anything else answers it.
    pub interceptor: Option<Interceptor>,
    /// The DocSpace version reported and played (major, minor, patch): API keys from 3.1,
    /// `keys/@self` from 3.2, content creators break others' locks before 3.5, "My documents"
    /// cannot be locked and a missing file is a 403 before 3.7.1.
    pub server_version: [u32; 3],
    /// When the API key expires, counted from start (`keys/@self` `expiresAt`); `None`: never.
    pub key_expires_in: Option<Duration>,
    /// The API key's permissions (`files:read`, `files:write`, `*`, …); enforced on the file
    /// endpoints.
    pub key_permissions: Vec<String>,
    /// The password of both sign-in users; `None` is [`PASSWORD`].
    pub password: Option<String>,
    /// A session token accepted from the start, as if an earlier sign-in had issued it.
    pub token: Option<String>,
}

impl Default for SandboxOptions {
    fn default() -> SandboxOptions {
        SandboxOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: None,
            files: 0,
            latency: Duration::ZERO,
            answer_delay: Duration::ZERO,
            faults: 0.0,
            seed: 1,
            limit_rate: None,
            limit_writes: None,
            limit_reads: None,
            limit_daily_writes: None,
            interceptor: None,
            server_version: DEFAULT_SERVER_VERSION,
            key_expires_in: None,
            key_permissions: vec!["*".into()],
            password: None,
            token: None,
        }
    }
}

impl std::fmt::Debug for SandboxOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxOptions")
            .field("listen", &self.listen)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("files", &self.files)
            .field("latency", &self.latency)
            .field("answer_delay", &self.answer_delay)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("limit_rate", &self.limit_rate)
            .field("limit_writes", &self.limit_writes)
            .field("limit_reads", &self.limit_reads)
            .field("limit_daily_writes", &self.limit_daily_writes)
            .field("interceptor", &self.interceptor.as_ref().map(|_| "Fn"))
            .field("server_version", &self.server_version)
            .field("key_expires_in", &self.key_expires_in)
            .field("key_permissions", &self.key_permissions)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A test hook: sees each request and may answer it, drop it or delay it. Returning `None`
/// lets the request through normally.
pub type Interceptor = Arc<dyn Fn(&InterceptRequest) -> Option<Injected> + Send + Sync>;

/// What an [`Interceptor`] sees.
#[derive(Clone, Debug)]
pub struct InterceptRequest {
    /// 0-based arrival index of the request.
    pub n: u64,
    /// `GET`, `PUT`, …
    pub method: String,
    /// The raw path as received, still percent-encoded.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request body, as received.
    pub body: Vec<u8>,
}

/// What an [`Interceptor`] does with a request.
#[derive(Clone, Debug)]
pub enum Injected {
    /// Send this instead of the real answer (after the configured latency and answer delay,
    /// bypassing the limiter and faults).
    Respond {
        /// HTTP status.
        status: u16,
        /// Headers to send, as (name, value) pairs.
        headers: Vec<(String, String)>,
        /// The body to send, as is.
        body: Vec<u8>,
    },
    /// Close the connection without a complete response (after the latency and answer delay).
    Drop,
    /// Sleep this long (on top of the latency), then handle normally.
    Delay(Duration),
}

/// One request as the sandbox received and answered it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The raw path, still percent-encoded.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The body (lossy UTF-8).
    pub body: String,
    /// The `Authorization` header value, if sent.
    pub authorization: Option<String>,
    /// Response status; 0 when the connection was dropped (or the request is still running).
    pub status: u16,
    /// When the request arrived (body read), since sandbox start.
    pub start: Duration,
    /// When the response head was produced, since sandbox start.
    pub end: Duration,
}

/// A running sandbox portal. Dropping it, or [`Sandbox::shutdown`], stops it.
pub struct Sandbox {
    addr: SocketAddr,
    app: Arc<server::App>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// The users' password and the key's description, from the options.
fn account_of(opts: &SandboxOptions, key: &str) -> account::Account {
    let now = time::OffsetDateTime::now_utc();
    let expires = opts
        .key_expires_in
        .and_then(|d| time::Duration::try_from(d).ok())
        .map(|d| account::api_date_time(now + d));
    account::Account {
        password: opts.password.clone().unwrap_or_else(|| PASSWORD.into()),
        key: key.to_string(),
        key_permissions: opts.key_permissions.clone(),
        key_expires_at: expires,
        started: account::api_date_time(now),
        links_expire: account::api_date_time(now + time::Duration::days(30)),
    }
}

fn random_key() -> String {
    format!("sk-{:032x}", rand::rng().random::<u128>())
}

impl Sandbox {
    /// Binds `opts.listen` and starts serving in the background (needs a tokio runtime).
    pub async fn start(opts: SandboxOptions) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let key = opts.api_key.clone().unwrap_or_else(random_key);
        let mut state = data::Mutable::seeded();
        state.tokens.extend(opts.token.clone());
        let portal = Arc::new(handlers::Portal {
            data: data::DataSet::new(opts.files),
            state: Mutex::new(state),
            account: account_of(&opts, &key),
            rules: rules::Rules {
                version: opts.server_version,
            },
        });
        let app = Arc::new(server::App {
            router: handlers::router(Arc::clone(&portal)),
            portal,
            key,
            latency: opts.latency,
            answer_delay: opts.answer_delay,
            faults: opts.faults.clamp(0.0, 1.0),
            seed: opts.seed,
            limiter: limiter::Limiter::new(limiter::LimitConfig {
                rate: opts.limit_rate,
                writes: opts.limit_writes,
                reads: opts.limit_reads,
                daily_writes: opts.limit_daily_writes,
            }),
            log: Arc::new(record::RequestLog::new()),
            interceptor: opts.interceptor,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(server::serve(listener, Arc::clone(&app), stop.clone()));
        Ok(Sandbox {
            addr,
            app,
            stop,
            task: Some(task),
        })
    }

    /// The bound address (with the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API key to send as `Authorization: Bearer <key>`.
    pub fn api_key(&self) -> &str {
        &self.app.key
    }

    /// The session tokens accepted now: those sign-ins issued, and [`SandboxOptions::token`].
    pub fn tokens(&self) -> Vec<String> {
        self.app.portal.state().tokens.iter().cloned().collect()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.log.snapshot()
    }

    /// Finished requests by status; dropped connections count under 0.
    pub fn status_counts(&self) -> BTreeMap<u16, u64> {
        self.app.log.status_counts()
    }

    /// The peak number of requests in flight at once (all kinds).
    pub fn max_in_flight(&self) -> usize {
        self.app.max_in_flight.load(Ordering::SeqCst)
    }

    /// Display name of the lock holder; `None` when unlocked or the ID is unknown.
    pub fn lock_owner(&self, file_id: &str) -> Option<String> {
        let id = data::canonical_id(file_id);
        self.app.portal.state().locks.get(id.as_ref()).cloned()
    }

    /// Sets or clears a lock. `owner` is a display name: [`CALLER_NAME`] ("Sandbox Admin") for
    /// the caller, "Jane Auditor", or any other name (shown as `lockedBy`).
    pub fn set_lock_owner(&self, file_id: &str, owner: Option<&str>) {
        let id = data::canonical_id(file_id).into_owned();
        let mut state = self.app.portal.state();
        match owner {
            Some(name) => state.locks.insert(id, name.to_string()),
            None => state.locks.remove(&id),
        };
    }

    /// Renames a file (e.g. to a hostile title such as `=cmd|' /C calc'!A0`).
    pub fn set_title(&self, file_id: &str, title: &str) {
        let id = data::canonical_id(file_id).into_owned();
        self.app.portal.state().titles.insert(id, title.to_string());
    }

    /// Revokes the external link of `file_id` (files 201–205 have one), as a user deleting it
    /// in the portal would.
    pub fn revoke_link(&self, file_id: &str) {
        let id = data::canonical_id(file_id).into_owned();
        self.app.portal.state().revoked_links.insert(id);
    }

    /// Stops accepting, closes open connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("addr", &self.addr).finish()
    }
}
