//! Report files: `results.csv` and `access.csv` streamed as tasks finish, then `results.csv`
//! rewritten in `seq` order by atomic rename, plus `summary.json` and `summary.md`
//! ([`summary`]). The run's own record (`run.json`, `tasks.csv`) is [`crate::record`].
//!
//! Every text cell goes through [`cell`] (formula-injection escaping); numbers are written as
//! they are. Rows reach the disk in batches: the collector writes every row that is ready, then
//! flushes once, before it waits for more, so a crash loses no row it had received.

pub mod summary;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::api::ErrorKind;
use crate::job::{Action, FileId};

/// `results.csv` header. Readers go by position as well as by name, so the order is fixed and
/// a new column goes last.
pub const RESULTS_HEADER: [&str; 16] = [
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
        }
    }

    fn write<W: Write>(&self, w: &mut csv::Writer<W>) -> csv::Result<()> {
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
        ])
    }

    /// Reads a row back (cells as written; escaping is kept, which is harmless for IDs). A row
    /// whose action, outcome or error kind is not one we write is damaged: `None`.
    pub fn from_record(r: &csv::StringRecord) -> Option<ResultRow> {
        if r.len() != RESULTS_HEADER.len() {
            return None;
        }
        let b = |s: &str| match s {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        Some(ResultRow {
            seq: r[0].parse().ok()?,
            job: r[1].to_string(),
            file_id: r[2].to_string(),
            action: Action::parse(&r[3]).ok()?,
            outcome: Outcome::parse(&r[4])?,
            http_status: r[5].parse().ok(),
            attempts: r[6].parse().unwrap_or(0),
            error_kind: match &r[7] {
                "" => None,
                k => Some(ErrorKind::parse(k)?),
            },
            error: r[8].to_string(),
            was_locked: b(&r[9]),
            locked: b(&r[10]),
            locked_by: r[11].to_string(),
            title: r[12].to_string(),
            users: r[13].parse().ok(),
            duration_ms: r[14].parse().unwrap_or(0),
            finished_at: r[15].to_string(),
            can_lock: None,
        })
    }
}

/// Streams rows to `results.csv` and `access.csv`. [`ReportWriter::result`] and
/// [`ReportWriter::access`] flush at once; the collector uses the `_unflushed` forms for every
/// row it has at hand and then [`ReportWriter::flush`] once, so a batch costs one write and
/// every row is on disk before the collector waits for the next.
pub struct ReportWriter {
    dir: PathBuf,
    results: csv::Writer<BufWriter<File>>,
    access: csv::Writer<BufWriter<File>>,
}

impl ReportWriter {
    /// Opens (creating or appending) the two CSV files in `dir`. Headers are written to new or
    /// empty files; a torn last line left by a hard kill is cut off before appending.
    pub fn open(dir: &Path) -> io::Result<ReportWriter> {
        std::fs::create_dir_all(dir)?;
        let results = open_csv(&dir.join(RESULTS), &RESULTS_HEADER)?;
        let access = open_csv(&dir.join(ACCESS), &ACCESS_HEADER)?;
        Ok(ReportWriter {
            dir: dir.to_path_buf(),
            results,
            access,
        })
    }

    /// The report directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends and flushes one result row.
    pub fn result(&mut self, row: &ResultRow) -> io::Result<()> {
        self.result_unflushed(row)?;
        self.results.flush()
    }

    /// Appends one result row to the buffer; [`ReportWriter::flush`] writes it out. For a
    /// caller that has several finished rows at hand and flushes once after them.
    pub fn result_unflushed(&mut self, row: &ResultRow) -> io::Result<()> {
        row.write(&mut self.results).map_err(io::Error::other)
    }

    /// Writes every buffered row of both files to disk.
    pub fn flush(&mut self) -> io::Result<()> {
        self.results.flush()?;
        self.access.flush()
    }

    /// Appends and flushes access rows.
    pub fn access(&mut self, rows: &[AccessRow]) -> io::Result<()> {
        self.access_unflushed(rows)?;
        self.access.flush()
    }

    /// Appends access rows to the buffer; see [`ReportWriter::result_unflushed`].
    pub fn access_unflushed(&mut self, rows: &[AccessRow]) -> io::Result<()> {
        for r in rows {
            self.access
                .write_record([
                    &*cell(&r.file_id),
                    &cell(&r.title),
                    &cell(&r.user_id),
                    &cell(&r.name),
                    &cell(&r.email),
                ])
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    /// Flushes and closes, then rewrites `results.csv` in `seq` order (last row per `seq` wins)
    /// through a temporary file and an atomic rename. Returns the final rows.
    pub fn finish(mut self) -> io::Result<Vec<ResultRow>> {
        self.results.flush()?;
        self.access.flush()?;
        let dir = self.dir.clone();
        drop(self);
        let rows = read_results(&dir)?;
        let tmp = dir.join(".results.csv.tmp");
        {
            let mut w = csv::Writer::from_writer(BufWriter::new(File::create(&tmp)?));
            w.write_record(RESULTS_HEADER).map_err(io::Error::other)?;
            for r in &rows {
                r.write(&mut w).map_err(io::Error::other)?;
            }
            let mut inner = w
                .into_inner()
                .map_err(|e| io::Error::other(e.to_string()))?;
            inner.flush()?;
            inner.get_ref().sync_all()?;
        }
        std::fs::rename(&tmp, dir.join(RESULTS))?;
        Ok(rows)
    }
}

fn open_csv(path: &Path, header: &[&str]) -> io::Result<csv::Writer<BufWriter<File>>> {
    let existing = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if existing > 0 {
        truncate_torn_tail(path)?;
    }
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let len = f.metadata()?.len();
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(BufWriter::new(f));
    if len == 0 {
        w.write_record(header).map_err(io::Error::other)?;
        w.flush()?;
    }
    Ok(w)
}

/// Cuts a partial last line (no trailing newline) left by a kill mid-write.
fn truncate_torn_tail(path: &Path) -> io::Result<()> {
    let data = std::fs::read(path)?;
    if data.last() == Some(&b'\n') {
        return Ok(());
    }
    let keep = data
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(keep as u64)?;
    Ok(())
}

/// Reads `results.csv` of `dir`: one row per `seq` (the last written wins), sorted by `seq`.
/// Unreadable lines (a torn last line) are skipped.
pub fn read_results(dir: &Path) -> io::Result<Vec<ResultRow>> {
    let path = dir.join(RESULTS);
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(io::BufReader::new(f));
    let mut by_seq: BTreeMap<u64, ResultRow> = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match rd.read_record(&mut rec) {
            Ok(true) => {
                if let Some(row) = ResultRow::from_record(&rec) {
                    by_seq.insert(row.seq, row);
                }
            }
            Ok(false) => break,
            Err(_) => continue,
        }
    }
    Ok(by_seq.into_values().collect())
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
    fn rewrite_sorts_dedupes_and_survives_a_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let mut w = ReportWriter::open(d.path()).unwrap();
        let f = FileId::Int(7);
        for (seq, out) in [(2, Outcome::Failed), (1, Outcome::Ok), (2, Outcome::Ok)] {
            w.result(&ResultRow::new(seq, "j", &f, Action::Lock, out))
                .unwrap();
        }
        drop(w);
        // a torn line, as after kill -9
        let p = d.path().join(RESULTS);
        let mut data = std::fs::read(&p).unwrap();
        data.extend_from_slice(b"3,j,7,lo");
        std::fs::write(&p, data).unwrap();
        let mut w = ReportWriter::open(d.path()).unwrap();
        w.result(&ResultRow::new(3, "=j", &f, Action::Lock, Outcome::Ok))
            .unwrap();
        let rows = w.finish().unwrap();
        assert_eq!(
            rows.iter().map(|r| (r.seq, r.outcome)).collect::<Vec<_>>(),
            [(1, Outcome::Ok), (2, Outcome::Ok), (3, Outcome::Ok)]
        );
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("seq,job,file_id,action,outcome,http_status,attempts,error_kind,error,was_locked,locked,locked_by,title,users,duration_ms,finished_at\n"));
        assert!(text.contains("3,'=j,7,lock,ok"), "{text}");
        assert_eq!(text.lines().count(), 4);
    }

    #[test]
    fn a_row_reads_back_as_written_and_unknown_cells_are_refused() {
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
        let rec = |t: &str| {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(t.as_bytes())
                .records()
                .next()
                .unwrap()
                .unwrap()
        };
        assert_eq!(ResultRow::from_record(&rec(&text)), Some(row));
        for bad in [
            text.replace(",unlock,", ",relock,"),
            text.replace(",failed,", ",gone,"),
            text.replace(",still_locked,", ",melted,"),
        ] {
            assert_eq!(ResultRow::from_record(&rec(&bad)), None, "{bad}");
        }
    }
}
