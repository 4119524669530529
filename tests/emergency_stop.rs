//! The emergency stop cancels a run mid-OBSERVE, reverts, latches, and resets; signals roll back.

mod common;
use chaosduck::config::Config;
use chaosduck::domain::{Status, parse_experiment};
use chaosduck::engine::Engines;
use chaosduck::engine::events::EventSink;
use chaosduck::engine::runner::{RunContext, RunOutcome, RunRequest};
use chaosduck::engine::supervisor::Supervisor;
use chaosduck::engine::testworld::TestWorld;
use chaosduck::store::Store;
use common::{Home, WEB, code, text, wait_until};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn stop_from_another_shell_cancels_mid_observe_reverts_latches_and_resets() {
    let h = Home::new();
    h.write_world(2);
    let f = h.experiment(
        "long",
        &format!("{WEB}  duration: 60s\n  safety: {{blastRadius: 2}}\n"),
    );
    let mut child = h
        .cmd()
        .args(["run", f.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || h.markers().len() == 2),
        "never injected"
    );
    let start = std::time::Instant::now();
    let o = h.run(&["stop"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("1 run(s) stopped"), "{}", text(&o));
    assert!(
        h.markers().is_empty(),
        "stop returns after everything is reverted"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(child.wait().unwrap().code(), Some(3));
    // Latched: a new run is refused, naming the rule and the way out.
    let o = h.run(&["run", f.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("chaosduck reset"), "{}", text(&o));
    let o = h.run(&["reset"]);
    assert_eq!(code(&o), 0);
    let short = h.experiment(
        "short",
        &format!("{WEB}  duration: 100ms\n  safety: {{blastRadius: 2}}\n"),
    );
    let o = h.run(&["run", short.to_str().unwrap()]);
    assert_eq!(code(&o), 7, "runs again after reset: {}", text(&o));
}

#[test]
fn stop_with_no_running_instance_recovers_from_the_journal_and_latches() {
    let h = Home::new();
    h.write_world(1);
    let f = h.experiment(
        "c",
        &format!("{WEB}  duration: 5s\n  safety: {{blastRadius: 1}}\n"),
    );
    let o = h
        .cmd()
        .env("CHAOSDUCK_FAILPOINT", "after-apply")
        .args(["run", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.code().is_none());
    assert_eq!(h.markers().len(), 1);
    let o = h.run(&["stop"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(h.markers().is_empty());
    let s = Store::open(&h.db()).unwrap();
    assert!(s.emergency_latch().unwrap().is_some());
}

fn signal_run(sig: i32, name: &str) {
    let h = Home::new();
    h.write_world(2);
    let f = h.experiment(
        "sig",
        &format!("{WEB}  duration: 60s\n  safety: {{blastRadius: 2}}\n"),
    );
    let child = h
        .cmd()
        .args(["run", "-o", "json", f.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || h.markers().len() == 2));
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{name}: {}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "aborted");
    assert!(v["abort_reason"].as_str().unwrap().contains(name));
    assert!(h.markers().is_empty(), "{name}: faults left");
}

#[test]
fn sigterm_rolls_back_and_exits() {
    signal_run(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_rolls_back_and_exits() {
    signal_run(libc::SIGHUP, "SIGHUP");
}

#[test]
fn sigint_rolls_back_and_exits() {
    signal_run(libc::SIGINT, "SIGINT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_stop_in_process_reaches_a_run_in_observe() {
    let h = Home::new();
    h.write_world(3);
    let store = Store::open(&h.db()).unwrap();
    let ctx = RunContext {
        store: store.clone(),
        engines: Engines::default().with(Arc::new(TestWorld::new(&h.world()))),
        config: Arc::new(Config::default()),
        events: EventSink::none(),
    };
    let sup = Supervisor::new(ctx);
    let doc = parse_experiment("x.yaml", &format!(
        "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata: {{name: x}}\nspec:\n{WEB}  duration: 60s\n  safety: {{blastRadius: 3}}\n"
    ))
    .unwrap();
    let s2 = sup.clone();
    let run = tokio::spawn(async move {
        s2.run(RunRequest {
            doc,
            source: None,
            confirm_namespace: None,
        })
        .await
    });
    let world = h.world();
    let markers = move || {
        std::fs::read_dir(&world)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "fault")
            })
            .count()
    };
    for _ in 0..500 {
        if markers() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(markers(), 3);
    let rep = sup.emergency_stop("test").await.unwrap();
    assert_eq!(rep.stopped.len(), 1);
    assert_eq!(rep.still_open, 0);
    assert_eq!(markers(), 0);
    match run.await.unwrap().unwrap() {
        RunOutcome::Finished { record, journal } => {
            assert_eq!(record.status, Status::EmergencyStopped);
            assert!(journal.iter().all(|e| e.state.to_string() == "reverted"));
        }
        other => panic!("unexpected {other:?}"),
    }
    sup.reset().await.unwrap();
    assert!(store.emergency_latch().unwrap().is_none());
}
