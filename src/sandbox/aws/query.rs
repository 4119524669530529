//! Query-protocol request parameters (form-encoded `Action=...&Name.1=...`) and API errors.

use super::state::Tags;
use std::collections::BTreeMap;

/// The request's parameters.
pub type Params = BTreeMap<String, String>;

/// An AWS API error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Error code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// A 400 error.
pub fn bad(code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: 400,
        code: code.into(),
        message: message.into(),
    }
}

/// A 404 error (RDS uses these for missing resources).
pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: 404,
        code: code.into(),
        message: message.into(),
    }
}

/// A required parameter.
pub fn req<'a>(p: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    p.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            bad(
                "MissingParameter",
                format!("The request must contain the parameter {name}"),
            )
        })
}

/// `prefix.1`, `prefix.2`, ... in numeric order.
pub fn list(p: &Params, prefix: &str) -> Vec<String> {
    let mut v: Vec<(u32, String)> = p
        .iter()
        .filter_map(|(k, val)| {
            let n = k.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
            Some((n, val.clone()))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, s)| s).collect()
}

/// Indices `n` for which `prefix.n.<field>` exists.
fn indices(p: &Params, prefix: &str) -> Vec<u32> {
    let mut v: Vec<u32> = p
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
            rest.split('.').next()?.parse().ok()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// `Filter.N.Name` / `Filter.N.Value.M`.
pub fn filters(p: &Params) -> Vec<(String, Vec<String>)> {
    indices(p, "Filter")
        .into_iter()
        .filter_map(|n| {
            let name = p.get(&format!("Filter.{n}.Name"))?.clone();
            Some((name, list(p, &format!("Filter.{n}.Value"))))
        })
        .collect()
}

/// `PREFIX.N.Key` / `PREFIX.N.Value`.
pub fn tags(p: &Params, prefix: &str) -> Tags {
    indices(p, prefix)
        .into_iter()
        .filter_map(|n| {
            let k = p.get(&format!("{prefix}.{n}.Key"))?.clone();
            let v = p
                .get(&format!("{prefix}.{n}.Value"))
                .cloned()
                .unwrap_or_default();
            Some((k, v))
        })
        .collect()
}

/// Tags from `TagSpecification.N` for one resource type.
pub fn tag_spec(p: &Params, resource_type: &str) -> Tags {
    let mut out = Tags::new();
    for n in indices(p, "TagSpecification") {
        if p.get(&format!("TagSpecification.{n}.ResourceType"))
            .map(String::as_str)
            == Some(resource_type)
        {
            out.extend(tags(p, &format!("TagSpecification.{n}.Tag")));
        }
    }
    out
}

/// A `*`/`?` glob as EC2 filters accept. Linear backtracking to the last `*` (at most
/// pattern × value steps): patterns come from requests, and a recursive matcher takes
/// exponential time on `***...x`.
pub fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    // Refuse absurd patterns rather than spend time on them.
    if p.len() > 256 || s.len() > 1024 {
        return false;
    }
    let (mut pi, mut si) = (0, 0);
    // Where the last `*` was, and the first character of `s` it has not yet swallowed.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            // Let the last `*` swallow one more character and retry after it.
            star = Some((sp, ss + 1));
            pi = sp + 1;
            si = ss + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a resource passes every filter. `field` answers the values of a filter name, or
/// `None` for names this resource does not support (an error, as in EC2).
pub fn pass(
    filters: &[(String, Vec<String>)],
    tags: &Tags,
    field: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<bool, ApiError> {
    for (name, values) in filters {
        let have: Vec<String> = if let Some(k) = name.strip_prefix("tag:") {
            tags.get(k).cloned().into_iter().collect()
        } else if name == "tag-key" {
            tags.keys().cloned().collect()
        } else if name == "tag-value" {
            tags.values().cloned().collect()
        } else {
            field(name).ok_or_else(|| {
                bad(
                    "InvalidParameterValue",
                    format!("The filter '{name}' is invalid"),
                )
            })?
        };
        if !values.iter().any(|v| have.iter().any(|h| glob(v, h))) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_filters_and_globs() {
        let p: Params = [
            ("InstanceId.2", "b"),
            ("InstanceId.1", "a"),
            ("InstanceId.10", "c"),
            ("Filter.1.Name", "tag:role"),
            ("Filter.1.Value.1", "web"),
            ("Filter.1.Value.2", "db"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(list(&p, "InstanceId"), ["a", "b", "c"]);
        assert_eq!(
            filters(&p),
            vec![(
                "tag:role".to_string(),
                vec!["web".to_string(), "db".to_string()]
            )]
        );
        assert!(glob("chaosduck:*", "chaosduck:x"));
        assert!(!glob("a?c", "ac"));
    }

    #[test]
    fn globs_match_like_ec2_and_take_linear_time() {
        for (p, s, m) in [
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("?", "한", true),
            ("*web*", "shop-web-1", true),
            ("i-*", "i-0123", true),
            ("**a**", "bab", true),
            ("a?c*", "abcdef", true),
        ] {
            assert_eq!(glob(p, s), m, "glob({p:?}, {s:?})");
        }
        // Found by tests/fuzz_sandbox.rs: `Filter.1.Value.1=*****...x` hung the sandbox (the
        // recursive matcher took exponential time while holding the account lock).
        let start = std::time::Instant::now();
        let stars = format!("{}x", "*".repeat(255));
        assert!(!glob(&stars, &"a".repeat(1024)));
        assert!(!glob(&format!("{}b", "*a".repeat(127)), &"a".repeat(1000)));
        assert!(glob(&"*a".repeat(128), &"a".repeat(1000)));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
