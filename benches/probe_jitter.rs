//! Probe scheduling jitter and sample storage cost, through the real runner and store.
//!
//! Run: `cargo bench --bench probe_jitter [PROBES] [SECONDS]` (defaults: 20 probes, 20 s).
//! Jitter is how far each sample's start lies from its schedule (first sample + k × interval).

use chaosduck::config::Config;
use chaosduck::domain::parse_experiment;
use chaosduck::engine::Engines;
use chaosduck::engine::events::EventSink;
use chaosduck::engine::runner::{RunContext, RunRequest};
use chaosduck::engine::supervisor::Supervisor;
use chaosduck::engine::testworld::TestWorld;
use chaosduck::store::Store;
use chaosduck::store::records::ProbeSample;
use std::collections::BTreeMap;
use std::sync::Arc;

fn pct(v: &[f64], p: f64) -> f64 {
    v[(((v.len() - 1) as f64) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("world");
    std::fs::create_dir_all(&world).expect("world dir");
    std::fs::write(
        world.join("world.json"),
        r#"{"pods":[{"namespace":"b","name":"p","labels":{"app":"x"}}]}"#,
    )
    .expect("world");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let mut probes = String::new();
    for i in 0..n {
        probes.push_str(&format!("    - name: p{i}\n      mode: continuous\n      interval: 1s\n      tcp: {{host: 127.0.0.1, port: {port}}}\n"));
    }
    let yaml = format!(
        "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata: {{name: jitter}}\nspec:\n  fault: {{type: pod_delete}}\n  target: {{pods: {{namespace: b, selector: app=x}}}}\n  duration: {secs}s\n  safety: {{blastRadius: 1}}\n  probes:\n{probes}"
    );
    let doc = parse_experiment("jitter.yaml", &yaml).expect("valid experiment");
    let store = Store::open(&dir.path().join("db.redb")).expect("store");
    let ctx = RunContext {
        store: store.clone(),
        engines: Engines::default().with(Arc::new(TestWorld::new(&world))),
        config: Arc::new(Config::default()),
        events: EventSink::none(),
    };
    let sup = Supervisor::new(ctx);
    let out = sup
        .run(RunRequest {
            doc,
            source: None,
            confirm_namespace: None,
        })
        .await
        .expect("run");
    let id = match out {
        chaosduck::engine::runner::RunOutcome::Finished { record, .. } => record.id,
        other => panic!("run did not finish: {other:?}"),
    };
    let samples = store.samples(&id).expect("samples");
    let mut by: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for s in &samples {
        by.entry(s.probe.as_str()).or_default().push(s.at);
    }
    let mut jitter = Vec::new();
    for ats in by.values() {
        let first = ats[0];
        for (k, at) in ats.iter().enumerate() {
            jitter.push(((at - first) - 1000 * k as i64).abs() as f64);
        }
    }
    jitter.sort_by(f64::total_cmp);
    println!(
        "probe scheduling: {n} continuous tcp probes at 1s for {secs}s, {} samples",
        samples.len()
    );
    println!(
        "  jitter p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&jitter, 0.5),
        pct(&jitter, 0.99),
        jitter[jitter.len() - 1]
    );

    // Storage cost of 10,000 samples.
    let path = dir.path().join("samples.redb");
    let s2 = Store::open(&path).expect("store");
    let before = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let sample = |i: usize| ProbeSample {
        probe: format!("probe-{}", i % 20),
        kind: "http".into(),
        mode: chaosduck::domain::ProbeMode::Continuous,
        phase: chaosduck::domain::Phase::Observe,
        at: 1_790_000_000_000 + i as i64 * 50,
        passed: !i.is_multiple_of(7),
        value: Some((i % 300) as f64 + 0.5),
        error: i
            .is_multiple_of(7)
            .then(|| "status 503, expected 200-299".to_string()),
        skipped: false,
    };
    let batch: Vec<ProbeSample> = (0..10_000).map(sample).collect();
    for chunk in batch.chunks(20) {
        s2.append_samples("bench", chunk).expect("append");
    }
    drop(s2);
    let after = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let json: usize = batch
        .iter()
        .map(|s| serde_json::to_vec(s).map(|v| v.len()).unwrap_or(0))
        .sum();
    let mem = batch.len() * std::mem::size_of::<ProbeSample>()
        + batch
            .iter()
            .map(|s| {
                s.probe.capacity()
                    + s.kind.capacity()
                    + s.error.as_ref().map_or(0, String::capacity)
            })
            .sum::<usize>();
    println!(
        "10,000 samples: {:.2} MiB in the store file, {:.2} MiB as records in memory, {:.0} bytes each serialised",
        (after - before) as f64 / (1 << 20) as f64,
        mem as f64 / (1 << 20) as f64,
        json as f64 / 10_000.0
    );
}
