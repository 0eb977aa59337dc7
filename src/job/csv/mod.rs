//! CSV/TSV/TXT job files and the ID lists that YAML `files_from:` points at.
//!
//! This module owns the tabular formats:
//!
//! - A header row is required. Column names are compared without case, spaces, `_` or `-`:
//!   `file_id` (also `fileid`, `file id`, `id`), `action`, `folder_id`, `job`. Other columns
//!   are ignored with one warning.
//! - Exception: a `.txt` file whose first line is itself a valid ID is read as a headerless
//!   list of IDs, one a line (the form `cut -d, -f1` or a database export produces).
//! - The delimiter is `,`, `;` or tab, whichever occurs most in the header line (`.tsv`: tab).
//! - UTF-8 with or without BOM; LF, CRLF or CR line ends. Blank lines, lines of empty cells and
//!   lines whose first non-blank character is `#` (outside a quoted field) are skipped.
//! - Every row must have exactly as many fields as the header: a different count nearly always
//!   means an unquoted delimiter inside a value, and guessing which column is which could send
//!   the wrong action to the wrong file.
//! - Errors name the file and the physical line (counting skipped lines and the newlines inside
//!   quoted fields).
//!
//! Layout: this file loads a job file or an ID list; `table` checks the text and understands
//! the header; `reader` splits records and tracks their physical lines; `rows` turns data rows
//! into entries.

mod reader;
mod rows;
mod table;

use sha2::Digest;

use super::*;
use rows::{parse_id, RowBuilder};
use table::{field, Col, Table};

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
pub fn load(path: &Path, opts: &LoadOptions) -> Result<JobFile, JobError> {
    let mut bytes = read_limited(path, MAX_JOB_FILE_BYTES, SIZE_HINT)?;
    let mut hasher = sha2::Sha256::new();
    hasher.update(&bytes);
    let mut table = Table::open(path, &mut bytes)?;
    let layout = &table.layout;
    if layout.file.is_none() && layout.folder.is_none() {
        return Err(table.no_id_column());
    }
    if layout.action.is_none() && opts.default_action.is_none() {
        return Err(JobError::new(
            path,
            Some(layout.header_line.max(1)),
            None,
            "no `action` column: add one or pass --action lock|unlock|protectusers|info|shares",
        ));
    }
    let mut warnings = Vec::new();
    if !layout.ignored.is_empty() {
        warnings.push(ignored_warning(&layout.ignored));
    }
    let mut rows = RowBuilder::new(path, opts.default_action);
    table.for_each_row(|line, rec, layout| rows.push(line, rec, layout))?;
    if rows.entries.is_empty() {
        return Err(JobError::new(
            path,
            None,
            None,
            "no rows: add one line per task below the header, e.g. `101,lock`",
        ));
    }
    Ok(JobFile {
        path: path.to_path_buf(),
        name: stem_name(path),
        settings: Default::default(),
        entries: rows.entries,
        sha256: hex_digest(hasher),
        warnings,
    })
}

/// Reads the file IDs of a YAML `files_from:` file: a CSV with a `file_id` column or (for
/// `.txt`) a headerless list. The YAML job's actions apply to every ID, so `action`, `job` and
/// `folder_id` columns are refused rather than silently ignored. The file's bytes are fed to
/// `hasher` (the YAML job file's SHA-256 covers its `files_from` files).
pub fn load_ids(path: &Path, hasher: &mut sha2::Sha256) -> Result<IdList, JobError> {
    let mut bytes = read_limited(path, MAX_JOB_FILE_BYTES, SIZE_HINT)?;
    hasher.update(&bytes);
    let mut table = Table::open(path, &mut bytes)?;
    let layout = &table.layout;
    let Some(file_col) = layout.file else {
        return Err(table.no_id_column());
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
                    "a `files_from` list holds file IDs only, but this file has a `{}` column; \
                     remove the column, or run this CSV as a job file of its own",
                    col.name()
                ),
            ));
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
    table.for_each_row(|line, rec, _| {
        if ids.len() >= MAX_ENTRIES_PER_FILE {
            return Err(JobError::new(path, Some(line), None, too_many_entries()));
        }
        let id = parse_id(path, line, field(rec, file_col))?;
        ids.push((id, line));
        Ok(())
    })?;
    Ok(IdList { ids, warnings })
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
