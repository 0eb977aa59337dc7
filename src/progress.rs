//! Everything the run shows a person: log lines (text or JSON on stderr), the progress bar on a
//! terminal, a stats line every 10 s otherwise (cron). The only code that draws.

use std::io::Write;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Output;
use crate::text::sanitize;

/// How much a log line matters: it picks the text prefix, the JSON `level` and what `--quiet`
/// hides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Progress and information (hidden by `--quiet`).
    Info,
    /// Something the operator should know (hidden by `--quiet`).
    Warn,
    /// A warning `--quiet` does not hide (the credential's file mode or expiry): prefixed
    /// `warning:` in text mode, `warn` in JSON.
    Alert,
    /// Always shown, prefixed `error:` in text mode.
    Error,
    /// Always shown, without a prefix (e.g. the resume command).
    Notice,
}

/// Log output. Cheap to clone; shared by the whole run.
#[derive(Clone, Debug)]
pub struct Ui {
    out: Output,
    bar: Option<ProgressBar>,
}

impl Ui {
    /// A UI for the output mode.
    pub fn new(out: Output) -> Ui {
        Ui { out, bar: None }
    }

    /// The output mode (quiet, JSON, bar) this UI was made for.
    pub fn output(&self) -> Output {
        self.out
    }

    /// Writes one log line to stderr (or through the bar, so it is not torn).
    pub fn log(&self, level: Level, msg: &str) {
        if self.out.quiet && matches!(level, Level::Info | Level::Warn) {
            return;
        }
        let line = if self.out.json {
            let lvl = level_name(level);
            serde_json::json!({"ts": crate::now_rfc3339(), "level": lvl, "msg": sanitize(msg)})
                .to_string()
        } else {
            match level {
                Level::Info => sanitize(msg),
                Level::Warn | Level::Alert => format!("warning: {}", sanitize(msg)),
                Level::Error => format!("error: {}", sanitize(msg)),
                Level::Notice => sanitize(msg),
            }
        };
        match &self.bar {
            Some(b) if !b.is_hidden() => b.suspend(|| eprintln_safe(&line)),
            _ => eprintln_safe(&line),
        }
    }

    /// A JSON event with fields (only in `--log-format json`; text mode prints `text`).
    pub fn event(&self, level: Level, text: &str, fields: serde_json::Value) {
        if self.out.json {
            if self.out.quiet && matches!(level, Level::Info | Level::Warn) {
                return;
            }
            let mut obj = serde_json::json!({"ts": crate::now_rfc3339(), "level": level_name(level), "msg": sanitize(text)});
            if let (Some(o), serde_json::Value::Object(f)) = (obj.as_object_mut(), fields) {
                o.extend(f);
            }
            eprintln_safe(&obj.to_string());
        } else {
            self.log(level, text);
        }
    }

    /// Logs `msg` at [`Level::Info`].
    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg)
    }

    /// Logs `msg` at [`Level::Warn`] (`warning: ` in text mode).
    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg)
    }

    /// Logs `msg` at [`Level::Alert`]: a warning that `--quiet` does not hide.
    pub fn alert(&self, msg: &str) {
        self.log(Level::Alert, msg)
    }

    /// Logs `msg` at [`Level::Error`], which `--quiet` does not hide.
    pub fn error(&self, msg: &str) {
        self.log(Level::Error, msg)
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warn | Level::Alert => "warn",
        Level::Error => "error",
        Level::Notice => "notice",
    }
}

fn eprintln_safe(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

/// Prints to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// Counts shown while running.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// Finished tasks (any outcome).
    pub done: u64,
    /// Tasks that ended `failed`.
    pub failed: u64,
    /// Tasks that ended `skipped`.
    pub skipped: u64,
    /// `ok` + `unchanged` + `locked_by_other`
    pub ok: u64,
    /// HTTP requests sent so far, every attempt counted.
    pub requests: u64,
    /// 429 answers so far.
    pub throttled: u64,
}

/// The bar or the periodic stats lines.
pub struct Progress {
    ui: Ui,
    bar: Option<ProgressBar>,
    total: u64,
    start: Instant,
    last_line: Instant,
    every: Duration,
}

impl Progress {
    /// Starts showing progress over `total` tasks.
    pub fn new(ui: &mut Ui, total: u64, label: &str) -> Progress {
        let bar = if ui.out.bar {
            let b =
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_prefix(sanitize(label));
            // indicatif draws nothing when stderr is not a terminal (`--progress always` into a
            // pipe): then fall back to the stats lines rather than showing nothing at all.
            if b.is_hidden() {
                None
            } else {
                ui.bar = Some(b.clone());
                Some(b)
            }
        } else {
            None
        };
        let now = Instant::now();
        Progress {
            ui: ui.clone(),
            bar,
            total,
            start: now,
            last_line: now,
            every: Duration::from_secs(10),
        }
    }

    /// Updates after a task finished (or periodically with the same counts).
    pub fn update(&mut self, c: &Counts) {
        if let Some(b) = &self.bar {
            b.set_position(c.done);
            b.set_message(format!(
                "failed {} skipped {} 429s {}",
                c.failed, c.skipped, c.throttled
            ));
            return;
        }
        if self.last_line.elapsed() >= self.every {
            self.last_line = Instant::now();
            self.stats_line(c);
        }
    }

    fn stats_line(&self, c: &Counts) {
        let el = self.start.elapsed().as_secs_f64().max(0.001);
        let rate = c.done as f64 / el;
        let eta = if rate > 0.0 {
            (self.total.saturating_sub(c.done)) as f64 / rate
        } else {
            0.0
        };
        self.ui.event(
            Level::Info,
            &format!(
                "progress: {}/{} tasks, {} failed, {} skipped, {:.1} tasks/s, {} requests, {} 429s, ETA {}",
                c.done,
                self.total,
                c.failed,
                c.skipped,
                rate,
                c.requests,
                c.throttled,
                crate::units::human_duration(Duration::from_secs_f64(eta))
            ),
            serde_json::json!({"event": "progress", "done": c.done, "total": self.total, "failed": c.failed, "skipped": c.skipped, "tasks_per_s": rate, "requests": c.requests, "throttled": c.throttled}),
        );
    }

    /// Clears the bar from the terminal (stats lines leave nothing to clear).
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// A spinner for work without a known total (folder expansion): a line on a terminal, an info
/// line every 10 s otherwise.
pub struct Spinner {
    ui: Ui,
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Spinner {
    /// Starts a spinner; without a terminal it only logs `update`s, one per 10 s.
    pub fn new(ui: &Ui) -> Spinner {
        let bar = ui
            .out
            .bar
            .then(|| {
                let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
                b.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                b.enable_steady_tick(Duration::from_millis(120));
                b
            })
            .filter(|b| !b.is_hidden());
        Spinner {
            ui: ui.clone(),
            bar,
            last_line: Instant::now(),
        }
    }

    /// Shows `msg` (portal text must be sanitized by the caller).
    pub fn update(&mut self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None if self.last_line.elapsed() >= Duration::from_secs(10) => {
                self.last_line = Instant::now();
                self.ui.info(msg);
            }
            None => {}
        }
    }

    /// Clears the spinner line from the terminal.
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}
