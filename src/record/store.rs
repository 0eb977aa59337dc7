//! Writing the record. Each call is one transaction; the collector batches the results that
//! are ready into one [`Record::commit`] so the record keeps up with fast runs.

use rusqlite::{params, Transaction};

use super::{Record, RecordError, RunState};
use crate::job::{FileId, OnFailure};
use crate::report::{AccessRow, ResultRow, ShareRow};

/// One finished task as recorded: its result, access rows and share rows.
pub type Finished<'a> = (&'a ResultRow, &'a [AccessRow], &'a [ShareRow]);
use crate::runner::plan::Plan;

/// A process's request counters, as they stand (not increments).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests sent.
    pub requests: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Lock/unlock requests sent.
    pub writes: u64,
    /// Milliseconds since the process started its work.
    pub busy_ms: u64,
}

type Result<T> = std::result::Result<T, RecordError>;

impl Record {
    /// Replaces whatever the record held (nothing, or a dry run) with a new plan.
    /// `lines` are the job entries the plan came from ([`super::plan_lines`]), for comparing
    /// a resume's job files.
    pub fn start_plan(&mut self, st: &RunState, plan: &Plan, lines: &[String]) -> Result<()> {
        let state = serde_json::to_string(st).map_err(|e| self.fail(e))?;
        let tx = self.conn.transaction().map_err(|e| fail(&self.dir, e))?;
        let run = || -> rusqlite::Result<()> {
            for t in [
                "tasks",
                "intents",
                "results",
                "access",
                "sessions",
                "skipped_folders",
                "released",
                "entries",
            ] {
                tx.execute(&format!("DELETE FROM {t}"), [])?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('state', ?1)",
                [&state],
            )?;
            let mut ins = tx.prepare(
                "INSERT INTO tasks (seq, job, file_id, action, on_failure, grp, title, folder, page_start) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for t in &plan.tasks {
                let fid = t.file.to_string();
                let page = plan.pages.get(&t.file);
                ins.execute(params![
                    t.seq as i64,
                    &*t.job,
                    fid,
                    t.action.as_str(),
                    match t.on_failure {
                        OnFailure::SkipRest => "skip_rest",
                        OnFailure::Continue => "continue",
                    },
                    plan.groups.get(&fid),
                    plan.titles.get(&t.file),
                    page.map(|p| p.folder.to_string()),
                    page.map(|p| p.start as i64),
                ])?;
            }
            let mut ins = tx.prepare("INSERT INTO entries (n, line) VALUES (?1, ?2)")?;
            for (n, l) in lines.iter().enumerate() {
                ins.execute(params![n as i64 + 1, l])?;
            }
            Ok(())
        };
        run().map_err(|e| fail(&self.dir, e))?;
        tx.commit().map_err(|e| fail(&self.dir, e))
    }

    /// Starts this process's entry (`run`, `resume`, `restore`, `dry_run`): its counters and
    /// how it ended are recorded there.
    pub fn begin(&mut self, kind: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO sessions (kind, started_at) VALUES (?1, ?2)",
                params![kind, crate::now_rfc3339()],
            )
            .map_err(|e| self.fail(e))?;
        self.session = self.conn.last_insert_rowid();
        Ok(())
    }

    /// Records that a lock (`lock = true`) or unlock request for task `seq` is about to be sent,
    /// with the state known before it. Committed before the request leaves.
    pub fn intent(
        &mut self,
        seq: u64,
        file: &FileId,
        lock: bool,
        was_locked: Option<bool>,
        c: &Counters,
    ) -> Result<()> {
        self.check_present()?;
        let session = self.session;
        let tx = self.conn.transaction().map_err(|e| fail(&self.dir, e))?;
        tx.execute(
            "INSERT OR REPLACE INTO intents (seq, file_id, lock, was_locked, at, session) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![seq as i64, file.to_string(), lock, was_locked, crate::now_rfc3339(), session],
        )
        .and_then(|_| write_counters(&tx, session, c))
        .map_err(|e| fail(&self.dir, e))?;
        tx.commit().map_err(|e| fail(&self.dir, e))
    }

    /// Records finished tasks, each result with its access and share rows, and the counters,
    /// in one transaction. A later result for the same `seq` replaces the earlier one.
    pub fn commit(&mut self, rows: &[Finished<'_>], c: &Counters) -> Result<()> {
        self.check_present()?;
        let session = self.session;
        let tx = self.conn.transaction().map_err(|e| fail(&self.dir, e))?;
        write_rows(&tx, rows, session)
            .and_then(|()| write_counters(&tx, session, c))
            .map_err(|e| fail(&self.dir, e))?;
        tx.commit().map_err(|e| fail(&self.dir, e))
    }

    /// Records how this process ended.
    pub fn end(&mut self, exit_code: i32, stop_reason: Option<&str>, c: &Counters) -> Result<()> {
        write_counters(&self.conn, self.session, c).map_err(|e| self.fail(e))?;
        self.conn
            .execute(
                "UPDATE sessions SET finished_at = ?1, exit_code = ?2, stop_reason = ?3 WHERE id = ?4",
                params![crate::now_rfc3339(), exit_code, stop_reason, self.session],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records a folder that `--skip-missing-folders` skipped.
    pub fn skipped_folder(&mut self, folder: &str, reason: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO skipped_folders (folder_id, reason) VALUES (?1, ?2)",
                params![folder, reason],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Records that `restore` (reporting into `by`) released these files of this run.
    pub fn release(&mut self, files: &[String], by: &str) -> Result<()> {
        let tx = self.conn.transaction().map_err(|e| fail(&self.dir, e))?;
        let run = || -> rusqlite::Result<()> {
            let mut ins = tx
                .prepare("INSERT OR REPLACE INTO released (file_id, at, by) VALUES (?1, ?2, ?3)")?;
            let now = crate::now_rfc3339();
            for f in files {
                ins.execute(params![f, now, by])?;
            }
            Ok(())
        };
        run().map_err(|e| fail(&self.dir, e))?;
        tx.commit().map_err(|e| fail(&self.dir, e))
    }
}

fn fail(dir: &std::path::Path, e: rusqlite::Error) -> RecordError {
    RecordError::Failed(format!("{}: {e}", dir.join(super::RUN_DB).display()))
}

fn write_counters(conn: &rusqlite::Connection, session: i64, c: &Counters) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sessions SET requests = ?1, retries = ?2, throttled = ?3, writes = ?4, busy_ms = ?5 WHERE id = ?6",
        params![c.requests as i64, c.retries as i64, c.throttled as i64, c.writes as i64, c.busy_ms as i64, session],
    )?;
    Ok(())
}

fn write_rows(tx: &Transaction, rows: &[Finished<'_>], session: i64) -> rusqlite::Result<()> {
    let mut res = tx.prepare_cached(
        "INSERT OR REPLACE INTO results (seq, job, file_id, action, outcome, http_status, attempts, error_kind, error, was_locked, locked, locked_by, title, users, duration_ms, finished_at, can_lock, session, state_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?;
    let mut del = tx.prepare_cached("DELETE FROM access WHERE seq = ?1")?;
    let mut acc = tx.prepare_cached(
        "INSERT INTO access (seq, file_id, title, user_id, name, email) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (r, access, shares) in rows {
        res.execute(params![
            r.seq as i64,
            r.job,
            r.file_id,
            r.action.as_str(),
            r.outcome.as_str(),
            r.http_status,
            r.attempts,
            r.error_kind.map(|k| k.as_str()),
            r.error,
            r.was_locked,
            r.locked,
            r.locked_by,
            r.title,
            r.users.map(|u| u as i64),
            r.duration_ms as i64,
            r.finished_at,
            r.can_lock,
            session,
            r.state_from.map(|s| s.as_str()),
        ])?;
        del.execute([r.seq as i64])?;
        for a in access.iter() {
            acc.execute(params![
                r.seq as i64,
                a.file_id,
                a.title,
                a.user_id,
                a.name,
                a.email
            ])?;
        }
        write_shares(tx, r.seq, shares)?;
    }
    Ok(())
}

/// A task's share rows, replacing any an earlier attempt at the same `seq` recorded.
fn write_shares(tx: &Transaction, seq: u64, shares: &[ShareRow]) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM shares WHERE seq = ?1")?
        .execute([seq as i64])?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO shares (seq, file_id, title, subject_type, subject_id, name, email, access, link_url, expires, password_protected, deny_download, is_owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for s in shares {
        let e = &s.entry;
        ins.execute(params![
            seq as i64,
            s.file_id,
            s.title,
            e.subject_type,
            e.subject_id,
            e.name,
            e.email,
            e.access,
            e.link_url,
            e.expires,
            e.password_protected,
            e.deny_download,
            e.is_owner
        ])?;
    }
    Ok(())
}
