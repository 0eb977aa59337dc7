//! `diff OLD NEW` and `diff --latest NAME`: two recorded runs compared file by file
//! ([`crate::report::diff`]). Reads `run.db` only; never talks to a portal.

use crate::cli::{DiffArgs, DiffFormat};
use crate::config::Output;
use crate::error::{Error, Exit};
use crate::progress::{print_stdout, Ui};
use crate::report::diff::{self, format, load};

/// Exit 0 when the runs agree, 1 when they differ, 2 when either directory cannot be
/// compared (not a report, a dry run, in use).
pub fn diff(a: DiffArgs) -> Exit {
    let ui = Ui::new(Output::default());
    match diff_inner(a, &ui) {
        Ok(code) => code,
        Err(e) => super::report_error(&ui, &e),
    }
}

fn diff_inner(a: DiffArgs, ui: &Ui) -> Result<Exit, Error> {
    let (old, new) = match (a.latest.as_deref(), a.old, a.new) {
        (Some(name), _, _) => {
            let root = a.report_root.unwrap_or_else(|| "reports".into());
            let (old, new) = load::latest(&root, name)?;
            ui.info(&format!(
                "comparing {} with {}",
                old.display(),
                new.display()
            ));
            (old, new)
        }
        (None, Some(old), Some(new)) => (old, new),
        // clap requires both directories without --latest.
        _ => {
            return Err(Error::Usage(
                "diff needs OLD and NEW, or --latest NAME".into(),
            ))
        }
    };
    let old = load::load(&old)?;
    let new = load::load(&new)?;
    for run in [&old, &new] {
        if run.work_left {
            ui.warn(&format!(
                "{} has work left (a run that stopped early): files it did not reach are compared only by what it learned",
                run.dir.display()
            ));
        }
    }
    let rows = diff::compare(&old.facts, &new.facts);
    let text = match a.format {
        DiffFormat::Table => format::table(&rows),
        DiffFormat::Csv => format::csv(&rows).map_err(|e| Error::Io(e.to_string()))?,
        DiffFormat::Json => format::json(&rows),
    };
    print_stdout(&text);
    // Exit 1 has the same meaning as `grep` and `diff(1)` give it: the inputs differ.
    Ok(if rows.is_empty() {
        Exit::Success
    } else {
        Exit::TaskFailures
    })
}
