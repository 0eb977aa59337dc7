//! The three ways `diff` prints its rows: an aligned table for a person, CSV (the report
//! files' escaping, so a title like `=cmd()` stays text in a spreadsheet) and JSON for
//! scripts.

use std::io;

use super::Change;
use crate::report::cell;
use crate::text;

/// The CSV header, in column order.
pub const HEADER: [&str; 5] = ["file_id", "title", "what", "before", "after"];

/// Longest title and value a table cell shows; the CSV and JSON forms carry them whole.
const TITLE_WIDTH: usize = 40;
const VALUE_WIDTH: usize = 50;

/// The rows as CSV with [`HEADER`]; every cell escaped against formula injection.
pub fn csv(rows: &[Change]) -> io::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).map_err(io::Error::other)?;
    for r in rows {
        w.write_record([
            &*cell(&r.file_id),
            &cell(&r.title),
            r.what.as_str(),
            &cell(&r.before),
            &cell(&r.after),
        ])
        .map_err(io::Error::other)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    String::from_utf8(bytes).map_err(io::Error::other)
}

/// The rows as a JSON array of objects with the [`HEADER`] keys, text as the portal sent it.
pub fn json(rows: &[Change]) -> String {
    let mut s = serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// The rows as an aligned table, control characters stripped and long cells cut, with a
/// closing count; "no differences" when there are none.
pub fn table(rows: &[Change]) -> String {
    if rows.is_empty() {
        return "no differences\n".into();
    }
    let shown = |s: &str, max: usize| match text::printable(s, max) {
        t if t.is_empty() => "-".to_string(),
        t => t,
    };
    let mut lines: Vec<[String; 5]> = vec![HEADER.map(String::from)];
    lines.extend(rows.iter().map(|r| {
        [
            text::printable(&r.file_id, text::URL),
            shown(&r.title, TITLE_WIDTH),
            r.what.as_str().to_string(),
            shown(&r.before, VALUE_WIDTH),
            shown(&r.after, VALUE_WIDTH),
        ]
    }));
    let mut widths = [0usize; 5];
    for l in &lines {
        for (w, c) in widths.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for l in &lines {
        let mut line = String::new();
        for (i, (c, w)) in l.iter().zip(widths).enumerate() {
            line.push_str(c);
            if i + 1 < l.len() {
                line.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let files = rows
        .iter()
        .map(|r| &r.file_id)
        .collect::<std::collections::HashSet<_>>()
        .len();
    out.push_str(&format!(
        "\n{} in {}\n",
        text::count(rows.len() as u64, "difference"),
        text::count(files as u64, "file")
    ));
    out
}
