//! The simulated DocSpace portal (SPEC §8). Stub: being written.
use clap::Args;

/// `docspace-batch sandbox` options.
#[derive(Debug, Args, Clone)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// Runs the sandbox CLI until Ctrl-C.
pub async fn run_cli(_args: SandboxArgs) -> anyhow::Result<()> {
    anyhow::bail!("sandbox not written yet")
}
