//! Job files: the model ([`model`]), the loaders ([`yaml`], [`csv`]) and folder expansion.
//!
//! Everything here runs before the first request (SPEC §3): every job file is parsed and
//! validated completely, and any error names the file, line and (where there is one) column.
//! Loaders produce [`Entry`] values in the order written; the runner's planner turns them into
//! [`Task`]s after folder expansion.

pub mod csv;
pub mod model;
pub mod yaml;

pub use model::*;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::units::{Rate, Shard};

/// A job-file problem, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct JobError {
    /// The job file (as given on the command line, or the `files_from` file).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl JobError {
    /// An error for `file` at an optional line/column.
    pub fn new(
        file: &Path,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        JobError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

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
    /// 1-based line where the target was written (for messages).
    pub line: usize,
}

/// Values from a YAML `settings:` block; every field is optional and the command line wins.
/// Names are those of the flags with `_` for `-` (both spellings are accepted).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// `portal`
    pub portal: Option<String>,
    /// `concurrency`
    pub concurrency: Option<usize>,
    /// `rate`
    pub rate: Option<Rate>,
    /// `burst`
    pub burst: Option<u32>,
    /// `retries`
    pub retries: Option<u32>,
    /// `timeout`
    pub timeout: Option<Duration>,
    /// `report_dir` (relative paths are relative to the current directory, like the flag)
    pub report_dir: Option<PathBuf>,
    /// `max_duration`
    pub max_duration: Option<Duration>,
    /// `max_failures`
    pub max_failures: Option<u64>,
    /// `check_state`
    pub check_state: Option<bool>,
    /// `shard`
    pub shard: Option<Shard>,
    /// `action` (for CSV files without an `action` column)
    pub action: Option<Action>,
    /// `progress`: auto | always | never
    pub progress: Option<String>,
    /// `quiet`
    pub quiet: Option<bool>,
    /// `log_format`: text | json
    pub log_format: Option<String>,
    /// `ca_cert`
    pub ca_cert: Option<PathBuf>,
    /// `allow_http`
    pub allow_http: Option<bool>,
    /// `skip_missing_folders`
    pub skip_missing_folders: Option<bool>,
}

/// One loaded and validated job file.
#[derive(Clone, Debug)]
pub struct JobFile {
    /// Path as given.
    pub path: PathBuf,
    /// Run name: YAML `name:` or the file stem.
    pub name: String,
    /// YAML `settings:` (empty for CSV).
    pub settings: Settings,
    /// Entries in the order written.
    pub entries: Vec<Entry>,
    /// Hex SHA-256 of the file's bytes (and of every `files_from` file, in order), for `--resume`.
    pub sha256: String,
    /// Non-fatal remarks (e.g. "ignored columns: x, y"), shown once.
    pub warnings: Vec<String>,
}

/// Loader inputs that come from the command line.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--action`: the action for CSV/TXT files without an `action` column.
    pub default_action: Option<Action>,
}

/// Largest job file we read (a hostile 100 MB YAML must not exhaust memory or time).
pub const MAX_JOB_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Loads one job file, choosing the loader by extension.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<JobFile, JobError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "yaml" | "yml" => yaml::load(path, opts),
        "csv" | "tsv" | "txt" => csv::load(path, opts),
        _ => Err(JobError::new(
            path,
            None,
            None,
            "unsupported job file type; use .yaml/.yml for YAML or .csv/.tsv/.txt for CSV",
        )),
    }
}

/// Loads every job file; returns all files or every error found (each file is checked).
pub fn load_all(paths: &[PathBuf], opts: &LoadOptions) -> Result<Vec<JobFile>, Vec<JobError>> {
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for p in paths {
        match load_file(p, opts) {
            Ok(f) => ok.push(f),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(ok)
    } else {
        Err(errs)
    }
}
