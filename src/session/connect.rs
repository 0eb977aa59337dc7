//! Reaching the portal: the in-process sandbox or the real URL, the HTTP client (with
//! `--ca-cert`), the credential check, and what stops the run from outside (signals, the
//! `--max-duration` deadline).

use std::sync::Arc;
use std::time::Instant;

use secrecy::SecretString;

use crate::api::{Client, ClientOptions, Credential, CredentialKind};
use crate::config::{PortalTarget, Settings};
use crate::error::Error;
use crate::progress::Ui;
use crate::runner::exec::{self, Ctx, RequestEnd};
use crate::runner::stop::StopReason;

/// The portal's client, and the in-process sandbox kept alive for `--sandbox`.
pub struct Connection {
    /// The HTTP client.
    pub client: Client,
    /// Base URL, as recorded in the reports.
    pub url: url::Url,
    /// Kept until the command ends: dropping it stops the sandbox.
    pub sandbox: Option<crate::sandbox::Sandbox>,
}

impl Connection {
    /// Starts the sandbox if asked and builds the client. Nothing is sent yet.
    pub async fn open(target: &PortalTarget, s: &Settings, ui: &Ui) -> Result<Connection, Error> {
        // The client (and `--ca-cert`) is checked before the report directory exists: a usage
        // error must not leave a directory that the next run refuses as "already holds reports".
        let ca_cert = ca_cert(s)?;
        let (url, credential, sandbox) = match target {
            PortalTarget::Sandbox(opts) => {
                let sb = crate::sandbox::Sandbox::start(opts.clone())
                    .await
                    .map_err(|e| Error::Io(format!("cannot start the in-process sandbox: {e}")))?;
                let url = url::Url::parse(&sb.url()).map_err(|e| Error::Io(e.to_string()))?;
                ui.info(&format!("using the in-process sandbox portal at {url}"));
                let key = Credential::ApiKey(SecretString::from(sb.api_key().to_string()));
                (url, key, Some(sb))
            }
            PortalTarget::Real { url, credential } => (url.clone(), credential.clone(), None),
        };
        let client = Client::new(&ClientOptions {
            base: url.clone(),
            credential,
            timeout: s.timeout,
            ca_cert,
            pool: s.concurrency,
        })
        .map_err(Error::Usage)?;
        Ok(Connection {
            client,
            url,
            sandbox,
        })
    }
}

fn ca_cert(s: &Settings) -> Result<Option<Vec<u8>>, Error> {
    let Some(path) = &s.ca_cert else {
        return Ok(None);
    };
    let pem = std::fs::read(path)
        .map_err(|e| Error::Usage(format!("--ca-cert {}: {e}", path.display())))?;
    // Checked here so the message names the file (Client::new only sees bytes).
    crate::api::pem_certificates(&pem)
        .map_err(|e| Error::Usage(format!("--ca-cert {}: {e}", path.display())))?;
    Ok(Some(pem))
}

/// `GET /api/2.0/authentication` before anything else: a rejected credential is exit 3 with
/// nothing written.
pub async fn check_key(ctx: &Ctx, kind: CredentialKind) -> Result<(), Error> {
    // Through the retry loop: a 502 or a dropped connection at the very first request must not
    // abort a cron run that the next attempt would have started.
    match ctx
        .request(exec::Endpoint::Read, || ctx.client.check_auth())
        .await
    {
        Ok((true, _)) => Ok(()),
        Ok((false, _)) => Err(Error::Aborted(format!(
            "the portal rejected {} (GET /api/2.0/authentication); nothing was written",
            kind.describe()
        ))),
        Err(RequestEnd::Cancelled { .. }) if ctx.stop.reason() == Some(StopReason::Signal) => {
            Err(Error::Interrupted(format!(
                "interrupted while checking {}; nothing was written",
                kind.describe()
            )))
        }
        Err(RequestEnd::Cancelled { .. }) if ctx.stop.reason() == Some(StopReason::MaxDuration) => {
            Err(Error::Deadline(format!(
                "--max-duration ran out while checking {}; nothing was written",
                kind.describe()
            )))
        }
        Err(f) => Err(Error::Aborted(format!(
            "cannot check {} at {}: {}{}; nothing was written",
            kind.describe(),
            ctx.client.base(),
            f,
            tls_port_hint(ctx.client.base(), &f)
        ))),
    }
}

/// `http://` to a port that speaks only TLS: the server hangs up on the plain request without
/// a word, which reads as a dropped connection. Only a hint, as a dead portal looks the same.
fn tls_port_hint(base: &url::Url, end: &RequestEnd) -> String {
    let last = match end {
        RequestEnd::Failed(f) => Some(&f.err),
        RequestEnd::Cancelled { last, .. } => last.as_ref(),
    };
    // Refused or unresolvable: nothing listens there at all, https would not help.
    let dropped = last.is_some_and(|e| {
        e.kind == crate::api::ErrorKind::Network
            && e.status.is_none()
            && !e.message.contains("refused")
            && !e.message.contains("dns error")
    });
    if base.scheme() != "http" || !dropped {
        return String::new();
    }
    let mut https = base.clone();
    let _ = https.set_scheme("https");
    format!(
        " (if that port speaks https, use {})",
        https.as_str().trim_end_matches('/')
    )
}

/// Takes the first SIGINT/SIGTERM over from the process-wide handler: it stops starting
/// tasks and lets requests in flight finish; a second signal exits at once.
pub fn install_signals(ctx: Arc<Ctx>) {
    crate::signals::take_over();
    tokio::spawn(async move {
        crate::signals::first().await;
        ctx.ui.warn(
            "stopping: no new tasks; finishing requests in flight (signal again to exit at once)",
        );
        ctx.stop.stop(StopReason::Signal);
    });
}

/// `--max-duration`, counted from `from` (the command's start, so folder expansion is inside
/// the window): after it no new task starts; started tasks finish.
pub fn start_deadline(ctx: &Arc<Ctx>, max: Option<std::time::Duration>, from: Instant) {
    if let Some(max) = max {
        let c = ctx.clone();
        let at = tokio::time::Instant::from_std(from + max);
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            c.stop.stop_starting(StopReason::MaxDuration);
        });
    }
}
