//! The end of a command: the exit decision, `summary.json`/`summary.md`, the one-line summary
//! and the resume command.

use std::sync::atomic::Ordering;

use super::Session;
use crate::error::{Error, Exit};
use crate::progress::{print_stdout, Level};
use crate::report::summary::{self, Summary};
use crate::report::{Outcome, ResultRow};
use crate::runner::exec::Ctx;
use crate::runner::plan::Plan;
use crate::runner::stop::StopReason;

/// The counts the exit decision looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Tasks `failed`.
    pub failed: u64,
    /// Tasks `skipped`.
    pub skipped: u64,
    /// Tasks `cancelled`.
    pub cancelled: u64,
}

/// The exit code of a finished command: the stop reason's code when the stop cut work short,
/// else 1 when any task is not done, else 0.
pub fn decide(t: Tally, reason: Option<&StopReason>) -> Exit {
    match reason {
        // The deadline passed after every task had started: nothing was cut short, so the
        // normal rules decide.
        Some(StopReason::MaxDuration) if t.cancelled == 0 => {}
        Some(r) => return r.exit(),
        None => {}
    }
    if t.failed + t.skipped + t.cancelled > 0 {
        Exit::TaskFailures
    } else {
        Exit::Success
    }
}

impl Session {
    /// Picks the exit code, writes summary.json/summary.md, prints the summary.
    pub(super) fn finish(
        &self,
        ctx: &Ctx,
        rows: &[ResultRow],
        plan: &Plan,
        cannot_lock: Vec<String>,
    ) -> Result<Exit, Error> {
        let io = |e| self.io_error(e);
        let base = Summary::from_rows(&self.name, &self.portal, rows);
        let n = |o: Outcome| base.outcome(o);
        let tally = Tally {
            failed: n(Outcome::Failed),
            skipped: n(Outcome::Skipped),
            cancelled: n(Outcome::Cancelled),
        };
        let reason = ctx.stop.reason();
        let exit = decide(tally, reason.as_ref());
        let left = tally.failed + tally.skipped + tally.cancelled;
        let resume = (left > 0).then(|| self.next_command());
        let s = self.summary(
            ctx,
            base,
            exit,
            reason.as_ref(),
            resume.clone(),
            cannot_lock,
        );
        s.write_json(&self.dir).map_err(io)?;
        summary::write_markdown(&self.dir, &s, rows, &plan.groups).map_err(io)?;
        self.print_summary(ctx, &s, exit, reason.as_ref(), resume.as_deref());
        Ok(exit)
    }

    /// The summary over every run into this directory: counters add up across resumes.
    fn summary(
        &self,
        ctx: &Ctx,
        base: Summary,
        exit: Exit,
        reason: Option<&StopReason>,
        resume: Option<String>,
        cannot_lock: Vec<String>,
    ) -> Summary {
        let prev = Summary::read(&self.dir);
        let mut stats = prev.as_ref().map(|p| p.stats.clone()).unwrap_or_default();
        let elapsed = self.t0.elapsed().as_secs_f64();
        stats.requests += ctx.stats.requests.load(Ordering::Relaxed);
        stats.retries += ctx.stats.retries.load(Ordering::Relaxed);
        stats.rate_limited_429 += ctx.stats.throttled.load(Ordering::Relaxed);
        stats.busy_seconds += elapsed;
        // A resume whose directory lost its summary.json (hard kill before the first summary) is
        // still a resume: count it as one and date the run from run.json, so the summary stays
        // true for the union of the runs.
        let first_start = prev
            .as_ref()
            .map(|p| p.started_at.clone())
            .or_else(|| self.resumed_created.clone())
            .unwrap_or_else(|| self.started_at.clone());
        let finished_at = crate::now_rfc3339();
        Summary {
            achieved_rate: if stats.busy_seconds > 0.0 {
                stats.requests as f64 / stats.busy_seconds
            } else {
                0.0
            },
            duration_seconds: crate::seconds_between(&first_start, &finished_at).unwrap_or(elapsed),
            started_at: first_start,
            finished_at,
            stats,
            exit_code: exit.code() as i32,
            stop_reason: reason.map(StopReason::describe),
            resume_command: resume,
            resumes: prev
                .map(|p| p.resumes + 1)
                .unwrap_or(u32::from(self.resumed_created.is_some())),
            cannot_lock,
            ..base
        }
    }

    fn print_summary(
        &self,
        ctx: &Ctx,
        s: &Summary,
        exit: Exit,
        reason: Option<&StopReason>,
        resume: Option<&str>,
    ) {
        let ui = &self.ui;
        let parts: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|o| {
                s.outcomes
                    .get(o.as_str())
                    .map(|c| format!("{c} {}", o.as_str()))
            })
            .collect();
        let line = format!(
            "{}: {} tasks: {} ({:.1} s, {} requests, {} retries, {} 429s) — exit {}\n",
            self.name,
            s.tasks,
            if parts.is_empty() {
                "nothing to do".into()
            } else {
                parts.join(", ")
            },
            self.t0.elapsed().as_secs_f64(),
            ctx.stats.requests.load(Ordering::Relaxed),
            ctx.stats.retries.load(Ordering::Relaxed),
            ctx.stats.throttled.load(Ordering::Relaxed),
            exit.code()
        );
        if ui.output().json {
            ui.event(
                // Notice: the one-line summary survives --quiet in JSON as it does in text.
                Level::Notice,
                line.trim_end(),
                serde_json::json!({"event": "summary", "tasks": s.tasks, "outcomes": s.outcomes, "exit_code": exit.code(), "report_dir": self.dir.display().to_string(), "resume_command": resume}),
            );
        } else {
            print_stdout(&line);
        }
        match reason {
            Some(r) if r.exit() != exit => {
                ui.info(&format!("{}; every task had started by then", r.describe()))
            }
            Some(r) => ui.log(
                if exit == Exit::Interrupted {
                    Level::Warn
                } else {
                    Level::Error
                },
                &r.describe(),
            ),
            None => {}
        }
        ui.info(&format!("reports: {}", self.dir.display()));
        if let Some(c) = resume {
            // Shown even with --quiet: it is what the operator (or cron mail) needs next.
            ui.log(Level::Notice, &format!("work is left; resume with: {c}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn t(failed: u64, skipped: u64, cancelled: u64) -> Tally {
        Tally {
            failed,
            skipped,
            cancelled,
        }
    }

    #[test]
    fn exit_table() {
        let cap = StopReason::DailyCap {
            resume_at: SystemTime::UNIX_EPOCH,
        };
        let cases: &[(Tally, Option<StopReason>, Exit)] = &[
            (t(0, 0, 0), None, Exit::Success),
            (t(1, 0, 0), None, Exit::TaskFailures),
            (t(0, 1, 0), None, Exit::TaskFailures),
            (t(0, 0, 1), None, Exit::TaskFailures),
            (t(0, 0, 3), Some(StopReason::Signal), Exit::Interrupted),
            (t(0, 0, 0), Some(StopReason::Signal), Exit::Interrupted),
            (t(0, 0, 0), Some(StopReason::Unauthorized), Exit::Aborted),
            (t(0, 0, 2), Some(cap), Exit::Aborted),
            (t(5, 0, 1), Some(StopReason::MaxFailures(5)), Exit::Aborted),
            (t(0, 0, 4), Some(StopReason::MaxDuration), Exit::MaxDuration),
            // Deadline after every task started: the normal rules.
            (t(0, 0, 0), Some(StopReason::MaxDuration), Exit::Success),
            (
                t(1, 0, 0),
                Some(StopReason::MaxDuration),
                Exit::TaskFailures,
            ),
        ];
        for (tally, reason, want) in cases {
            assert_eq!(
                decide(*tally, reason.as_ref()),
                *want,
                "{tally:?} {reason:?}"
            );
        }
    }
}
