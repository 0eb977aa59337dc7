//! CSV/TSV/TXT job files (SPEC §3 "CSV").
use super::*;

/// Loads and validates a CSV job file.
pub fn load(path: &Path, _opts: &LoadOptions) -> Result<JobFile, JobError> {
    Err(JobError::new(
        path,
        None,
        None,
        "CSV loader not written yet",
    ))
}
