//! The state cache: what the run knows of each file's lock state, where that came from (a
//! folder listing, a file read, a write's answer) and when. Fed by folder expansion
//! ([`super::plan::expand_folder`]), by reads and by every write's answer; asked by
//! [`super::exec`] before a task sends anything. Shared by every worker, read-mostly.
//!
//! Why: a folder listing already carries each file's `title`, `locked`, `lockedBy` and
//! `security`, 100 files per request, so reading each file again costs a request per file for
//! nothing. How old a state may be depends on what rests on it: a lock may go out on state of
//! any age (its answer is the truth, and a lock never takes someone else's lock), while a skip,
//! an unlock and an `info` row rest only on state younger than `--state-max-age` (60 s): a skip
//! on stale state could report `unchanged` for a file someone unlocked meanwhile, and an unlock
//! on stale state could release a lock another user took since. Stale state of a file that came
//! from a listing is refreshed by reading its listing page again (every file on the page gets
//! the fresh state), else by reading the file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::exec::{counted, Ctx, Endpoint, RequestEnd};
use super::plan::PAGE;
use crate::api::{FileState, FolderPage};
use crate::job::FileId;

/// Where the state a decision used came from (results.csv `state_from`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateSource {
    /// A folder listing page (at expansion, or read again to refresh it).
    Listing,
    /// `GET /api/2.0/files/file/{id}`.
    Read,
    /// The answer to a lock or unlock of an earlier task of the run.
    Answer,
}

impl StateSource {
    /// The column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            StateSource::Listing => "listing",
            StateSource::Read => "read",
            StateSource::Answer => "answer",
        }
    }

    /// Reads a column value back; `None` for anything [`StateSource::as_str`] does not write.
    pub fn parse(s: &str) -> Option<StateSource> {
        [StateSource::Listing, StateSource::Read, StateSource::Answer]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One page of a folder listing: the folder and the `startIndex` it was read from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageRef {
    /// The folder or room listed.
    pub folder: FileId,
    /// `startIndex` of the page (items of the folder, subfolders first).
    pub start: u64,
}

/// What is known of one file.
struct Known {
    /// `None`: only where to read it (a plan recorded by an earlier process).
    state: Option<FileState>,
    from: StateSource,
    at: Instant,
    /// The listing page the file was found on, for refreshing it.
    page: Option<Arc<PageRef>>,
}

/// Known state of one file as a task sees it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The state.
    pub state: FileState,
    /// Where it came from.
    pub from: StateSource,
    /// Younger than the run's maximum age: a skip, an unlock or an `info` row may rest on it.
    pub fresh: bool,
}

/// The run's state cache. All methods take `&self`.
pub struct StateCache {
    max_age: Duration,
    files: Mutex<HashMap<FileId, Known>>,
    /// One refresh of a page at a time: workers that need the same page wait for the one
    /// reading it, then use what it read. `true` once the page could not be read: its files
    /// are read one by one from then on.
    pages: Mutex<HashMap<Arc<PageRef>, Arc<tokio::sync::Mutex<bool>>>>,
}

impl StateCache {
    /// An empty cache whose skips rest on state younger than `max_age`.
    pub fn new(max_age: Duration) -> StateCache {
        StateCache {
            max_age,
            files: Mutex::default(),
            pages: Mutex::default(),
        }
    }

    fn files(&self) -> MutexGuard<'_, HashMap<FileId, Known>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes in a listing page of `folder` read from `start`.
    pub fn listed(&self, folder: &FileId, start: u64, page: &FolderPage) {
        let at = Instant::now();
        let r = Arc::new(PageRef {
            folder: folder.clone(),
            start,
        });
        let mut files = self.files();
        for (id, st) in page.files.iter().zip(&page.file_states) {
            if st.title.is_none() {
                // Not the file object a listing sends (DocSpace always names a file): its
                // lock fields cannot be trusted either, so the file is read on its own.
                continue;
            }
            files.insert(
                id.clone(),
                Known {
                    state: Some(st.clone()),
                    from: StateSource::Listing,
                    at,
                    page: Some(r.clone()),
                },
            );
        }
    }

    /// Remembers where files were listed (a recorded plan), without a state: their first
    /// task reads the page again instead of each file.
    pub fn seed_pages(&self, pages: &HashMap<FileId, PageRef>) {
        let at = Instant::now();
        let mut shared: HashMap<&PageRef, Arc<PageRef>> = HashMap::new();
        let mut files = self.files();
        for (id, p) in pages {
            let r = shared
                .entry(p)
                .or_insert_with(|| Arc::new(p.clone()))
                .clone();
            files.entry(id.clone()).or_insert(Known {
                state: None,
                from: StateSource::Listing,
                at,
                page: Some(r),
            });
        }
    }

    /// Takes in a file's state from a read or a write's answer. The title is not kept: the
    /// task that read it has it, and passes it on to the file's later tasks, and a run of
    /// 100 000 IDs should not hold 100 000 titles twice.
    pub fn saw(&self, id: &FileId, st: &FileState, from: StateSource) {
        let at = Instant::now();
        let mut files = self.files();
        let page = files.get(id).and_then(|k| k.page.clone());
        let state = FileState {
            title: None,
            locked: st.locked,
            locked_by: st.locked_by.clone(),
            can_lock: st.can_lock,
        };
        files.insert(
            id.clone(),
            Known {
                state: Some(state),
                from,
                at,
                page,
            },
        );
    }

    /// What is known of `id`, if anything.
    pub fn lookup(&self, id: &FileId) -> Option<Seen> {
        let now = Instant::now();
        let files = self.files();
        let k = files.get(id)?;
        Some(Seen {
            state: k.state.clone()?,
            from: k.from,
            fresh: now.saturating_duration_since(k.at) < self.max_age,
        })
    }

    /// State of `id` taken at or after `since`.
    fn since(&self, id: &FileId, since: Instant) -> Option<Seen> {
        let files = self.files();
        let k = files.get(id).filter(|k| k.at >= since)?;
        Some(Seen {
            state: k.state.clone()?,
            from: k.from,
            fresh: true,
        })
    }

    fn page_of(&self, id: &FileId) -> Option<Arc<PageRef>> {
        self.files().get(id).and_then(|k| k.page.clone())
    }

    fn page_gate(&self, p: &Arc<PageRef>) -> Arc<tokio::sync::Mutex<bool>> {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        pages.entry(p.clone()).or_default().clone()
    }

    /// Fresh state of `id`: its listing page read again when it came from one (unless another
    /// worker did that while this one waited), else the file read. A file the page no longer
    /// holds, or a page that cannot be read, falls back to reading the file. The requests made
    /// are added to `attempts`.
    pub async fn refresh(
        &self,
        ctx: &Ctx,
        id: &FileId,
        attempts: &mut u32,
    ) -> Result<Seen, RequestEnd> {
        if let Some(page) = self.page_of(id) {
            let asked = Instant::now();
            let gate = self.page_gate(&page);
            let mut broken = gate.lock().await;
            if let Some(s) = self.since(id, asked) {
                return Ok(s);
            }
            if *broken {
                return self.read(ctx, id, attempts).await;
            }
            let read = ctx
                .request(Endpoint::AnonymousRead, || {
                    ctx.client.folder_page(&page.folder, page.start, PAGE)
                })
                .await;
            match counted(attempts, read) {
                Ok(p) => {
                    self.listed(&page.folder, page.start, &p);
                    if let Some(s) = self.since(id, asked) {
                        return Ok(s);
                    }
                }
                Err(end @ RequestEnd::Cancelled { .. }) => return Err(end),
                // The file's own read says what is wrong with it, if anything.
                Err(RequestEnd::Failed(_)) => *broken = true,
            }
        }
        self.read(ctx, id, attempts).await
    }

    /// Reads the file itself (`GET /api/2.0/files/file/{id}`) and keeps what it says.
    pub async fn read(
        &self,
        ctx: &Ctx,
        id: &FileId,
        attempts: &mut u32,
    ) -> Result<Seen, RequestEnd> {
        let st = counted(
            attempts,
            ctx.request(Endpoint::AnonymousRead, || ctx.client.file_info(id))
                .await,
        )?;
        self.saw(id, &st, StateSource::Read);
        Ok(Seen {
            state: st,
            from: StateSource::Read,
            fresh: true,
        })
    }
}

#[cfg(test)]
mod tests;
