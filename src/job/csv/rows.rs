//! Data rows into [`Entry`] values: target, action (or `--action`) and job per row, with job
//! names and one-action slices shared between rows instead of allocated per row.

use std::path::Path;
use std::sync::Arc;

use super::table::{field, list_tokens, Layout};
use crate::job::{
    check_job_name, stem_name, too_many_entries, Action, Entry, FileId, JobError, JobErrors,
    OnFailure, Target, MAX_ENTRIES_PER_FILE,
};

/// Turns rows into entries, sharing job names and action slices.
pub(super) struct RowBuilder<'a> {
    path: &'a Path,
    default_action: Option<Action>,
    default_job: Arc<str>,
    jobs: std::collections::HashMap<String, Arc<str>>,
    /// One shared `[action]` slice per action, indexed like [`Action::ALL`].
    action_arcs: [Arc<[Action]>; Action::ALL.len()],
    pub(super) entries: Vec<Entry>,
}

impl<'a> RowBuilder<'a> {
    pub(super) fn new(path: &'a Path, default_action: Option<Action>) -> Self {
        RowBuilder {
            path,
            default_action,
            default_job: Arc::from(stem_name(path)),
            jobs: Default::default(),
            action_arcs: Action::ALL.map(|a| Arc::from([a])),
            entries: Vec::new(),
        }
    }

    /// Turns one row into its entry; a problem with the row is recorded in `errs` (every
    /// problem of the row: its target, action and job are checked independently).
    pub(super) fn push(
        &mut self,
        line: usize,
        rec: &::csv::ByteRecord,
        l: &Layout,
        errs: &mut JobErrors,
    ) {
        if l.headerless {
            return self.push_ids(line, rec, errs);
        }
        let target = self.target(line, rec, l);
        let action = self.action(line, rec, l);
        let job = self.job(line, rec, l);
        match (target, action, job) {
            (Ok(t), Ok(a), Ok(j)) => self.add(line, t, a, j, errs),
            (t, a, j) => {
                let problems = [t.err(), a.err(), j.err()];
                problems.into_iter().flatten().for_each(|e| errs.push(e));
            }
        }
    }

    /// A line of a plain ID list: every ID in every cell, with the default action.
    fn push_ids(&mut self, line: usize, rec: &::csv::ByteRecord, errs: &mut JobErrors) {
        let Some(action) = self.default_action else {
            // Checked before the rows are read; nothing to add without an action.
            return;
        };
        for token in list_tokens(rec) {
            match list_id(self.path, line, token, false) {
                Ok(id) => {
                    let job = self.default_job.clone();
                    self.add(line, Target::File(id), action, job, errs);
                }
                Err(e) => errs.push(e),
            }
        }
    }

    fn add(
        &mut self,
        line: usize,
        target: Target,
        action: Action,
        job: Arc<str>,
        errs: &mut JobErrors,
    ) {
        let actions = self.action_arcs[action_index(action)].clone();
        // Consecutive duplicates of the same (job, target, action) collapse; a repeat after a
        // different row is kept.
        if let Some(last) = self.entries.last() {
            if last.target == target && last.actions == actions && last.job == job {
                return;
            }
        }
        if self.entries.len() >= MAX_ENTRIES_PER_FILE {
            return errs.stop(self.err(line, too_many_entries()));
        }
        self.entries.push(Entry {
            job,
            on_failure: OnFailure::SkipRest,
            target,
            actions,
            line,
        });
    }

    fn target(&self, line: usize, rec: &::csv::ByteRecord, l: &Layout) -> Result<Target, JobError> {
        let file = l.file.map(|i| field(rec, i));
        let folder = l.folder.map(|i| field(rec, i));
        match (file, folder) {
            (Some(f), None) => Ok(Target::File(parse_id(self.path, line, f)?)),
            (None, Some(d)) => Ok(Target::Folder(parse_folder_id(self.path, line, d)?)),
            (Some(f), Some(d)) => match (f.trim().is_empty(), d.trim().is_empty()) {
                (false, true) => Ok(Target::File(parse_id(self.path, line, f)?)),
                (true, false) => Ok(Target::Folder(parse_folder_id(self.path, line, d)?)),
                (false, false) => Err(self.err(
                    line,
                    "this row has both a file_id and a folder_id; put them on separate rows",
                )),
                (true, true) => {
                    Err(self.err(line, "this row has neither a file_id nor a folder_id"))
                }
            },
            (None, None) => Err(self.err(line, "no file_id column")),
        }
    }

    fn action(&self, line: usize, rec: &::csv::ByteRecord, l: &Layout) -> Result<Action, JobError> {
        let cell = l.action.map(|i| field(rec, i).trim()).unwrap_or("");
        if cell.is_empty() {
            return self.default_action.ok_or_else(|| {
                self.err(
                    line,
                    "the action cell is empty; fill it in or pass --action lock|unlock|protectusers|info|shares",
                )
            });
        }
        // Fast path without allocation; `Action::parse` builds the "did you mean" message.
        for a in Action::ALL {
            if cell.eq_ignore_ascii_case(a.as_str()) {
                return Ok(a);
            }
        }
        Action::parse(cell).map_err(|m| self.err(line, m))
    }

    fn job(
        &mut self,
        line: usize,
        rec: &::csv::ByteRecord,
        l: &Layout,
    ) -> Result<Arc<str>, JobError> {
        let cell = l.job.map(|i| field(rec, i).trim()).unwrap_or("");
        if cell.is_empty() {
            return Ok(self.default_job.clone());
        }
        if let Some(j) = self.jobs.get(cell) {
            return Ok(j.clone());
        }
        let name = check_job_name(cell).map_err(|m| self.err(line, m))?;
        let arc: Arc<str> = Arc::from(name);
        self.jobs.insert(cell.to_string(), arc.clone());
        Ok(arc)
    }

    fn err(&self, line: usize, msg: impl Into<String>) -> JobError {
        JobError::new(self.path, Some(line), None, msg)
    }
}

/// Position of `a` in [`Action::ALL`] (the index into the shared action slices).
fn action_index(a: Action) -> usize {
    Action::ALL.iter().position(|x| *x == a).unwrap_or(0)
}

/// A cell as a file ID, or an error at `line`.
pub(super) fn parse_id(path: &Path, line: usize, cell: &str) -> Result<FileId, JobError> {
    FileId::parse(cell)
        .map_err(|e| JobError::new(path, Some(line), None, format!("invalid file ID: {e}")))
}

/// A `folder_id` cell as a folder ID, or an error at `line`.
fn parse_folder_id(path: &Path, line: usize, cell: &str) -> Result<FileId, JobError> {
    FileId::parse(cell)
        .map_err(|e| JobError::new(path, Some(line), None, format!("invalid folder ID: {e}")))
}

/// An item of a plain ID list: like [`parse_id`], but an action name there is most likely a
/// CSV without its header (in a job file) or an action that belongs in the YAML job (in a
/// `files_from` list), which is said.
pub(super) fn list_id(
    path: &Path,
    line: usize,
    token: &str,
    files_from: bool,
) -> Result<FileId, JobError> {
    parse_id(path, line, token).map_err(|e| match Action::parse(token) {
        Ok(a) => {
            let fix = if files_from {
                "a `files_from` list holds file IDs only; the job's `actions:` apply to every \
                 ID in it"
            } else {
                "this file is read as a plain list of IDs; to give rows their own action, \
                 start it with the header `file_id,action`"
            };
            JobError::new(
                path,
                Some(line),
                None,
                format!("`{a}` is an action, not a file ID: {fix}"),
            )
        }
        Err(_) => e,
    })
}
