//! YAML job files (SPEC §3 "YAML").
use super::*;

/// Loads and validates a YAML job file.
pub fn load(path: &Path, _opts: &LoadOptions) -> Result<JobFile, JobError> {
    Err(JobError::new(
        path,
        None,
        None,
        "YAML loader not written yet",
    ))
}
