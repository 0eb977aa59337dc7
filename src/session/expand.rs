//! Folder targets to files, under the run's limiter, with progress for people.

use std::collections::HashMap;

use crate::error::Error;
use crate::job::{Entry, FileId, Target};
use crate::runner::exec::Ctx;
use crate::runner::plan::{self, ExpandError, Listing, Plan};
use crate::runner::stop::StopReason;
use crate::text::sanitize;

/// Expands every folder target (each once) and builds the task list; also returns the
/// folders `--skip-missing-folders` skipped, with why.
pub async fn make_plan(
    ctx: &Ctx,
    entries: &[Entry],
    skip_missing: bool,
) -> Result<(Plan, Vec<(String, String)>), Error> {
    let mut listings: HashMap<FileId, Listing> = HashMap::new();
    let mut skipped = Vec::new();
    for e in entries {
        if let Target::Folder(f) = &e.target {
            if listings.contains_key(f) {
                continue;
            }
            let l = expand_one(ctx, f, skip_missing).await?;
            ctx.ui.info(&format!(
                "folder {f}{}: {}",
                l.title
                    .as_deref()
                    .map(|t| format!(" \"{}\"", sanitize(t)))
                    .unwrap_or_default(),
                crate::text::count(l.files.len() as u64, "file")
            ));
            skipped.extend(l.skipped.iter().cloned());
            listings.insert(f.clone(), l);
        }
    }
    Ok((plan::build(entries, &listings), skipped))
}

async fn expand_one(ctx: &Ctx, f: &FileId, skip_missing: bool) -> Result<Listing, Error> {
    ctx.ui.info(&format!("expanding folder {f}…"));
    let mut spinner = crate::progress::Spinner::new(&ctx.ui);
    let result = plan::expand_folder(ctx, f, skip_missing, &mut |pages, files| {
        spinner.update(&format!(
            "expanding folder {f}: {pages} pages listed, {files} files so far"
        ))
    })
    .await;
    spinner.finish();
    match result {
        Ok(l) => Ok(l),
        Err(ExpandError::Missing(m)) => Err(Error::Usage(format!(
            "{m}; nothing was written. Fix the job file or pass --skip-missing-folders"
        ))),
        Err(ExpandError::Failed(m)) => Err(match ctx.stop.reason() {
            // Exit 130, not 3: it was a signal, not an abort.
            Some(StopReason::Signal) => Error::Interrupted(format!(
                "interrupted while expanding folders; nothing was written ({m})"
            )),
            Some(StopReason::MaxDuration) => Error::Deadline(format!(
                "--max-duration ran out while expanding folders; nothing was written ({m})"
            )),
            Some(r) => Error::Aborted(format!("{}; nothing was written", r.describe())),
            None => Error::Aborted(format!("{m}; nothing was written")),
        }),
    }
}
