//! Fuzz target: the files and strings an operator writes by hand besides experiments. Theme
//! files (`Theme::parse`, every colour tier), the config file (`Config::parse`, then what the
//! program computes from it: key overrides, rollback backoff, blast radius, the AI engine
//! choice), key overrides (`Keymap::with_overrides`, `KeyChord::parse`) and colours.
//!
//! Inputs: arbitrary text, TOML token soup, and structure-aware mutations of `themes/*.toml`
//! and of the README's full config example (keys deleted, types swapped, huge numbers,
//! unicode). Property: `Ok` or an error that names the file, never a panic, within a time
//! limit; the emergency-stop key can never be rebound.
//!
//! The campaign (see `fuzz/README.md`):
//!
//! ```sh
//! PROPTEST_CASES=200000 cargo test --release --test fuzz_config -- --nocapture
//! ```

mod fuzz_common;

use chaosduck::config::Config;
use chaosduck::tui::keymap::{EMERGENCY, KeyChord, Keymap};
use chaosduck::tui::theme::{Theme, Tier, parse_color};
use fuzz_common::{run, within};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;
use toml::Value;

const LIMIT: Duration = Duration::from_secs(10);

const TIERS: [Tier; 3] = [Tier::TrueColor, Tier::Ansi256, Tier::Ansi16];

/// The built-in themes, read once.
static THEMES: LazyLock<Vec<(String, Value)>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
    let mut v: Vec<(String, Value)> = std::fs::read_dir(dir)
        .expect("themes/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("theme text");
            (text.clone(), toml::from_str(&text).expect("theme is TOML"))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() >= 5, "the built-in themes are the seed corpus");
    v
});

/// Every key the config knows, with values of the right type.
const FULL_CONFIG: &str = r#"
[guardrails]
protected_namespaces = ["kube-system", "kube-public", "kube-node-lease", "prod*", "*-prod"]
default_blast_radius = "50%"
max_active_faults = 50
max_timeout = "1h"

[aws]
required_tags = { "chaos-allowed" = "true" }
allowed_regions = ["eu-west-1"]
allowed_accounts = ["123456789012"]

[rollback]
max_attempts = 5
initial_backoff = "200ms"
max_backoff = "5s"

[kubernetes]
network_injector_image = "docker.io/nicolaka/netshoot:v0.13"
stress_injector_image = "ghcr.io/colinianking/stress-ng:latest"
recovery_timeout = "5m"

[ai]
provider = "anthropic"
model = "claude-sonnet-4-5"
base_url = "https://api.anthropic.com"
key_file = "/run/secrets/anthropic"
timeout = "120s"
max_attempts = 4
max_tokens = 4096

[dashboard]
theme = "dark"
read_only = false
read_only_contexts = ["prod-*"]
mouse = false

[keys]
rollback = "x"
up = ["up", "k"]
"#;

static CONFIG: LazyLock<Value> =
    LazyLock::new(|| toml::from_str(FULL_CONFIG).expect("the config example is TOML"));

fn toml_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Boolean),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            255,
            256,
            i64::MIN,
            i64::MAX,
            u32::MAX as i64 + 1
        ])
        .prop_map(Value::Integer),
        any::<i64>().prop_map(Value::Integer),
        prop::sample::select(vec![f64::NAN, f64::INFINITY, -0.0, 1e308, 0.5])
            .prop_map(Value::Float),
        prop::sample::select(vec![
            "",
            "#",
            "#fff",
            "#gggggg",
            "#ffffff",
            "#-fffff",
            "#+fffff",
            "#ｆｆｆｆｆｆ",
            "256",
            "-1",
            "0",
            "red",
            "Light-Red",
            "dark grey",
            "reset",
            "ctrl-g",
            "ctrl-",
            "ctrl-ctrl-",
            "alt-shift-x",
            "shift-tab",
            "f0",
            "f25",
            "f99999999999",
            "F12",
            "esc",
            "ctrl-c",
            "space",
            "한",
            "💥",
            "0s",
            "-1s",
            "99999999999999999999h",
            "0%",
            "101%",
            "1e309%",
            "[",
            "**",
            "{a,b",
            "http://",
            "ftp://x",
            "offline",
            "openai",
            "anthropic",
            "dark",
            "../../etc/passwd",
            "\u{0}",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        "[\\PC]{0,20}".prop_map(Value::String),
    ]
}

fn toml_value() -> impl Strategy<Value = Value> {
    toml_leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Table(m.into_iter().collect())),
        ]
    })
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Table(t) => t.values().map(count).sum(),
        _ => 0,
    }
}

fn node_mut<'a>(v: &'a mut Value, i: &mut usize) -> Option<&'a mut Value> {
    if *i == 0 {
        return Some(v);
    }
    *i -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|c| node_mut(c, i)),
        Value::Table(t) => t.iter_mut().find_map(|(_, c)| node_mut(c, i)),
        _ => None,
    }
}

/// A TOML document with some values replaced, keys removed or added, or arrays made of scalars.
fn mutate(template: Value) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<usize>(), 0u8..4, toml_value()), 1..5).prop_map(move |muts| {
        let mut v = template.clone();
        for (at, op, with) in muts {
            let n = count(&v);
            // Index 0 is the root table: keep it a table.
            let mut i = 1 + at % (n - 1).max(1);
            let Some(node) = node_mut(&mut v, &mut i) else {
                continue;
            };
            match op {
                0 => *node = with,
                1 => *node = Value::Array(vec![node.clone()]),
                2 => {
                    if let Value::Table(t) = node
                        && let Some(k) = t.keys().nth(at % t.len().max(1)).cloned()
                    {
                        t.remove(&k);
                    }
                }
                _ => {
                    if let Value::Table(t) = node {
                        t.insert(format!("k{}", at % 5), with);
                    }
                }
            }
        }
        toml::to_string(&v).unwrap_or_default()
    })
}

const TOML_TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "\n",
    " ",
    ".",
    ",",
    "{",
    "}",
    "#",
    "name",
    "mono",
    "colors",
    "text",
    "phase",
    "probe",
    "guardrails",
    "keys",
    "ai",
    "rollback",
    "dashboard",
    "max_attempts",
    "\"#ff0000\"",
    "\"red\"",
    "true",
    "0",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "+1",
    "0x10",
    "1_000",
    "\\u0000",
    "\u{FEFF}",
    "한",
];

fn toml_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOML_TOKENS), 0..60).prop_map(|v| v.concat())
}

// ---- themes ----------------------------------------------------------------------------------

fn check_theme(text: String) -> Result<(), TestCaseError> {
    let results = within(LIMIT, move || {
        TIERS
            .iter()
            .map(|t| Theme::parse("fuzz.toml", &text, *t).map_err(|e| e.to_string()))
            .collect::<Vec<_>>()
    })?;
    for r in results {
        if let Err(e) = r {
            prop_assert!(
                e.contains("fuzz.toml"),
                "the error does not name the file: {e}"
            );
        }
    }
    Ok(())
}

#[test]
fn fuzz_config_theme_text() {
    run(
        "fuzz_config_theme_text",
        1000,
        prop_oneof![any::<String>(), toml_soup()],
        check_theme,
    );
}

#[test]
fn fuzz_config_theme_mutations() {
    run(
        "fuzz_config_theme_mutations",
        1000,
        (any::<prop::sample::Index>(), any::<u64>()).prop_flat_map(|(i, _)| {
            let (_, tree) = &THEMES[i.index(THEMES.len())];
            mutate(tree.clone())
        }),
        check_theme,
    );
}

#[test]
fn fuzz_config_colors() {
    run("fuzz_config_colors", 2000, any::<String>(), |s| {
        // A colour is either refused or shown in every tier.
        within(LIMIT, move || {
            if let Some(c) = parse_color(&s) {
                for t in TIERS {
                    let _ = chaosduck::tui::theme::downgrade(c, t);
                }
            }
        })
    });
}

// ---- the config file -------------------------------------------------------------------------

fn check_config(text: String) -> Result<(), TestCaseError> {
    let r = within(LIMIT, move || {
        let parsed = Config::parse(Path::new("fuzz-config.toml"), &text);
        let derived = parsed.as_ref().ok().map(|cfg| {
            // What the program computes from a config it accepted.
            let over: BTreeMap<String, Vec<String>> = cfg
                .keys
                .iter()
                .map(|(k, v)| (k.clone(), v.keys()))
                .collect();
            let (km, errors) = Keymap::with_overrides(&over);
            let backoffs: Vec<Duration> = (0..40).map(|n| cfg.rollback.backoff(n)).collect();
            let radius =
                [0usize, 1, 7, usize::MAX].map(|n| cfg.guardrails.default_blast_radius.of(n));
            let engine =
                chaosduck::ai::assistant::select_with(&cfg.ai, false, &|_| None).map(|e| e.label());
            let theme = cfg
                .dashboard
                .theme
                .as_deref()
                .map(|name| Theme::startup(name, None, Tier::Ansi256, false).1);
            (
                km.action(&EMERGENCY),
                errors,
                backoffs,
                radius,
                engine,
                theme,
                cfg.rollback.max_backoff.get(),
            )
        });
        (parsed.map(|_| ()).map_err(|e| e.to_string()), derived)
    })?;
    match r {
        (Err(e), _) => prop_assert!(
            e.contains("fuzz-config.toml"),
            "the error does not name the file: {e}"
        ),
        (Ok(()), Some((emergency, _errors, backoffs, radius, _engine, _theme, max))) => {
            prop_assert!(
                emergency.is_none(),
                "a config bound the emergency stop to {emergency:?}"
            );
            for b in backoffs {
                prop_assert!(b <= max, "a backoff above max_backoff");
            }
            prop_assert!(
                radius[0] == 0 && radius[2] <= 7,
                "a blast radius above the set: {radius:?}"
            );
        }
        (Ok(()), None) => unreachable!(),
    }
    Ok(())
}

#[test]
fn fuzz_config_file_text() {
    run(
        "fuzz_config_file_text",
        1000,
        prop_oneof![any::<String>(), toml_soup()],
        check_config,
    );
}

#[test]
fn fuzz_config_file_mutations() {
    run(
        "fuzz_config_file_mutations",
        1000,
        mutate(CONFIG.clone()),
        check_config,
    );
}

// ---- keys ------------------------------------------------------------------------------------

fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "ctrl-", "ctrl+", "alt-", "shift-", "CTRL-", "g", "G", "f", "1", "24", "25", "0",
                "tab", "backtab", "enter", "esc", "pgdn", "space", "-", "+", "é", "한", "ß", " ",
            ]),
            0..6
        )
        .prop_map(|v| v.concat()),
    ]
}

#[test]
fn fuzz_config_key_chords() {
    run("fuzz_config_key_chords", 2000, key_text(), |s| {
        let r = within(LIMIT, move || {
            KeyChord::parse(&s).map(|k| (k, k.to_string()))
        })?;
        if let Ok((k, shown)) = r {
            prop_assert!(!shown.is_empty());
            // What the help shows for a key reads back as the same key.
            if let Ok(again) = KeyChord::parse(
                &shown
                    .replace('↑', "up")
                    .replace('↓', "down")
                    .replace('←', "left")
                    .replace('→', "right"),
            ) {
                prop_assert_eq!(again, k, "{} reads back differently", shown);
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_config_key_overrides() {
    let names = prop_oneof![
        prop::sample::select(vec![
            "rollback",
            "up",
            "down",
            "quit",
            "help",
            "emergency_stop",
            "analyze",
            "new",
            "",
            "pane_topology",
        ])
        .prop_map(str::to_string),
        "[\\PC]{0,12}",
    ];
    run(
        "fuzz_config_key_overrides",
        1000,
        prop::collection::btree_map(names, prop::collection::vec(key_text(), 0..4), 0..8),
        |over| {
            let r = within(LIMIT, move || {
                let (km, errors) = Keymap::with_overrides(&over);
                (km.action(&EMERGENCY), km.help().len(), errors)
            })?;
            prop_assert!(r.0.is_none(), "the emergency stop was rebound");
            prop_assert!(r.1 > 1, "the help lost its lines");
            Ok(())
        },
    );
}
