//! Emergency-stop latency campaign: 50 active faults across Kubernetes and AWS in one dashboard,
//! then Ctrl-G.
//!
//! Run: `cargo bench --bench campaign_emergency_stop` (release), or quicker to build:
//! `cargo bench --profile dev --bench campaign_emergency_stop`. `ROUNDS=N` (default 3).
//!
//! A `chaosduck sandbox serve --pods 100 --write-aws-env` process is the cluster and the AWS
//! account. Each round opens the dashboard on a pty (200×50, a fresh home and database) and
//! starts, each by `:run FILE` → dry run → confirmation → `y`:
//! network_latency on 40 pods of bench-0000 (`app in (web-0, api-1)`), ec2_stop on 4 instances,
//! route_blackhole on both 0.0.0.0/0 routes (2 journal steps each), rds_failover of the Aurora
//! cluster (fail back) and of the Multi-AZ instance: 50 journal entries, waited for as `faults 50`
//! on the status bar. Then Ctrl-G is written at t0. Measured:
//! - first revert: t0 → the first `revert call` in the log (RFC3339 UTC);
//! - Kubernetes / AWS reverts complete: t0 → the latest `updated_at` of that side's journal
//!   entries (each is stamped when its undo was verified, before it is committed);
//! - last confirmed revert on screen: t0 → `faults 0` on the status bar with
//!   `EMERGENCY STOP LATCHED` (and the toast `every fault reverted`);
//! - clean afterwards: no pod with a running injector (`topology -o json`), AWS as before
//!   (`topology --aws -o json`: every instance running, every route active with its original
//!   target, the cluster's writer back, DB instances available), every journal entry
//!   `reverted`. Orphaned faults must be 0.
//!
//! Budget (issue 9): first revert ≤ 100 ms; Kubernetes reverts complete ≤ 5 s.

#[path = "support/campaign.rs"]
mod campaign;
#[path = "support/pty.rs"]
mod pty;

use campaign::{
    Home, Sandbox, all_entries, aws_topology, env_num, faulted_pods, ms, not_reverted, pct,
};
use pty::{Opts, Pty, first_revert_call};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const FIRST_BUDGET_MS: f64 = 100.0;
const K8S_BUDGET_MS: f64 = 5_000.0;

/// (file, experiment name, journal entries it adds, YAML).
const EXPERIMENTS: [(&str, &str, usize, &str); 6] = [
    (
        "k8s.yaml",
        "es-latency-40",
        40,
        "apiVersion: chaosduck.io/v1
kind: Experiment
metadata:
  name: es-latency-40
spec:
  fault:
    type: network_latency
    latency: 100ms
  target:
    pods:
      namespace: bench-0000
      selector: app in (web-0, api-1)
      count: 40
  duration: 10m
  safety:
    timeout: 15m
    blastRadius: 40
",
    ),
    (
        "ec2.yaml",
        "es-ec2-stop",
        4,
        "apiVersion: chaosduck.io/v1
kind: Experiment
metadata:
  name: es-ec2-stop
spec:
  fault:
    type: ec2_stop
  target:
    instances:
      tags:
        env: sandbox
      count: 4
  duration: 10m
  safety:
    timeout: 15m
    blastRadius: 4
",
    ),
    (
        "rt1.yaml",
        "es-blackhole-private",
        2,
        "apiVersion: chaosduck.io/v1
kind: Experiment
metadata:
  name: es-blackhole-private
spec:
  fault:
    type: route_blackhole
  target:
    route:
      routeTable: rtb-0a1b2c3d4e5f60001
      destinationCidr: 0.0.0.0/0
  duration: 10m
  safety:
    timeout: 15m
",
    ),
    (
        "rt2.yaml",
        "es-blackhole-public",
        2,
        "apiVersion: chaosduck.io/v1
kind: Experiment
metadata:
  name: es-blackhole-public
spec:
  fault:
    type: route_blackhole
  target:
    route:
      routeTable: rtb-0a1b2c3d4e5f60002
      destinationCidr: 0.0.0.0/0
  duration: 10m
  safety:
    timeout: 15m
",
    ),
    (
        "rds1.yaml",
        "es-orders-failover",
        1,
        "apiVersion: chaosduck.io/v1
kind: Experiment
metadata:
  name: es-orders-failover
spec:
  fault:
    type: rds_failover
    failBack: true
  target:
    dbCluster:
      id: shop-orders
  duration: 10m
  safety:
    timeout: 15m
",
    ),
    (
        "rds2.yaml",
        "es-billing-failover",
        1,
        "apiVersion: chaosduck.io/v1
kind: Experiment
metadata:
  name: es-billing-failover
spec:
  fault:
    type: rds_failover
  target:
    dbInstance:
      id: shop-billing
  duration: 10m
  safety:
    timeout: 15m
",
    ),
];

/// The parts of the AWS account the faults touch, as comparable text: instance states, routes
/// (target and state), cluster writers and status, DB instance status.
fn aws_state(t: &Value) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for i in t["instances"].as_array().into_iter().flatten() {
        m.insert(
            format!("instance {}", i["id"].as_str().unwrap_or("?")),
            i["state"].as_str().unwrap_or("?").to_string(),
        );
    }
    for v in t["vpcs"].as_array().into_iter().flatten() {
        for rt in v["route_tables"].as_array().into_iter().flatten() {
            for r in rt["routes"].as_array().into_iter().flatten() {
                m.insert(
                    format!(
                        "route {} {}",
                        rt["id"].as_str().unwrap_or("?"),
                        r["destination"].as_str().unwrap_or("?")
                    ),
                    format!("{} {}", r["target"], r["state"].as_str().unwrap_or("?")),
                );
            }
        }
    }
    for c in t["db_clusters"].as_array().into_iter().flatten() {
        m.insert(
            format!("db cluster {}", c["id"].as_str().unwrap_or("?")),
            format!(
                "writer {} {}",
                c["writer"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?")
            ),
        );
    }
    for d in t["db_instances"].as_array().into_iter().flatten() {
        m.insert(
            format!("db instance {}", d["id"].as_str().unwrap_or("?")),
            d["status"].as_str().unwrap_or("?").to_string(),
        );
    }
    m
}

/// Differences from the baseline, as readable lines.
fn aws_diff(base: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in base {
        match now.get(k) {
            Some(n) if n == v => {}
            Some(n) => out.push(format!("{k}: {v} → {n}")),
            None => out.push(format!("{k}: gone")),
        }
    }
    for k in now.keys().filter(|k| !base.contains_key(*k)) {
        out.push(format!("{k}: new"));
    }
    out
}

#[derive(Default)]
struct RoundResult {
    first_ms: Option<f64>,
    k8s_ms: Option<f64>,
    aws_ms: Option<f64>,
    screen_ms: Option<f64>,
    latched_ms: Option<f64>,
    toast_ms: Option<f64>,
    orphans: usize,
    problems: Vec<String>,
}

fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3
}

fn round(sb: &Sandbox, base: &BTreeMap<String, String>) -> RoundResult {
    let mut res = RoundResult::default();
    let home = Home::new("cdestop");
    for (file, _, _, yaml) in EXPERIMENTS {
        std::fs::write(home.path().join(file), yaml).expect("write an experiment");
    }
    let db = home.path().join("dash.redb");
    let aws = sb.aws_pairs();
    let p = Pty::spawn_with(
        &campaign::bin(),
        home.path(),
        (200, 50),
        &[
            "--kubeconfig",
            sb.kubeconfig.to_str().expect("utf-8 path"),
            "--aws-endpoint-url",
            sb.aws_endpoint(),
            "--region",
            "us-east-1",
            "--db",
            db.to_str().expect("utf-8 path"),
        ],
        &Opts {
            env: &aws,
            ..Opts::default()
        },
        &["faults 0 "],
    );
    p.must(0, Duration::from_secs(60));
    let mut total = 0;
    for (file, name, adds, _) in EXPERIMENTS {
        total += adds;
        p.type_text(&format!(":run {file}"));
        p.keys_until(
            &[b"\r"],
            &format!("Dry run · {name}"),
            Duration::from_secs(60),
        );
        p.keys_until(&[b"\r"], "Confirm the run", Duration::from_secs(10));
        p.keys_until(
            &[b"y"],
            &format!("faults {total} "),
            Duration::from_secs(60),
        );
    }
    assert_eq!(total, 50);
    // Every run is in OBSERVE (its injections done) once the count is there; let the toasts go.
    std::thread::sleep(Duration::from_secs(1));

    let zero = p.watch("faults 0 ");
    let latched = p.watch("EMERGENCY STOP LATCHED");
    let toast = p.watch("every fault reverted");
    let t0_wall = SystemTime::now();
    let t0 = p.write(&[0x07]);
    res.first_ms = first_revert_call(&home.state(), t0_wall, Duration::from_secs(10))
        .and_then(|t| t.duration_since(t0_wall).ok())
        .map(|d| d.as_secs_f64() * 1e3);
    let since = |id| {
        p.seen(id, Duration::from_secs(120))
            .map(|t| (t - t0).as_secs_f64() * 1e3)
    };
    res.screen_ms = since(zero);
    res.latched_ms = since(latched);
    res.toast_ms = since(toast);
    if res.screen_ms.is_none() {
        res.problems.push(format!(
            "`faults 0` never showed; the screen:\n{}",
            p.screen()
        ));
    }

    // Quit (nothing is active any more), then read the journal.
    let mut p = p;
    p.keys(&[b"q"]);
    if p.wait_exit(Duration::from_secs(60)).is_none() {
        res.problems
            .push("the dashboard did not quit after `q`".into());
    }
    drop(p);
    let t0_ms = unix_ms(t0_wall);
    match all_entries(&home, &db) {
        Ok(entries) => {
            if entries.len() != 50 {
                res.problems
                    .push(format!("{} journal entries, expected 50", entries.len()));
            }
            res.orphans += not_reverted(&entries);
            let last = |k8s: bool| {
                entries
                    .iter()
                    .filter(|e| (e["fault"].as_str() == Some("network_latency")) == k8s)
                    .filter_map(|e| e["updated_at"].as_f64())
                    .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
                    .map(|v| v - t0_ms)
            };
            res.k8s_ms = last(true);
            res.aws_ms = last(false);
        }
        Err(e) => res.problems.push(e),
    }
    match faulted_pods(&home, &sb.kubeconfig) {
        Ok(n) => res.orphans += n as usize,
        Err(e) => res.problems.push(e),
    }
    match aws_topology(&home, sb) {
        Ok(t) => {
            let d = aws_diff(base, &aws_state(&t));
            res.orphans += d.len();
            res.problems.extend(d);
        }
        Err(e) => res.problems.push(e),
    }
    res
}

fn main() {
    let rounds = env_num("ROUNDS", 3);
    let sb_home = Home::new("cdestop-sandbox");
    let sb = Sandbox::start(&sb_home, 100, true);
    let base = aws_state(&aws_topology(&sb_home, &sb).expect("the sandbox account's topology"));
    assert!(
        base.iter()
            .filter(|(k, _)| k.starts_with("instance "))
            .all(|(_, v)| v == "running"),
        "the sandbox's instances are not all running: {base:?}"
    );
    match faulted_pods(&sb_home, &sb.kubeconfig) {
        Ok(0) => {}
        other => panic!("the sandbox is not clean before the campaign: {other:?}"),
    }

    let mut results = Vec::new();
    for r in 0..rounds {
        let res = round(&sb, &base);
        eprintln!(
            "round {:>2}: first revert {:>7}, Kubernetes done {:>8}, AWS done {:>8}, screen `faults 0` {:>8}, latched {:>8}, orphaned {}{}",
            r + 1,
            ms(res.first_ms),
            ms(res.k8s_ms),
            ms(res.aws_ms),
            ms(res.screen_ms),
            ms(res.latched_ms),
            res.orphans,
            if res.problems.is_empty() {
                String::new()
            } else {
                format!("\n  {}", res.problems.join("\n  "))
            }
        );
        results.push(res);
    }

    let col = |f: &dyn Fn(&RoundResult) -> Option<f64>| -> Vec<f64> {
        results.iter().filter_map(f).collect()
    };
    let line = |what: &str, v: Vec<f64>, budget: Option<f64>| {
        let worst = pct(&v, 1.0);
        let verdict = match (budget, worst) {
            (Some(b), Some(w)) if w <= b => format!("≤ {b:.0} ms: met"),
            (Some(b), Some(_)) => format!("≤ {b:.0} ms: MISSED"),
            (Some(b), None) => format!("≤ {b:.0} ms: not measured"),
            (None, _) => String::new(),
        };
        println!(
            "{what:<58} {:>9} {:>9} {:>9}   {verdict}",
            ms(pct(&v, 0.5)),
            ms(worst),
            format!("{}/{}", v.len(), results.len())
        );
    };
    println!(
        "\nEmergency-stop campaign: 50 active faults (40 network_latency pods; 4 ec2_stop, 2×2 route_blackhole, 2 rds_failover), Ctrl-G in the dashboard (pty 200×50), {rounds} round(s)"
    );
    println!(
        "{:<58} {:>9} {:>9} {:>9}   budget",
        "Ctrl-G written →", "p50", "worst", "rounds"
    );
    line(
        "first revert call (log)",
        col(&|r| r.first_ms),
        Some(FIRST_BUDGET_MS),
    );
    line(
        "last Kubernetes revert verified (journal updated_at)",
        col(&|r| r.k8s_ms),
        Some(K8S_BUDGET_MS),
    );
    line(
        "last AWS revert verified (journal updated_at)",
        col(&|r| r.aws_ms),
        None,
    );
    line(
        "\"every fault reverted\" toast on screen",
        col(&|r| r.toast_ms),
        None,
    );
    line(
        "`faults 0` on the status bar (last confirmed revert)",
        col(&|r| r.screen_ms),
        None,
    );
    line(
        "\"EMERGENCY STOP LATCHED\" on screen",
        col(&|r| r.latched_ms),
        None,
    );
    let orphans: usize = results.iter().map(|r| r.orphans).sum();
    let problems: usize = results.iter().map(|r| r.problems.len()).sum();
    println!(
        "orphaned faults in total: {orphans} (must be 0; k8s: pods with a running injector; AWS: differences from the state before; journal: entries not reverted); problems: {problems}"
    );
}
