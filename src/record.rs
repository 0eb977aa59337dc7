//! The run's record in its report directory: `run.json` (what the directory was made from)
//! and `tasks.csv` (the expanded plan), so `--resume` runs exactly the recorded tasks and
//! `restore` knows the portal.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::job::{Action, FileId, OnFailure, Task};
use crate::runner::plan::Plan;

/// What made a report directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// `run` (and its resumes).
    #[default]
    Run,
    /// `restore`: the directory records the release of another run's locks.
    Restore,
}

/// `run.json`: what a report directory was made from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    /// Format version of `run.json` (1).
    pub version: u32,
    /// Run name: the YAML `name:`, or the job file's stem (`<name>-restore` for a restore). It
    /// starts the default report directory's name and titles the summaries.
    pub name: String,
    /// Job files with their content hashes.
    pub job_files: Vec<JobFileRef>,
    /// The command line (without the key, which is never on it), for the resume command.
    pub argv: Vec<String>,
    /// Portal base URL.
    pub portal: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// `--shard`, as typed.
    pub shard: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Total tasks in tasks.csv.
    pub tasks: u64,
    /// `--action` of the run (resumes reuse it).
    #[serde(default)]
    pub action: Option<String>,
    /// What made the directory (absent in old files: a run).
    #[serde(default)]
    pub kind: RunKind,
}

/// A job file and its hash.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobFileRef {
    /// The job file's path as typed (relative to the directory the run was started in).
    pub path: PathBuf,
    /// Hex SHA-256.
    pub sha256: String,
}

/// What the report directory was made from ([`RunState`]), in the report directory.
pub const RUN_JSON: &str = "run.json";
/// The expanded plan, one task per row, in the report directory.
pub const TASKS_CSV: &str = "tasks.csv";

/// Saves `run.json` and `tasks.csv` (the expanded plan, so a resume runs exactly these tasks).
pub fn save(dir: &Path, st: &RunState, plan: &Plan) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(io::BufWriter::new(std::fs::File::create(
        dir.join(".tasks.csv.tmp"),
    )?));
    w.write_record([
        "seq",
        "job",
        "file_id",
        "action",
        "on_failure",
        "group",
        "title",
    ])
    .map_err(io::Error::other)?;
    for t in &plan.tasks {
        let fid = t.file.to_string();
        let group = plan.groups.get(&fid).map(String::as_str).unwrap_or("");
        let of = match t.on_failure {
            OnFailure::SkipRest => "skip_rest",
            OnFailure::Continue => "continue",
        };
        w.write_record([
            t.seq.to_string().as_str(),
            &t.job,
            &fid,
            t.action.as_str(),
            of,
            group,
            plan.titles.get(&t.file).map(String::as_str).unwrap_or(""),
        ])
        .map_err(io::Error::other)?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(dir.join(".tasks.csv.tmp"), dir.join(TASKS_CSV))?;
    let json = serde_json::to_vec_pretty(st).map_err(io::Error::other)?;
    crate::report::summary::atomic_write(&dir.join(RUN_JSON), &json)
}

/// Loads `run.json` and `tasks.csv` of a report directory.
pub fn load(dir: &Path) -> Result<(RunState, Plan), String> {
    let text = std::fs::read(dir.join(RUN_JSON)).map_err(|e| {
        format!(
            "{} has no readable {RUN_JSON} ({e}); it is not a docspace-batch report directory, or it was made by a run that never started",
            dir.display()
        )
    })?;
    let st: RunState = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: {RUN_JSON} is damaged: {e}", dir.display()))?;
    let mut rd = csv::Reader::from_path(dir.join(TASKS_CSV))
        .map_err(|e| format!("{}: {TASKS_CSV}: {e}", dir.display()))?;
    let mut plan = Plan::default();
    let mut jobs: HashMap<String, Arc<str>> = HashMap::new();
    for (i, rec) in rd.records().enumerate() {
        let bad = |what: &str| format!("{}: {TASKS_CSV} line {}: {what}", dir.display(), i + 2);
        let r = rec.map_err(|e| bad(&e.to_string()))?;
        if r.len() < 5 {
            return Err(bad("too few fields"));
        }
        let seq: u64 = r[0].parse().map_err(|_| bad("bad seq"))?;
        let job = jobs
            .entry(r[1].to_string())
            .or_insert_with(|| Arc::from(&r[1]))
            .clone();
        let file = FileId::parse(&r[2]).map_err(|e| bad(&e.to_string()))?;
        let action = Action::parse(&r[3]).map_err(|e| bad(&e))?;
        let on_failure = if &r[4] == "continue" {
            OnFailure::Continue
        } else {
            OnFailure::SkipRest
        };
        if r.len() > 5 && !r[5].is_empty() {
            plan.groups.insert(file.to_string(), r[5].to_string());
        }
        if r.len() > 6 && !r[6].is_empty() {
            plan.titles.insert(file.clone(), r[6].to_string());
        }
        plan.tasks.push(Task {
            seq,
            job,
            file,
            action,
            on_failure,
        });
    }
    Ok((st, plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_kind_is_stored_as_before_and_defaults_to_run() {
        let st = |kind: &str| {
            serde_json::from_str::<RunState>(&format!(
                r#"{{"version":1,"name":"n","job_files":[],"argv":[],"portal":"","dry_run":false,"shard":null,"created_at":"","tasks":0{kind}}}"#
            ))
            .map(|s| s.kind)
        };
        assert_eq!(st("").unwrap(), RunKind::Run);
        assert_eq!(st(r#","kind":"run""#).unwrap(), RunKind::Run);
        assert_eq!(st(r#","kind":"restore""#).unwrap(), RunKind::Restore);
        assert_eq!(
            serde_json::to_value(RunKind::Restore).unwrap(),
            serde_json::json!("restore")
        );
    }
}
