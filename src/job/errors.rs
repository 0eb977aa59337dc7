//! Job-file problems: one [`JobError`] names a file, line and column; [`JobErrors`] is every
//! problem of one file, found in one pass, so a file with three typos takes one round to fix,
//! not three. The loaders collect into it and stop only where the format gives them nothing
//! sensible to continue with (a header that cannot be understood, a YAML syntax error).

use std::fmt;
use std::path::{Path, PathBuf};

/// Errors printed per file; the rest are counted ("and N more").
pub const MAX_ERRORS_SHOWN: usize = 20;

/// Errors kept per file. More than [`MAX_ERRORS_SHOWN`], so that sorting by line still shows
/// the first ones when the loader found them out of order (YAML job checks run after parsing);
/// bounded, so a hostile file of millions of bad rows cannot fill memory with messages.
const MAX_ERRORS_KEPT: usize = 1000;

/// A job-file problem, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct JobError {
    /// The job file (as given on the command line, or the `files_from` file).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl JobError {
    /// An error for `file` at an optional line/column.
    pub fn new(
        file: &Path,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        JobError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::text::path_shown(&self.file))?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one job file, shown in line order: the first
/// [`MAX_ERRORS_SHOWN`], then how many more there are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobErrors {
    errors: Vec<JobError>,
    /// Errors found but not kept.
    dropped: usize,
    /// Set by [`JobErrors::stop`]: the loader cannot go on.
    stopped: bool,
}

impl JobErrors {
    /// No errors yet.
    pub fn new() -> JobErrors {
        JobErrors::default()
    }

    /// Records one error and goes on.
    pub fn push(&mut self, e: JobError) {
        if self.errors.len() < MAX_ERRORS_KEPT {
            self.errors.push(e);
        } else {
            self.dropped += 1;
        }
    }

    /// Puts `e` first: a remark about the whole file that explains the errors after it.
    pub fn lead(mut self, e: JobError) -> JobErrors {
        self.errors.insert(0, e);
        if self.errors.len() > MAX_ERRORS_KEPT {
            self.errors.pop();
            self.dropped += 1;
        }
        self
    }

    /// Records an error after which the loader cannot go on (e.g. too many rows).
    pub fn stop(&mut self, e: JobError) {
        self.push(e);
        self.stopped = true;
    }

    /// Whether [`JobErrors::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// How many errors were found.
    pub fn len(&self) -> usize {
        self.errors.len() + self.dropped
    }

    /// The kept errors, in line order.
    pub fn errors(&self) -> &[JobError] {
        &self.errors
    }

    /// Counts `n` more errors whose messages were not kept.
    pub fn add_unkept(&mut self, n: usize) {
        self.dropped += n;
    }

    /// `Err` with the errors in line order when anything was recorded, else `Ok(value)`.
    pub fn or_ok<T>(self, value: T) -> Result<T, JobErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self.sorted())
        }
    }

    /// The errors sorted by line and column (a stable sort keeps the order of errors on one
    /// line; errors without a line come first).
    pub fn sorted(mut self) -> JobErrors {
        self.errors
            .sort_by_key(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0)));
        self
    }

    /// Runs `f` on every kept error (e.g. to say where a `files_from` list was named).
    pub fn map(mut self, f: impl FnMut(&mut JobError)) -> JobErrors {
        self.errors.iter_mut().for_each(f);
        self
    }

    /// Moves every error of `other` into this one.
    pub fn extend(&mut self, other: JobErrors) {
        let dropped = other.dropped;
        other.errors.into_iter().for_each(|e| self.push(e));
        self.dropped += dropped;
        self.stopped |= other.stopped;
    }
}

impl From<JobError> for JobErrors {
    fn from(e: JobError) -> Self {
        JobErrors {
            errors: vec![e],
            dropped: 0,
            stopped: true,
        }
    }
}

impl fmt::Display for JobErrors {
    /// One error a line; past [`MAX_ERRORS_SHOWN`], a last line "FILE: and N more errors".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().take(MAX_ERRORS_SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        let more = self.len().saturating_sub(MAX_ERRORS_SHOWN);
        if more > 0 {
            let file = self
                .errors
                .first()
                .map(|e| crate::text::path_shown(&e.file));
            write!(
                f,
                "\n{}: and {more} more {} not shown; fix these and run again to see the rest",
                file.unwrap_or_default(),
                if more == 1 { "error" } else { "errors" }
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for JobErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_twenty_in_line_order_then_counts_the_rest() {
        let p = Path::new("j.csv");
        let mut errs = JobErrors::new();
        for line in (1..=25).rev() {
            errs.push(JobError::new(p, Some(line), None, format!("bad {line}")));
        }
        let errs = errs.or_ok(()).unwrap_err();
        let text = errs.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 21, "{text}");
        assert_eq!(lines[0], "j.csv:1: bad 1");
        assert_eq!(lines[19], "j.csv:20: bad 20");
        assert!(
            lines[20].starts_with("j.csv: and 5 more errors not shown"),
            "{text}"
        );
        assert_eq!(JobErrors::new().or_ok(7), Ok(7));
    }

    #[test]
    fn keeps_a_bounded_number_and_counts_all() {
        let p = Path::new("j.csv");
        let mut errs = JobErrors::new();
        for line in 0..5000 {
            errs.push(JobError::new(p, Some(line), None, "bad"));
        }
        assert_eq!(errs.len(), 5000);
        assert_eq!(errs.errors().len(), MAX_ERRORS_KEPT);
        assert!(errs.to_string().contains("and 4980 more errors"));
    }
}
