//! One run's record reduced to each file's final known state.
//!
//! Results are taken in the order they happened (`finished_at`, then `seq`: a task re-run by
//! a resume finished later and knows better), and each fact comes from the last result that
//! carried it: the lock state from the last answer that gave one, the title from the last
//! non-empty one (else the folder listing's), the users with access from the last successful
//! `protectusers` (a file nobody else can reach has an empty, but known, list), the share
//! entries from the last successful `shares`. Whether the
//! file exists comes from the last result that settled it: a success, or a permanent failure,
//! of which only `not_found` says it is gone.

use std::collections::{BTreeMap, HashMap};

use super::{FileFacts, List, Presence, RunFacts, Scalar};
use crate::api::ErrorKind;
use crate::job::Action;
use crate::report::{AccessRow, Outcome, ResultRow, ShareRow};

/// What the results say about one file, before it becomes [`FileFacts`].
#[derive(Default)]
struct Seen {
    /// `Some(false)` when the last settling result was `not_found`.
    exists: Option<bool>,
    lock: Option<(bool, String)>,
    title: Option<String>,
    /// The `seq` of the last successful `protectusers`.
    access_seq: Option<u64>,
    /// The `seq` of the last successful `shares`.
    shares_seq: Option<u64>,
}

/// The facts of a run: `planned` lists every file of the plan with its title from the folder
/// listing (if any), `results`, `access` and `shares` (with the `seq` that listed each row)
/// are the record's.
pub fn facts<'a>(
    planned: impl IntoIterator<Item = (String, Option<&'a str>)>,
    results: &[ResultRow],
    access: &[(u64, AccessRow)],
    shares: &[(u64, ShareRow)],
) -> RunFacts {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut listed: HashMap<String, &str> = HashMap::new();
    for (id, title) in planned {
        if let Some(t) = title.filter(|t| !t.is_empty()) {
            listed.insert(id.clone(), t);
        }
        seen.entry(id).or_default();
    }
    let mut order: Vec<&ResultRow> = results.iter().collect();
    order.sort_by(|a, b| (&a.finished_at, a.seq).cmp(&(&b.finished_at, b.seq)));
    for r in order {
        let s = seen.entry(r.file_id.clone()).or_default();
        if let Some(exists) = settles(r) {
            s.exists = Some(exists);
        }
        if let Some(locked) = r.locked {
            let holder = if locked {
                r.locked_by.clone()
            } else {
                String::new()
            };
            s.lock = Some((locked, holder));
        }
        if !r.title.is_empty() {
            s.title = Some(r.title.clone());
        }
        if r.action == Action::ProtectUsers && r.outcome == Outcome::Ok {
            s.access_seq = Some(r.seq);
        }
        if r.action == Action::Shares && r.outcome == Outcome::Ok {
            s.shares_seq = Some(r.seq);
        }
    }
    let mut by_seq: HashMap<u64, BTreeMap<String, String>> = HashMap::new();
    for (seq, a) in access {
        by_seq
            .entry(*seq)
            .or_default()
            .insert(a.user_id.clone(), person(a));
    }
    let mut share_seq: HashMap<u64, BTreeMap<String, String>> = HashMap::new();
    for (seq, s) in shares {
        let key = format!("{}:{}", s.entry.subject_type, s.entry.subject_id);
        share_seq.entry(*seq).or_default().insert(key, shown(s));
    }
    let files = seen
        .into_iter()
        .map(|(id, s)| {
            let p = if s.exists == Some(false) {
                Presence::NotFound
            } else {
                let listed = listed.get(&id).copied();
                let mut f = file_facts(&s, listed, &mut by_seq);
                if let Some(seq) = s.shares_seq {
                    let entries = share_seq.remove(&seq).unwrap_or_default();
                    f.lists.insert(List::Shares, entries);
                }
                Presence::Present(f)
            };
            (id, p)
        })
        .collect();
    RunFacts { files }
}

fn file_facts(
    s: &Seen,
    listed: Option<&str>,
    by_seq: &mut HashMap<u64, BTreeMap<String, String>>,
) -> FileFacts {
    let mut f = FileFacts::default();
    if let Some((locked, holder)) = s.lock.clone() {
        let state = if locked { "locked" } else { "unlocked" };
        f.scalars.insert(Scalar::Lock, state.into());
        f.scalars.insert(Scalar::LockedBy, holder);
    }
    if let Some(t) = s.title.clone().or_else(|| listed.map(str::to_string)) {
        f.scalars.insert(Scalar::Title, t);
    }
    if let Some(seq) = s.access_seq {
        f.lists
            .insert(List::Access, by_seq.remove(&seq).unwrap_or_default());
    }
    f
}

/// Whether `r` settles that the file exists: a success does, a permanent failure does
/// (`not_found` saying it does not); a transient failure, a skip or a cancel says nothing.
fn settles(r: &ResultRow) -> Option<bool> {
    match r.outcome {
        Outcome::Ok | Outcome::Unchanged | Outcome::LockedByOther => Some(true),
        Outcome::Failed => match r.error_kind {
            Some(ErrorKind::NotFound) => Some(false),
            Some(k) if k.is_permanent() => Some(true),
            _ => None,
        },
        Outcome::Skipped | Outcome::Cancelled | Outcome::Planned => None,
    }
}

/// An access entry as shown: `Name <email>`, or the name alone.
fn person(a: &AccessRow) -> String {
    if a.email.is_empty() {
        a.name.clone()
    } else {
        format!("{} <{}>", a.name, a.email)
    }
}

/// A share entry as shown: who (`Name <email>`, a group's or link's name, a link's URL),
/// then its access and a link's settings; a change of any of them is a `share_changed`.
fn shown(s: &ShareRow) -> String {
    let e = &s.entry;
    let who = match (e.email.is_empty(), e.link_url.is_empty()) {
        (false, _) => format!("{} <{}>", e.name, e.email),
        (true, false) => format!("{} {}", e.name, e.link_url),
        (true, true) => e.name.clone(),
    };
    let mut out = format!("{} {who}: {}", e.subject_type, e.access);
    if !e.expires.is_empty() {
        out.push_str(&format!(", expires {}", e.expires));
    }
    if e.password_protected {
        out.push_str(", password");
    }
    if e.deny_download {
        out.push_str(", download denied");
    }
    if e.is_owner {
        out.push_str(", owner");
    }
    out
}
