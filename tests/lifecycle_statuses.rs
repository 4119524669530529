//! Every status is reachable through the real binary, and rollback keeps its promises: LIFO order,
//! continuing past a failing step, bounded retries.

mod common;
use common::{Home, WEB, code, text};
use serde_json::Value;

fn json_run(h: &Home, file: &std::path::Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["run", "-o", "json", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = h.run(&args);
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("not json: {}", text(&o)));
    (code(&o), v)
}

fn fast_config(h: &Home) -> std::path::PathBuf {
    let p = h.path().join("config.toml");
    std::fs::write(
        &p,
        "[rollback]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\nmax_backoff = \"40ms\"\n",
    )
    .unwrap();
    p
}

#[test]
fn completed_and_held_with_passing_probes() {
    let h = Home::new();
    h.write_world(3);
    let f = h.experiment(
        "ok",
        &format!("{WEB}  duration: 300ms\n  safety: {{blastRadius: 3}}\n  probes:\n    - name: alive\n      mode: edge\n      cmd: {{argv: [\"true\"]}}\n"),
    );
    let (c, v) = json_run(&h, &f, &[]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["verdict"]["kind"], "held");
    let j = v["journal"].as_array().unwrap();
    assert_eq!(j.len(), 3);
    assert!(j.iter().all(|e| e["state"] == "reverted"));
    assert!(h.markers().is_empty());
}

#[test]
fn violated_when_a_continuous_probe_fails_during_the_fault() {
    let h = Home::new();
    h.write_world(1);
    let w = h.world();
    // The probe fails while any marker exists in the world: it sees the fault.
    let probe = format!(
        "ls {}/*.fault >/dev/null 2>&1 && exit 1 || exit 0",
        w.display()
    );
    let f = h.experiment(
        "violated",
        &format!(
            "{WEB}  duration: 600ms\n  safety: {{blastRadius: 1}}\n  probes:\n    - name: no-fault\n      mode: continuous\n      interval: 100ms\n      cmd: {{argv: [{probe:?}], shell: true}}\n"
        ),
    );
    let (c, v) = json_run(&h, &f, &[]);
    assert_eq!(c, 1, "{v}");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["verdict"]["kind"], "violated");
}

#[test]
fn abort_on_failure_stops_the_run_and_rolls_back() {
    let h = Home::new();
    h.write_world(1);
    let probe = format!(
        "ls {}/*.fault >/dev/null 2>&1 && exit 1 || exit 0",
        h.world().display()
    );
    let f = h.experiment(
        "abort",
        &format!(
            "{WEB}  duration: 30s\n  safety: {{blastRadius: 1}}\n  probes:\n    - name: guard\n      mode: onChaos\n      interval: 100ms\n      abortOnFailure: true\n      failureThreshold: 2\n      cmd: {{argv: [{probe:?}], shell: true}}\n"
        ),
    );
    let start = std::time::Instant::now();
    let (c, v) = json_run(&h, &f, &[]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "the stop condition must end the run early"
    );
    assert_eq!(c, 3, "{v}");
    assert_eq!(v["status"], "aborted");
    assert!(v["abort_reason"].as_str().unwrap().contains("guard"));
    assert_eq!(v["verdict"]["kind"], "violated");
    assert!(h.markers().is_empty());
}

#[test]
fn failed_when_injection_fails_part_way_and_what_was_done_is_reverted() {
    let h = Home::new();
    h.write_world(3);
    std::fs::write(h.world().join("fail-apply"), "shop/web-2\n").unwrap();
    let f = h.experiment(
        "partial",
        &format!("{WEB}  duration: 5s\n  safety: {{blastRadius: 3}}\n"),
    );
    let (c, v) = json_run(&h, &f, &[]);
    assert_eq!(c, 5, "{v}");
    assert_eq!(v["status"], "failed");
    assert!(v["error"].as_str().unwrap().contains("injection failed"));
    assert!(h.markers().is_empty());
    assert_eq!(h.undo_log().len(), 2, "the two applied steps were undone");
}

#[test]
fn rollback_is_lifo_continues_past_a_failing_step_and_bounds_retries() {
    let h = Home::new();
    h.write_world(3);
    let cfg = fast_config(&h);
    // web-1 always fails to revert; web-0 fails once and then succeeds.
    std::fs::write(
        h.world().join("fail-revert"),
        "shop/web-1 always\nshop/web-0 1\n",
    )
    .unwrap();
    let f = h.experiment(
        "lifo",
        &format!("{WEB}  duration: 200ms\n  safety: {{blastRadius: 3}}\n"),
    );
    let (c, v) = json_run(&h, &f, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(c, 5, "{v}");
    assert_eq!(v["status"], "failed");
    let j = v["journal"].as_array().unwrap();
    let by_target = |t: &str| j.iter().find(|e| e["target"]["name"] == t).unwrap().clone();
    assert_eq!(by_target("shop/web-1")["state"], "failed");
    assert_eq!(
        by_target("shop/web-1")["attempts"],
        3,
        "retries are bounded by max_attempts"
    );
    assert_eq!(by_target("shop/web-0")["state"], "reverted");
    assert_eq!(by_target("shop/web-0")["attempts"], 2);
    assert_eq!(by_target("shop/web-2")["state"], "reverted");
    // LIFO: web-2 (seq 3) first, then web-0 (seq 1); web-1 never succeeded.
    let log = h.undo_log();
    let seq_of = |m: &str| {
        m.rsplit('-')
            .next()
            .unwrap()
            .trim_end_matches(".fault")
            .parse::<u32>()
            .unwrap()
    };
    let order: Vec<u32> = log.iter().map(|m| seq_of(m)).collect();
    assert_eq!(order, vec![3, 1]);
    // The failed step stays open; recover finishes it once the cause is gone.
    assert_eq!(h.markers().len(), 1);
    std::fs::remove_file(h.world().join("fail-revert")).unwrap();
    let o = h.run(&["recover"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(h.markers().is_empty());
}

#[test]
fn aborted_by_the_hard_timeout() {
    let h = Home::new();
    h.write_world(1);
    // A slow SOT probe eats the whole 2s budget, so the run never injects.
    let f = h.experiment(
        "slow",
        &format!(
            "{WEB}  duration: 1s\n  safety: {{timeout: 2s, blastRadius: 1}}\n  probes:\n    - name: slow\n      timeout: 10s\n      cmd: {{argv: [sleep, \"3\"]}}\n"
        ),
    );
    let (c, v) = json_run(&h, &f, &[]);
    assert_eq!(c, 3, "{v}");
    assert_eq!(v["status"], "aborted");
    assert!(
        v["abort_reason"].as_str().unwrap().contains("timeout"),
        "{v}"
    );
    assert!(v["journal"].as_array().unwrap().is_empty());
}

#[test]
fn refused_by_guardrails_changes_nothing() {
    let h = Home::new();
    h.write_world(4);
    // 4 of 14 eligible pods = 28 %, above a 20 % limit.
    let f = h.experiment(
        "wide",
        &format!("{WEB}  duration: 1s\n  safety: {{blastRadius: 20%}}\n"),
    );
    let (c, v) = json_run(&h, &f, &[]);
    assert_eq!(c, 4, "{v}");
    assert!(v["error"].as_str().unwrap().contains("blast-radius"));
    assert!(h.markers().is_empty());
    // Protected namespace without and with typed confirmation.
    let f = h.experiment(
        "dns",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: kube-system, selector: app=dns, count: 1}}\n  duration: 200ms\n",
    );
    let (c, v) = json_run(&h, &f, &[]);
    assert_eq!(c, 4, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("--confirm-namespace kube-system"),
        "{v}"
    );
    let (c, v) = json_run(&h, &f, &["--confirm-namespace", "kube-system"]);
    assert_eq!(c, 7, "{v}");
    assert_eq!(v["status"], "completed");
}

#[test]
fn dry_run_lists_targets_and_undo_steps_and_changes_nothing() {
    let h = Home::new();
    h.write_world(2);
    let f = h.experiment(
        "dry",
        &format!("{WEB}  duration: 1s\n  safety: {{blastRadius: 2}}\n"),
    );
    let o = h.run(&["dry-run", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("pod shop/web-0") && t.contains("pod shop/web-1"),
        "{t}"
    );
    assert!(t.contains("undo: remove marker"), "{t}");
    assert!(t.contains("blast-radius"), "{t}");
    assert!(h.markers().is_empty());
    let o = h.run(&["list", "-o", "json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
