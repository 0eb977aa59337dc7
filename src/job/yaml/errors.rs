//! Error messages for people: serde_norway's wording (`jobs[0].files[2]: invalid type ...`)
//! becomes a located [`JobError`] that names the job and the key and says what to write
//! instead; unknown keys get a "did you mean" from the keys allowed at that place.

use std::path::Path;

use super::visit::shown;
use crate::config::PartialSettings;
use crate::job::JobError;

/// Keys allowed at the top level (for "did you mean" and "expected one of").
const FILE_KEYS: &[&str] = &["name", "settings", "jobs"];
/// Keys allowed in a job, in the order of `raw::JobKey`.
pub(super) const JOB_KEYS: &[&str] = &[
    "name",
    "files",
    "folders",
    "files_from",
    "actions",
    "on_failure",
];

/// Turns a serde_norway error into a [`JobError`] with a message for people.
pub(super) fn yaml_error(path: &Path, text: &str, e: &serde_yaml::Error) -> JobError {
    let loc = e.location();
    let mut msg = e.to_string();
    if let Some(l) = &loc {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        if let Some(p) = msg.find(&suffix) {
            msg.replace_range(p..p + suffix.len(), "");
        }
    }
    let (context, body) = split_path(&msg);
    let line = loc.as_ref().map(|l| l.line());
    let column = loc.as_ref().map(|l| l.column());
    let line = line
        .or_else(|| second_document_line(text).filter(|_| body.contains("more than one document")));
    JobError::new(path, line, column, explain(context, body))
}

/// Whether `e` is libyaml's syntax error. Values read before one may be artefacts of the
/// broken syntax (a flow list whose `]` is missing swallows the next line), so the errors
/// recovered from them are not shown.
pub(super) fn is_syntax_error(e: &serde_yaml::Error) -> bool {
    let msg = e.to_string();
    msg.contains("while scanning") || msg.contains("while parsing")
}

/// Turns the text of an error recovered during the parse (see `recover`) into a
/// [`JobError`]: serde_norway wrote it as `path: message at line L column C`, the position
/// always last.
pub(super) fn recovered_error(path: &Path, msg: &str) -> JobError {
    let located = msg.rfind(" at line ").and_then(|p| {
        let (l, c) = msg[p + " at line ".len()..].split_once(" column ")?;
        Some((p, l.parse::<usize>().ok()?, c.parse::<usize>().ok()?))
    });
    let (msg, line, column) = match located {
        Some((p, l, c)) => (&msg[..p], Some(l), Some(c)),
        None => (msg, None, None),
    };
    let (context, body) = split_path(msg);
    JobError::new(path, line, column, explain(context, body))
}

/// Drops libyaml's " at line N column M" parts (the location is reported separately).
fn strip_positions(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(p) = rest.find(" at line ") {
        out.push_str(&rest[..p]);
        let after = &rest[p + " at line ".len()..];
        let skip = after
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || "column".contains(c)))
            .unwrap_or(after.len());
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// The line of the `---` that starts a second YAML document (serde_norway gives none).
fn second_document_line(text: &str) -> Option<usize> {
    let mut content = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_end();
        if (t == "---" || t.starts_with("--- ")) && content {
            return Some(i + 1);
        }
        if !t.is_empty() && !t.starts_with('#') && !t.starts_with("---") && !t.starts_with('%') {
            content = true;
        }
    }
    None
}

/// Splits serde_norway's `jobs[0].files[2]: message` into the path and the message.
fn split_path(msg: &str) -> (&str, &str) {
    if let Some((head, tail)) = msg.split_once(": ") {
        let is_path = !head.is_empty()
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'));
        if is_path {
            return (head, tail);
        }
    }
    ("", msg)
}

/// `jobs[1].files[2]` → "job 2, `files` item 3".
fn human_path(path: &str) -> String {
    path.split('.')
        .filter(|s| !s.is_empty())
        .map(|seg| match seg.split_once('[') {
            Some((key, idx)) => {
                let n = idx
                    .trim_end_matches(']')
                    .parse::<usize>()
                    .map_or(0, |n| n + 1);
                if key == "jobs" {
                    format!("job {n}")
                } else {
                    format!("`{key}` item {n}")
                }
            }
            None => format!("`{seg}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rewrites serde's wording into advice.
fn explain(context: &str, body: &str) -> String {
    if let Some(rest) = body.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        return unknown_key(context, key);
    }
    let body = if let Some(rest) = body.strip_prefix("duplicate field `") {
        let key = rest.split('`').next().unwrap_or("");
        format!("`{key}` is given twice; keep one")
    } else if body == "recursion limit exceeded" {
        "nested too deeply (the limit is 128 levels); a job file needs 4".to_string()
    } else if body == "repetition limit exceeded" {
        "too many alias expansions (`*name`), as in a YAML \"billion laughs\" bomb; write the values out instead".to_string()
    } else if body == "unknown anchor" {
        "alias (`*name`) without a matching anchor (`&name`)".to_string()
    } else if body.contains("more than one document") {
        "more than one YAML document (`---`); put every job into one `jobs:` list".to_string()
    } else if body.contains("while scanning") || body.contains("while parsing") {
        // Keep in step with `is_syntax_error`.
        // libyaml's syntax errors; its positions are already in the JobError.
        let body = strip_positions(body);
        format!("YAML syntax error: {body} (check the indentation, which must use spaces, and brackets/quotes)")
    } else {
        body.to_string()
    };
    if context.is_empty() {
        body
    } else {
        format!("{}: {body}", human_path(context))
    }
}

/// "unknown key `acton` in job 1; did you mean `actions`? expected one of: ..."
fn unknown_key(context: &str, key: &str) -> String {
    let last = context.rsplit('.').next().unwrap_or("");
    let (place, keys) = if last.starts_with("jobs[") {
        (format!("in {}", human_path(context)), JOB_KEYS)
    } else if last == "settings" {
        ("in `settings`".to_string(), PartialSettings::KEYS)
    } else {
        ("at the top level".to_string(), FILE_KEYS)
    };
    let key = shown(key);
    let mut msg = format!("unknown key `{key}` {place}");
    let norm = key.to_ascii_lowercase().replace('-', "_");
    // A valid key in the wrong place is more likely than a typo.
    if !std::ptr::eq(keys, PartialSettings::KEYS) && PartialSettings::KEYS.contains(&norm.as_str())
    {
        msg.push_str("; settings such as this belong under `settings:`");
    } else if std::ptr::eq(keys, FILE_KEYS) && JOB_KEYS.contains(&norm.as_str()) {
        msg.push_str("; this belongs inside a job under `jobs:`");
    } else if let Some(best) = suggest(&norm, keys) {
        msg.push_str(&format!(
            "; did you mean `{best}`? expected one of: {}",
            keys.join(", ")
        ));
        return msg;
    }
    msg.push_str(&format!("; expected one of: {}", keys.join(", ")));
    msg
}

/// The closest key, if it is close enough to be a typo.
fn suggest(key: &str, keys: &[&'static str]) -> Option<&'static str> {
    let norm = key.to_ascii_lowercase().replace('-', "_");
    keys.iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&norm, k),
                strsim::jaro_winkler(&norm, k),
                *k,
            )
        })
        .filter(|(d, jw, _)| *d <= 2 || *jw >= 0.85)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, k)| k)
}
