//! Where the portal is: the URL checks.

use super::ConfigError;
use crate::text::{printable, URL};

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Checks a portal URL: https (http only to loopback or with `--allow-http`), no user-info,
/// no query or fragment.
pub fn portal_url(raw: &str, allow_http: bool) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(raw.trim()).map_err(|e| {
        bad(format!(
            "portal URL `{}` is not a URL ({e}); use e.g. https://yourportal.onlyoffice.com",
            shown(raw)
        ))
    })?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("the portal URL must not contain a user name or password; pass the credential through the environment or a file (see --help)"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad(
            "the portal URL must not contain a query or fragment; give just https://host[/path]",
        ));
    }
    let host = u.host_str().unwrap_or_default();
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(host) || allow_http => {}
        "http" => {
            return Err(bad(format!(
                "refusing http:// to {host}: the credential would travel in clear text. Use https://, or pass --allow-http if you really mean it"
            )))
        }
        s => return Err(bad(format!("portal URL scheme `{s}` is not supported; use https://"))),
    }
    if host.is_empty() {
        return Err(bad("the portal URL has no host"));
    }
    Ok(u)
}

fn shown(s: &str) -> String {
    printable(s, URL)
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_urls() {
        assert!(portal_url("https://x.onlyoffice.com", false).is_ok());
        assert!(portal_url("http://127.0.0.1:8080", false).is_ok());
        assert!(portal_url("http://localhost:1", false).is_ok());
        assert!(portal_url("http://[::1]:1", false).is_ok());
        assert!(portal_url("http://portal.example", false)
            .unwrap_err()
            .0
            .contains("--allow-http"));
        assert!(portal_url("http://portal.example", true).is_ok());
        assert!(portal_url("https://u:p@portal.example", false)
            .unwrap_err()
            .0
            .contains("user name"));
        assert!(portal_url("ftp://portal.example", false).is_err());
        assert!(portal_url("portal.example", false).is_err());
    }
}
