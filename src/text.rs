//! Text from outside (portal answers, job files, arguments) made safe to print: control
//! characters (terminal escapes, newlines that would forge log lines) are dropped and the
//! length is capped, because a hostile value can be a megabyte. One helper, with the caps
//! named here so each use says which one it needs.

/// A value quoted back in an error about a job file or a flag: long enough to recognise.
pub const VALUE: usize = 60;
/// An ID, name or header cell inside a longer message.
pub const NAME: usize = 40;
/// A URL or path the user gave.
pub const URL: usize = 100;
/// A message the portal sent (its `error.message`, an HTML title).
pub const PORTAL_MESSAGE: usize = 300;

/// `s` without control characters, cut to `max` characters (with `...` when cut).
pub fn printable(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().filter(|c| !c.is_control()).nth(max).is_some() {
        out.push_str("...");
    }
    out
}

/// `1 task`, `2 tasks`: a count with its noun, English plural.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `s` without control characters, whole: portal text shown in full (titles, names).
pub fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// A value for an error message: [`printable`] at [`VALUE`].
pub fn shown(s: &str) -> String {
    printable(s, VALUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_controls_and_caps() {
        assert_eq!(printable("a\x1b[2Jb\nc", 10), "a[2Jbc");
        assert_eq!(printable("abcdef", 3), "abc...");
        assert_eq!(printable("abc", 3), "abc");
        assert_eq!(sanitize("x\ty"), "xy");
    }
}
