//! The serde visitors behind every YAML value: scalars (any YAML scalar is turned into text
//! and handed to a parser inside the visitor, so a parse error is marked with the value's
//! position), file IDs, action names and lists (a scalar where a list belongs gets a
//! "write `key: [value]`" hint). Every scalar error goes through [`fail`], so the parse can
//! record it and go on (see `recover`); list items are read through [`Recover`].
//!
//! IDs and actions are read as the text written (`deserialize_str`), not as YAML's typed
//! value: `1.01e2` is a float to YAML, and echoing it as `101` would hide what is wrong.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use super::guards::ItemBudget;
use super::recover::{fail, Recover};
use crate::job::{Action, FileId};

type ParseFn<T> = fn(&str) -> Result<T, String>;

/// Parses any scalar with `parse`; `what` describes the expected value for messages.
pub(super) fn scalar<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &'static str,
    parse: ParseFn<T>,
) -> Result<Option<T>, D::Error> {
    // The settings' visitor: one scalar as text, handed to the rule, errors recoverable.
    d.deserialize_any(crate::config::settings::Scalar {
        expect: what,
        rule: parse,
    })
    .map(Some)
}

pub(super) use crate::config::settings::rules::non_empty;
pub(super) use crate::text::shown;

/// YAML's spellings of null, as `deserialize_str` hands them over (an empty item is "").
fn is_null(v: &str) -> bool {
    matches!(v, "" | "~" | "null" | "Null" | "NULL")
}

/// A file ID (`FOLDER` false) or folder ID (true) as a YAML scalar: an integer or a string.
/// The two parse alike; messages say which one is wrong.
pub(super) struct YamlId<const FOLDER: bool = false>(pub(super) FileId);

impl<'de, const FOLDER: bool> Deserialize<'de> for YamlId<FOLDER> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(IdVisitor::<FOLDER>)
    }
}

struct IdVisitor<const FOLDER: bool>;

impl<const FOLDER: bool> IdVisitor<FOLDER> {
    const KIND: &'static str = if FOLDER { "folder" } else { "file" };
}

impl<'de, const FOLDER: bool> Visitor<'de> for IdVisitor<FOLDER> {
    type Value = YamlId<FOLDER>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a {} ID (a number like 101 or a string like \"dropbox-337-xyz\")",
            Self::KIND
        )
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlId<FOLDER>, E> {
        let kind = Self::KIND;
        if is_null(v) {
            return Err(fail(format!(
                "empty {kind} ID (null): remove the empty item or write the ID"
            )));
        }
        if matches!(v, "true" | "false" | "True" | "False" | "TRUE" | "FALSE") {
            return Err(fail(format!(
                "invalid {kind} ID `{v}`: a boolean is not an ID"
            )));
        }
        FileId::parse(v)
            .map(YamlId)
            .map_err(|e| fail(format!("invalid {kind} ID: {e}")))
    }
}

/// An action name as a YAML string.
pub(super) struct YamlAction(pub(super) Action);

impl<'de> Deserialize<'de> for YamlAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = YamlAction;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an action: lock, unlock, protectusers, info or shares")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlAction, E> {
                if is_null(v) {
                    return Err(fail("empty action (null): remove the empty item or write lock, unlock, protectusers, info or shares"));
                }
                Action::parse(v).map(YamlAction).map_err(fail)
            }
        }
        d.deserialize_str(V)
    }
}

/// A YAML list under `key`; a scalar there gets a "write `key: [value]`" hint.
struct ListOf<T> {
    key: &'static str,
    example: &'static str,
    item: PhantomData<T>,
}

impl<T> ListOf<T> {
    fn not_a_list<E: de::Error>(&self, v: impl fmt::Display) -> Result<Option<Vec<T>>, E> {
        let v = shown(&v.to_string());
        Err(fail(format!(
            "`{}` must be a list: write `{}: [{v}]`",
            self.key, self.key
        )))
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListOf<T> {
    type Value = Option<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list, like `{}`", self.example)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Do not trust a size hint for the capacity: the input may be hostile.
        let mut out = Vec::new();
        loop {
            ItemBudget::spend()?;
            // A bad item is recorded and left out; the rest of the list is still read.
            match seq.next_element::<Recover<T>>()? {
                Some(Recover(Some(item))) => out.push(item),
                Some(Recover(None)) => {}
                None => break,
            }
        }
        Ok(Some(out))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.not_a_list(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(fail(format!(
            "`{}` has no value: write a list like `{}`, or remove the key",
            self.key, self.example
        )))
    }
}

/// A list under `key`; `example` shows the expected form in messages.
pub(super) fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    key: &'static str,
    example: &'static str,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_any(ListOf {
        key,
        example,
        item: PhantomData,
    })
}
