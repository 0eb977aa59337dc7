//! `summary.json` (for scripts) and `summary.md` (for a person) from the final rows: counts per
//! outcome and per action, the run's request figures, failures, files locked by others or not
//! lockable, and who has access per room.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{AccessRow, Outcome, ResultRow};
use crate::api::ErrorKind;
use crate::record::{files, PortalInfo};

/// Run-level figures that are not in the rows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunStats {
    /// HTTP requests sent (every attempt, state checks, listings and the key check included).
    pub requests: u64,
    /// Attempts after the first one.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited_429: u64,
    /// Seconds spent running (summed over resumed runs).
    pub busy_seconds: f64,
}

/// Task count, counts per outcome, and counts per action then outcome, keyed by the names
/// summary.json uses.
pub type Counted = (
    u64,
    BTreeMap<String, u64>,
    BTreeMap<String, BTreeMap<String, u64>>,
);

/// The `summary.json` document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Run name: the YAML `name:`, or the job file's stem (`<name>-restore` for a restore).
    pub name: String,
    /// Portal base URL (never the key).
    pub portal: String,
    /// Total tasks in the run.
    pub tasks: u64,
    /// Tasks per outcome, keyed by the `outcome` column's value; outcomes no task had are
    /// absent.
    pub outcomes: BTreeMap<String, u64>,
    /// Count per action, then per outcome.
    pub actions: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests, retries, 429s over all runs into this directory.
    #[serde(flatten)]
    pub stats: RunStats,
    /// Requests per second while running (requests / busy_seconds).
    pub achieved_rate: f64,
    /// First start (RFC 3339 UTC).
    pub started_at: String,
    /// Last end (RFC 3339 UTC).
    pub finished_at: String,
    /// Seconds from first start to last end.
    pub duration_seconds: f64,
    /// Exit code of the last run.
    pub exit_code: i32,
    /// Why the last run stopped early, if it did.
    pub stop_reason: Option<String>,
    /// How to continue when work is left.
    pub resume_command: Option<String>,
    /// How many times this directory was resumed.
    pub resumes: u32,
    /// Dry run (nothing was executed).
    pub dry_run: bool,
    /// Files the portal said the caller may not lock (`security.Lock: false`).
    #[serde(default)]
    pub cannot_lock: Vec<String>,
    /// Folders `--skip-missing-folders` skipped, with why.
    #[serde(default)]
    pub skipped_folders: Vec<SkippedFolder>,
    /// The server version, the caller, the kind of credential, an API key's expiry and the
    /// warnings about it, as the last start found them.
    #[serde(flatten)]
    pub portal_info: PortalInfo,
}

/// A folder target that was skipped.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SkippedFolder {
    /// The folder or room ID.
    pub folder_id: String,
    /// What the portal said.
    pub reason: String,
}

impl Summary {
    /// Counts rows into a summary; the caller fills in the rest.
    pub fn count(rows: &[ResultRow]) -> Counted {
        let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
        let mut actions: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for r in rows {
            *outcomes.entry(r.outcome.as_str().into()).or_default() += 1;
            *actions
                .entry(r.action.as_str().into())
                .or_default()
                .entry(r.outcome.as_str().into())
                .or_default() += 1;
        }
        (rows.len() as u64, outcomes, actions)
    }

    /// A summary of `rows` with every run-level field at its neutral value; callers set the
    /// rest with struct-update syntax.
    pub fn from_rows(name: &str, portal: &str, rows: &[ResultRow]) -> Summary {
        let (tasks, outcomes, actions) = Summary::count(rows);
        let now = crate::now_rfc3339();
        Summary {
            name: name.to_string(),
            portal: portal.to_string(),
            tasks,
            outcomes,
            actions,
            stats: RunStats::default(),
            achieved_rate: 0.0,
            started_at: now.clone(),
            finished_at: now,
            duration_seconds: 0.0,
            exit_code: 0,
            stop_reason: None,
            resume_command: None,
            resumes: 0,
            dry_run: false,
            cannot_lock: cannot_lock(rows),
            skipped_folders: Vec::new(),
            portal_info: PortalInfo::default(),
        }
    }

    /// Tasks that ended with `o`.
    pub fn outcome(&self, o: Outcome) -> u64 {
        self.outcomes.get(o.as_str()).copied().unwrap_or(0)
    }

    /// Writes `summary.json` (a new file renamed into place).
    pub fn write_json(&self, dir: &Path) -> io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        let path = dir.join(super::SUMMARY_JSON);
        files::replace(&path, text.as_bytes()).map_err(|e| super::export::with_path(&path, e))
    }
}

/// Files whose answer said `security.Lock: false`, in `seq` order, each once.
fn cannot_lock(rows: &[ResultRow]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    rows.iter()
        .filter(|r| r.can_lock == Some(false) && seen.insert(r.file_id.clone()))
        .map(|r| r.file_id.clone())
        .collect()
}

/// Folders skipped by `--skip-missing-folders`.
fn md_skipped(o: &mut String, s: &Summary) {
    if s.skipped_folders.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n## Skipped folders (--skip-missing-folders)\n\n| folder | why |\n|---|---|"
    );
    for f in &s.skipped_folders {
        let _ = writeln!(o, "| {} | {} |", md(&f.folder_id), md(&f.reason));
    }
}

/// Markdown table cell: no pipes or newlines, no control characters.
pub(super) fn md(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('|', "\\|")
}

/// Writes `summary.md`. `groups` maps a file ID to the room/folder it was found in (for
/// "users with access per room"); files listed by ID go under "files listed by ID".
pub fn write_markdown(
    dir: &Path,
    s: &Summary,
    rec: super::export::Exported<'_>,
    groups: &HashMap<String, String>,
) -> io::Result<()> {
    let (rows, access) = (rec.rows, rec.access);
    let mut o = String::new();
    md_header(&mut o, s);
    md_counts(&mut o, s);
    md_failures(&mut o, rows);
    let me = s.portal_info.caller.as_ref().map(|c| c.name.as_str());
    md_locked_by_holder(&mut o, rows, me);
    md_cannot_lock(&mut o, s, rows);
    md_access(&mut o, access, groups);
    super::shares::md_external_links(&mut o, rec.shares, MAX_LIST);
    md_skipped(&mut o, s);
    let path = dir.join(super::SUMMARY_MD);
    files::replace(&path, o.as_bytes()).map_err(|e| super::export::with_path(&path, e))
}

/// Longest list a section shows; the rest is in the CSV files.
const MAX_LIST: usize = 500;

/// The title and the run's figures: portal, times, requests, exit code, stop and resume.
fn md_header(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "# {} — docspace-batch report\n", md(&s.name));
    let _ = writeln!(o, "- Portal: {}", md(&s.portal));
    md_portal_info(o, &s.portal_info);
    let _ = writeln!(
        o,
        "- Started {}, finished {} ({:.1} s)",
        s.started_at, s.finished_at, s.duration_seconds
    );
    if s.dry_run {
        // Nothing ran: a rate would be a meaningless 0.0.
        let _ = writeln!(
            o,
            "- Dry run: nothing was written ({} requests to plan)",
            s.stats.requests
        );
    } else {
        let _ = writeln!(
            o,
            "- Requests: {} (retries {}, 429 answers {}), {:.1} requests/s",
            s.stats.requests, s.stats.retries, s.stats.rate_limited_429, s.achieved_rate
        );
    }
    let _ = writeln!(o, "- Exit code: {}", s.exit_code);
    if let Some(r) = &s.stop_reason {
        let _ = writeln!(o, "- Stopped early: {}", md(r));
    }
    if let Some(c) = &s.resume_command {
        let _ = writeln!(o, "- Work is left. Resume with: `{}`", c);
    }
}

/// The server, the caller and the credential, when the run read them.
fn md_portal_info(o: &mut String, p: &PortalInfo) {
    if let Some(v) = &p.server_version {
        let _ = writeln!(o, "- Server: DocSpace {}", md(v));
    }
    if let Some(c) = &p.caller {
        let _ = writeln!(o, "- Caller: {} ({})", md(&c.name), md(&c.id));
    }
    let kind = match p.credential.as_deref() {
        Some("api_key") => "API key",
        Some("token") => "session token",
        Some("password") => "user and password (one sign-in)",
        _ => return,
    };
    let expiry = match (&p.key_expires_at, &p.key_permissions) {
        (Some(at), _) => format!(", expires {}", md(at)),
        (None, Some(_)) => ", no expiry".to_string(),
        (None, None) => String::new(),
    };
    let perms = p
        .key_permissions
        .as_ref()
        .map(|l| format!(", permissions {}", md(&l.join(" "))))
        .unwrap_or_default();
    let _ = writeln!(o, "- Credential: {kind}{expiry}{perms}");
    for w in &p.credential_warnings {
        let _ = writeln!(o, "- **Warning:** {}", md(w));
    }
}

/// Tasks per outcome (outcomes that occurred), then a table of action × outcome.
fn md_counts(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\n## Counts\n\n| outcome | tasks |\n|---|---:|");
    for oc in Outcome::ALL.into_iter().filter(|&oc| s.outcome(oc) > 0) {
        let _ = writeln!(o, "| {} | {} |", oc.as_str(), s.outcome(oc));
    }
    let _ = writeln!(o, "| **total** | {} |", s.tasks);
    let _ = writeln!(
        o,
        "\n| action | {} |",
        Outcome::ALL.map(|x| x.as_str()).join(" | ")
    );
    let _ = writeln!(o, "|---|{}", "---:|".repeat(Outcome::ALL.len()));
    for (a, m) in &s.actions {
        let cells: Vec<String> = Outcome::ALL
            .iter()
            .map(|x| m.get(x.as_str()).copied().unwrap_or(0).to_string())
            .collect();
        let _ = writeln!(o, "| {a} | {} |", cells.join(" | "));
    }
}

/// Every failed task with its kind, HTTP status and reason; omitted when nothing failed.
fn md_failures(o: &mut String, rows: &[ResultRow]) {
    let failed: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Failures ({})\n\n| seq | file | action | kind | HTTP | reason |\n|---:|---|---|---|---:|---|", failed.len());
    for r in failed.iter().take(MAX_LIST) {
        let status = r.http_status.map(|x| x.to_string()).unwrap_or_default();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            r.seq,
            md(&r.file_id),
            r.action,
            r.error_kind.map_or("", ErrorKind::as_str),
            status,
            md(&r.error)
        );
    }
    if failed.len() > MAX_LIST {
        let _ = writeln!(o, "\n…and {} more in results.csv.", failed.len() - MAX_LIST);
    }
}

/// Locked files grouped by holder: the caller's own first ("you (Name)"), then each other
/// user by name, each file once (its last row).
fn md_locked_by_holder(o: &mut String, rows: &[ResultRow], me: Option<&str>) {
    let locked: BTreeMap<&str, &ResultRow> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::LockedByOther || r.locked == Some(true))
        .map(|r| (r.file_id.as_str(), r))
        .collect();
    if locked.is_empty() {
        return;
    }
    // Without a holder name the lock is the caller's: the portal names only other holders.
    let mine = |r: &ResultRow| r.locked_by.is_empty() || Some(r.locked_by.as_str()) == me;
    let mut groups: Vec<(String, Vec<&ResultRow>)> = Vec::new();
    let own: Vec<&ResultRow> = locked.values().copied().filter(|r| mine(r)).collect();
    if !own.is_empty() {
        groups.push((format!("you ({})", me.unwrap_or("the caller")), own));
    }
    let mut others: BTreeMap<&str, Vec<&ResultRow>> = BTreeMap::new();
    for r in locked.values().copied().filter(|r| !mine(r)) {
        others.entry(r.locked_by.as_str()).or_default().push(r);
    }
    groups.extend(others.into_iter().map(|(k, v)| (k.to_string(), v)));
    let _ = writeln!(o, "\n## Locked files by holder ({})", locked.len());
    for (holder, files) in groups {
        let _ = writeln!(
            o,
            "\n### {} ({})\n\n| file | title |\n|---|---|",
            md(&holder),
            files.len()
        );
        for r in files.iter().take(MAX_LIST) {
            let _ = writeln!(o, "| {} | {} |", md(&r.file_id), md(&r.title));
        }
    }
}

/// Files whose answer said `security.Lock: false`, with titles from the rows.
fn md_cannot_lock(o: &mut String, s: &Summary, rows: &[ResultRow]) {
    if s.cannot_lock.is_empty() {
        return;
    }
    let titles: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r.file_id.as_str(), r.title.as_str()))
        .collect();
    let _ = writeln!(
        o,
        "\n## Files you may not lock ({})\n\nThe portal answered `security.Lock: false`: lock/unlock with this key fails (403).\n\n| file | title |\n|---|---|",
        s.cannot_lock.len()
    );
    for id in s.cannot_lock.iter().take(MAX_LIST) {
        let _ = writeln!(
            o,
            "| {} | {} |",
            md(id),
            md(titles.get(id.as_str()).copied().unwrap_or(""))
        );
    }
}

/// Users from `access.csv` per room/folder, each with the number of its files they can reach.
fn md_access(o: &mut String, access: &[AccessRow], groups: &HashMap<String, String>) {
    if access.is_empty() {
        return;
    }
    let mut per_group: BTreeMap<String, BTreeMap<(String, String), BTreeSet<String>>> =
        BTreeMap::new();
    for a in access {
        let g = groups
            .get(&a.file_id)
            .cloned()
            .unwrap_or_else(|| "files listed by ID".to_string());
        per_group
            .entry(g)
            .or_default()
            .entry((a.name.clone(), a.email.clone()))
            .or_default()
            .insert(a.file_id.clone());
    }
    let _ = writeln!(o, "\n## Users with access\n");
    for (g, users) in &per_group {
        let _ = writeln!(
            o,
            "### {}\n\n| user | email | files |\n|---|---|---:|",
            md(g)
        );
        for ((name, email), files) in users {
            let _ = writeln!(o, "| {} | {} | {} |", md(name), md(email), files.len());
        }
        let _ = writeln!(o);
    }
}
