//! A scripted in-memory [`Portal`] for the runner's in-process tests.
//!
//! It behaves like a small, well-mannered portal (files start unlocked, a lock by the caller
//! shows as `locked` without `lockedBy`, a lock held by someone else is not taken over) unless
//! a test scripts the next answer to an operation. Every call is logged with the virtual time
//! it was made, so tests can assert on what was sent and when under tokio's paused clock.
//!
//! The portal's own answers take the configured latency; scripted replies take half of it, so
//! a scripted 429 or 401 lands while requests sent at the same moment are still in flight, and
//! the order of events does not depend on which of two equal timers tokio fires first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::{AccessUser, ApiError, ErrorKind, FileState, FolderPage, Portal, ShareEntry};
use crate::job::FileId;

/// The kind of a call, for scripting answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    CheckAuth,
    FileInfo,
    SetLock,
    ProtectUsers,
    Shares,
    FolderPage,
}

/// One call as the fake received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    CheckAuth,
    FileInfo(FileId),
    SetLock(FileId, bool),
    ProtectUsers(FileId),
    Shares(FileId),
    FolderPage(FileId, u64),
}

impl Call {
    pub(crate) fn op(&self) -> Op {
        match self {
            Call::CheckAuth => Op::CheckAuth,
            Call::FileInfo(_) => Op::FileInfo,
            Call::SetLock(..) => Op::SetLock,
            Call::ProtectUsers(_) => Op::ProtectUsers,
            Call::Shares(_) => Op::Shares,
            Call::FolderPage(..) => Op::FolderPage,
        }
    }

    fn target(&self) -> Option<&FileId> {
        match self {
            Call::CheckAuth => None,
            Call::FileInfo(id)
            | Call::SetLock(id, _)
            | Call::ProtectUsers(id)
            | Call::Shares(id) => Some(id),
            Call::FolderPage(id, _) => Some(id),
        }
    }
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// The attempt fails with this error.
    Fail(ApiError),
    /// A file answer (file info or lock) showing this state; the fake's own state is unchanged.
    State(FileState),
    /// The key check says this.
    Auth(bool),
}

/// An error as the client would classify a status; `retry_after` for 429s.
pub(crate) fn http_error(status: u16, retry_after: Option<Duration>) -> ApiError {
    let kind = match status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::BadResponse,
    };
    let mut e = ApiError::new(kind, Some(status), format!("scripted {status}"));
    e.retry_after = retry_after;
    e
}

#[derive(Default)]
struct State {
    files: HashMap<FileId, FileState>,
    /// Folder → its files, in listing order (no subfolders).
    folders: HashMap<FileId, Vec<FileId>>,
    /// Scripted replies in order: for one kind of call, on one file or (`None`) on any.
    script: VecDeque<(Op, Option<FileId>, Reply)>,
    log: Vec<(Instant, Call)>,
}

/// The fake. Clones share one state, so a test keeps a handle after giving one to the runner.
#[derive(Clone)]
pub(crate) struct FakePortal {
    base: Arc<url::Url>,
    latency: Duration,
    state: Arc<Mutex<State>>,
}

impl FakePortal {
    /// A portal that answers at once.
    pub(crate) fn new() -> FakePortal {
        FakePortal {
            base: Arc::new(url::Url::parse("https://fake.portal.test/").expect("static URL")),
            latency: Duration::ZERO,
            state: Arc::default(),
        }
    }

    /// Every answer takes `d` of (virtual) time, so requests overlap.
    pub(crate) fn with_latency(mut self, d: Duration) -> FakePortal {
        self.latency = d;
        self
    }

    /// How long a scripted reply takes.
    pub(crate) fn scripted_latency(&self) -> Duration {
        self.latency / 2
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets a file's state: `locked_by` is `None` for a lock held by the caller.
    pub(crate) fn file(&self, id: u32, locked: bool, locked_by: Option<&str>) -> &FakePortal {
        self.st().files.insert(
            FileId::Int(id),
            FileState {
                title: Some(format!("file {id}")),
                locked,
                locked_by: locked_by.map(str::to_owned),
                can_lock: Some(true),
            },
        );
        self
    }

    /// Makes folder `id` hold files `files`, in that order.
    pub(crate) fn folder(&self, id: u32, files: impl IntoIterator<Item = u32>) -> &FakePortal {
        let files = files.into_iter().map(FileId::Int).collect();
        self.st().folders.insert(FileId::Int(id), files);
        self
    }

    /// One page of a folder as the portal lists it: each file with its state now.
    fn page_of(&self, id: &FileId, start: u64, count: u64) -> FolderPage {
        let files = self.st().folders.get(id).cloned().unwrap_or_default();
        let page: Vec<FileId> = files
            .iter()
            .skip(start as usize)
            .take(count as usize)
            .cloned()
            .collect();
        FolderPage {
            file_states: page.iter().map(|f| self.state_of(f)).collect(),
            files: page,
            total: files.len() as u64,
            ..FolderPage::default()
        }
    }

    /// The next call of kind `op` gets `reply` (replies for one kind are used in order).
    pub(crate) fn then(&self, op: Op, reply: Reply) -> &FakePortal {
        self.st().script.push_back((op, None, reply));
        self
    }

    /// The next call of kind `op` on file `id` gets `reply`: for tests where several workers
    /// race to the portal and the scripted answer must reach a known task.
    pub(crate) fn then_on(&self, op: Op, id: u32, reply: Reply) -> &FakePortal {
        self.st()
            .script
            .push_back((op, Some(FileId::Int(id)), reply));
        self
    }

    /// The next call of kind `op` fails with HTTP `status`.
    pub(crate) fn fail(&self, op: Op, status: u16) -> &FakePortal {
        self.then(op, Reply::Fail(http_error(status, None)))
    }

    /// The next call of kind `op` on file `id` fails with HTTP `status`.
    pub(crate) fn fail_on(&self, op: Op, id: u32, status: u16) -> &FakePortal {
        self.then_on(op, id, Reply::Fail(http_error(status, None)))
    }

    /// Every call so far with the virtual time it was made.
    pub(crate) fn log(&self) -> Vec<(Instant, Call)> {
        self.st().log.clone()
    }

    /// Every call so far, in order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.st().log.iter().map(|(_, c)| c.clone()).collect()
    }

    /// Logs the call and takes its scripted reply, if any.
    fn take(&self, call: Call) -> Option<Reply> {
        let mut st = self.st();
        let i = st.script.iter().position(|(op, on, _)| {
            *op == call.op() && on.as_ref().is_none_or(|id| call.target() == Some(id))
        });
        st.log.push((Instant::now(), call));
        st.script.remove(i?).map(|(_, _, r)| r)
    }

    async fn answer_delay(&self, scripted: bool) {
        let d = if scripted {
            self.scripted_latency()
        } else {
            self.latency
        };
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    fn state_of(&self, id: &FileId) -> FileState {
        self.st()
            .files
            .get(id)
            .cloned()
            .unwrap_or_else(|| FileState {
                title: Some(format!("file {id}")),
                can_lock: Some(true),
                ..FileState::default()
            })
    }

    async fn file_answer(&self, call: Call) -> Result<FileState, ApiError> {
        let id = match &call {
            Call::FileInfo(id) | Call::SetLock(id, _) => id.clone(),
            _ => unreachable!("file answers are for file info and lock calls"),
        };
        let want = match call {
            Call::SetLock(_, want) => Some(want),
            _ => None,
        };
        let reply = self.take(call);
        self.answer_delay(reply.is_some()).await;
        match reply {
            Some(Reply::Fail(e)) => return Err(e),
            Some(Reply::State(s)) => return Ok(s),
            Some(Reply::Auth(_)) => panic!("an Auth reply scripted for a file call"),
            None => {}
        }
        let mut st = self.state_of(&id);
        // Someone else's lock is not ours to take or release: the file stays as it is.
        if let Some(want) = want.filter(|_| st.locked_by.is_none()) {
            st.locked = want;
            self.st().files.insert(id, st.clone());
        }
        Ok(st)
    }

    async fn plain<T>(&self, call: Call, default: T) -> Result<T, ApiError> {
        let reply = self.take(call);
        self.answer_delay(reply.is_some()).await;
        match reply {
            Some(Reply::Fail(e)) => Err(e),
            Some(r) => panic!("{r:?} scripted for a call that does not answer with it"),
            None => Ok(default),
        }
    }
}

impl Portal for FakePortal {
    fn base(&self) -> &url::Url {
        &self.base
    }

    fn check_auth(&self) -> BoxFuture<'_, Result<bool, ApiError>> {
        Box::pin(async move {
            let reply = self.take(Call::CheckAuth);
            self.answer_delay(reply.is_some()).await;
            match reply {
                Some(Reply::Fail(e)) => Err(e),
                Some(Reply::Auth(ok)) => Ok(ok),
                Some(r) => panic!("{r:?} scripted for the key check"),
                None => Ok(true),
            }
        })
    }

    fn file_info<'a>(&'a self, id: &'a FileId) -> BoxFuture<'a, Result<FileState, ApiError>> {
        Box::pin(self.file_answer(Call::FileInfo(id.clone())))
    }

    fn set_lock<'a>(
        &'a self,
        id: &'a FileId,
        lock: bool,
    ) -> BoxFuture<'a, Result<FileState, ApiError>> {
        Box::pin(self.file_answer(Call::SetLock(id.clone(), lock)))
    }

    fn protect_users<'a>(
        &'a self,
        id: &'a FileId,
    ) -> BoxFuture<'a, Result<Vec<AccessUser>, ApiError>> {
        Box::pin(self.plain(Call::ProtectUsers(id.clone()), Vec::new()))
    }

    fn shares<'a>(&'a self, id: &'a FileId) -> BoxFuture<'a, Result<Vec<ShareEntry>, ApiError>> {
        Box::pin(self.plain(Call::Shares(id.clone()), Vec::new()))
    }

    fn folder_page<'a>(
        &'a self,
        id: &'a FileId,
        start: u64,
        count: u64,
    ) -> BoxFuture<'a, Result<FolderPage, ApiError>> {
        Box::pin(async move {
            let reply = self.take(Call::FolderPage(id.clone(), start));
            self.answer_delay(reply.is_some()).await;
            match reply {
                Some(Reply::Fail(e)) => Err(e),
                Some(r) => panic!("{r:?} scripted for a folder listing"),
                None => Ok(self.page_of(id, start, count)),
            }
        })
    }
}
