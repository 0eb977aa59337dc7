//! The seam between the runner and the network: the calls a run makes, as a trait. [`Client`]
//! is the real portal over HTTP; the runner holds an `Arc<dyn Portal>`, so its retry loop,
//! limiter and outcome mapping run in-process against a scripted fake in tests.
//!
//! One call is one attempt, exactly as on [`Client`]: retries and pacing stay in the runner.

use futures::future::BoxFuture;

use super::{AccessUser, ApiError, Client, FileState, FolderPage, ShareEntry};
use crate::job::FileId;

/// What the runner asks of a portal. Each call boxes one future: an allocation per request is
/// noise next to a network round trip, and it keeps the trait object-safe without a new crate.
pub trait Portal: Send + Sync {
    /// The portal base URL, for messages (never contains the key).
    fn base(&self) -> &url::Url;

    /// Whether the portal accepts the key: `Ok(false)` is a clear "no", an error is no verdict.
    fn check_auth(&self) -> BoxFuture<'_, Result<bool, ApiError>>;

    /// A file's lock state and title.
    fn file_info<'a>(&'a self, id: &'a FileId) -> BoxFuture<'a, Result<FileState, ApiError>>;

    /// Locks (`true`) or unlocks (`false`) a file; the answer is the file as it is afterwards.
    fn set_lock<'a>(
        &'a self,
        id: &'a FileId,
        lock: bool,
    ) -> BoxFuture<'a, Result<FileState, ApiError>>;

    /// The users who may edit a locked file.
    fn protect_users<'a>(
        &'a self,
        id: &'a FileId,
    ) -> BoxFuture<'a, Result<Vec<AccessUser>, ApiError>>;

    /// The file's share entries: users, groups and links.
    fn shares<'a>(&'a self, id: &'a FileId) -> BoxFuture<'a, Result<Vec<ShareEntry>, ApiError>>;

    /// One page of a folder listing, `count` items from `start`.
    fn folder_page<'a>(
        &'a self,
        id: &'a FileId,
        start: u64,
        count: u64,
    ) -> BoxFuture<'a, Result<FolderPage, ApiError>>;
}

impl Portal for Client {
    fn base(&self) -> &url::Url {
        Client::base(self)
    }

    fn check_auth(&self) -> BoxFuture<'_, Result<bool, ApiError>> {
        Box::pin(Client::check_auth(self))
    }

    fn file_info<'a>(&'a self, id: &'a FileId) -> BoxFuture<'a, Result<FileState, ApiError>> {
        Box::pin(Client::file_info(self, id))
    }

    fn set_lock<'a>(
        &'a self,
        id: &'a FileId,
        lock: bool,
    ) -> BoxFuture<'a, Result<FileState, ApiError>> {
        Box::pin(Client::set_lock(self, id, lock))
    }

    fn protect_users<'a>(
        &'a self,
        id: &'a FileId,
    ) -> BoxFuture<'a, Result<Vec<AccessUser>, ApiError>> {
        Box::pin(Client::protect_users(self, id))
    }

    fn shares<'a>(&'a self, id: &'a FileId) -> BoxFuture<'a, Result<Vec<ShareEntry>, ApiError>> {
        Box::pin(Client::shares(self, id))
    }

    fn folder_page<'a>(
        &'a self,
        id: &'a FileId,
        start: u64,
        count: u64,
    ) -> BoxFuture<'a, Result<FolderPage, ApiError>> {
        Box::pin(Client::folder_page(self, id, start, count))
    }
}
