//! The scheduler and the collector. Tasks on one file run one at a time in `seq` order;
//! different files run concurrently up to `--concurrency`. Workers never print or write: they
//! send each finished task to the collector, which owns the report writer, the counters and
//! the progress display, so nothing else needs a lock on them and no two lines interleave.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::exec::{run_task, Ctx, FileMemo, TaskOutput};
use super::stop::StopReason;
use crate::job::{FileId, OnFailure, Task};
use crate::progress::{Counts, Progress, Ui};
use crate::report::{Outcome, ReportWriter, ResultRow};

/// What the collector saw.
#[derive(Debug, Default)]
pub struct Executed {
    /// Counts over the tasks run now.
    pub counts: Counts,
    /// Files whose answer said `security.Lock: false` (the caller may not lock them), in
    /// the order seen, each once.
    pub cannot_lock: Vec<String>,
}

/// Runs `tasks` and streams their rows into `writer`. Tasks that never started get
/// `cancelled` rows, so every task has exactly one row.
pub async fn execute(
    ctx: Arc<Ctx>,
    tasks: Arc<Vec<Task>>,
    titles: Arc<HashMap<FileId, String>>,
    writer: &mut ReportWriter,
    ui: &mut Ui,
    label: &str,
) -> std::io::Result<Executed> {
    let (handles, rx) = spawn_workers(&ctx, &tasks, titles);
    let mut progress = Progress::new(ui, tasks.len() as u64, label);
    let mut c = Collector {
        ctx: &ctx,
        writer,
        done: vec![false; tasks.len()],
        out: Executed::default(),
        cannot_lock_seen: HashSet::new(),
    };
    c.collect(rx, &mut progress).await?;
    for h in handles {
        let _ = h.await;
    }
    c.cancel_unrun(&tasks)?;
    refresh(&ctx, &mut c.out.counts);
    progress.finish();
    Ok(c.out)
}

/// Starts up to `--concurrency` workers (never more than there are files). Each takes the next
/// file's queue and runs it to the end; the receiver closes once every worker is done.
fn spawn_workers(
    ctx: &Arc<Ctx>,
    tasks: &Arc<Vec<Task>>,
    titles: Arc<HashMap<FileId, String>>,
) -> (Vec<JoinHandle<()>>, mpsc::Receiver<Finished>) {
    let queues = Arc::new(group_by_file(tasks));
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Finished>(4096);
    let workers = ctx.cfg.concurrency.min(queues.len()).max(1);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (ctx, tasks, queues, next, tx, titles) = (
            ctx.clone(),
            tasks.clone(),
            queues.clone(),
            next.clone(),
            tx.clone(),
            titles.clone(),
        );
        handles.push(tokio::spawn(async move {
            loop {
                if ctx.stop.no_new_tasks() {
                    return;
                }
                let q = next.fetch_add(1, Ordering::Relaxed);
                let Some(queue) = queues.get(q) else { return };
                if !run_queue(&ctx, &tasks, queue, &titles, &tx).await {
                    return;
                }
            }
        }));
    }
    (handles, rx)
}

/// A finished task: its index in the task list and what it produced.
type Finished = (usize, TaskOutput);

/// The one owner of the report writer, the counters and the progress display while tasks run.
struct Collector<'a> {
    ctx: &'a Ctx,
    writer: &'a mut ReportWriter,
    /// Indexed like the task list: true once the task's row is written.
    done: Vec<bool>,
    out: Executed,
    /// Files already in `out.cannot_lock`.
    cannot_lock_seen: HashSet<String>,
}

impl Collector<'_> {
    /// Takes finished tasks until every worker has hung up, refreshing the progress display
    /// after each batch and once a second in between.
    async fn collect(
        &mut self,
        mut rx: mpsc::Receiver<Finished>,
        progress: &mut Progress,
    ) -> std::io::Result<()> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(mut msg) = msg else { return Ok(()) };
                    // Write every row already waiting, then flush once: rows are still on disk
                    // before the collector waits again, without a write(2) per row at high rates.
                    loop {
                        self.take(msg)?;
                        match rx.try_recv() {
                            Ok(m) => msg = m,
                            Err(_) => break,
                        }
                    }
                    self.writer.flush()?;
                }
                _ = tick.tick() => {}
            }
            refresh(self.ctx, &mut self.out.counts);
            progress.update(&self.out.counts);
        }
    }

    /// Counts one finished task and buffers its rows; trips `--max-failures`.
    fn take(&mut self, (i, o): Finished) -> std::io::Result<()> {
        self.done[i] = true;
        if o.row.can_lock == Some(false) && self.cannot_lock_seen.insert(o.row.file_id.clone()) {
            self.out.cannot_lock.push(o.row.file_id.clone());
        }
        count(&mut self.out.counts, &o.row);
        self.writer.result_unflushed(&o.row)?;
        if !o.access.is_empty() {
            self.writer.access_unflushed(&o.access)?;
        }
        if let Some(max) = self.ctx.cfg.max_failures {
            if self.out.counts.failed >= max && !self.ctx.stop.stopped() {
                self.ctx.stop.stop(StopReason::MaxFailures(max));
            }
        }
        Ok(())
    }

    /// Writes a `cancelled` row, carrying the stop reason, for every task that has none.
    fn cancel_unrun(&mut self, tasks: &[Task]) -> std::io::Result<()> {
        let why = self
            .ctx
            .stop
            .reason()
            .map(|r| r.describe())
            .unwrap_or_else(|| "not run".into());
        for (i, t) in tasks.iter().enumerate() {
            if !self.done[i] {
                let mut row = ResultRow::new(t.seq, &t.job, &t.file, t.action, Outcome::Cancelled);
                row.error = why.clone();
                row.finished_at = crate::now_rfc3339();
                count(&mut self.out.counts, &row);
                self.writer.result(&row)?;
            }
        }
        Ok(())
    }
}

fn refresh(ctx: &Ctx, c: &mut Counts) {
    c.requests = ctx.stats.requests.load(Ordering::Relaxed);
    c.throttled = ctx.stats.throttled.load(Ordering::Relaxed);
}

fn count(c: &mut Counts, row: &ResultRow) {
    c.done += 1;
    match row.outcome {
        Outcome::Failed => c.failed += 1,
        Outcome::Skipped => c.skipped += 1,
        o if o.is_final() => c.ok += 1,
        _ => {}
    }
}

/// Runs one file's tasks in order. Returns false when the worker should stop.
async fn run_queue(
    ctx: &Ctx,
    tasks: &[Task],
    queue: &[usize],
    titles: &HashMap<FileId, String>,
    tx: &mpsc::Sender<Finished>,
) -> bool {
    // A title from the folder listing, so access.csv has it without an extra request.
    let mut memo = FileMemo {
        title: queue
            .first()
            .and_then(|&i| titles.get(&tasks[i].file).cloned()),
    };
    // Jobs in which an earlier task on this file failed (skip_rest).
    let mut failed_in: Vec<(std::sync::Arc<str>, u64)> = Vec::new();
    for &i in queue {
        if ctx.stop.no_new_tasks() {
            return false;
        }
        let t = &tasks[i];
        if ctx.stop.writes_stopped() && t.action.is_write() {
            continue; // the daily cap: left for the cancelled rows
        }
        let out = if let Some((_, seq)) = failed_in.iter().find(|(j, _)| *j == t.job) {
            let mut row = ResultRow::new(t.seq, &t.job, &t.file, t.action, Outcome::Skipped);
            row.error =
                format!("an earlier task on this file failed (seq {seq}); on_failure: skip_rest");
            row.finished_at = crate::now_rfc3339();
            TaskOutput {
                row,
                access: Vec::new(),
            }
        } else {
            let out = run_task(ctx, t, &mut memo).await;
            if out.row.outcome == Outcome::Cancelled {
                // Not done: leave it to the cancelled rows unless it made requests (then its
                // row says what happened before the stop).
                if out.row.attempts == 0 {
                    continue;
                }
            }
            if out.row.outcome == Outcome::Failed && t.on_failure == OnFailure::SkipRest {
                failed_in.push((t.job.clone(), t.seq));
            }
            out
        };
        if tx.send((i, out)).await.is_err() {
            return false; // collector gone: shutting down
        }
    }
    true
}

/// Task indices grouped per file, files in order of their first task, tasks in `seq` order.
fn group_by_file(tasks: &[Task]) -> Vec<Vec<usize>> {
    let mut index: HashMap<&FileId, usize> = HashMap::with_capacity(tasks.len());
    let mut queues: Vec<Vec<usize>> = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let q = *index.entry(&t.file).or_insert_with(|| {
            queues.push(Vec::new());
            queues.len() - 1
        });
        queues[q].push(i);
    }
    queues
}

#[cfg(test)]
mod tests;
