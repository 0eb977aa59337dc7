//! What the user typed: the clap definitions. Doc comments here are the `--help` text. Only
//! [`crate::config`] reads these types; the execution settings themselves are declared once in
//! [`crate::config::settings`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::settings::SettingsArgs;
use crate::job::Action;
use crate::text::drives_terminal;

/// `--version`: what was built, for a bug report or an audit of what ran (`-V` is the first
/// line only).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit:  ",
    env!("DSB_COMMIT"),
    " (",
    env!("DSB_COMMIT_DATE"),
    ")\nbuilt:   ",
    env!("DSB_BUILD_DATE"),
    ", ",
    env!("DSB_PROFILE"),
    "\ntarget:  ",
    env!("DSB_TARGET"),
    "\ntls:     ",
    env!("DSB_TLS"),
);

/// Makes a parse error safe to print: every value the user typed (or clap read from the
/// environment) that it quotes is [`text::escaped`](crate::text::escaped), so a terminal escape,
/// a bidi override or an invisible space shows as `<U+001B>`. Clap filters escape sequences
/// only when its output is not a terminal, and it never escapes what it quotes; on a terminal a
/// typed `ESC[31m` would colour the rest of the screen.
///
/// The context is edited in place, so clap still renders (and colours) the message itself.
/// Returns the error and, when a message part outside the context (a value parser's own text)
/// still holds such a character, the whole message escaped instead, uncoloured.
pub fn escape_parse_error(mut e: clap::Error) -> (clap::Error, Option<String>) {
    use clap::error::ContextValue;
    // A URL or path can be long; a megabyte argument is cut.
    let esc = |s: &str| crate::text::escaped(s, crate::text::URL);
    let edits: Vec<_> = e
        .context()
        .filter_map(|(kind, value)| match value {
            ContextValue::String(s) => Some((kind, ContextValue::String(esc(s)))),
            ContextValue::Strings(v) => Some((
                kind,
                ContextValue::Strings(v.iter().map(|s| esc(s)).collect()),
            )),
            _ => None,
        })
        .collect();
    for (kind, value) in edits {
        e.insert(kind, value);
    }
    let text = e.render().to_string();
    if !text.chars().any(|c| c != '\n' && drives_terminal(c)) {
        return (e, None);
    }
    (e, Some(crate::text::terminal_safe_with(&text, true)))
}

/// Bulk lock, unlock, protectusers, info and shares operations against an ONLYOFFICE DocSpace
/// portal: concurrent, rate limited, retried, resumable, with CSV reports.
#[derive(Debug, Parser)]
#[command(
    name = "docspace-batch",
    version,
    long_version = LONG_VERSION,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// [`Parser::try_parse_from`] plus what clap cannot say: `--portal` typed together with
    /// `--sandbox` is a usage error (the sandbox would silently replace it). The same URL from
    /// `DOCSPACE_URL` is not: an operator's shell may have it set for the real portal, and
    /// `--sandbox` on the command line is the more specific wish.
    pub fn try_parse_checked<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let mut m = cmd.try_get_matches_from_mut(args)?;
        if let Some(("run", run)) = m.subcommand() {
            if run.get_flag("sandbox")
                && run.value_source("portal") == Some(ValueSource::CommandLine)
            {
                let run_cmd = cmd.find_subcommand_mut("run").expect("run exists");
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--portal cannot be used with --sandbox: the in-process sandbox is the portal of this run; leave out one of them (DOCSPACE_URL in the environment is ignored with --sandbox)",
                )
                .format(run_cmd));
            }
        }
        Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut cmd))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate every job file completely, then execute it.
    Run(RunArgs),
    /// Load and validate job files only; no network at all.
    Validate(ValidateArgs),
    /// Unlock exactly the files that the runs recorded in DIR... locked; run it again to continue.
    Restore(RestoreArgs),
    /// Compare two report directories file by file: lock state and holder, users with
    /// access, titles, files in only one run. No network. Exit 0: no differences; 1:
    /// differences; 2: a directory is not a report or is in use.
    Diff(DiffArgs),
    /// Serve a simulated DocSpace portal on loopback, for rehearsals and tests.
    Sandbox(crate::sandbox::SandboxArgs),
    /// Print a shell completion script on stdout, e.g. `docspace-batch completions bash >
    /// ~/.local/share/bash-completion/completions/docspace-batch` (for every user:
    /// /etc/bash_completion.d/docspace-batch).
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout, e.g. `docspace-batch man | man -l -`.
    Man,
}

/// `completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

/// The credential (exactly one kind).
#[derive(Debug, Args, Clone, Default)]
pub struct PortalArgs {
    /// Read the API key from this file (otherwise from env DOCSPACE_API_KEY). Sent as
    /// `Authorization: Bearer <key>`; DocSpace 3.1 and later.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Read a session token from this file (otherwise from env DOCSPACE_TOKEN), e.g. one that
    /// `POST /api/2.0/authentication` issued. Every DocSpace version.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Read the password of env DOCSPACE_USER from this file (otherwise from env
    /// DOCSPACE_PASSWORD); the run signs in once. Not for accounts with two-factor sign-in.
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
}

/// The in-process sandbox instead of a portal: `run` only, since a restore against a new,
/// empty sandbox would release nothing the recorded run locked.
#[derive(Debug, Args, Clone, Default)]
pub struct SandboxFlags {
    /// Run against an in-process sandbox portal instead of a real one (no credential needed).
    /// Not with --portal; a DOCSPACE_URL in the environment is ignored.
    #[arg(long)]
    pub sandbox: bool,
    /// With --sandbox: extra bulk files 100000.. in room 6000.
    #[arg(long, value_name = "N", requires = "sandbox", hide = true)]
    pub sandbox_files: Option<u32>,
    /// With --sandbox: added latency per request, e.g. `150ms`.
    #[arg(long, value_name = "DUR", requires = "sandbox", hide = true, value_parser = crate::units::parse_duration)]
    pub sandbox_latency: Option<Duration>,
}

/// How to read a job given as `-` (stdin). A command-line option only: it says how to read a
/// job, so it cannot live inside one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum JobFormat {
    /// A YAML job file.
    Yaml,
    /// A CSV file, or a plain list of IDs (with --action).
    Csv,
}

/// `run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// YAML (.yaml/.yml) or CSV (.csv/.tsv/.txt) job files, or `-` to read one job from
    /// stdin; with --resume they may be omitted.
    #[arg(value_name = "JOBFILE")]
    pub jobfiles: Vec<PathBuf>,
    /// How to read the job given as `-` (stdin). Without it: YAML when the first line that is
    /// not blank or a `#` comment starts with `---`, `%` or `{`, or is a key such as `jobs:`;
    /// otherwise CSV (a plain list of IDs needs no header).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<JobFormat>,
    /// Load, validate, expand and print the plan; send no write.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue a previous run recorded in DIR. `latest`: the newest run under --report-root
    /// with the same plan and work left, or a new run when there is none (for cron).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Execution options.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Credential.
    #[command(flatten)]
    pub portal: PortalArgs,
    /// Sandbox instead of a portal.
    #[command(flatten)]
    pub sandbox: SandboxFlags,
}

/// `validate`
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Job files to check; `-` reads one job from stdin.
    #[arg(value_name = "JOBFILE", required = true)]
    pub jobfiles: Vec<PathBuf>,
    /// How to read the job given as `-` (stdin): `yaml` or `csv`; sniffed when absent (see
    /// `run --help`).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<JobFormat>,
    /// Action for CSV files that have no `action` column.
    #[arg(long, value_name = "A", value_parser = Action::parse)]
    pub action: Option<Action>,
    /// Only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `restore`. The execution options are the shared set; the ones that choose which files to
/// work on are hidden here (restore refuses them: it releases exactly what the run locked).
#[derive(Debug, Args)]
#[command(
    mut_arg("action", |a| a.hide(true)),
    mut_arg("shard", |a| a.hide(true)),
    mut_arg("skip_missing_folders", |a| a.hide(true))
)]
pub struct RestoreArgs {
    /// Report directories of the runs whose locks to release.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Print what would be unlocked; send no write.
    #[arg(long)]
    pub dry_run: bool,
    /// Execution options.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Credential.
    #[command(flatten)]
    pub portal: PortalArgs,
}

/// `diff`
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older report directory.
    #[arg(value_name = "OLD", required_unless_present = "latest")]
    pub old: Option<PathBuf>,
    /// The newer report directory.
    #[arg(value_name = "NEW", required_unless_present = "latest")]
    pub new: Option<PathBuf>,
    /// Compare the two newest complete runs named NAME (the job's `name:` or file stem) under
    /// the report root instead.
    #[arg(long, value_name = "NAME", conflicts_with = "old")]
    pub latest: Option<String>,
    /// Where --latest looks [default: reports].
    #[arg(long, value_name = "DIR", conflicts_with_all = ["old", "new"])]
    pub report_root: Option<PathBuf>,
    /// `table` for a person, `csv` or `json` for scripts.
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    pub format: DiffFormat,
}

/// How `diff` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Aligned columns and a count.
    Table,
    /// `file_id,title,what,before,after`, cells escaped for spreadsheets.
    Csv,
    /// An array of objects with the same keys.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::rules;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_checked(std::iter::once("docspace-batch").chain(args.iter().copied()))
    }

    #[test]
    fn flags_and_yaml_share_one_rule() {
        // The same value is refused on the command line and in YAML (the CLI used to accept
        // `--max-duration 0`, which started nothing and printed a resume command).
        let e = parse(&["run", "j.csv", "--max-duration", "0"]).unwrap_err();
        assert!(e.to_string().contains("must be greater than zero"), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            rules::duration("0").unwrap_err(),
            "the duration `0` must be greater than zero"
        );
        let e = parse(&["run", "j.csv", "--max-failures", "0"]).unwrap_err();
        assert!(e.to_string().contains("from 1 to"), "{e}");
        assert!(parse(&["run", "j.csv", "--concurrency", "1001"]).is_err());
    }

    fn long_help(sub: &str) -> String {
        Cli::command()
            .find_subcommand_mut(sub)
            .unwrap()
            .render_long_help()
            .to_string()
    }

    #[test]
    fn sandbox_options_only_where_they_do_something() {
        let run = long_help("run");
        assert!(run.contains("--sandbox\n"), "{run}");
        assert!(
            !run.contains("--sandbox-files"),
            "tuning options stay hidden"
        );
        assert!(!run.contains("--sandbox-latency"));
        assert!(parse(&["run", "j.csv", "--sandbox", "--sandbox-files", "5"]).is_ok());
        let restore = long_help("restore");
        assert!(!restore.contains("--sandbox"), "{restore}");
        // Shared settings that restore refuses are not offered either (still parsed, so the
        // refusal can say why).
        for refused in ["--action", "--shard", "--skip-missing-folders"] {
            assert!(!restore.contains(refused), "{refused}: {restore}");
            assert!(run.contains(refused), "{refused} stays in run");
        }
        assert!(parse(&["restore", "d", "--shard", "1/2"]).is_ok());
        // A --portal typed with --sandbox would be ignored: refused. DOCSPACE_URL in the
        // environment is not (an operator's shell may have it set for the real portal).
        let e = parse(&["run", "j.csv", "--sandbox", "--portal", "https://p.example"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--sandbox"), "{e}");
        assert!(parse(&["run", "j.csv", "--portal", "https://p.example"]).is_ok());
        assert_eq!(
            parse(&["restore", "d", "--sandbox"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert!(parse(&["restore", "d", "--api-key-file", "k"]).is_ok());
    }

    #[test]
    fn help_texts_say_what_the_options_do() {
        let run = long_help("run");
        let flat = run.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("`100/h`"), "--rate: {flat}");
        assert!(flat.contains("resume with:"), "--quiet: {flat}");
        // What -q still prints, as finish.rs prints it: the summary, the `reports:` line, the
        // resume command.
        assert!(flat.contains("(`reports: DIR`)"), "--quiet: {flat}");
        assert!(flat.contains("one-line summary"), "--quiet: {flat}");
        assert!(flat.contains("`latest`"), "--resume: {flat}");
        let top = Cli::command().render_long_help().to_string();
        let flat_top = top.split_whitespace().collect::<Vec<_>>().join(" ");
        // The user-level directory first (no root needed), as the guide says.
        assert!(
            flat_top.contains("~/.local/share/bash-completion/completions/docspace-batch"),
            "{flat_top}"
        );
        assert!(
            flat.contains("stats lines into a pipe"),
            "--progress: {flat}"
        );
    }

    #[test]
    fn diff_takes_two_directories_or_latest() {
        assert!(parse(&["diff", "a", "b"]).is_ok());
        assert!(parse(&["diff", "--latest", "nightly", "--report-root", "r"]).is_ok());
        for bad in [
            &["diff"][..],
            &["diff", "a"],
            &["diff", "a", "b", "--latest", "n"],
            &["diff", "a", "b", "--report-root", "r"],
            &["diff", "a", "b", "--format", "xml"],
            &["diff", "--report-root", "r"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn switches_parse_to_some_only_when_given() {
        let Command::Run(a) = parse(&["run", "j.csv"]).unwrap().command else {
            panic!()
        };
        let p = a.settings.partial();
        assert_eq!((p.quiet, p.check_state, p.allow_http), (None, None, None));
        let Command::Run(a) = parse(&["run", "j.csv", "-q", "--no-check-state"])
            .unwrap()
            .command
        else {
            panic!()
        };
        let p = a.settings.partial();
        assert_eq!((p.quiet, p.check_state), (Some(true), Some(false)));
        let Command::Run(a) = parse(&["run", "j.csv", "--no-check-state", "--check-state"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(a.settings.partial().check_state, Some(true));
    }
}
