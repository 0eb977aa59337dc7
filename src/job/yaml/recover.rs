//! Going on after a bad value, so one pass reports every bad ID, action and key of a YAML
//! file instead of the first.
//!
//! serde stops at the first error, and serde_norway gives no positions for values that parsed
//! fine, so errors are caught where it is safe to continue: around a *scalar* (an ID, an
//! action, a key, a one-value field). serde_norway has consumed a scalar's event before the
//! visitor runs, so after a failed scalar the event stream is still in step; after a failed
//! list or mapping it is not (the rest of the node is still unread), and such errors end the
//! parse as before. Visitors mark a failure as a scalar one with [`fail`]; [`Recover`] catches
//! only those, takes the message (which serde_norway has by then given the value's path and
//! position, e.g. `jobs[0].files[1]: ... at line 2 column 18`) into a per-thread sink that
//! [`Collecting`] installs, and hands back `None` in place of the value.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, Deserialize, Deserializer};

/// Messages kept per parse (the count goes on); the loader shows far fewer.
const MAX_KEPT: usize = 1000;

#[derive(Default)]
struct Sink {
    messages: Vec<String>,
    count: usize,
}

thread_local! {
    /// The messages of the parse running on this thread, when one collects.
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
    /// Set by [`fail`]: the error on its way up comes from a scalar already consumed.
    static SCALAR_FAILED: Cell<bool> = const { Cell::new(false) };
}

/// An error from a scalar visitor, marked as safe to recover from.
pub(crate) fn fail<E: de::Error>(msg: impl fmt::Display) -> E {
    SCALAR_FAILED.with(|f| f.set(true));
    E::custom(msg)
}

/// How many errors were recovered so far in this parse (to tell whether a part had any).
pub(super) fn recovered() -> usize {
    SINK.with(|s| s.borrow().as_ref().map_or(0, |s| s.count))
}

/// Installs the sink for one parse; dropping it removes the sink.
pub(super) struct Collecting;

impl Collecting {
    pub(super) fn start() -> Collecting {
        SINK.with(|s| *s.borrow_mut() = Some(Sink::default()));
        SCALAR_FAILED.with(|f| f.set(false));
        Collecting
    }

    /// The recovered messages (in document order) and how many there were in all.
    pub(super) fn finish(self) -> (Vec<String>, usize) {
        let sink = SINK.with(|s| s.borrow_mut().take()).unwrap_or_default();
        (sink.messages, sink.count)
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        SINK.with(|s| *s.borrow_mut() = None);
    }
}

/// A value that may have failed: `Recover(None)` after a scalar error, which is recorded.
pub(crate) struct Recover<T>(pub(crate) Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Recover<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        recover(T::deserialize(d)).map(Recover)
    }
}

/// `Ok(None)` for a scalar error while a sink is installed (the message is recorded), the
/// error itself otherwise.
pub(crate) fn recover<T, E: de::Error>(r: Result<T, E>) -> Result<Option<T>, E> {
    let scalar = SCALAR_FAILED.with(|f| f.replace(false));
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if scalar => SINK.with(|s| match s.borrow_mut().as_mut() {
            Some(sink) => {
                sink.count += 1;
                if sink.messages.len() < MAX_KEPT {
                    sink.messages.push(e.to_string());
                }
                Ok(None)
            }
            None => Err(e),
        }),
        Err(e) => Err(e),
    }
}
