//! JSON generators shared by the fuzz targets: arbitrary values with the strings that matter
//! here, and structure-aware mutations of a template (nodes replaced, wrapped, removed, added).

use proptest::prelude::*;
use serde_json::{Value, json};

/// Scalars: every JSON type, extremes, and the strings the parsers look for.
pub fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(u64::MAX)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "pod_delete",
            "network_latency",
            "SEV1",
            "SEV9",
            "high",
            "shop",
            "kube-system",
            "app=web",
            "200ms",
            "-1s",
            "101%",
            "NaN",
            "message_stop",
            "tool_use",
            "text_delta",
            "input_json_delta",
            "[DONE]",
            "한국어",
            "💥",
            "\u{0}",
            "\u{202E}",
        ])
        .prop_map(|s| json!(s)),
        "[\\PC]{0,24}".prop_map(Value::String),
    ]
}

/// Arbitrary JSON up to a few levels deep.
pub fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Number of nodes (pre-order).
pub fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The node at pre-order index `i`.
pub fn node_mut<'a>(v: &'a mut Value, i: &mut usize) -> Option<&'a mut Value> {
    if *i == 0 {
        return Some(v);
    }
    *i -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|c| node_mut(c, i)),
        Value::Object(o) => o.values_mut().find_map(|c| node_mut(c, i)),
        _ => None,
    }
}

/// A template with some of its nodes replaced, removed or wrapped.
pub fn mutate(template: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec((any::<usize>(), 0u8..4, json_value()), 0..4).prop_map(move |muts| {
        let mut v = template.clone();
        for (at, op, with) in muts {
            let n = count(&v);
            let mut i = at % n;
            let Some(node) = node_mut(&mut v, &mut i) else {
                continue;
            };
            match op {
                0 => *node = with,
                1 => *node = Value::Array(vec![node.take()]),
                2 => {
                    if let Value::Object(o) = node
                        && let Some(k) = o.keys().nth(at % o.len().max(1)).cloned()
                    {
                        o.remove(&k);
                    }
                }
                _ => {
                    if let Value::Object(o) = node {
                        o.insert(format!("k{}", at % 7), with);
                    }
                }
            }
        }
        v
    })
}
