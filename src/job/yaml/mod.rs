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
//! - Every bad ID, action, key and job of a file is reported in one pass (`recover`); only a
//!   YAML syntax error, or a value whose shape is wrong (a mapping where an ID belongs), ends
//!   the parse at the first error.
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
//! `errors` turns serde_norway's messages into advice; `lines` finds each job's line;
//! `recover` lets the parse go on after a bad value.

mod errors;
mod guards;
mod lines;
mod raw;
pub(crate) mod recover;
mod visit;

use std::collections::HashSet;

use sha2::Digest;

use super::*;
use errors::{is_syntax_error, recovered_error, yaml_error};
use guards::{check_flow_depth, ItemBudget};
use lines::JobLines;
use raw::{RawFile, RawJob};

/// Deepest `[`/`{` nesting accepted before parsing (a job file needs 3).
pub const MAX_FLOW_DEPTH: usize = 64;

const SIZE_HINT: &str = "split it, or use CSV (or `files_from:`) for very long lists";

/// Loads and validates a YAML job file.
pub fn load(path: &Path, _opts: &LoadOptions) -> Result<JobFile, JobErrors> {
    let bytes = read_limited(path, MAX_YAML_FILE_BYTES, SIZE_HINT)?;
    parse(path, &bytes, path.parent().unwrap_or(Path::new("")))
}

/// Validates the bytes of a YAML job (a file's, or stdin's); `path` is the name errors use and
/// `base` the directory `files_from:` paths are relative to.
pub fn parse(path: &Path, bytes: &[u8], base: &Path) -> Result<JobFile, JobErrors> {
    if bytes.len() as u64 > MAX_YAML_FILE_BYTES {
        let mib = |n: u64| n / (1024 * 1024);
        return Err(JobError::new(
            path,
            None,
            None,
            format!(
                "the job is {} MiB; the limit for YAML is {} MiB: {SIZE_HINT}",
                mib(bytes.len() as u64),
                mib(MAX_YAML_FILE_BYTES)
            ),
        )
        .into());
    }
    let mut hasher = sha2::Sha256::new();
    hasher.update(bytes);
    let text = check_text(path, bytes, "YAML")?;
    if is_empty_yaml(text) {
        return Err(JobError::new(
            path,
            None,
            None,
            "empty job file: add a `jobs:` list, e.g. `jobs: [{files: [101], actions: [info]}]`",
        )
        .into());
    }
    check_flow_depth(path, text)?;
    let mut errs = JobErrors::new();
    let raw = read_raw(path, text, &mut errs)?;
    let mut lines = JobLines::scan(text);
    let jobs = job_list(path, raw.jobs, &lines, &mut errs);
    if lines.items.len() != jobs.len() {
        // The scan misread the layout (flow style, unusual indentation): trust only the key.
        lines.items.clear();
    }
    let mut warnings = Vec::new();
    let mut files_from = FilesFrom {
        base,
        hasher: &mut hasher,
        warnings: &mut warnings,
    };
    let entries = expand_jobs(path, jobs, &lines, &mut files_from, &mut errs);
    errs.or_ok(JobFile {
        path: path.to_path_buf(),
        name: raw.name.unwrap_or_else(|| stem_name(path)),
        settings: raw.settings.unwrap_or_default(),
        entries,
        sha256: hex_digest(hasher),
        warnings,
    })
}

/// Parses the text, recording every recoverable error in `errs`; `Err` when the parse could
/// not finish (then `errs` is not needed any more: its errors are in the `Err`).
fn read_raw(path: &Path, text: &str, errs: &mut JobErrors) -> Result<RawFile, JobErrors> {
    let _budget = ItemBudget::set(text.len() / 2 + 1024);
    let collecting = recover::Collecting::start();
    let parsed = serde_yaml::from_str::<RawFile>(text);
    let (recovered, count) = collecting.finish();
    match &parsed {
        Err(e) if is_syntax_error(e) => return Err(yaml_error(path, text, e).into()),
        Err(e) => errs.push(yaml_error(path, text, e)),
        Ok(_) => {}
    }
    for m in &recovered {
        errs.push(recovered_error(path, m));
    }
    errs.add_unkept(count - recovered.len());
    parsed.map_err(|_| std::mem::take(errs).sorted())
}

/// The jobs, or an error in `errs` when there are none.
fn job_list(
    path: &Path,
    jobs: Option<Vec<RawJob>>,
    lines: &JobLines,
    errs: &mut JobErrors,
) -> Vec<RawJob> {
    let (line, msg) = match jobs {
        Some(jobs) if !jobs.is_empty() => return jobs,
        None => (
            None,
            "no `jobs:` list: add one, e.g. `jobs: [{files: [101], actions: [info]}]`",
        ),
        Some(_) => (
            lines.key,
            "`jobs` is empty: add at least one job with targets and actions",
        ),
    };
    errs.push(JobError::new(path, line, None, msg));
    Vec::new()
}

/// True when the text holds no YAML content (only blank lines, comments, document markers).
fn is_empty_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// Where `files_from` lists are read: relative to `base`, their bytes hashed with the job's.
struct FilesFrom<'a> {
    base: &'a Path,
    hasher: &'a mut sha2::Sha256,
    warnings: &'a mut Vec<String>,
}

/// Expands the jobs into entries, reading `files_from` lists; every problem (a job without
/// targets or actions, a repeated name, a bad `files_from` list) goes into `errs`.
fn expand_jobs(
    path: &Path,
    jobs: Vec<RawJob>,
    lines: &JobLines,
    from: &mut FilesFrom,
    errs: &mut JobErrors,
) -> Vec<Entry> {
    let mut names = HashSet::new();
    let mut entries = Vec::new();
    for (i, mut job) in jobs.into_iter().enumerate() {
        let line = lines.job(i);
        let err = |msg: String| JobError::new(path, Some(line), None, msg);
        if let Some(problem) = job.problem.take() {
            errs.push(err(format!("job {}: {problem}", i + 1)));
        }
        let name = job.name.clone().unwrap_or_else(|| format!("job-{}", i + 1));
        if !names.insert(name.clone()) {
            errs.push(err(format!(
                "job {} is named `{name}` like an earlier job; job names must be unique",
                i + 1
            )));
        }
        let label = match &job.name {
            Some(n) => format!("job {} (`{n}`)", i + 1),
            None => format!("job {}", i + 1),
        };
        let ids = match &job.files_from {
            Some(rel) => {
                let list = load_files_from(path, &from.base.join(rel), &label, line, from.hasher);
                match list {
                    Ok(list) => {
                        if list.ids.is_empty() && job.files.is_empty() && job.folders.is_empty() {
                            from.warnings.push(format!(
                                "{label}: `files_from` {rel} lists no IDs; the job has nothing to do"
                            ));
                        }
                        from.warnings.extend(list.warnings);
                        list.ids
                    }
                    Err(e) => {
                        errs.extend(e);
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        };
        job.push_entries(Arc::from(name), line, ids, &mut entries);
        if entries.len() > MAX_ENTRIES_PER_FILE {
            errs.stop(err(too_many_entries()));
            break;
        }
    }
    entries
}

/// Reads a `files_from` list; errors keep the list's own file and line, plus where it was named.
fn load_files_from(
    yaml: &Path,
    list: &Path,
    label: &str,
    line: usize,
    hasher: &mut sha2::Sha256,
) -> Result<csv::IdList, JobErrors> {
    csv::load_ids(list, hasher).map_err(|errs| {
        errs.map(|e| {
            e.message = format!(
                "{} (the `files_from` list of {label} in {}:{line})",
                e.message,
                yaml.display()
            );
        })
    })
}

#[cfg(test)]
mod tests;
