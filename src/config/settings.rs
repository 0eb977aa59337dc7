//! Execution settings, declared once. Each setting is one entry in [`settings!`] below: its doc
//! comment (which is also its `--help` text), its type, its default, the rule that parses and
//! range-checks its value, the JSON Schema shape of what that rule accepts, and its clap
//! attributes. From that one entry come the flag, the YAML `settings:` key (same name, `-` or
//! `_`), the merge (command line over YAML over default), the check that two job files do not
//! set it differently, and its entry in `job.schema.json` (see [`crate::job::schema()`]).
//! Adding a setting means adding an entry here and its test (and regenerating the schema:
//! `UPDATE_SCHEMA=1 cargo test --test it schema`); the code that uses it reads the field.

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::job::yaml::recover::{fail, recover, Recover};
use crate::job::Action;
use crate::text::shown;
use crate::units::{parse_duration, parse_rate, parse_shard, Rate, Shard};

/// Largest accepted `concurrency`.
pub const MAX_CONCURRENCY: usize = 1000;

/// `--progress`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar on a terminal, periodic stats lines otherwise.
    #[default]
    Auto,
    /// A bar on a terminal even when auto-detection says otherwise; stats lines into a pipe.
    Always,
    /// Never a bar (stats lines instead).
    Never,
}

/// `--log-format`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line on stderr.
    Json,
}

/// A merge or consistency problem between settings sources.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// The rule a YAML `settings:` key is read with: the setting's own, except for `portal`,
/// which a job file also gets checked as a URL (with its line and column, and a fix worded for
/// the file); on the command line that check runs when the portal is resolved, where its
/// source (flag or DOCSPACE_URL) is known.
macro_rules! yaml_rule {
    (portal, $rule:path) => {
        rules::portal_in_job_file
    };
    ($field:ident, $rule:path) => {
        $rule
    };
}

/// Picks the resolved field type: the value type when the setting has a default, else an
/// `Option` of it.
macro_rules! resolved_ty {
    ($ty:ty;) => { Option<$ty> };
    ($ty:ty; $default:expr) => { $ty };
}

/// Applies the default, when the setting has one.
macro_rules! resolved_val {
    ($v:expr;) => {
        $v
    };
    ($v:expr; $default:expr) => {
        $v.unwrap_or_else(|| $default)
    };
}

/// The default as written in YAML, when the setting has one.
macro_rules! default_yaml {
    ($ty:ty;) => {
        None
    };
    ($ty:ty; $default:expr) => {{
        let d: $ty = $default;
        Some(AsYaml::as_yaml(&d))
    }};
}

macro_rules! settings {
    ($(
        $(#[doc = $doc:expr])*
        $field:ident: $ty:ty $(= $default:expr)?, rule $rule:path, expect $expect:literal,
            schema $schema:expr, arg($($arg:tt)*) $(, no $neg:ident $negdoc:literal)?;
    )*) => {
        /// Settings from one source (one job file's `settings:`, or the command line): what
        /// that source says, nothing more.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct PartialSettings {
            $( $(#[doc = $doc])* pub $field: Option<$ty>, )*
        }

        /// The settings as command-line flags. Doc comments are the `--help` text.
        #[derive(Clone, Debug, Default, clap::Args)]
        pub struct SettingsArgs {
            $(
                $(#[doc = $doc])*
                #[arg($($arg)*, value_parser = $rule)]
                pub $field: Option<$ty>,
                $(
                    #[doc = $negdoc]
                    #[arg(long, overrides_with = stringify!($field))]
                    pub $neg: bool,
                )?
            )*
        }

        /// Every setting resolved: command line over YAML over default.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Settings {
            $( $(#[doc = $doc])* pub $field: resolved_ty!($ty; $($default)?), )*
        }

        impl SettingsArgs {
            /// What the command line (flags and their environment forms) says.
            pub fn partial(&self) -> PartialSettings {
                PartialSettings {
                    $( $field: self.$field.clone() $( .or(self.$neg.then_some(false)) )?, )*
                }
            }
        }

        impl PartialSettings {
            /// The YAML keys, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Each setting's JSON Schema parts, in declaration order: the value shape (what
            /// its rule accepts), its doc text and its default as written in YAML. Assembled
            /// into `job.schema.json` by [`crate::job::schema()`].
            pub(crate) fn schema_entries() -> Vec<crate::job::schema::SettingSchema> {
                use crate::job::schema::{shape, AsYaml, SettingSchema};
                vec![$(
                    SettingSchema {
                        key: stringify!($field),
                        doc: &[$($doc),*],
                        default: default_yaml!($ty; $($default)?),
                        value: $schema,
                    },
                )*]
            }

            /// `self` where it says something, else `lower`.
            pub fn or(self, lower: PartialSettings) -> PartialSettings {
                PartialSettings { $( $field: self.$field.or(lower.$field), )* }
            }

            /// Applies the defaults.
            pub fn resolve(self) -> Settings {
                Settings { $( $field: resolved_val!(self.$field; $($default)?), )* }
            }

            /// The keys whose values differ between `self` and `other` where both set them.
            fn conflicts(&self, other: &PartialSettings) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(
                    if let (Some(a), Some(b)) = (&self.$field, &other.$field) {
                        if a != b {
                            out.push(stringify!($field));
                        }
                    }
                )*
                out
            }

            /// Whether this source sets `key`.
            fn sets(&self, key: &str) -> bool {
                match key {
                    $( stringify!($field) => self.$field.is_some(), )*
                    _ => false,
                }
            }

            /// Reads the value of YAML key `key` (already normalised to `_`) from `map`.
            fn read_yaml<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
                match key {
                    $(
                        stringify!($field) => {
                            if self.$field.is_some() {
                                return Err(de::Error::duplicate_field(stringify!($field)));
                            }
                            // A bad value is recorded and the rest is still read (see
                            // `job::yaml::recover`), so it joins the job file's other errors.
                            let rule = yaml_rule!($field, $rule);
                            self.$field = recover(map.next_value_seed(Scalar { expect: $expect, rule }))?;
                            Ok(())
                        }
                    )*
                    // `SettingKey` let only known keys through.
                    other => Err(de::Error::unknown_field(other, Self::KEYS)),
                }
            }
        }
    };
}

settings! {
    /// Portal base URL, e.g. https://yourportal.onlyoffice.com
    portal: String, rule rules::portal, expect "a portal URL like `https://yourportal.onlyoffice.com`",
        schema shape::portal(),
        arg(long, env = "DOCSPACE_URL", value_name = "URL", hide_env_values = true);
    /// Tasks in flight at once [default: 8]. DocSpace allows 15 concurrent writes per user.
    concurrency: usize = 8, rule rules::concurrency, expect "a number of tasks like `8`",
        schema shape::int(rules::CONCURRENCY),
        arg(long, value_name = "N");
    /// Request rate cap: `20/s`, `1500/min`, `100/h` or `unlimited` [default: 20/s].
    rate: Rate = Rate::PerSecond(20.0), rule parse_rate, expect "a rate like `20/s`, `1500/min`, `100/h` or `unlimited`",
        schema shape::rate(),
        arg(long, value_name = "R");
    /// Requests that may go out back-to-back after idle time [default: 1].
    burst: u32 = 1, rule rules::burst, expect "a number like `1`",
        schema shape::int(rules::BURST),
        arg(long, value_name = "N");
    /// Retries after the first attempt, for retryable failures only [default: 4].
    retries: u32 = 4, rule rules::retries, expect "a number like `4`",
        schema shape::int(rules::RETRIES),
        arg(long, value_name = "N");
    /// Per-request timeout: `500ms`, `30s`, `2m` [default: 30s].
    timeout: Duration = Duration::from_secs(30), rule rules::duration, expect "a duration like `30s`, `500ms` or `2m`",
        schema shape::duration(true),
        arg(long, value_name = "DUR");
    /// Where reports go [default: reports/<name>-<UTC yyyymmddThhmmssZ>]; created if missing.
    report_dir: PathBuf, rule rules::path, expect "a path",
        schema shape::text(),
        arg(long, value_name = "DIR");
    /// Stop starting tasks after DUR (cron windows); exit 4 when work is left.
    max_duration: Duration, rule rules::duration, expect "a duration like `30s`, `500ms` or `2m`",
        schema shape::duration(true),
        arg(long, value_name = "DUR");
    /// Abort after N failed tasks; exit 3.
    max_failures: u64, rule rules::max_failures, expect "a number like `50`",
        schema shape::int(rules::MAX_FAILURES),
        arg(long, value_name = "N");
    /// Before lock/unlock, read the file and skip the write when it is already as wanted [default].
    check_state: bool = true, rule rules::flag, expect "`true` or `false`",
        schema shape::flag(),
        arg(long, num_args = 0, default_missing_value = "true", overrides_with = "no_check_state"),
        no no_check_state "Write without reading the file's state first (restore then cannot tell which locks the run made).";
    /// A skip (`unchanged`, `locked_by_other`), an unlock and an `info` row rest on known state
    /// (from a folder listing, a read or an earlier answer) younger than DUR; older state is read
    /// again first. `0s` reads before every one of them [default: 60s].
    state_max_age: Duration = Duration::from_secs(60), rule parse_duration, expect "a duration like `60s` or `0s`",
        schema shape::duration(false),
        arg(long, value_name = "DUR");
    /// Run only the files whose stable hash falls in shard K of N (1-based).
    shard: Shard, rule parse_shard, expect "a shard like `2/4`",
        schema shape::shard(),
        arg(long, value_name = "K/N");
    /// Action for CSV files that have no `action` column.
    action: Action, rule Action::parse, expect "an action: lock, unlock, protectusers, info or shares",
        schema shape::words(&Action::ALL.map(Action::as_str), false),
        arg(long, value_name = "A");
    /// `auto`: a progress bar on a terminal, periodic stats lines otherwise; `always`: a bar even
    /// when stderr is not detected as a terminal, but stats lines into a pipe or file (a bar
    /// cannot draw there); `never`: stats lines only [default: auto].
    progress: ProgressMode = ProgressMode::Auto, rule rules::progress, expect "`auto`, `always` or `never`",
        schema shape::words(&["auto", "always", "never"], false),
        arg(long, value_name = "WHEN");
    /// Only errors, credential warnings, the one-line summary (stdout), the report directory
    /// (`reports: DIR`) and, when work is left, the resume command (`work is left; resume with:
    /// docspace-batch run ... --resume DIR`).
    quiet: bool = false, rule rules::flag, expect "`true` or `false`",
        schema shape::flag(),
        arg(long, short, num_args = 0, default_missing_value = "true");
    /// `text` or `json` (one JSON object per line on stderr) [default: text].
    log_format: LogFormat = LogFormat::Text, rule rules::log_format, expect "`text` or `json`",
        schema shape::words(&["text", "json"], false),
        arg(long, value_name = "FORMAT");
    /// Extra trusted root certificate (PEM file) for self-hosted portals.
    ca_cert: PathBuf, rule rules::path, expect "a path",
        schema shape::text(),
        arg(long, value_name = "PEM");
    /// Permit http:// to a non-loopback host.
    allow_http: bool = false, rule rules::flag, expect "`true` or `false`",
        schema shape::flag(),
        arg(long, num_args = 0, default_missing_value = "true");
    /// Treat a folder that does not exist or cannot be read as empty instead of an error.
    skip_missing_folders: bool = false, rule rules::flag, expect "`true` or `false`",
        schema shape::flag(),
        arg(long, num_args = 0, default_missing_value = "true");
    /// With --resume: also run again the tasks that failed permanently (not found, forbidden…).
    retry_failed: bool = false, rule rules::flag, expect "`true` or `false`",
        schema shape::flag(),
        arg(long, num_args = 0, default_missing_value = "true");
    /// Where default report directories are made and `--resume latest` looks [default: reports].
    report_root: PathBuf = PathBuf::from("reports"), rule rules::path, expect "a path",
        schema shape::text(),
        arg(long, value_name = "DIR");
    /// Start CSV exports with a UTF-8 byte-order mark, so Excel shows non-ASCII titles right.
    csv_bom: bool = false, rule rules::flag, expect "`true` or `false`",
        schema shape::flag(),
        arg(long, num_args = 0, default_missing_value = "true");
}

impl<'de> serde::Deserialize<'de> for PartialSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PartialSettings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a `settings:` mapping, e.g. `settings: {concurrency: 8, rate: 20/s}`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PartialSettings, A::Error> {
                let mut out = PartialSettings::default();
                while let Some(Recover(key)) = map.next_key::<Recover<SettingKey>>()? {
                    match key {
                        Some(SettingKey(key)) => out.read_yaml(key, &mut map)?,
                        // Recorded as an unknown key; its value is skipped.
                        None => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_unit<E: de::Error>(self) -> Result<PartialSettings, E> {
                Ok(PartialSettings::default())
            }
        }
        d.deserialize_map(V)
    }
}

/// A known `settings:` key, normalised to `_` (the flags are spelled with `-`; both spellings
/// work in YAML). An unknown key fails as a scalar, so the parse records it and goes on.
struct SettingKey(&'static str);

impl<'de> serde::Deserialize<'de> for SettingKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SettingKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a setting name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SettingKey, E> {
                let key = v.replace('-', "_");
                match PartialSettings::KEYS.iter().find(|k| **k == key) {
                    Some(k) => Ok(SettingKey(k)),
                    None => Err(fail(E::unknown_field(v, PartialSettings::KEYS))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// Merges the `settings:` of several job files under the command line's. The same key with
/// different values in two files is an error unless the command line sets it (then it wins
/// anyway); which file should win is not ours to guess.
pub fn merge(
    cli: PartialSettings,
    files: &[(&Path, &PartialSettings)],
) -> Result<PartialSettings, SettingsError> {
    let mut merged = PartialSettings::default();
    let mut from: HashMap<&'static str, &Path> = HashMap::new();
    for (path, s) in files {
        if let Some(key) = merged.conflicts(s).into_iter().find(|k| !cli.sets(k)) {
            return Err(SettingsError(format!(
                "settings.{key} differs between {} and {}; set it once, or on the command line",
                from[key].display(),
                path.display()
            )));
        }
        for key in PartialSettings::KEYS {
            if s.sets(key) && !merged.sets(key) {
                from.insert(key, path);
            }
        }
        merged = merged.or((*s).clone());
    }
    Ok(cli.or(merged))
}

/// One YAML scalar (string, number or bool, as text) handed to a rule inside the visitor, so
/// a rule's error carries the value's line and column. Settings and job fields use it alike.
pub(crate) struct Scalar<T> {
    /// What the value should look like, for messages.
    pub expect: &'static str,
    /// Parses and checks the text.
    pub rule: fn(&str) -> Result<T, String>,
}

impl<'de, T> DeserializeSeed<'de> for Scalar<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T> Visitor<'de> for Scalar<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expect)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        // Marked as a scalar failure: the YAML parse can record it and go on.
        (self.rule)(v).map_err(fail)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.visit_str(if v { "true" } else { "false" })
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Err(fail(format!(
            "no value given; write {} or remove the key",
            self.expect
        )))
    }
}

/// The value rules: each setting's parse and range check, for flags and YAML alike.
#[path = "settings_rules.rs"]
pub mod rules;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        settings: SettingsArgs,
    }

    fn flags(args: &[&str]) -> PartialSettings {
        Flags::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .settings
            .partial()
    }

    fn yaml(text: &str) -> PartialSettings {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn csv_bom_from_flag_yaml_and_default() {
        assert!(!PartialSettings::default().resolve().csv_bom);
        assert_eq!(flags(&["--csv-bom"]).csv_bom, Some(true));
        assert_eq!(yaml("csv_bom: true").csv_bom, Some(true));
        assert_eq!(yaml("csv-bom: false").csv_bom, Some(false));
        let merged = merge(flags(&[]), &[(Path::new("a.yaml"), &yaml("csv_bom: true"))]).unwrap();
        assert!(merged.resolve().csv_bom);
    }

    #[test]
    fn state_max_age_from_flag_yaml_and_default_and_zero_is_allowed() {
        let d = PartialSettings::default().resolve().state_max_age;
        assert_eq!(d, Duration::from_secs(60));
        let f = flags(&["--state-max-age", "0s"]).state_max_age;
        assert_eq!(f, Some(Duration::ZERO));
        let y = yaml("state-max-age: 5m").state_max_age;
        assert_eq!(y, Some(Duration::from_secs(300)));
    }

    #[test]
    fn the_command_line_wins_and_files_must_agree() {
        let a = yaml("concurrency: 4\nrate: 5/s");
        let b = yaml("concurrency: 6");
        let e = merge(
            flags(&[]),
            &[(Path::new("a.yaml"), &a), (Path::new("b.yaml"), &b)],
        )
        .unwrap_err();
        assert!(
            e.0.contains("settings.concurrency differs between a.yaml and b.yaml"),
            "{e}"
        );
        let m = merge(
            flags(&["--concurrency", "2"]),
            &[(Path::new("a.yaml"), &a), (Path::new("b.yaml"), &b)],
        )
        .unwrap()
        .resolve();
        assert_eq!((m.concurrency, m.rate), (2, Rate::PerSecond(5.0)));
        assert_eq!(m.retries, 4, "default");
    }

    #[test]
    fn one_rule_for_flags_and_yaml() {
        let e: Result<PartialSettings, _> = serde_yaml::from_str("max_duration: 0s");
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("must be greater than zero"));
        let e = Flags::try_parse_from(["x", "--max-duration", "0s"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("must be greater than zero"));
        let e: Result<PartialSettings, _> = serde_yaml::from_str("concurency: 3");
        assert!(e.unwrap_err().to_string().contains("concurency"));
    }
}
