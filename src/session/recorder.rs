//! The collector's [`Sink`]: each batch goes into `run.db` first, then is appended to the CSV
//! exports; a restore also marks the files it released in the records of the runs it restores.

use crate::job::{Action, FileId};
use crate::record::{Counters, Record};
use crate::report::export::Stream;
use crate::report::Outcome;
use crate::runner::exec::TaskOutput;
use crate::runner::journal::Sink;

/// Record + exports (+ the restored runs' records).
pub struct Recorder<'a> {
    /// This command's record.
    pub record: &'a mut Record,
    /// The CSV appenders.
    pub stream: Stream,
    /// For `restore`: the records of the runs being restored.
    pub sources: &'a mut [Record],
}

impl Sink for Recorder<'_> {
    fn intent(
        &mut self,
        seq: u64,
        file: &FileId,
        lock: bool,
        was_locked: Option<bool>,
        counters: &Counters,
    ) -> Result<(), String> {
        self.record
            .intent(seq, file, lock, was_locked, counters)
            .map_err(|e| e.to_string())
    }

    fn commit(&mut self, batch: &[&TaskOutput], counters: &Counters) -> Result<(), String> {
        let rows: Vec<_> = batch
            .iter()
            .map(|o| (&o.row, o.access.as_slice(), o.shares.as_slice()))
            .collect();
        self.record
            .commit(&rows, counters)
            .map_err(|e| e.to_string())?;
        self.stream.append(&rows).map_err(|e| e.to_string())?;
        if self.sources.is_empty() {
            return Ok(());
        }
        let released: Vec<String> = batch
            .iter()
            .map(|o| &o.row)
            .filter(|r| {
                r.action == Action::Unlock && matches!(r.outcome, Outcome::Ok | Outcome::Unchanged)
            })
            .map(|r| r.file_id.clone())
            .collect();
        if !released.is_empty() {
            let by = self.record.dir().display().to_string();
            for s in self.sources.iter_mut() {
                s.release(&released, &by).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}
