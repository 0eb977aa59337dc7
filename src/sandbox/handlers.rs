//! The endpoints (axum routes) and their DocSpace rules: lock/unlock, protectusers, file info,
//! folder listing and the credential check, each with the status codes and quirks of the real
//! server (documented on each handler); the sign-in, the version, the caller and the key are in
//! [`super::account`]. The server
//! ([`super::server`]) has already recorded, limited and delayed the request and put a [`Call`]
//! into its extensions; handlers only apply the portal's rules to [`Portal`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::routing::{get, put};
use axum::{Extension, Router};
use serde_json::Value;

use super::account::{self, Account};
use super::data::{access, DataSet, FileList, Mutable, CALLER, CALLER_NAME};
use super::dto::{self, Call, Exception};

const FILE_NOT_FOUND: &str = "The required file was not found";
const FOLDER_NOT_FOUND: &str = "The required folder was not found";
const CANNOT_EDIT: &str = "You do not have enough permissions to edit the file";
const CANNOT_READ_FILE: &str = "You don't have enough permission to view the file";
const CANNOT_READ_FOLDER: &str = "You don't have enough permission to view the folder content";
/// DocSpace's `ApiContext.MaxCount` and `DefaultCount`: `count` is 1..=100, 100 when absent.
const MAX_COUNT: i64 = 100;

/// The simulated portal: the seeded structure plus the mutable lock/title state.
pub(crate) struct Portal {
    pub data: DataSet,
    pub state: Mutex<Mutable>,
    /// The users who sign in and the API key's description.
    pub account: Account,
    /// The server version played.
    pub rules: super::rules::Rules,
}

impl Portal {
    /// Locks the mutable state; a poisoned lock is still usable (no handler panics while
    /// holding it, and the data stays consistent either way).
    pub fn state(&self) -> MutexGuard<'_, Mutable> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) type Resp = Response<Body>;

/// The routes. `{id}` is one raw path segment: `%2F` inside it is not a separator, and axum
/// percent-decodes it afterwards, so `box-12-%7C123` arrives as `box-12-|123`.
pub(crate) fn router(portal: Arc<Portal>) -> Router {
    Router::new()
        .route(
            "/api/2.0/authentication",
            get(authentication).post(account::sign_in),
        )
        .route("/api/2.0/settings/version/build", get(account::version))
        .route("/api/2.0/people/@self", get(account::caller))
        .route("/api/2.0/keys/@self", get(account::key))
        .route("/api/2.0/files/file/{id}/lock", put(lock))
        .route("/api/2.0/files/file/{id}/protectusers", get(protect_users))
        .route("/api/2.0/files/file/{id}/share", get(super::shares::shares))
        .route("/api/2.0/files/file/{id}", get(file_info))
        .route("/api/2.0/files/{id}", get(folder))
        .route(
            "/api/2.0/files/rooms/{id}/share",
            put(super::rooms::set_room_security),
        )
        .fallback(not_found)
        .with_state(portal)
}

/// The decoded `{id}`. A segment that does not decode (e.g. `%FF`, not UTF-8) names nothing
/// that exists, so it becomes "" and takes the endpoint's own not-found path.
pub(super) fn segment(id: Result<Path<String>, PathRejection>) -> String {
    id.map(|Path(s)| s).unwrap_or_default()
}

pub(crate) async fn not_found() -> Resp {
    dto::error(404, "Resource not found", Exception::ItemNotFound)
}

/// `GET /api/2.0/authentication` is `[AllowAnonymous]`: 200 with `true` or `false`, never 401,
/// so it checks a key without the file endpoints' 403-for-a-bad-key ambiguity.
async fn authentication(Extension(call): Extension<Call>) -> Resp {
    dto::success(&call, Value::Bool(call.authed))
}

/// A missing file: 404 from DocSpace 3.7.1, a 403 with the same message before.
fn missing_file(call: &Call) -> Resp {
    match call.rules.missing_file_status() {
        404 => dto::error(404, FILE_NOT_FOUND, Exception::ItemNotFound),
        s => dto::error(s, FILE_NOT_FOUND, Exception::InvalidOperation),
    }
}

/// `GET /api/2.0/files/file/{id}`: `[AllowAnonymous]`, so a bad key gives 403, not 401.
async fn file_info(
    State(p): State<Arc<Portal>>,
    Extension(call): Extension<Call>,
    id: Result<Path<String>, PathRejection>,
) -> Resp {
    let id = segment(id);
    let Some(file) = p.data.file_by_id(&id) else {
        return missing_file(&call);
    };
    if !call.authed {
        return dto::error(403, CANNOT_READ_FILE, Exception::InvalidOperation);
    }
    let body = dto::file_dto(&p.data, &p.state(), &file, &call);
    dto::success(&call, body)
}

/// The lock request body (`LockFileParameters`): names bind case-insensitively and a missing
/// `lockFile` means false, so `{}` unlocks.
fn parse_lock_body(body: &[u8]) -> Result<bool, &'static str> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "The JSON value is invalid.")?;
    let Value::Object(map) = value else {
        return Err("The File field is required.");
    };
    match map.iter().find(|(k, _)| k.eq_ignore_ascii_case("lockFile")) {
        None => Ok(false),
        Some((_, Value::Bool(b))) => Ok(*b),
        Some(_) => Err("The JSON value could not be converted to System.Boolean."),
    }
}

pub(super) fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || mime == "text/json" || mime.ends_with("+json")
}

/// The answer to a write that cannot go on: 401 (empty body) without a valid credential, 415
/// for a body that is not JSON. Both write endpoints check this first, as the server does.
pub(super) fn refuse_write(call: &Call, headers: &HeaderMap) -> Option<Resp> {
    if !call.authed {
        return Some(dto::empty(StatusCode::UNAUTHORIZED));
    }
    if !is_json(headers) {
        return Some(dto::error(
            415,
            "Unsupported Media Type",
            Exception::NotSupported,
        ));
    }
    None
}

/// `PUT /api/2.0/files/file/{id}/lock`: not anonymous, so a bad key gives 401, empty body.
async fn lock(
    State(p): State<Arc<Portal>>,
    Extension(call): Extension<Call>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Resp {
    let id = segment(id);
    if let Some(refused) = refuse_write(&call, &headers) {
        return refused;
    }
    let want_lock = match parse_lock_body(&body) {
        Ok(b) => b,
        Err(msg) => return dto::validation_error(&call, "File", msg),
    };
    let Some(file) = p.data.file_by_id(&id) else {
        return missing_file(&call);
    };
    let mut state = p.state();
    let personal = p.data.is_personal(&file);
    if !call
        .rules
        .can_lock(&file, personal, state.locks.get(&file.id))
    {
        return dto::error(403, CANNOT_EDIT, Exception::InvalidOperation);
    }
    if want_lock {
        // An existing tag keeps its first owner, whoever asks.
        state
            .locks
            .entry(file.id.clone())
            .or_insert_with(|| CALLER_NAME.to_string());
    } else {
        state.locks.remove(&file.id);
    }
    let body = dto::file_dto(&p.data, &state, &file, &call);
    drop(state);
    dto::success(&call, body)
}

/// `GET /api/2.0/files/file/{id}/protectusers`: everyone with access through the file,
/// its folders and its room, plus the owner; without the caller and Restrict entries;
/// de-duplicated; sorted by name. A missing file is 403, not 404.
async fn protect_users(
    State(p): State<Arc<Portal>>,
    Extension(call): Extension<Call>,
    id: Result<Path<String>, PathRejection>,
) -> Resp {
    let id = segment(id);
    if !call.authed {
        return dto::empty(StatusCode::UNAUTHORIZED);
    }
    let Some(file) = p.data.file_by_id(&id) else {
        return dto::error(403, FILE_NOT_FOUND, Exception::InvalidOperation);
    };
    let ds = &p.data;
    let mut shares: Vec<(usize, u8)> = file.shares.clone();
    let state = p.state();
    for f in ds.path_to(file.folder) {
        shares.extend(state.folder_shares(f, &ds.folders[f].shares));
    }
    drop(state);
    shares.push((file.owner, access::ROOM_MANAGER));
    let mut by_name = BTreeMap::new();
    for (user, acc) in shares {
        if user != CALLER && acc != access::RESTRICT {
            by_name.insert(ds.users[user].display_name(), user);
        }
    }
    let list = by_name
        .into_values()
        .map(|u| dto::mention(&ds.users[u], &call.base))
        .collect();
    dto::success(&call, Value::Array(list))
}

/// Listing parameters after model validation.
struct ListQuery {
    start: usize,
    count: usize,
    filter_type: i64,
    with_subfolders: bool,
}

/// Binds `startIndex`, `count` (`[Range(1, 100)]`), `filterType`, `withSubFolders`; names are
/// case-insensitive like ASP.NET model binding. Err is (field, message) for a 400.
fn parse_list_query(raw: Option<&str>) -> Result<ListQuery, (&'static str, String)> {
    let mut q = ListQuery {
        start: 0,
        count: MAX_COUNT as usize,
        filter_type: 0,
        with_subfolders: true,
    };
    let int = |field: &'static str, v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| (field, format!("The value '{v}' is not valid for {field}.")))
    };
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.to_ascii_lowercase().as_str() {
            "startindex" => q.start = int("StartIndex", &v)?.max(0) as usize,
            "count" => {
                let n = int("Count", &v)?;
                if !(1..=MAX_COUNT).contains(&n) {
                    let msg = format!("The field Count must be between 1 and {MAX_COUNT}.");
                    return Err(("Count", msg));
                }
                q.count = n as usize;
            }
            "filtertype" => q.filter_type = int("FilterType", &v)?,
            "withsubfolders" => {
                q.with_subfolders = v.parse().map_err(|_| {
                    let msg = format!("The value '{v}' is not valid for WithSubFolders.");
                    ("WithSubFolders", msg)
                })?
            }
            _ => {}
        }
    }
    Ok(q)
}

/// `GET /api/2.0/files/{folderId}`: `FolderContentDto`, paging over folders first, then
/// files. `filterType=1` (FilesOnly) drops folders and, with `withSubFolders` (default true),
/// lists the files of the whole subtree; `filterType=2` lists folders only.
async fn folder(
    State(p): State<Arc<Portal>>,
    Extension(call): Extension<Call>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Resp {
    let id = segment(id);
    // Model validation runs before the action, so a bad `count` is 400 even for a bad folder.
    let q = match parse_list_query(query.as_deref()) {
        Ok(q) => q,
        Err((field, msg)) => return dto::validation_error(&call, field, &msg),
    };
    let ds = &p.data;
    let Some(idx) = ds.folder_by_id(&id) else {
        return dto::error(404, FOLDER_NOT_FOUND, Exception::ItemNotFound);
    };
    if !call.authed {
        return dto::error(403, CANNOT_READ_FOLDER, Exception::InvalidOperation);
    }
    let (folders, files) = match q.filter_type {
        0 => (ds.folders[idx].subfolders.clone(), ds.file_list(idx, false)),
        2 => (
            ds.folders[idx].subfolders.clone(),
            FileList::Static(Vec::new()),
        ),
        _ => (Vec::new(), ds.file_list(idx, q.with_subfolders)),
    };
    let total = folders.len() + files.len();
    let end = q.start.saturating_add(q.count).min(total);
    let state = p.state();
    let mut folder_dtos = Vec::new();
    let mut file_dtos = Vec::new();
    for i in q.start..end {
        if let Some(&f) = folders.get(i) {
            folder_dtos.push(dto::folder_dto(ds, f, &call.base));
        } else if let Some(file) = ds.file_at(&files, i - folders.len()) {
            file_dtos.push(dto::file_dto(ds, &state, &file, &call));
        }
    }
    drop(state);
    let page = folder_dtos.len() + file_dtos.len();
    let body = serde_json::json!({
        "files": file_dtos,
        "folders": folder_dtos,
        "current": dto::folder_dto(ds, idx, &call.base),
        "pathParts": dto::path_parts(ds, idx),
        "startIndex": q.start,
        "count": page,
        "total": total,
        "new": 0,
    });
    dto::success(&call, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_body_rules() {
        assert_eq!(parse_lock_body(br#"{"lockFile":true}"#), Ok(true));
        assert_eq!(parse_lock_body(br#"{"LOCKFILE":true}"#), Ok(true));
        assert_eq!(parse_lock_body(br#"{"lockFile":false}"#), Ok(false));
        assert_eq!(parse_lock_body(b"{}"), Ok(false));
        assert!(parse_lock_body(b"").is_err());
        assert!(parse_lock_body(b"{lockFile:true}").is_err());
        assert!(parse_lock_body(br#"{"lockFile":"true"}"#).is_err());
        assert!(parse_lock_body(b"null").is_err());
    }

    #[test]
    fn list_query_rules() {
        let q = parse_list_query(None).unwrap();
        assert_eq!((q.start, q.count, q.with_subfolders), (0, 100, true));
        let q = parse_list_query(Some("startIndex=200&COUNT=50")).unwrap();
        assert_eq!((q.start, q.count), (200, 50));
        assert!(parse_list_query(Some("count=0")).is_err());
        assert!(parse_list_query(Some("count=101")).is_err());
        assert!(parse_list_query(Some("count=abc")).is_err());
    }
}
