//! CSV/TSV/TXT job files and the ID lists that YAML `files_from:` points at.
//!
//! This module owns the tabular formats:
//!
//! - A header row is required. Column names are compared without case, spaces, `_` or `-`:
//!   `file_id` (also `fileid`, `file id`, `id`), `action`, `folder_id`, `job`. Other columns
//!   are ignored with one warning.
//! - Exception: a `.txt` file (or a CSV job on stdin) whose first line holds only IDs is read
//!   as a plain list of IDs with no header: one or several a line, separated by the delimiter
//!   or ASCII spaces (`101, 102, 103`; the form `cut -d, -f1`, a database export or a pasted
//!   list produces). A header names no ID, so a real CSV is never mistaken for a list; a
//!   `.csv` file whose first line is IDs stays an error (a missing header there is more
//!   likely a mistake), with a fix that works.
//! - The delimiter is `,`, `;` or tab, whichever occurs most in the header line (`.tsv`: tab).
//! - UTF-8 with or without BOM; LF, CRLF or CR line ends. Blank lines, lines of empty cells and
//!   lines whose first non-blank character is `#` (outside a quoted field) are skipped.
//! - Every row must have exactly as many fields as the header: a different count nearly always
//!   means an unquoted delimiter inside a value, and guessing which column is which could send
//!   the wrong action to the wrong file.
//! - Errors name the file and the physical line (counting skipped lines and the newlines inside
//!   quoted fields). Every bad row is reported, not just the first; only a header that cannot
//!   be understood stops the reading.
//!
//! Layout: this file loads a job file or an ID list; `table` checks the text and understands
//! the header; `reader` splits records and tracks their physical lines; `rows` turns data rows
//! into entries.

mod reader;
mod rows;
mod table;

use sha2::Digest;

use super::*;
use rows::{list_id, parse_id, RowBuilder};
pub use table::Dialect;
use table::{field, list_tokens, Col, Table};

/// Hint shown when a CSV file is over [`MAX_JOB_FILE_BYTES`].
const SIZE_HINT: &str = "split it into several job files";

/// An ID list read for YAML `files_from:`.
#[derive(Debug)]
pub struct IdList {
    /// File IDs with the 1-based line each was written on, in file order (not deduplicated).
    pub ids: Vec<(FileId, usize)>,
    /// Non-fatal remarks (ignored columns).
    pub warnings: Vec<String>,
}

/// Loads and validates a CSV/TSV/TXT job file: one [`Entry`] (with one action) per row.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<JobFile, JobErrors> {
    let bytes = read_limited(path, MAX_JOB_FILE_BYTES, SIZE_HINT)?;
    parse(path, Dialect::for_path(path), bytes, opts)
}

/// Validates the bytes of a CSV job (a file's, or stdin's); `path` is the name errors use.
pub fn parse(
    path: &Path,
    dialect: Dialect,
    mut bytes: Vec<u8>,
    opts: &LoadOptions,
) -> Result<JobFile, JobErrors> {
    let mut hasher = sha2::Sha256::new();
    hasher.update(&bytes);
    let mut table = Table::open(path, dialect, &mut bytes)?;
    let layout = &table.layout;
    if layout.file.is_none() && layout.folder.is_none() {
        return Err(table.no_id_column().into());
    }
    if layout.action.is_none() && opts.default_action.is_none() {
        return Err(JobError::new(
            path,
            Some(layout.header_line.max(1)),
            None,
            "no `action` column: add one or pass --action lock|unlock|protectusers|info|shares",
        )
        .into());
    }
    let mut warnings = Vec::new();
    if !layout.ignored.is_empty() {
        warnings.push(ignored_warning(&layout.ignored));
    }
    let mut rows = RowBuilder::new(path, opts.default_action);
    let mut errs = JobErrors::new();
    table.for_each_row(&mut errs, |line, rec, layout, errs| {
        rows.push(line, rec, layout, errs)
    });
    if rows.entries.is_empty() && errs.is_empty() {
        errs.push(JobError::new(
            path,
            None,
            None,
            "no rows: add one line per task below the header, e.g. `101,lock`",
        ));
    }
    errs.or_ok(JobFile {
        path: path.to_path_buf(),
        name: stem_name(path),
        settings: Default::default(),
        entries: rows.entries,
        sha256: hex_digest(hasher),
        warnings,
    })
}

/// Reads the file IDs of a YAML `files_from:` file: a CSV with a `file_id` column or (for
/// `.txt`) a plain list. The YAML job's actions apply to every ID, so `action`, `job` and
/// `folder_id` columns are refused rather than silently ignored. The file's bytes are fed to
/// `hasher` (the YAML job file's SHA-256 covers its `files_from` files).
pub fn load_ids(path: &Path, hasher: &mut sha2::Sha256) -> Result<IdList, JobErrors> {
    let mut bytes = read_limited(path, MAX_JOB_FILE_BYTES, SIZE_HINT)?;
    hasher.update(&bytes);
    // Whatever its extension, a `files_from` file can only hold IDs: a first line naming no
    // column starts a plain list, as in a `.txt` job.
    let dialect = Dialect {
        id_lists: true,
        files_from: true,
        ..Dialect::for_path(path)
    };
    let mut table = Table::open(path, dialect, &mut bytes)?;
    let layout = &table.layout;
    let Some(file_col) = layout.file else {
        return Err(table.no_id_column().into());
    };
    for (col, slot) in [
        (Col::Action, layout.action),
        (Col::Job, layout.job),
        (Col::FolderId, layout.folder),
    ] {
        if slot.is_some() {
            return Err(JobError::new(
                path,
                Some(layout.header_line),
                None,
                format!(
                    "a `files_from` list holds file IDs only, but this file has {} `{}` column; \
                     remove the column, or run this CSV as a job file of its own",
                    if col == Col::Action { "an" } else { "a" },
                    col.name()
                ),
            )
            .into());
        }
    }
    let mut warnings = Vec::new();
    if !layout.ignored.is_empty() {
        warnings.push(format!(
            "{}: {}",
            path.display(),
            ignored_warning(&layout.ignored)
        ));
    }
    let mut ids = Vec::new();
    let mut errs = JobErrors::new();
    table.for_each_row(&mut errs, |line, rec, layout, errs| {
        let cells: Vec<&str> = if layout.headerless {
            list_tokens(rec)
        } else {
            vec![field(rec, file_col)]
        };
        for cell in cells {
            if ids.len() >= MAX_ENTRIES_PER_FILE {
                return errs.stop(JobError::new(path, Some(line), None, too_many_entries()));
            }
            let id = if layout.headerless {
                list_id(path, line, cell, true)
            } else {
                parse_id(path, line, cell)
            };
            match id {
                Ok(id) => ids.push((id, line)),
                Err(e) => errs.push(e),
            }
        }
    });
    errs.or_ok(IdList { ids, warnings })
}
/// The one warning for header columns we do not use.
fn ignored_warning(ignored: &[String]) -> String {
    format!(
        "ignored columns: {} (used: file_id, folder_id, action, job)",
        ignored.join(", ")
    )
}

#[cfg(test)]
mod tests;
