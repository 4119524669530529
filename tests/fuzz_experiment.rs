//! Fuzz target: the experiment parser/validator (`chaosduck::domain::parse_experiment`).
//!
//! Inputs: arbitrary bytes (as UTF-8, lossily), YAML-token soup, and structure-aware mutations
//! of every file in `experiments/` (fields deleted, types swapped, huge and negative numbers,
//! unicode, deep nesting, anchor/alias bombs, lines cut, moved or re-indented). Property: the
//! parser returns `Ok` or diagnostics that each carry a line and column inside the file and a
//! message, never panics, and answers within a time limit; an accepted document written back
//! as YAML is accepted again (what `ai::vet` relies on).
//!
//! CI runs a few hundred cases per test. The campaign (see `fuzz/README.md`):
//!
//! ```sh
//! PROPTEST_CASES=200000 cargo test --release --test fuzz_experiment -- --nocapture
//! ```

mod fuzz_common;

use chaosduck::domain::parse_experiment;
use fuzz_common::{run, within};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_norway::{Mapping, Value};
use std::sync::LazyLock;
use std::time::Duration;

/// Generous for a debug build on a busy 2-core machine; a real hang never ends.
const LIMIT: Duration = Duration::from_secs(10);

/// The example files, read once: (name, text, parsed tree).
static EXAMPLES: LazyLock<Vec<(String, String, Value)>> = LazyLock::new(|| {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("experiments/") {
        let p = e.expect("dir entry").path();
        if p.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("example text");
        let v: Value = serde_norway::from_str(&text).expect("example is YAML");
        out.push((p.display().to_string(), text, v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 11, "the examples are the seed corpus");
    out
});

/// Checks what the parser promised, on its own thread under the time limit.
fn check(text: String) -> Result<(), TestCaseError> {
    let len = text.len();
    let outcome = within(LIMIT, move || {
        let first = parse_experiment("fuzz.yaml", &text);
        // Lines the file has, counting every YAML line break.
        let lines = text.matches('\n').count() + text.matches('\r').count() + 1;
        let again = match &first {
            Ok(doc) => Some(
                serde_norway::to_string(doc)
                    .map_err(|e| e.to_string())
                    .map(|y| (parse_experiment("again.yaml", &y), y)),
            ),
            Err(_) => None,
        };
        (first, lines, again)
    })?;
    let (first, lines, again) = outcome;
    match first {
        Ok(_) => match again {
            Some(Ok((Ok(_), _))) => {}
            Some(Ok((Err(d), y))) => {
                return Err(TestCaseError::fail(format!(
                    "an accepted document written back is refused: {d:?}\n{y}"
                )));
            }
            Some(Err(e)) => {
                return Err(TestCaseError::fail(format!(
                    "an accepted document cannot be written back: {e}"
                )));
            }
            None => unreachable!("Ok always has a re-parse"),
        },
        Err(diags) => {
            prop_assert!(!diags.is_empty(), "Err without diagnostics ({len} bytes)");
            for d in &diags {
                prop_assert_eq!(&d.file, "fuzz.yaml");
                prop_assert!(
                    d.line >= 1 && d.line <= lines,
                    "line {} outside 1..={lines}: {d}",
                    d.line
                );
                prop_assert!(d.column >= 1, "column 0: {d}");
                prop_assert!(!d.message.trim().is_empty(), "empty message: {d:?}");
            }
        }
    }
    Ok(())
}

// ---- generators ------------------------------------------------------------------------------

/// Pieces of YAML and of experiment vocabulary, to build token soup from.
const TOKENS: &[&str] = &[
    "apiVersion: chaosduck.io/v1\n",
    "kind: Experiment\n",
    "metadata:\n",
    "  name: x\n",
    "spec:\n",
    "  fault:\n",
    "    type: pod_delete\n",
    "    type: network_latency\n",
    "    latency: 200ms\n",
    "  target:\n",
    "    pods:\n",
    "      namespace: shop\n",
    "      selector: app=web\n",
    "  duration: 30s\n",
    "  probes:\n",
    "    - name: p\n",
    "      http: {url: 'http://127.0.0.1:1/'}\n",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\t",
    "- ",
    "? ",
    ": ",
    ":",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!binary ",
    "!custom ",
    "|\n",
    ">-\n",
    "'",
    "\"",
    "\\",
    "# c\n",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "%TAG ! tag:x,2000:\n",
    "~",
    "null",
    ".inf",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "1e999",
    "-1",
    "18446744073709551616",
    "99999999999999999999h",
    "101%",
    "-5%",
    "NaN%",
    "\u{FEFF}",
    "\u{202E}",
    "\u{0}",
    "한국어",
    "💥",
    "spec",
    "fault",
    "type",
    "count",
    "blastRadius",
    "timeout",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|v| v.concat())
}

/// Values that are wrong somewhere: every type, extremes, unicode, the empty things.
fn nasty_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            i64::MIN,
            i64::MAX,
            i64::from(u32::MAX) + 1
        ])
        .prop_map(|n| Value::Number(n.into())),
        Just(Value::Number(u64::MAX.into())),
        prop::sample::select(vec![
            1e308,
            -1e308,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e-300,
            0.5
        ])
        .prop_map(|f| Value::Number(f.into())),
        prop::sample::select(vec![
            "",
            " ",
            "0s",
            "-1s",
            "0ms",
            "1ns",
            "99999999999999999999h",
            "18446744073709551615s",
            "584942417355y",
            "1.5.5s",
            "100%",
            "101%",
            "-5%",
            "1e309%",
            "NaN%",
            "0%",
            "1e99",
            "-0",
            "0x10",
            "1Ei",
            "99999999999Gi",
            "-1Mi",
            "*",
            "?",
            "kube-*",
            "[",
            "a=b,c!=d,e in (f,g),!h",
            "app in (a,b",
            "=,=,=",
            "a\u{0}b",
            "\u{202E}gnp.exe",
            "한국어 네임스페이스",
            "결제-서비스",
            "💥🦆",
            "http://",
            "http://[::1",
            "tcp://127.0.0.1:99999",
            "$(rm -rf /)",
            "Deployment",
            "pod_delete",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        "[\\PC]{0,40}".prop_map(Value::String),
        (1usize..20_000).prop_map(|n| Value::String("a".repeat(n))),
        Just(Value::Sequence(Vec::new())),
        Just(Value::Mapping(Mapping::new())),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_map(|n| Value::Number(n.into())),
    ]
}

/// One change to a parsed example; `at` picks the node (modulo the number of nodes).
#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: usize },
    Replace { at: usize, with: Value },
    WrapInSequence { at: usize },
    WrapInMapping { at: usize, key: String },
    AddKey { at: usize, key: String, with: Value },
    Nest { at: usize, depth: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "type",
            "fault",
            "target",
            "pods",
            "namespace",
            "selector",
            "count",
            "duration",
            "probes",
            "safety",
            "timeout",
            "blastRadius",
            "confirmNamespace",
            "latency",
            "jitter",
            "loss",
            "workers",
            "size",
            "ai",
            "<<",
            "",
            "키",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z가-힣]{1,12}",
    ];
    prop_oneof![
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        (any::<usize>(), nasty_value()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        any::<usize>().prop_map(|at| Mutation::WrapInSequence { at }),
        (any::<usize>(), key.clone()).prop_map(|(at, key)| Mutation::WrapInMapping { at, key }),
        (any::<usize>(), key, nasty_value()).prop_map(|(at, key, with)| Mutation::AddKey {
            at,
            key,
            with
        }),
        (any::<usize>(), 1usize..200).prop_map(|(at, depth)| Mutation::Nest { at, depth }),
    ]
}

/// Number of nodes in a tree (pre-order).
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Sequence(s) => s.iter().map(count).sum(),
        Value::Mapping(m) => m.values().map(count).sum(),
        Value::Tagged(t) => count(&t.value),
        _ => 0,
    }
}

/// The node at pre-order index `i`.
fn node_mut<'a>(v: &'a mut Value, i: &mut usize) -> Option<&'a mut Value> {
    if *i == 0 {
        return Some(v);
    }
    *i -= 1;
    match v {
        Value::Sequence(s) => s.iter_mut().find_map(|c| node_mut(c, i)),
        Value::Mapping(m) => m.values_mut().find_map(|c| node_mut(c, i)),
        Value::Tagged(t) => node_mut(&mut t.value, i),
        _ => None,
    }
}

/// Deletes the node at pre-order index `i` (not the root) from its parent.
fn delete(v: &mut Value, i: &mut usize) -> bool {
    match v {
        Value::Sequence(s) => {
            for k in 0..s.len() {
                if *i == 0 {
                    s.remove(k);
                    return true;
                }
                *i -= 1;
                if delete(&mut s[k], i) {
                    return true;
                }
            }
            false
        }
        Value::Mapping(m) => {
            let keys: Vec<Value> = m.keys().cloned().collect();
            for k in keys {
                if *i == 0 {
                    m.remove(&k);
                    return true;
                }
                *i -= 1;
                if let Some(c) = m.get_mut(&k)
                    && delete(c, i)
                {
                    return true;
                }
            }
            false
        }
        Value::Tagged(t) => delete(&mut t.value, i),
        _ => false,
    }
}

fn apply(tree: &mut Value, m: &Mutation) {
    let n = count(tree);
    let pick = |at: usize| at % n;
    let with_node = |tree: &mut Value, at: usize, f: &dyn Fn(&mut Value)| {
        let mut i = pick(at);
        if let Some(node) = node_mut(tree, &mut i) {
            f(node);
        }
    };
    match m {
        Mutation::Delete { at } => {
            let mut i = pick(*at).saturating_sub(1);
            delete(tree, &mut i);
        }
        Mutation::Replace { at, with } => with_node(tree, *at, &|v| *v = with.clone()),
        Mutation::WrapInSequence { at } => with_node(tree, *at, &|v| {
            let old = std::mem::take(v);
            *v = Value::Sequence(vec![old]);
        }),
        Mutation::WrapInMapping { at, key } => with_node(tree, *at, &|v| {
            let old = std::mem::take(v);
            let mut m = Mapping::new();
            m.insert(Value::String(key.clone()), old);
            *v = Value::Mapping(m);
        }),
        Mutation::AddKey { at, key, with } => with_node(tree, *at, &|v| {
            if let Value::Mapping(m) = v {
                m.insert(Value::String(key.clone()), with.clone());
            }
        }),
        Mutation::Nest { at, depth } => with_node(tree, *at, &|v| {
            let mut old = std::mem::take(v);
            for _ in 0..*depth {
                old = Value::Sequence(vec![old]);
            }
            *v = old;
        }),
    }
}

fn mutated_example() -> impl Strategy<Value = String> {
    (
        any::<prop::sample::Index>(),
        prop::collection::vec(mutation(), 1..5),
    )
        .prop_map(|(which, muts)| {
            let (_, _, tree) = &EXAMPLES[which.index(EXAMPLES.len())];
            let mut tree = tree.clone();
            for m in &muts {
                apply(&mut tree, m);
            }
            serde_norway::to_string(&tree).unwrap_or_default()
        })
}

/// Line-level and byte-level edits of an example's text.
#[derive(Clone, Debug)]
enum TextEdit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, usize),
    Dedent(usize),
    Insert(usize, &'static str),
    Truncate(usize),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        any::<usize>().prop_map(TextEdit::DeleteLine),
        any::<usize>().prop_map(TextEdit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| TextEdit::SwapLines(a, b)),
        (any::<usize>(), 1usize..9).prop_map(|(a, n)| TextEdit::Indent(a, n)),
        any::<usize>().prop_map(TextEdit::Dedent),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(a, t)| TextEdit::Insert(a, t)),
        any::<usize>().prop_map(TextEdit::Truncate),
    ]
}

fn edit(text: &str, e: &TextEdit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match e {
        TextEdit::DeleteLine(i) => {
            lines.remove(i % n);
        }
        TextEdit::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        TextEdit::SwapLines(a, b) => lines.swap(a % n, b % n),
        TextEdit::Indent(i, k) => lines[i % n].insert_str(0, &" ".repeat(*k)),
        TextEdit::Dedent(i) => {
            let l = &mut lines[i % n];
            *l = l.trim_start().to_string();
        }
        TextEdit::Insert(at, tok) => {
            let mut s = lines.join("\n");
            let mut p = at % (s.len() + 1);
            while !s.is_char_boundary(p) {
                p -= 1;
            }
            s.insert_str(p, tok);
            return s;
        }
        TextEdit::Truncate(at) => {
            let mut s = lines.join("\n");
            let mut p = at % (s.len() + 1);
            while !s.is_char_boundary(p) {
                p -= 1;
            }
            s.truncate(p);
            return s;
        }
    }
    lines.join("\n") + "\n"
}

fn edited_example() -> impl Strategy<Value = String> {
    (
        any::<prop::sample::Index>(),
        prop::collection::vec(text_edit(), 1..6),
    )
        .prop_map(|(which, edits)| {
            let mut text = EXAMPLES[which.index(EXAMPLES.len())].1.clone();
            for e in &edits {
                text = edit(&text, e);
            }
            text
        })
}

/// Resource bombs: alias expansion, deep nesting in every style, very many keys.
#[derive(Clone, Debug)]
enum Bomb {
    Laughs { levels: usize, width: usize },
    FlowNesting { depth: usize, open: &'static str },
    BlockNesting { depth: usize },
    ManyKeys { n: usize },
    MergeChain { n: usize },
    SelfAlias,
}

fn bomb() -> impl Strategy<Value = Bomb> {
    prop_oneof![
        (1usize..12, 1usize..12).prop_map(|(levels, width)| Bomb::Laughs { levels, width }),
        (
            1usize..50_000,
            prop::sample::select(vec!["[", "{a: ", "{", "- ["])
        )
            .prop_map(|(depth, open)| Bomb::FlowNesting { depth, open }),
        (1usize..3_000).prop_map(|depth| Bomb::BlockNesting { depth }),
        (1usize..20_000).prop_map(|n| Bomb::ManyKeys { n }),
        (1usize..500).prop_map(|n| Bomb::MergeChain { n }),
        Just(Bomb::SelfAlias),
    ]
}

fn bomb_text(b: &Bomb) -> String {
    match b {
        Bomb::Laughs { levels, width } => {
            let mut s = String::from("a0: &a0 [\"lol\"]\n");
            for l in 1..=*levels {
                let refs = vec![format!("*a{}", l - 1); *width].join(", ");
                s.push_str(&format!("a{l}: &a{l} [{refs}]\n"));
            }
            // Put the biggest one where the parser must read it.
            s.push_str(&format!(
                "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata: {{name: x}}\nspec:\n  fault: {{type: pod_delete}}\n  target: {{pods: {{namespace: shop, selector: app=web}}}}\n  hypothesis: *a{levels}\n"
            ));
            s
        }
        Bomb::FlowNesting { depth, open } => {
            let close = match *open {
                "[" | "- [" => "]",
                _ => "}",
            };
            format!("spec: {}1{}\n", open.repeat(*depth), close.repeat(*depth))
        }
        Bomb::BlockNesting { depth } => {
            let mut s = String::new();
            for d in 0..*depth {
                s.push_str(&" ".repeat(d));
                s.push_str("k:\n");
            }
            s
        }
        Bomb::ManyKeys { n } => {
            let mut s = String::from("apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata:\n");
            for i in 0..*n {
                s.push_str(&format!("  k{i}: v\n"));
            }
            s
        }
        Bomb::MergeChain { n } => {
            let mut s = String::from("m0: &m0 {a: 1}\n");
            for i in 1..=*n {
                s.push_str(&format!("m{i}: &m{i} {{<<: *m{}, b{i}: 1}}\n", i - 1));
            }
            s.push_str(&format!("spec: *m{n}\n"));
            s
        }
        Bomb::SelfAlias => "a: &a\n  b: *a\nspec: *a\n".into(),
    }
}

// ---- targets ---------------------------------------------------------------------------------

#[test]
fn fuzz_experiment_arbitrary_bytes() {
    run(
        "fuzz_experiment_arbitrary_bytes",
        1000,
        prop::collection::vec(any::<u8>(), 0..2048),
        |bytes| check(String::from_utf8_lossy(&bytes).into_owned()),
    );
}

#[test]
fn fuzz_experiment_arbitrary_unicode() {
    run(
        "fuzz_experiment_arbitrary_unicode",
        1000,
        any::<String>(),
        check,
    );
}

#[test]
fn fuzz_experiment_token_soup() {
    run("fuzz_experiment_token_soup", 1000, token_soup(), check);
}

#[test]
fn fuzz_experiment_mutated_examples() {
    run(
        "fuzz_experiment_mutated_examples",
        1000,
        mutated_example(),
        check,
    );
}

#[test]
fn fuzz_experiment_edited_examples() {
    run(
        "fuzz_experiment_edited_examples",
        1000,
        edited_example(),
        check,
    );
}

#[test]
fn fuzz_experiment_bombs() {
    run("fuzz_experiment_bombs", 64, bomb(), |b| {
        check(bomb_text(&b))
    });
}

/// The seed corpus itself must pass, or the mutations start from nothing.
#[test]
fn every_example_parses_and_round_trips() {
    for (name, text, _) in EXAMPLES.iter() {
        assert!(
            parse_experiment(name, text).is_ok(),
            "{name} no longer validates"
        );
        check(text.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
