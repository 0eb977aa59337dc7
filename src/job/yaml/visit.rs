//! The serde visitors behind every YAML value: scalars (any YAML scalar is turned into text
//! and handed to a parser inside the visitor, so a parse error is marked with the value's
//! position), file IDs, action names and lists (a scalar where a list belongs gets a
//! "write `key: [value]`" hint). Shared by the job fields (`raw`) and `settings`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use super::guards::ItemBudget;
use crate::config::settings::Scalar;
use crate::job::{Action, FileId};

type ParseFn<T> = fn(&str) -> Result<T, String>;

/// Parses any scalar with `parse`; `what` describes the expected value for messages.
pub(super) fn scalar<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &'static str,
    parse: ParseFn<T>,
) -> Result<Option<T>, D::Error> {
    Scalar {
        expect: what,
        rule: parse,
    }
    .deserialize(d)
    .map(Some)
}

pub(super) use crate::config::settings::rules::non_empty;
pub(super) use crate::text::shown;

/// A file or folder ID as a YAML scalar: an integer or a string.
pub(super) struct YamlId(pub(super) FileId);

impl<'de> Deserialize<'de> for YamlId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

const ID_FORMS: &str =
    "IDs are whole numbers 1..=2147483647 or connected-storage IDs like \"dropbox-337-xyz\"";

impl IdVisitor {
    fn parse<E: de::Error>(s: &str) -> Result<YamlId, E> {
        FileId::parse(s)
            .map(YamlId)
            .map_err(|e| E::custom(format!("invalid file ID: {e}")))
    }
    fn not_an_id<E: de::Error>(v: impl fmt::Display, kind: &str) -> Result<YamlId, E> {
        Err(E::custom(format!(
            "invalid file ID `{v}`: {kind}; {ID_FORMS}"
        )))
    }
}

impl<'de> Visitor<'de> for IdVisitor {
    type Value = YamlId;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a file ID (a number like 101 or a string like \"dropbox-337-xyz\")")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlId, E> {
        Self::parse(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlId, E> {
        Self::parse(&v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<YamlId, E> {
        Self::parse(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlId, E> {
        if v < 0 {
            return Self::not_an_id(v, "IDs are not negative");
        }
        Self::parse(&v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<YamlId, E> {
        if v < 0 {
            return Self::not_an_id(v, "IDs are not negative");
        }
        Self::parse(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<YamlId, E> {
        Self::not_an_id(v, "not a whole number")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlId, E> {
        Self::not_an_id(v, "a boolean is not an ID")
    }
    fn visit_unit<E: de::Error>(self) -> Result<YamlId, E> {
        Err(E::custom(
            "empty file ID (null): remove the empty item or write the ID",
        ))
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
                Action::parse(v).map(YamlAction).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<YamlAction, E> {
                Err(E::custom("empty action (null): remove the empty item or write lock, unlock, protectusers, info or shares"))
            }
        }
        d.deserialize_any(V)
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
        Err(E::custom(format!(
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
            match seq.next_element()? {
                Some(item) => out.push(item),
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
        Err(E::custom(format!(
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
