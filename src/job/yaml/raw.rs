//! The top level and the jobs of a YAML file as written, with the per-field parsers and the
//! checks a single job must pass (a target and an action). A job's mapping is read key by key
//! rather than by serde's derive, so that an unknown key or a bad value is recorded and the
//! rest of the job is still read (see `recover`); `super::expand_jobs` reports the checks and
//! turns the result into entries.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::errors::JOB_KEYS;
use super::guards::ItemBudget;
use super::recover::{fail, recovered, Recover};
use super::visit::{list, non_empty, scalar, shown, YamlAction, YamlId};
use crate::config::PartialSettings;
use crate::job::*;

/// The parsed top level.
#[derive(serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a job file: a mapping with `jobs:` (and optionally `name:` and `settings:`)"
)]
pub(super) struct RawFile {
    #[serde(default, deserialize_with = "de_run_name")]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) settings: Option<PartialSettings>,
    #[serde(default)]
    pub(super) jobs: Option<Vec<RawJob>>,
}

/// The keys of a job.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum JobKey {
    Name,
    Files,
    Folders,
    FilesFrom,
    Actions,
    OnFailure,
}

impl<'de> Deserialize<'de> for JobKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JobKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a job key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JobKey, E> {
                Ok(match v {
                    "name" => JobKey::Name,
                    "files" => JobKey::Files,
                    "folders" => JobKey::Folders,
                    "files_from" | "files-from" => JobKey::FilesFrom,
                    "actions" => JobKey::Actions,
                    "on_failure" | "on-failure" => JobKey::OnFailure,
                    // serde's wording, which `errors::explain` turns into a "did you mean".
                    _ => return Err(fail(E::unknown_field(v, JOB_KEYS))),
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// One field's value, read with its parser; `None` inside when it was absent or null.
macro_rules! field {
    ($name:ident, $t:ty, $parse:ident) => {
        struct $name(Option<$t>);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $parse(d).map($name)
            }
        }
    };
}
field!(NameField, String, de_job_name);
field!(FilesField, Vec<YamlId>, de_files);
field!(FoldersField, Vec<YamlId<true>>, de_folders);
field!(FilesFromField, String, de_files_from);
field!(ActionsField, Vec<YamlAction>, de_actions);
field!(OnFailureField, OnFailure, de_on_failure);

/// A job as written; keys that had an error count as given, so a job whose only
/// `files` item is bad is not also told it has no targets.
#[derive(Default)]
struct JobFields {
    name: Option<String>,
    files: Vec<FileId>,
    folders: Vec<FileId>,
    files_from: Option<String>,
    actions: Vec<Action>,
    on_failure: Option<OnFailure>,
    /// Keys seen (to refuse a key given twice) and keys whose value had an error.
    seen: HashSet<JobKey>,
    failed: HashSet<JobKey>,
    /// An unknown key: most likely a misspelt one, so the completeness checks are left out.
    unknown_key: bool,
}

/// A job, read and (as far as it could be) validated.
pub(super) struct RawJob {
    pub(super) name: Option<String>,
    pub(super) files: Vec<FileId>,
    pub(super) folders: Vec<FileId>,
    pub(super) files_from: Option<String>,
    actions: Vec<Action>,
    on_failure: OnFailure,
    /// What a job must have and this one lacks (a target, an action), for `expand_jobs` to
    /// report at the job's line.
    pub(super) problem: Option<String>,
}

impl RawJob {
    /// Checks what a single job needs: a target and an action.
    fn check(f: JobFields) -> RawJob {
        let label = match &f.name {
            Some(n) => format!("`{n}`"),
            None => "the job".to_string(),
        };
        let has = |k: JobKey| f.failed.contains(&k);
        let no_targets = f.files.is_empty()
            && f.folders.is_empty()
            && f.files_from.is_none()
            && ![JobKey::Files, JobKey::Folders, JobKey::FilesFrom]
                .into_iter()
                .any(has);
        let problem = if f.unknown_key {
            None
        } else if no_targets {
            Some(format!(
                "{label} has no targets: add `files: [...]`, `folders: [...]` or `files_from: list.csv`"
            ))
        } else if f.actions.is_empty() && !has(JobKey::Actions) {
            Some(format!(
                "{label} has no actions: add e.g. `actions: [info]` (lock, unlock, protectusers, info, shares)"
            ))
        } else {
            None
        };
        RawJob {
            name: f.name,
            files: f.files,
            folders: f.folders,
            files_from: f.files_from,
            actions: f.actions,
            on_failure: f.on_failure.unwrap_or_default(),
            problem,
        }
    }
    /// Appends this job's entries: files, then `files_from` IDs, then folders, each target once.
    pub(super) fn push_entries(
        self,
        job: Arc<str>,
        line: usize,
        from: Vec<(FileId, usize)>,
        out: &mut Vec<Entry>,
    ) {
        let mut actions = self.actions;
        // Only consecutive duplicates collapse: `[lock, lock, info, lock]` runs three actions.
        actions.dedup();
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
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawJob, A::Error> {
                ItemBudget::spend()?;
                let mut f = JobFields::default();
                while let Some(Recover(key)) = map.next_key::<Recover<JobKey>>()? {
                    let Some(key) = key else {
                        // Recorded as an unknown key; its value is skipped.
                        f.unknown_key = true;
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    if !f.seen.insert(key) {
                        // serde's wording, which `errors::explain` rewrites.
                        return Err(de::Error::custom(format!(
                            "duplicate field `{}`",
                            JOB_KEYS[key as usize]
                        )));
                    }
                    let before = recovered();
                    read_value(&mut map, key, &mut f)?;
                    if recovered() > before {
                        f.failed.insert(key);
                    }
                }
                Ok(RawJob::check(f))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads the value of `key` into `f`; a bad scalar value is recorded and leaves the field
/// unset, a bad list item is recorded and left out.
fn read_value<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: JobKey,
    f: &mut JobFields,
) -> Result<(), A::Error> {
    fn ids<const FOLDER: bool>(v: Option<Vec<YamlId<FOLDER>>>) -> Vec<FileId> {
        v.unwrap_or_default().into_iter().map(|i| i.0).collect()
    }
    match key {
        JobKey::Name => f.name = map.next_value::<Recover<NameField>>()?.0.and_then(|v| v.0),
        JobKey::Files => {
            f.files = ids(map.next_value::<Recover<FilesField>>()?.0.and_then(|v| v.0))
        }
        JobKey::Folders => {
            f.folders = ids(map
                .next_value::<Recover<FoldersField>>()?
                .0
                .and_then(|v| v.0))
        }
        JobKey::FilesFrom => {
            f.files_from = map
                .next_value::<Recover<FilesFromField>>()?
                .0
                .and_then(|v| v.0)
        }
        JobKey::Actions => {
            let v = map
                .next_value::<Recover<ActionsField>>()?
                .0
                .and_then(|v| v.0);
            f.actions = v.unwrap_or_default().into_iter().map(|a| a.0).collect();
        }
        JobKey::OnFailure => {
            f.on_failure = map
                .next_value::<Recover<OnFailureField>>()?
                .0
                .and_then(|v| v.0)
        }
    }
    Ok(())
}

/// A bad run name is recorded and the rest of the file is still read.
fn de_run_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = scalar(d, "a run name like `q4-audit`", check_run_name);
    super::recover::recover(name).map(Option::flatten)
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

fn de_files<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlId>>, D::Error> {
    list(d, "files", "files: [101, 102]")
}
fn de_folders<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlId<true>>>, D::Error> {
    list(d, "folders", "folders: [5001]")
}
fn de_actions<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlAction>>, D::Error> {
    list(d, "actions", "actions: [info, lock]")
}
