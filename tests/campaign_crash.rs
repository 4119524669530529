//! Crash campaign: for every fault kind (Kubernetes against a `chaosduck sandbox serve`
//! process; AWS against moto and against that process's sandbox account), `chaosduck run` is
//! killed with SIGKILL at randomised points: failpoints at every journal step (`after-plan`,
//! `after-intent:K`, `after-apply:K`, `mid-observe`, `before-revert:K`, `after-revert:K`,
//! `before-finish`) and timed kills at a random moment of the run. Then a restart (alternately
//! `chaosduck recover` and a plain `chaosduck list`, which recovers first) must leave the system
//! clean (no running injector, no ChaosDuck NetworkPolicy or partition label, no cordoned node,
//! shop pods ready; AWS exactly as before: instances, routes, ACL associations, tags) and the
//! journal with nothing open.
//!
//! The full campaign (at least 1,000 kills):
//!   cargo test --release --test campaign_crash -- --ignored --nocapture
//! Env: `CHAOSDUCK_CAMPAIGN_KILLS` (total kills, default 1,050), `CHAOSDUCK_CAMPAIGN_SEED`
//! (printed; set it to replay), `CHAOSDUCK_CAMPAIGN_CELLS` (comma-separated cell names to run).
//! The non-ignored `crash_campaign_smoke` runs about 20 kills in CI.

mod aws_common;
mod campaign_common;

use aws_common::fixture;
use aws_common::{Moto, Sdk};
use campaign_common::{
    AWS, CampHome, K8S, Proc, Served, System, Tally, aws_spec, code, env_num, open_entries, pct_ms,
    run_bounded, seed, text,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

/// Every failpoint for a run with `steps` mutations.
fn failpoints(steps: usize) -> Vec<String> {
    let mut v = vec![
        "after-plan".to_string(),
        "mid-observe".into(),
        "before-finish".into(),
    ];
    for s in [
        "after-intent",
        "after-apply",
        "before-revert",
        "after-revert",
    ] {
        for k in 1..=steps.max(1) {
            v.push(format!("{s}:{k}"));
        }
    }
    v
}

#[derive(Default)]
struct CellReport {
    kills: usize,
    failpoint_kills: usize,
    timed_kills: usize,
    /// Runs that ended on their own before the kill (not counted as kills).
    no_kill: usize,
    orphans: usize,
    /// Kills after which the system was seen dirty (a live fault for recovery to revert).
    dirty_after_kill: usize,
    restart_to_clean: Vec<Duration>,
    problems: Vec<String>,
}

struct Cell {
    name: String,
    spec: String,
    home: CampHome,
    system: System,
}

/// Kills, restarts and checks one cell `n` times.
async fn run_cell(cell: &Cell, n: usize, rng: &mut StdRng) -> CellReport {
    let mut rep = CellReport::default();
    let file = cell.home.experiment("crash", &cell.spec);
    let file_s = file.to_string_lossy().to_string();
    // Calibration: one run without a kill gives the run time and the number of mutations.
    let t0 = Instant::now();
    let mut c = cell.home.cmd();
    c.args(["run", "-o", "json", &file_s]);
    let o = tokio::task::spawn_blocking(move || run_bounded(c, Duration::from_secs(180)))
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{}: calibration run: {e}", cell.name));
    let run_time = t0.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}: calibration: {}", cell.name, text(&o)));
    assert_eq!(v["status"], "completed", "{}: calibration {v}", cell.name);
    let steps = v["journal"].as_array().map_or(0, Vec::len);
    assert!(
        steps > 0,
        "{}: the calibration run injected nothing",
        cell.name
    );
    let left = cell.system.leftovers(Duration::from_secs(10)).await;
    assert!(left.is_empty(), "{}: calibration left {left:?}", cell.name);
    let fps = failpoints(steps);
    eprintln!(
        "== {}: {steps} mutation(s), a full run takes {run_time:?}; {n} kills",
        cell.name
    );

    let mut i = 0;
    let mut attempts = 0;
    while rep.kills < n && attempts < n * 3 {
        attempts += 1;
        i += 1;
        let timed = rng.random_bool(0.5);
        let mut c = cell.home.cmd();
        c.args(["run", &file_s])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let killed = if timed {
            let at = Duration::from_secs_f64(rng.random_range(0.0..run_time.as_secs_f64()));
            tokio::task::spawn_blocking(move || {
                let mut p = Proc::spawn(c);
                std::thread::sleep(at);
                if p.running() {
                    p.kill9().is_some_and(|s| s.signal() == Some(libc::SIGKILL))
                } else {
                    false
                }
            })
            .await
            .expect("join")
        } else {
            let fp = fps[rng.random_range(0..fps.len())].clone();
            c.env("CHAOSDUCK_FAILPOINT", &fp);
            match tokio::task::spawn_blocking(move || run_bounded(c, Duration::from_secs(180)))
                .await
                .expect("join")
            {
                Ok(o) => o.status.signal() == Some(libc::SIGKILL),
                Err(e) => {
                    rep.problems.push(format!("run with failpoint {fp}: {e}"));
                    true
                }
            }
        };
        if killed {
            rep.kills += 1;
            if timed {
                rep.timed_kills += 1;
            } else {
                rep.failpoint_kills += 1;
            }
            if !cell.system.leftovers(Duration::ZERO).await.is_empty() {
                rep.dirty_after_kill += 1;
            }
        } else {
            rep.no_kill += 1;
        }
        // Restart: `recover`, or a plain command that recovers first.
        let plain = i % 2 == 0;
        let mut c = cell.home.cmd();
        if plain {
            c.args(["list", "-o", "json"]);
        } else {
            c.arg("recover");
        }
        let start = Instant::now();
        let o = tokio::task::spawn_blocking(move || run_bounded(c, Duration::from_secs(300)))
            .await
            .expect("join");
        let mut wrong = match &o {
            Ok(o) if code(o) == 0 => Vec::new(),
            Ok(o) => vec![format!(
                "restart ({}) exited {}: {}",
                if plain { "list" } else { "recover" },
                code(o),
                text(o)
            )],
            Err(e) => vec![format!("restart: {e}")],
        };
        let left = cell.system.leftovers(Duration::from_secs(10)).await;
        let took = start.elapsed();
        wrong.extend(left);
        let db = cell.home.db();
        match tokio::task::spawn_blocking(move || open_entries(&db))
            .await
            .expect("join")
        {
            Ok(open) => wrong.extend(open.into_iter().map(|e| format!("journal open: {e}"))),
            Err(e) => wrong.push(format!("journal unreadable: {e}")),
        }
        if wrong.is_empty() {
            rep.restart_to_clean.push(took);
        } else {
            rep.orphans += 1;
            eprintln!("!! {} kill #{i}: {wrong:?}", cell.name);
            rep.problems.extend(wrong);
            // Try to get back to clean for the next kills.
            let mut c = cell.home.cmd();
            c.arg("recover");
            let _ =
                tokio::task::spawn_blocking(move || run_bounded(c, Duration::from_secs(300))).await;
        }
    }
    rep
}

async fn campaign(total_kills: usize) {
    let seed = seed("CHAOSDUCK_CAMPAIGN_SEED");
    let only: Vec<String> = std::env::var("CHAOSDUCK_CAMPAIGN_CELLS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    println!("crash campaign: seed {seed} (replay with CHAOSDUCK_CAMPAIGN_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let served = Served::start();
    let client = served.client().await;
    let moto = Moto::start();
    let mut cells = Vec::new();
    for (kind, body) in K8S {
        cells.push(Cell {
            name: format!("{kind} (k8s sandbox)"),
            spec: format!("{body}  duration: 2s\n  safety: {{blastRadius: 100%, timeout: 5m}}\n"),
            home: CampHome::new(Some(&served.kubeconfig), None),
            system: System::K8s(client.clone()),
        });
    }
    let mut peers = vec![("sandbox account", served.aws_url.clone())];
    if let Some(m) = &moto {
        peers.insert(0, ("moto", m.url.clone()));
    }
    for (peer, url) in &peers {
        let sdk = Sdk::new(url);
        let net = fixture::build(&sdk).await;
        fixture::build_rds(&sdk).await;
        for kind in AWS {
            let sdk = Sdk::new(url);
            let before = fixture::snapshot(&sdk, &net).await;
            cells.push(Cell {
                name: format!("{kind} ({peer})"),
                spec: aws_spec(kind, &net, "1s"),
                home: CampHome::new(None, Some(url)),
                system: System::Aws {
                    sdk,
                    net: net.clone(),
                    before,
                },
            });
        }
    }
    cells.retain(|c| only.is_empty() || only.iter().any(|o| c.name.starts_with(o.as_str())));
    assert!(
        !cells.is_empty(),
        "no cell matches CHAOSDUCK_CAMPAIGN_CELLS"
    );
    let per_cell = total_kills.div_ceil(cells.len());
    let mut reports = Vec::new();
    for cell in &cells {
        let r = run_cell(cell, per_cell, &mut rng).await;
        eprintln!(
            "   {}: {} kills, {} orphaned, restart→clean p50 {:.0} ms p99 {:.0} ms",
            cell.name,
            r.kills,
            r.orphans,
            pct_ms(&r.restart_to_clean, 50.0),
            pct_ms(&r.restart_to_clean, 99.0)
        );
        reports.push((cell.name.clone(), r));
    }

    // The table.
    let mut all = Vec::new();
    let (mut kills, mut orphans, mut fp, mut timed, mut no_kill, mut dirty) = (0, 0, 0, 0, 0, 0);
    let mut by_kind = Tally::new();
    println!();
    println!(
        "{:<34} {:>6} {:>10} {:>6} {:>8} {:>6} {:>9} {:>12} {:>12}",
        "fault (system)",
        "kills",
        "failpoint",
        "timed",
        "no kill",
        "dirty",
        "orphaned",
        "p50 ms",
        "p99 ms"
    );
    for (name, r) in &reports {
        println!(
            "{:<34} {:>6} {:>10} {:>6} {:>8} {:>6} {:>9} {:>12.0} {:>12.0}",
            name,
            r.kills,
            r.failpoint_kills,
            r.timed_kills,
            r.no_kill,
            r.dirty_after_kill,
            r.orphans,
            pct_ms(&r.restart_to_clean, 50.0),
            pct_ms(&r.restart_to_clean, 99.0)
        );
        kills += r.kills;
        orphans += r.orphans;
        fp += r.failpoint_kills;
        timed += r.timed_kills;
        no_kill += r.no_kill;
        dirty += r.dirty_after_kill;
        all.extend(r.restart_to_clean.iter().copied());
        let kind = name.split(' ').next().unwrap_or_default().to_string();
        *by_kind.entry(kind).or_default() += r.kills;
    }
    println!(
        "{:<34} {:>6} {:>10} {:>6} {:>8} {:>6} {:>9} {:>12.0} {:>12.0}",
        "TOTAL",
        kills,
        fp,
        timed,
        no_kill,
        dirty,
        orphans,
        pct_ms(&all, 50.0),
        pct_ms(&all, 99.0)
    );
    println!();
    println!("kills per fault kind: {by_kind:?}");
    println!(
        "kills that left a live fault behind (seen before the restart): {dirty}; orphaned faults after the restart: {orphans}"
    );
    println!(
        "columns: failpoint/timed = how the kill came; no kill = the run ended before its timed kill (not counted); dirty = the system was seen faulted right after the kill; p50/p99 = restart (process start) to verified clean state"
    );
    println!(
        "time from restart to clean state: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} restarts)",
        pct_ms(&all, 50.0),
        pct_ms(&all, 99.0),
        pct_ms(&all, 100.0),
        all.len()
    );
    println!(
        "seed {seed}; {} cells; moto {}; took {:?}",
        reports.len(),
        if moto.is_some() {
            "yes"
        } else {
            "SKIPPED (not installed)"
        },
        started.elapsed()
    );
    let problems: Vec<&String> = reports
        .iter()
        .flat_map(|(_, r)| r.problems.iter())
        .collect();
    assert!(
        kills >= total_kills.min(cells.len()),
        "too few kills: {kills}"
    );
    assert_eq!(orphans, 0, "orphaned faults: {problems:#?}");
    assert!(
        dirty > 0,
        "no kill ever left a fault behind: the campaign tested nothing"
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the full crash campaign (1,000+ kills, 30-60 min): cargo test --release --test campaign_crash -- --ignored --nocapture"]
async fn crash_campaign_full() {
    campaign(env_num("CHAOSDUCK_CAMPAIGN_KILLS", 1050)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_campaign_smoke() {
    campaign(env_num("CHAOSDUCK_CAMPAIGN_SMOKE_KILLS", 20)).await;
}

#[test]
fn failpoints_cover_every_journal_step_of_every_mutation() {
    let f = failpoints(3);
    for s in chaosduck::safety::failpoint::STEPS {
        assert!(f.iter().any(|x| x.starts_with(s)), "{s} missing");
    }
    assert!(f.contains(&"after-apply:3".to_string()));
    assert!(f.contains(&"before-revert:1".to_string()));
}
