//! What the user typed: the clap definitions. Doc comments here are the `--help` text.
//! Nothing downstream sees these types; [`crate::config`] turns them into a validated `Config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Bulk lock, unlock, protectusers and info operations against an ONLYOFFICE DocSpace portal:
/// concurrent, rate limited, retried, resumable, with CSV reports.
#[derive(Debug, Parser)]
#[command(name = "docspace-batch", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate every job file completely, then execute it.
    Run(RunArgs),
    /// Load and validate job files only; no network at all.
    Validate(ValidateArgs),
    /// Unlock exactly the files that the run recorded in DIR locked.
    Restore(RestoreArgs),
    /// Serve a simulated DocSpace portal on loopback, for rehearsals and tests.
    Sandbox(crate::sandbox::SandboxArgs),
}

/// `--progress`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A bar on a terminal, periodic stats lines otherwise.
    Auto,
    /// Always a bar.
    Always,
    /// Never a bar (stats lines instead).
    Never,
}

/// `--log-format`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line on stderr.
    Json,
}

/// Portal, key and execution options shared by `run` and `restore`.
#[derive(Debug, Args, Clone, Default)]
pub struct ExecArgs {
    /// Portal base URL, e.g. https://yourportal.onlyoffice.com
    #[arg(long, env = "DOCSPACE_URL", value_name = "URL")]
    pub portal: Option<String>,
    /// Read the API key from this file (otherwise from env DOCSPACE_API_KEY).
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Tasks in flight at once [default: 8]. DocSpace allows 15 concurrent writes per user.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Request rate cap: `20/s`, `1500/min` or `unlimited` [default: 20/s].
    #[arg(long, value_name = "R")]
    pub rate: Option<String>,
    /// Requests that may go out back-to-back after idle time [default: 1].
    #[arg(long, value_name = "N")]
    pub burst: Option<u32>,
    /// Retries after the first attempt, for retryable failures only [default: 4].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Per-request timeout: `500ms`, `30s`, `2m` [default: 30s].
    #[arg(long, value_name = "DUR")]
    pub timeout: Option<String>,
    /// Where reports go [default: reports/<name>-<UTC yyyymmddThhmmssZ>]; created if missing.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Stop starting tasks after DUR (cron windows); exit 4 when work is left.
    #[arg(long, value_name = "DUR")]
    pub max_duration: Option<String>,
    /// Abort after N failed tasks; exit 3.
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u64>,
    /// Before lock/unlock, read the file and skip the write when it is already as wanted [default].
    #[arg(long, overrides_with = "no_check_state")]
    pub check_state: bool,
    /// Write without reading the file's state first.
    #[arg(long, overrides_with = "check_state")]
    pub no_check_state: bool,
    /// Bar on a terminal, periodic log lines otherwise [default: auto].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub progress: Option<ProgressMode>,
    /// Only errors and the one-line final summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// `json`: one JSON object per line on stderr [default: text].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Extra trusted root certificate (PEM) for self-hosted portals.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Permit http:// to a non-loopback host.
    #[arg(long)]
    pub allow_http: bool,
    /// Run against an in-process sandbox portal instead of a real one (no key needed).
    #[arg(long)]
    pub sandbox: bool,
    /// With --sandbox: extra bulk files 100000.. in room 6000.
    #[arg(long, value_name = "N", requires = "sandbox", hide_short_help = true)]
    pub sandbox_files: Option<u32>,
    /// With --sandbox: added latency per request, e.g. `150ms`.
    #[arg(long, value_name = "DUR", requires = "sandbox", hide_short_help = true)]
    pub sandbox_latency: Option<String>,
}

/// `run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// YAML (.yaml/.yml) or CSV (.csv/.tsv/.txt) job files; with --resume they may be omitted.
    #[arg(value_name = "JOBFILE")]
    pub jobfiles: Vec<PathBuf>,
    /// Load, validate, expand and print the plan; send no write.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue a previous run recorded in DIR.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Run only the files whose stable hash falls in shard K of N (1-based).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Action for CSV files that have no `action` column.
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Treat a folder that does not exist or cannot be read as empty instead of an error.
    #[arg(long)]
    pub skip_missing_folders: bool,
    /// Execution options.
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// `validate`
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Job files to check.
    #[arg(value_name = "JOBFILE", required = true)]
    pub jobfiles: Vec<PathBuf>,
    /// Action for CSV files that have no `action` column.
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `restore`
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Report directory of the run whose locks to release.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Print what would be unlocked; send no write.
    #[arg(long)]
    pub dry_run: bool,
    /// Execution options.
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
