//! Exit codes (SPEC §6) and the top-level error type.

/// The process exit code classes of SPEC §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every task `ok`, `unchanged` or `locked_by_other`.
    Success = 0,
    /// At least one task `failed` or `skipped`.
    TaskFailures = 1,
    /// Invalid input or usage; nothing was written.
    Usage = 2,
    /// Run aborted: key rejected, 401, daily cap, `--max-failures`.
    Aborted = 3,
    /// `--max-duration` reached with work left.
    MaxDuration = 4,
    /// Interrupted by a signal.
    Interrupted = 130,
}

impl Exit {
    /// The numeric code.
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
    /// Local I/O problem (report directory, files): exit 2 when nothing was sent.
    #[error("{0}")]
    Io(String),
    /// Stopped by SIGINT/SIGTERM before any task ran, e.g. while expanding folders (exit 130,
    /// like every other interruption: a cron wrapper must be able to tell it from an abort).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// The exit class.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Io(_) => Exit::Usage,
            Error::Aborted(_) => Exit::Aborted,
            Error::Interrupted(_) => Exit::Interrupted,
        }
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        Error::Usage(e.0)
    }
}
