//! The run's record: `run.db`, an SQLite database in the report directory and the truth of the
//! run. It holds the plan, a write intent committed before each lock/unlock request leaves,
//! every result with its access rows (one transaction), each start/resume/stop of a process
//! with its request counters, skipped folders, what the last start learnt about the portal
//! (never the credential), and, in a run that `restore` released, which files it released.
//! Every CSV/JSON/MD file beside it is an export ([`crate::report`]).
//!
//! Durability: WAL with `synchronous=NORMAL`: a committed transaction survives the process
//! being killed (it is in the WAL file, which the next open replays); a power loss can take
//! the last transactions before the OS wrote the WAL out, which a resume then redoes (a lost
//! intent makes a lock that was sent look unsent: the resume re-reads the file and records it
//! as `unchanged`, so keep the run's own report of what it locked in mind after a power cut).
//!
//! Safety: the directory is locked ([`lock`]) before anything is read or written, and no file
//! in it is opened through a symbolic link ([`files`]).

mod about;
pub mod files;
pub mod lock;
mod read;
mod store;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

pub use about::{CallerInfo, PortalInfo};
pub use lock::{DirLock, LockError};
pub use read::Intent;
pub use store::{Counters, Finished};

/// The database's file name.
pub const RUN_DB: &str = "run.db";

/// Everything in a report directory that is opened by name: checked for planted links
/// before the first request.
pub const REPORT_FILES: &[&str] = &[
    RUN_DB,
    "run.db-wal",
    "run.db-shm",
    "run.db-journal",
    lock::LOCK_FILE,
    crate::report::RESULTS,
    crate::report::ACCESS,
    crate::report::SHARES,
    crate::report::SUMMARY_JSON,
    crate::report::SUMMARY_MD,
];

/// Schema version, in `PRAGMA user_version`. 2 added `results.state_from` and the listing page
/// of each task's file (`tasks.folder`, `tasks.page_start`).
const SCHEMA_VERSION: i64 = 2;

/// Columns added since schema 1, added to a record an older release made.
const ADDED: &[(&str, &str, &str)] = &[
    ("results", "state_from", "TEXT"),
    ("tasks", "folder", "TEXT"),
    ("tasks", "page_start", "INTEGER"),
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY, job TEXT NOT NULL, file_id TEXT NOT NULL, action TEXT NOT NULL,
    on_failure TEXT NOT NULL, grp TEXT, title TEXT, folder TEXT, page_start INTEGER);
CREATE TABLE IF NOT EXISTS intents (
    seq INTEGER PRIMARY KEY, file_id TEXT NOT NULL, lock INTEGER NOT NULL, was_locked INTEGER,
    at TEXT NOT NULL, session INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY, job TEXT NOT NULL, file_id TEXT NOT NULL, action TEXT NOT NULL,
    outcome TEXT NOT NULL, http_status INTEGER, attempts INTEGER NOT NULL, error_kind TEXT,
    error TEXT NOT NULL, was_locked INTEGER, locked INTEGER, locked_by TEXT NOT NULL,
    title TEXT NOT NULL, users INTEGER, duration_ms INTEGER NOT NULL, finished_at TEXT NOT NULL,
    can_lock INTEGER, session INTEGER NOT NULL, state_from TEXT);
CREATE TABLE IF NOT EXISTS access (
    seq INTEGER NOT NULL, file_id TEXT NOT NULL, title TEXT NOT NULL, user_id TEXT NOT NULL,
    name TEXT NOT NULL, email TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS access_seq ON access (seq);
CREATE TABLE IF NOT EXISTS shares (
    seq INTEGER NOT NULL, file_id TEXT NOT NULL, title TEXT NOT NULL, subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, access TEXT NOT NULL,
    link_url TEXT NOT NULL, expires TEXT NOT NULL, password_protected INTEGER NOT NULL,
    deny_download INTEGER NOT NULL, is_owner INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS shares_seq ON shares (seq);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
    exit_code INTEGER, stop_reason TEXT, requests INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0, throttled INTEGER NOT NULL DEFAULT 0,
    writes INTEGER NOT NULL DEFAULT 0, busy_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS skipped_folders (folder_id TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS released (file_id TEXT PRIMARY KEY, at TEXT NOT NULL, by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (n INTEGER PRIMARY KEY, line TEXT NOT NULL);
";

/// A record that cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Another process holds the directory.
    #[error("{0}")]
    InUse(String),
    /// Anything else: the message names the path and the cause.
    #[error("{0}")]
    Failed(String),
}

/// An open record: the directory lock and the database connection.
pub struct Record {
    conn: Connection,
    dir: PathBuf,
    session: i64,
    /// `None` for a record opened only to look ([`Record::peek`]).
    _lock: Option<DirLock>,
    /// Device and inode of `run.db` when opened: a directory removed (or the file replaced)
    /// mid-run would let SQLite go on writing into a file nobody can see any more.
    identity: Option<(u64, u64)>,
    /// This open made `run.db`: before a plan is recorded the directory holds nothing of
    /// anyone else's, so [`Record::discard`] may take the record's files away.
    made_db: bool,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record").field("dir", &self.dir).finish()
    }
}

impl Record {
    /// Locks `dir` (which must exist) and opens its `run.db`, creating an empty one.
    pub fn open(dir: &Path) -> Result<Record, RecordError> {
        let lock = DirLock::acquire(dir).map_err(|e| match e {
            LockError::InUse { .. } => RecordError::InUse(e.describe(dir)),
            LockError::Io(_) => RecordError::Failed(e.describe(dir)),
        })?;
        files::check_no_links(dir, REPORT_FILES).map_err(|e| RecordError::Failed(e.to_string()))?;
        let path = dir.join(RUN_DB);
        let existed = path.exists();
        let fail = |e: rusqlite::Error| RecordError::Failed(format!("{}: {e}", path.display()));
        if !existed {
            // Created here so it is 0600 from the start; SQLite then opens it.
            files::open_rw(&path)
                .map_err(|e| RecordError::Failed(format!("{}: {e}", path.display())))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(fail)?;
        if version > SCHEMA_VERSION {
            return Err(RecordError::Failed(format!(
                "{} was written by a newer docspace-batch (schema {version}); use that version",
                path.display()
            )));
        }
        conn.execute_batch(SCHEMA).map_err(fail)?;
        add_columns(&conn).map_err(fail)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(fail)?;
        private_sidecars(dir);
        Ok(Record {
            conn,
            dir: dir.to_path_buf(),
            session: 0,
            _lock: Some(lock),
            identity: identity(&path),
            made_db: !existed,
        })
    }

    /// Opens `dir`'s `run.db` read-only and without the lock, to look at it (`--resume
    /// latest` choosing a directory); `None` when there is none. Never writes.
    pub fn peek(dir: &Path) -> Option<Record> {
        let path = dir.join(RUN_DB);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return None;
        }
        Record::open_read_only(dir).ok()
    }

    /// Opens `dir`'s `run.db` read-only and without the lock (`diff`), failing with the cause.
    /// A file that is not a database is found by the first read, not here.
    pub fn open_read_only(dir: &Path) -> Result<Record, RecordError> {
        let path = dir.join(RUN_DB);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| RecordError::Failed(format!("{}: {e}", path.display())))?;
        let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
        Ok(Record {
            conn,
            dir: dir.to_path_buf(),
            session: 0,
            _lock: None,
            identity: None,
            made_db: false,
        })
    }

    /// Fails when `run.db` is no longer the file this record opened (its directory was
    /// removed or renamed, or the file replaced): writes would go nowhere anyone can read.
    pub(crate) fn check_present(&self) -> Result<(), RecordError> {
        let path = self.dir.join(RUN_DB);
        if self.identity.is_some() && identity(&path) != self.identity {
            return Err(RecordError::Failed(format!(
                "{} was removed or replaced while the run was recording",
                path.display()
            )));
        }
        Ok(())
    }

    /// Closes the record and removes the directories in `created` (innermost first) with the
    /// files a record makes in them: for a new run that ended before its plan was recorded,
    /// which leaves nothing to resume or read. In a directory that existed before, only the
    /// database and lock files go, and only when this run made `run.db` (a dry run's record
    /// it was to replace stays; a file of the operator's named like a report stays).
    /// Conservative: a directory that holds anything else stays.
    pub fn discard(self, created: &[PathBuf]) {
        let Record {
            conn,
            dir,
            _lock,
            made_db,
            ..
        } = self;
        let _ = conn.close();
        let names: &[&str] = if created.contains(&dir) {
            REPORT_FILES
        } else if made_db {
            &[
                RUN_DB,
                "run.db-wal",
                "run.db-shm",
                "run.db-journal",
                lock::LOCK_FILE,
            ]
        } else {
            &[]
        };
        // The lock file last: while it exists and is held, no other run can take the
        // directory between these removals.
        for name in names.iter().filter(|n| **n != lock::LOCK_FILE) {
            let _ = std::fs::remove_file(dir.join(name));
        }
        if !names.is_empty() {
            let _ = std::fs::remove_file(dir.join(lock::LOCK_FILE));
        }
        drop(_lock);
        for d in created {
            let _ = std::fs::remove_dir(d);
        }
    }

    /// The report directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn fail(&self, e: impl std::fmt::Display) -> RecordError {
        RecordError::Failed(format!("{}: {e}", self.dir.join(RUN_DB).display()))
    }
}

/// Adds the columns a record made by an older release lacks (its tables exist, so the
/// `CREATE TABLE IF NOT EXISTS` above left them as they were).
fn add_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, ty) in ADDED {
        let has: bool = conn.query_row(
            &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
            [column],
            |r| r.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    Ok(())
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// SQLite creates the WAL and shared-memory files with the database's mode; make sure.
fn private_sidecars(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["run.db-wal", "run.db-shm"] {
        let p = dir.join(name);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

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

/// What a report directory was made from (the `state` entry of `meta`, as JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    /// Format version of this document (2 since it lives in `run.db`).
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
    /// Total tasks in the plan.
    pub tasks: u64,
    /// `--action` of the run (resumes reuse it).
    #[serde(default)]
    pub action: Option<String>,
    /// What made the directory (absent in old files: a run).
    #[serde(default)]
    pub kind: RunKind,
    /// Hash of the job entries as planned (see [`plan_lines`]) and the shard: two runs with
    /// the same value run the same plan (`--resume latest` looks for it).
    #[serde(default)]
    pub plan_digest: String,
    /// Run against an in-process sandbox (`--sandbox`), not a portal.
    #[serde(default)]
    pub sandbox: bool,
}

/// The job entries as comparable lines, one per entry: job, target, actions, failure policy.
/// A comment or a blank line in a job file changes nothing here; a changed target does.
pub fn plan_lines(entries: &[crate::job::Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            let target = match &e.target {
                crate::job::Target::File(f) => format!("file {f}"),
                crate::job::Target::Folder(f) => format!("folder {f}"),
            };
            let actions: Vec<&str> = e.actions.iter().map(|a| a.as_str()).collect();
            let policy = match e.on_failure {
                crate::job::OnFailure::SkipRest => "skip_rest",
                crate::job::OnFailure::Continue => "continue",
            };
            format!("job {}: {target}: {} ({policy})", e.job, actions.join(", "))
        })
        .collect()
}

/// The digest of a plan: its lines and the shard it runs.
pub fn plan_digest(lines: &[String], shard: Option<crate::units::Shard>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    if let Some(s) = shard {
        h.update(format!("shard {}/{}", s.k, s.n).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A job file and its hash.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobFileRef {
    /// The job file's absolute path, so `--resume DIR` works from any directory.
    pub path: PathBuf,
    /// Hex SHA-256.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_1_record_gains_the_new_columns_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = SCHEMA
            .replace(", folder TEXT, page_start INTEGER", "")
            .replace(", state_from TEXT", "");
        {
            let c = Connection::open(dir.path().join(RUN_DB)).unwrap();
            c.execute_batch(&v1).unwrap();
            // Older releases had no `shares` table either.
            c.execute_batch("DROP TABLE shares;").unwrap();
            c.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO tasks (seq, job, file_id, action, on_failure) VALUES (1, 'j', '101', 'lock', 'continue');
                 INSERT INTO results (seq, job, file_id, action, outcome, attempts, error, locked_by, title, duration_ms, finished_at, session)
                 VALUES (1, 'j', '101', 'lock', 'ok', 1, '', '', '', 0, '', 1);",
            )
            .unwrap();
        }
        // Read-only (`diff` of an older release's run): read as it is, not altered.
        let ro = Record::open_read_only(dir.path()).unwrap();
        assert_eq!(ro.results().unwrap()[0].state_from, None);
        assert!(ro.plan().unwrap().pages.is_empty());
        assert!(ro.shares_by_seq().unwrap().is_empty());
        drop(ro);
        let r = Record::open(dir.path()).unwrap();
        let rows = r.results().unwrap();
        assert_eq!((rows.len(), rows[0].state_from), (1, None));
        assert!(r.plan().unwrap().pages.is_empty());
        assert!(r.shares().unwrap().is_empty(), "the table is there now");
        let v: i64 = r
            .conn
            .pragma_query_value(None, "user_version", |x| x.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

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
