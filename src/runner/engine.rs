//! The scheduler and the collector. Tasks on one file run one at a time in `seq` order;
//! different files run concurrently up to `--concurrency`. Workers never print or write: they
//! send each finished task (and each write intent) to the collector, which owns the record
//! ([`Sink`]), the counters and the progress display, so nothing else needs a lock on them and
//! no two lines interleave.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::exec::{run_task, Ctx, FileMemo, TaskOutput};
use super::journal::{Journal, Msg, Sink};
use super::stop::StopReason;
use crate::job::{FileId, OnFailure, Task};
use crate::progress::{Counts, Progress, Ui};
use crate::record::Intent;
use crate::report::{Outcome, ResultRow};

/// What the collector saw.
#[derive(Debug, Default)]
pub struct Executed {
    /// Counts over the tasks run now.
    pub counts: Counts,
    /// Files whose answer said `security.Lock: false` (the caller may not lock them), in
    /// the order seen, each once.
    pub cannot_lock: Vec<String>,
}

/// Runs `tasks` and commits their rows into `sink`. Tasks that never started get `cancelled`
/// rows, so every task has exactly one row. `unsettled` holds the write intents an earlier
/// process left without an answer, by `seq`. A sink that fails stops the run
/// ([`StopReason::Record`]); the rows that could not be committed are lost, their intents not.
pub async fn execute(
    ctx: Arc<Ctx>,
    tasks: Arc<Vec<Task>>,
    titles: Arc<HashMap<FileId, String>>,
    sink: &mut dyn Sink,
    unsettled: HashMap<u64, Intent>,
    ui: &mut Ui,
    label: &str,
) -> Executed {
    ctx.tasks_running.store(true, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel::<Msg>(4096);
    let journal = Journal::new(tx, Arc::new(unsettled));
    let handles = spawn_workers(&ctx, &tasks, titles, &journal);
    drop(journal);
    let mut progress = Progress::new(ui, tasks.len() as u64, label);
    let mut c = Collector {
        ctx: &ctx,
        sink,
        failed: false,
        done: vec![false; tasks.len()],
        out: Executed::default(),
        cannot_lock_seen: HashSet::new(),
    };
    c.collect(rx, &mut progress).await;
    for h in handles {
        let _ = h.await;
    }
    c.cancel_unrun(&tasks);
    refresh(&ctx, &mut c.out.counts);
    progress.finish();
    c.out
}

/// Starts up to `--concurrency` workers (never more than there are files). Each takes the next
/// file's queue and runs it to the end; the receiver closes once every worker is done.
fn spawn_workers(
    ctx: &Arc<Ctx>,
    tasks: &Arc<Vec<Task>>,
    titles: Arc<HashMap<FileId, String>>,
    journal: &Journal,
) -> Vec<JoinHandle<()>> {
    let queues = Arc::new(group_by_file(tasks));
    let next = Arc::new(AtomicUsize::new(0));
    let workers = ctx.cfg.concurrency.min(queues.len()).max(1);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (ctx, tasks, queues, next, tx, titles) = (
            ctx.clone(),
            tasks.clone(),
            queues.clone(),
            next.clone(),
            journal.clone(),
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
    handles
}

/// The one owner of the record, the counters and the progress display while tasks run.
struct Collector<'a> {
    ctx: &'a Ctx,
    sink: &'a mut dyn Sink,
    /// The sink failed once: the run is stopping; later batches are still tried.
    failed: bool,
    /// Indexed like the task list: true once the task's row is written.
    done: Vec<bool>,
    out: Executed,
    /// Files already in `out.cannot_lock`.
    cannot_lock_seen: HashSet<String>,
}

impl Collector<'_> {
    /// Takes finished tasks until every worker has hung up, refreshing the progress display
    /// after each batch and once a second in between.
    async fn collect(&mut self, mut rx: mpsc::Receiver<Msg>, progress: &mut Progress) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(mut msg) = msg else { return };
                    // Commit every row already waiting in one transaction: rows are on disk
                    // before the collector waits again, without a commit per row at high rates.
                    let mut batch = Vec::new();
                    loop {
                        self.take(msg, &mut batch);
                        match rx.try_recv() {
                            Ok(m) => msg = m,
                            Err(_) => break,
                        }
                    }
                    self.commit(&batch);
                }
                _ = tick.tick() => {}
            }
            refresh(self.ctx, &mut self.out.counts);
            progress.update(&self.out.counts);
        }
    }

    /// An intent is committed at once (its worker waits); a finished task is counted and
    /// kept for the batch; trips `--max-failures`.
    fn take(&mut self, msg: Msg, batch: &mut Vec<TaskOutput>) {
        let (i, o) = match msg {
            Msg::Intent {
                seq,
                file,
                lock,
                was_locked,
                ack,
            } => {
                let ok = !self.failed && {
                    let counters = self.ctx.counters();
                    let r = self.sink.intent(seq, &file, lock, was_locked, &counters);
                    self.sink_result(r)
                };
                let _ = ack.send(ok);
                return;
            }
            Msg::Done(i, o) => (i, *o),
        };
        self.done[i] = true;
        if o.row.can_lock == Some(false) && self.cannot_lock_seen.insert(o.row.file_id.clone()) {
            self.out.cannot_lock.push(o.row.file_id.clone());
        }
        count(&mut self.out.counts, &o.row);
        if let Some(max) = self.ctx.cfg.max_failures {
            if self.out.counts.failed >= max && !self.ctx.stop.stopped() {
                self.ctx.stop.stop(StopReason::MaxFailures(max));
            }
        }
        batch.push(o);
    }

    /// Commits a batch (with the counters as they stand).
    fn commit(&mut self, batch: &[TaskOutput]) {
        if batch.is_empty() {
            return;
        }
        let refs: Vec<&TaskOutput> = batch.iter().collect();
        let r = self.sink.commit(&refs, &self.ctx.counters());
        self.sink_result(r);
    }

    /// A sink failure stops the run: no new task starts, tasks in flight finish.
    fn sink_result(&mut self, r: Result<(), String>) -> bool {
        match r {
            Ok(()) => true,
            Err(e) => {
                if !self.failed {
                    self.failed = true;
                    self.ctx.stop.stop_starting(StopReason::Record(e));
                }
                false
            }
        }
    }

    /// Commits a `cancelled` row, carrying the stop reason, for every task that has none.
    fn cancel_unrun(&mut self, tasks: &[Task]) {
        let why = self
            .ctx
            .stop
            .reason()
            .map(|r| r.describe())
            .unwrap_or_else(|| "not run".into());
        let mut batch = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            if !self.done[i] {
                let mut row = ResultRow::new(t.seq, &t.job, &t.file, t.action, Outcome::Cancelled);
                row.error = why.clone();
                row.finished_at = crate::now_rfc3339();
                count(&mut self.out.counts, &row);
                batch.push(TaskOutput {
                    row,
                    access: Vec::new(),
                    shares: Vec::new(),
                });
            }
        }
        self.commit(&batch);
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
    journal: &Journal,
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
                shares: Vec::new(),
            }
        } else {
            let out = run_task(ctx, t, &mut memo, journal).await;
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
        let Some(tx) = journal.sender() else {
            return false;
        };
        if tx.send(Msg::Done(i, Box::new(out))).await.is_err() {
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
