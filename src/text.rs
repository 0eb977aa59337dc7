//! Text from outside (portal answers, job files, arguments) made safe to print: control
//! characters (terminal escapes, newlines that would forge log lines) are dropped and the
//! length is capped, because a hostile value can be a megabyte. One helper, with the caps
//! named here so each use says which one it needs.
//!
//! What the user typed is echoed differently ([`shown`], [`escaped`]): every character outside
//! printable ASCII is written as `<U+00A0>`, because the usual reason a value that looks right
//! is refused is a character nobody can see (a non-breaking space pasted with an ID, a
//! zero-width space, a byte-order mark, full-width digits). [`paste_hint`] names the common
//! ones. Portal text (titles, names) keeps its letters and only loses control characters.

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
    let mut out: String = s
        .chars()
        .filter(|&c| !drives_terminal(c))
        .take(max)
        .collect();
    if s.chars()
        .filter(|&c| !drives_terminal(c))
        .nth(max)
        .is_some()
    {
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

/// `1 retry`, `2 retries`: a count with its noun where the plural is not just `s`.
pub fn count_as(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `s` without control characters, whole: portal text shown in full (titles, names).
pub fn sanitize(s: &str) -> String {
    s.chars().filter(|&c| !drives_terminal(c)).collect()
}

/// A value the user typed, for an error message: [`escaped`] at [`VALUE`].
pub fn shown(s: &str) -> String {
    escaped(s, VALUE)
}

/// `s` with printable ASCII as it is and every other character (controls, tabs, non-ASCII,
/// invisible formatting characters) as `<U+XXXX>`, cut to `max` output characters (with `...`
/// when cut; an escape is never cut in half).
pub fn escaped(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let piece = if c == ' ' || c.is_ascii_graphic() {
            c.to_string()
        } else {
            format!("<U+{:04X}>", c as u32)
        };
        if out.len() + piece.len() > max {
            out.push_str("...");
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// A file name as given, for a message: letters (`Übersicht.csv`) kept, and every character
/// that would drive the terminal written as `<U+001B>`, so a name with an escape in it is
/// still recognisable and cannot colour or reverse the output.
pub fn path_shown(p: &std::path::Path) -> String {
    terminal_safe(&p.display().to_string())
}

/// `s` with letters kept and every character that would drive the terminal (see
/// [`drives_terminal`]) written as `<U+001B>`; newlines too unless `keep_newlines`.
pub fn terminal_safe_with(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| {
            if drives_terminal(c) && !(keep_newlines && c == '\n') {
                format!("<U+{:04X}>", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`terminal_safe_with`] for a one-line value.
pub fn terminal_safe(s: &str) -> String {
    terminal_safe_with(s, false)
}

/// A character that changes what a terminal shows rather than being shown: a control (C0, DEL,
/// C1) or a bidirectional formatting character (an override such as U+202E reverses the text
/// after it, so a value can look like another).
pub fn drives_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters that arrive with copied text and make a value that looks right invalid, with
/// what to call them in a message.
fn paste_accident(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{a0}' => "a non-breaking space",
        '\u{202f}' => "a narrow non-breaking space",
        '\u{2007}' => "a figure space",
        '\u{200b}' => "a zero-width space",
        '\u{200c}' | '\u{200d}' | '\u{2060}' => "a zero-width joiner",
        '\u{feff}' => "a byte-order mark (BOM)",
        '\u{00ad}' => "a soft hyphen",
        '\u{ff10}'..='\u{ff19}' => "a full-width digit (typed with an East Asian input method)",
        '\u{2010}'..='\u{2015}' | '\u{2212}' => "a typographic dash instead of `-`",
        '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' => "typographic quotes",
        _ => return None,
    })
}

/// A hint for the first character of `s` that is a common copy-paste accident, e.g. "`<U+00A0>`
/// is a non-breaking space, which often comes with copied text: retype the value"; `None` when
/// there is none.
pub fn paste_hint(s: &str) -> Option<String> {
    let c = s.chars().find(|&c| paste_accident(c).is_some())?;
    let what = paste_accident(c)?;
    let retype = if ('\u{ff10}'..='\u{ff19}').contains(&c) {
        "type the digits as ASCII 0-9"
    } else {
        "delete it or retype the value"
    };
    Some(format!(
        "`<U+{:04X}>` is {what}, which often comes with copied or pasted text: {retype}",
        c as u32
    ))
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
        assert_eq!(sanitize("a\u{202e}b\u{2066}c"), "abc", "bidi overrides");
    }

    #[test]
    fn typed_values_show_invisible_and_non_ascii_characters_escaped() {
        assert_eq!(shown("10\u{a0}3"), "10<U+00A0>3");
        assert_eq!(shown("a\x1b[2J\n"), "a<U+001B>[2J<U+000A>");
        assert_eq!(shown("\u{ff11}0"), "<U+FF11>0");
        assert_eq!(shown("box-12-ä"), "box-12-<U+00E4>");
        assert_eq!(escaped("\u{a0}\u{a0}", 12), "<U+00A0>...");
        assert_eq!(escaped("abcdef", 3), "abc...");
        let hint = paste_hint("10\u{a0}3").unwrap();
        assert!(
            hint.contains("`<U+00A0>` is a non-breaking space"),
            "{hint}"
        );
        assert!(paste_hint("\u{200b}1")
            .unwrap()
            .contains("zero-width space"));
        assert!(paste_hint("\u{feff}id")
            .unwrap()
            .contains("byte-order mark"));
        assert!(paste_hint("\u{ff11}\u{ff10}")
            .unwrap()
            .contains("full-width digit"));
        assert_eq!(paste_hint("abc"), None);
        assert_eq!(paste_hint("ä"), None);
    }
}
