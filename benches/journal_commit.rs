//! Journal commit latency: 1,000 durable commits of realistic journal entries (each an fsync'd
//! redb transaction writing the entry and its open-index row), on the real file system.
//!
//! Run: `cargo bench --bench journal_commit` (prints p50/p99/max; optional argument: count).

use chaosduck::engine::plan::{Action, PlannedStep, TargetRef};
use chaosduck::safety::journal::{JournalEntry, JournalState, UndoRecord};
use chaosduck::store::Store;
use std::time::{Duration, Instant};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("bench.redb")).expect("open store");
    let world = dir.path().join("world");
    let mut lat = Vec::with_capacity(n);
    let mut entry = None;
    for i in 0..n {
        let step = PlannedStep {
            target: TargetRef {
                kind: "pod".into(),
                name: format!("shop/checkout-{i}"),
                labels: Default::default(),
            },
            action: Action::TestWorldMark {
                world: world.clone(),
                marker: format!("bench-{i}.fault"),
                content: "x".into(),
            },
            undo: UndoRecord::TestWorldUnmark {
                world: world.clone(),
                marker: format!("bench-{i}.fault"),
            },
            summary: format!("pod_delete on pod shop/checkout-{i}"),
        };
        // Alternate intents and applied marks, as a run does.
        let e = if i % 2 == 0 {
            JournalEntry::intent("bench-experiment", None, (i / 2 + 1) as u32, &step, 0, None)
        } else {
            let mut e: JournalEntry = entry.take().expect("previous intent");
            e.state = JournalState::Applied;
            e
        };
        let t = Instant::now();
        store.journal_put(&e).expect("commit");
        lat.push(t.elapsed());
        entry = Some(e);
    }
    lat.sort();
    let mean = lat.iter().sum::<Duration>() / n as u32;
    println!("journal durable commits: n={n}");
    println!("  p50  {:>9.3} ms", pct(&lat, 0.50).as_secs_f64() * 1e3);
    println!("  p99  {:>9.3} ms", pct(&lat, 0.99).as_secs_f64() * 1e3);
    println!("  max  {:>9.3} ms", lat[n - 1].as_secs_f64() * 1e3);
    println!("  mean {:>9.3} ms", mean.as_secs_f64() * 1e3);
    let t = Instant::now();
    let open = store.open_journal().expect("scan");
    println!(
        "  open-journal scan of {} open entries: {:.3} ms",
        open.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
}
