//! Helpers: an in-process sandbox on 127.0.0.1:0, one builder ([`Cli`]) that runs the real binary
//! with a clean environment, and report files read by column name.
//!
//! Every run of the binary goes through [`Cli`]: it starts from an empty environment (PATH
//! only), closes stdin (or feeds it the bytes [`Cli::stdin`] gave), captures stdout and stderr,
//! and never waits without a deadline.

mod cli;
mod markdown;
mod work;

pub use cli::*;
pub use markdown::*;
pub use work::*;

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use docspace_batch::sandbox::{
    Injected, InterceptRequest, RecordedRequest, Sandbox, SandboxOptions,
};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_docspace-batch"))
}

/// A sandbox with default options.
pub async fn sandbox() -> Sandbox {
    sandbox_with(SandboxOptions::default()).await
}

/// A sandbox with options.
pub async fn sandbox_with(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts).await.expect("sandbox starts")
}

/// The requests every run makes before its tasks: the sign-in or credential check, then the
/// server version, the caller and the key's description.
pub const START_PATHS: [&str; 4] = [
    "/api/2.0/authentication",
    "/api/2.0/settings/version/build",
    "/api/2.0/people/@self",
    "/api/2.0/keys/@self",
];

/// Requests the sandbox received, without the credential check and the start-up reads.
pub fn api_requests(sb: &Sandbox) -> Vec<RecordedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| !START_PATHS.contains(&r.path.as_str()))
        .collect()
}

/// Sandbox options whose interceptor is `f` (answers or drops chosen requests).
pub fn opts_with(
    f: impl Fn(&InterceptRequest) -> Option<Injected> + Send + Sync + 'static,
) -> SandboxOptions {
    SandboxOptions {
        interceptor: Some(std::sync::Arc::new(f)),
        ..SandboxOptions::default()
    }
}

/// An injected answer.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Injected {
    Injected::Respond {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

/// A credential as the binary is given it (through its environment variables).
#[derive(Clone, Debug)]
pub enum Cred {
    /// DOCSPACE_API_KEY
    Key(String),
    /// DOCSPACE_TOKEN
    Token(String),
    /// DOCSPACE_USER and DOCSPACE_PASSWORD
    Password { user: String, password: String },
}

impl Cred {
    /// The secret that must never show.
    pub fn secret(&self) -> &str {
        match self {
            Cred::Key(s) | Cred::Token(s) => s,
            Cred::Password { password, .. } => password,
        }
    }

    /// `key`, `token` or `password`, for labels and summary.json's `credential`.
    pub fn kind(&self) -> &'static str {
        match self {
            Cred::Key(_) => "api_key",
            Cred::Token(_) => "token",
            Cred::Password { .. } => "password",
        }
    }

    /// The sandbox's caller with `password`.
    pub fn caller(password: &str) -> Cred {
        Cred::Password {
            user: docspace_batch::sandbox::CALLER_EMAIL.into(),
            password: password.into(),
        }
    }
}
