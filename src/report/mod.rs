//! The report rows and their files, all exports of the run's record ([`crate::record`]):
//! `results.csv` and `access.csv` ([`export`]: appended as tasks commit, rewritten from the
//! record at start and end), `summary.json` and `summary.md` ([`summary`]).
//!
//! Types until the edge: rows hold enums; strings appear only here, when a cell is written.
//! Every text cell goes through [`cell`] (formula-injection escaping); numbers are written as
//! they are.

pub mod diff;
pub mod export;
pub mod shares;
pub mod summary;

pub use shares::{ShareRow, SHARES, SHARES_HEADER};

use std::io::Write;

use crate::api::ErrorKind;
use crate::job::{Action, FileId};
use crate::runner::state::StateSource;

/// `results.csv` header. Readers go by position as well as by name, so the order is fixed and
/// a new column goes last.
pub const RESULTS_HEADER: [&str; 17] = [
    "seq",
    "job",
    "file_id",
    "action",
    "outcome",
    "http_status",
    "attempts",
    "error_kind",
    "error",
    "was_locked",
    "locked",
    "locked_by",
    "title",
    "users",
    "duration_ms",
    "finished_at",
    "state_from",
];
/// `access.csv` header.
pub const ACCESS_HEADER: [&str; 5] = ["file_id", "title", "user_id", "name", "email"];

/// One row per task, in the report directory.
pub const RESULTS: &str = "results.csv";
/// One row per user per `protectusers` task, in the report directory.
pub const ACCESS: &str = "access.csv";
/// Counts and run figures for scripts, in the report directory.
pub const SUMMARY_JSON: &str = "summary.json";
/// The same for a person, with failures and access per room, in the report directory.
pub const SUMMARY_MD: &str = "summary.md";

/// A task's outcome (the `outcome` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Done as asked: the portal confirmed the lock or unlock, or answered the read.
    Ok,
    /// The state check found the file already as wanted; nothing written.
    Unchanged,
    /// The lock is held by another user.
    LockedByOther,
    /// Did not succeed; `error_kind` says why.
    Failed,
    /// Not attempted because an earlier task on the same file in the job failed.
    Skipped,
    /// Not attempted (or not finished) because the run stopped.
    Cancelled,
    /// Planned by `--dry-run`; nothing was sent.
    Planned,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::Unchanged,
        Outcome::LockedByOther,
        Outcome::Failed,
        Outcome::Skipped,
        Outcome::Cancelled,
        Outcome::Planned,
    ];

    /// The `outcome` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unchanged => "unchanged",
            Outcome::LockedByOther => "locked_by_other",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Cancelled => "cancelled",
            Outcome::Planned => "planned",
        }
    }

    /// Reads a column value back; `None` for anything [`Outcome::as_str`] does not write.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// True for outcomes that `--resume` does not run again: the task is done (`ok`,
    /// `unchanged`) or was settled by someone else's lock (`locked_by_other`).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Outcome::Ok | Outcome::Unchanged | Outcome::LockedByOther
        )
    }
}

/// One row of `results.csv`. Typed until the CSV edge: cells are made when the row is written
/// and parsed in [`ResultRow::from_record`], nowhere else.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRow {
    /// The task's place in the full plan, 1-based: the same across resumes and shards, and
    /// the order of the final file.
    pub seq: u64,
    /// The job the task belongs to, the scope of `on_failure: skip_rest` (names from different
    /// job files are made distinct).
    pub job: String,
    /// The file's ID: a number for internal files, `selector-providerId[-path]` for connected
    /// storage.
    pub file_id: String,
    /// What the task does.
    pub action: Action,
    /// How the task ended.
    pub outcome: Outcome,
    /// Status of the last answer; empty when none came (timeout, dropped connection, nothing
    /// sent).
    pub http_status: Option<u16>,
    /// `attempts` (HTTP attempts made for the task, state check included)
    pub attempts: u32,
    /// `error_kind`: set for failures; a task cancelled before it sent anything has none.
    pub error_kind: Option<ErrorKind>,
    /// Why the task failed, was skipped or was cancelled, in words (the portal's own message
    /// where it sent one); empty on success.
    pub error: String,
    /// Lock state before the write, when the state check read it; empty otherwise.
    pub was_locked: Option<bool>,
    /// Lock state after the task, from the portal's last answer; empty when no answer said.
    pub locked: Option<bool>,
    /// Display name of the user holding the lock, from the last answer. DocSpace names only
    /// other users, so this is empty when the file is unlocked or the caller holds the lock.
    pub locked_by: String,
    /// The file's title as the portal sent it (answer or folder listing), capped at 1000
    /// characters; empty when no answer carried it.
    pub title: String,
    /// Users `protectusers` returned (the task's rows in access.csv); empty for other actions.
    pub users: Option<usize>,
    /// Wall time of the task in milliseconds, limiter waits and retries included.
    pub duration_ms: u64,
    /// `finished_at` (RFC 3339 UTC)
    pub finished_at: String,
    /// `security.Lock` from the portal's answer, when it sent one. Not a results.csv column
    /// (the header is fixed); it feeds the summaries' "files you may not lock" list.
    pub can_lock: Option<bool>,
    /// `state_from`: which state a lock/unlock/info decision used (a folder listing, a file
    /// read, an earlier write's answer); empty when none was used (`--no-check-state`,
    /// `protectusers`, nothing sent).
    pub state_from: Option<StateSource>,
}

/// One row of `access.csv`: a user who can reach a file, as `protectusers` listed them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRow {
    /// The file, as in results.csv.
    pub file_id: String,
    /// The file's title when the run knew it; may be empty.
    pub title: String,
    /// The user's DocSpace ID (a GUID).
    pub user_id: String,
    /// The user's display name.
    pub name: String,
    /// The user's e-mail address; empty when the portal sent none.
    pub email: String,
}

impl AccessRow {
    /// Writes the row's cells, escaped.
    pub(crate) fn write<W: Write>(&self, w: &mut csv::Writer<W>) -> csv::Result<()> {
        w.write_record([
            &*cell(&self.file_id),
            &cell(&self.title),
            &cell(&self.user_id),
            &cell(&self.name),
            &cell(&self.email),
        ])
    }
}

/// Formula-injection escaping for text cells (titles and names come from portal users): a
/// leading `=`, `+`, `-`, `@`, tab or CR gets a `'` in front, so spreadsheets show the text
/// instead of evaluating it.
pub fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

fn opt_bool(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    }
}

impl ResultRow {
    /// A row for `task` with the given outcome and nothing else filled in.
    pub fn new(seq: u64, job: &str, file: &FileId, action: Action, outcome: Outcome) -> ResultRow {
        ResultRow {
            seq,
            job: job.to_string(),
            file_id: file.to_string(),
            action,
            outcome,
            http_status: None,
            attempts: 0,
            error_kind: None,
            error: String::new(),
            was_locked: None,
            locked: None,
            locked_by: String::new(),
            title: String::new(),
            users: None,
            duration_ms: 0,
            finished_at: String::new(),
            can_lock: None,
            state_from: None,
        }
    }

    pub(crate) fn write<W: Write>(&self, w: &mut csv::Writer<W>) -> csv::Result<()> {
        let seq = self.seq.to_string();
        let status = self.http_status.map(|s| s.to_string()).unwrap_or_default();
        let attempts = self.attempts.to_string();
        let users = self.users.map(|u| u.to_string()).unwrap_or_default();
        let dur = self.duration_ms.to_string();
        w.write_record([
            seq.as_str(),
            &cell(&self.job),
            &cell(&self.file_id),
            self.action.as_str(),
            self.outcome.as_str(),
            &status,
            &attempts,
            self.error_kind.map_or("", ErrorKind::as_str),
            &cell(&self.error),
            opt_bool(self.was_locked),
            opt_bool(self.locked),
            &cell(&self.locked_by),
            &cell(&self.title),
            &users,
            &dur,
            &self.finished_at,
            self.state_from.map_or("", StateSource::as_str),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_formula_cells_only() {
        for s in ["=1+1", "+x", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(s), format!("'{s}"));
        }
        assert_eq!(cell("Report.docx"), "Report.docx");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn a_row_is_written_with_its_cells_in_header_order() {
        let mut row = ResultRow::new(4, "j", &FileId::Int(7), Action::Unlock, Outcome::Failed);
        row.http_status = Some(200);
        row.attempts = 2;
        row.error_kind = Some(ErrorKind::StillLocked);
        row.error = "still locked by Jane".into();
        row.was_locked = Some(true);
        row.locked = Some(true);
        row.locked_by = "Jane".into();
        row.title = "Plan.docx".into();
        row.duration_ms = 12;
        row.finished_at = "2025-01-01T00:00:00.000Z".into();
        let mut w = csv::Writer::from_writer(Vec::new());
        row.write(&mut w).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert!(
            text.starts_with("4,j,7,unlock,failed,200,2,still_locked,"),
            "{text}"
        );
    }
}
