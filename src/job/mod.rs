//! Job files: the model ([`model`]), the loaders ([`yaml`], [`csv`]) and the JSON Schema of
//! YAML job files ([`schema()`]).
//!
//! Everything here runs before the first request: every job file is parsed and validated
//! completely, and any error names the file, line and (where there is one) column. Loaders
//! produce [`Entry`] values in the order written; folders are expanded later, by the runner's
//! planner (`runner::plan`), which turns the entries into [`Task`]s.

pub mod csv;
mod errors;
pub mod model;
pub mod schema;
mod source;
pub mod yaml;

pub use errors::{JobError, JobErrors, MAX_ERRORS_SHOWN};
pub use model::*;
pub use schema::{schema, schema_text};
pub use source::{is_stdin, load_stdin, read_stdin, sniff, Format, STDIN_NAME};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an entry points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One file.
    File(FileId),
    /// Every file below this folder or room, recursively (expanded before the first write).
    Folder(FileId),
}

/// One target with the actions to run on it, as written in a job file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Job name (YAML `name:` / CSV `job` column / default `job-N` or the file stem).
    pub job: Arc<str>,
    /// The job's failure policy.
    pub on_failure: OnFailure,
    /// File or folder.
    pub target: Target,
    /// Actions in the order written (shared between entries of one YAML job).
    pub actions: Arc<[Action]>,
    /// 1-based line where the target was written (for messages): the row of a CSV file; for
    /// YAML, the line of the job's `- ` item (the `jobs:` line for flow-style lists).
    pub line: usize,
}

/// One loaded and validated job file.
#[derive(Clone, Debug)]
pub struct JobFile {
    /// Path as given.
    pub path: PathBuf,
    /// Run name: YAML `name:` or the file stem.
    pub name: String,
    /// YAML `settings:` (empty for CSV).
    pub settings: crate::config::PartialSettings,
    /// Entries in the order written.
    pub entries: Vec<Entry>,
    /// Hex SHA-256 of the file's bytes (and of every `files_from` file, in order), for `--resume`.
    pub sha256: String,
    /// Non-fatal remarks (e.g. "ignored columns: x, y"), shown once.
    pub warnings: Vec<String>,
}

impl JobFile {
    /// Whether a target is a folder (expanding it needs the portal, even in a dry run).
    pub fn has_folders(&self) -> bool {
        self.entries.iter().any(Entry::is_folder)
    }
}

impl Entry {
    /// Whether the target is a folder (expanded at run time).
    pub fn is_folder(&self) -> bool {
        matches!(self.target, Target::Folder(_))
    }
}

/// Loader inputs that come from the command line.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--action`: the action for CSV/TXT files without an `action` column.
    pub default_action: Option<Action>,
}

/// Largest CSV/TSV/TXT job or `files_from` file we read (a hostile file must not exhaust memory).
/// 256 MiB holds several million rows.
pub const MAX_JOB_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Largest YAML job file we read. Far lower than for CSV: the YAML parser turns the whole
/// document into events before anything is checked, and its cost grows faster than linearly
/// (measured in release mode on a list of one-digit IDs: 4 MiB took 1.3 s and 320 MB, 16 MiB took
/// 16 s and 1.2 GB). 4 MiB still holds ~400 000 IDs; longer lists belong in a `files_from` CSV.
pub const MAX_YAML_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Most entries one job file may produce (an [`Entry`] is ~72 bytes, so this bounds memory
/// at a few hundred MiB; a tiny-row CSV at the byte limit would otherwise need gigabytes).
pub const MAX_ENTRIES_PER_FILE: usize = 5_000_000;

/// The message for a file over [`MAX_ENTRIES_PER_FILE`].
pub(crate) fn too_many_entries() -> String {
    format!(
        "more than {MAX_ENTRIES_PER_FILE} targets/rows in one job file; split it into several \
         job files (they can run one after another, or in parallel with --shard)"
    )
}

/// Longest job name (YAML `name:` of a job, CSV `job` cell), in characters.
pub const MAX_JOB_NAME_CHARS: usize = 100;

/// Longest run name (YAML top-level `name:`), in bytes; it becomes part of a directory name.
pub const MAX_RUN_NAME_BYTES: usize = 64;

/// Loads one job file, choosing the loader by extension. Every problem of the file is in the
/// error, not just the first.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<JobFile, JobErrors> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    if path.is_dir() {
        return Err(JobError::new(
            path,
            None,
            None,
            "is a directory; give the job file itself (YAML or CSV), or `-` for stdin",
        )
        .into());
    }
    let (loaded, read_as) = match ext.as_str() {
        "yaml" | "yml" => (yaml::load(path, opts), Format::Yaml),
        "csv" | "tsv" | "txt" => (csv::load(path, opts), Format::Csv),
        _ => return Err(JobError::new(path, None, None, unsupported_type(&ext)).into()),
    };
    loaded.map_err(|e| {
        match file_head(path).and_then(|h| source::mismatch(path, read_as, &h, false)) {
            Some(hint) => e.lead(hint),
            None => e,
        }
    })
}

/// The first 4 KiB of a job file, to see what it looks like after it failed to load; `None`
/// when it is not a regular file (a FIFO would block) or cannot be read (the load's own
/// error says why).
fn file_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    Some(head)
}

/// The message for a file whose extension names no job format; a spreadsheet gets told how
/// to turn it into one.
fn unsupported_type(ext: &str) -> String {
    const FORMATS: &str = "use .yaml/.yml for YAML or .csv/.tsv/.txt for CSV";
    match ext {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" | "fods" | "numbers" => {
            format!("unsupported job file type `.{ext}`: {SAVE_AS_CSV}")
        }
        "" => format!("unsupported job file type (no extension); {FORMATS}, or `-` for stdin"),
        _ => format!(
            "unsupported job file type `.{}`; {FORMATS}, or `-` for stdin",
            crate::text::shown(ext)
        ),
    }
}

/// How to turn a spreadsheet into a job file.
const SAVE_AS_CSV: &str = "a spreadsheet cannot be read directly; save it as CSV (UTF-8) from \
     your spreadsheet program (File > Save As or Export, format \"CSV UTF-8\") and pass the .csv file";

/// The kind of spreadsheet `bytes` start like, by its magic number: a zip container (xlsx,
/// ods, numbers) or an OLE compound file (xls). Such a file renamed to `.csv` or piped to `-`
/// would otherwise be called binary, with advice (save it as UTF-8 text) that does not say how.
fn spreadsheet_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"PK\x03\x04") {
        Some("a zip file such as an .xlsx or .ods spreadsheet")
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some("an .xls spreadsheet")
    } else {
        None
    }
}

/// Reads a whole job file, refusing non-regular files (a FIFO would block forever) and files
/// above `limit` bytes before reading them (checked again while reading, in case the file grows).
pub(crate) fn read_limited(path: &Path, limit: u64, hint: &str) -> Result<Vec<u8>, JobError> {
    use std::io::Read;
    let io_err = |e: std::io::Error| JobError::new(path, None, None, format!("cannot read: {e}"));
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if !meta.is_file() {
        return Err(JobError::new(path, None, None, "not a regular file"));
    }
    let too_big = |n: u64| {
        JobError::new(
            path,
            None,
            None,
            format!(
                "file is {} MiB; the limit is {} MiB: {hint}",
                n / (1024 * 1024),
                limit / (1024 * 1024)
            ),
        )
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut buf).map_err(io_err)?;
    if buf.len() as u64 > limit {
        return Err(too_big(buf.len() as u64));
    }
    Ok(buf)
}

/// 1-based physical line of byte `offset` in `text`. Line breaks are LF, CRLF or a lone CR.
pub(crate) fn line_at(text: &[u8], offset: usize) -> usize {
    1 + count_breaks(&text[..offset.min(text.len())])
}

/// Number of line breaks in `bytes` (LF, CRLF counted once, lone CR).
pub(crate) fn count_breaks(bytes: &[u8]) -> usize {
    let lf = bytes.iter().filter(|&&b| b == b'\n').count();
    // A CR followed by LF is already counted; a lone CR (classic Mac) is a break of its own.
    let lone_cr = bytes
        .windows(2)
        .filter(|w| w[0] == b'\r' && w[1] != b'\n')
        .count()
        + usize::from(bytes.last() == Some(&b'\r'));
    lf + lone_cr
}

/// Rejects bytes that cannot be a text job file: NUL bytes (binary, UTF-16) and invalid UTF-8,
/// naming the line. Returns the text without a UTF-8 byte-order mark.
pub(crate) fn check_text<'a>(
    path: &Path,
    bytes: &'a [u8],
    kind: &str,
) -> Result<&'a str, JobError> {
    if let Some(sheet) = spreadsheet_kind(bytes) {
        return Err(JobError::new(
            path,
            None,
            None,
            format!("this is {sheet}, not a text {kind} file: {SAVE_AS_CSV}"),
        ));
    }
    if bytes.len() >= 12 && bytes[..12].eq_ignore_ascii_case(br"\xef\xbb\xbf") {
        // What `printf '\xef\xbb\xbf...'` writes in a shell whose printf has no `\x` (dash,
        // the usual /bin/sh): twelve characters of text, not a byte-order mark.
        return Err(JobError::new(
            path,
            Some(1),
            None,
            "the job starts with the text `\\xef\\xbb\\xbf` (12 characters), not a byte-order \
             mark: this printf wrote the `\\x` escapes as they are (the printf of dash and \
             other /bin/sh does); drop them (a job needs no byte-order mark) or use bash's printf",
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(JobError::new(
            path,
            Some(1),
            None,
            format!("this {kind} file is UTF-16; save it as UTF-8"),
        ));
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(JobError::new(
            path,
            Some(line_at(bytes, pos)),
            None,
            format!(
                "this does not look like a text {kind} file (NUL byte at line {}); save it as UTF-8 text",
                line_at(bytes, pos)
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = line_at(bytes, e.valid_up_to());
        JobError::new(
            path,
            Some(line),
            None,
            format!("invalid UTF-8 at line {line}; save the file as UTF-8"),
        )
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Checks a job name (YAML job `name:`, CSV `job` cell): it appears in reports and messages.
pub(crate) fn check_job_name(raw: &str) -> Result<&str, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("the job name is empty".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the job name `{}` contains a control character",
            crate::text::escaped(name, crate::text::NAME)
        ));
    }
    let n = name.chars().count();
    if n > MAX_JOB_NAME_CHARS {
        return Err(format!(
            "the job name is {n} characters long; the limit is {MAX_JOB_NAME_CHARS}"
        ));
    }
    Ok(name)
}

/// Checks an explicit run name (YAML top-level `name:`). It becomes part of the report
/// directory `reports/<name>-<timestamp>`, so it is rejected (not rewritten) unless it is a
/// plain file name: letters, digits, `.`, `_`, `-`, not starting with `.`.
pub(crate) fn check_run_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() {
        return Err("the run name is empty; remove `name:` to use the file name".into());
    }
    if name.len() > MAX_RUN_NAME_BYTES {
        return Err(format!(
            "the run name is {} bytes long; the limit is {MAX_RUN_NAME_BYTES}",
            name.len()
        ));
    }
    if name.starts_with('.') || !name.chars().all(ok_char) {
        let shown = crate::text::escaped(name, crate::text::NAME);
        let hint = crate::text::paste_hint(name)
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        return Err(format!(
            "the run name `{shown}` is used in a directory name: use only letters, digits, `.`, `_` and `-`, not starting with `.`{hint}"
        ));
    }
    Ok(name.to_string())
}

/// The default run name: the file's stem, sanitised for use in a directory name (characters
/// other than ASCII letters, digits, `.`, `_`, `-` become `_`; a leading `.` is dropped).
pub(crate) fn stem_name(path: &Path) -> String {
    if path == Path::new(STDIN_NAME) {
        return "stdin".into();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.');
    let mut out: String = clean.chars().take(MAX_RUN_NAME_BYTES).collect();
    if out.is_empty() {
        out.push_str("job");
    }
    out
}

/// Hex SHA-256 of everything fed to `hasher`.
pub(crate) fn hex_digest(hasher: sha2::Sha256) -> String {
    use sha2::Digest;
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// The list of hostile files and their messages is the table in tests/hostile/README.md, read
// by the same code as the integration test.
#[cfg(test)]
#[path = "../../tests/it/hostile_table.rs"]
mod hostile_table;

#[cfg(test)]
mod tests {
    use super::hostile_table::{hostile_dir, hostile_table};
    use super::*;

    #[test]
    fn hostile_files_are_rejected() {
        for (name, fragment) in &hostile_table() {
            let path = hostile_dir().join(name);
            let t = std::time::Instant::now();
            let err = match load_file(&path, &LoadOptions::default()) {
                Ok(_) => panic!("{name} was accepted"),
                Err(e) => e,
            };
            assert!(!err.is_empty(), "{name}: an error without a message");
            let text = err.to_string();
            assert!(
                text.contains(fragment),
                "{name}: {text:?} lacks {fragment:?}"
            );
            let stem = Path::new(name)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("");
            let named =
                text.contains(name) || name.starts_with("files-from") && text.contains(stem);
            assert!(named, "{name}: the message does not name the file: {text}");
            assert!(text.len() < 1000, "{name}: message too long");
            assert!(t.elapsed().as_secs() < 5, "{name}: took {:?}", t.elapsed());
        }
    }
}
