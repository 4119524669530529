//! Durations written the way people write them: `30s`, `2m`, `1h30m`, `250ms`.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A duration parsed from a human string such as `30s` or `2m`. Numbers without a unit are
/// refused, because `30` could mean seconds or milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Wraps a std duration.
    pub const fn new(d: Duration) -> Self {
        Self(d)
    }

    /// Seconds as a whole number.
    pub const fn from_secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }

    /// The inner std duration.
    pub fn get(self) -> Duration {
        self.0
    }

    /// Parses `30s`, `2m`, `1h 30m`, `250ms`; rejects negatives and bare numbers with advice.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty duration; write it with a unit, e.g. 30s or 2m".into());
        }
        if t.starts_with('-') {
            return Err(format!(
                "negative duration {t:?}; durations must be positive, e.g. 30s"
            ));
        }
        if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(format!(
                "duration {t:?} has no unit; write e.g. {t}s or {t}ms"
            ));
        }
        humantime::parse_duration(t)
            .map(Self)
            .map_err(|e| format!("invalid duration {t:?} ({e}); write e.g. 30s, 2m or 1h30m"))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, such as 30s, 2m or 250ms")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                HumanDuration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit; write e.g. {v}s or {v}ms"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                if v < 0 {
                    Err(E::custom(format!(
                        "negative duration {v}; durations must be positive, e.g. 30s"
                    )))
                } else {
                    self.visit_u64(v as u64)
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit; write e.g. {v}s"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration with a unit: 250ms, 30s, 2m, 1h30m",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+(\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+)*\\s*$",
            "examples": ["30s", "2m", "250ms"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(
            HumanDuration::parse("30s").unwrap().get(),
            Duration::from_secs(30)
        );
        assert_eq!(
            HumanDuration::parse("2m").unwrap().get(),
            Duration::from_secs(120)
        );
        assert_eq!(
            HumanDuration::parse("250ms").unwrap().get(),
            Duration::from_millis(250)
        );
        assert_eq!(
            HumanDuration::parse("1h 30m").unwrap().get(),
            Duration::from_secs(5400)
        );
    }

    #[test]
    fn refuses_negative_and_unitless() {
        assert!(
            HumanDuration::parse("-5s")
                .unwrap_err()
                .contains("negative")
        );
        assert!(HumanDuration::parse("30").unwrap_err().contains("no unit"));
        assert!(
            HumanDuration::parse("fast")
                .unwrap_err()
                .contains("invalid duration")
        );
    }
}
