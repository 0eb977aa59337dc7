//! The simulated DocSpace portal (SPEC §8). Stub: being written on another branch.
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

/// Options.
#[derive(Default)]
pub struct SandboxOptions {
    /// files
    pub files: u32,
    /// latency
    pub latency: std::time::Duration,
}

/// Running sandbox.
pub struct Sandbox;
impl Sandbox {
    /// start
    pub async fn start(_o: SandboxOptions) -> std::io::Result<Sandbox> {
        Err(std::io::Error::other("stub"))
    }
    /// url
    pub fn url(&self) -> String {
        String::new()
    }
    /// key
    pub fn api_key(&self) -> &str {
        ""
    }
}
