//! `GET /api/2.0/files/file/{id}/share`: who and what a file is shared with (DocSpace's
//! `FileShareDto` list). Enumerations come as a number or as a name depending on the server's
//! serializer settings, so both are read; a link's password is reduced to "has one" here and
//! goes no further.

use serde_json::Value;

use super::{str_field, ApiError, Client};
use crate::job::FileId;

/// One entry of a file's sharing: a user, a group or a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareEntry {
    /// `user`, `group`, `external_link`, `primary_external_link`, `invitation_link`.
    pub subject_type: String,
    /// The user's, group's or link's ID.
    pub subject_id: String,
    /// Display name, group name or link title.
    pub name: String,
    /// A user's e-mail; empty for groups and links.
    pub email: String,
    /// The access level as a word (`read`, `read_write`, …); empty when the portal sent none.
    pub access: String,
    /// A link's URL; empty for users and groups.
    pub link_url: String,
    /// A link's expiry as the portal sent it; empty when it never expires.
    pub expires: String,
    /// Whether the link asks for a password (the password itself is never kept).
    pub password_protected: bool,
    /// Whether the link denies downloading.
    pub deny_download: bool,
    /// `isOwner`.
    pub is_owner: bool,
}

/// `FileShare` values in numeric order.
const ACCESS: [(&str, &str); 12] = [
    ("None", "none"),
    ("ReadWrite", "read_write"),
    ("Read", "read"),
    ("Restrict", "restrict"),
    ("Varies", "varies"),
    ("Review", "review"),
    ("Comment", "comment"),
    ("FillForms", "fill_forms"),
    ("CustomFilter", "custom_filter"),
    ("RoomManager", "room_manager"),
    ("Editing", "editing"),
    ("ContentCreator", "content_creator"),
];

/// `SubjectType` values in numeric order.
const SUBJECT: [(&str, &str); 5] = [
    ("User", "user"),
    ("ExternalLink", "external_link"),
    ("Group", "group"),
    ("InvitationLink", "invitation_link"),
    ("PrimaryExternalLink", "primary_external_link"),
];

/// A number or a name of an enumeration as our word; an unknown value is kept as sent, so a
/// newer server's level shows up rather than vanishing.
fn word(v: Option<&Value>, table: &[(&str, &str)]) -> String {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|i| table.get(i as usize))
            .map(|(_, w)| w.to_string())
            .unwrap_or_else(|| n.to_string()),
        Some(Value::String(s)) => table
            .iter()
            .find(|(name, w)| name.eq_ignore_ascii_case(s) || w == s)
            .map(|(_, w)| w.to_string())
            .unwrap_or_else(|| super::report_text(s)),
        _ => String::new(),
    }
}

/// `ApiDateTime`: documented as `{utcTime, timeZoneOffset}`, sent by servers as a string.
fn date(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(o @ Value::Object(_)) => str_field(o, "utcTime").unwrap_or_default(),
        _ => String::new(),
    }
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// One `FileShareDto` as an entry.
pub(crate) fn entry(v: &Value) -> ShareEntry {
    let mut e = ShareEntry {
        access: word(v.get("access"), &ACCESS),
        subject_type: word(v.get("subjectType"), &SUBJECT),
        is_owner: flag(v, "isOwner"),
        ..ShareEntry::default()
    };
    if let Some(u) = v.get("sharedToUser").filter(|u| u.is_object()) {
        e.subject_id = str_field(u, "id").unwrap_or_default();
        e.name = str_field(u, "displayName").unwrap_or_default();
        e.email = str_field(u, "email").unwrap_or_default();
        fallback(&mut e.subject_type, "user");
    } else if let Some(g) = v.get("sharedToGroup").filter(|g| g.is_object()) {
        e.subject_id = str_field(g, "id").unwrap_or_default();
        e.name = str_field(g, "name").unwrap_or_default();
        fallback(&mut e.subject_type, "group");
    } else if let Some(l) = v.get("sharedLink").filter(|l| l.is_object()) {
        e.subject_id = str_field(l, "id").unwrap_or_default();
        e.name = str_field(l, "title").unwrap_or_default();
        e.link_url = str_field(l, "shareLink").unwrap_or_default();
        e.expires = date(l.get("expirationDate"));
        e.password_protected = str_field(l, "password").is_some_and(|p| !p.is_empty());
        e.deny_download = flag(l, "denyDownload");
        let kind = if flag(l, "primary") {
            "primary_external_link"
        } else {
            "external_link"
        };
        fallback(&mut e.subject_type, kind);
    }
    for s in [&mut e.name, &mut e.email, &mut e.link_url, &mut e.expires] {
        *s = super::report_text(s);
    }
    e
}

fn fallback(s: &mut String, w: &str) {
    if s.is_empty() {
        *s = w.to_string();
    }
}

impl Client {
    /// `GET /api/2.0/files/file/{id}/share`
    pub async fn shares(&self, id: &FileId) -> Result<Vec<ShareEntry>, ApiError> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("api/2.0/files/file/{}/share", id.path_segment()),
                None,
            )
            .await?;
        let arr = v
            .as_array()
            .ok_or_else(|| ApiError::bad_response("share: `response` is not a list"))?;
        Ok(arr.iter().map(entry).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_names_read_alike_and_the_password_is_dropped() {
        let n = entry(&json!({"access": 2, "subjectType": 1, "isOwner": false,
            "sharedLink": {"id": "l1", "title": "Link", "shareLink": "https://p/s/1",
                "expirationDate": "2027-01-01T00:00:00.0000000Z", "password": "hunter2",
                "denyDownload": true, "primary": false}}));
        let s = entry(&json!({"access": "Read", "subjectType": "ExternalLink",
            "sharedLink": {"id": "l1", "title": "Link", "shareLink": "https://p/s/1",
                "expirationDate": {"utcTime": "2027-01-01T00:00:00.0000000Z"},
                "password": "hunter2", "denyDownload": true}}));
        assert_eq!(n, s);
        assert_eq!(n.access, "read");
        assert_eq!(n.subject_type, "external_link");
        assert!(n.password_protected && n.deny_download);
        assert!(!format!("{n:?}").contains("hunter2"));
        let g = entry(&json!({"access": 11, "sharedToGroup": {"id": "g", "name": "Auditors"}}));
        assert_eq!(
            (g.subject_type.as_str(), g.access.as_str()),
            ("group", "content_creator")
        );
        assert_eq!(entry(&json!({"access": 42})).access, "42");
    }
}
