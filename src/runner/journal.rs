//! Where finished tasks go, and the write intents that precede every lock/unlock request.
//! Workers never touch the record: they send each intent to the collector and wait until it is
//! committed ([`Journal::intent`]); the collector owns the [`Sink`] and commits finished tasks
//! in batches.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::exec::TaskOutput;
use crate::job::FileId;
use crate::record::{Counters, Intent};

/// The record as the collector sees it.
pub trait Sink: Send {
    /// Commits a write intent; the request is sent only after this returns `Ok`.
    fn intent(
        &mut self,
        seq: u64,
        file: &FileId,
        lock: bool,
        was_locked: Option<bool>,
        counters: &Counters,
    ) -> Result<(), String>;
    /// Commits finished tasks (each result with its access and share rows) and the counters.
    fn commit(&mut self, batch: &[&TaskOutput], counters: &Counters) -> Result<(), String>;
}

/// What workers send the collector.
pub(crate) enum Msg {
    /// Task at this index of the task list finished.
    Done(usize, Box<TaskOutput>),
    /// A write is about to be sent; answer `true` once its intent is committed.
    Intent {
        seq: u64,
        file: FileId,
        lock: bool,
        was_locked: Option<bool>,
        ack: oneshot::Sender<bool>,
    },
}

/// A worker's handle on the record: intents go to the collector; unsettled intents of an
/// earlier process are looked up here.
#[derive(Clone, Default)]
pub struct Journal {
    tx: Option<mpsc::Sender<Msg>>,
    unsettled: Arc<HashMap<u64, Intent>>,
}

impl Journal {
    pub(crate) fn new(tx: mpsc::Sender<Msg>, unsettled: Arc<HashMap<u64, Intent>>) -> Journal {
        Journal {
            tx: Some(tx),
            unsettled,
        }
    }

    /// Records the intent and waits for it to be committed. `false`: it could not be (the
    /// record failed, or the run is shutting down), so the write must not be sent.
    pub async fn intent(
        &self,
        seq: u64,
        file: &FileId,
        lock: bool,
        was_locked: Option<bool>,
    ) -> bool {
        let Some(tx) = &self.tx else {
            return true; // no record (tests of the runner alone)
        };
        let (ack, done) = oneshot::channel();
        let msg = Msg::Intent {
            seq,
            file: file.clone(),
            lock,
            was_locked,
            ack,
        };
        if tx.send(msg).await.is_err() {
            return false;
        }
        done.await.unwrap_or(false)
    }

    /// The intent an earlier process recorded for task `seq` without recording its answer.
    pub fn unsettled(&self, seq: u64) -> Option<Intent> {
        self.unsettled.get(&seq).copied()
    }

    pub(crate) fn sender(&self) -> Option<&mpsc::Sender<Msg>> {
        self.tx.as_ref()
    }
}
