//! The rules that depend on who asks and on the server version the sandbox plays
//! (`--server-version`): how a request authenticates (an API key, a session token in the
//! header or the `asc_auth_key` cookie), what an API key's permissions let it do, and the lock
//! rules of older DocSpace releases.
//!
//! By version: API keys exist from 3.1, `keys/@self` from 3.2; before 3.5 a content creator may
//! lock and unlock files someone else locked; before 3.7.1 nobody may lock or unlock a file in
//! "My documents" (not even its owner), and a missing file is a 403 "The required file was not
//! found" on every file endpoint instead of a 404.

use axum::http::{header, HeaderMap, Method};

use super::data::{access, FileInfo, CALLER_NAME};

/// How a request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    /// No credential, or one the portal does not accept.
    Anonymous,
    /// `Authorization: Bearer <the sandbox's API key>`.
    Key,
    /// A session token a sign-in issued, as the whole `Authorization` value or the
    /// `asc_auth_key` cookie.
    Session,
}

/// The server version the sandbox plays, and what follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rules {
    pub version: [u32; 3],
}

impl Rules {
    fn at_least(self, v: [u32; 3]) -> bool {
        self.version >= v
    }

    /// API keys exist (DocSpace 3.1).
    pub fn has_api_keys(self) -> bool {
        self.at_least([3, 1, 0])
    }

    /// `GET /api/2.0/keys/@self` exists (DocSpace 3.2).
    pub fn has_key_info(self) -> bool {
        self.at_least([3, 2, 0])
    }

    /// A missing file answers 404 (DocSpace 3.7.1); before, 403 with "The required file was not
    /// found".
    pub fn missing_file_status(self) -> u16 {
        if self.at_least([3, 7, 1]) {
            404
        } else {
            403
        }
    }

    /// May the caller lock or unlock `file`, which `holder` has locked (if anyone)? Room
    /// managers may always (and unlock anyone's lock); content creators only when nobody else
    /// holds the lock (before 3.5: always); an owner in "My documents" only from 3.7.1;
    /// editors, reviewers and readers never.
    pub fn can_lock(self, file: &FileInfo, personal: bool, holder: Option<&String>) -> bool {
        if personal {
            return self.at_least([3, 7, 1]);
        }
        match file.caller_access {
            access::ROOM_MANAGER => true,
            access::CONTENT_CREATOR => {
                !self.at_least([3, 5, 0]) || !matches!(holder, Some(h) if h != CALLER_NAME)
            }
            _ => false,
        }
    }

    /// Who sent the request: the API key (from 3.1), a session token it issued, or nobody.
    pub fn authenticate(
        self,
        headers: &HeaderMap,
        key: &str,
        is_token: impl Fn(&str) -> bool,
    ) -> Who {
        if let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let value = value.trim();
            return match value.split_once(' ') {
                // DocSpace hands a raw key (no `Bearer`) to its session-cookie handler, where
                // it fails, so only `Bearer <key>` is a key.
                Some((scheme, k)) if scheme.eq_ignore_ascii_case("bearer") => {
                    if k.trim() == key && self.has_api_keys() {
                        Who::Key
                    } else {
                        Who::Anonymous
                    }
                }
                Some(_) => Who::Anonymous,
                None if is_token(value) => Who::Session,
                None => Who::Anonymous,
            };
        }
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == "asc_auth_key")
            .map(|(_, value)| value.trim().to_string());
        match cookie {
            Some(t) if is_token(&t) => Who::Session,
            _ => Who::Anonymous,
        }
    }
}

/// Whether an API key with `permissions` may make this request. Sessions and the endpoints
/// outside `files` are not limited; reading files needs `files:read` or `files:write`, changing
/// them `files:write`; `*` allows everything.
pub(crate) fn key_allows(permissions: &[String], method: &Method, path: &str) -> bool {
    if !path.starts_with("/api/2.0/files/") {
        return true;
    }
    let has = |p: &str| permissions.iter().any(|x| x == "*" || x == p);
    if method == Method::GET {
        has("files:read") || has("files:write")
    } else {
        has("files:write")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn keys_tokens_and_cookies_authenticate() {
        let r = Rules { version: [3, 7, 2] };
        let tok = |t: &str| t == "tok-1";
        let who = |pairs: &[(&str, &str)]| r.authenticate(&headers(pairs), "sk-1", tok);
        assert_eq!(who(&[("authorization", "Bearer sk-1")]), Who::Key);
        assert_eq!(who(&[("authorization", "bearer sk-1")]), Who::Key);
        assert_eq!(who(&[("authorization", "sk-1")]), Who::Anonymous);
        assert_eq!(who(&[("authorization", "Bearer sk-2")]), Who::Anonymous);
        assert_eq!(who(&[("authorization", "Basic sk-1")]), Who::Anonymous);
        assert_eq!(who(&[("authorization", "tok-1")]), Who::Session);
        assert_eq!(who(&[("authorization", "Bearer tok-1")]), Who::Anonymous);
        assert_eq!(who(&[("cookie", "a=b; asc_auth_key=tok-1")]), Who::Session);
        assert_eq!(who(&[("cookie", "asc_auth_key=tok-2")]), Who::Anonymous);
        assert_eq!(who(&[]), Who::Anonymous);
        let old = Rules { version: [3, 0, 0] };
        let h = headers(&[("authorization", "Bearer sk-1")]);
        assert_eq!(old.authenticate(&h, "sk-1", tok), Who::Anonymous);
    }

    #[test]
    fn key_permissions_limit_files_only() {
        let p = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let lock = "/api/2.0/files/file/101/lock";
        assert!(key_allows(&p(&["*"]), &Method::PUT, lock));
        assert!(key_allows(&p(&["files:write"]), &Method::PUT, lock));
        assert!(!key_allows(&p(&["files:read"]), &Method::PUT, lock));
        assert!(key_allows(
            &p(&["files:read"]),
            &Method::GET,
            "/api/2.0/files/5001"
        ));
        assert!(!key_allows(
            &p(&["rooms:read"]),
            &Method::GET,
            "/api/2.0/files/5001"
        ));
        assert!(key_allows(
            &p(&["rooms:read"]),
            &Method::GET,
            "/api/2.0/people/@self"
        ));
    }
}
