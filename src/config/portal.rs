//! Where the portal is: the URL checks.

use super::ConfigError;
use crate::text::{printable, URL};

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Checks a portal URL: https (http only to loopback or with `--allow-http`), no user-info,
/// no query or fragment.
pub fn portal_url(raw: &str, allow_http: bool) -> Result<url::Url, ConfigError> {
    let raw = raw.trim();
    if !raw.contains("://") {
        return Err(no_scheme(raw));
    }
    let u = url::Url::parse(raw).map_err(|e| {
        bad(format!(
            "portal URL `{}` is not a URL ({e}); use e.g. https://yourportal.onlyoffice.com",
            shown(raw)
        ))
    })?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("the portal URL must not contain a user name or password; pass the credential through the environment or a file (see --help)"));
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
    // The API paths are added to the base URL; a path copied from the browser or from an
    // API example (`/api/2.0`, `/rooms/shared/filter?folder=5`) would otherwise end in a bare
    // 404. What is extra is shown, and the base URL to type.
    let path = if u.path() == "/" { "" } else { u.path() };
    if !path.is_empty() || u.query().is_some() || u.fragment().is_some() {
        let mut extra = path.to_string();
        if let Some(q) = u.query() {
            extra.push('?');
            extra.push_str(q);
        }
        if let Some(f) = u.fragment() {
            extra.push('#');
            extra.push_str(f);
        }
        let what = match (
            path.is_empty(),
            u.query().is_some() || u.fragment().is_some(),
        ) {
            (false, true) => "a path or query",
            (false, false) => "a path",
            _ => "a query",
        };
        return Err(bad(format!(
            "the portal URL must be the portal's base URL, without {what} (`{}`); use --portal {}",
            shown(&extra),
            base(&u)
        )));
    }
    Ok(u)
}

/// `host:port` or `host` without `scheme://`: suggests the URL meant, http for loopback (the
/// sandbox and local test portals), https otherwise.
fn no_scheme(raw: &str) -> ConfigError {
    if let Some(fixed) = scheme_typo(raw) {
        return bad(format!(
            "portal URL `{}` has a mistyped scheme (it needs `://`); use --portal {}",
            shown(raw),
            shown(&fixed)
        ));
    }
    let guess = |scheme: &str| url::Url::parse(&format!("{scheme}://{raw}")).ok();
    let suggestion = guess("https").filter(|u| u.host_str().is_some()).map(|u| {
        if is_loopback(u.host_str().unwrap_or_default()) {
            guess("http").map_or_else(|| base(&u), |h| base(&h))
        } else {
            base(&u)
        }
    });
    match suggestion {
        Some(s) => bad(format!(
            "portal URL `{}` has no scheme; use --portal {s}",
            shown(raw)
        )),
        None => bad(format!(
            "portal URL `{}` is not a URL; use e.g. https://yourportal.onlyoffice.com",
            shown(raw)
        )),
    }
}

/// `https//host`, `https:/host`, `http:host`: a scheme whose `://` lost a character, as the
/// base URL meant (its path and query are refused afterwards with their own hint).
fn scheme_typo(raw: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    let scheme = ["https", "http"]
        .into_iter()
        .find(|s| lower.starts_with(s))?;
    let rest = &raw[scheme.len()..];
    if !(rest.starts_with(':') || rest.starts_with('/')) {
        // `httpbin.example`: a host that begins with the letters, not a scheme.
        return None;
    }
    let host = rest.trim_start_matches([':', '/']);
    let u = url::Url::parse(&format!("{scheme}://{host}")).ok()?;
    u.host_str().filter(|h| !h.is_empty())?;
    Some(base(&u))
}

/// `scheme://host[:port]`, the form `--portal` wants.
fn base(u: &url::Url) -> String {
    let mut b = u.clone();
    b.set_path("");
    b.set_query(None);
    b.set_fragment(None);
    let _ = b.set_username("");
    let _ = b.set_password(None);
    shown(b.as_str().trim_end_matches('/'))
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
        assert!(portal_url("https://x.onlyoffice.com/", false).is_ok());
    }

    fn err(raw: &str) -> String {
        portal_url(raw, false).unwrap_err().0
    }

    #[test]
    fn a_path_is_refused_with_the_base_url_to_use() {
        let e = err("https://portal.example/api/2.0");
        assert!(e.contains("(`/api/2.0`)"), "{e}");
        assert!(e.ends_with("use --portal https://portal.example"), "{e}");
        let e = err("http://127.0.0.1:8080/api/2.0/");
        assert!(e.ends_with("use --portal http://127.0.0.1:8080"), "{e}");
        let e = err("https://portal.example/products/files/");
        assert!(e.contains("/products/files/"), "{e}");
        assert!(e.ends_with("use --portal https://portal.example"), "{e}");
    }

    #[test]
    fn a_query_or_fragment_is_shown_with_the_base_url_to_use() {
        let e = err("https://example.onlyoffice.com/rooms/shared/filter?folder=5");
        assert!(e.contains("without a path or query"), "{e}");
        assert!(e.contains("(`/rooms/shared/filter?folder=5`)"), "{e}");
        assert!(
            e.ends_with("use --portal https://example.onlyoffice.com"),
            "{e}"
        );
        let e = err("http://127.0.0.1:18080?x");
        assert!(e.contains("without a query (`?x`)"), "{e}");
        assert!(e.ends_with("use --portal http://127.0.0.1:18080"), "{e}");
        let e = err("https://p.example/#frag");
        assert!(e.contains("(`#frag`)"), "{e}");
        assert!(e.ends_with("use --portal https://p.example"), "{e}");
    }

    #[test]
    fn a_mistyped_scheme_is_named_with_the_url_meant() {
        for raw in [
            "https//portal.example.com",
            "https:/portal.example.com",
            "https:portal.example.com",
            "HTTPS//portal.example.com",
        ] {
            let e = err(raw);
            assert!(e.contains("mistyped scheme"), "{raw}: {e}");
            assert!(
                e.ends_with("use --portal https://portal.example.com"),
                "{raw}: {e}"
            );
        }
        let e = err("http//127.0.0.1:8080/api/2.0");
        assert!(e.ends_with("use --portal http://127.0.0.1:8080"), "{e}");
        // A host that merely begins with the letters is a missing scheme.
        let e = err("httpbin.example");
        assert!(e.ends_with("use --portal https://httpbin.example"), "{e}");
    }

    #[test]
    fn a_missing_scheme_gets_a_suggestion() {
        let e = err("localhost:8080");
        assert!(e.contains("no scheme"), "{e}");
        assert!(e.ends_with("use --portal http://localhost:8080"), "{e}");
        assert!(err("127.0.0.1:9").ends_with("use --portal http://127.0.0.1:9"));
        let e = err("portal.example");
        assert!(e.ends_with("use --portal https://portal.example"), "{e}");
        let e = err("portal.example/api/2.0");
        assert!(e.ends_with("use --portal https://portal.example"), "{e}");
        assert!(err("").contains("is not a URL"));
    }
}
