//! Limits on hostile YAML that the parser itself does not enforce: flow nesting is checked on
//! the text before parsing (libyaml's time grows quadratically with it), and [`ItemBudget`]
//! caps the list items and jobs deserialized while parsing (alias amplification).

use std::path::Path;

use serde::de;

use super::MAX_FLOW_DEPTH;
use crate::job::{line_at, JobError};

/// Refuses flow nesting deeper than [`MAX_FLOW_DEPTH`]. Brackets inside quoted strings and
/// comments are counted too; that can only over-count, and no sane job file comes close.
pub(super) fn check_flow_depth(path: &Path, text: &str) -> Result<(), JobError> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    let line = line_at(text.as_bytes(), i);
                    return Err(JobError::new(
                        path,
                        Some(line),
                        None,
                        format!(
                            "`[`/`{{` nested more than {MAX_FLOW_DEPTH} levels deep; a job file needs at most 3"
                        ),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

thread_local! {
    /// List items and jobs that may still be deserialized on this thread (see [`ItemBudget`]).
    static ITEMS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Caps the list items and jobs one parse may produce. A written-out item takes at least two
/// bytes (`1,`), so a budget of half the file size never bites a file without aliases, while
/// `*alias` references that multiply a long list run out of it quickly. Deserialization is
/// synchronous, so a thread-local is enough; the guard lifts the cap when dropped.
pub(super) struct ItemBudget;

impl ItemBudget {
    pub(super) fn set(items: usize) -> ItemBudget {
        ITEMS_LEFT.with(|c| c.set(items));
        ItemBudget
    }

    pub(super) fn spend<E: de::Error>() -> Result<(), E> {
        ITEMS_LEFT.with(|c| match c.get() {
            0 => Err(E::custom(
                "more list items than this file could hold written out: `*alias` references \
                 multiply lists (a YAML alias bomb?); write the values out or use `files_from:`",
            )),
            n => {
                c.set(n - 1);
                Ok(())
            }
        })
    }
}

impl Drop for ItemBudget {
    fn drop(&mut self) {
        ITEMS_LEFT.with(|c| c.set(usize::MAX));
    }
}
