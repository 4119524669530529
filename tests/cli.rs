//! The headless commands a script relies on: show, export, list, completions, config errors.

mod common;
use common::{Home, WEB, code, text};

#[test]
fn show_and_export_describe_a_finished_run() {
    let h = Home::new();
    h.write_world(1);
    let f = h.experiment(
        "shown",
        &format!(
            "{WEB}  duration: 100ms\n  safety: {{blastRadius: 1}}\n  hypothesis: web survives\n"
        ),
    );
    let o = h.run(&["run", "-o", "json", f.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    let prefix = &id[..10];

    let o = h.run(&["show", prefix]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("# Experiment shown") && t.contains("reverted") && t.contains("entered OBSERVE"),
        "{t}"
    );

    let o = h.run(&["export", prefix, "--format", "markdown"]);
    assert!(text(&o).contains("hypothesis text: web survives"));
    let o = h.run(&["export", &id, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["document"]["metadata"]["name"], "shown");
    assert_eq!(v["journal"][0]["state"], "reverted");
    assert!(
        v["events"].as_array().unwrap().len() >= 5,
        "one event per phase at least"
    );

    let o = h.run(&["show", "ffffffff"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("chaosduck list"), "{}", text(&o));
}

#[test]
fn a_bad_config_key_is_named_with_the_file() {
    let h = Home::new();
    let cfg = h.path().join("bad.toml");
    std::fs::write(&cfg, "[guardrails]\nprotected_namespace = [\"x\"]\n").unwrap();
    let o = h.run(&["--config", cfg.to_str().unwrap(), "list"]);
    assert_eq!(code(&o), 2);
    let t = text(&o);
    assert!(
        t.contains("bad.toml") && t.contains("protected_namespace"),
        "{t}"
    );
}

#[test]
fn completions_are_generated_for_bash() {
    let h = Home::new();
    let o = h.run(&["completions", "bash"]);
    assert_eq!(code(&o), 0);
    let t = text(&o);
    assert!(t.contains("chaosduck") && t.contains("dry-run") && t.contains("--confirm-namespace"));
}

#[test]
fn list_shows_runs_newest_first() {
    let h = Home::new();
    h.write_world(1);
    for n in ["first", "second"] {
        let f = h.experiment(
            n,
            &format!("{WEB}  duration: 50ms\n  safety: {{blastRadius: 1}}\n"),
        );
        h.run(&["run", f.to_str().unwrap()]);
    }
    let o = h.run(&["list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["second", "first"]);
}
