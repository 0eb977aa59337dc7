//! From entries to tasks: folder expansion, job-name scoping, consecutive-duplicate collapse,
//! `seq` numbering and sharding.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::exec::{Ctx, Endpoint, RequestEnd};
use super::state::PageRef;
use crate::api::{ErrorKind, FolderPage};
use crate::job::{Action, Entry, FileId, JobFile, Target, Task};
use crate::units::Shard;

/// Folder pages are requested with this `count`: DocSpace's maximum (and default); a larger
/// `count` is a 400.
pub const PAGE: u64 = 100;
/// A folder tree larger than this many pages is refused (a hostile portal must not loop us).
const MAX_PAGES: u64 = 1_000_000;

/// Files found below one folder, in listing order.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Files, each once.
    pub files: Vec<FileId>,
    /// Titles seen in the listing (so access.csv has titles without an extra request).
    pub titles: HashMap<FileId, String>,
    /// The page each file was listed on (recorded, so a resume or `restore` refreshes the
    /// state of 100 files with one request).
    pub pages: HashMap<FileId, PageRef>,
    /// Title of the folder/room.
    pub title: Option<String>,
    /// Folders skipped by `--skip-missing-folders`: (folder ID, why).
    pub skipped: Vec<(String, String)>,
}

/// Why expansion could not finish.
#[derive(Debug)]
pub enum ExpandError {
    /// A folder is missing or unreadable (exit 2 unless `--skip-missing-folders`).
    Missing(String),
    /// Anything else (the run aborts).
    Failed(String),
}

/// Lists every file below `root`, recursively, each file once, each folder once.
/// `progress(pages, files)` is called after every page (for the progress display).
pub async fn expand_folder(
    ctx: &Ctx,
    root: &FileId,
    skip_missing: bool,
    progress: &mut dyn FnMut(u64, usize),
) -> Result<Listing, ExpandError> {
    let mut out = Listing::default();
    let mut seen_files: HashSet<FileId> = HashSet::new();
    let mut seen_folders: HashSet<FileId> = HashSet::new();
    let mut stack = vec![root.clone()];
    let mut pages = 0u64;
    while let Some(folder) = stack.pop() {
        if !seen_folders.insert(folder.clone()) {
            continue;
        }
        let mut start = 0u64;
        let mut subfolders = Vec::new();
        loop {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(ExpandError::Failed(format!(
                    "folder {root}: more than {MAX_PAGES} pages; refusing to go on"
                )));
            }
            let Some(page) =
                list_page(ctx, root, &folder, start, skip_missing, &mut out.skipped).await?
            else {
                break;
            };
            if &folder == root && out.title.is_none() {
                out.title = page.title.clone();
            }
            let n = page.files.len() + page.folders.len();
            // The listing's state of each file spares a read per file later.
            ctx.states.listed(&folder, start, &page);
            for (i, f) in page.files.into_iter().enumerate() {
                let title = page.file_states.get(i).and_then(|s| s.title.as_deref());
                if let Some(t) = title.filter(|t| !t.is_empty()) {
                    out.titles.insert(f.clone(), crate::api::report_text(t));
                }
                if seen_files.insert(f.clone()) {
                    let at = PageRef {
                        folder: folder.clone(),
                        start,
                    };
                    out.pages.insert(f.clone(), at);
                    out.files.push(f);
                }
            }
            subfolders.extend(page.folders);
            progress(pages, out.files.len());
            start += n as u64;
            if n == 0 || start >= page.total {
                break;
            }
        }
        // Depth-first in listing order: push in reverse so the first subfolder is listed next.
        stack.extend(subfolders.into_iter().rev());
    }
    Ok(out)
}

/// One page of `folder` from `start`. A folder that is missing or unreadable is
/// [`ExpandError::Missing`], or `None` (with a warning) under `--skip-missing-folders`.
async fn list_page(
    ctx: &Ctx,
    root: &FileId,
    folder: &FileId,
    start: u64,
    skip_missing: bool,
    skipped: &mut Vec<(String, String)>,
) -> Result<Option<FolderPage>, ExpandError> {
    let f = match ctx
        .request(Endpoint::AnonymousRead, || {
            ctx.client.folder_page(folder, start, PAGE)
        })
        .await
    {
        Ok((p, _)) => return Ok(Some(p)),
        Err(RequestEnd::Failed(f))
            if matches!(f.err.kind, ErrorKind::NotFound | ErrorKind::Forbidden) =>
        {
            f
        }
        Err(end) => {
            return Err(ExpandError::Failed(format!(
                "listing folder {folder}: {end}"
            )))
        }
    };
    let msg = format!(
        "folder {folder}{}: {} ({})",
        if folder != root {
            format!(" (below {root})")
        } else {
            String::new()
        },
        if f.err.kind == ErrorKind::NotFound {
            "does not exist"
        } else {
            "cannot be read with this key"
        },
        f.err
    );
    if skip_missing {
        ctx.ui
            .warn(&format!("{msg}; skipped (--skip-missing-folders)"));
        skipped.push((folder.to_string(), msg));
        return Ok(None);
    }
    Err(ExpandError::Missing(msg))
}

/// A planned run: tasks in `seq` order plus the room/folder each file was found in.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Tasks (after sharding; `seq` numbers are those of the full plan).
    pub tasks: Vec<Task>,
    /// file ID → title of the folder/room it was expanded from.
    pub groups: HashMap<String, String>,
    /// file ID → file title, where a folder listing told us.
    pub titles: HashMap<FileId, String>,
    /// file ID → the listing page it was found on.
    pub pages: HashMap<FileId, PageRef>,
}

/// Turns entries into tasks. `listings` holds the expansion of every folder target.
pub fn build(entries: &[Entry], listings: &HashMap<FileId, Listing>) -> Plan {
    let mut tasks: Vec<Task> = Vec::with_capacity(entries.len());
    let mut groups = HashMap::new();
    let mut titles = HashMap::new();
    let mut pages = HashMap::new();
    // (job, file, action) already targeted in a job: a file reached twice through folders (or
    // listed and also found in a folder) becomes a target once.
    let mut seen: HashSet<(Arc<str>, FileId, Action)> = HashSet::new();
    let has_folders = entries
        .iter()
        .any(|e| matches!(e.target, Target::Folder(_)));
    let push = |tasks: &mut Vec<Task>, e: &Entry, file: &FileId, a: Action| {
        if let Some(last) = tasks.last() {
            if last.file == *file && last.action == a && last.job == e.job {
                return; // consecutive duplicates of (file, action) in a job collapse into one
            }
        }
        tasks.push(Task {
            seq: tasks.len() as u64 + 1,
            job: e.job.clone(),
            file: file.clone(),
            action: a,
            on_failure: e.on_failure,
        });
    };
    for e in entries {
        match &e.target {
            Target::File(f) => {
                for &a in e.actions.iter() {
                    if has_folders {
                        seen.insert((e.job.clone(), f.clone(), a));
                    }
                    push(&mut tasks, e, f, a);
                }
            }
            Target::Folder(folder) => {
                let Some(l) = listings.get(folder) else {
                    continue;
                };
                let title = l
                    .title
                    .clone()
                    .unwrap_or_else(|| format!("folder {folder}"));
                titles.extend(l.titles.iter().map(|(k, v)| (k.clone(), v.clone())));
                for (f, p) in &l.pages {
                    pages.entry(f.clone()).or_insert_with(|| p.clone());
                }
                for f in &l.files {
                    groups.entry(f.to_string()).or_insert_with(|| title.clone());
                    for &a in e.actions.iter() {
                        if seen.insert((e.job.clone(), f.clone(), a)) {
                            push(&mut tasks, e, f, a);
                        }
                    }
                }
            }
        }
    }
    Plan {
        tasks,
        groups,
        titles,
        pages,
    }
}

/// A job name is a `skip_rest` scope ("the same file in that job"), so jobs of different job
/// files must not share one by accident (two files' `job-1`, or two `x.csv`): a name already
/// used by an earlier file becomes `<file name>/<job>` (then `#2`, `#3`…).
pub fn scope_job_names(files: &mut [JobFile]) {
    let mut seen: HashSet<String> = HashSet::new();
    for f in files.iter_mut() {
        let mut renamed: HashMap<String, Arc<str>> = HashMap::new();
        let mut mine: HashSet<String> = HashSet::new();
        for e in f.entries.iter_mut() {
            let old = e.job.to_string();
            if seen.contains(&old) {
                let new = renamed
                    .entry(old.clone())
                    .or_insert_with(|| {
                        let base = format!("{}/{old}", f.name);
                        let mut name = base.clone();
                        let mut k = 2;
                        while seen.contains(&name) {
                            name = format!("{base}#{k}");
                            k += 1;
                        }
                        Arc::from(name)
                    })
                    .clone();
                e.job = new;
            }
            mine.insert(e.job.to_string());
        }
        seen.extend(mine);
    }
}

/// Stable 64-bit FNV-1a of the file ID's text: the same on every machine and version.
pub fn stable_hash(id: &FileId) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.to_string().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Keeps the tasks of shard K of N (by file, so per-file order stays intact).
pub fn shard(tasks: Vec<Task>, s: Shard) -> Vec<Task> {
    tasks
        .into_iter()
        .filter(|t| stable_hash(&t.file) % s.n as u64 == (s.k - 1) as u64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::OnFailure;

    fn entry(job: &str, t: Target, actions: &[Action]) -> Entry {
        Entry {
            job: job.into(),
            on_failure: OnFailure::SkipRest,
            target: t,
            actions: actions.into(),
            line: 1,
        }
    }

    #[test]
    fn build_collapses_consecutive_duplicates_and_dedupes_folder_files() {
        let f = |n| FileId::Int(n);
        let mut listings = HashMap::new();
        listings.insert(
            f(9),
            Listing {
                files: vec![f(1), f(2), f(3)],
                title: Some("Room".into()),
                ..Listing::default()
            },
        );
        let entries = vec![
            entry("a", Target::File(f(1)), &[Action::Lock]),
            entry("a", Target::File(f(1)), &[Action::Lock]),
            entry("a", Target::Folder(f(9)), &[Action::Lock]),
            entry("b", Target::File(f(1)), &[Action::Lock]),
        ];
        let p = build(&entries, &listings);
        let got: Vec<_> = p
            .tasks
            .iter()
            .map(|t| (t.seq, t.job.to_string(), t.file.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (1, "a".into(), "1".into()),
                (2, "a".into(), "2".into()),
                (3, "a".into(), "3".into()),
                (4, "b".into(), "1".into())
            ]
        );
        assert_eq!(p.groups.get("2").map(String::as_str), Some("Room"));
    }

    #[test]
    fn shards_partition_tasks() {
        let tasks: Vec<Task> = (1..=500)
            .map(|n| Task {
                seq: n,
                job: "j".into(),
                file: FileId::Int(n as u32),
                action: Action::Info,
                on_failure: OnFailure::SkipRest,
            })
            .collect();
        let mut all: Vec<u64> = (1..=4)
            .flat_map(|k| shard(tasks.clone(), Shard { k, n: 4 }))
            .map(|t| t.seq)
            .collect();
        all.sort();
        assert_eq!(all, (1..=500).collect::<Vec<_>>());
        assert!(shard(tasks, Shard { k: 1, n: 4 }).len() > 80);
    }
}
