//! Parsers for the value forms shared by flags and YAML `settings:`: rates (`20/s`, `1500/min`,
//! `unlimited`), durations (`500ms`, `30s`, `2m`) and shards (`K/N`).

use std::fmt;
use std::time::Duration;

/// A request rate cap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// No cap at all.
    Unlimited,
    /// At most this many requests per second (may be fractional, e.g. `30/min` = 0.5/s).
    PerSecond(f64),
}

impl Rate {
    /// The interval between two requests at this rate, or `None` when unlimited.
    pub fn interval(self) -> Option<Duration> {
        match self {
            Rate::Unlimited => None,
            Rate::PerSecond(r) => Some(Duration::from_secs_f64(1.0 / r)),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Unlimited => f.write_str("unlimited"),
            Rate::PerSecond(r) => write!(f, "{r}/s"),
        }
    }
}

/// A value the user typed, for a message about it: invisible and control characters escaped
/// (`20<U+200B>/s`), as IDs are, so the reason a value that looks right is refused shows.
fn typed(raw: &str) -> String {
    crate::text::shown(raw)
}

/// `msg`, followed by the hint for a pasted invisible character in `raw` when there is one.
fn with_hint(raw: &str, msg: String) -> String {
    match crate::text::paste_hint(raw) {
        Some(h) => format!("{msg}; {h}"),
        None => msg,
    }
}

/// Parses `20/s`, `1500/min`, `100/h`, `unlimited`.
pub fn parse_rate(raw: &str) -> Result<Rate, String> {
    parse_rate_text(raw).map_err(|m| with_hint(raw, m))
}

fn parse_rate_text(raw: &str) -> Result<Rate, String> {
    let shown = typed(raw);
    let s = raw.trim().to_ascii_lowercase();
    if s == "unlimited" || s == "none" || s == "off" {
        return Ok(Rate::Unlimited);
    }
    let (n, unit) = s.split_once('/').ok_or_else(|| {
        format!("invalid rate `{shown}`: use forms like `20/s`, `1500/min`, `100/h` or `unlimited`")
    })?;
    let n: f64 = n.trim().parse().map_err(|_| {
        format!(
            "invalid rate `{shown}`: `{}` is not a number (forms: `20/s`, `1500/min`, `unlimited`)",
            typed(n)
        )
    })?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!(
            "invalid rate `{shown}`: the count must be greater than 0 (or use `unlimited`)"
        ));
    }
    let secs = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => {
            return Err(format!(
                "invalid rate `{shown}`: unknown unit `{}` (use `/s`, `/min` or `/h`)",
                typed(other)
            ))
        }
    };
    let per_sec = n / secs;
    if per_sec > 1_000_000.0 {
        return Err(format!(
            "invalid rate `{shown}`: above 1000000/s; use `unlimited`"
        ));
    }
    Ok(Rate::PerSecond(per_sec))
}

/// Parses `500ms`, `30s`, `2m`, `1h`, `1m30s`; a bare number means seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim().to_ascii_lowercase();
    let err = || {
        with_hint(
            raw,
            format!(
                "invalid duration `{}`: use forms like `500ms`, `30s`, `2m` or `1h`",
                typed(raw)
            ),
        )
    };
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(n) = s.parse::<f64>() {
        if n.is_finite() && (0.0..1e9).contains(&n) {
            return Ok(Duration::from_secs_f64(n));
        }
        return Err(err());
    }
    let mut total = 0f64;
    let mut rest = s.as_str();
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += n * mult;
    }
    if !(total.is_finite() && total < 1e9) {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(total))
}

/// `--shard K/N`: run only shard K (1-based) of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard this run takes, 1-based (K ≤ N).
    pub k: u32,
    /// How many shards the files are split into (N).
    pub n: u32,
}

/// Parses `K/N` with 1 <= K <= N.
pub fn parse_shard(raw: &str) -> Result<Shard, String> {
    let err = || {
        with_hint(
            raw,
            format!(
                "invalid shard `{}`: use `K/N` with 1 <= K <= N, e.g. `2/4`",
                typed(raw)
            ),
        )
    };
    let (k, n) = raw.trim().split_once('/').ok_or_else(err)?;
    let k: u32 = k.trim().parse().map_err(|_| err())?;
    let n: u32 = n.trim().parse().map_err(|_| err())?;
    if k == 0 || n == 0 || k > n {
        return Err(err());
    }
    Ok(Shard { k, n })
}

/// Formats a duration for people: `1.2s`, `3m05s`, `2h10m`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s as u64) % 60)
    } else {
        format!("{}h{:02}m", (s / 3600.0) as u64, ((s as u64) % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("20/s").unwrap(), Rate::PerSecond(20.0));
        assert_eq!(parse_rate("1500/min").unwrap(), Rate::PerSecond(25.0));
        assert_eq!(parse_rate("Unlimited").unwrap(), Rate::Unlimited);
        for bad in ["", "20", "0/s", "-1/s", "x/s", "20/day", "nan/s", "inf/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        for bad in ["", "s", "5x", "-1s", "1e99s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards() {
        assert_eq!(parse_shard("2/4").unwrap(), Shard { k: 2, n: 4 });
        for bad in ["0/4", "5/4", "1/0", "x", "1/"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
