//! Experiment files: every example validates; each broken file gets its own clear error at the
//! right line; the schema is generated from the types.

mod common;
use common::{Home, code, text};

#[test]
fn every_example_in_experiments_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 11,
        "one example per fault kind, found {}",
        files.len()
    );
    let h = Home::new();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let o = h.run(&args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for k in chaosduck::domain::FaultKind::ALL {
        assert!(
            text(&o).contains(&format!(", {k})")),
            "no example for {k}:\n{}",
            text(&o)
        );
    }
}

/// (file, expected line, expected field path, words the message must contain)
const BROKEN: &[(&str, usize, &str, &str)] = &[
    ("bad-yaml.yaml", 9, "", "YAML syntax error"),
    (
        "unknown-field.yaml",
        9,
        "spec.fault.latncy",
        "unknown field `latncy`",
    ),
    (
        "wrong-type.yaml",
        8,
        "spec.fault.workers",
        "invalid type: string \"many\"",
    ),
    (
        "negative-duration.yaml",
        12,
        "spec.duration",
        "negative duration",
    ),
    (
        "empty-selector.yaml",
        10,
        "spec.target.pods",
        "selects every pod",
    ),
    (
        "zero-blast-radius.yaml",
        14,
        "spec.safety.blastRadius",
        "blast radius of 0",
    ),
    (
        "unknown-fault.yaml",
        7,
        "spec.fault.type",
        "unknown variant `pod_explode`",
    ),
];

#[test]
fn each_broken_file_gets_its_own_error_at_the_right_line() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let h = Home::new();
    for (file, line, path, words) in BROKEN {
        let f = dir.join(file);
        let o = h.run(&["validate", f.to_str().unwrap()]);
        assert_eq!(code(&o), 2, "{file} must be refused: {}", text(&o));
        let first = String::from_utf8_lossy(&o.stderr)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let expect_prefix = format!("{}:{line}:", f.display());
        assert!(
            first.starts_with(&expect_prefix),
            "{file}: expected line {line}, got {first}"
        );
        if !path.is_empty() {
            assert!(
                first.contains(&format!(": {path}: ")),
                "{file}: expected path {path} in {first}"
            );
        }
        assert!(
            first.contains(words),
            "{file}: expected {words:?} in {first}"
        );
    }
}

#[test]
fn every_semantic_problem_is_reported_not_only_the_first() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let h = Home::new();
    let o = h.run(&[
        "validate",
        "-o",
        "json",
        dir.join("several-problems.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = v["problems"].as_array().unwrap();
    let paths: Vec<&str> = problems
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    for want in [
        "spec.target",
        "spec.probes[0]",
        "spec.probes[0].interval",
        "spec.probes[1].name",
        "spec.probes[1]",
        "spec.probes[1].cmd.argv",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:?}");
    }
    assert!(problems.iter().all(|p| p["line"].as_u64().unwrap() > 5));
}

#[test]
fn schema_is_generated_from_the_types() {
    let h = Home::new();
    let o = h.run(&["schema"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = v.to_string();
    for k in chaosduck::domain::FaultKind::ALL {
        assert!(s.contains(&format!("\"{k}\"")), "schema lacks {k}");
    }
    assert!(s.contains("blastRadius") && s.contains("availabilityZone"));
}
