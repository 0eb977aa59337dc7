//! The job model shared by the loaders, the runner and the reports: file IDs, actions and tasks.
//!
//! DocSpace has two kinds of ID: an internal ID is an integer 1..=2147483647 (the portal's int32
//! keys); a file in connected third-party storage has a string ID `selector-providerId[-path]`,
//! e.g. `dropbox-337-L9Cd0L7QstGL0Lkg`. Both go into URLs as one percent-encoded path segment,
//! always.

use std::fmt;
use std::sync::Arc;

/// Largest internal (int32) DocSpace ID.
pub const MAX_INT_ID: u32 = 2_147_483_647;
/// Longest connected-storage ID we accept, in bytes.
pub const MAX_STR_ID_LEN: usize = 512;

/// A DocSpace file or folder ID: internal integer or connected-storage string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileId {
    /// Internal portal storage (int32, positive).
    Int(u32),
    /// Connected third-party storage, e.g. `dropbox-337-L9Cd0L7QstGL0Lkg` or `box-12-|123`.
    Str(Box<str>),
}

/// Why a string is not a valid ID; the text is shown to the user after "invalid file ID".
/// Values are echoed as typed, with invisible and non-ASCII characters escaped
/// ([`crate::text::shown`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing there.
    #[error("the ID is empty")]
    Empty,
    /// Digits only but zero.
    #[error("`0` is not a DocSpace ID (internal IDs start at 1)")]
    Zero,
    /// Digits only but larger than int32.
    #[error("`{0}` is larger than the largest DocSpace ID (2147483647)")]
    TooLarge(String),
    /// Over [`MAX_STR_ID_LEN`] bytes.
    #[error("the ID is {0} bytes long; connected-storage IDs are at most 512 bytes")]
    TooLong(usize),
    /// Contains a control character.
    #[error("the ID contains a control character")]
    Control,
    /// A number written another way than plain digits: `1.5`, `1.01e2`, `0x65`, `+5`, `1_000`
    /// (YAML reads some of these as numbers; the message shows what was typed).
    #[error("`{0}` is not written as digits: IDs are whole numbers written as digits only, from 1 to 2147483647 (no decimal point, exponent, sign or separator)")]
    NotDigits(String),
    /// A negative integer.
    #[error("`{0}` is negative: IDs are whole numbers written as digits, from 1 to 2147483647")]
    Negative(String),
    /// Anything else; `hint` names a copy-paste accident such as a non-breaking space.
    #[error("`{value}` is neither an integer 1..=2147483647 nor a connected-storage ID like `dropbox-337-xyz` or `box-12-|123`{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    Malformed {
        /// The value as typed, escaped and shortened.
        value: String,
        /// What the invisible or look-alike character is, when there is one.
        hint: Option<String>,
    },
}

impl FileId {
    /// Parses and normalises an ID as written in a job file. Surrounding spaces are trimmed;
    /// leading zeros of an integer are dropped (`"0123"` → `123`).
    pub fn parse(raw: &str) -> Result<FileId, IdError> {
        let s = raw.trim_matches(|c: char| c == ' ' || c == '\t');
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(IdError::Control);
        }
        if s.len() > MAX_STR_ID_LEN {
            return Err(IdError::TooLong(s.len()));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            let digits = s.trim_start_matches('0');
            if digits.is_empty() {
                return Err(IdError::Zero);
            }
            if digits.len() > 10 {
                return Err(IdError::TooLarge(shorten(s)));
            }
            let n: u64 = digits.parse().map_err(|_| IdError::TooLarge(shorten(s)))?;
            if n > MAX_INT_ID as u64 {
                return Err(IdError::TooLarge(shorten(s)));
            }
            return Ok(FileId::Int(n as u32));
        }
        if is_connected_storage_id(s) {
            return Ok(FileId::Str(s.into()));
        }
        if s.strip_prefix('-')
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(IdError::Negative(shorten(s)));
        }
        if is_number_form(s) {
            return Err(IdError::NotDigits(shorten(s)));
        }
        Err(IdError::Malformed {
            value: shorten(s),
            hint: crate::text::paste_hint(s),
        })
    }

    /// The ID as one percent-encoded URL path segment (`box-12-|123` → `box-12-%7C123`).
    /// Everything but RFC 3986 unreserved characters is encoded, so `/`, `.`-only segments
    /// and `%` can never change the path.
    pub fn path_segment(&self) -> String {
        match self {
            FileId::Int(n) => n.to_string(),
            FileId::Str(s) => percent_encoding::utf8_percent_encode(s, SEGMENT).to_string(),
        }
    }
}

/// `^[A-Za-z]+-[0-9]+(-.+)?$` without a regex engine.
fn is_connected_storage_id(s: &str) -> bool {
    let b = s.as_bytes();
    let sel = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if sel == 0 || b.get(sel) != Some(&b'-') {
        return false;
    }
    let rest = &b[sel + 1..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    match &rest[digits..] {
        [] => true,
        [b'-', path @ ..] => !path.is_empty(),
        _ => false,
    }
}

/// A number in one of the forms YAML or a spreadsheet may write (`1.5`, `.5`, `1.01e2`, `+5`,
/// `1_000`, `1,000`, `0x65`, `0o7`, `0b1`), as opposed to an ID that is merely wrong.
fn is_number_form(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let radix = body.get(..2).map(str::to_ascii_lowercase);
    if let Some(digits) = radix.and_then(|p| match p.as_str() {
        "0x" | "0o" | "0b" => body.get(2..),
        _ => None,
    }) {
        return !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = mantissa.bytes().any(|b| b.is_ascii_digit())
        && mantissa.bytes().filter(|&b| b == b'.').count() <= 1
        && mantissa
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'_' | b','));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Keeps error messages readable when the offending value is huge.
fn shorten(s: &str) -> String {
    crate::text::shown(s)
}

/// RFC 3986 unreserved characters stay as they are; everything else is encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileId::Int(n) => write!(f, "{n}"),
            FileId::Str(s) => f.write_str(s),
        }
    }
}

impl fmt::Debug for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One operation on one file; each is one request to the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// `PUT …/lock` with `{"lockFile":true}`.
    Lock,
    /// `PUT …/lock` with `{"lockFile":false}`.
    Unlock,
    /// `GET …/protectusers`.
    ProtectUsers,
    /// `GET /api/2.0/files/file/{id}`.
    Info,
    /// `GET …/share`: users, groups and links the file is shared with.
    Shares,
}

impl Action {
    /// Every action, in the order shown in help and "did you mean" suggestions.
    pub const ALL: [Action; 5] = [
        Action::Lock,
        Action::Unlock,
        Action::ProtectUsers,
        Action::Info,
        Action::Shares,
    ];

    /// The name used in job files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Lock => "lock",
            Action::Unlock => "unlock",
            Action::ProtectUsers => "protectusers",
            Action::Info => "info",
            Action::Shares => "shares",
        }
    }

    /// True for the actions that send a PUT (they count toward DocSpace's daily write cap).
    pub fn is_write(self) -> bool {
        matches!(self, Action::Lock | Action::Unlock)
    }

    /// Case-insensitive parse; on failure the error names the closest valid action.
    pub fn parse(raw: &str) -> Result<Action, String> {
        let s = raw.trim().to_ascii_lowercase();
        for a in Action::ALL {
            if a.as_str() == s {
                return Ok(a);
            }
        }
        let best = Action::ALL
            .iter()
            .map(|a| (strsim::damerau_levenshtein(&s, a.as_str()), *a))
            .min_by_key(|(d, _)| *d)
            .map(|(_, a)| a)
            .unwrap_or(Action::Info);
        let shown = crate::text::escaped(raw, crate::text::NAME);
        let hint = crate::text::paste_hint(raw)
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        Err(format!(
            "unknown action `{shown}`; did you mean `{}`? (valid actions: lock, unlock, protectusers, info, shares){hint}",
            best.as_str()
        ))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with the later tasks of a file in the same job after one fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Mark them `skipped` (default).
    #[default]
    SkipRest,
    /// Run them anyway.
    Continue,
}

/// One (file, action) pair with its stable sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// 1-based position in the order written, stable across resume.
    pub seq: u64,
    /// Name of the job this task came from (shared between the tasks of a job).
    pub job: Arc<str>,
    /// The file.
    pub file: FileId,
    /// The operation.
    pub action: Action,
    /// The job's failure policy.
    pub on_failure: OnFailure,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_normalise() {
        assert_eq!(FileId::parse("0123").unwrap(), FileId::Int(123));
        assert_eq!(FileId::parse(" 7 ").unwrap(), FileId::Int(7));
        assert_eq!(
            FileId::parse("2147483647").unwrap(),
            FileId::Int(MAX_INT_ID)
        );
        assert!(matches!(
            FileId::parse("2147483648"),
            Err(IdError::TooLarge(_))
        ));
        assert!(matches!(
            FileId::parse("99999999999999999999999"),
            Err(IdError::TooLarge(_))
        ));
        assert_eq!(FileId::parse("0"), Err(IdError::Zero));
        assert_eq!(FileId::parse(""), Err(IdError::Empty));
        assert_eq!(FileId::parse("   "), Err(IdError::Empty));
        for bad in [
            "abc",
            "-5",
            "1.5",
            "12/../people",
            "..",
            "%2e%2e",
            "dropbox-",
            "dropbox-x",
            "-337-a",
            "dropbox-337-",
            "1e3",
            "+5",
        ] {
            assert!(FileId::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(FileId::parse("a\u{1b}[31m"), Err(IdError::Control));
        for number in [
            "1.5", "1.01e2", "1e3", "+5", "0x65", "1_000", "1,000", ".5", "0o7",
        ] {
            let e = FileId::parse(number).unwrap_err();
            assert_eq!(e, IdError::NotDigits(number.into()), "{number}");
            assert!(e.to_string().contains("written as digits"), "{e}");
        }
        assert_eq!(FileId::parse("-5"), Err(IdError::Negative("-5".into())));
        let e = FileId::parse("10\u{a0}3").unwrap_err().to_string();
        assert!(e.starts_with("`10<U+00A0>3` is neither"), "{e}");
        assert!(e.contains("a non-breaking space"), "{e}");
        let e = FileId::parse("12/../people").unwrap_err().to_string();
        assert!(
            !e.contains("; "),
            "no hint without a look-alike character: {e}"
        );
        assert!(matches!(
            FileId::parse(&format!("box-1-{}", "x".repeat(600))),
            Err(IdError::TooLong(_))
        ));
        assert!(matches!(
            FileId::parse("dropbox-337-L9Cd0L7QstGL0Lkg"),
            Ok(FileId::Str(_))
        ));
        assert!(FileId::parse("box-12-|123").is_ok());
        assert!(FileId::parse("dropbox-337").is_ok());
        assert!(
            FileId::parse("box-12-a/../../people").is_ok(),
            "path part may hold anything printable"
        );
    }

    #[test]
    fn ids_are_one_encoded_segment() {
        assert_eq!(
            FileId::parse("box-12-|123").unwrap().path_segment(),
            "box-12-%7C123"
        );
        assert_eq!(
            FileId::parse("box-12-a/../b").unwrap().path_segment(),
            "box-12-a%2F..%2Fb"
        );
        assert_eq!(
            FileId::parse("box-12-100%").unwrap().path_segment(),
            "box-12-100%25"
        );
        assert_eq!(FileId::Int(5).path_segment(), "5");
    }

    #[test]
    fn actions_parse_case_insensitively_and_suggest() {
        assert_eq!(Action::parse("LOCK").unwrap(), Action::Lock);
        assert_eq!(Action::parse("ProtectUsers").unwrap(), Action::ProtectUsers);
        let e = Action::parse("lcok").unwrap_err();
        assert!(e.contains("did you mean `lock`"), "{e}");
        let e = Action::parse("protect-users").unwrap_err();
        assert!(e.contains("did you mean `protectusers`"), "{e}");
    }
}
