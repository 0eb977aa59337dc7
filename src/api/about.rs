//! What the portal says about itself and the caller, asked once at start: the sign-in (for a
//! user and password), the server version, the caller, and an API key's expiry and
//! permissions. Also what classification learns from them: before DocSpace 3.7.1 no file in
//! "My documents" can be locked or unlocked, not even by its owner, and the 403 that says so
//! reads like any other refusal ("You do not have enough permissions to edit the file").

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{clean_text, str_field, ApiError, Client, ErrorKind};
use crate::job::FileId;

/// A DocSpace version as `settings/version/build` reports it (`docSpace`, e.g. `3.7.2.1877`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    /// As the portal wrote it (cleaned for printing).
    pub text: String,
    parts: Vec<u32>,
}

impl ServerVersion {
    /// The leading dot-separated numbers of `s`; `None` when it does not start with one.
    pub fn parse(s: &str) -> Option<ServerVersion> {
        let parts: Vec<u32> = s
            .trim()
            .split('.')
            .map_while(|p| p.trim().parse().ok())
            .take(4)
            .collect();
        (!parts.is_empty()).then(|| ServerVersion {
            text: crate::text::printable(s.trim(), crate::text::NAME),
            parts,
        })
    }

    /// True when this version is older than `major.minor.patch`.
    pub fn before(&self, major: u32, minor: u32, patch: u32) -> bool {
        let at = |i: usize| self.parts.get(i).copied().unwrap_or(0);
        (at(0), at(1), at(2)) < (major, minor, patch)
    }
}

/// How a sign-in ended when the portal answered 200.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// A session token was issued; the client sends it from now on.
    Token,
    /// The account signs in with a second factor (`tfa` or `sms` true, no token).
    TwoFactor,
}

/// The caller (`people/@self`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `id` (GUID).
    pub id: String,
    /// `displayName`, cleaned for printing.
    pub name: String,
}

/// An API key as `keys/@self` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyInfo {
    /// `name`, cleaned; empty when absent.
    pub name: String,
    /// `permissions`: `files:read`, `files:write`, `*`, …
    pub permissions: Vec<String>,
    /// `expiresAt` as sent (`2026-01-15T10:30:00.0000000+03:00`); `None` for a key that never
    /// expires.
    pub expires_at: Option<String>,
}

impl KeyInfo {
    /// May this key lock and unlock files (`files:write`, or `*` for everything)?
    pub fn can_write_files(&self) -> bool {
        self.permissions
            .iter()
            .any(|p| p == "*" || p.eq_ignore_ascii_case("files:write"))
    }
}

/// What the client knows about the server beyond one answer, shared by its clones.
#[derive(Default)]
pub(super) struct Facts {
    version: OnceLock<ServerVersion>,
    /// Files seen in "My documents" (`rootFolderType` USER) in a file answer or a listing.
    my_documents: Mutex<HashSet<FileId>>,
}

/// `FolderType.USER`, the `rootFolderType` of everything in "My documents"; sent as the number
/// or its name.
fn is_my_documents(root_folder_type: Option<&Value>) -> bool {
    match root_folder_type {
        Some(Value::Number(n)) => n.as_u64() == Some(5),
        Some(Value::String(s)) => s.eq_ignore_ascii_case("USER") || s == "5",
        _ => false,
    }
}

impl Facts {
    /// Remembers `ids` as files in "My documents" when `root_folder_type` says so.
    pub(super) fn note<'a>(
        &self,
        root_folder_type: Option<&Value>,
        ids: impl IntoIterator<Item = &'a FileId>,
    ) {
        if is_my_documents(root_folder_type) {
            let mut set = self.my_documents.lock().unwrap_or_else(|e| e.into_inner());
            set.extend(ids.into_iter().cloned());
        }
    }

    /// A refused lock or unlock of a "My documents" file on a server before 3.7.1 says why.
    pub(super) fn explain_lock_refusal(&self, id: &FileId, mut e: ApiError) -> ApiError {
        let Some(v) = self.version.get() else {
            return e;
        };
        let mine = || {
            let set = self.my_documents.lock().unwrap_or_else(|e| e.into_inner());
            set.contains(id)
        };
        if e.kind == ErrorKind::Forbidden && v.before(3, 7, 1) && mine() {
            e.message = format!(
                "{}: DocSpace before 3.7.1 (this portal runs {}) does not let anyone lock or unlock a file in \"My documents\", not even its owner; move the file into a room, or upgrade the portal",
                e.message, v.text
            );
        }
        e
    }
}

impl Client {
    /// The kind of credential the client holds.
    pub fn credential_kind(&self) -> super::CredentialKind {
        self.secrets.kind()
    }

    /// Tells the client the server's version: classification then explains what older
    /// servers refuse.
    pub fn note_version(&self, v: ServerVersion) {
        let _ = self.facts.version.set(v);
    }

    /// `POST /api/2.0/authentication` with the user name and password: on success the issued
    /// token becomes the client's credential. Only for a password credential.
    pub async fn sign_in(&self) -> Result<SignIn, ApiError> {
        let Some((user, password)) = self.secrets.sign_in() else {
            return Err(ApiError::bad_response(
                "there is no password to sign in with",
            ));
        };
        if self.secrets.authorization().is_some() {
            return Ok(SignIn::Token);
        }
        let body = serde_json::json!({"userName": user, "password": password.expose_secret()});
        let body = Bytes::from(body.to_string());
        let a = self
            .exchange(Method::POST, "api/2.0/authentication", Some(body), false)
            .await?;
        let v = self.decode(a).map_err(|mut e| {
            if e.kind == ErrorKind::Unauthorized {
                e.message = format!("the portal refused the sign-in of {}", clean_text(user));
            }
            e
        })?;
        let token = str_field(&v, "token").filter(|t| !t.is_empty());
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        match token {
            Some(t) => {
                self.secrets
                    .adopt(SecretString::from(t))
                    .map_err(ApiError::bad_response)?;
                Ok(SignIn::Token)
            }
            None if flag("tfa") || flag("sms") => Ok(SignIn::TwoFactor),
            None => Err(ApiError::bad_response("the sign-in answer holds no token")),
        }
    }

    /// `GET /api/2.0/settings/version/build`, sent without the credential (the server answers
    /// anyone); `None` when the answer names no DocSpace version.
    pub async fn server_version(&self) -> Result<Option<ServerVersion>, ApiError> {
        let path = "api/2.0/settings/version/build";
        let a = self.exchange(Method::GET, path, None, false).await?;
        let v = self.decode(a)?;
        Ok(str_field(&v, "docSpace").and_then(|s| ServerVersion::parse(&s)))
    }

    /// `GET /api/2.0/people/@self`: who the credential belongs to.
    pub async fn caller(&self) -> Result<Caller, ApiError> {
        let v = self.call(Method::GET, "api/2.0/people/@self", None).await?;
        let id = str_field(&v, "id")
            .ok_or_else(|| ApiError::bad_response("people/@self: the answer has no `id`"))?;
        Ok(Caller {
            id: clean_text(&id),
            name: clean_text(&str_field(&v, "displayName").unwrap_or_default()),
        })
    }

    /// `GET /api/2.0/keys/@self`: the API key's permissions and expiry; `None` on a 404
    /// (servers before 3.2 do not have the endpoint).
    pub async fn key_info(&self) -> Result<Option<KeyInfo>, ApiError> {
        let v = match self.call(Method::GET, "api/2.0/keys/@self", None).await {
            Ok(v) => v,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let permissions = v
            .get("permissions")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).map(clean_text).collect())
            .unwrap_or_default();
        Ok(Some(KeyInfo {
            name: clean_text(&str_field(&v, "name").unwrap_or_default()),
            permissions,
            expires_at: str_field(&v, "expiresAt").map(|s| clean_text(&s)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_their_leading_numbers() {
        let v = ServerVersion::parse("3.7.2.1877").unwrap();
        assert!(!v.before(3, 7, 1) && !v.before(3, 7, 2) && v.before(3, 7, 3));
        let v = ServerVersion::parse("3.0").unwrap();
        assert!(v.before(3, 2, 0) && !v.before(3, 0, 0));
        assert!(ServerVersion::parse("3.6.0-beta").unwrap().before(3, 7, 1));
        assert!(ServerVersion::parse("latest").is_none());
        assert!(ServerVersion::parse("").is_none());
    }

    #[test]
    fn only_write_or_everything_may_lock() {
        let k = |p: &[&str]| KeyInfo {
            permissions: p.iter().map(|s| s.to_string()).collect(),
            ..KeyInfo::default()
        };
        assert!(k(&["*"]).can_write_files());
        assert!(k(&["files:read", "files:write"]).can_write_files());
        assert!(!k(&["files:read", "rooms:write"]).can_write_files());
        assert!(!k(&[]).can_write_files());
    }

    #[test]
    fn a_my_documents_refusal_is_explained_on_old_servers_only() {
        let f = Facts::default();
        let id = FileId::parse("301").unwrap();
        let other = FileId::parse("302").unwrap();
        f.note(Some(&Value::from(5)), [&id]);
        f.note(Some(&Value::from(14)), [&other]);
        let refusal = || ApiError::new(ErrorKind::Forbidden, Some(403), "no");
        assert_eq!(f.explain_lock_refusal(&id, refusal()).message, "no");
        let _ = f.version.set(ServerVersion::parse("3.6.0").unwrap());
        let e = f.explain_lock_refusal(&id, refusal());
        assert!(e.message.contains("\"My documents\"") && e.message.contains("3.6.0"));
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert_eq!(f.explain_lock_refusal(&other, refusal()).message, "no");
        assert!(is_my_documents(Some(&Value::from("USER"))));
    }
}
