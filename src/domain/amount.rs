//! Counts, percentages and byte sizes as written in experiment files.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How many of a set: an absolute count (`2`) or a share of it (`"25%"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amount {
    /// An absolute number of targets.
    Count(u64),
    /// A percentage of the eligible set, in (0, 100].
    Percent(f64),
}

impl Amount {
    /// How many of `total` this amount allows; a percentage rounds down but never below one
    /// when the percentage is positive and the set is not empty.
    pub fn of(self, total: usize) -> usize {
        match self {
            Amount::Count(n) => usize::try_from(n).unwrap_or(usize::MAX).min(total),
            Amount::Percent(p) => {
                if total == 0 {
                    return 0;
                }
                let n = ((total as f64) * p / 100.0).floor() as usize;
                n.clamp(1, total)
            }
        }
    }

    /// Whether this amount allows nothing at all.
    pub fn is_zero(self) -> bool {
        match self {
            Amount::Count(n) => n == 0,
            Amount::Percent(p) => p <= 0.0,
        }
    }

    /// Parses `3` or `"40%"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("invalid percentage {t:?}; write e.g. 25%"))?;
            if !v.is_finite() || !(0.0..=100.0).contains(&v) {
                return Err(format!("percentage {t:?} must be between 0% and 100%"));
            }
            Ok(Amount::Percent(v))
        } else {
            t.parse::<u64>().map(Amount::Count).map_err(|_| {
                format!("invalid amount {t:?}; write a count such as 2 or a percentage such as 25%")
            })
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Count(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Amount::Count(n) => s.serialize_u64(*n),
            Amount::Percent(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count such as 2 or a percentage such as \"25%\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount::Count(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Amount, E> {
                u64::try_from(v).map(Amount::Count).map_err(|_| {
                    E::custom(format!(
                        "negative amount {v}; use a count ≥ 1 or a percentage"
                    ))
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Amount, E> {
                Err(E::custom(format!(
                    "{v} is neither a whole count nor a percentage; write e.g. 2 or \"{v}%\""
                )))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Amount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A count (2) or a percentage of the eligible set (\"25%\")",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$"}
            ]
        })
    }
}

/// A percentage in [0, 100], written `10`, `12.5` or `"10%"`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Percent(pub f64);

impl Percent {
    /// The value in percent.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn check<E: serde::de::Error>(v: f64) -> Result<Percent, E> {
            if v.is_finite() && (0.0..=100.0).contains(&v) {
                Ok(Percent(v))
            } else {
                Err(E::custom(format!(
                    "percentage {v} must be between 0 and 100"
                )))
            }
        }
        impl serde::de::Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage between 0 and 100, such as 10 or \"12.5%\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Percent, E> {
                check(v as f64)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Percent, E> {
                check(v as f64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Percent, E> {
                check(v)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Percent, E> {
                let t = v.trim().trim_end_matches('%').trim();
                match t.parse::<f64>() {
                    Ok(x) => check(x),
                    Err(_) => Err(E::custom(format!(
                        "invalid percentage {v:?}; write e.g. 10 or \"12.5%\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A percentage between 0 and 100",
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%?\\s*$"}
            ]
        })
    }
}

/// A size in bytes, written `256Mi`, `1Gi`, `512M`, `64k` or a plain number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses Kubernetes-style quantities: Ki/Mi/Gi (powers of two) and k/M/G (powers of ten).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid size {t:?}; write e.g. 256Mi or 1Gi"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "k" | "K" | "KB" => 1_000,
            "M" | "MB" => 1_000_000,
            "G" | "GB" => 1_000_000_000,
            "Ki" | "KiB" => 1 << 10,
            "Mi" | "MiB" => 1 << 20,
            "Gi" | "GiB" => 1 << 30,
            "Ti" | "TiB" => 1 << 40,
            other => {
                return Err(format!(
                    "unknown size unit {other:?} in {t:?}; use Ki, Mi, Gi (or k, M, G)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("size {t:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
            write!(f, "{}Gi", b >> 30)
        } else if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
            write!(f, "{}Mi", b >> 20)
        } else if b >= 1 << 10 && b.is_multiple_of(1 << 10) {
            write!(f, "{}Ki", b >> 10)
        } else {
            write!(f, "{b}")
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 256Mi or 1Gi")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("negative size {v}")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size: 256Mi, 1Gi, 512M, or a number of bytes",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^\\s*[0-9]+\\s*(B|k|K|KB|M|MB|G|GB|Ki|KiB|Mi|MiB|Gi|GiB|Ti|TiB)?\\s*$"}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_of_a_set() {
        assert_eq!(Amount::Count(2).of(10), 2);
        assert_eq!(Amount::Count(20).of(10), 10);
        assert_eq!(Amount::Percent(25.0).of(10), 2);
        assert_eq!(
            Amount::Percent(1.0).of(10),
            1,
            "a positive share picks at least one"
        );
        assert_eq!(Amount::Percent(50.0).of(0), 0);
        assert!(Amount::parse("0%").unwrap().is_zero());
        assert!(Amount::parse("150%").is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("256Mi").unwrap().0, 256 << 20);
        assert_eq!(ByteSize::parse("1G").unwrap().0, 1_000_000_000);
        assert!(ByteSize::parse("12 parsecs").is_err());
        assert_eq!(ByteSize(256 << 20).to_string(), "256Mi");
    }
}
