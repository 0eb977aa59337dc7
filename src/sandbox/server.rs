//! The HTTP/1.1 server and the per-request pipeline that wraps the portal's routes:
//! record → interceptor → limiter → latency → fault → route → answer delay. It drives hyper
//! directly (rather than `axum::serve`) so that a "dropped connection" can really close the socket
//! without any response: a service error makes hyper abort the connection.
//!
//! Hyper drops a request's future when its client disconnects, so a client that goes away during
//! the latency wait cancels the request. Routing, once reached, runs as its own task and always
//! completes; the answer delay comes after it, so a client that goes away then leaves the change
//! made, as a remote portal does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::dto::Call;
use super::faults;
use super::handlers::Portal;
use super::limiter::Limiter;
use super::record::RequestLog;
use super::rules::{self, Who};
use super::{Injected, InterceptRequest, Interceptor, RecordedRequest};

/// Bodies above this are cut off (lock bodies are tiny).
const MAX_BODY: usize = 1 << 20;

/// Everything the pipeline shares across connections.
pub(crate) struct App {
    pub portal: Arc<Portal>,
    pub router: Router,
    pub key: String,
    pub latency: Duration,
    pub answer_delay: Duration,
    pub faults: f64,
    pub seed: u64,
    pub limiter: Limiter,
    pub log: Arc<RequestLog>,
    pub interceptor: Option<Interceptor>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// Counts a request as in flight for as long as it lives.
struct InFlight<'a>(&'a App);

impl<'a> InFlight<'a> {
    fn enter(app: &'a App) -> InFlight<'a> {
        let now = app.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        app.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(app)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until `stop` is cancelled; each connection dies with it.
pub(crate) async fn serve(listener: TcpListener, app: Arc<App>, stop: CancellationToken) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of file descriptors and the like: back off briefly, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let stop = stop.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| handle(Arc::clone(&app), peer, req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// One request, start to finish: record it, answer it, record the status.
async fn handle(
    app: Arc<App>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let _flight = InFlight::enter(&app);
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(Body::new(body), MAX_BODY)
        .await
        .unwrap_or_default();
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let pending = app.log.begin(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
        authorization,
        status: 0,
        start: Duration::ZERO,
        end: Duration::ZERO,
    });
    let n = pending.n;
    let who = app
        .portal
        .rules
        .authenticate(&parts.headers, &app.key, |t| {
            app.portal.state().tokens.contains(t)
        });
    let request = Request::from_parts(parts, body);
    match respond(&app, peer, n, who, request).await {
        Some(resp) => {
            pending.finish(resp.status().as_u16());
            Ok(resp)
        }
        None => {
            pending.finish(0);
            Err(DropConnection)
        }
    }
}

/// The pipeline after recording; `None` means drop the connection.
async fn respond(
    app: &App,
    peer: SocketAddr,
    n: u64,
    who: Who,
    request: Request<Bytes>,
) -> Option<Response<Body>> {
    let mut delay = app.latency;
    // Answers that apply nothing wait both delays at once: the order cannot be observed.
    if let Some(intercept) = &app.interceptor {
        let seen = InterceptRequest {
            n,
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().map(str::to_owned),
            body: request.body().to_vec(),
        };
        match intercept(&seen) {
            Some(Injected::Respond {
                status,
                headers,
                body,
            }) => {
                sleep(delay + app.answer_delay).await;
                return Some(injected_response(status, headers, body));
            }
            Some(Injected::Drop) => {
                sleep(delay + app.answer_delay).await;
                return None;
            }
            Some(Injected::Delay(extra)) => delay += extra,
            None => {}
        }
    }
    // Partition per user (every key and session of the caller share one), or per client IP
    // when unauthenticated, as DocSpace does.
    let partition = if who == Who::Anonymous {
        format!("ip:{}", peer.ip())
    } else {
        "user:caller".to_string()
    };
    let permit = match app.limiter.admit(&partition, request.method()) {
        Ok(p) => p,
        Err(rejection) => {
            sleep(delay + app.answer_delay).await;
            return Some(rejection.into_response());
        }
    };
    // The concurrency slot stays taken through both delays, as a slow server holds it.
    sleep(delay).await;
    let answer = match faults::pick(app.seed, n, app.faults) {
        Some(fault) => fault.response(),
        None => route(app, request, who).await,
    };
    sleep(app.answer_delay).await;
    drop(permit);
    answer
}

/// Hands the request to the portal's routes in a task of its own: hyper may drop the calling
/// future at any await (the client went away), and a change the portal has started must not be
/// cut short or depend on the connection. `None` (drop the connection) only if the handler
/// panicked or the runtime is shutting down.
async fn route(app: &App, request: Request<Bytes>, who: Who) -> Option<Response<Body>> {
    let permissions = &app.portal.account.key_permissions;
    if who == Who::Key && !rules::key_allows(permissions, request.method(), request.uri().path()) {
        // The scope check runs before the action: 403 with no body.
        return Some(super::dto::empty(StatusCode::FORBIDDEN));
    }
    let call = make_call(&request, who, app.portal.rules);
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(call);
    let routed = app
        .router
        .clone()
        .oneshot(Request::from_parts(parts, Body::from(body)));
    match tokio::spawn(routed).await {
        Ok(Ok(resp)) => Some(resp),
        Ok(Err(never)) => match never {},
        Err(_) => None,
    }
}

fn make_call(request: &Request<Bytes>, who: Who, rules: rules::Rules) -> Call {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let base = format!("http://{host}");
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    Call {
        authed: who != Who::Anonymous,
        who,
        rules,
        href: format!("{base}{path_and_query}"),
        base,
        method: request.method().to_string(),
    }
}

fn injected_response(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    resp
}
