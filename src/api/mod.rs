//! The DocSpace client: URL building (IDs always one percent-encoded path segment), the
//! response envelope, and error classification.
//!
//! One call here is one HTTP attempt. Retries, rate limiting and cooldowns belong to
//! [`crate::runner`]; this module only says what happened and whether it is worth retrying.
//! The runner calls through the [`Portal`] trait, so its tests swap [`Client`] for a fake.

mod about;
mod classify;
mod credential;
#[cfg(test)]
pub(crate) mod fake;
mod http;
mod portal;
mod shares;

pub use about::{KeyInfo, SignIn};
pub use credential::{Credential, CredentialKind};
pub use http::pem_certificates;
use http::read_capped;

/// The envelope decoder (status, `Retry-After`, `Location`, body → `response` or a classified
/// error), public for the fuzz targets in `fuzz/`.
pub use classify::envelope as decode_envelope;
pub use classify::{clean as clean_text, report_text, ApiError, ErrorKind};
pub use portal::Portal;
pub use shares::ShareEntry;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use about::Facts;
use credential::Secrets;

use crate::job::FileId;

/// Response bodies larger than this are refused (a hostile server must not exhaust memory).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How to reach the portal.
#[derive(Clone)]
pub struct ClientOptions {
    /// Portal base URL (scheme and host, optionally a path prefix).
    pub base: url::Url,
    /// The credential: an API key, a session token, or a user and password to sign in with.
    pub credential: Credential,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Extra trusted root (PEM bytes).
    pub ca_cert: Option<Vec<u8>>,
    /// Idle connections kept per host (the run's concurrency).
    pub pool: usize,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("base", &self.base.as_str())
            .field("credential", &self.credential)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A DocSpace portal client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    /// What goes into `Authorization`, and every secret scrubbed from portal text.
    secrets: Arc<Secrets>,
    /// The server's version and where files live, for classification.
    facts: Arc<Facts>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Lock state and identity of a file as the portal reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileState {
    /// The file's name with its extension (`title`); `None` when the answer had none.
    pub title: Option<String>,
    /// `locked`. DocSpace omits it when false (it drops nulls and sends `locked` only as
    /// `true`), so absent means unlocked.
    pub locked: bool,
    /// `lockedBy`: display name of ANOTHER user holding the lock; absent when the caller holds it.
    pub locked_by: Option<String>,
    /// `security.Lock`: may the caller lock/unlock this file?
    pub can_lock: Option<bool>,
}

/// One `protectusers` entry (DocSpace's `MentionWrapper`): a user who can reach the file through
/// its own, its folders' or its room's sharing, the caller excepted. It carries no access level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessUser {
    /// `id` (GUID string).
    pub id: String,
    /// `name` (display name).
    pub name: String,
    /// `email`; empty when the portal sent none.
    pub email: String,
}

/// One page of a folder listing.
#[derive(Clone, Debug, Default)]
pub struct FolderPage {
    /// File IDs on this page.
    pub files: Vec<FileId>,
    /// The state of each file on this page, in the same order: a listing carries the same
    /// `title`, `locked`, `lockedBy` and `security` as a file read.
    pub file_states: Vec<FileState>,
    /// Subfolder IDs on this page.
    pub folders: Vec<FileId>,
    /// All items in the folder (`response.total`).
    pub total: u64,
    /// The listed folder's or room's own title (`current.title`): it names the folder in the
    /// expansion's log line and the group its files fall under in summary.md.
    pub title: Option<String>,
}

impl Client {
    /// Builds the client: rustls, no redirects (the credential must never follow one), the
    /// `Authorization` value marked sensitive.
    pub fn new(opts: &ClientOptions) -> Result<Client, String> {
        let secrets = Arc::new(Secrets::new(&opts.credential)?);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let mut b = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(opts.pool.max(1))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("docspace-batch/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &opts.ca_cert {
            for cert in pem_certificates(pem)? {
                b = b.add_root_certificate(cert);
            }
        }
        let http = b
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut base = opts.base.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Ok(Client {
            http,
            base,
            secrets,
            facts: Arc::default(),
        })
    }

    /// The portal base URL (never contains the key).
    pub fn base(&self) -> &url::Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<url::Url, ApiError> {
        // `path` is built from fixed parts and percent-encoded segments only.
        self.base
            .join(path)
            .map_err(|e| ApiError::new(ErrorKind::BadResponse, None, format!("bad URL: {e}")))
    }

    /// One HTTP attempt: status, `Retry-After`, `Location` and the (capped) body. `auth`
    /// false sends no credential (the sign-in, and what the server answers anyone).
    async fn exchange(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Bytes>,
        auth: bool,
    ) -> Result<Answer, ApiError> {
        let url = self.url(path)?;
        let mut req = self.http.request(method, url);
        if let Some(v) = self.secrets.authorization().filter(|_| auth) {
            req = req.header(AUTHORIZATION, v.clone());
        }
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(b);
        }
        let resp = req.send().await.map_err(classify::transport)?;
        let status = resp.status().as_u16();
        let retry_after = classify::retry_after(resp.headers());
        let rate_limit = resp
            .headers()
            .get("x-ratelimit-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_capped(resp).await?;
        Ok(Answer {
            status,
            retry_after,
            rate_limit,
            location,
            body,
        })
    }

    /// One HTTP attempt; returns the decoded envelope's `response` or a classified error.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&'static str>,
    ) -> Result<Value, ApiError> {
        let a = self
            .exchange(
                method,
                path,
                body.map(|b| Bytes::from_static(b.as_bytes())),
                true,
            )
            .await?;
        self.decode(a)
    }

    /// A file answer: the hot path of every lock, unlock and info. A plain success is decoded
    /// straight into the few fields we use (no `Value` tree of the whole file object); anything
    /// else (errors, an `error` in a 200, odd shapes) takes the general path.
    async fn call_file(
        &self,
        id: &FileId,
        method: reqwest::Method,
        path: &str,
        body: Option<&'static str>,
    ) -> Result<FileState, ApiError> {
        let a = self
            .exchange(
                method,
                path,
                body.map(|b| Bytes::from_static(b.as_bytes())),
                true,
            )
            .await?;
        if (200..300).contains(&a.status) {
            if let Some((st, root)) = fast_file_state(&a.body) {
                self.facts.note(root.as_ref(), [id]);
                return Ok(st);
            }
        }
        let v = self.decode(a)?;
        self.facts.note(v.get("rootFolderType"), [id]);
        file_state(&v)
    }

    /// Classifies an answer (status, envelope, `error` in a 200), scrubbing every secret from
    /// any portal text that quotes it.
    fn decode(&self, a: Answer) -> Result<Value, ApiError> {
        let Answer {
            status,
            retry_after,
            rate_limit,
            location,
            body,
        } = a;
        classify::envelope(status, retry_after, location.as_deref(), &body).map_err(|e| {
            // A failure's message quotes portal text (capped at 300 characters, so a quoted
            // secret could be cut); when the answer holds a secret, decode it again with the
            // secret replaced, then scrub the message itself too.
            let (b, l) = (
                self.secrets.scrub_bytes(&body),
                location
                    .as_deref()
                    .and_then(|l| self.secrets.scrub_bytes(l.as_bytes())),
            );
            let e = if b.is_some() || l.is_some() {
                let loc = l.map(|l| String::from_utf8_lossy(&l).into_owned());
                classify::envelope(
                    status,
                    retry_after,
                    loc.as_deref().or(location.as_deref()),
                    b.as_deref().unwrap_or(&body),
                )
                .err()
                .unwrap_or(e)
            } else {
                e
            };
            let mut e = self.secrets.redact(e);
            if e.kind == ErrorKind::Unauthorized {
                e.message = self.secrets.rejected().to_string();
            }
            e.rate_limit = rate_limit;
            e
        })
    }

    /// `GET /api/2.0/authentication`: `Ok(true)` when the portal accepts the key.
    pub async fn check_auth(&self) -> Result<bool, ApiError> {
        match self
            .call(reqwest::Method::GET, "api/2.0/authentication", None)
            .await
        {
            Ok(v) => Ok(v.as_bool().unwrap_or(false)),
            Err(e) if matches!(e.kind, ErrorKind::Unauthorized) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/2.0/files/file/{id}`
    pub async fn file_info(&self, id: &FileId) -> Result<FileState, ApiError> {
        self.call_file(
            id,
            reqwest::Method::GET,
            &format!("api/2.0/files/file/{}", id.path_segment()),
            None,
        )
        .await
    }

    /// `PUT /api/2.0/files/file/{id}/lock` with `{"lockFile":true|false}` — never `{}`, which unlocks.
    pub async fn set_lock(&self, id: &FileId, lock: bool) -> Result<FileState, ApiError> {
        let body = if lock {
            r#"{"lockFile":true}"#
        } else {
            r#"{"lockFile":false}"#
        };
        self.call_file(
            id,
            reqwest::Method::PUT,
            &format!("api/2.0/files/file/{}/lock", id.path_segment()),
            Some(body),
        )
        .await
        .map_err(|e| self.facts.explain_lock_refusal(id, e))
    }

    /// `GET /api/2.0/files/file/{id}/protectusers`
    pub async fn protect_users(&self, id: &FileId) -> Result<Vec<AccessUser>, ApiError> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("api/2.0/files/file/{}/protectusers", id.path_segment()),
                None,
            )
            .await?;
        let arr = v
            .as_array()
            .ok_or_else(|| ApiError::bad_response("protectusers: `response` is not a list"))?;
        Ok(arr
            .iter()
            .map(|u| AccessUser {
                id: str_field(u, "id").unwrap_or_default(),
                name: str_field(u, "name")
                    .or_else(|| u.get("user").and_then(|x| str_field(x, "displayName")))
                    .unwrap_or_default(),
                email: str_field(u, "email")
                    .or_else(|| u.get("user").and_then(|x| str_field(x, "email")))
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// `GET /api/2.0/files/{folderId}?startIndex=..&count=..` (one page).
    pub async fn folder_page(
        &self,
        id: &FileId,
        start: u64,
        count: u64,
    ) -> Result<FolderPage, ApiError> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!(
                    "api/2.0/files/{}?startIndex={start}&count={count}",
                    id.path_segment()
                ),
                None,
            )
            .await?;
        let ids = |key: &str| -> Result<Vec<FileId>, ApiError> {
            let Some(list) = v.get(key) else {
                return Ok(Vec::new());
            };
            let list = list.as_array().ok_or_else(|| {
                ApiError::bad_response(format!("folder listing: `{key}` is not a list"))
            })?;
            list.iter()
                .map(|e| {
                    let raw = match e.get("id") {
                        Some(Value::Number(n)) => n.to_string(),
                        Some(Value::String(s)) => s.clone(),
                        _ => {
                            return Err(ApiError::bad_response(format!(
                                "folder listing: an entry of `{key}` has no id"
                            )))
                        }
                    };
                    FileId::parse(&raw).map_err(|e| {
                        ApiError::bad_response(format!(
                            "folder listing: unusable id in `{key}`: {e}"
                        ))
                    })
                })
                .collect()
        };
        let files = ids("files")?;
        let current = v.get("current");
        self.facts
            .note(current.and_then(|c| c.get("rootFolderType")), &files);
        let file_states = v
            .get("files")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .map(|f| file_state(f).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let folders = ids("folders")?;
        let num = |k: &str| v.get(k).and_then(Value::as_u64);
        Ok(FolderPage {
            total: num("total")
                .ok_or_else(|| ApiError::bad_response("folder listing has no `total`"))?,
            title: current.and_then(|c| str_field(c, "title")),
            files,
            file_states,
            folders,
        })
    }
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// One HTTP answer before decoding.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    rate_limit: Option<u64>,
    location: Option<String>,
    body: bytes::Bytes,
}

/// The envelope's success shape, for the fast path: `error` present (and not null) sends the
/// answer down the general path.
#[derive(serde::Deserialize)]
struct FastEnvelope<T> {
    response: Option<T>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

/// The `FileDto` fields the runner uses; the rest (dozens of fields, nested users) is skipped
/// unparsed.
#[derive(serde::Deserialize)]
struct FileLite {
    title: Option<String>,
    locked: Option<bool>,
    #[serde(rename = "lockedBy")]
    locked_by: Option<String>,
    security: Option<SecurityLite>,
    #[serde(rename = "rootFolderType")]
    root_folder_type: Option<Value>,
}

#[derive(serde::Deserialize)]
struct SecurityLite {
    #[serde(rename = "Lock")]
    lock: Option<bool>,
}

/// The fast path's decision: `Some` only for a plain success envelope holding a file object;
/// with the state comes the file's `rootFolderType`.
fn fast_file_state(body: &[u8]) -> Option<(FileState, Option<Value>)> {
    match serde_json::from_slice::<FastEnvelope<FileLite>>(body) {
        Ok(FastEnvelope {
            response: Some(f),
            error: None,
        }) => Some((
            FileState {
                title: f.title,
                locked: f.locked.unwrap_or(false),
                locked_by: f.locked_by.filter(|s| !s.is_empty()),
                can_lock: f.security.and_then(|s| s.lock),
            },
            f.root_folder_type,
        )),
        _ => None,
    }
}

fn file_state(v: &Value) -> Result<FileState, ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_response("`response` is not a file object"));
    }
    Ok(FileState {
        title: str_field(v, "title"),
        // `locked` is true or absent; treat anything but `true` as unlocked.
        locked: v.get("locked").and_then(Value::as_bool).unwrap_or(false),
        locked_by: str_field(v, "lockedBy").filter(|s| !s.is_empty()),
        can_lock: v
            .get("security")
            .and_then(|s| s.get("Lock"))
            .and_then(Value::as_bool),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_the_general_one_or_steps_aside() {
        let bodies: [&[u8]; 3] = [
            br#"{"response":{"id":1,"title":"A","locked":true,"lockedBy":"Jane","security":{"Lock":false,"Read":true},"createdBy":{"id":"x"}},"count":1,"status":0,"statusCode":200}"#,
            br#"{"response":{"id":"box-12-|1","title":"B","security":{}},"status":0}"#,
            br#"{"response":{"id":2},"error":null}"#,
        ];
        for b in bodies {
            let (fast, _) = fast_file_state(b).expect("plain success");
            let general = file_state(&classify::envelope(200, None, None, b).unwrap()).unwrap();
            assert_eq!(fast, general);
        }
        // An error inside a 200, a non-object response, a missing response: general path.
        for b in [
            &br#"{"response":{"id":1},"error":{"message":"x"},"statusCode":404}"#[..],
            br#"{"response":5}"#,
            br#"{"status":0}"#,
            br#"not json"#,
            br#"{"response":{"locked":"yes"}}"#,
        ] {
            assert!(
                fast_file_state(b).is_none(),
                "{}",
                String::from_utf8_lossy(b)
            );
        }
    }
}
