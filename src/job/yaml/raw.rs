//! The top level and the jobs of a YAML file as written, with the per-field parsers and the
//! checks a single job must pass (a target and an action). Checks run inside the job's
//! mapping, so serde_norway marks their position; `super::expand_jobs` turns the result into
//! entries.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::guards::ItemBudget;
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
pub(super) struct RawJob {
    pub(super) name: Option<String>,
    pub(super) files: Vec<FileId>,
    pub(super) folders: Vec<FileId>,
    pub(super) files_from: Option<String>,
    actions: Vec<Action>,
    on_failure: OnFailure,
}

impl RawJob {
    /// Checks what a single job needs: a target and an action.
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
                "{label} has no actions: add e.g. `actions: [info]` (lock, unlock, protectusers, info, shares)"
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

fn de_files<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlId>>, D::Error> {
    list(d, "files", "files: [101, 102]")
}
fn de_folders<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlId>>, D::Error> {
    list(d, "folders", "folders: [5001]")
}
fn de_actions<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<YamlAction>>, D::Error> {
    list(d, "actions", "actions: [info, lock]")
}
