//! Recovery at start-up on a large store: a database grown to about 100 MB with experiments,
//! phase events, probe samples and a closed journal, holding a few experiments a dead process
//! left open. Measures what a restart pays before anything else: opening the file (with its
//! read-only pre-check), finding the open journal entries, and reverting them.
//!
//! Run: `cargo bench --bench recovery_scan [MEGABYTES]` (default 100).

use chaosduck::config::RollbackPolicy;
use chaosduck::domain::{Phase, ProbeMode, Status, parse_experiment};
use chaosduck::engine::Engines;
use chaosduck::engine::events::EventSink;
use chaosduck::engine::plan::{Action, PlannedStep, TargetRef};
use chaosduck::engine::testworld::TestWorld;
use chaosduck::safety::journal::{JournalEntry, JournalState, UndoRecord};
use chaosduck::store::Store;
use chaosduck::store::records::{ExperimentRecord, PhaseEvent, ProbeSample};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

const SAMPLES_PER_EXPERIMENT: usize = 20_000;
const OPEN_EXPERIMENTS: usize = 5;
const OPEN_STEPS: u32 = 20;

fn record(id: &str, doc: &chaosduck::domain::ExperimentDoc, status: Status) -> ExperimentRecord {
    ExperimentRecord {
        id: id.into(),
        name: doc.metadata.name.clone(),
        fault: doc.fault_kind(),
        target: "pods shop/app=checkout".into(),
        doc: doc.clone(),
        source: None,
        status,
        phase: Some(Phase::Observe),
        verdict: None,
        error: None,
        abort_reason: None,
        plan: None,
        created_at: 1,
        started_at: Some(1),
        finished_at: None,
        pid: 1,
    }
}

fn step(world: &std::path::Path, exp: &str, i: u32) -> PlannedStep {
    let marker = format!("{exp}-{i}.fault");
    PlannedStep {
        target: TargetRef {
            kind: "pod".into(),
            name: format!("shop/checkout-{i}"),
            labels: Default::default(),
        },
        action: Action::TestWorldMark {
            world: world.to_path_buf(),
            marker: marker.clone(),
            content: "x".into(),
        },
        undo: UndoRecord::TestWorldUnmark {
            world: world.to_path_buf(),
            marker,
        },
        summary: format!("pod_delete on pod shop/checkout-{i}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mb: u64 = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.redb");
    let world = dir.path().join("world");
    std::fs::create_dir_all(&world).expect("world");
    std::fs::write(world.join("world.json"), r#"{"pods":[]}"#).expect("world.json");
    let doc = parse_experiment(
        "pod-delete.yaml",
        &std::fs::read_to_string("experiments/pod-delete.yaml")
            .expect("experiments/pod-delete.yaml"),
    )
    .expect("example parses");

    // Grow the store: finished experiments with full sample tables and closed journals.
    let t = Instant::now();
    {
        let store = Store::open(&path).expect("open");
        let mut n = 0usize;
        while std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < mb * 1_000_000 {
            let id = format!("done-{n:05}");
            store
                .put_experiment(&record(&id, &doc, Status::Completed))
                .expect("experiment");
            for p in 0..5 {
                store
                    .append_event(
                        &id,
                        &PhaseEvent {
                            at: p,
                            phase: Some(Phase::Observe),
                            status: Status::Running,
                            message: "phase began".into(),
                        },
                    )
                    .expect("event");
            }
            for chunk in 0..(SAMPLES_PER_EXPERIMENT / 2_000) {
                let batch: Vec<ProbeSample> = (0..2_000)
                    .map(|k| ProbeSample {
                        probe: "checkout-ready".into(),
                        kind: "k8s".into(),
                        mode: ProbeMode::Continuous,
                        phase: Phase::Observe,
                        at: (chunk * 2_000 + k) as i64,
                        passed: k % 17 != 0,
                        value: Some((k % 3) as f64),
                        error: None,
                        skipped: false,
                    })
                    .collect();
                store.append_samples(&id, &batch).expect("samples");
            }
            for i in 1..=4u32 {
                let mut e = JournalEntry::intent(&id, None, i, &step(&world, &id, i), 0, None);
                e.state = JournalState::Reverted;
                store.journal_put(&e).expect("journal");
            }
            n += 1;
        }
        // What a dead process leaves: applied faults with their markers in the world.
        for x in 0..OPEN_EXPERIMENTS {
            let id = format!("open-{x}");
            store
                .put_experiment(&record(&id, &doc, Status::Running))
                .expect("experiment");
            for i in 1..=OPEN_STEPS {
                let s = step(&world, &id, i);
                std::fs::write(world.join(format!("{id}-{i}.fault")), "x").expect("marker");
                let mut e = JournalEntry::intent(&id, None, i, &s, 0, None);
                e.state = JournalState::Applied;
                store.journal_put(&e).expect("journal");
            }
        }
        println!(
            "store grown to {:.1} MB ({n} finished experiments, {} samples) in {:.1} s",
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
            n * SAMPLES_PER_EXPERIMENT,
            t.elapsed().as_secs_f64()
        );
    }

    // Restart: open (pre-check + open), find the open entries, revert them.
    let t0 = Instant::now();
    let store = Store::open(&path).expect("reopen");
    let opened = t0.elapsed();
    let t1 = Instant::now();
    let open = store.open_journal().expect("scan");
    let scanned = t1.elapsed();
    let engines = Engines::default().with(Arc::new(TestWorld::new(&world)));
    let t2 = Instant::now();
    let rep = chaosduck::safety::recovery::recover(
        &store,
        &engines,
        &RollbackPolicy::default(),
        &EventSink::none(),
        &HashSet::new(),
    )
    .await
    .expect("recover");
    let reverted = t2.elapsed();
    let left = store.open_journal().expect("scan").len();
    let markers = std::fs::read_dir(&world)
        .expect("world")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".fault"))
        .count();
    println!("restart on the {mb} MB store:");
    println!(
        "  open (pre-check + open)      {:>9.2} ms",
        opened.as_secs_f64() * 1e3
    );
    println!(
        "  open-journal scan            {:>9.2} ms ({} open entries)",
        scanned.as_secs_f64() * 1e3,
        open.len()
    );
    println!(
        "  revert them (durable marks)  {:>9.2} ms ({} experiments)",
        reverted.as_secs_f64() * 1e3,
        rep.experiments.len()
    );
    println!(
        "  restart to clean             {:>9.2} ms; open entries left {left}, fault markers left {markers}",
        (opened + scanned + reverted).as_secs_f64() * 1e3
    );
}
