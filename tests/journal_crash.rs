//! The journal survives a process killed at each journal step: `recover` reverts what was left,
//! and every undo takes effect exactly once.

mod common;
use chaosduck::domain::Status;
use chaosduck::store::Store;
use common::{Home, WEB, code, text};

fn exp(h: &Home) -> std::path::PathBuf {
    h.experiment(
        "crash",
        &format!("{WEB}  duration: 1s\n  safety: {{blastRadius: 3}}\n"),
    )
}

/// Kills the run at `failpoint`, then recovers; returns the home for further checks.
fn crash_then_recover(failpoint: &str, pods: usize) -> Home {
    let h = Home::new();
    h.write_world(pods);
    let f = exp(&h);
    let o = h
        .cmd()
        .env("CHAOSDUCK_FAILPOINT", failpoint)
        .args(["run", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.code().is_none(),
        "{failpoint}: the process must die by SIGKILL: {}",
        text(&o)
    );
    // The store still says running (or pending): nobody finished it.
    {
        let s = Store::open(&h.db()).unwrap();
        let recs = s.experiments().unwrap();
        assert_eq!(recs.len(), 1);
        assert!(
            !recs[0].status.is_terminal(),
            "{failpoint}: status {}",
            recs[0].status
        );
    }
    let o = h.run(&["recover"]);
    assert_eq!(code(&o), 0, "{failpoint}: {}", text(&o));
    assert!(text(&o).contains("journal clean"), "{}", text(&o));
    assert!(
        h.markers().is_empty(),
        "{failpoint}: faults left: {:?}",
        h.markers()
    );
    h
}

fn assert_each_undo_once(h: &Home, expected: usize) {
    let log = h.undo_log();
    let mut uniq = log.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), log.len(), "an undo took effect twice: {log:?}");
    assert_eq!(log.len(), expected, "undo log {log:?}");
}

fn final_status(h: &Home) -> Status {
    let s = Store::open(&h.db()).unwrap();
    s.experiments().unwrap()[0].status
}

#[test]
fn kill_between_intent_and_applied_is_reverted_by_recover() {
    // Second intent: the first step is applied, the second only intended (its marker may not exist).
    let h = crash_then_recover("after-intent:2", 3);
    assert_each_undo_once(&h, 1);
    assert_eq!(final_status(&h), Status::RolledBack);
}

#[test]
fn kill_between_applied_and_reverted_is_reverted_by_recover() {
    let h = crash_then_recover("after-apply:3", 3);
    assert_each_undo_once(&h, 3);
    assert_eq!(final_status(&h), Status::RolledBack);
}

#[test]
fn kill_mid_observe_is_reverted_by_recover() {
    let h = crash_then_recover("mid-observe", 2);
    assert_each_undo_once(&h, 2);
}

#[test]
fn kill_before_revert_is_reverted_by_recover() {
    let h = crash_then_recover("before-revert:2", 3);
    assert_each_undo_once(&h, 3);
}

#[test]
fn kill_after_revert_but_before_recording_runs_the_undo_only_once() {
    // The first undo happened but its `reverted` mark may be lost with the process: recover calls
    // the undo again, which must be a no-op.
    let h = crash_then_recover("after-revert:1", 3);
    assert_each_undo_once(&h, 3);
    assert_eq!(final_status(&h), Status::RolledBack);
}

#[test]
fn kill_after_plan_leaves_a_pending_record_that_recovery_closes() {
    let h = Home::new();
    h.write_world(2);
    let f = exp(&h);
    let o = h
        .cmd()
        .env("CHAOSDUCK_FAILPOINT", "after-plan")
        .args(["run", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.code().is_none());
    {
        let s = Store::open(&h.db()).unwrap();
        assert_eq!(s.experiments().unwrap()[0].status, Status::Pending);
    }
    let o = h.run(&["recover"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(final_status(&h), Status::Aborted);
    assert!(h.undo_log().is_empty());
}

#[test]
fn any_command_that_opens_the_store_recovers_first() {
    let h = Home::new();
    h.write_world(2);
    let f = exp(&h);
    let o = h
        .cmd()
        .env("CHAOSDUCK_FAILPOINT", "after-apply:2")
        .args(["run", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.code().is_none());
    assert_eq!(h.markers().len(), 2);
    let o = h.run(&["list"]);
    assert_eq!(code(&o), 0);
    assert!(text(&o).contains("recovered experiment"), "{}", text(&o));
    assert!(h.markers().is_empty());
    assert!(text(&o).contains("rolled_back"), "{}", text(&o));
}
