//! JSON shapes of the real server: the response envelope, `FileDto`, `FolderDto`/
//! `FolderContentDto` and `MentionWrapper`. camelCase, nulls omitted (DocSpace serialises with
//! `WhenWritingNull`, which is why `locked` is never `false`).
//! The handlers decide *what* to answer; this module only decides how it looks.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::data::{
    access, DataSet, FileInfo, Folder, Mutable, User, CALLER, CALLER_NAME, ROOMS_ROOT_ID,
    ROOT_FOLDER_TYPE_ROOMS,
};
use super::rules::{Rules, Who};

/// `FolderType.USER`, the `rootFolderType` of everything in "My documents".
const ROOT_FOLDER_TYPE_USER: u32 = 5;

/// The request context every handler needs: set by the server before routing.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// True when the request carried a credential the sandbox accepts.
    pub authed: bool,
    /// Which one.
    pub who: Who,
    /// The server version's rules.
    pub rules: Rules,
    /// `http://host:port` as the client addressed us.
    pub base: String,
    /// Full request URL, for `links[].href`.
    pub href: String,
    /// Request method, for `links[].action`.
    pub method: String,
}

/// `FileShare` values mapped to the `security` actions DocSpace reports.
const ALL_ACTIONS: [&str; 13] = [
    "Read",
    "Comment",
    "FillForms",
    "Review",
    "Edit",
    "Delete",
    "CustomFilter",
    "Rename",
    "ReadHistory",
    "Lock",
    "EditHistory",
    "Copy",
    "Duplicate",
];
/// What stays allowed when another user holds the lock
/// (DocSpace's `FileSecurity.CorrectSecurityByLockedStatus` turns every other action off).
const ALLOWED_WHEN_LOCKED: [&str; 6] = [
    "Read",
    "ReadHistory",
    "Copy",
    "Duplicate",
    "Lock",
    "Download",
];

const FIXED_DATE: &str = "2025-01-15T09:30:00.0000000+00:00";

fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// The success envelope: `count` is the list length, 1 for an object, 0 for null; `links`
/// echoes the request.
pub(crate) fn success(call: &Call, response: Value) -> Response<Body> {
    let count = match &response {
        Value::Array(a) => a.len(),
        Value::Null => 0,
        _ => 1,
    };
    json_response(
        200,
        &json!({
            "response": response,
            "count": count,
            "links": [{"href": call.href, "action": call.method}],
            "status": 0,
            "statusCode": 200,
        }),
    )
}

/// A model-validation failure: the same wrapper with `status: 1`, `statusCode: 400` and
/// `ValidationProblemDetails` in `response` (what DocSpace sends for, e.g., `count=500`).
pub(crate) fn validation_error(call: &Call, field: &str, message: &str) -> Response<Body> {
    json_response(
        400,
        &json!({
            "response": {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                "title": "One or more validation errors occurred.",
                "status": 400,
                "errors": { field: [message] },
            },
            "count": 1,
            "links": [{"href": call.href, "action": call.method}],
            "status": 1,
            "statusCode": 400,
        }),
    )
}

/// .NET exception types the sandbox raises, with their HRESULTs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Exception {
    /// `ASC.Common.Web.ItemNotFoundException` → 404.
    ItemNotFound,
    /// `System.InvalidOperationException` → 403 (most "no permission" cases).
    InvalidOperation,
    /// `System.NullReferenceException` → 500 (injected faults).
    NullReference,
    /// `System.NotSupportedException` → 415.
    NotSupported,
}

impl Exception {
    fn type_and_hresult(self) -> (&'static str, i64) {
        match self {
            Exception::ItemNotFound => ("ASC.Common.Web.ItemNotFoundException", -2146233088),
            Exception::InvalidOperation => ("System.InvalidOperationException", -2146233079),
            Exception::NullReference => ("System.NullReferenceException", -2147467261),
            Exception::NotSupported => ("System.NotSupportedException", -2146233067),
        }
    }
}

/// The error envelope (`status: 1`, the HTTP status as `statusCode`, an `error` object), with
/// `type`, `stack` and `hresult` as DocSpace sends them for most exception types.
pub(crate) fn error(status: u16, message: &str, exc: Exception) -> Response<Body> {
    let (ty, hresult) = exc.type_and_hresult();
    json_response(
        status,
        &json!({
            "status": 1,
            "statusCode": status,
            "error": {
                "message": message,
                "type": ty,
                "stack": format!("   at ASC.Files.Sandbox.Throw() in {ty}"),
                "hresult": hresult,
            },
        }),
    )
}

/// A response with no body at all (401 from the auth challenge, 429 from the limiter).
pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

/// Renders an ID: a number for internal entries, a string for connected storage, where every
/// ID-typed field of `FileDto<string>` is a string, `rootFolderId` of an internal folder
/// included.
fn idv(id: &str, stringly: bool) -> Value {
    match id.parse::<u64>() {
        Ok(n) if !stringly => json!(n),
        _ => json!(id),
    }
}

pub(crate) fn employee(u: &User, base: &str) -> Value {
    json!({
        "id": u.id.to_string(),
        "displayName": u.display_name(),
        "avatarSmall": "/static/images/default_user_photo_size_32-32.png",
        "profileUrl": format!("{base}/accounts/view/{}", u.user_name()),
        "hasAvatar": false,
        "isAnonim": false,
    })
}

/// Builds `security` for a `FileShare`, then applies the locked-by-someone-else rewrite;
/// `Lock` is what the lock rules say (`lockable`).
fn security(caller_access: u8, locked_by_other: bool, lockable: bool) -> Value {
    let mut map = Map::new();
    let full = matches!(
        caller_access,
        access::ROOM_MANAGER | access::CONTENT_CREATOR | access::OWNER
    );
    for action in ALL_ACTIONS.iter().chain(["Download", "Move"].iter()) {
        let base = full || matches!(*action, "Read" | "ReadHistory" | "Copy" | "Download");
        let allowed = base && (!locked_by_other || ALLOWED_WHEN_LOCKED.contains(action));
        map.insert((*action).to_string(), Value::Bool(allowed));
    }
    map.insert("Lock".into(), Value::Bool(lockable));
    Value::Object(map)
}

/// `rootFolderId` and `rootFolderType` of an entry below `root` (a room, or "My documents").
fn root_of(ds: &DataSet, root: usize, stringly: bool) -> (Value, u32) {
    match ds.folders[root].personal {
        true => (idv(ds.folders[root].id, false), ROOT_FOLDER_TYPE_USER),
        false => (
            idv(&ROOMS_ROOT_ID.to_string(), stringly),
            ROOT_FOLDER_TYPE_ROOMS,
        ),
    }
}

fn content_length(bytes: u64) -> String {
    format!("{:.2} KB", bytes as f64 / 1024.0)
}

fn file_type(ext: &str) -> u32 {
    match ext {
        ".xlsx" => 5,
        ".pptx" => 6,
        ".docx" => 7,
        ".pdf" => 10,
        _ => 0,
    }
}

/// `FileDto` for `file` as seen by the caller.
pub(crate) fn file_dto(ds: &DataSet, m: &Mutable, file: &FileInfo, call: &Call) -> Value {
    let base = call.base.as_str();
    let folder = &ds.folders[file.folder];
    let stringly = folder.provider.is_some();
    let title = m.titles.get(&file.id).unwrap_or(&file.title);
    let ext = title
        .rfind('.')
        .map(|i| title[i..].to_ascii_lowercase())
        .unwrap_or_default();
    let holder = m.locks.get(&file.id);
    // `lockedBy` names *another* user; absent when the caller holds the lock.
    let locked_by = holder.filter(|h| h.as_str() != CALLER_NAME);
    let size = 4096 + file.seed() % 200_000;
    let personal = ds.is_personal(file);
    let lockable = call.rules.can_lock(file, personal, holder);
    let (root_id, root_type) = root_of(ds, ds.path_to(file.folder)[0], stringly);
    let mut dto = json!({
        "id": idv(&file.id, stringly),
        "title": title,
        "folderId": idv(folder.id, stringly),
        "rootFolderId": root_id,
        "rootFolderType": root_type,
        "access": file.caller_access,
        "security": security(file.caller_access, locked_by.is_some(), lockable),
        "version": 1,
        "versionGroup": 1,
        "fileStatus": 0,
        "fileExst": ext,
        "fileType": file_type(&ext),
        "contentLength": content_length(size),
        "pureContentLength": size,
        "viewUrl": format!("{base}/filehandler.ashx?action=download&fileid={}", file.id),
        "webUrl": format!("{base}/doceditor?fileid={}&version=1", file.id),
        "created": FIXED_DATE,
        "createdBy": employee(&ds.users[file.owner], base),
        "updated": FIXED_DATE,
        "updatedBy": employee(&ds.users[file.owner], base),
        "canShare": true,
        "shared": false,
        "fileEntryType": 2,
    });
    if let Some(obj) = dto.as_object_mut() {
        // `locked` is true or absent, never false.
        if holder.is_some() {
            obj.insert("locked".into(), Value::Bool(true));
        }
        if let Some(name) = locked_by {
            obj.insert("lockedBy".into(), json!(name));
        }
        add_provider(obj, folder);
    }
    dto
}

fn add_provider(obj: &mut Map<String, Value>, folder: &Folder) {
    if let Some(p) = folder.provider {
        obj.insert("providerItem".into(), Value::Bool(true));
        obj.insert("providerKey".into(), json!(p.key));
        obj.insert("providerId".into(), json!(p.id));
    }
}

/// `FolderDto` for a room or folder.
pub(crate) fn folder_dto(ds: &DataSet, idx: usize, base: &str) -> Value {
    let folder = &ds.folders[idx];
    let stringly = folder.provider.is_some();
    let parent = match folder.parent {
        Some(p) => idv(ds.folders[p].id, stringly),
        None if folder.personal => json!(0),
        None => idv(&ROOMS_ROOT_ID.to_string(), stringly),
    };
    let (root_id, root_type) = root_of(ds, ds.path_to(idx)[0], stringly);
    let mut dto = json!({
        "id": idv(folder.id, stringly),
        "title": folder.title,
        "parentId": parent,
        "rootFolderId": root_id,
        "rootFolderType": root_type,
        "filesCount": ds.direct_file_count(idx),
        "foldersCount": folder.subfolders.len(),
        "access": access::ROOM_MANAGER,
        "security": { "Read": true, "Create": true, "EditRoom": true },
        "new": 0,
        "created": FIXED_DATE,
        "createdBy": employee(&ds.users[CALLER], base),
        "updated": FIXED_DATE,
        "fileEntryType": 1,
    });
    if let Some(obj) = dto.as_object_mut() {
        if folder.parent.is_none() && !folder.personal {
            // A custom room (`RoomType.CustomRoom`).
            obj.insert("roomType".into(), json!(5));
            obj.insert("isRoom".into(), Value::Bool(true));
        }
        add_provider(obj, folder);
    }
    dto
}

/// `pathParts` from the Rooms root (or "My documents") down to `idx`.
pub(crate) fn path_parts(ds: &DataSet, idx: usize) -> Value {
    let stringly = ds.folders[idx].provider.is_some();
    let chain = ds.path_to(idx);
    let mut parts = match ds.folders[chain[0]].personal {
        true => Vec::new(),
        false => vec![json!({"id": ROOMS_ROOT_ID, "title": "Rooms"})],
    };
    parts.extend(
        chain
            .into_iter()
            .map(|f| json!({"id": idv(ds.folders[f].id, stringly), "title": ds.folders[f].title})),
    );
    Value::Array(parts)
}

/// `MentionWrapper`: the full `UserInfo` under `user`, `hasAccess` always false (DocSpace never
/// sets it).
pub(crate) fn mention(u: &User, base: &str) -> Value {
    json!({
        "user": {
            "id": u.id.to_string(),
            "firstName": u.first,
            "lastName": u.last,
            "userName": u.user_name(),
            "email": u.email(),
            "status": 1,
            "activationStatus": 1,
            "isActive": true,
            "tenantId": 1,
            "removed": false,
            "cultureName": "en-US",
            "createDate": FIXED_DATE,
            "lastModified": FIXED_DATE,
            "workFromDate": FIXED_DATE,
            "checkActivation": false,
        },
        "email": u.email(),
        "id": u.id.to_string(),
        "image": format!("{base}/static/images/default_user_photo_size_48-48.png"),
        "name": u.display_name(),
        "hasAccess": false,
    })
}
