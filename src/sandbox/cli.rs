//! The `docspace-batch sandbox` subcommand: flags → [`SandboxOptions`], serve until SIGINT or
//! SIGTERM, then print a count of requests by status. The first line printed carries the URL so
//! a parent process can read it when listening on port 0.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::{Sandbox, SandboxOptions, CALLER_EMAIL, PASSWORD, TFA_EMAIL};
use crate::text::shown;
use crate::units::parse_duration;

/// Named limiter presets for `--limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LimitsPreset {
    /// DocSpace's defaults: 1500/min, 15 writes and 50 reads in flight, 10000 writes a day.
    Docspace,
}

/// `docspace-batch sandbox` options.
#[derive(Debug, Args, Clone)]
pub struct SandboxArgs {
    /// Address to listen on, loopback only: `127.0.0.1:PORT`, `[::1]:PORT` or `localhost:PORT`
    /// (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// API key clients must send as `Authorization: Bearer KEY` [default: random, printed].
    /// Needs --server-version 3.1 or later (the first with API keys).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Extra bulk files 100000.. in room 6000 "Bulk".
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub files: u32,
    /// Wait before handling each request, e.g. `150ms`; a client that disconnects meanwhile
    /// cancels it.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub latency: Option<Duration>,
    /// Apply each request at once, then wait DUR before answering, e.g. `150ms`; the change
    /// stays even if the client goes away meanwhile.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub answer_delay: Option<Duration>,
    /// Share of requests (0..1) answered with 500/502/503 or a dropped connection.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub faults: f64,
    /// With --faults: seed for the fault choice (same seed, same faults) [default: 1].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Sliding-window limit per user, e.g. `1500/min`; 429 without Retry-After.
    #[arg(long, value_name = "R")]
    pub limit_rate: Option<String>,
    /// PUT/POST/DELETE in flight per user; 429 beyond.
    #[arg(long, value_name = "N")]
    pub limit_writes: Option<u32>,
    /// GET requests in flight per user; 429 beyond.
    #[arg(long, value_name = "N")]
    pub limit_reads: Option<u32>,
    /// PUT/POST per day per user; 429 with Retry-After and X-RateLimit-Reset beyond.
    #[arg(long, value_name = "N")]
    pub limit_daily_writes: Option<u32>,
    /// Preset for all four limits (individual --limit-* flags win).
    #[arg(long, value_enum, value_name = "PRESET")]
    pub limits: Option<LimitsPreset>,
    /// DocSpace version to report and play, e.g. `3.0`: API keys from 3.1, keys/@self from
    /// 3.2, content creators break others' locks before 3.5, "My documents" cannot be locked
    /// and a missing file is a 403 before 3.7.1.
    #[arg(long, value_name = "V", default_value = "3.7.2", value_parser = parse_version)]
    pub server_version: [u32; 3],
    /// The API key expires this long after start, e.g. `3d` (keys/@self `expiresAt`)
    /// [default: never]. Needs --server-version 3.1 or later.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub key_expires_in: Option<Duration>,
    /// The API key's permissions, comma-separated: `files:read`, `files:write`, `*`, …
    /// [default: *]. Needs --server-version 3.1 or later.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub key_permissions: Option<Vec<String>>,
}

/// Parses `3`, `3.0`, `3.7.2` (missing parts are 0).
fn parse_version(raw: &str) -> Result<[u32; 3], String> {
    let err = || {
        format!(
            "invalid version `{}`: use MAJOR[.MINOR[.PATCH]], e.g. `3.0` or `3.7.2`",
            shown(raw)
        )
    };
    let parts: Vec<u32> = raw
        .trim()
        .split('.')
        .map(|p| p.parse().map_err(|_| err()))
        .collect::<Result<_, _>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return Err(err());
    }
    let at = |i: usize| parts.get(i).copied().unwrap_or(0);
    Ok([at(0), at(1), at(2)])
}

/// Parses `--listen`: a socket address on loopback, or `localhost:PORT` (as 127.0.0.1, the
/// address a client that resolves `localhost` tries first; no resolver is asked).
fn parse_listen(raw: &str) -> Result<std::net::SocketAddr, String> {
    let t = raw.trim();
    let addr = match t.get(..10) {
        Some(host) if host.eq_ignore_ascii_case("localhost:") => t[10..]
            .parse::<u16>()
            .ok()
            .map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], port))),
        _ => t.parse().ok(),
    };
    let addr = addr.ok_or_else(|| {
        format!(
            "invalid --listen `{}`: use 127.0.0.1:PORT, e.g. `127.0.0.1:8080` (`[::1]:PORT` and `localhost:PORT` work too)",
            shown(raw)
        )
    })?;
    // A rehearsal portal on loopback only; it is not meant to be reachable from other machines
    // (it prints its key and accepts anything shaped like a job).
    if !addr.ip().is_loopback() {
        return Err(format!(
            "invalid --listen `{}`: the sandbox serves on loopback only (127.0.0.1, [::1] or localhost)",
            shown(raw)
        ));
    }
    Ok(addr)
}

/// Parses `N/unit` into a count and window: `1500/min`, `10/s`, `100/h`, `5/30s`.
fn parse_window(raw: &str) -> Result<(u32, Duration), String> {
    let err = || {
        format!(
            "invalid rate `{}`: use forms like `1500/min`, `20/s` or `100/h`",
            shown(raw)
        )
    };
    let (n, unit) = raw.trim().split_once('/').ok_or_else(err)?;
    let n: u32 = n.trim().parse().map_err(|_| err())?;
    if n == 0 {
        return Err(err());
    }
    let window = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        other => parse_duration(other).map_err(|_| err())?,
    };
    if window.is_zero() {
        return Err(err());
    }
    Ok((n, window))
}

impl SandboxArgs {
    /// Validates the flags into options.
    pub fn to_options(&self) -> anyhow::Result<SandboxOptions> {
        let listen = parse_listen(&self.listen).map_err(anyhow::Error::msg)?;
        // Options that would be accepted and then silently do nothing are refused, so that a
        // rehearsal plays what the operator thinks it plays.
        if self.server_version < [3, 1, 0] {
            let [a, b, c] = self.server_version;
            for (given, flag) in [
                (self.api_key.is_some(), "--api-key"),
                (self.key_expires_in.is_some(), "--key-expires-in"),
                (self.key_permissions.is_some(), "--key-permissions"),
            ] {
                if given {
                    anyhow::bail!(
                        "{flag} has no effect with --server-version {a}.{b}.{c}: API keys exist from DocSpace 3.1; sign in with a password or a session token instead, or leave out --server-version"
                    );
                }
            }
        }
        if self.seed.is_some() && self.faults == 0.0 {
            anyhow::bail!("--seed chooses which requests fail; it needs --faults, e.g. `--faults 0.1 --seed 5`");
        }
        if let Some(key) = &self.api_key {
            // Sent in an HTTP header and printed in the banner.
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_graphic()) {
                anyhow::bail!(
                    "invalid --api-key `{}`: use printable ASCII without spaces (clients send it in an HTTP header)",
                    shown(key)
                );
            }
        }
        if !(0.0..=1.0).contains(&self.faults) {
            anyhow::bail!("invalid --faults {}: use a share from 0 to 1", self.faults);
        }
        let preset = self.limits.map(|LimitsPreset::Docspace| {
            (
                Some((1500, Duration::from_secs(60))),
                Some(15),
                Some(50),
                Some(10_000),
            )
        });
        let (rate, writes, reads, daily) = preset.unwrap_or_default();
        let limit_rate = match &self.limit_rate {
            Some(raw) => Some(parse_window(raw).map_err(anyhow::Error::msg)?),
            None => rate,
        };
        Ok(SandboxOptions {
            listen,
            api_key: self.api_key.clone(),
            files: self.files,
            latency: self.latency.unwrap_or_default(),
            answer_delay: self.answer_delay.unwrap_or_default(),
            faults: self.faults,
            seed: self.seed.unwrap_or(1),
            limit_rate,
            limit_writes: self.limit_writes.or(writes),
            limit_reads: self.limit_reads.or(reads),
            limit_daily_writes: self.limit_daily_writes.or(daily),
            interceptor: None,
            server_version: self.server_version,
            key_expires_in: self.key_expires_in,
            key_permissions: self
                .key_permissions
                .clone()
                .unwrap_or_else(|| vec!["*".into()])
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            password: None,
            token: None,
        })
    }
}

/// Serves until SIGINT or SIGTERM, then prints request counts by status and returns Ok.
pub async fn run_cli(args: SandboxArgs) -> anyhow::Result<()> {
    // The first signal is ours from the start (main installed the handler before anything
    // else): a parent that signals as soon as it reads the URL line, or earlier, gets the
    // summary and exit 0, not a process killed by the default action.
    crate::signals::take_over();
    let opts = args.to_options()?;
    let listen = opts.listen;
    let sandbox = Sandbox::start(opts)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head -1`) must not stop the server.
    let _ = writeln!(out, "DocSpace sandbox listening on {}", sandbox.url());
    let [a, b, c] = args.server_version;
    if [a, b, c] >= [3, 1, 0] {
        let _ = writeln!(out, "API key: {}", sandbox.api_key());
    } else {
        let _ = writeln!(out, "API key: none (DocSpace {a}.{b}.{c} has no API keys)");
    }
    let _ = writeln!(
        out,
        "Sign in (POST /api/2.0/authentication) as {CALLER_EMAIL} / {PASSWORD}; {TFA_EMAIL} has two-factor sign-in."
    );
    let _ = writeln!(
        out,
        "DocSpace {a}.{b}.{c}. Send `Authorization: Bearer <key>` or the session token. Rooms: 5001 Finance, 5003 Legal, 5004 Projects, dropbox-337, box-12{}; My documents 8000.",
        if args.files > 0 { ", 6000 Bulk" } else { "" }
    );
    let _ = out.flush();
    drop(out);
    crate::signals::first().await;
    let summary = format_counts(&sandbox.status_counts());
    sandbox.shutdown().await;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{summary}");
    let _ = out.flush();
    Ok(())
}

/// `requests by status: 200=12 401=1 429=3` (0 = dropped connection).
fn format_counts(counts: &std::collections::BTreeMap<u16, u64>) -> String {
    if counts.is_empty() {
        return "requests by status: none".to_string();
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{s}={n}")).collect();
    format!("requests by status: {}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(
            parse_window("1500/min"),
            Ok((1500, Duration::from_secs(60)))
        );
        assert_eq!(parse_window("3/s"), Ok((3, Duration::from_secs(1))));
        assert_eq!(parse_window("5/30s"), Ok((5, Duration::from_secs(30))));
        assert!(parse_window("0/s").is_err());
        assert!(parse_window("x/s").is_err());
        assert!(parse_window("5").is_err());
    }

    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        args: SandboxArgs,
    }

    fn options(argv: &[&str]) -> anyhow::Result<SandboxOptions> {
        use clap::Parser;
        let wrap = Wrap::try_parse_from(std::iter::once("sandbox").chain(argv.iter().copied()))?;
        wrap.args.to_options()
    }

    #[test]
    fn docspace_preset_and_overrides() {
        let o = options(&["--limits", "docspace", "--limit-writes", "3"]).unwrap();
        assert_eq!(o.limit_rate, Some((1500, Duration::from_secs(60))));
        assert_eq!(
            (o.limit_writes, o.limit_reads, o.limit_daily_writes),
            (Some(3), Some(50), Some(10_000))
        );
        let o = options(&["--latency", "150ms", "--listen", "127.0.0.1:0"]).unwrap();
        assert_eq!(o.latency, Duration::from_millis(150));
        assert_eq!(o.answer_delay, Duration::ZERO);
        let o = options(&["--answer-delay", "2s"]).unwrap();
        assert_eq!(
            (o.latency, o.answer_delay),
            (Duration::ZERO, Duration::from_secs(2))
        );
        assert!(options(&["--answer-delay", "soon"]).is_err());
        assert_eq!((o.limit_rate, o.limit_writes), (None, None));
        assert!(options(&["--faults", "1.5"]).is_err());
        assert!(options(&["--listen", "localhost"]).is_err());
        assert!(options(&["--listen", "0.0.0.0:0"]).is_err());
        assert!(options(&["--limit-rate", "fast"]).is_err());
    }

    #[test]
    fn versions_and_key_options() {
        assert_eq!(parse_version("3.0"), Ok([3, 0, 0]));
        assert_eq!(parse_version("3.7.2"), Ok([3, 7, 2]));
        assert_eq!(parse_version("4"), Ok([4, 0, 0]));
        for bad in ["", "3.x", "1.2.3.4", "v3"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
        let o = options(&[]).unwrap();
        assert_eq!(o.server_version, [3, 7, 2]);
        assert_eq!(
            (o.key_expires_in, o.key_permissions),
            (None, vec!["*".to_string()])
        );
        let o = options(&[
            "--server-version",
            "3.1",
            "--key-expires-in",
            "3d",
            "--key-permissions",
            "files:read, rooms:read",
        ])
        .unwrap();
        assert_eq!(o.server_version, [3, 1, 0]);
        assert_eq!(o.key_expires_in, Some(Duration::from_secs(3 * 86_400)));
        assert_eq!(o.key_permissions, vec!["files:read", "rooms:read"]);
    }

    #[test]
    fn options_that_would_do_nothing_are_refused() {
        // DocSpace before 3.1 has no API keys: the banner says "API key: none", so a key, its
        // expiry or its permissions would be silently ignored.
        for flags in [
            &["--api-key", "sk-x"][..],
            &["--key-expires-in", "3d"],
            &["--key-permissions", "files:read"],
        ] {
            let argv = [&["--server-version", "3.0"][..], flags].concat();
            let e = options(&argv).unwrap_err().to_string();
            assert!(e.contains(flags[0]) && e.contains("3.1"), "{flags:?}: {e}");
        }
        assert!(options(&["--server-version", "3.0"]).is_ok());
        // A seed chooses faults; without --faults there are none to choose.
        let e = options(&["--seed", "5"]).unwrap_err().to_string();
        assert!(e.contains("--seed") && e.contains("--faults"), "{e}");
        let o = options(&["--seed", "5", "--faults", "0.1"]).unwrap();
        assert_eq!((o.seed, o.faults), (5, 0.1));
        assert_eq!(options(&[]).unwrap().seed, 1, "the default seed");
        // The key travels in an HTTP header.
        let e = options(&["--api-key", "sk\u{1b}[31m"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("<U+001B>"), "{e}");
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn listen_takes_localhost_as_loopback() {
        let o = options(&["--listen", "localhost:8080"]).unwrap();
        assert_eq!(o.listen, "127.0.0.1:8080".parse().unwrap());
        let o = options(&["--listen", "LOCALHOST:0"]).unwrap();
        assert_eq!(o.listen, "127.0.0.1:0".parse().unwrap());
        let e = options(&["--listen", "example.com:80"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("127.0.0.1:8080"), "suggests the form: {e}");
        let e = options(&["--listen", "\u{1b}]0;x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("<U+001B>") && !e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn counts_line() {
        let mut c = std::collections::BTreeMap::new();
        c.insert(200, 12);
        c.insert(0, 1);
        assert_eq!(format_counts(&c), "requests by status: 0=1 200=12");
    }
}
