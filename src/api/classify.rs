//! Turning one HTTP exchange into a payload or a classified [`ApiError`]: the status, the
//! envelope (`response` on success; an `error` object with a `message` otherwise), `Retry-After`
//! and transport failures. DocSpace does not always respect status codes, so the body counts
//! too: an `error` object in a 200 is a failure, and a missing file can come as a 403.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

/// The `error_kind` column of results.csv.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 404, or 403 "The required file was not found".
    NotFound,
    /// Other 403.
    Forbidden,
    /// 401 (credential rejected).
    Unauthorized,
    /// 429.
    RateLimited,
    /// 5xx.
    ServerError,
    /// No answer within `--timeout`.
    Timeout,
    /// Connection refused, reset, dropped, TLS failure.
    Network,
    /// An answer we cannot use: not JSON, an `error` object in a 200, a redirect, other 4xx.
    BadResponse,
    /// An unlock left the file locked.
    StillLocked,
}

impl ErrorKind {
    /// Every kind, for reading the column back.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::NotFound,
        ErrorKind::Forbidden,
        ErrorKind::Unauthorized,
        ErrorKind::RateLimited,
        ErrorKind::ServerError,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::BadResponse,
        ErrorKind::StillLocked,
    ];

    /// A failure that trying again cannot change (the file is missing, the caller may not,
    /// the answer makes no sense, the lock stayed): the task is final, `--resume` leaves it
    /// unless `--retry-failed`. The others (429, 5xx, timeouts, the network, a rejected key)
    /// leave work for a resume.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            ErrorKind::NotFound
                | ErrorKind::Forbidden
                | ErrorKind::BadResponse
                | ErrorKind::StillLocked
        )
    }

    /// Reads a column value back; `None` for anything [`ErrorKind::as_str`] does not write.
    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `error_kind` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Network => "network",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::StillLocked => "still_locked",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed attempt. Never holds the key: messages come from status codes, the portal's
/// `error.message` and transport errors with their URLs stripped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// What went wrong, as the `error_kind` column says it; decides whether to retry.
    pub kind: ErrorKind,
    /// HTTP status when there was one.
    pub status: Option<u16>,
    /// Human-readable reason: the portal's `error.message` when it sent one, else what the
    /// status or the transport failure means.
    pub message: String,
    /// `Retry-After` of a 429/503, as a duration from now.
    pub retry_after: Option<Duration>,
    /// `X-RateLimit-Limit` of a 429: DocSpace's concurrency limiters send their in-flight cap
    /// here (15 for writes, 50 for reads by default), the sliding window its size (1500 a
    /// minute).
    pub rate_limit: Option<u64>,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, status: Option<u16>, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            status,
            message: message.into(),
            retry_after: None,
            rate_limit: None,
        }
    }

    /// A response we cannot use.
    pub fn bad_response(message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::BadResponse, None, message)
    }

    /// Worth another attempt: 408, 429, 5xx (a proxy's HTML error page included), connection
    /// errors and timeouts. Other 4xx say something about the request, which a retry repeats.
    pub fn retryable(&self) -> bool {
        match self.kind {
            ErrorKind::RateLimited
            | ErrorKind::ServerError
            | ErrorKind::Timeout
            | ErrorKind::Network => true,
            _ => self.status == Some(408),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Classifies a transport-level failure. reqwest errors carry the URL, never headers; we drop
/// the URL anyway so no query text leaks into reports.
pub fn transport(e: reqwest::Error) -> ApiError {
    let e = e.without_url();
    if e.is_timeout() {
        return ApiError::new(ErrorKind::Timeout, None, "no response within the timeout");
    }
    let mut msg = e.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    ApiError::new(ErrorKind::Network, None, with_hint(msg))
}

/// rustls's words for a TLS handshake that got a plain-HTTP answer back: `https://` to a port
/// that speaks http.
const PLAIN_HTTP_PORT: &str = "InvalidContentType";

/// rustls's words for certificate problems (its `Debug` names, in the message as they are),
/// with what they mean and what to do, most specific first.
const CERT_HINTS: &[(&str, &str)] = &[
    (
        "CaUsedAsEndEntity",
        "the portal presents a CA certificate as its own; issue it a server certificate signed by that CA and pass the CA with --ca-cert",
    ),
    (
        "UnknownIssuer",
        "the portal's certificate is not signed by a known authority; for a self-hosted portal pass its CA certificate (PEM) with --ca-cert",
    ),
    (
        "NotValidForName",
        "the portal's certificate is not for this host name; use the name it was issued for",
    ),
    ("Expired", "the portal's certificate has expired"),
    ("NotValidYet", "the portal's certificate is not valid yet (check the clocks)"),
    ("Revoked", "the portal's certificate was revoked"),
];

/// Adds what to do to a transport message whose cause is a known URL or certificate mistake.
fn with_hint(msg: String) -> String {
    if msg.contains(PLAIN_HTTP_PORT) {
        return format!(
            "{msg} (the port speaks plain http; use http:// (loopback) or check the port)"
        );
    }
    if msg.contains("invalid peer certificate") {
        if let Some((_, hint)) = CERT_HINTS.iter().find(|(k, _)| msg.contains(k)) {
            return format!("{msg} ({hint})");
        }
    }
    msg
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(f) = v.parse::<f64>() {
        if f.is_finite() && (0.0..1e9).contains(&f) {
            return Some(Duration::from_secs_f64(f));
        }
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The message DocSpace uses for a missing file. `protectusers` sends it with a 403 on every
/// version, the other file endpoints before DocSpace 3.7.1 too; with this message a 403 is
/// `not_found`.
const FILE_NOT_FOUND: &str = "The required file was not found";

/// Decodes one answer: the envelope's `response` on success, a classified error otherwise.
pub fn envelope(
    status: u16,
    retry_after: Option<Duration>,
    location: Option<&str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let portal_msg = json.as_ref().and_then(error_message);
    let err = |(kind, msg): (ErrorKind, String)| {
        let mut e = ApiError::new(kind, Some(status), msg);
        e.retry_after = retry_after;
        Err(e)
    };
    if !(200..=299).contains(&status) {
        if json.is_none() && plain_http_to_tls_port(body) {
            return err((ErrorKind::BadResponse, PLAIN_TO_TLS_HINT.into()));
        }
        let html = json.is_none() && looks_like_html(body);
        return err(status_error(status, portal_msg, location, html));
    }
    let Some(mut json) = json else {
        return err((ErrorKind::BadResponse, "the answer is not JSON".into()));
    };
    // DocSpace does not always respect status codes: an `error` object in a 200 is a failure.
    if json.get("error").is_some_and(|e| !e.is_null()) {
        return err(error_in_success(status, &json, portal_msg));
    }
    // Moved out, not cloned: the file object is most of the answer.
    match json.as_object_mut().and_then(|o| o.remove("response")) {
        Some(v) => Ok(v),
        None => err((
            ErrorKind::BadResponse,
            "the answer has no `response`".into(),
        )),
    }
}

/// The portal's `error.message` (or an `error` that is a bare string), cleaned for messages.
fn error_message(json: &Value) -> Option<String> {
    let e = json.get("error")?;
    e.get("message")
        .and_then(Value::as_str)
        .or_else(|| e.as_str())
        .map(clean)
}

/// The kind and message for a status outside 2xx. `html` says the body is an HTML page (a
/// proxy's error page rather than the portal's JSON).
fn status_error(
    status: u16,
    portal_msg: Option<String>,
    location: Option<&str>,
    html: bool,
) -> (ErrorKind, String) {
    let with_msg = |default: &str| portal_msg.clone().unwrap_or_else(|| default.to_string());
    match status {
        300..=399 => {
            let target = location
                .map(clean)
                .unwrap_or_else(|| "an unnamed location".into());
            (
                ErrorKind::BadResponse,
                format!("the portal redirected to {target}; redirects are not followed (the credential would go along). Use the final portal URL"),
            )
        }
        401 => (
            ErrorKind::Unauthorized,
            "the portal rejected the credential".into(),
        ),
        403 if portal_msg.as_deref() == Some(FILE_NOT_FOUND) => {
            (ErrorKind::NotFound, FILE_NOT_FOUND.into())
        }
        403 => (ErrorKind::Forbidden, with_msg("forbidden")),
        404 => (ErrorKind::NotFound, with_msg("not found")),
        408 => (ErrorKind::Timeout, with_msg("request timeout")),
        429 => (ErrorKind::RateLimited, "rate limited by the portal".into()),
        500..=599 => {
            let what = if html {
                "an HTML error page (proxy)"
            } else {
                "server error"
            };
            (ErrorKind::ServerError, with_msg(what))
        }
        _ => (ErrorKind::BadResponse, with_msg("unexpected status")),
    }
}

/// The kind and message for an `error` object inside a 2xx answer, classified by the body's
/// own `statusCode`.
fn error_in_success(status: u16, json: &Value, portal_msg: Option<String>) -> (ErrorKind, String) {
    let code = json.get("statusCode").and_then(Value::as_u64).unwrap_or(0);
    let msg = portal_msg.unwrap_or_else(|| "error in response body".into());
    let kind = match code {
        404 => ErrorKind::NotFound,
        403 if msg == FILE_NOT_FOUND => ErrorKind::NotFound,
        403 => ErrorKind::Forbidden,
        401 => ErrorKind::Unauthorized,
        500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::BadResponse,
    };
    (kind, format!("error in a {status} answer: {msg}"))
}

/// Said when `http://` reached a port that speaks https and its server answered in words.
const PLAIN_TO_TLS_HINT: &str =
    "the port speaks https, not plain http (the server said so); use https:// in the portal URL";

/// nginx's and Apache's answers to a plain-HTTP request on a TLS port.
fn plain_http_to_tls_port(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
    head.contains("plain http request was sent to https port")
        || head.contains("speaking plain http to an ssl-enabled server port")
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype")
}

/// Text for a report cell: kept as the portal sent it (a report is data; the formula escaping
/// of `report::cell`, not stripping, protects spreadsheets, and a leading tab or CR must
/// survive to be escaped), only capped so a hostile portal cannot blow up the report.
pub fn report_text(s: &str) -> String {
    s.chars().take(1000).collect()
}

/// Portal text for messages: drop control characters and cap the length.
pub fn clean(s: &str) -> String {
    crate::text::printable(s, crate::text::PORTAL_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_problems_say_what_to_do() {
        let m = with_hint("error sending request: client error (Connect): invalid peer certificate: UnknownIssuer".into());
        assert!(
            m.ends_with("pass its CA certificate (PEM) with --ca-cert)"),
            "{m}"
        );
        let m = with_hint("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))".into());
        assert!(m.contains("issue it a server certificate"), "{m}");
        let m =
            with_hint("invalid peer certificate: NotValidForNameContext { expected: .. }".into());
        assert!(m.contains("not for this host name"), "{m}");
        let m = with_hint("tcp connect error: Connection refused".into());
        assert_eq!(m, "tcp connect error: Connection refused");
    }

    #[test]
    fn plain_http_to_a_tls_port_is_named() {
        let nginx = b"<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head></html>";
        let e = envelope(400, None, None, nginx).unwrap_err();
        assert!(e.message.contains("use https://"), "{}", e.message);
        assert!(!e.retryable());
        let apache = b"Bad Request\nYour browser sent a request that this server could not understand.\nReason: You're speaking plain HTTP to an SSL-enabled server port.";
        let e = envelope(400, None, None, apache).unwrap_err();
        assert!(e.message.contains("use https://"), "{}", e.message);
    }

    #[test]
    fn https_to_a_plain_http_port_says_so() {
        let m = with_hint(
            "error sending request: client error (Connect): received corrupt message of type InvalidContentType".into(),
        );
        assert!(m.contains("received corrupt message"), "{m}");
        assert!(
            m.ends_with("(the port speaks plain http; use http:// (loopback) or check the port)"),
            "{m}"
        );
        assert_eq!(with_hint("connection refused".into()), "connection refused");
    }

    #[test]
    fn envelope_classification() {
        let ok = br#"{"response":{"id":1,"locked":true},"count":1,"status":0,"statusCode":200}"#;
        assert_eq!(
            envelope(200, None, None, ok).unwrap()["locked"],
            Value::Bool(true)
        );
        let nf403 = br#"{"status":1,"statusCode":403,"error":{"message":"The required file was not found"}}"#;
        assert_eq!(
            envelope(403, None, None, nf403).unwrap_err().kind,
            ErrorKind::NotFound
        );
        let perm = br#"{"status":1,"statusCode":403,"error":{"message":"You do not have enough permissions to edit the file"}}"#;
        let e = envelope(403, None, None, perm).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("permissions"));
        assert_eq!(
            envelope(401, None, None, b"").unwrap_err().kind,
            ErrorKind::Unauthorized
        );
        let e = envelope(
            502,
            None,
            None,
            b"<html><body>502 Bad Gateway</body></html>",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::ServerError);
        assert!(e.retryable());
        let in200 = br#"{"status":1,"statusCode":404,"error":{"message":"gone"}}"#;
        assert_eq!(
            envelope(200, None, None, in200).unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            envelope(200, None, None, b"nope").unwrap_err().kind,
            ErrorKind::BadResponse
        );
        let e = envelope(302, None, Some("https://evil.example/x"), b"").unwrap_err();
        assert!(e.message.contains("evil.example") && !e.retryable());
        let e = envelope(429, Some(Duration::from_secs(3)), None, b"").unwrap_err();
        assert_eq!(
            (e.kind, e.retry_after),
            (ErrorKind::RateLimited, Some(Duration::from_secs(3)))
        );
        assert!(envelope(408, None, None, b"").unwrap_err().retryable());
        assert!(!envelope(400, None, None, b"").unwrap_err().retryable());
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let future = SystemTime::now() + Duration::from_secs(120);
        h.insert(
            RETRY_AFTER,
            httpdate::fmt_http_date(future).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
