//! Reading the record: the state and plan for `--resume`, results and access rows for the
//! exports and `restore`, unsettled intents, released files, and the counters over every
//! process that recorded into the directory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::OptionalExtension;

use super::{Record, RecordError, RunState};
use crate::api::ErrorKind;
use crate::job::{Action, FileId, OnFailure, Task};
use crate::report::{AccessRow, Outcome, ResultRow, ShareRow};
use crate::runner::plan::Plan;
use crate::runner::state::{PageRef, StateSource};

type Result<T> = std::result::Result<T, RecordError>;

/// A write intent with no result after it: the process ended while the request was on the
/// wire (or before it left).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intent {
    /// `true` for lock, `false` for unlock.
    pub lock: bool,
    /// The file's state before, when it was known.
    pub was_locked: Option<bool>,
}

/// Figures over every process that recorded into the directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// Requests sent.
    pub requests: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Lock/unlock requests sent.
    pub writes: u64,
    /// Seconds spent working.
    pub busy_seconds: f64,
    /// When the first process started (RFC 3339).
    pub first_start: Option<String>,
    /// Processes that recorded (the first start and every resume).
    pub sessions: u64,
}

impl Record {
    /// `table.column` for each column schema 2 added, or `NULL` where the record lacks it: an
    /// older release's record opened read-only (`diff`) is not brought up to date.
    fn newer(&self, columns: &[&str]) -> String {
        let has = |tc: &str| {
            let (table, column) = tc.split_once('.').unwrap_or((tc, tc));
            self.conn
                .query_row(
                    &format!(
                        "SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"
                    ),
                    [column],
                    |r| r.get::<_, bool>(0),
                )
                .unwrap_or(false)
        };
        let cols: Vec<&str> = columns
            .iter()
            .map(|c| if has(c) { *c } else { "NULL" })
            .collect();
        cols.join(", ")
    }

    /// What made the directory; `None` for a directory that holds no plan yet.
    pub fn state(&self) -> Result<Option<RunState>> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'state'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.fail(e))?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| self.fail(format!("damaged state: {e}"))))
            .transpose()
    }

    /// The recorded plan, in `seq` order.
    pub fn plan(&self) -> Result<Plan> {
        let mut plan = Plan::default();
        let mut jobs: HashMap<String, Arc<str>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                &format!(
                    "SELECT seq, job, file_id, action, on_failure, grp, title, {} FROM tasks ORDER BY seq",
                    self.newer(&["tasks.folder", "tasks.page_start"]),
                ),
            )
            .map_err(|e| self.fail(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.fail(e))?;
        while let Some(r) = rows.next().map_err(|e| self.fail(e))? {
            let get = |i: usize| r.get::<_, Option<String>>(i).unwrap_or_default();
            let seq: i64 = r.get(0).map_err(|e| self.fail(e))?;
            let job = get(1).unwrap_or_default();
            let job = jobs
                .entry(job.clone())
                .or_insert_with(|| Arc::from(job))
                .clone();
            let file = FileId::parse(&get(2).unwrap_or_default())
                .map_err(|e| self.fail(format!("task {seq}: {e}")))?;
            let action = Action::parse(&get(3).unwrap_or_default())
                .map_err(|e| self.fail(format!("task {seq}: {e}")))?;
            let on_failure = match get(4).as_deref() {
                Some("continue") => OnFailure::Continue,
                _ => OnFailure::SkipRest,
            };
            if let Some(g) = get(5).filter(|g| !g.is_empty()) {
                plan.groups.insert(file.to_string(), g);
            }
            if let Some(t) = get(6).filter(|t| !t.is_empty()) {
                plan.titles.insert(file.clone(), t);
            }
            let start: Option<i64> = r.get(8).unwrap_or_default();
            if let (Some(folder), Some(start)) = (get(7), start) {
                if let Ok(folder) = FileId::parse(&folder) {
                    let start = start as u64;
                    plan.pages.insert(file.clone(), PageRef { folder, start });
                }
            }
            plan.tasks.push(Task {
                seq: seq as u64,
                job,
                file,
                action,
                on_failure,
            });
        }
        Ok(plan)
    }

    /// The job entries the plan was made from ([`super::plan_lines`]), in order.
    pub fn plan_lines(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT line FROM entries ORDER BY n")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// Every recorded result, in `seq` order.
    pub fn results(&self) -> Result<Vec<ResultRow>> {
        let mut stmt = self
            .conn
            .prepare(
                &format!(
                    "SELECT seq, job, file_id, action, outcome, http_status, attempts, error_kind, error, was_locked, locked, locked_by, title, users, duration_ms, finished_at, can_lock, {} FROM results ORDER BY seq",
                    self.newer(&["results.state_from"]),
                ),
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], row_from_sql)
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<Vec<Option<ResultRow>>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// Every recorded access row, in `seq` order.
    pub fn access(&self) -> Result<Vec<AccessRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT file_id, title, user_id, name, email FROM access ORDER BY seq, rowid")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AccessRow {
                    file_id: r.get(0)?,
                    title: r.get(1)?,
                    user_id: r.get(2)?,
                    name: r.get(3)?,
                    email: r.get(4)?,
                })
            })
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// Every recorded access row with the `seq` of the `protectusers` task that listed it, in
    /// `seq` order: which rows belong to a file's last listing (`diff`).
    pub fn access_by_seq(&self) -> Result<Vec<(u64, AccessRow)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, file_id, title, user_id, name, email FROM access ORDER BY seq, rowid",
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    AccessRow {
                        file_id: r.get(1)?,
                        title: r.get(2)?,
                        user_id: r.get(3)?,
                        name: r.get(4)?,
                        email: r.get(5)?,
                    },
                ))
            })
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// Every recorded share row with the `seq` of the `shares` task that listed it, in `seq`
    /// order.
    pub fn shares_by_seq(&self) -> Result<Vec<(u64, ShareRow)>> {
        // A record made before `shares` existed, opened read-only (`diff`), lacks the table:
        // it has no share rows, which is no error.
        let has: bool = self
            .conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'shares'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.fail(e))?;
        if !has {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, file_id, title, subject_type, subject_id, name, email, access, link_url, expires, password_protected, deny_download, is_owner FROM shares ORDER BY seq, rowid",
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    ShareRow {
                        file_id: r.get(1)?,
                        title: r.get(2)?,
                        entry: crate::api::ShareEntry {
                            subject_type: r.get(3)?,
                            subject_id: r.get(4)?,
                            name: r.get(5)?,
                            email: r.get(6)?,
                            access: r.get(7)?,
                            link_url: r.get(8)?,
                            expires: r.get(9)?,
                            password_protected: r.get(10)?,
                            deny_download: r.get(11)?,
                            is_owner: r.get(12)?,
                        },
                    },
                ))
            })
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// Every recorded share row, in `seq` order.
    pub fn shares(&self) -> Result<Vec<ShareRow>> {
        Ok(self.shares_by_seq()?.into_iter().map(|(_, s)| s).collect())
    }

    /// Intents whose task has no final result recorded after them, by `seq`.
    pub fn unsettled_intents(&self) -> Result<HashMap<u64, Intent>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.seq, i.lock, i.was_locked FROM intents i LEFT JOIN results r ON r.seq = i.seq
                 WHERE r.seq IS NULL OR r.outcome IN ('cancelled', 'failed')",
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    Intent {
                        lock: r.get(1)?,
                        was_locked: r.get(2)?,
                    },
                ))
            })
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<HashMap<_, _>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// Files a `restore` already released.
    pub fn released(&self) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT file_id FROM released")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<HashSet<String>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// Folders skipped by `--skip-missing-folders`, with the reason.
    pub fn skipped_folders(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT folder_id, reason FROM skipped_folders ORDER BY folder_id")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.fail(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// Counters summed over every process, with the first start.
    pub fn totals(&self) -> Result<Totals> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(requests),0), COALESCE(SUM(retries),0), COALESCE(SUM(throttled),0), COALESCE(SUM(writes),0), COALESCE(SUM(busy_ms),0), MIN(started_at), COUNT(*) FROM sessions WHERE kind != 'dry_run'",
                [],
                |r| {
                    Ok(Totals {
                        requests: r.get::<_, i64>(0)? as u64,
                        retries: r.get::<_, i64>(1)? as u64,
                        throttled: r.get::<_, i64>(2)? as u64,
                        writes: r.get::<_, i64>(3)? as u64,
                        busy_seconds: r.get::<_, i64>(4)? as f64 / 1000.0,
                        first_start: r.get(5)?,
                        sessions: r.get::<_, i64>(6)? as u64,
                    })
                },
            )
            .map_err(|e| self.fail(e))
    }
}

/// A results row from SQL; `None` when a cell holds a value this version does not know.
fn row_from_sql(r: &rusqlite::Row) -> rusqlite::Result<Option<ResultRow>> {
    let action: String = r.get(3)?;
    let outcome: String = r.get(4)?;
    let kind: Option<String> = r.get(7)?;
    let (Ok(action), Some(outcome)) = (Action::parse(&action), Outcome::parse(&outcome)) else {
        return Ok(None);
    };
    let error_kind = match kind {
        Some(k) => match ErrorKind::parse(&k) {
            Some(k) => Some(k),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(ResultRow {
        seq: r.get::<_, i64>(0)? as u64,
        job: r.get(1)?,
        file_id: r.get(2)?,
        action,
        outcome,
        http_status: r.get(5)?,
        attempts: r.get(6)?,
        error_kind,
        error: r.get(8)?,
        was_locked: r.get(9)?,
        locked: r.get(10)?,
        locked_by: r.get(11)?,
        title: r.get(12)?,
        users: r.get::<_, Option<i64>>(13)?.map(|u| u as usize),
        duration_ms: r.get::<_, i64>(14)? as u64,
        finished_at: r.get(15)?,
        can_lock: r.get(16)?,
        state_from: r
            .get::<_, Option<String>>(17)?
            .as_deref()
            .and_then(StateSource::parse),
    }))
}
