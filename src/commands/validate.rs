//! `validate`: load and check job files; no network.

use std::collections::BTreeMap;

use crate::cli::ValidateArgs;
use crate::config::{self, settings, Output, PartialSettings};
use crate::error::Exit;
use crate::job::{JobFile, Target};
use crate::progress::{print_stdout, Ui};

/// `validate`: every file loaded, every error shown; exit 2 when any file is invalid.
pub fn validate(a: ValidateArgs) -> Exit {
    let ui = Ui::new(Output {
        quiet: a.quiet,
        ..Output::default()
    });
    let files = match config::load_jobs(&a.jobfiles, a.action, a.format) {
        Ok(f) => f,
        Err(e) => return super::report_error(&ui, &e),
    };
    for f in &files {
        for w in &f.warnings {
            ui.warn(&format!("{}: {w}", f.path.display()));
        }
    }
    // Each file is valid on its own; conflicting settings only matter when the files are run
    // together, so here they are a warning.
    let cli = PartialSettings {
        action: a.action,
        ..PartialSettings::default()
    };
    let yaml: Vec<_> = files
        .iter()
        .map(|f| (f.path.as_path(), &f.settings))
        .collect();
    if let Err(e) = settings::merge(cli, &yaml) {
        ui.warn(&format!("{e} (only if these files are run together)"));
    }
    if !a.quiet {
        print_stdout(&files.iter().map(describe).collect::<String>());
    }
    Exit::Success
}

/// `PATH: OK — N tasks (lock 3, info 2), plus K folder targets …`
fn describe(f: &JobFile) -> String {
    let folders = f.entries.iter().filter(|e| e.is_folder()).count();
    let mut per_action: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &f.entries {
        if let Target::File(_) = e.target {
            for a in e.actions.iter() {
                *per_action.entry(a.as_str()).or_default() += 1;
            }
        }
    }
    let actions: Vec<String> = per_action.iter().map(|(a, n)| format!("{a} {n}")).collect();
    format!(
        "{}: OK — {} ({}){}\n",
        f.path.display(),
        crate::text::count(per_action.values().sum::<u64>(), "task"),
        if actions.is_empty() {
            "no listed files".to_string()
        } else {
            actions.join(", ")
        },
        if folders > 0 {
            format!(
                ", plus {} whose files are listed at run time",
                crate::text::count(folders as u64, "folder target")
            )
        } else {
            String::new()
        }
    )
}
