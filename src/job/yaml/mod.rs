//! YAML job files: parsing, validation and expansion into [`Entry`] values.
//!
//! This module owns the YAML format. Parsing goes through serde (`serde_norway`) with
//! `deny_unknown_fields` and custom visitors for IDs, actions and settings, so every value error
//! carries the line and column of the offending element; the messages serde produces are then
//! rewritten for people ("unknown key `acton` in job 1; did you mean `actions`?").
//!
//! Decisions:
//! - An explicit top-level `name:` must be a plain file name (letters, digits, `.`, `_`, `-`);
//!   it is rejected, not rewritten, because it names the report directory. The default (the
//!   file's stem) is sanitised instead.
//! - Job names must be unique within a file (they key `skip_rest` and the reports).
//! - [`Entry::line`] of a YAML entry is the line of its job's `- ` item (found by scanning the
//!   text; serde_norway does not expose positions of values that parsed fine).
//! - Hostile input: files over [`MAX_YAML_FILE_BYTES`] are refused before reading; flow
//!   nesting (`[[[[`, `{a: {a: ...`) deeper than [`MAX_FLOW_DEPTH`] is refused before parsing,
//!   because libyaml's time grows quadratically with it; serde_norway limits recursion (128)
//!   and alias jumps (repetition limit), which stops the classic nested "billion laughs";
//!   on top, the number of list items and jobs deserialized is capped at what a file of this
//!   size could hold written out (`ItemBudget`), which stops flat amplification such as
//!   thousands of jobs each saying `files: *big_list`.
//!
//! Layout: this file loads a file and expands its jobs (reading `files_from` lists through
//! [`super::csv`]); `raw` holds the top-level and job structs as written and their checks;
//! `visit` the serde visitors (scalars, IDs, actions, lists);
//! the `settings:` block is [`crate::config::PartialSettings`]; `guards` the hostile-input limits that run before and during parsing;
//! `errors` turns serde_norway's messages into advice; `lines` finds each job's line.

mod errors;
mod guards;
mod lines;
mod raw;
mod visit;

use std::collections::HashSet;

use sha2::Digest;

use super::*;
use errors::yaml_error;
use guards::{check_flow_depth, ItemBudget};
use lines::JobLines;
use raw::{RawFile, RawJob};

/// Deepest `[`/`{` nesting accepted before parsing (a job file needs 3).
pub const MAX_FLOW_DEPTH: usize = 64;

const SIZE_HINT: &str = "split it, or use CSV (or `files_from:`) for very long lists";

/// Loads and validates a YAML job file.
pub fn load(path: &Path, _opts: &LoadOptions) -> Result<JobFile, JobError> {
    let bytes = read_limited(path, MAX_YAML_FILE_BYTES, SIZE_HINT)?;
    let mut hasher = sha2::Sha256::new();
    hasher.update(&bytes);
    let text = check_text(path, &bytes, "YAML")?;
    if is_empty_yaml(text) {
        return Err(JobError::new(
            path,
            None,
            None,
            "empty job file: add a `jobs:` list, e.g. `jobs: [{files: [101], actions: [info]}]`",
        ));
    }
    check_flow_depth(path, text)?;
    let _budget = ItemBudget::set(text.len() / 2 + 1024);
    let raw: RawFile = serde_yaml::from_str(text).map_err(|e| yaml_error(path, text, &e))?;
    let mut lines = JobLines::scan(text);
    let jobs = match raw.jobs {
        None => {
            return Err(JobError::new(
                path,
                None,
                None,
                "no `jobs:` list: add one, e.g. `jobs: [{files: [101], actions: [info]}]`",
            ))
        }
        Some(jobs) if jobs.is_empty() => {
            return Err(JobError::new(
                path,
                lines.key,
                None,
                "`jobs` is empty: add at least one job with targets and actions",
            ))
        }
        Some(jobs) => jobs,
    };
    if lines.items.len() != jobs.len() {
        // The scan misread the layout (flow style, unusual indentation): trust only the key.
        lines.items.clear();
    }
    let mut warnings = Vec::new();
    let entries = expand_jobs(path, jobs, &lines, &mut hasher, &mut warnings)?;
    Ok(JobFile {
        path: path.to_path_buf(),
        name: raw.name.unwrap_or_else(|| stem_name(path)),
        settings: raw.settings.unwrap_or_default(),
        entries,
        sha256: hex_digest(hasher),
        warnings,
    })
}

/// True when the text holds no YAML content (only blank lines, comments, document markers).
fn is_empty_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// Expands the jobs into entries, reading `files_from` lists (relative to the YAML file).
fn expand_jobs(
    path: &Path,
    jobs: Vec<RawJob>,
    lines: &JobLines,
    hasher: &mut sha2::Sha256,
    warnings: &mut Vec<String>,
) -> Result<Vec<Entry>, JobError> {
    let base = path.parent().unwrap_or(Path::new(""));
    let mut names = HashSet::new();
    let mut entries = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let line = lines.job(i);
        let name = job.name.clone().unwrap_or_else(|| format!("job-{}", i + 1));
        if !names.insert(name.clone()) {
            return Err(JobError::new(
                path,
                Some(line),
                None,
                format!(
                    "job {} is named `{name}` like an earlier job; job names must be unique",
                    i + 1
                ),
            ));
        }
        let label = match &job.name {
            Some(n) => format!("job {} (`{n}`)", i + 1),
            None => format!("job {}", i + 1),
        };
        let from = match &job.files_from {
            Some(rel) => {
                let list = load_files_from(path, &base.join(rel), &label, line, hasher)?;
                if list.ids.is_empty() && job.files.is_empty() && job.folders.is_empty() {
                    warnings.push(format!(
                        "{label}: `files_from` {rel} lists no IDs; the job has nothing to do"
                    ));
                }
                warnings.extend(list.warnings);
                list.ids
            }
            None => Vec::new(),
        };
        job.push_entries(Arc::from(name), line, from, &mut entries);
        if entries.len() > MAX_ENTRIES_PER_FILE {
            return Err(JobError::new(path, Some(line), None, too_many_entries()));
        }
    }
    Ok(entries)
}

/// Reads a `files_from` list; errors keep the list's own file and line, plus where it was named.
fn load_files_from(
    yaml: &Path,
    list: &Path,
    label: &str,
    line: usize,
    hasher: &mut sha2::Sha256,
) -> Result<csv::IdList, JobError> {
    csv::load_ids(list, hasher).map_err(|mut e| {
        e.message = format!(
            "{} (the `files_from` list of {label} in {}:{line})",
            e.message,
            yaml.display()
        );
        e
    })
}

#[cfg(test)]
mod tests;
