//! A job file as a table: the text checked, comment lines masked, the delimiter chosen and the
//! header understood (which column is `file_id`, `folder_id`, `action`, `job`), then every
//! data row handed out after its width is checked. A headerless list of IDs (where the
//! [`Dialect`] allows one) is a table too: every cell of every row holds IDs.

use std::path::Path;

use super::reader::{detect_delimiter, mask_comments, Rows};
use crate::job::{check_text, Action, FileId, JobError, JobErrors};

/// What the file's name (or `--format` for stdin) says about how to read it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dialect {
    /// `.tsv`: the delimiter is a tab, whatever the header holds.
    pub tab: bool,
    /// `.txt`, stdin and `files_from` lists: a first line that names no known column is not
    /// a header but the first line of a plain list of IDs. Not for a `.csv` job file, where
    /// a missing header is more likely a mistake than a list.
    pub id_lists: bool,
    /// A YAML `files_from` list: it holds file IDs only, and its advice says so.
    pub files_from: bool,
}

impl Dialect {
    /// The dialect a file's extension implies.
    pub fn for_path(path: &Path) -> Dialect {
        Dialect {
            tab: has_ext(path, "tsv"),
            id_lists: has_ext(path, "txt"),
            files_from: false,
        }
    }
}

/// The IDs of one line of a plain ID list, in order: every cell's [`id_tokens`] up to a word
/// that starts with `#`, which begins a comment running to the end of the line (a line whose
/// first character is `#` is a comment already; this lets one follow the IDs, `101  # q4`).
pub(super) fn list_tokens(rec: &::csv::ByteRecord) -> Vec<&str> {
    let mut out = Vec::new();
    for cell in rec.iter() {
        let cell = std::str::from_utf8(cell).unwrap_or("");
        let (ids, comment) = uncommented(cell);
        out.extend(id_tokens(ids));
        if comment {
            return out;
        }
    }
    out
}

/// `cell` before its first word that starts with `#`, and whether there was one.
fn uncommented(cell: &str) -> (&str, bool) {
    let mut prev_separates = true;
    for (i, c) in cell.char_indices() {
        if c == '#' && prev_separates {
            return (&cell[..i], true);
        }
        prev_separates = is_list_separator(c);
    }
    (cell, false)
}

/// What separates the IDs of a plain list: ASCII whitespace, `,` and `;`. Only ASCII
/// whitespace: a non-breaking space inside `10 3` must be reported, not turned into two IDs.
fn is_list_separator(c: char) -> bool {
    c.is_ascii_whitespace() || c == ',' || c == ';'
}

/// The IDs in one cell of a plain ID list: its pieces between separators, so that `101 102`
/// and `105;106` are two IDs whatever the file's delimiter, and a connected-storage ID never
/// swallows the IDs after it (`dropbox-337-xyz 101 102` is three). The cell is taken whole
/// only when it is one ID and its pieces are not all IDs: a connected-storage ID with a space
/// in it (`box-12-|My file.docx`).
pub(super) fn id_tokens(cell: &str) -> Vec<&str> {
    let t = cell.trim_matches(|c: char| c.is_ascii_whitespace());
    let pieces: Vec<&str> = t
        .split(is_list_separator)
        .filter(|p| !p.is_empty())
        .collect();
    let whole = pieces.len() > 1
        && FileId::parse(t).is_ok()
        && !pieces.iter().all(|p| FileId::parse(p).is_ok());
    if whole {
        vec![t]
    } else {
        pieces
    }
}

/// The columns we understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Col {
    FileId,
    FolderId,
    Action,
    Job,
}

impl Col {
    /// Every column a header can name: a first line naming none of them is no header.
    const ALL: [Col; 4] = [Col::FileId, Col::FolderId, Col::Action, Col::Job];

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
    /// The paste hint for the first ignored name with an invisible character in it (a second
    /// byte-order mark before `file_id`, a non-breaking space in `file id`).
    ignored_hint: Option<String>,
    /// Line of the header (0 for a headerless list).
    pub(super) header_line: usize,
    /// True when the first line was data: a plain list of IDs, every cell holding IDs.
    pub(super) headerless: bool,
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
    dialect: Dialect,
    delim: u8,
    pub(super) layout: Layout,
    /// The header record, replayed as the first row when the file is headerless.
    first: Option<(usize, ::csv::ByteRecord)>,
    /// A headerless list whose first line holds no valid ID: it may be a header with unknown
    /// names, which the errors for its words should say.
    first_unknown: bool,
    rows: Rows<'a>,
}

impl<'a> Table<'a> {
    /// Checks the bytes are text, masks comment lines, detects the delimiter, reads the header.
    pub(super) fn open(
        path: &'a Path,
        dialect: Dialect,
        bytes: &'a mut [u8],
    ) -> Result<Table<'a>, JobError> {
        let bom = check_text(path, bytes, "CSV")?;
        let start = bytes.len() - bom.len();
        let text = &mut bytes[start..];
        let delim = detect_delimiter(dialect.tab, text);
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
            dialect,
            delim,
            layout: Layout::default(),
            first: None,
            first_unknown: false,
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
                None => {
                    layout.ignored.push(shorten_cell(cell));
                    if layout.ignored_hint.is_none() {
                        layout.ignored_hint = crate::text::paste_hint(cell);
                    }
                }
            }
        }
        let names_a_column = cells.iter().any(|c| classify(c).is_some());
        if !names_a_column && self.dialect.id_lists {
            // No header: a plain list of IDs whose first line is data. Every word on it is
            // then reported as an ID, so a one-line list with one bad ID gets that ID named.
            let tokens = list_tokens(&header);
            self.first_unknown =
                !tokens.is_empty() && tokens.iter().all(|t| FileId::parse(t).is_err());
            layout = Layout {
                file: Some(0),
                headerless: true,
                ..Layout::default()
            };
            self.first = Some((line, header));
        } else if layout.file.is_none() && layout.folder.is_none() {
            self.missing_header(line, &cells)?;
        }
        self.layout = layout;
        Ok(())
    }

    /// For a `.csv` job file whose first line holds data: the fix that works for that line.
    fn missing_header(&self, line: usize, cells: &[String]) -> Result<(), JobError> {
        let tokens: Vec<&str> = cells.iter().flat_map(|c| id_tokens(c)).collect();
        if !tokens.iter().any(|t| FileId::parse(t).is_ok()) {
            return Ok(()); // A header with unknown names: `no_id_column` says so.
        }
        let err = |msg: &str| Err(JobError::new(self.path, Some(line), None, msg));
        if cells.iter().any(|c| Action::parse(c).is_ok()) {
            // `101,lock`: a row of a job file without its header.
            return err(
                "missing header row: the first line holds data; add a first line naming the \
                 columns, e.g. `file_id,action` (or just `file_id` with --action)",
            );
        }
        // `101, 102, 103` or `101, abc`: a header above it would make a one-column file with
        // several-column rows; say what works instead.
        err(
            "missing header row: the first line is a list of IDs; put one ID per line below a \
             first line `file_id` (and pass --action), or save the list as a .txt file, which \
             is read as plain IDs",
        )
    }

    /// The error for a header without `file_id`/`folder_id`.
    pub(super) fn no_id_column(&self) -> JobError {
        let found = self.layout.ignored.join("`, `");
        let folders = if self.dialect.files_from {
            ""
        } else {
            ", or `folder_id` for folders"
        };
        let hint = (self.layout.ignored_hint.as_ref())
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        JobError::new(
            self.path,
            Some(self.layout.header_line.max(1)),
            None,
            format!(
                "no `file_id` column in the header (found `{found}`); name the ID column \
                 `file_id` (or `id`){folders}{hint}"
            ),
        )
    }

    /// The error for the first line of a headerless list when none of its words is an ID.
    fn first_line_unknown(&self, line: usize) -> JobError {
        let names: Vec<&str> = Col::ALL.iter().map(|c| c.name()).collect();
        JobError::new(
            self.path,
            Some(line),
            None,
            format!(
                "this first line has no known column name ({}), so the file is read as a plain \
                 list of IDs; if it is a header, name the ID column `file_id`",
                names.join(", ")
            ),
        )
    }

    /// Calls `f(line, record, layout, errs)` for every non-blank data row whose width is
    /// right; a row of the wrong width is recorded in `errs` and skipped. Stops early only
    /// when `errs` is stopped (a row the csv reader cannot split, too many rows).
    pub(super) fn for_each_row(
        &mut self,
        errs: &mut JobErrors,
        mut f: impl FnMut(usize, &::csv::ByteRecord, &Layout, &mut JobErrors),
    ) {
        if let Some((line, rec)) = self.first.take() {
            f(line, &rec, &self.layout, errs);
            if self.first_unknown {
                errs.push(self.first_line_unknown(line));
            }
        }
        while !errs.stopped() {
            let line = match self.rows.next_nonblank(self.path) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => return errs.stop(e),
            };
            let rec = &self.rows.record;
            // A plain ID list has any number of IDs a line.
            if !self.layout.headerless && rec.len() != self.layout.width {
                errs.push(self.ragged(line, rec.len()));
                continue;
            }
            f(line, rec, &self.layout, errs);
        }
    }

    fn ragged(&self, line: usize, got: usize) -> JobError {
        let d = match self.delim {
            b'\t' => "tab".to_string(),
            b => format!("`{}`", b as char),
        };
        let msg = format!(
            "line {line} has {} but the header (line {}) has {}; check for a \
             missing or extra {d} (quote values that contain one)",
            fields(got),
            self.layout.header_line,
            self.layout.width
        );
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

/// Header cells can be anything; keep warnings short, with invisible characters shown.
fn shorten_cell(cell: &str) -> String {
    crate::text::escaped(cell, crate::text::NAME)
}
