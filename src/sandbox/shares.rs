//! `GET /api/2.0/files/file/{id}/share`: a file's share entries as DocSpace's
//! `FileShareDto` list: the users sharing it (on the file, its folders and its room, the owner
//! marked `isOwner`), group "Auditors" on file 206, and an external link on files 201–205 (read,
//! expiring 30 days after start; 203's with a password, 204's with download denied). Enumerations
//! go out as numbers, as the server's default serializer sends them.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::data::{access, FileInfo};
use super::dto::{self, Call, Exception};
use super::handlers::{segment, Portal, Resp};

/// The password on file 203's link: sent by the portal, never to be written to a report.
pub const LINK_PASSWORD: &str = "sandbox-link-secret";

/// `SubjectType` numbers.
const USER: u8 = 0;
const EXTERNAL_LINK: u8 = 1;
const GROUP: u8 = 2;

/// `FileShare.ReadWrite`: what the owner holds.
const READ_WRITE: u8 = 1;

/// A GUID derived from `seed`, so every run agrees.
fn guid(seed: &str) -> String {
    let digest = Sha256::digest(format!("docspace-sandbox:{seed}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn dto(access: u8, subject: u8, is_owner: bool) -> serde_json::Map<String, Value> {
    let v = json!({
        "access": access,
        "subjectType": subject,
        "isOwner": is_owner,
        "isLocked": is_owner,
        "canEditAccess": !is_owner,
        "canEditInternal": false,
        "canEditDenyDownload": subject == EXTERNAL_LINK,
        "canEditExpirationDate": subject == EXTERNAL_LINK,
        "canRevoke": !is_owner,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

/// `EmployeeFullDto`: the short form plus the e-mail.
fn person(u: &super::data::User, base: &str) -> Value {
    let mut v = dto::employee(u, base);
    v["email"] = json!(u.email());
    v
}

/// The external link files 201–205 have.
fn link(p: &Portal, call: &Call, file: &FileInfo) -> Option<Value> {
    let n: u32 = file.id.parse().ok()?;
    if !(201..=205).contains(&n) || p.state().revoked_links.contains(&file.id) {
        return None;
    }
    let id = guid(&format!("link:{n}"));
    let mut m = dto(access::READ, EXTERNAL_LINK, false);
    m.insert(
        "sharedLink".into(),
        json!({
            "id": id,
            "title": "Shared link",
            "shareLink": format!("{}/s/{}", call.base, &id[..8]),
            "expirationDate": p.account.links_expire,
            "linkType": 1,
            "password": (n == 203).then_some(LINK_PASSWORD),
            "denyDownload": n == 204,
            "isExpired": false,
            "primary": false,
            "internal": false,
        }),
    );
    Some(Value::Object(m))
}

/// The file's entries, in the order DocSpace lists them: owner, users, groups, links.
pub(crate) async fn shares(
    State(p): State<Arc<Portal>>,
    Extension(call): Extension<Call>,
    id: Result<Path<String>, PathRejection>,
) -> Resp {
    let id = segment(id);
    if !call.authed {
        return dto::empty(StatusCode::UNAUTHORIZED);
    }
    let ds = &p.data;
    let Some(file) = ds.file_by_id(&id) else {
        return dto::error(
            404,
            "The required file was not found",
            Exception::ItemNotFound,
        );
    };
    let mut users: Vec<(usize, u8)> = file.shares.clone();
    let state = p.state();
    for f in ds.path_to(file.folder) {
        users.extend(state.folder_shares(f, &ds.folders[f].shares));
    }
    drop(state);
    let mut seen = std::collections::HashSet::from([file.owner]);
    let mut out = Vec::new();
    let mut owner = dto(READ_WRITE, USER, true);
    owner.insert(
        "sharedToUser".into(),
        person(&ds.users[file.owner], &call.base),
    );
    out.push(Value::Object(owner));
    for (u, a) in users {
        // The nearest share wins: the file's own, then its folders' outwards.
        if seen.insert(u) {
            let mut m = dto(a, USER, false);
            m.insert("sharedToUser".into(), person(&ds.users[u], &call.base));
            out.push(Value::Object(m));
        }
    }
    if file.id == "206" {
        let mut m = dto(access::READ, GROUP, false);
        m.insert(
            "sharedToGroup".into(),
            json!({"id": guid("group:Auditors"), "name": "Auditors", "manager": null, "isSystem": false}),
        );
        out.push(Value::Object(m));
    }
    out.extend(link(&p, &call, &file));
    dto::success(&call, Value::Array(out))
}
