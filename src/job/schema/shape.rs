//! JSON Schema fragments for the value forms the loader accepts, one per parse rule, written to
//! accept exactly what the rule accepts wherever a schema can say it.
//!
//! Why patterns look the way they do:
//! - Every scalar reaches a rule as text (`config::settings::Scalar`), trimmed and often
//!   lowercased, so a quoted `"8"` or `" LOCK "` is as good as `8` or `lock`; the patterns
//!   say so with `\s*` and `[lL]`-style classes. `(?i)` is not in ECMA-262 (what editors run),
//!   so case is spelled out.
//! - Patterns use only what ECMA-262 with the `u` flag and the Rust validators share: no `\d`
//!   (Unicode digits in Rust), no `.` (ECMA's stops at line breaks), a leading lookahead only.
//! - Numeric ranges on text (`concurrency: "8"`) become a digit-range alternation
//!   ([`int_range`]), since a pattern cannot compare numbers.

use std::ops::RangeInclusive;

use serde_json::{json, Value};

/// Control characters (`char::is_control`: Unicode category Cc), as class ranges.
const CTRL: &str = r"\x00-\x1f\x7f-\x9f";
/// What `str::trim` trims (Unicode White_Space), as class ranges. Not `\s`: ECMA-262's lacks
/// U+0085 and has U+FEFF.
const WS: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// `word` with every ASCII letter as a two-case class: `lock` → `[lL][oO][cC][kK]`.
pub fn ci(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else if c.is_ascii_alphanumeric() || c == '_' {
                c.to_string()
            } else {
                format!(r"\{c}")
            }
        })
        .collect()
}

/// A regex alternation matching the decimal numbers in `range` (no sign, no leading zeros
/// beyond what the blocks allow, which never changes a value): each block is a prefix, one
/// digit class and free trailing digits, e.g. 1..=1000 → `[1-9]|[1-9][0-9]|[1-9][0-9]{2}|1000`.
pub fn int_range(range: RangeInclusive<u64>) -> String {
    let (mut s, hi) = (*range.start(), *range.end());
    let mut parts = Vec::new();
    loop {
        // The largest aligned block of 10^k numbers starting at `s` that stays in range.
        let (mut p, mut k) = (1u64, 0usize);
        while s % (p * 10) == 0 && s + (p * 10 - 1) <= hi {
            p *= 10;
            k += 1;
        }
        let prefix = s / p / 10;
        let d = (s / p) % 10;
        if s == 0 && k > 0 {
            // 0..10^k: the numbers of 1 to k digits (`[0-9]{k}` would demand k of them).
            parts.push(format!("[0-9]{{1,{k}}}"));
            if p > hi {
                return parts.join("|");
            }
            s = p;
            continue;
        }
        // As many such blocks as share the prefix and fit.
        let mut e = d;
        while e < 9 && s + (e - d + 2) * p - 1 <= hi {
            e += 1;
        }
        let mut part = if prefix == 0 {
            String::new()
        } else {
            prefix.to_string()
        };
        part += &if d == e {
            d.to_string()
        } else {
            format!("[{d}-{e}]")
        };
        part += &match k {
            0 => String::new(),
            1 => "[0-9]".to_string(),
            _ => format!("[0-9]{{{k}}}"),
        };
        parts.push(part);
        let last = s + (e - d + 1) * p - 1;
        if last >= hi {
            return parts.join("|");
        }
        s = last + 1;
    }
}

/// `^\s*(?:body)\s*$` (with [`WS`] for `\s`): the loader trims before it parses.
fn trimmed(body: &str) -> String {
    format!(r"^[{WS}]*(?:{body})[{WS}]*$")
}

/// A scalar the loader reads as non-empty text without control characters (`portal`, paths):
/// any string, number or boolean whose trimmed text is non-empty and has no control character.
pub fn text() -> Value {
    json!({
        "type": ["string", "number", "boolean"],
        "pattern": trimmed(&format!(r"[^{CTRL}{WS}](?:[^{CTRL}]*[^{CTRL}{WS}])?")),
    })
}

/// `portal`: what the loader's URL check lets through in a job file: an `http(s)://` base URL
/// with no path, query, fragment or user (plain http is decided at run time).
pub fn portal() -> Value {
    json!({
        "type": "string",
        "pattern": trimmed(r"[hH][tT][tT][pP][sS]?://[^/?#@\s]+/?"),
    })
}

/// A whole number in `range`, as a number or as text (`"8"`, `" +008 "`: Rust's integer parse
/// takes a `+` and leading zeros).
pub fn int(range: RangeInclusive<u64>) -> Value {
    let (min, max) = (*range.start(), *range.end());
    json!({
        "anyOf": [
            {"type": "integer", "minimum": min, "maximum": max},
            {"type": "string", "pattern": trimmed(&format!(r"\+?0*(?:{})", int_range(range)))},
        ]
    })
}

/// `true`/`false`, as a boolean or as text in any case.
pub fn flag() -> Value {
    json!({
        "anyOf": [
            {"type": "boolean"},
            {"type": "string", "pattern": trimmed(&format!("{}|{}", ci("true"), ci("false")))},
        ]
    })
}

/// One of `words`, in any case, trimmed; `dash_too` also takes `-` for `_` (`on_failure`).
/// The `enum` branch is what editors offer for completion.
pub fn words(words: &[&str], dash_too: bool) -> Value {
    let alts: Vec<String> = words
        .iter()
        .map(|w| {
            let p = ci(w);
            if dash_too {
                p.replace('_', "[-_]")
            } else {
                p
            }
        })
        .collect();
    json!({
        "anyOf": [
            {"enum": words},
            {"type": "string", "pattern": trimmed(&alts.join("|"))},
        ]
    })
}

/// A decimal as Rust's `f64` parse reads it (no sign): `5`, `5.`, `.5`, `5.25`.
const NUM: &str = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)";
/// The same with at least one non-zero digit.
const NZ_NUM: &str = r"(?:[0-9]*[1-9][0-9]*(?:\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)";
/// An `f64` exponent.
const EXP: &str = r"(?:[eE][-+]?[0-9]+)";

/// A duration (`units::parse_duration`): a bare number of seconds, or number-unit parts like
/// `1m30s`; `positive` refuses zero (`rules::duration`).
pub fn duration(positive: bool) -> Value {
    let unit = ["ms", "sec", "s", "min", "m", "h", "d"].map(ci).join("|");
    let part = format!("{NUM}(?:{unit})");
    let text = if positive {
        let nz_part = format!("{NZ_NUM}(?:{unit})");
        format!(r"\+?{NZ_NUM}{EXP}?|(?:{part})*{nz_part}(?:{part})*")
    } else {
        // `-0` parses as a float that is not below zero.
        format!(r"\+?{NUM}{EXP}?|-(?:0+\.?0*|\.0+){EXP}?|(?:{part})+")
    };
    let number = if positive {
        json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1e9})
    } else {
        json!({"type": "number", "minimum": 0, "exclusiveMaximum": 1e9})
    };
    json!({"anyOf": [number, {"type": "string", "pattern": trimmed(&text)}]})
}

/// A rate (`units::parse_rate`): `N/s`, `N/min`, `N/h` with N > 0, or `unlimited`.
pub fn rate() -> Value {
    let unit = ["second", "sec", "s", "minute", "min", "m", "hour", "h"]
        .map(ci)
        .join("|");
    let off = ["unlimited", "none", "off"].map(ci).join("|");
    let text = format!(r"{off}|\+?{NZ_NUM}{EXP}?[{WS}]*/[{WS}]*(?:{unit})");
    json!({"type": "string", "pattern": trimmed(&text)})
}

/// A shard `K/N` (`units::parse_shard`), each a u32 from 1.
pub fn shard() -> Value {
    let n = format!(r"\+?0*(?:{})", int_range(1..=u64::from(u32::MAX)));
    json!({"type": "string", "pattern": trimmed(&format!(r"{n}[{WS}]*/[{WS}]*{n}"))})
}

/// A file or folder ID (`FileId::parse`): an integer 1..=2147483647, or its digits as text,
/// or a connected-storage ID `selector-providerId[-path]`; spaces and tabs around are trimmed
/// and the rest is at most 512 characters, without control characters.
pub fn id() -> Value {
    let max = u64::from(crate::job::MAX_INT_ID);
    let len = crate::job::MAX_STR_ID_LEN;
    let digits = format!("0*(?:{})", int_range(1..=max));
    let storage = format!(r"[A-Za-z]+-[0-9]+(?:-[^{CTRL}]*[^{CTRL} ])?");
    let pattern = format!(r"^[ \t]*(?=[^{CTRL}]{{1,{len}}}[ \t]*$)(?:{digits}|{storage})[ \t]*$");
    json!({
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": max},
            {"type": "string", "pattern": pattern},
        ]
    })
}

/// A run name (`check_run_name`): letters, digits, `.`, `_`, `-`, not starting with `.`.
pub fn run_name() -> Value {
    let max = crate::job::MAX_RUN_NAME_BYTES - 1;
    json!({
        "type": ["string", "number", "boolean"],
        "pattern": trimmed(&format!("[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{max}}}")),
    })
}

/// A job name (`check_job_name`): non-empty, no control characters, at most 100 characters.
pub fn job_name() -> Value {
    let inner = crate::job::MAX_JOB_NAME_CHARS - 2;
    json!({
        "type": ["string", "number", "boolean"],
        "pattern": trimmed(&format!(r"[^{CTRL}{WS}](?:[^{CTRL}]{{0,{inner}}}[^{CTRL}{WS}])?")),
    })
}

/// A `files_from` path: its file name has a stem and ends in `.csv`, `.tsv` or `.txt`
/// (`Path::extension`, so trailing `/` and `/.` do not count).
pub fn files_from() -> Value {
    let ext = ["csv", "tsv", "txt"].map(ci).join("|");
    let text = format!(r"(?:[^{CTRL}]*/)?[^{CTRL}/]+\.(?:{ext})(?:/\.?)*");
    json!({"type": "string", "pattern": trimmed(&text)})
}

/// A YAML list (never a bare scalar) of `item`, with at least `min` items.
pub fn list(item: Value, min: usize) -> Value {
    let mut v = json!({"type": "array", "items": item});
    if min > 0 {
        v["minItems"] = json!(min);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ranges_are_exact_on_their_edges() {
        assert_eq!(int_range(1..=1000), "[1-9]|[1-9][0-9]|[1-9][0-9]{2}|1000");
        assert_eq!(int_range(0..=100), "[0-9]{1,2}|100");
        assert_eq!(int_range(0..=250), "[0-9]{1,2}|1[0-9]{2}|2[0-4][0-9]|250");
        assert_eq!(int_range(7..=7), "7");
        let big = int_range(1..=2_147_483_647);
        assert!(big.ends_with("214748364[0-7]"), "{big}");
    }

    /// Every number near the edges of a few ranges, through the JSON Schema validator.
    #[test]
    fn int_ranges_match_exactly_their_numbers() {
        for (lo, hi) in [
            (0, 100),
            (0, 250),
            (1, 1000),
            (1, 10_000),
            (7, 7),
            (13, 4321),
        ] {
            let v = jsonschema::validator_for(&json!({
                "pattern": format!("^(?:{})$", int_range(lo..=hi)),
            }))
            .unwrap();
            for n in 0..=hi + 20 {
                let ok = v.is_valid(&json!(n.to_string()));
                assert_eq!(ok, (lo..=hi).contains(&n), "{n} in {lo}..={hi}");
            }
        }
    }

    #[test]
    fn ci_spells_out_both_cases() {
        assert_eq!(ci("on_x"), "[oO][nN]_[xX]");
    }
}
