//! Redaction of secret-like strings before anything is sent to a model, logged or stored.

use regex::Regex;
use std::sync::LazyLock;

static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Private key blocks.
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        // Provider API keys (Anthropic, OpenAI and alike).
        r"\bsk-[A-Za-z0-9_\-]{16,}",
        // AWS access key ids and session-token-looking blobs.
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        // JWTs.
        r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        // GitHub/GitLab/Slack tokens.
        r"\b(?:ghp|gho|ghs|glpat|xox[abpr])-?[A-Za-z0-9_\-]{16,}",
        // Authorization headers.
        r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=\-]{12,}",
        // key=value / key: value where the key says secret.
        r#"(?i)\b([A-Za-z0-9_\-]*(?:password|passwd|secret|token|api[_\-]?key|access[_\-]?key|credential)s?)\s*[=:]\s*"?[^\s",;}]{3,}"?"#,
        // Long hex or base64 blobs.
        r"\b[A-Fa-f0-9]{40,}\b",
        r"\b[A-Za-z0-9+/]{48,}={0,2}",
    ]
    .iter()
    .map(|p| Regex::new(p).unwrap_or_else(|e| panic!("built-in regex {p:?}: {e}")))
    .collect()
});

/// Replaces secret-like substrings with `[REDACTED]`; `key=value` forms keep their key.
pub fn redact(s: &str) -> String {
    let mut out = s.to_string();
    for (i, r) in PATTERNS.iter().enumerate() {
        if !r.is_match(&out) {
            continue;
        }
        out = if i == 6 {
            r.replace_all(&out, "$1=[REDACTED]").into_owned()
        } else {
            r.replace_all(&out, "[REDACTED]").into_owned()
        };
    }
    out
}

/// [`redact`], and also every occurrence of the given exact secrets (such as the API key).
pub fn redact_with(s: &str, secrets: &[&str]) -> String {
    let mut out = s.to_string();
    for k in secrets.iter().filter(|k| k.len() >= 4) {
        out = out.replace(*k, "[REDACTED]");
    }
    redact(&out)
}

/// Redacts every string inside a JSON value.
pub fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => *s = redact(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_json),
        serde_json::Value::Object(o) => o.values_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_ordinary_text_is_not() {
        let s = redact(
            "DB_PASSWORD=hunter22 key sk-ant-api03-abcdefghijklmnopqrstuv AKIAABCDEFGHIJKLMNOP Authorization: Bearer abcdefghijklmnop1234",
        );
        assert!(!s.contains("hunter22"), "{s}");
        assert!(!s.contains("sk-ant"), "{s}");
        assert!(!s.contains("AKIAABCD"), "{s}");
        assert!(!s.contains("abcdefghijklmnop1234"), "{s}");
        assert!(s.contains("DB_PASSWORD=[REDACTED]"), "{s}");
        assert_eq!(
            redact("probe checkout failed 3 of 10 samples"),
            "probe checkout failed 3 of 10 samples"
        );
    }
}
