//! The end of a command: the exit decision, `summary.json`/`summary.md`, the one-line summary
//! and the resume command.

use std::sync::atomic::Ordering;

use super::Session;
use crate::error::{Error, Exit};
use crate::progress::{print_stdout, Level};
use crate::record::RecordError;
use crate::report::export;
use crate::report::summary::{self, RunStats, SkippedFolder, Summary};
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
    /// Decides the exit code, records how this process ended, rewrites every export from the
    /// record, prints the summary.
    pub(super) fn finish(&mut self, ctx: &Ctx, plan: &Plan) -> Result<Exit, Error> {
        let rows = self.record.results().map_err(rec)?;
        let base = Summary::from_rows(&self.name, &self.portal, &rows);
        let tally = Tally {
            failed: base.outcome(Outcome::Failed),
            skipped: base.outcome(Outcome::Skipped),
            cancelled: base.outcome(Outcome::Cancelled),
        };
        let reason = ctx.stop.reason();
        let exit = decide(tally, reason.as_ref());
        // The resume command only when a resume has something to do: a file that does not
        // exist will not exist tomorrow either (`--retry-failed` is for when it will).
        let resume = super::pending::work_left(&plan.tasks, &rows).then(|| self.next_command());
        let counters = ctx.counters();
        let describe = reason.as_ref().map(StopReason::describe);
        // Whatever cannot be written now (a full disk), the operator still gets the summary
        // line and the resume command; the failure is reported after them.
        let ended = self
            .record
            .end(exit.code() as i32, describe.as_deref(), &counters)
            .map_err(rec);
        let s = match self.summary(base.clone(), exit, reason.as_ref(), resume.clone()) {
            Ok(s) => s,
            Err(_) => Summary {
                exit_code: exit.code() as i32,
                resume_command: resume.clone(),
                ..base
            },
        };
        let written = ended.and_then(|()| self.export(&s, &rows, plan));
        self.print_summary(ctx, &s, exit, reason.as_ref(), resume.as_deref());
        written.map(|()| exit)
    }

    /// Every export rewritten from the record.
    pub(super) fn export(&self, s: &Summary, rows: &[ResultRow], plan: &Plan) -> Result<(), Error> {
        let io = |e| self.io_error(e);
        let access = self.record.access().map_err(rec)?;
        let shares = self.record.shares().map_err(rec)?;
        let out = export::Exported {
            rows,
            access: &access,
            shares: &shares,
        };
        export::write_csvs(self.dir(), out, self.settings.csv_bom).map_err(io)?;
        s.write_json(self.dir()).map_err(io)?;
        summary::write_markdown(self.dir(), s, out, &plan.groups).map_err(io)
    }

    /// The summary over every process that recorded into this directory, from the record.
    pub(super) fn summary(
        &self,
        base: Summary,
        exit: Exit,
        reason: Option<&StopReason>,
        resume: Option<String>,
    ) -> Result<Summary, Error> {
        let t = self.record.totals().map_err(rec)?;
        let skipped = self.record.skipped_folders().map_err(rec)?;
        let first_start = t.first_start.unwrap_or_else(|| self.started_at.clone());
        let finished_at = crate::now_rfc3339();
        Ok(Summary {
            stats: RunStats {
                requests: t.requests,
                retries: t.retries,
                rate_limited_429: t.throttled,
                busy_seconds: t.busy_seconds,
            },
            achieved_rate: if t.busy_seconds > 0.0 {
                t.requests as f64 / t.busy_seconds
            } else {
                0.0
            },
            duration_seconds: crate::seconds_between(&first_start, &finished_at).unwrap_or(0.0),
            started_at: first_start,
            finished_at,
            exit_code: exit.code() as i32,
            stop_reason: reason.map(StopReason::describe),
            resume_command: resume,
            resumes: t.sessions.saturating_sub(1) as u32,
            skipped_folders: skipped
                .into_iter()
                .map(|(folder_id, reason)| SkippedFolder { folder_id, reason })
                .collect(),
            portal_info: self.record.portal_info().map_err(rec)?,
            ..base
        })
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
            "{}: {}: {} ({:.1} s, {}, {}, {} 429s) — exit {}\n",
            self.name,
            crate::text::count(s.tasks, "task"),
            if parts.is_empty() {
                "nothing to do".into()
            } else {
                parts.join(", ")
            },
            self.t0.elapsed().as_secs_f64(),
            crate::text::count(ctx.stats.requests.load(Ordering::Relaxed), "request"),
            crate::text::count_as(
                ctx.stats.retries.load(Ordering::Relaxed),
                "retry",
                "retries"
            ),
            ctx.stats.throttled.load(Ordering::Relaxed),
            exit.code()
        );
        if ui.output().json {
            ui.event(
                // Notice: the one-line summary survives --quiet in JSON as it does in text.
                Level::Notice,
                line.trim_end(),
                serde_json::json!({"event": "summary", "tasks": s.tasks, "outcomes": s.outcomes, "exit_code": exit.code(), "report_dir": self.dir().display().to_string(), "resume_command": resume}),
            );
        } else {
            print_stdout(&line);
        }
        match reason {
            Some(r) if r.exit() != exit => {
                ui.info(&format!("{}; every task had started by then", r.describe()))
            }
            Some(r @ StopReason::Record(_)) => ui.error(&format!(
                "{}; {} lock/unlock requests had been sent",
                r.describe(),
                ctx.counters().writes
            )),
            // An expected stop (a signal, the cron window, the daily cap) is a warning, not an
            // error: the run did what it was told and says how to continue.
            Some(r) => ui.log(
                if matches!(
                    r,
                    StopReason::Signal | StopReason::MaxDuration | StopReason::DailyCap { .. }
                ) {
                    Level::Warn
                } else {
                    Level::Error
                },
                &r.describe(),
            ),
            None => {}
        }
        ui.log(Level::Notice, &format!("reports: {}", self.dir().display()));
        if let Some(c) = resume {
            // Shown even with --quiet: it is what the operator (or cron mail) needs next.
            ui.log(Level::Notice, &format!("work is left; resume with: {c}"));
        }
    }
}

/// A record that cannot be read or written at the end: an I/O problem.
fn rec(e: RecordError) -> Error {
    Error::Io(e.to_string())
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
