//! `run --dry-run`: the plan as `planned` rows, and what executing it would cost.

use std::collections::{BTreeMap, HashSet};

use super::Session;
use crate::error::{Error, Exit};
use crate::job::Action;
use crate::progress::print_stdout;
use crate::record::Counters;
use crate::report::summary::{RunStats, Summary};
use crate::report::{Outcome, ResultRow};
use crate::runner::exec::TaskOutput;
use crate::runner::plan::Plan;
use crate::text::{count, sanitize};

impl Session {
    /// Records and exports the `planned` rows, prints the plan. `requests_sent` counts the
    /// key check and folder listings.
    pub(super) fn dry_run(&mut self, plan: &Plan, requests_sent: u64) -> Result<Exit, Error> {
        let rec = |e: crate::record::RecordError| Error::Io(e.to_string());
        let outputs: Vec<TaskOutput> = plan
            .tasks
            .iter()
            .map(|t| {
                let mut row = ResultRow::new(t.seq, &t.job, &t.file, t.action, Outcome::Planned);
                row.title = plan.titles.get(&t.file).cloned().unwrap_or_default();
                row.finished_at = crate::now_rfc3339();
                TaskOutput {
                    row,
                    access: Vec::new(),
                    shares: Vec::new(),
                }
            })
            .collect();
        let batch: Vec<_> = outputs
            .iter()
            .map(|o| (&o.row, o.access.as_slice(), o.shares.as_slice()))
            .collect();
        let counters = Counters {
            requests: requests_sent,
            ..Counters::default()
        };
        self.record.commit(&batch, &counters).map_err(rec)?;
        self.record.end(0, None, &counters).map_err(rec)?;
        print_stdout(&self.plan_text(plan));
        let rows = self.record.results().map_err(rec)?;
        let s = Summary {
            stats: RunStats {
                requests: requests_sent,
                ..RunStats::default()
            },
            started_at: self.started_at.clone(),
            dry_run: true,
            portal_info: self.record.portal_info().map_err(rec)?,
            ..Summary::from_rows(&self.name, &self.portal, &rows)
        };
        self.export(&s, &rows, plan)?;
        Ok(Exit::Success)
    }

    fn plan_text(&self, plan: &Plan) -> String {
        let cfg = &self.settings;
        let mut per_action: BTreeMap<Action, u64> = BTreeMap::new();
        let mut per_job: BTreeMap<String, u64> = BTreeMap::new();
        for t in &plan.tasks {
            *per_action.entry(t.action).or_default() += 1;
            *per_job.entry(t.job.to_string()).or_default() += 1;
        }
        let writes: u64 = per_action
            .iter()
            .filter(|(a, _)| a.is_write())
            .map(|(_, n)| n)
            .sum();
        let requests = plan.tasks.len() as u64 + if cfg.check_state { writes } else { 0 };
        let mut out = format!("Plan for {} (dry run, nothing sent):\n", self.name);
        for (j, n) in &per_job {
            out.push_str(&format!("  job {}: {}\n", sanitize(j), count(*n, "task")));
        }
        for (a, n) in &per_action {
            out.push_str(&format!("  {a}: {n}\n"));
        }
        let files: HashSet<_> = plan.tasks.iter().map(|t| &t.file).collect();
        out.push_str(&format!(
            "  total: {} on {}\n",
            count(plan.tasks.len() as u64, "task"),
            count(files.len() as u64, "file")
        ));
        out.push_str(&format!(
            "  writes (PUT): up to {writes}{}\n",
            if cfg.check_state && writes > 0 {
                " (fewer where the state check finds the file already as wanted)"
            } else {
                ""
            }
        ));
        match cfg.rate.interval() {
            Some(i) => out.push_str(&format!(
                "  requests: about {requests}; estimated duration at {}: {}\n",
                cfg.rate,
                crate::units::human_duration(i * requests.min(u32::MAX as u64) as u32)
            )),
            None => out.push_str(&format!(
                "  requests: about {requests}; rate unlimited: duration depends on the portal\n"
            )),
        }
        if writes > 10_000 {
            out.push_str(&format!(
                "  WARNING: {writes} writes exceed DocSpace's default daily cap of 10000 writes per user; the run would stop at the cap (exit 3) and resume the next day. Consider --shard to spread it over days\n"
            ));
        }
        out.push_str(&format!("  report: {}\n", self.dir().display()));
        out
    }
}
