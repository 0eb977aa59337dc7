//! `PUT /api/2.0/files/rooms/{id}/share`: room membership, so a rehearsal (or a test) can give
//! a user access to a room's files, or take it away, between two runs and watch
//! `protectusers` and `diff` follow. A subset of DocSpace's `RoomInvitationRequest`:
//! `invitations` of `{id, access}` for the portal's users (an `access` of 0, `None`, removes
//! the user; a number or a `FileShare` name), `notify` and `message` accepted and ignored.
//! Entries naming nobody the portal knows, the caller, or no access are dropped without an
//! error, as DocSpace does; the answer lists the members the request set.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Extension;
use serde_json::{json, Map, Value};

use super::data::{access, CALLER};
use super::dto::{self, Call, Exception};
use super::handlers::{refuse_write, segment, Portal, Resp};

const NOT_A_ROOM: &str = "The required folder was not found";
const NOT_MANAGER: &str = "You don't have enough permission to perform the operation";

/// DocSpace's `FileShare` names, in numeric order (0 `None` … 11 `ContentCreator`).
const ACCESS_NAMES: [&str; 12] = [
    "None",
    "ReadWrite",
    "Read",
    "Restrict",
    "Varies",
    "Review",
    "Comment",
    "FillForms",
    "CustomFilter",
    "RoomManager",
    "Editing",
    "ContentCreator",
];

/// A field of a JSON object, by name ignoring case (ASP.NET model binding).
fn field<'a>(o: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `access` as a number or a name; `None` for anything else.
fn parse_access(v: &Value) -> Option<u8> {
    match v {
        Value::Number(n) => n.as_u64().filter(|&n| n < 12).map(|n| n as u8),
        Value::String(s) => ACCESS_NAMES
            .iter()
            .position(|a| a.eq_ignore_ascii_case(s))
            .map(|i| i as u8),
        _ => None,
    }
}

/// Sets room members; needs the caller to manage the room.
pub(super) async fn set_room_security(
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
    let invitations = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => match field(&o, "invitations") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        },
        _ => return dto::validation_error(&call, "Invitations", "The JSON value is invalid."),
    };
    let ds = &p.data;
    // Room IDs are numbers here; connected-storage rooms are not managed through this call.
    let room = ds
        .folder_by_id(&id)
        .filter(|&f| ds.folders[f].parent.is_none() && !ds.folders[f].personal)
        .filter(|_| id.bytes().all(|b| b.is_ascii_digit()));
    let Some(room) = room else {
        return dto::error(404, NOT_A_ROOM, Exception::ItemNotFound);
    };
    if !ds.folders[room]
        .shares
        .contains(&(CALLER, access::ROOM_MANAGER))
    {
        return dto::error(403, NOT_MANAGER, Exception::InvalidOperation);
    }
    let mut members = Vec::new();
    let mut state = p.state();
    for inv in invitations.iter().filter_map(Value::as_object) {
        let user = field(inv, "id").and_then(Value::as_str).and_then(|s| {
            ds.users
                .iter()
                .position(|u| u.id.to_string().eq_ignore_ascii_case(s))
        });
        let acc = field(inv, "access").and_then(parse_access);
        let (Some(user), Some(acc)) = (user, acc) else {
            continue;
        };
        if user == CALLER {
            continue;
        }
        state
            .room_members
            .entry(room)
            .or_default()
            .insert(user, acc);
        if acc != 0 {
            members.push(json!({
                "access": acc,
                "sharedToUser": dto::mention(&ds.users[user], &call.base),
                "subjectType": 0,
                "isOwner": false,
                "isLocked": false,
                "canEditAccess": true,
                "canRevoke": true,
            }));
        }
    }
    drop(state);
    dto::success(&call, json!({ "members": members, "warning": null }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_is_a_number_or_a_name() {
        assert_eq!(parse_access(&json!(2)), Some(2));
        assert_eq!(parse_access(&json!("read")), Some(2));
        assert_eq!(parse_access(&json!("None")), Some(0));
        assert_eq!(parse_access(&json!(12)), None);
        assert_eq!(parse_access(&json!("Owner")), None);
        assert_eq!(parse_access(&json!(true)), None);
    }
}
