//! `diff`: what changed between two runs, file by file. Each run is reduced to a table of
//! per-file facts ([`RunFacts`]): single values ([`Scalar`]: lock state, holder, title) and
//! keyed lists ([`List`]: users with access, share entries), and the two
//! tables are compared generically ([`compare`]), never by `seq`, so runs of different jobs,
//! shards or orders compare file by file.
//!
//! A fact a run does not know (its task was cancelled, failed on the way, or never asked) is
//! not compared: `diff` reports what both runs saw, never a guess. A file the portal said does
//! not exist (`not_found`) counts as absent from that run.

mod facts;
pub mod format;
pub mod load;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use facts::facts;

/// What one row says changed: the `what` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum What {
    /// Locked in one run, unlocked in the other (`locked`/`unlocked`).
    Lock,
    /// Another holder's name (empty when unlocked, or when the caller held it unnamed).
    LockedBy,
    /// A user who can access the file now and could not before.
    AccessAdded,
    /// A user who could access the file before and cannot now.
    AccessRemoved,
    /// A share entry (user, group or link) that is new.
    ShareAdded,
    /// A share entry that is gone.
    ShareRemoved,
    /// A share entry whose access, expiry or link settings changed.
    ShareChanged,
    /// The file was renamed.
    Title,
    /// The file is in the old run only (left the job, or the portal no longer has it).
    OnlyInOld,
    /// The file is in the new run only.
    OnlyInNew,
}

impl What {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            What::Lock => "lock",
            What::LockedBy => "locked_by",
            What::AccessAdded => "access_added",
            What::AccessRemoved => "access_removed",
            What::ShareAdded => "share_added",
            What::ShareRemoved => "share_removed",
            What::ShareChanged => "share_changed",
            What::Title => "title",
            What::OnlyInOld => "only_in_old",
            What::OnlyInNew => "only_in_new",
        }
    }
}

impl Serialize for What {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A fact that holds one value per file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scalar {
    /// `locked` or `unlocked`.
    Lock,
    /// The holder's display name while locked; empty when unlocked.
    LockedBy,
    /// The file's title.
    Title,
}

impl Scalar {
    fn what(self) -> What {
        match self {
            Scalar::Lock => What::Lock,
            Scalar::LockedBy => What::LockedBy,
            Scalar::Title => What::Title,
        }
    }
}

/// A fact that is a list of entries per file, compared by key: an entry's key says who or
/// what it is (a user ID; for shares, the subject), its value how it is shown (and, for lists
/// with a `changed` word, what is compared).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum List {
    /// Users with access (`protectusers`): key user ID, value `Name <email>`.
    Access,
    /// Share entries (`shares`): key subject type and ID, value the entry as shown (who, access,
    /// expiry, password, download), so any change of its settings is a `share_changed`.
    Shares,
}

impl List {
    fn added(self) -> What {
        match self {
            List::Access => What::AccessAdded,
            List::Shares => What::ShareAdded,
        }
    }

    fn removed(self) -> What {
        match self {
            List::Access => What::AccessRemoved,
            List::Shares => What::ShareRemoved,
        }
    }

    /// The word for an entry present in both runs with another value; `None` when a changed
    /// value is not a change of the list (a user renamed keeps the same access).
    fn changed(self) -> Option<What> {
        match self {
            List::Access => None,
            List::Shares => Some(What::ShareChanged),
        }
    }
}

/// What one run knows about one file; a fact is present only when the run learned it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// Single-valued facts.
    pub scalars: BTreeMap<Scalar, String>,
    /// Keyed lists: entry key → shown value.
    pub lists: BTreeMap<List, BTreeMap<String, String>>,
}

/// Whether a run had a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// In the run and on the portal, with what the run learned.
    Present(FileFacts),
    /// In the run, but the portal answered that it does not exist.
    NotFound,
}

/// One run's files: file ID → presence. A file the run never had is not in the map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// By file ID.
    pub files: BTreeMap<String, Presence>,
}

/// One difference: a row of the output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The file.
    pub file_id: String,
    /// Its title in the new run, else in the old one; empty when neither knew it.
    pub title: String,
    /// What changed.
    pub what: What,
    /// The old value (empty for an addition).
    pub before: String,
    /// The new value (empty for a removal).
    pub after: String,
}

/// The `only_in_*` cells: `present`, or why a run does not have the file.
const PRESENT: &str = "present";
const NOT_FOUND: &str = "not_found";
const ABSENT: &str = "absent";

/// Every difference between `old` and `new`, by file ID (numbers in numeric order, then
/// connected-storage IDs), then in the order of [`What`].
pub fn compare(old: &RunFacts, new: &RunFacts) -> Vec<Change> {
    let ids: BTreeSet<&String> = old.files.keys().chain(new.files.keys()).collect();
    let mut out = Vec::new();
    for id in ids {
        let (o, n) = (old.files.get(id), new.files.get(id));
        let title = [n, o]
            .into_iter()
            .flatten()
            .find_map(|p| match p {
                Presence::Present(f) => f.scalars.get(&Scalar::Title).cloned(),
                Presence::NotFound => None,
            })
            .unwrap_or_default();
        let mut row = |what: What, before: &str, after: &str| Change {
            file_id: id.clone(),
            title: title.clone(),
            what,
            before: before.to_string(),
            after: after.to_string(),
        };
        let mut rows = match (o, n) {
            (Some(Presence::Present(a)), Some(Presence::Present(b))) => {
                compare_file(a, b, &mut row)
            }
            (Some(Presence::Present(_)), other) => vec![row(What::OnlyInOld, PRESENT, gone(other))],
            (other, Some(Presence::Present(_))) => vec![row(What::OnlyInNew, gone(other), PRESENT)],
            _ => Vec::new(),
        };
        rows.sort_by(|a, b| (a.what, &a.before, &a.after).cmp(&(b.what, &b.before, &b.after)));
        out.extend(rows);
    }
    out.sort_by(|a, b| id_order(&a.file_id).cmp(&id_order(&b.file_id)));
    out
}

/// Why a run lacks a file, for the `only_in_*` cells.
fn gone(p: Option<&Presence>) -> &'static str {
    match p {
        Some(Presence::NotFound) => NOT_FOUND,
        _ => ABSENT,
    }
}

/// The facts both runs know, compared.
fn compare_file(
    a: &FileFacts,
    b: &FileFacts,
    row: &mut impl FnMut(What, &str, &str) -> Change,
) -> Vec<Change> {
    let mut out = Vec::new();
    for (k, before) in &a.scalars {
        if let Some(after) = b.scalars.get(k).filter(|after| *after != before) {
            out.push(row(k.what(), before, after));
        }
    }
    for (list, old) in &a.lists {
        let Some(new) = b.lists.get(list) else {
            continue;
        };
        for (key, before) in old {
            match new.get(key) {
                None => out.push(row(list.removed(), before, "")),
                Some(after) if after != before => {
                    if let Some(w) = list.changed() {
                        out.push(row(w, before, after));
                    }
                }
                Some(_) => {}
            }
        }
        for (key, after) in new {
            if !old.contains_key(key) {
                out.push(row(list.added(), "", after));
            }
        }
    }
    out
}

/// Sort key of a file ID: internal (numeric) IDs first, by value.
fn id_order(id: &str) -> (u8, u64, &str) {
    match id.parse::<u64>() {
        Ok(n) => (0, n, ""),
        Err(_) => (1, 0, id),
    }
}

#[cfg(test)]
mod tests;
