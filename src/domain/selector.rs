//! Kubernetes label selectors in kubectl syntax: `app=web,tier!=db,env in (a,b),!legacy`.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// One clause of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value`.
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)`.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

impl Requirement {
    /// Whether a set of labels satisfies this clause.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|x| vs.contains(x)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|x| !vs.contains(x)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Equals(k, v) => write!(f, "{k}={v}"),
            Requirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => write!(f, "{k}"),
            Requirement::DoesNotExist(k) => write!(f, "!{k}"),
        }
    }
}

/// A parsed, non-empty label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelSelector {
    /// The clauses; all must hold.
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Whether the labels satisfy every clause.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether there are no clauses (which would select everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parses kubectl selector syntax.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for clause in split_top_level(s)? {
            let c = clause.trim();
            if c.is_empty() {
                if s.trim().is_empty() {
                    break;
                }
                return Err(format!(
                    "empty clause in selector {s:?}; remove the extra comma"
                ));
            }
            reqs.push(parse_clause(c)?);
        }
        Ok(Self { requirements: reqs })
    }
}

fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced ')' in selector {s:?}"));
                }
            }
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in selector {s:?}"));
    }
    out.push(&s[start..]);
    Ok(out)
}

fn parse_clause(c: &str) -> Result<Requirement, String> {
    if let Some(k) = c.strip_prefix('!') {
        let k = k.trim();
        check_key(k)?;
        return Ok(Requirement::DoesNotExist(k.to_string()));
    }
    if let Some((k, v)) = c.split_once("!=") {
        let (k, v) = (k.trim(), v.trim());
        check_key(k)?;
        check_value(v)?;
        return Ok(Requirement::NotEquals(k.into(), v.into()));
    }
    if let Some((k, v)) = c.split_once("==").or_else(|| c.split_once('=')) {
        let (k, v) = (k.trim(), v.trim());
        check_key(k)?;
        check_value(v)?;
        return Ok(Requirement::Equals(k.into(), v.into()));
    }
    if let Some(open) = c.find('(') {
        let head = c[..open].trim();
        let Some(inner) = c[open + 1..].trim().strip_suffix(')') else {
            return Err(format!("clause {c:?} must end with ')'"));
        };
        let mut parts = head.split_whitespace();
        let (Some(key), Some(op), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "clause {c:?} must look like `key in (a,b)` or `key notin (a,b)`"
            ));
        };
        check_key(key)?;
        let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
        for v in &values {
            check_value(v)?;
        }
        if values.iter().all(String::is_empty) {
            return Err(format!(
                "clause {c:?} needs at least one value inside the parentheses"
            ));
        }
        return match op {
            "in" => Ok(Requirement::In(key.into(), values)),
            "notin" => Ok(Requirement::NotIn(key.into(), values)),
            other => Err(format!(
                "unknown selector operator {other:?} in {c:?}; use =, ==, !=, in, notin, or key / !key"
            )),
        };
    }
    if c.split_whitespace().count() > 1 {
        return Err(format!(
            "cannot read selector clause {c:?}; use key=value, key!=value, key in (a,b), key notin (a,b), key or !key"
        ));
    }
    check_key(c)?;
    Ok(Requirement::Exists(c.to_string()))
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn check_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix
        && !(p.len() <= 253 && p.split('.').all(|part| valid_name(part, 63)))
    {
        return Err(format!(
            "label key prefix {p:?} is not a valid DNS subdomain"
        ));
    }
    if !valid_name(name, 63) {
        return Err(format!(
            "label key {k:?} is invalid: use letters, digits, '-', '_', '.', at most 63 characters, starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn check_value(v: &str) -> Result<(), String> {
    if v.is_empty() || valid_name(v, 63) {
        Ok(())
    } else {
        Err(format!(
            "label value {v:?} is invalid: use letters, digits, '-', '_', '.', at most 63 characters"
        ))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for LabelSelector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LabelSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LabelSelector::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for LabelSelector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LabelSelector".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A label selector in kubectl syntax: app=web,tier!=db,env in (a,b),!legacy",
            "minLength": 1,
            "examples": ["app=checkout", "app in (frontend,checkout),tier!=db"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_operator() {
        let s = LabelSelector::parse(
            "app=web, tier!=db,env in (prod, stage),zone notin (a),canary,!legacy,x==y",
        )
        .unwrap();
        assert_eq!(s.requirements.len(), 7);
        assert_eq!(
            s.to_string(),
            "app=web,tier!=db,env in (prod,stage),zone notin (a),canary,!legacy,x=y"
        );
        let l = labels(&[
            ("app", "web"),
            ("tier", "api"),
            ("env", "prod"),
            ("zone", "b"),
            ("canary", ""),
            ("x", "y"),
        ]);
        assert!(s.matches(&l));
        let mut l2 = l.clone();
        l2.insert("legacy".into(), "1".into());
        assert!(!s.matches(&l2));
    }

    #[test]
    fn rejects_bad_syntax_with_advice() {
        assert!(
            LabelSelector::parse("app in prod")
                .unwrap_err()
                .contains("cannot read")
        );
        assert!(
            LabelSelector::parse("app like (x)")
                .unwrap_err()
                .contains("unknown selector operator")
        );
        assert!(
            LabelSelector::parse("app=web,,x=y")
                .unwrap_err()
                .contains("empty clause")
        );
        assert!(
            LabelSelector::parse("-bad=x")
                .unwrap_err()
                .contains("invalid")
        );
        assert!(LabelSelector::parse("").unwrap().is_empty());
    }
}
