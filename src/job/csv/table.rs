//! A job file as a table: the text checked, comment lines masked, the delimiter chosen and the
//! header understood (which column is `file_id`, `folder_id`, `action`, `job`), then every
//! data row handed out after its width is checked.

use std::path::Path;

use super::reader::{detect_delimiter, mask_comments, Rows};
use crate::job::{check_text, FileId, JobError};

/// The columns we understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Col {
    FileId,
    FolderId,
    Action,
    Job,
}

impl Col {
    pub(super) fn name(self) -> &'static str {
        match self {
            Col::FileId => "file_id",
            Col::FolderId => "folder_id",
            Col::Action => "action",
            Col::Job => "job",
        }
    }
}

/// Maps a header cell to a known column (case-, space-, `_`- and `-`-insensitive).
fn classify(cell: &str) -> Option<Col> {
    let norm: String = cell
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\t'))
        .flat_map(char::to_lowercase)
        .collect();
    match norm.as_str() {
        "fileid" | "id" => Some(Col::FileId),
        "folderid" => Some(Col::FolderId),
        "action" => Some(Col::Action),
        "job" => Some(Col::Job),
        _ => None,
    }
}

/// Where the known columns are.
#[derive(Debug, Default)]
pub(super) struct Layout {
    /// Fields per row (header width).
    width: usize,
    pub(super) file: Option<usize>,
    pub(super) folder: Option<usize>,
    pub(super) action: Option<usize>,
    pub(super) job: Option<usize>,
    /// Names of the columns we ignore (for the one warning).
    pub(super) ignored: Vec<String>,
    /// Line of the header (0 for a headerless list).
    pub(super) header_line: usize,
    /// True when the first line was data (headerless `.txt`).
    headerless: bool,
}

impl Layout {
    fn slot(&mut self, col: Col) -> &mut Option<usize> {
        match col {
            Col::FileId => &mut self.file,
            Col::FolderId => &mut self.folder,
            Col::Action => &mut self.action,
            Col::Job => &mut self.job,
        }
    }
}

/// A checked, comment-masked file with its header understood.
pub(super) struct Table<'a> {
    path: &'a Path,
    delim: u8,
    pub(super) layout: Layout,
    /// The header record, replayed as the first row when the file is headerless.
    first: Option<(usize, ::csv::ByteRecord)>,
    rows: Rows<'a>,
}

impl<'a> Table<'a> {
    /// Checks the bytes are text, masks comment lines, detects the delimiter, reads the header.
    pub(super) fn open(path: &'a Path, bytes: &'a mut [u8]) -> Result<Table<'a>, JobError> {
        let bom = check_text(path, bytes, "CSV")?;
        let start = bytes.len() - bom.len();
        let text = &mut bytes[start..];
        let delim = detect_delimiter(path, text);
        mask_comments(text, delim);
        let mut rows = Rows::new(text, delim);
        let Some(line) = rows.next_nonblank(path)? else {
            return Err(JobError::new(
                path,
                None,
                None,
                "empty CSV file: add a header row such as `file_id,action`, then one row per task",
            ));
        };
        let header = rows.record.clone();
        let mut table = Table {
            path,
            delim,
            layout: Layout::default(),
            first: None,
            rows,
        };
        table.read_header(line, header)?;
        Ok(table)
    }

    fn read_header(&mut self, line: usize, header: ::csv::ByteRecord) -> Result<(), JobError> {
        let cells: Vec<String> = header
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect();
        let mut layout = Layout {
            width: cells.len(),
            header_line: line,
            ..Layout::default()
        };
        for (i, cell) in cells.iter().enumerate() {
            match classify(cell) {
                Some(col) => {
                    let slot = layout.slot(col);
                    if slot.is_some() {
                        return Err(JobError::new(
                            self.path,
                            Some(line),
                            None,
                            format!("the header has two `{}` columns; keep one", col.name()),
                        ));
                    }
                    *slot = Some(i);
                }
                // Unnamed columns (a trailing delimiter) are not worth a warning.
                None if cell.is_empty() => {}
                None => layout.ignored.push(shorten_cell(cell)),
            }
        }
        if layout.file.is_none() && layout.folder.is_none() {
            let looks_like_data = cells.iter().any(|c| FileId::parse(c).is_ok());
            let is_txt = has_ext(self.path, "txt");
            if looks_like_data && is_txt && cells.len() == 1 {
                // Headerless ID list: the first line is data.
                layout = Layout {
                    width: 1,
                    file: Some(0),
                    headerless: true,
                    ..Layout::default()
                };
                self.first = Some((line, header));
            } else if looks_like_data {
                return Err(JobError::new(
                    self.path,
                    Some(line),
                    None,
                    "missing header row: the first line holds data; add a first line naming the \
                     columns, e.g. `file_id,action` (or just `file_id` with --action)",
                ));
            }
        }
        self.layout = layout;
        Ok(())
    }

    /// The error for a header without `file_id`/`folder_id`.
    pub(super) fn no_id_column(&self) -> JobError {
        let found = self.layout.ignored.join("`, `");
        JobError::new(
            self.path,
            Some(self.layout.header_line.max(1)),
            None,
            format!(
                "no `file_id` column in the header (found `{found}`); name the ID column \
                 `file_id` (or `id`), or `folder_id` for folders"
            ),
        )
    }

    /// Calls `f(line, record, layout)` for every non-blank data row, after checking its width.
    pub(super) fn for_each_row(
        &mut self,
        mut f: impl FnMut(usize, &::csv::ByteRecord, &Layout) -> Result<(), JobError>,
    ) -> Result<(), JobError> {
        if let Some((line, rec)) = self.first.take() {
            f(line, &rec, &self.layout)?;
        }
        while let Some(line) = self.rows.next_nonblank(self.path)? {
            let rec = &self.rows.record;
            if rec.len() != self.layout.width {
                return Err(self.ragged(line, rec.len()));
            }
            f(line, rec, &self.layout)?;
        }
        Ok(())
    }

    fn ragged(&self, line: usize, got: usize) -> JobError {
        let d = match self.delim {
            b'\t' => "tab".to_string(),
            b => format!("`{}`", b as char),
        };
        let msg = if self.layout.headerless {
            format!(
                "line {line} has {got} fields; a headerless ID list has one ID per line (no {d})"
            )
        } else {
            format!(
                "line {line} has {} but the header (line {}) has {}; check for a \
                 missing or extra {d} (quote values that contain one)",
                fields(got),
                self.layout.header_line,
                self.layout.width
            )
        };
        JobError::new(self.path, Some(line), None, msg)
    }
}

/// "1 field", "3 fields".
fn fields(n: usize) -> String {
    if n == 1 {
        "1 field".to_string()
    } else {
        format!("{n} fields")
    }
}

/// A cell as text. The whole file was checked to be UTF-8 and cells split at ASCII bytes, so
/// this cannot fail; an empty string is the harmless fallback.
pub(super) fn field(rec: &::csv::ByteRecord, i: usize) -> &str {
    rec.get(i)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

pub(super) fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Header cells can be anything; keep warnings short and printable.
fn shorten_cell(cell: &str) -> String {
    crate::text::printable(cell, crate::text::NAME)
}
