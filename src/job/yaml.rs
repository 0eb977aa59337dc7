//! YAML job files (SPEC §3 "YAML"): parsing, validation and expansion into [`Entry`] values.
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

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::Digest;

use super::*;
use crate::config::PartialSettings;

/// Deepest `[`/`{` nesting accepted before parsing (a job file needs 3).
pub const MAX_FLOW_DEPTH: usize = 64;

const SIZE_HINT: &str = "split it, or use CSV (or `files_from:`) for very long lists";

const FILE_KEYS: &[&str] = &["name", "settings", "jobs"];
const JOB_KEYS: &[&str] = &[
    "name",
    "files",
    "folders",
    "files_from",
    "actions",
    "on_failure",
];

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

/// Refuses flow nesting deeper than [`MAX_FLOW_DEPTH`]. Brackets inside quoted strings and
/// comments are counted too; that can only over-count, and no sane job file comes close.
fn check_flow_depth(path: &Path, text: &str) -> Result<(), JobError> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    let line = line_at(text.as_bytes(), i);
                    return Err(JobError::new(
                        path,
                        Some(line),
                        None,
                        format!(
                            "`[`/`{{` nested more than {MAX_FLOW_DEPTH} levels deep; a job file needs at most 3"
                        ),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
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

/// The parsed top level.
#[derive(serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a job file: a mapping with `jobs:` (and optionally `name:` and `settings:`)"
)]
struct RawFile {
    #[serde(default, deserialize_with = "de_run_name")]
    name: Option<String>,
    #[serde(default)]
    settings: Option<PartialSettings>,
    #[serde(default)]
    jobs: Option<Vec<RawJob>>,
}

/// One job as written, already validated (see [`RawJob::check`]).
#[derive(serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a job: a mapping with `files`, `folders` or `files_from`, and `actions`"
)]
struct JobFields {
    #[serde(default, deserialize_with = "de_job_name")]
    name: Option<String>,
    #[serde(default, deserialize_with = "de_files")]
    files: Option<Vec<YamlId>>,
    #[serde(default, deserialize_with = "de_folders")]
    folders: Option<Vec<YamlId>>,
    #[serde(default, alias = "files-from", deserialize_with = "de_files_from")]
    files_from: Option<String>,
    #[serde(default, deserialize_with = "de_actions")]
    actions: Option<Vec<YamlAction>>,
    #[serde(default, alias = "on-failure", deserialize_with = "de_on_failure")]
    on_failure: Option<OnFailure>,
}

/// A validated job.
struct RawJob {
    name: Option<String>,
    files: Vec<FileId>,
    folders: Vec<FileId>,
    files_from: Option<String>,
    actions: Vec<Action>,
    on_failure: OnFailure,
}

impl RawJob {
    /// Checks what a single job needs (SPEC §3): a target and an action.
    fn check(f: JobFields) -> Result<RawJob, String> {
        // serde_norway prefixes the position ("job 2: ..."); add the name when there is one.
        let label = match &f.name {
            Some(n) => format!("`{n}`"),
            None => "the job".to_string(),
        };
        let unwrap = |v: Option<Vec<YamlId>>| v.unwrap_or_default().into_iter().map(|i| i.0);
        let files: Vec<FileId> = unwrap(f.files).collect();
        let folders: Vec<FileId> = unwrap(f.folders).collect();
        if files.is_empty() && folders.is_empty() && f.files_from.is_none() {
            return Err(format!(
                "{label} has no targets: add `files: [...]`, `folders: [...]` or `files_from: list.csv`"
            ));
        }
        let actions: Vec<Action> = f
            .actions
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.0)
            .collect();
        if actions.is_empty() {
            return Err(format!(
                "{label} has no actions: add e.g. `actions: [info]` (lock, unlock, protectusers, info)"
            ));
        }
        Ok(RawJob {
            name: f.name,
            files,
            folders,
            files_from: f.files_from,
            actions,
            on_failure: f.on_failure.unwrap_or_default(),
        })
    }

    /// Appends this job's entries: files, then `files_from` IDs, then folders, each target once.
    fn push_entries(
        self,
        job: Arc<str>,
        line: usize,
        from: Vec<(FileId, usize)>,
        out: &mut Vec<Entry>,
    ) {
        let mut actions = self.actions;
        actions.dedup(); // only consecutive duplicates collapse (SPEC §3)
        let actions: Arc<[Action]> = Arc::from(actions);
        let files = self
            .files
            .into_iter()
            .chain(from.into_iter().map(|(id, _)| id));
        let targets = dedup(files)
            .map(Target::File)
            .chain(dedup(self.folders.into_iter()).map(Target::Folder));
        for target in targets {
            out.push(Entry {
                job: job.clone(),
                on_failure: self.on_failure,
                target,
                actions: actions.clone(),
                line,
            });
        }
    }
}

/// Drops repeated IDs, keeping the first occurrence.
fn dedup(ids: impl Iterator<Item = FileId>) -> impl Iterator<Item = FileId> {
    let mut seen = HashSet::new();
    ids.filter(move |id| seen.insert(id.clone()))
}

impl<'de> Deserialize<'de> for RawJob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawJob;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a job: a mapping with `files`, `folders` or `files_from`, and `actions`",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawJob, A::Error> {
                ItemBudget::spend()?;
                let fields = JobFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                // Checked here, inside the mapping, so serde_norway marks the job's position.
                RawJob::check(fields).map_err(de::Error::custom)
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar values: any YAML scalar is turned into text and handed to a parser, inside the
// visitor, so a parse error is marked with the value's position.

type ParseFn<T> = fn(&str) -> Result<T, String>;

struct Scalar<T> {
    what: &'static str,
    parse: ParseFn<T>,
}

impl<'de, T> Visitor<'de> for Scalar<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.what)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<T>, E> {
        (self.parse)(v).map(Some).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Option<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Option<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<T>, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<T>, E> {
        self.visit_str(if v { "true" } else { "false" })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Err(E::custom(format!(
            "no value given; write {} or remove the key",
            self.what
        )))
    }
}

fn scalar<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &'static str,
    parse: ParseFn<T>,
) -> Result<Option<T>, D::Error> {
    d.deserialize_any(Scalar { what, parse })
}

fn non_empty(s: &str, key: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.chars().any(char::is_control) {
        return Err(format!(
            "`{key}` must be a non-empty text without control characters"
        ));
    }
    Ok(t.to_string())
}

fn de_run_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(d, "a run name like `q4-audit`", check_run_name)
}
fn de_job_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(d, "a job name like `finance`", |s| {
        check_job_name(s).map(str::to_string)
    })
}
fn de_files_from<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(
        d,
        "a CSV/TXT file of IDs, like `files_from: finance.csv`",
        |s| {
            let path = non_empty(s, "files_from")?;
            let ext = Path::new(&path)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("csv" | "tsv" | "txt") => Ok(path),
                _ => Err(format!(
                    "`files_from: {}` must name a .csv, .tsv or .txt list of file IDs",
                    shown(&path)
                )),
            }
        },
    )
}
fn de_on_failure<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OnFailure>, D::Error> {
    scalar(d, "`skip_rest` or `continue`", |s| {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "skip_rest" => Ok(OnFailure::SkipRest),
            "continue" => Ok(OnFailure::Continue),
            _ => Err(format!(
                "unknown on_failure `{}`; use `skip_rest` (the default) or `continue`",
                shown(s)
            )),
        }
    })
}

/// A value for a message: printable and short (a hostile value can be a megabyte).
fn shown(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if s.chars().count() > 60 {
        format!("{clean}...")
    } else {
        clean
    }
}

// ---------------------------------------------------------------------------------------------
// Alias amplification guard.

thread_local! {
    /// List items and jobs that may still be deserialized on this thread (see [`ItemBudget`]).
    static ITEMS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Caps the list items and jobs one parse may produce. A written-out item takes at least two
/// bytes (`1,`), so a budget of half the file size never bites a file without aliases, while
/// `*alias` references that multiply a long list run out of it quickly. Deserialization is
/// synchronous, so a thread-local is enough; the guard lifts the cap when dropped.
struct ItemBudget;

impl ItemBudget {
    fn set(items: usize) -> ItemBudget {
        ITEMS_LEFT.with(|c| c.set(items));
        ItemBudget
    }

    fn spend<E: de::Error>() -> Result<(), E> {
        ITEMS_LEFT.with(|c| match c.get() {
            0 => Err(E::custom(
                "more list items than this file could hold written out: `*alias` references \
                 multiply lists (a YAML alias bomb?); write the values out or use `files_from:`",
            )),
            n => {
                c.set(n - 1);
                Ok(())
            }
        })
    }
}

impl Drop for ItemBudget {
    fn drop(&mut self) {
        ITEMS_LEFT.with(|c| c.set(usize::MAX));
    }
}

// ---------------------------------------------------------------------------------------------
// Lists of IDs and actions.

/// A file or folder ID as a YAML scalar: an integer or a string.
struct YamlId(FileId);

impl<'de> Deserialize<'de> for YamlId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

const ID_FORMS: &str =
    "IDs are whole numbers 1..=2147483647 or connected-storage IDs like \"dropbox-337-xyz\"";

impl IdVisitor {
    fn parse<E: de::Error>(s: &str) -> Result<YamlId, E> {
        FileId::parse(s)
            .map(YamlId)
            .map_err(|e| E::custom(format!("invalid file ID: {e}")))
    }
    fn not_an_id<E: de::Error>(v: impl fmt::Display, kind: &str) -> Result<YamlId, E> {
        Err(E::custom(format!(
            "invalid file ID `{v}`: {kind}; {ID_FORMS}"
        )))
    }
}

impl<'de> Visitor<'de> for IdVisitor {
    type Value = YamlId;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a file ID (a number like 101 or a string like \"dropbox-337-xyz\")")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlId, E> {
        Self::parse(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlId, E> {
        Self::parse(&v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<YamlId, E> {
        Self::parse(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlId, E> {
        if v < 0 {
            return Self::not_an_id(v, "IDs are not negative");
        }
        Self::parse(&v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<YamlId, E> {
        if v < 0 {
            return Self::not_an_id(v, "IDs are not negative");
        }
        Self::parse(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<YamlId, E> {
        Self::not_an_id(v, "not a whole number")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlId, E> {
        Self::not_an_id(v, "a boolean is not an ID")
    }
    fn visit_unit<E: de::Error>(self) -> Result<YamlId, E> {
        Err(E::custom(
            "empty file ID (null): remove the empty item or write the ID",
        ))
    }
}

/// An action name as a YAML string.
struct YamlAction(Action);

impl<'de> Deserialize<'de> for YamlAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = YamlAction;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an action: lock, unlock, protectusers or info")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlAction, E> {
                Action::parse(v).map(YamlAction).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<YamlAction, E> {
                Err(E::custom("empty action (null): remove the empty item or write lock, unlock, protectusers or info"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML list under `key`; a scalar there gets a "write `key: [value]`" hint.
struct ListOf<T> {
    key: &'static str,
    example: &'static str,
    item: PhantomData<T>,
}

impl<T> ListOf<T> {
    fn not_a_list<E: de::Error>(&self, v: impl fmt::Display) -> Result<Option<Vec<T>>, E> {
        let v = shown(&v.to_string());
        Err(E::custom(format!(
            "`{}` must be a list: write `{}: [{v}]`",
            self.key, self.key
        )))
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListOf<T> {
    type Value = Option<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list, like `{}`", self.example)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Do not trust a size hint for the capacity: the input may be hostile.
        let mut out = Vec::new();
        loop {
            ItemBudget::spend()?;
            match seq.next_element()? {
                Some(item) => out.push(item),
                None => break,
            }
        }
        Ok(Some(out))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "`{}` has no value: write a list like `{}`, or remove the key",
            self.key, self.example
        )))
    }
}

fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    key: &'static str,
    example: &'static str,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_any(ListOf {
        key,
        example,
        item: PhantomData,
    })
}

fn de_files<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlId>>, D::Error> {
    list(d, "files", "files: [101, 102]")
}
fn de_folders<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlId>>, D::Error> {
    list(d, "folders", "folders: [5001]")
}
fn de_actions<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlAction>>, D::Error> {
    list(d, "actions", "actions: [info, lock]")
}

// ---------------------------------------------------------------------------------------------
// Error messages.

/// Turns a serde_norway error into a [`JobError`] with a message for people.
fn yaml_error(path: &Path, text: &str, e: &serde_yaml::Error) -> JobError {
    let loc = e.location();
    let mut msg = e.to_string();
    if let Some(l) = &loc {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        if let Some(p) = msg.find(&suffix) {
            msg.replace_range(p..p + suffix.len(), "");
        }
    }
    let (context, body) = split_path(&msg);
    let line = loc.as_ref().map(|l| l.line());
    let column = loc.as_ref().map(|l| l.column());
    let line = line
        .or_else(|| second_document_line(text).filter(|_| body.contains("more than one document")));
    JobError::new(path, line, column, explain(context, body))
}

/// Drops libyaml's " at line N column M" parts (the location is reported separately).
fn strip_positions(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(p) = rest.find(" at line ") {
        out.push_str(&rest[..p]);
        let after = &rest[p + " at line ".len()..];
        let skip = after
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || "column".contains(c)))
            .unwrap_or(after.len());
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// The line of the `---` that starts a second YAML document (serde_norway gives none).
fn second_document_line(text: &str) -> Option<usize> {
    let mut content = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_end();
        if (t == "---" || t.starts_with("--- ")) && content {
            return Some(i + 1);
        }
        if !t.is_empty() && !t.starts_with('#') && !t.starts_with("---") && !t.starts_with('%') {
            content = true;
        }
    }
    None
}

/// Splits serde_norway's `jobs[0].files[2]: message` into the path and the message.
fn split_path(msg: &str) -> (&str, &str) {
    if let Some((head, tail)) = msg.split_once(": ") {
        let is_path = !head.is_empty()
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'));
        if is_path {
            return (head, tail);
        }
    }
    ("", msg)
}

/// `jobs[1].files[2]` → "job 2, `files` item 3".
fn human_path(path: &str) -> String {
    path.split('.')
        .filter(|s| !s.is_empty())
        .map(|seg| match seg.split_once('[') {
            Some((key, idx)) => {
                let n = idx
                    .trim_end_matches(']')
                    .parse::<usize>()
                    .map_or(0, |n| n + 1);
                if key == "jobs" {
                    format!("job {n}")
                } else {
                    format!("`{key}` item {n}")
                }
            }
            None => format!("`{seg}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rewrites serde's wording into advice.
fn explain(context: &str, body: &str) -> String {
    if let Some(rest) = body.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        return unknown_key(context, key);
    }
    let body = if let Some(rest) = body.strip_prefix("duplicate field `") {
        let key = rest.split('`').next().unwrap_or("");
        format!("`{key}` is given twice; keep one")
    } else if body == "recursion limit exceeded" {
        "nested too deeply (the limit is 128 levels); a job file needs 4".to_string()
    } else if body == "repetition limit exceeded" {
        "too many alias expansions (`*name`), as in a YAML \"billion laughs\" bomb; write the values out instead".to_string()
    } else if body == "unknown anchor" {
        "alias (`*name`) without a matching anchor (`&name`)".to_string()
    } else if body.contains("more than one document") {
        "more than one YAML document (`---`); put every job into one `jobs:` list".to_string()
    } else if body.contains("while scanning") || body.contains("while parsing") {
        // libyaml's syntax errors; its positions are already in the JobError.
        let body = strip_positions(body);
        format!("YAML syntax error: {body} (check the indentation, which must use spaces, and brackets/quotes)")
    } else {
        body.to_string()
    };
    if context.is_empty() {
        body
    } else {
        format!("{}: {body}", human_path(context))
    }
}

/// "unknown key `acton` in job 1; did you mean `actions`? expected one of: ..."
fn unknown_key(context: &str, key: &str) -> String {
    let last = context.rsplit('.').next().unwrap_or("");
    let (place, keys) = if last.starts_with("jobs[") {
        (format!("in {}", human_path(context)), JOB_KEYS)
    } else if last == "settings" {
        ("in `settings`".to_string(), PartialSettings::KEYS)
    } else {
        ("at the top level".to_string(), FILE_KEYS)
    };
    let key = shown(key);
    let mut msg = format!("unknown key `{key}` {place}");
    let norm = key.to_ascii_lowercase().replace('-', "_");
    // A valid key in the wrong place is more likely than a typo.
    if !std::ptr::eq(keys, PartialSettings::KEYS) && PartialSettings::KEYS.contains(&norm.as_str())
    {
        msg.push_str("; settings such as this belong under `settings:`");
    } else if std::ptr::eq(keys, FILE_KEYS) && JOB_KEYS.contains(&norm.as_str()) {
        msg.push_str("; this belongs inside a job under `jobs:`");
    } else if let Some(best) = suggest(&norm, keys) {
        msg.push_str(&format!(
            "; did you mean `{best}`? expected one of: {}",
            keys.join(", ")
        ));
        return msg;
    }
    msg.push_str(&format!("; expected one of: {}", keys.join(", ")));
    msg
}

/// The closest key, if it is close enough to be a typo.
fn suggest(key: &str, keys: &[&'static str]) -> Option<&'static str> {
    let norm = key.to_ascii_lowercase().replace('-', "_");
    keys.iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&norm, k),
                strsim::jaro_winkler(&norm, k),
                *k,
            )
        })
        .filter(|(d, jw, _)| *d <= 2 || *jw >= 0.85)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, k)| k)
}

// ---------------------------------------------------------------------------------------------
// Job lines.

/// Lines of the `jobs:` key and of each job's `- ` item, found by scanning the text (block
/// style only; flow-style lists leave only the key known).
#[derive(Debug, Default)]
struct JobLines {
    key: Option<usize>,
    items: Vec<usize>,
}

impl JobLines {
    fn scan(text: &str) -> JobLines {
        let mut out = JobLines::default();
        let mut item_indent: Option<usize> = None;
        for (i, line) in text.lines().enumerate() {
            let body = line.trim_start_matches(' ');
            let indent = line.len() - body.len();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if out.key.is_none() {
                if indent == 0 && is_jobs_key(body) {
                    out.key = Some(i + 1);
                }
                continue;
            }
            let is_item = body == "-" || body.starts_with("- ");
            match item_indent {
                None if is_item => {
                    item_indent = Some(indent);
                    out.items.push(i + 1);
                }
                Some(ind) if is_item && indent == ind => out.items.push(i + 1),
                Some(ind) if indent > ind => {}
                _ => break,
            }
        }
        out
    }

    /// The line of job `i` (0-based), or the `jobs:` line, or 1.
    fn job(&self, i: usize) -> usize {
        self.items.get(i).copied().or(self.key).unwrap_or(1)
    }
}

fn is_jobs_key(body: &str) -> bool {
    let rest = body
        .strip_prefix("jobs")
        .or_else(|| body.strip_prefix("\"jobs\""))
        .or_else(|| body.strip_prefix("'jobs'"));
    rest.is_some_and(|r| r.trim_start().starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Rate, Shard};
    use std::time::Duration;

    fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn try_load(body: &str) -> Result<JobFile, JobError> {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "q4.yaml", body);
        load(&p, &LoadOptions::default())
    }

    fn err(body: &str) -> JobError {
        try_load(body).expect_err("should fail")
    }

    /// Asserts the error is located and its text holds every fragment.
    fn assert_err(body: &str, line: usize, fragments: &[&str]) {
        let e = err(body);
        let text = e.to_string();
        assert!(text.contains("q4.yaml"), "{text}");
        assert_eq!(e.line, Some(line), "{text}");
        for f in fragments {
            assert!(text.contains(f), "missing {f:?} in: {text}");
        }
    }

    fn targets(jf: &JobFile) -> Vec<String> {
        jf.entries
            .iter()
            .map(|e| match &e.target {
                Target::File(id) => format!("{}:{id}", e.job),
                Target::Folder(id) => format!("{}:folder:{id}", e.job),
            })
            .collect()
    }

    const EXAMPLE: &str = "\
name: q4-audit
settings:
  concurrency: 8
  rate: 20/s
  timeout: 45
  max-duration: 1h
  check_state: false
  shard: 2/4
  action: LOCK
  progress: Never
  log-format: json
jobs:
  - name: finance
    files: [101, 102, \"dropbox-337-L9Cd0L7QstGL0Lkg\", '0101']
    folders: [5001]
    actions: [info, lock, lock, protectusers, lock]
    on_failure: continue
  - files:
      - 201
    actions: [Unlock]
";

    #[test]
    fn happy_path() {
        let jf = try_load(EXAMPLE).unwrap();
        assert_eq!(jf.name, "q4-audit");
        assert_eq!(
            targets(&jf),
            [
                "finance:101",
                "finance:102",
                "finance:dropbox-337-L9Cd0L7QstGL0Lkg",
                "finance:folder:5001",
                "job-2:201"
            ]
        );
        let e = &jf.entries[0];
        assert_eq!(
            &*e.actions,
            [
                Action::Info,
                Action::Lock,
                Action::ProtectUsers,
                Action::Lock
            ]
        );
        assert_eq!(e.on_failure, OnFailure::Continue);
        assert_eq!(e.line, 13);
        assert!(Arc::ptr_eq(&jf.entries[0].actions, &jf.entries[3].actions));
        assert_eq!(jf.entries[4].line, 18);
        assert_eq!(jf.entries[4].on_failure, OnFailure::SkipRest);
        assert_eq!(&*jf.entries[4].actions, [Action::Unlock]);
        let s = &jf.settings;
        assert_eq!(s.concurrency, Some(8));
        assert_eq!(s.rate, Some(Rate::PerSecond(20.0)));
        assert_eq!(s.timeout, Some(Duration::from_secs(45)));
        assert_eq!(s.max_duration, Some(Duration::from_secs(3600)));
        assert_eq!(s.check_state, Some(false));
        assert_eq!(s.shard, Some(Shard { k: 2, n: 4 }));
        assert_eq!(s.action, Some(Action::Lock));
        assert_eq!(s.progress, Some(crate::config::ProgressMode::Never));
        assert_eq!(s.log_format, Some(crate::config::LogFormat::Json));
        assert_eq!(s.portal, None);
        assert_eq!(jf.sha256.len(), 64);
    }

    #[test]
    fn crlf_and_bom_load_the_same() {
        let plain = try_load(EXAMPLE).unwrap();
        let crlf = try_load(&format!("\u{feff}{}", EXAMPLE.replace('\n', "\r\n"))).unwrap();
        assert_eq!(plain.entries, crlf.entries);
        assert_eq!(plain.settings, crlf.settings);
        assert_ne!(plain.sha256, crlf.sha256, "the hash is over the bytes");
    }

    #[test]
    fn default_name_is_the_sanitised_stem() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "my audit (v2).yml",
            "jobs: [{files: [1], actions: [info]}]",
        );
        let jf = load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(jf.name, "my_audit__v2_");
        assert_eq!(jf.entries[0].line, 1, "flow style: the `jobs:` line");
        assert_err(
            "name: ../etc\njobs: [{files: [1], actions: [info]}]\n",
            1,
            &["directory name"],
        );
    }

    #[test]
    fn files_from_is_relative_to_the_yaml_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lists")).unwrap();
        write(&dir, "lists/fin.csv", "file_id\n102\n103\n101\n");
        let yaml = "jobs:\n  - files: [101, 102, 101]\n    files_from: lists/fin.csv\n    folders: [7, 7]\n    actions: [lock]\n";
        let p = write(&dir, "job.yaml", yaml);
        let jf = load(&p, &LoadOptions::default()).unwrap();
        assert_eq!(
            targets(&jf),
            ["job-1:101", "job-1:102", "job-1:103", "job-1:folder:7"]
        );
        // The hash covers the list too.
        let before = jf.sha256;
        write(&dir, "lists/fin.csv", "file_id\n102\n103\n104\n");
        let after = load(&p, &LoadOptions::default()).unwrap().sha256;
        assert_ne!(before, after);
        // Errors in the list name the list's file and line, and where it was named.
        write(&dir, "lists/fin.csv", "file_id\n102\nabc\n");
        let e = load(&p, &LoadOptions::default()).unwrap_err();
        assert!(e.file.ends_with("lists/fin.csv"), "{e}");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("job.yaml:2"), "{e}");
        std::fs::remove_file(dir.path().join("lists/fin.csv")).unwrap();
        let e = load(&p, &LoadOptions::default()).unwrap_err();
        assert!(e.message.contains("cannot read"), "{e}");
    }

    #[test]
    fn unknown_keys_suggest() {
        assert_err(
            "jobs:\n  - files: [1]\n    acton: [lock]\n",
            3,
            &[
                "unknown key `acton` in job 1",
                "did you mean `actions`?",
                "expected one of: name, files, folders, files_from, actions, on_failure",
            ],
        );
        assert_err(
            "settings:\n  concurency: 3\njobs: [{files: [1], actions: [info]}]\n",
            2,
            &[
                "unknown key `concurency` in `settings`",
                "did you mean `concurrency`?",
            ],
        );
        assert_err(
            "job:\n  - files: [1]\n",
            1,
            &["unknown key `job` at the top level", "did you mean `jobs`?"],
        );
        assert_err(
            "jobs:\n  - files: [1]\n    actions: [info]\n    rate: 5/s\n",
            4,
            &["belong under `settings:`"],
        );
    }

    #[test]
    fn wrong_types_are_explained() {
        assert_err(
            "jobs:\n  - files: 5\n    actions: [info]\n",
            2,
            &["job 1, `files`", "must be a list: write `files: [5]`"],
        );
        assert_err(
            "jobs:\n  - files: [1]\n    actions: lock\n",
            3,
            &["write `actions: [lock]`"],
        );
        assert_err(
            "jobs:\n  - files:\n    actions: [info]\n",
            2,
            &["`files` has no value"],
        );
        assert_err(
            "jobs:\n  - files: [1, 1.5]\n    actions: [info]\n",
            2,
            &["`files` item 2", "`1.5`", "not a whole number"],
        );
        assert_err(
            "jobs:\n  - files: [true]\n    actions: [info]\n",
            2,
            &["`true`"],
        );
        assert_err(
            "jobs:\n  - files: [-5]\n    actions: [info]\n",
            2,
            &["`-5`", "negative"],
        );
        assert_err("jobs:\n  - files: [~]\n    actions: [info]\n", 2, &["null"]);
        assert_err(
            "jobs:\n  - files: [99999999999999999999]\n    actions: [info]\n",
            2,
            &["larger than the largest"],
        );
        assert_err(
            "jobs:\n  - files: [\"12/../people\"]\n    actions: [info]\n",
            2,
            &["invalid file ID"],
        );
        assert_err(
            "jobs:\n  - files: [1]\n    actions: [lcok]\n",
            3,
            &["did you mean `lock`"],
        );
        assert_err("jobs:\n  - 101\n", 2, &["expected a job"]);
        assert_err(
            "settings:\n  concurrency: 0\njobs: [{files: [1], actions: [info]}]\n",
            2,
            &["from 1 to 1000"],
        );
        assert_err(
            "settings:\n  rate: 20\njobs: [{files: [1], actions: [info]}]\n",
            2,
            &["invalid rate `20`"],
        );
        assert_err(
            "settings:\n  progress: sometimes\njobs: [{files: [1], actions: [info]}]\n",
            2,
            &["auto, always, never"],
        );
        assert_err(
            "jobs:\n  - files: [1]\n    actions: [info]\n    on_failure: stop\n",
            4,
            &["`skip_rest`"],
        );
        assert_err(
            "jobs:\n  - files: [1]\n    files: [2]\n",
            2,
            &["given twice"],
        );
        assert_err(
            "settings:\n  timeout: 0s\njobs: [{files: [1], actions: [info]}]\n",
            2,
            &["greater than zero"],
        );
        assert_err(
            "jobs:\n  - files_from: other.yaml\n    actions: [info]\n",
            2,
            &["must name a .csv, .tsv or .txt"],
        );
        assert_err(
            "settings:\n  max-duratoin: 1h\njobs: [{files: [1], actions: [info]}]\n",
            2,
            &["did you mean `max_duration`?"],
        );
    }

    #[test]
    fn structure_errors() {
        for body in ["", "\n\n# nothing\n", "---\n"] {
            let e = err(body);
            assert!(e.message.contains("empty job file"), "{e}");
        }
        assert_err("jobs: []\n", 1, &["`jobs` is empty"]);
        assert!(err("name: x\n").message.contains("no `jobs:` list"));
        assert_err(
            "jobs:\n  - name: a\n    files: [1]\n    actions: [info]\n  - name: b\n    actions: [info]\n",
            5,
            &["job 2: `b` has no targets"],
        );
        assert_err(
            "jobs:\n  - files: [1]\n    actions: []\n",
            2,
            &["job 1: the job has no actions"],
        );
        assert_err(
            "jobs:\n  - name: a\n    files: [1]\n    actions: [info]\n  - name: a\n    files: [2]\n    actions: [info]\n",
            5,
            &["unique"],
        );
        assert_err("jobs: [\n", 2, &["did not find expected node content"]);
        assert_err(
            "jobs: [{files: [1], actions: [info]}]\n---\njobs: []\n",
            2,
            &["more than one YAML document"],
        );
    }

    #[test]
    fn hostile_inputs_fail_fast() {
        let t = std::time::Instant::now();
        let mut bomb = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 9].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        bomb.push_str("jobs:\n  - files: *i\n    actions: [info]\n");
        let e = err(&bomb);
        assert!(
            e.message.contains("unknown key `a`") || e.message.contains("alias"),
            "{e}"
        );
        let bomb2 = bomb.replace("a: &a", "x: &a");
        let bomb2 = format!(
            "jobs:\n  - files: [1]\n    actions: [info]\nname: n\n{}",
            &bomb2
        );
        let _ = try_load(&bomb2).expect_err("must fail");
        let e = err(&"[".repeat(100_000));
        assert!(e.message.contains("nested more than 64"), "{e}");
        let e = err(&"{a: ".repeat(100_000));
        assert!(e.message.contains("nested more than 64"), "{e}");
        // Deep block nesting: serde rejects the type at the first level, libyaml is linear.
        let e = err(&format!("jobs:\n{}", "- ".repeat(100_000)));
        assert!(e.message.contains("expected a job"), "{e}");
        let e = err("jobs:\n  - files: [1]\n\0");
        assert!(e.message.contains("NUL byte at line 3"), "{e}");
        let e = try_load("jobs:\n  - files: [\u{1}]\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.yaml");
        std::fs::write(&p, b"jobs:\n  - name: \xff\n").unwrap();
        let e = load(&p, &LoadOptions::default()).unwrap_err();
        assert!(e.message.contains("invalid UTF-8 at line 2"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn alias_bomb_in_a_job_hits_the_repetition_limit() {
        let mut y = String::from(
            "jobs:\n  - name: n\n    actions: [info]\n    files: &a [1,1,1,1,1,1,1,1,1,1]\n",
        );
        let mut prev = "a".to_string();
        for i in 0..9 {
            let name = format!("b{i}");
            let refs = vec![format!("*{prev}"); 10].join(",");
            y.push_str(&format!(
                "  - name: {name}\n    actions: [info]\n    folders: &{name} [{refs}]\n"
            ));
            prev = name;
        }
        let t = std::time::Instant::now();
        let e = err(&y);
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            e.message.contains("alias") || e.message.contains("invalid type"),
            "{e}"
        );
    }

    #[test]
    fn refuses_huge_files_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.yaml");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(100 * 1024 * 1024).unwrap();
        let e = load(&p, &LoadOptions::default()).unwrap_err();
        assert!(e.message.contains("use CSV"), "{e}");
    }

    /// Every single-byte corruption of a valid file loads or fails cleanly: no panic, no hang.
    #[test]
    fn corrupted_files_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fuzz.yaml");
        let base = EXAMPLE.as_bytes();
        for i in 0..base.len() {
            // Two of the four corruptions per position keep the debug-mode test quick.
            for b in [b':', b'[', b'*', b'\t'].into_iter().skip(i % 2).step_by(2) {
                let mut body = base.to_vec();
                body[i] = b;
                std::fs::write(&p, &body).unwrap();
                let _ = load(&p, &LoadOptions::default());
            }
        }
        for odd in [
            "jobs:\n  - 1: x\n",
            "jobs:\n  - ? [a]\n    : b\n",
            "jobs:\n  - files: !!binary aGVsbG8=\n    actions: [info]\n",
            "jobs:\n  - files: !custom [1]\n    actions: [info]\n",
            "jobs:\n  - files: [1]\n    actions: [info]\n    <<: {name: x}\n",
            "jobs: !!str x\n",
            "&a jobs: *a\n",
            "jobs: &a [*a]\n",
            "%YAML 1.2\n---\njobs: [{files: [1], actions: [info]}]\n",
            "jobs:\n  - {files: [1], actions: [info], name: 'a\\u0000b'}\n",
            "jobs:\n  - {files: [\"box-1-\\u0007\"], actions: [info]}\n",
            "jobs:\n  - {files: [1e400], actions: [info]}\n",
            "jobs:\n  - {files: [.nan, .inf], actions: [info]}\n",
            "jobs:\n  - {files: [0x10, 0o7, 0b1], actions: [info]}\n",
        ] {
            std::fs::write(&p, odd).unwrap();
            let _ = load(&p, &LoadOptions::default());
        }
    }

    /// Memory/time at the size limit: run with
    /// `cargo test --release --lib -- --ignored yaml_at_the_size_limit`.
    #[test]
    #[ignore = "a release-mode benchmark"]
    fn yaml_at_the_size_limit() {
        let mut body = String::from("jobs:\n  - actions: [info]\n    files: [");
        while body.len() < MAX_YAML_FILE_BYTES as usize - 100 {
            body.push_str("1,");
        }
        body.push_str("1]\n");
        let t = std::time::Instant::now();
        let jf = try_load(&body).unwrap();
        eprintln!("{} MiB YAML in {:?}", body.len() >> 20, t.elapsed());
        assert_eq!(jf.entries.len(), 1);
    }
}
