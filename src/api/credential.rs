//! The credential and everything secret the client holds: what goes into `Authorization`, and
//! the list of secrets scrubbed from any portal text before it reaches a message, a log line
//! or a report.
//!
//! Three kinds reach DocSpace: an API key (3.1 and later, `Authorization: Bearer <key>`), a
//! session token (every version, the raw token as the whole header value), and a user name and
//! password, which one sign-in (`POST /api/2.0/authentication`) turns into a session token.
//! Until that sign-in the client sends no `Authorization` at all.

use std::sync::{Mutex, OnceLock};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use super::ApiError;

/// The credential a run was given. `Debug` never shows a secret.
#[derive(Clone)]
pub enum Credential {
    /// An API key (`sk-…`), sent as `Authorization: Bearer <key>`.
    ApiKey(SecretString),
    /// A session token, sent as the whole `Authorization` value (no scheme).
    Token(SecretString),
    /// A user name (e-mail) and password, exchanged for a session token by one sign-in.
    Password {
        /// The `userName` of the sign-in; not a secret (it is shown in messages).
        user: String,
        /// The password; sent once, in the sign-in's body.
        password: SecretString,
    },
}

/// Which kind of credential, for messages and the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// [`Credential::ApiKey`]
    ApiKey,
    /// [`Credential::Token`]
    Token,
    /// [`Credential::Password`]
    Password,
}

impl CredentialKind {
    /// The name recorded in `run.db` and `summary.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "api_key",
            CredentialKind::Token => "token",
            CredentialKind::Password => "password",
        }
    }

    /// What a message calls it: "the API key", "the session token", "the user name or
    /// password".
    pub fn describe(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "the API key",
            CredentialKind::Token => "the session token",
            CredentialKind::Password => "the user name or password",
        }
    }
}

impl Credential {
    /// Its kind.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::ApiKey(_) => CredentialKind::ApiKey,
            Credential::Token(_) => CredentialKind::Token,
            Credential::Password { .. } => CredentialKind::Password,
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ApiKey(_) => f.write_str("ApiKey([redacted])"),
            Credential::Token(_) => f.write_str("Token([redacted])"),
            Credential::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"[redacted]")
                .finish(),
        }
    }
}

/// The header value for a secret, marked sensitive (reqwest and hyper then keep it out of
/// their own debug output).
pub(super) fn header(value: &str, what: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| format!("{what} contains characters that cannot be sent in an HTTP header"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// The client's secrets, shared by its clones (the sign-in of one is the session of all).
pub(super) struct Secrets {
    /// The kind of credential, for messages.
    kind: CredentialKind,
    /// `Authorization`; unset until a sign-in sets it when the credential is a password.
    auth: OnceLock<HeaderValue>,
    /// The user name and password, for the one sign-in.
    sign_in: Option<(String, SecretString)>,
    /// Every secret a portal could echo back: the key, the token (given or issued), the
    /// password.
    scrub: Mutex<Vec<SecretString>>,
}

impl Secrets {
    /// The secrets of `c`; an error when a key or token cannot be a header value.
    pub(super) fn new(c: &Credential) -> Result<Secrets, String> {
        let auth = OnceLock::new();
        let (sign_in, secret) = match c {
            Credential::ApiKey(k) => {
                let v = header(&format!("Bearer {}", k.expose_secret()), "the API key")?;
                let _ = auth.set(v);
                (None, k.clone())
            }
            Credential::Token(t) => {
                let _ = auth.set(header(t.expose_secret(), "the session token")?);
                (None, t.clone())
            }
            Credential::Password { user, password } => {
                (Some((user.clone(), password.clone())), password.clone())
            }
        };
        Ok(Secrets {
            kind: c.kind(),
            auth,
            sign_in,
            scrub: Mutex::new(vec![secret]),
        })
    }

    /// The kind of credential.
    pub(super) fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// What a 401 means for this credential. After a sign-in it is the issued token that was
    /// refused (it expired, or its sessions were ended), not the password.
    pub(super) fn rejected(&self) -> &'static str {
        match self.kind {
            CredentialKind::ApiKey => "the portal rejected the API key",
            CredentialKind::Token => "the portal rejected the session token",
            CredentialKind::Password => "the portal rejected the session token the sign-in issued",
        }
    }

    /// What to send as `Authorization`, once there is something.
    pub(super) fn authorization(&self) -> Option<&HeaderValue> {
        self.auth.get()
    }

    /// The user name and password, when the credential is a password.
    pub(super) fn sign_in(&self) -> Option<&(String, SecretString)> {
        self.sign_in.as_ref()
    }

    /// Adopts the token a sign-in issued: sent from now on, scrubbed like the others.
    pub(super) fn adopt(&self, token: SecretString) -> Result<(), String> {
        let v = header(token.expose_secret(), "the session token the portal issued")?;
        self.lock_scrub().push(token);
        let _ = self.auth.set(v);
        Ok(())
    }

    fn lock_scrub(&self) -> std::sync::MutexGuard<'_, Vec<SecretString>> {
        self.scrub.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `bytes` with every secret replaced by `[redacted]`; `None` when none occurs.
    pub(super) fn scrub_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let secrets = self.lock_scrub();
        let mut out: Option<Vec<u8>> = None;
        for s in secrets.iter() {
            let hay = out.as_deref().unwrap_or(bytes);
            if let Some(clean) = scrub(hay, s.expose_secret().as_bytes()) {
                out = Some(clean);
            }
        }
        out
    }

    /// A hostile or chatty portal (or proxy) may echo the `Authorization` header or the
    /// sign-in's body into an error message or a redirect target; the message goes to the
    /// terminal and results.csv, so every secret is replaced before anything else sees it.
    pub(super) fn redact(&self, mut e: ApiError) -> ApiError {
        for s in self.lock_scrub().iter() {
            let k = s.expose_secret();
            if !k.is_empty() && e.message.contains(k) {
                e.message = e.message.replace(k, "[redacted]");
            }
        }
        e
    }
}

/// `hay` with every occurrence of `key` replaced by `[redacted]`; `None` when there is none.
fn scrub(hay: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    if key.is_empty() || hay.len() < key.len() || !hay.windows(key.len()).any(|w| w == key) {
        return None;
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(key) {
            out.extend_from_slice(b"[redacted]");
            i += key.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        for c in [
            Credential::ApiKey("sk-secret1".into()),
            Credential::Token("tok-secret2".into()),
            Credential::Password {
                user: "a@b.c".into(),
                password: "pw-secret3".into(),
            },
        ] {
            let d = format!("{c:?}");
            assert!(!d.contains("secret"), "{d}");
            assert!(d.contains("[redacted]"), "{d}");
        }
    }

    #[test]
    fn every_secret_is_scrubbed_and_the_header_follows_the_kind() {
        let s = Secrets::new(&Credential::Password {
            user: "a@b.c".into(),
            password: "pw-1".into(),
        })
        .unwrap();
        assert!(s.authorization().is_none(), "nothing before the sign-in");
        s.adopt("tok-2".into()).unwrap();
        assert_eq!(s.authorization().unwrap(), "tok-2");
        assert!(s.authorization().unwrap().is_sensitive());
        let out = s.scrub_bytes(b"x pw-1 y tok-2 z").unwrap();
        assert_eq!(out, b"x [redacted] y [redacted] z");
        assert!(s.scrub_bytes(b"clean").is_none());
        let e = s.redact(ApiError::bad_response("echo tok-2 and pw-1"));
        assert_eq!(e.message, "echo [redacted] and [redacted]");

        let k = Secrets::new(&Credential::ApiKey("sk-3".into())).unwrap();
        assert_eq!(k.authorization().unwrap(), "Bearer sk-3");
        let t = Secrets::new(&Credential::Token("tok-4".into())).unwrap();
        assert_eq!(t.authorization().unwrap(), "tok-4");
        assert!(Secrets::new(&Credential::Token("a\nb".into())).is_err());
    }
}
