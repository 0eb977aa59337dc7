//! Exit codes and the top-level error type. The codes are a contract with cron wrappers and
//! scripts: each number means one class of ending, whatever the command.

/// The process exit code classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every task `ok`, `unchanged` or `locked_by_other`.
    Success = 0,
    /// At least one task `failed` or `skipped`.
    TaskFailures = 1,
    /// Invalid input or usage, found before any write was sent, or a local I/O failure
    /// ([`Error::Io`]).
    Usage = 2,
    /// Run aborted: key rejected or unreachable at the start, a 401 during the run, the daily
    /// cap, `--max-failures`, or folder expansion failed.
    Aborted = 3,
    /// `--max-duration` reached with work left.
    MaxDuration = 4,
    /// Interrupted by a signal.
    Interrupted = 130,
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Something that ends a command before or outside task execution.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input or usage (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The run could not start or was aborted (exit 3), e.g. the key was rejected.
    #[error("{0}")]
    Aborted(String),
    /// Local I/O problem: the report directory or a report file cannot be created, read or
    /// written, or the in-process sandbox cannot start. Exit 2, also when a report write fails
    /// mid-run after requests (writes included) were sent.
    #[error("{0}")]
    Io(String),
    /// `--max-duration` ran out before any task ran (exit 4).
    #[error("{0}")]
    Deadline(String),
    /// Stopped by SIGINT/SIGTERM before any task ran, e.g. while expanding folders (exit 130,
    /// like every other interruption: a cron wrapper must be able to tell it from an abort).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// The exit class this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Io(_) => Exit::Usage,
            Error::Aborted(_) => Exit::Aborted,
            Error::Interrupted(_) => Exit::Interrupted,
            Error::Deadline(_) => Exit::MaxDuration,
        }
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        Error::Usage(e.0)
    }
}
