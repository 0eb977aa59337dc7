//! Which tasks are done and which are left: what `--resume` runs, when the resume command is
//! printed, and what `--resume latest` looks for.
//!
//! A task is final when its row is `ok`, `unchanged`, `locked_by_other`, `failed` with a
//! permanent kind (the file is missing, the caller may not, the answer makes no sense, the
//! lock stayed) or `skipped` because of a final failure. It is left when it has no row, or its
//! row is `cancelled`, `failed` with a transient kind (429, 5xx, timeout, network, a rejected
//! key), or `skipped` because an earlier task of its file and job is left: once that one runs
//! again, so must they.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::job::{FileId, Task};
use crate::report::{Outcome, ResultRow};

/// The tasks of `plan` still to run, in `seq` order. `retry_failed` also takes the tasks that
/// failed permanently (and the ones skipped because of them).
pub fn pending(plan: &[Task], rows: &[ResultRow], retry_failed: bool) -> Vec<Task> {
    let by_seq: HashMap<u64, &ResultRow> = rows.iter().map(|r| (r.seq, r)).collect();
    // (job, file) pairs with a task left: their later `skipped` tasks are left too.
    let mut open: HashSet<(Arc<str>, FileId)> = HashSet::new();
    let mut out = Vec::new();
    for t in plan {
        let key = (t.job.clone(), t.file.clone());
        let left = match by_seq.get(&t.seq) {
            None => true,
            Some(r) => match r.outcome {
                Outcome::Ok | Outcome::Unchanged | Outcome::LockedByOther => false,
                Outcome::Skipped => retry_failed || open.contains(&key),
                Outcome::Failed => retry_failed || !r.error_kind.is_some_and(|k| k.is_permanent()),
                Outcome::Cancelled | Outcome::Planned => true,
            },
        };
        if left {
            open.insert(key);
            out.push(t.clone());
        }
    }
    out
}

/// Whether a run with these rows has work left (without `--retry-failed`).
pub fn work_left(plan: &[Task], rows: &[ResultRow]) -> bool {
    !pending(plan, rows, false).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorKind;
    use crate::job::{Action, OnFailure};

    fn task(seq: u64, file: u32, action: Action) -> Task {
        Task {
            seq,
            job: "j".into(),
            file: FileId::Int(file),
            action,
            on_failure: OnFailure::SkipRest,
        }
    }

    fn row(t: &Task, outcome: Outcome, kind: Option<ErrorKind>) -> ResultRow {
        let mut r = ResultRow::new(t.seq, &t.job, &t.file, t.action, outcome);
        r.error_kind = kind;
        r
    }

    #[test]
    fn final_and_left_follow_the_error_kind() {
        let plan: Vec<Task> = vec![
            task(1, 1, Action::Lock),         // ok
            task(2, 2, Action::Lock),         // failed not_found: final
            task(3, 2, Action::ProtectUsers), // skipped after a final failure: final
            task(4, 3, Action::Lock),         // failed 503: left
            task(5, 3, Action::ProtectUsers), // skipped after it: left
            task(6, 4, Action::Info),         // cancelled: left
            task(7, 5, Action::Info),         // no row: left
        ];
        let rows = vec![
            row(&plan[0], Outcome::Ok, None),
            row(&plan[1], Outcome::Failed, Some(ErrorKind::NotFound)),
            row(&plan[2], Outcome::Skipped, None),
            row(&plan[3], Outcome::Failed, Some(ErrorKind::ServerError)),
            row(&plan[4], Outcome::Skipped, None),
            row(&plan[5], Outcome::Cancelled, None),
        ];
        let seqs = |v: Vec<Task>| v.into_iter().map(|t| t.seq).collect::<Vec<_>>();
        assert_eq!(seqs(pending(&plan, &rows, false)), [4, 5, 6, 7]);
        assert_eq!(seqs(pending(&plan, &rows, true)), [2, 3, 4, 5, 6, 7]);
        assert!(work_left(&plan, &rows));
        assert!(!work_left(&plan[..3], &rows));
    }
}
