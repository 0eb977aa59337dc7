//! `completions SHELL` and `man` through the real binary: stdout only, exit 0.

use crate::common::{Cli, Work};

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let w = Work::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = Cli::new(&w).args(["completions", shell]).run();
        assert_eq!(o.code(), 0, "{shell}: {}", o.stderr());
        assert!(o.stdout().contains("run"), "{shell}");
        assert!(o.stdout().contains("restore"), "{shell}");
    }
    let o = Cli::new(&w).args(["completions", "tcsh"]).run();
    assert_eq!(o.code(), 2);
}

#[test]
fn man_page_is_roff_with_a_title_first() {
    let w = Work::new();
    let o = Cli::new(&w).arg("man").run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(o.stdout().starts_with(".TH"), "{}", o.stdout());
    assert!(o.stdout().contains(".SH NAME"));
}
