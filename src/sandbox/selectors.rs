//! Label and field selectors: the query-string syntax of `labelSelector`/`fieldSelector` and the
//! structured `metav1.LabelSelector` used by workloads, services and network policies.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::error::ApiError;
use super::resources::{Kind, Obj};

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`
    Equals(String, String),
    /// `key!=value` (also true when the key is absent)
    NotEquals(String, String),
    /// `key in (a,b)`
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the key is absent)
    NotIn(String, Vec<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
    /// `key>N` (integer comparison)
    Gt(String, i64),
    /// `key<N` (integer comparison)
    Lt(String, i64),
}

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelQuery(pub Vec<Requirement>);

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Splits at commas that are not inside parentheses.
fn split_top(s: &str) -> Result<Vec<&str>, ApiError> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(ApiError::bad_request(format!(
                        "unable to parse requirement: unbalanced ')' in {s:?}"
                    )));
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
        return Err(ApiError::bad_request(format!(
            "unable to parse requirement: unbalanced '(' in {s:?}"
        )));
    }
    out.push(&s[start..]);
    Ok(out)
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, ApiError> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: expected '(' in {whole:?}"
            ))
        })?;
    let mut vals = Vec::new();
    for v in inner.split(',') {
        let v = v.trim();
        if !valid_value(v) {
            return Err(ApiError::bad_request(format!(
                "invalid label value {v:?} in {whole:?}"
            )));
        }
        vals.push(v.to_string());
    }
    Ok(vals)
}

fn parse_requirement(r: &str) -> Result<Requirement, ApiError> {
    let r = r.trim();
    let bad = || ApiError::bad_request(format!("unable to parse requirement: {r:?}"));
    if let Some(k) = r.strip_prefix('!') {
        let k = k.trim();
        return if valid_key(k) {
            Ok(Requirement::DoesNotExist(k.to_string()))
        } else {
            Err(bad())
        };
    }
    // Set-based: "key in (..)" / "key notin (..)"
    let words: Vec<&str> = r.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let key = words[0];
        let rest = words[1].trim_start();
        if let Some(set) = rest.strip_prefix("notin") {
            if !valid_key(key) {
                return Err(bad());
            }
            return Ok(Requirement::NotIn(key.to_string(), parse_set(set, r)?));
        }
        if let Some(set) = rest.strip_prefix("in") {
            if !valid_key(key) {
                return Err(bad());
            }
            return Ok(Requirement::In(key.to_string(), parse_set(set, r)?));
        }
    }
    for (op, mk) in [("!=", 0u8), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
        if let Some((k, v)) = r.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) {
                return Err(bad());
            }
            return match mk {
                0 | 1 => {
                    if !valid_value(v) {
                        return Err(ApiError::bad_request(format!(
                            "invalid label value {v:?} in {r:?}"
                        )));
                    }
                    Ok(if mk == 0 {
                        Requirement::NotEquals(k.into(), v.into())
                    } else {
                        Requirement::Equals(k.into(), v.into())
                    })
                }
                _ => {
                    let n: i64 = v.parse().map_err(|_| bad())?;
                    Ok(if mk == 2 {
                        Requirement::Gt(k.into(), n)
                    } else {
                        Requirement::Lt(k.into(), n)
                    })
                }
            };
        }
    }
    if valid_key(r) {
        Ok(Requirement::Exists(r.to_string()))
    } else {
        Err(bad())
    }
}

impl LabelQuery {
    /// Parses a `labelSelector` query value. An empty string selects everything.
    pub fn parse(s: &str) -> Result<LabelQuery, ApiError> {
        if s.trim().is_empty() {
            return Ok(LabelQuery::default());
        }
        let mut reqs = Vec::new();
        for part in split_top(s)? {
            if part.trim().is_empty() {
                return Err(ApiError::bad_request(format!(
                    "unable to parse requirement: empty requirement in {s:?}"
                )));
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(LabelQuery(reqs))
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::Gt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Requirement::Lt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }
}

/// A parsed field selector: `field=value`, `field==value`, `field!=value`, comma-separated.
#[derive(Debug, Clone, Default)]
pub struct FieldQuery(Vec<(String, bool, String)>);

fn supported_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        Kind::Node => &["spec.unschedulable"],
        Kind::Event => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "reason",
            "type",
            "source",
        ],
        Kind::Namespace => &["status.phase"],
        _ => &[],
    }
}

/// The value of a selectable field of `obj` (empty string when unset, as the API server does).
fn field_value(obj: &Obj, field: &str) -> String {
    let s = |o: Option<&String>| o.cloned().unwrap_or_default();
    match (obj, field) {
        (_, "metadata.name") => obj.name().to_string(),
        (_, "metadata.namespace") => obj.namespace().to_string(),
        (Obj::Pod(p), f) => {
            let spec = p.spec.as_ref();
            let st = p.status.as_ref();
            match f {
                "spec.nodeName" => s(spec.and_then(|x| x.node_name.as_ref())),
                "spec.restartPolicy" => s(spec.and_then(|x| x.restart_policy.as_ref())),
                "spec.schedulerName" => s(spec.and_then(|x| x.scheduler_name.as_ref())),
                "spec.serviceAccountName" => s(spec.and_then(|x| x.service_account_name.as_ref())),
                "status.phase" => s(st.and_then(|x| x.phase.as_ref())),
                "status.podIP" => s(st.and_then(|x| x.pod_ip.as_ref())),
                "status.nominatedNodeName" => s(st.and_then(|x| x.nominated_node_name.as_ref())),
                _ => String::new(),
            }
        }
        (Obj::Node(n), "spec.unschedulable") => n
            .spec
            .as_ref()
            .and_then(|x| x.unschedulable)
            .unwrap_or(false)
            .to_string(),
        (Obj::Namespace(n), "status.phase") => s(n.status.as_ref().and_then(|x| x.phase.as_ref())),
        (Obj::Event(e), f) => match f {
            "involvedObject.kind" => s(e.involved_object.kind.as_ref()),
            "involvedObject.namespace" => s(e.involved_object.namespace.as_ref()),
            "involvedObject.name" => s(e.involved_object.name.as_ref()),
            "involvedObject.uid" => s(e.involved_object.uid.as_ref()),
            "reason" => s(e.reason.as_ref()),
            "type" => s(e.type_.as_ref()),
            "source" => s(e.source.as_ref().and_then(|x| x.component.as_ref())),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

impl FieldQuery {
    /// Parses a `fieldSelector` for `kind`; unknown fields are a 400 as on a real API server.
    pub fn parse(kind: Kind, s: &str) -> Result<FieldQuery, ApiError> {
        let mut out = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldQuery(out));
        }
        for part in s.split(',') {
            let part = part.trim();
            let (f, eq, v) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            let f = f.trim();
            if f != "metadata.name"
                && f != "metadata.namespace"
                && !supported_fields(kind).contains(&f)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {f}"
                )));
            }
            out.push((f.to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldQuery(out))
    }

    /// Whether `obj` satisfies every term.
    pub fn matches(&self, obj: &Obj) -> bool {
        self.0
            .iter()
            .all(|(f, eq, v)| (field_value(obj, f) == *v) == *eq)
    }
}

/// Whether a structured `LabelSelector` selects `labels`. An empty selector selects everything;
/// `None` selects nothing (as for a workload without selector).
pub fn selector_matches(
    sel: Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let Some(sel) = sel else { return false };
    let get = |k: &str| labels.and_then(|l| l.get(k));
    if let Some(ml) = &sel.match_labels
        && !ml.iter().all(|(k, v)| get(k) == Some(v))
    {
        return false;
    }
    if let Some(exprs) = &sel.match_expressions {
        for e in exprs {
            let vals = e.values.clone().unwrap_or_default();
            let cur = get(&e.key);
            let ok = match e.operator.as_str() {
                "In" => cur.is_some_and(|c| vals.contains(c)),
                "NotIn" => !cur.is_some_and(|c| vals.contains(c)),
                "Exists" => cur.is_some(),
                "DoesNotExist" => cur.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Whether a plain map selector (as on a Service) selects `labels`. An empty map selects nothing
/// (a Service without selector has no automatic endpoints).
pub fn map_selects(
    sel: Option<&BTreeMap<String, String>>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    match sel {
        Some(sel) if !sel.is_empty() => sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v)),
        _ => false,
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
        let q =
            LabelQuery::parse("app=web,tier==fe,env!=prod,zone in (a, b),x notin (c),has,!gone")
                .unwrap();
        assert_eq!(q.0.len(), 7);
        let l = labels(&[
            ("app", "web"),
            ("tier", "fe"),
            ("env", "dev"),
            ("zone", "b"),
            ("has", ""),
        ]);
        assert!(q.matches(Some(&l)));
        let l2 = labels(&[("app", "web"), ("tier", "fe"), ("zone", "c"), ("has", "")]);
        assert!(!q.matches(Some(&l2)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(LabelQuery::parse("a in (b").is_err());
        assert!(LabelQuery::parse("a=b,,c").is_err());
        assert!(LabelQuery::parse("a b c").is_err());
    }
}
