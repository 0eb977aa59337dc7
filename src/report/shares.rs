//! `shares.csv`: one row per share entry (user, group, link) per `shares` task, and the
//! "External links" section of summary.md: a link reaches people outside the portal, which is
//! what an auditor looks for first.

use std::fmt::Write as _;
use std::io::Write;

use super::cell;
use crate::api::ShareEntry;

/// `shares.csv`, in the report directory.
pub const SHARES: &str = "shares.csv";

/// `shares.csv` header.
pub const SHARES_HEADER: [&str; 12] = [
    "file_id",
    "title",
    "subject_type",
    "subject_id",
    "name",
    "email",
    "access",
    "link_url",
    "expires",
    "password_protected",
    "deny_download",
    "is_owner",
];

/// One row of `shares.csv`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareRow {
    /// The file, as in results.csv.
    pub file_id: String,
    /// The file's title when the run knew it; may be empty.
    pub title: String,
    /// The entry as the portal listed it.
    pub entry: ShareEntry,
}

impl ShareRow {
    /// Writes the row's cells, escaped.
    pub(crate) fn write<W: Write>(&self, w: &mut csv::Writer<W>) -> csv::Result<()> {
        let e = &self.entry;
        let b = |v: bool| if v { "true" } else { "false" };
        w.write_record([
            &*cell(&self.file_id),
            &cell(&self.title),
            &cell(&e.subject_type),
            &cell(&e.subject_id),
            &cell(&e.name),
            &cell(&e.email),
            &cell(&e.access),
            &cell(&e.link_url),
            &cell(&e.expires),
            b(e.password_protected),
            b(e.deny_download),
            b(e.is_owner),
        ])
    }

    /// A link anyone holding the URL can open (not an invitation into the portal).
    pub fn is_external_link(&self) -> bool {
        matches!(
            self.entry.subject_type.as_str(),
            "external_link" | "primary_external_link"
        )
    }
}

/// summary.md's "External links": file, access, expiry, password, download.
pub(super) fn md_external_links(o: &mut String, shares: &[ShareRow], max: usize) {
    let links: Vec<&ShareRow> = shares.iter().filter(|s| s.is_external_link()).collect();
    if links.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n## External links ({})\n\n| file | title | access | expires | password | download |\n|---|---|---|---|---|---|",
        links.len()
    );
    let md = super::summary::md;
    for s in links.iter().take(max) {
        let e = &s.entry;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            md(&s.file_id),
            md(&s.title),
            md(&e.access),
            md(if e.expires.is_empty() {
                "never"
            } else {
                &e.expires
            }),
            if e.password_protected { "yes" } else { "no" },
            if e.deny_download { "denied" } else { "allowed" },
        );
    }
}
