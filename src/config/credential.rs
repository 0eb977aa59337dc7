//! The credential and where it comes from: an API key (`DOCSPACE_API_KEY`, `--api-key-file`),
//! a session token (`DOCSPACE_TOKEN`, `--token-file`), or a user and password
//! (`DOCSPACE_USER` with `DOCSPACE_PASSWORD` or `--password-file`). Exactly one kind; no flag
//! takes a secret itself, because a command line shows in `ps` and in shell history.

use std::path::Path;

use secrecy::SecretString;

use super::ConfigError;
use crate::api::{Credential, CredentialKind};
use crate::cli::PortalArgs;

/// Where a secret came from, for messages: a flag with its path, or an environment variable.
enum Source<'a> {
    File(&'static str, &'a Path),
    Env(&'static str),
}

impl Source<'_> {
    fn describe(&self) -> String {
        match self {
            Source::File(flag, p) => format!("{flag} {}", p.display()),
            Source::Env(var) => (*var).to_string(),
        }
    }
}

/// One kind of credential as given: its kind and the source of its secret.
struct Given<'a> {
    kind: CredentialKind,
    source: Source<'a>,
}

/// An environment variable that is set and not empty (`VAR=` on a command line clears it).
fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The flag's file, else the variable, else nothing.
fn source<'a>(
    kind: CredentialKind,
    flag: &'static str,
    file: Option<&'a Path>,
    var: &'static str,
) -> Option<Given<'a>> {
    let source = match file {
        Some(p) => Source::File(flag, p),
        None if env(var).is_some() => Source::Env(var),
        None => return None,
    };
    Some(Given { kind, source })
}

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Reads the one credential given. Returns warnings to show (a secret file readable by
/// others); two kinds given, none, or a password without a user name is a usage error.
pub fn credential(a: &PortalArgs) -> Result<(Credential, Vec<String>), ConfigError> {
    let given: Vec<Given> = [
        source(
            CredentialKind::ApiKey,
            "--api-key-file",
            a.api_key_file.as_deref(),
            "DOCSPACE_API_KEY",
        ),
        source(
            CredentialKind::Token,
            "--token-file",
            a.token_file.as_deref(),
            "DOCSPACE_TOKEN",
        ),
        source(
            CredentialKind::Password,
            "--password-file",
            a.password_file.as_deref(),
            "DOCSPACE_PASSWORD",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let one = match given.as_slice() {
        [one] => one,
        [] => return Err(none_given()),
        many => {
            let named: Vec<String> = many
                .iter()
                .map(|g| format!("{} ({})", noun(g.kind), g.source.describe()))
                .collect();
            return Err(bad(format!(
                "more than one kind of credential given: {}; give exactly one (unset the other variable or drop the other flag)",
                named.join(" and ")
            )));
        }
    };
    let mut warnings = Vec::new();
    let secret = read(&one.source, &mut warnings)?;
    let credential = match one.kind {
        CredentialKind::ApiKey => Credential::ApiKey(header_safe(secret, "the API key")?),
        CredentialKind::Token => Credential::Token(header_safe(secret, "the session token")?),
        CredentialKind::Password => Credential::Password {
            user: user()?,
            password: SecretString::from(secret),
        },
    };
    Ok((credential, warnings))
}

fn noun(k: CredentialKind) -> &'static str {
    match k {
        CredentialKind::ApiKey => "an API key",
        CredentialKind::Token => "a session token",
        CredentialKind::Password => "a password",
    }
}

fn none_given() -> ConfigError {
    if env("DOCSPACE_USER").is_some() {
        return bad("DOCSPACE_USER is set but no password: set DOCSPACE_PASSWORD or pass --password-file PATH");
    }
    bad("no credential: set DOCSPACE_API_KEY (or --api-key-file PATH), DOCSPACE_TOKEN (or --token-file PATH), or DOCSPACE_USER with DOCSPACE_PASSWORD (or --password-file PATH); or use --sandbox to rehearse")
}

/// `DOCSPACE_USER`, the account a password signs in as.
fn user() -> Result<String, ConfigError> {
    let user = env("DOCSPACE_USER").ok_or_else(|| {
        bad("a password needs a user name: set DOCSPACE_USER to the account's e-mail address")
    })?;
    let user = user.trim().to_string();
    if user.chars().any(char::is_control) {
        return Err(bad("DOCSPACE_USER contains control characters"));
    }
    Ok(user)
}

/// A key or token travels as a header value: no spaces or control characters inside.
fn header_safe(secret: String, what: &str) -> Result<SecretString, ConfigError> {
    if secret.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad(format!(
            "{what} contains spaces or control characters; check where it comes from"
        )));
    }
    Ok(SecretString::from(secret))
}

/// The secret, trimmed (DocSpace trims a password too, and a file usually ends in a newline).
fn read(source: &Source, warnings: &mut Vec<String>) -> Result<String, ConfigError> {
    let raw = match source {
        Source::Env(var) => env(var).unwrap_or_default(),
        Source::File(flag, p) => read_file(flag, p, warnings)?,
    };
    let secret = raw.trim().to_string();
    if secret.is_empty() {
        return Err(bad(format!("{} is empty", source.describe())));
    }
    Ok(secret)
}

fn read_file(flag: &str, p: &Path, warnings: &mut Vec<String>) -> Result<String, ConfigError> {
    let fail = |e: &dyn std::fmt::Display| bad(format!("{flag} {}: {e}", p.display()));
    let meta = std::fs::metadata(p).map_err(|e| fail(&e))?;
    if meta.len() > 64 * 1024 {
        return Err(fail(&"too large to hold a credential"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            warnings.push(format!(
                "{} is readable by other users; run `chmod 600 {}`",
                p.display(),
                p.display()
            ));
        }
    }
    let bytes = std::fs::read(p).map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|_| fail(&"not UTF-8 text"))
}
