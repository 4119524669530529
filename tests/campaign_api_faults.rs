//! API fault campaign: a faulty proxy (`chaosduck::sandbox::faulty_proxy`) sits in front of the
//! Kubernetes API of a `chaosduck sandbox serve` process, in front of its AWS account and in
//! front of moto. For every fault kind, runs go through the proxy while it answers a share of
//! the calls with 500s or 503s, slow answers, held connections (client-side timeouts) or cut
//! connections — only while the run injects, only while it reverts, or both (it follows the
//! run's printed phases). After each run, the journal is cross-checked against the real system
//! (read directly, not through the proxy):
//!
//! - every undo is either confirmed (`reverted`) or reported failed and kept open (`failed`);
//!   nothing is left `intent`/`applied` by a process that exited on its own;
//! - nothing is silently lost: when the journal says everything was reverted, the system is clean;
//! - the exit status agrees with the journal (failed steps → exit 5);
//! - no run hangs (each is bounded) or panics;
//! - a later `chaosduck recover` without faults closes the journal and leaves the system clean.
//!
//! The full campaign:
//!   cargo test --release --test campaign_api_faults -- --ignored --nocapture
//! Env: `CHAOSDUCK_API_CAMPAIGN_ROUNDS` (runs per fault kind and system, default 12),
//! `CHAOSDUCK_API_CAMPAIGN_RATE` (share of faulted calls, default 0.5),
//! `CHAOSDUCK_CAMPAIGN_SEED`, `CHAOSDUCK_CAMPAIGN_CELLS` (as in the crash campaign).
//! Client bounds used: `[kubernetes] request_timeout = "2s"`, `CHAOSDUCK_AWS_ATTEMPT_TIMEOUT=2s`,
//! `[rollback] max_attempts = 3`; held connections are held 60 s (longer than any client bound).

mod aws_common;
mod campaign_common;

use aws_common::fixture;
use aws_common::{Moto, Sdk};
use campaign_common::{
    AWS, CampHome, K8S, Proc, Served, System, Tally, all_entries, aws_spec, code, env_num,
    open_entries, run_bounded, seed, text,
};
use chaosduck::sandbox::faulty_proxy::{FaultKind, FaultPlan, FaultyProxy, ProxyCounts};
use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When the proxy injects faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Window {
    Inject,
    Revert,
    Both,
}

impl Window {
    fn name(self) -> &'static str {
        match self {
            Window::Inject => "inject",
            Window::Revert => "revert",
            Window::Both => "both",
        }
    }
}

fn faulty(rate: f64) -> FaultPlan {
    FaultPlan {
        rate,
        kinds: FaultKind::ALL.to_vec(),
        slow: Duration::from_millis(1200),
        hold: Duration::from_secs(60),
        ..FaultPlan::every_kind(rate)
    }
}

const CONFIG: &str = "[kubernetes]\nrequest_timeout = \"2s\"\n\n[rollback]\nmax_attempts = 3\n";

#[derive(Default)]
struct CellReport {
    rounds: usize,
    /// Journal entries confirmed reverted by the run itself.
    reverted: usize,
    /// Entries the run reported failed and kept open.
    kept: usize,
    /// Kept entries a later `recover` without faults closed.
    recovered_later: usize,
    /// Entries neither reverted nor failed after the run exited, systems dirty although the
    /// journal says reverted, statuses that disagree with the journal, hangs, panics.
    lost: usize,
    exits: Tally,
    faults: ProxyCounts,
    problems: Vec<String>,
}

struct Cell {
    name: String,
    spec: String,
    home: CampHome,
    proxy: Arc<FaultyProxy>,
    system: System,
}

fn add(a: &mut ProxyCounts, before: ProxyCounts, after: ProxyCounts) {
    a.requests += after.requests - before.requests;
    a.passed += after.passed - before.passed;
    a.error_500 += after.error_500 - before.error_500;
    a.error_503 += after.error_503 - before.error_503;
    a.slow += after.slow - before.slow;
    a.timeout += after.timeout - before.timeout;
    a.dropped += after.dropped - before.dropped;
    a.upstream_errors += after.upstream_errors - before.upstream_errors;
}

/// One run through the proxy with faults in `window`; returns the run's output.
fn run_through(
    cell: &Cell,
    file: &str,
    window: Window,
    rate: f64,
) -> Result<(i32, String), String> {
    let mut c = cmd(cell);
    c.args(["run", file])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cell.proxy.set_plan(FaultPlan::off());
    let mut p = Proc::spawn(c);
    let stdout = p.take_stdout();
    let proxy = cell.proxy.clone();
    // Follow the printed phases and switch the proxy.
    let follower = std::thread::spawn(move || {
        let mut out = String::new();
        let Some(s) = stdout else { return out };
        for line in std::io::BufReader::new(s).lines().map_while(Result::ok) {
            let phase = line.split("] ").nth(1).unwrap_or_default();
            match phase {
                "INJECT" if window != Window::Revert => proxy.set_plan(faulty(rate)),
                "OBSERVE" => proxy.set_plan(FaultPlan::off()),
                "ROLLBACK" if window != Window::Inject => proxy.set_plan(faulty(rate)),
                "ROLLBACK" => proxy.set_plan(FaultPlan::off()),
                _ if phase.starts_with("finished") => proxy.set_plan(FaultPlan::off()),
                _ => {}
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    });
    let o = p.finish(Duration::from_secs(300));
    cell.proxy.set_plan(FaultPlan::off());
    let printed = follower.join().unwrap_or_default();
    let o = o.map_err(|e| format!("run HUNG: {e}\n{printed}"))?;
    if let Some(sig) = o.status.signal() {
        return Err(format!("run died by signal {sig}\n{printed}{}", text(&o)));
    }
    if code(&o) == 101 || text(&o).contains("panicked") {
        return Err(format!("run PANICKED\n{printed}{}", text(&o)));
    }
    Ok((code(&o), format!("{printed}{}", text(&o))))
}

async fn run_cell(cell: &Cell, rounds: usize, rate: f64) -> CellReport {
    let mut rep = CellReport::default();
    let file = cell.home.experiment("api", &cell.spec);
    let file = file.to_string_lossy().to_string();
    let windows = [Window::Both, Window::Revert, Window::Inject];
    eprintln!("== {}: {rounds} rounds at fault rate {rate}", cell.name);
    for round in 0..rounds {
        rep.rounds += 1;
        let window = windows[round % windows.len()];
        let before = cell.proxy.counts();
        let seen = experiments(cell);
        // The run blocks this worker; the proxies keep serving on the other.
        let res = tokio::task::block_in_place(|| run_through(cell, &file, window, rate));
        add(&mut rep.faults, before, cell.proxy.counts());
        let (exit, printed) = match res {
            Ok(r) => r,
            Err(e) => {
                rep.lost += 1;
                rep.problems
                    .push(format!("{} round {round}: {e}", cell.name));
                eprintln!("!! {} round {round}: {e}", cell.name);
                (-1, String::new())
            }
        };
        *rep.exits.entry(format!("exit {exit}")).or_default() += 1;
        // This run's journal, read from the store.
        let db = cell.home.db();
        let entries: Vec<(String, String, String)> =
            tokio::task::block_in_place(|| all_entries(&db))
                .unwrap_or_else(|e| vec![(String::new(), "unreadable".into(), e)])
                .into_iter()
                .filter(|(id, _, _)| !seen.contains(id))
                .collect();
        let failed = entries.iter().filter(|e| e.1 == "failed").count();
        let undecided: Vec<String> = entries
            .iter()
            .filter(|e| e.1 != "failed" && e.1 != "reverted")
            .map(|e| format!("{} {}", e.1, e.2))
            .collect();
        rep.kept += failed;
        rep.reverted += entries.iter().filter(|e| e.1 == "reverted").count();
        let open = tokio::task::block_in_place(|| open_entries(&cell.home.db()))
            .unwrap_or_else(|e| vec![format!("unreadable journal: {e}")]);
        let mut wrong = Vec::new();
        if exit >= 0 && !undecided.is_empty() {
            wrong.push(format!(
                "entries neither reverted nor failed after the run exited: {undecided:?}"
            ));
        }
        if failed > 0 && exit != 5 {
            wrong.push(format!(
                "{failed} step(s) failed and kept, but the run exited {exit} (want 5)"
            ));
        }
        if open.is_empty() && exit >= 0 {
            let left = cell.system.leftovers(Duration::from_secs(10)).await;
            if !left.is_empty() {
                wrong.push(format!(
                    "the journal says everything was reverted, but the system is not clean: {left:?}"
                ));
            }
        }
        if !wrong.is_empty() {
            rep.lost += wrong.len();
            eprintln!(
                "!! {} round {round} ({}): {wrong:?}\n{printed}",
                cell.name,
                window.name()
            );
            rep.problems.extend(
                wrong
                    .into_iter()
                    .map(|w| format!("{} round {round}: {w}", cell.name)),
            );
        }
        // A later recover without faults closes everything.
        cell.proxy.set_plan(FaultPlan::off());
        let mut c = cmd(cell);
        c.arg("recover");
        let o = tokio::task::spawn_blocking(move || run_bounded(c, Duration::from_secs(300)))
            .await
            .expect("join");
        let mut wrong = Vec::new();
        match &o {
            Ok(o) if code(o) == 0 => {}
            Ok(o) => wrong.push(format!("recover exited {}: {}", code(o), text(o))),
            Err(e) => wrong.push(format!("recover: {e}")),
        }
        let db = cell.home.db();
        let still = tokio::task::spawn_blocking(move || open_entries(&db))
            .await
            .expect("join")
            .unwrap_or_else(|e| vec![format!("unreadable journal: {e}")]);
        if !still.is_empty() {
            wrong.push(format!("still open after recover: {still:?}"));
        }
        let left = cell.system.leftovers(Duration::from_secs(10)).await;
        if !left.is_empty() {
            wrong.push(format!("not clean after recover: {left:?}"));
        }
        if wrong.is_empty() {
            rep.recovered_later += open.len();
        } else {
            rep.lost += wrong.len();
            eprintln!("!! {} round {round} recover: {wrong:?}", cell.name);
            rep.problems.extend(
                wrong
                    .into_iter()
                    .map(|w| format!("{} round {round}: {w}", cell.name)),
            );
        }
    }
    rep
}

async fn campaign(rounds: usize, rate: f64) {
    let seed = seed("CHAOSDUCK_CAMPAIGN_SEED");
    let only: Vec<String> = std::env::var("CHAOSDUCK_CAMPAIGN_CELLS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    println!(
        "API fault campaign: seed {seed}, fault rate {rate}, {rounds} rounds per cell (replay with CHAOSDUCK_CAMPAIGN_SEED={seed})"
    );
    let started = Instant::now();
    let served = Served::start();
    let client = served.client().await;
    let moto = Moto::start();
    let listen = "127.0.0.1:0".parse().expect("addr");
    let upstream = |url: &str| {
        chaosduck::sandbox::faulty_proxy::loopback_upstream(url).expect("loopback upstream")
    };
    let kube_proxy = Arc::new(
        FaultyProxy::start(upstream(&served.kube_url), listen, FaultPlan::off(), seed)
            .await
            .expect("kube proxy"),
    );
    // A kubeconfig naming the same context, pointed at the proxy (the journal's scope matches).
    let kc = std::fs::read_to_string(&served.kubeconfig)
        .expect("kubeconfig")
        .replace(&served.kube_url, &kube_proxy.url());
    let proxied_kc = served.dir.path().join("kubeconfig-proxied");
    std::fs::write(&proxied_kc, kc).expect("write kubeconfig");

    let mut cells = Vec::new();
    for (kind, body) in K8S {
        let home = CampHome::new(Some(&proxied_kc), None);
        write_config(&home);
        cells.push(Cell {
            name: format!("{kind} (k8s sandbox)"),
            spec: format!("{body}  duration: 3s\n  safety: {{blastRadius: 100%, timeout: 5m}}\n"),
            home,
            proxy: kube_proxy.clone(),
            system: System::K8s(client.clone()),
        });
    }
    let mut peers = vec![("sandbox account", served.aws_url.clone())];
    if let Some(m) = &moto {
        peers.insert(0, ("moto", m.url.clone()));
    }
    for (i, (peer, url)) in peers.iter().enumerate() {
        let sdk = Sdk::new(url);
        let net = fixture::build(&sdk).await;
        fixture::build_rds(&sdk).await;
        let proxy = Arc::new(
            FaultyProxy::start(upstream(url), listen, FaultPlan::off(), seed + 1 + i as u64)
                .await
                .expect("aws proxy"),
        );
        for kind in AWS {
            let sdk = Sdk::new(url);
            let before = fixture::snapshot(&sdk, &net).await;
            let home = CampHome::new(None, Some(&proxy.url()));
            write_config(&home);
            cells.push(Cell {
                name: format!("{kind} ({peer})"),
                spec: aws_spec(kind, &net, "1s"),
                home,
                proxy: proxy.clone(),
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

    let mut reports = Vec::new();
    for cell in &cells {
        let r = run_cell(cell, rounds, rate).await;
        eprintln!(
            "   {}: {} rounds, {} reverted, {} kept and recovered later, {} lost; proxy {}",
            cell.name, r.rounds, r.reverted, r.recovered_later, r.lost, r.faults
        );
        reports.push((cell.name.clone(), r));
    }

    println!();
    println!(
        "{:<34} {:>6} {:>7} {:>9} {:>6} {:>9} {:>5} {:>6} {:>5} {:>5} {:>7} {:>5}  exits",
        "fault (system)",
        "rounds",
        "calls",
        "reverted",
        "kept",
        "recovered",
        "lost",
        "5xx",
        "slow",
        "held",
        "dropped",
        "hangs"
    );
    let mut tot = CellReport::default();
    for (name, r) in &reports {
        let hangs = r.problems.iter().filter(|p| p.contains("HUNG")).count();
        println!(
            "{:<34} {:>6} {:>7} {:>9} {:>6} {:>9} {:>5} {:>6} {:>5} {:>5} {:>7} {:>5}  {:?}",
            name,
            r.rounds,
            r.faults.requests,
            r.reverted,
            r.kept,
            r.recovered_later,
            r.lost,
            r.faults.error_500 + r.faults.error_503,
            r.faults.slow,
            r.faults.timeout,
            r.faults.dropped,
            hangs,
            r.exits
        );
        tot.rounds += r.rounds;
        tot.reverted += r.reverted;
        tot.kept += r.kept;
        tot.recovered_later += r.recovered_later;
        tot.lost += r.lost;
        let z = ProxyCounts::default();
        add(&mut tot.faults, z, r.faults);
        for (k, v) in &r.exits {
            *tot.exits.entry(k.clone()).or_default() += v;
        }
        tot.problems.extend(r.problems.iter().cloned());
    }
    let hangs = tot.problems.iter().filter(|p| p.contains("HUNG")).count();
    println!(
        "{:<34} {:>6} {:>7} {:>9} {:>6} {:>9} {:>5} {:>6} {:>5} {:>5} {:>7} {:>5}  {:?}",
        "TOTAL",
        tot.rounds,
        tot.faults.requests,
        tot.reverted,
        tot.kept,
        tot.recovered_later,
        tot.lost,
        tot.faults.error_500 + tot.faults.error_503,
        tot.faults.slow,
        tot.faults.timeout,
        tot.faults.dropped,
        hangs,
        tot.exits
    );
    println!();
    println!(
        "undo steps: {} confirmed reverted by the run, {} reported failed and kept in the journal ({} of them closed by a later `recover` without faults); lost: {}",
        tot.reverted, tot.kept, tot.recovered_later, tot.lost
    );
    println!("proxy: {}", tot.faults);
    println!(
        "columns: calls = API calls through the proxy; reverted = undo steps the run confirmed; kept = steps the run reported failed and kept open; recovered = open steps a later `recover` without faults closed; lost = anything unaccounted (must be 0); 5xx/slow/held/dropped = faults injected"
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
    drop(cells);
    assert_eq!(tot.lost, 0, "{:#?}", tot.problems);
    assert!(
        tot.faults.faults() > 0,
        "the proxy injected nothing: the campaign tested nothing"
    );
}

/// The binary for a cell, with the campaign's short AWS attempt bound (held connections are
/// given up after 2 s, as `[kubernetes] request_timeout` does for Kubernetes).
fn cmd(cell: &Cell) -> std::process::Command {
    let mut c = cell.home.cmd();
    c.env("CHAOSDUCK_AWS_ATTEMPT_TIMEOUT", "2s");
    c
}

/// Ids of the experiments in a cell's store.
fn experiments(cell: &Cell) -> std::collections::HashSet<String> {
    tokio::task::block_in_place(|| all_entries(&cell.home.db()))
        .unwrap_or_default()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect()
}

fn write_config(home: &CampHome) {
    let dir = home.path().join("config").join("chaosduck");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), CONFIG).expect("config");
}

fn rate() -> f64 {
    std::env::var("CHAOSDUCK_API_CAMPAIGN_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the full API fault campaign (20-40 min): cargo test --release --test campaign_api_faults -- --ignored --nocapture"]
async fn api_fault_campaign_full() {
    campaign(env_num("CHAOSDUCK_API_CAMPAIGN_ROUNDS", 12), rate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_fault_campaign_smoke() {
    campaign(env_num("CHAOSDUCK_API_CAMPAIGN_SMOKE_ROUNDS", 1), rate()).await;
}

/// Regression: kube sets no read timeout, so an API server holding a connection unanswered
/// stalled a revert (and the exit after SIGTERM) for as long as it held it (600 s here before the
/// fix). Now each request is bounded by `[kubernetes] request_timeout`: the step fails, is kept in
/// the journal, the run exits 5 promptly, and a later `recover` reverts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_connection_during_revert_fails_the_step_instead_of_hanging() {
    let served = Served::start();
    let client = served.client().await;
    let proxy = FaultyProxy::start(
        chaosduck::sandbox::faulty_proxy::loopback_upstream(&served.kube_url).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        FaultPlan::off(),
        1,
    )
    .await
    .expect("proxy");
    let kc = std::fs::read_to_string(&served.kubeconfig)
        .unwrap()
        .replace(&served.kube_url, &proxy.url());
    let proxied = served.dir.path().join("kubeconfig-proxied");
    std::fs::write(&proxied, kc).unwrap();
    let home = CampHome::new(Some(&proxied), None);
    let dir = home.path().join("config").join("chaosduck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[kubernetes]\nrequest_timeout = \"1s\"\n\n[rollback]\nmax_attempts = 2\n",
    )
    .unwrap();
    // Every DELETE of a NetworkPolicy is held for ten minutes.
    proxy.set_plan(FaultPlan {
        kinds: vec![FaultKind::Timeout],
        hold: Duration::from_secs(600),
        matcher: chaosduck::sandbox::faulty_proxy::Matcher {
            methods: vec!["DELETE".into()],
            path_contains: vec!["networkpolicies".into()],
            body_contains: vec![],
        },
        ..FaultPlan::every_kind(1.0)
    });
    let f = home.experiment(
        "held",
        "  fault: {type: network_partition}\n  target: {pods: {namespace: shop, selector: app=redis}}\n  duration: 1s\n  safety: {blastRadius: 100%}\n",
    );
    let mut c = home.cmd();
    c.args(["run", "-o", "json", f.to_str().unwrap()]);
    let start = Instant::now();
    let o = tokio::task::spawn_blocking(move || run_bounded(c, Duration::from_secs(90)))
        .await
        .unwrap()
        .expect("the run must not hang on a held connection");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(code(&o), 5, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let states: Vec<&str> = v["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(states, ["reverted", "failed"], "{v}");
    assert!(proxy.counts().timeout >= 2, "{}", proxy.counts());
    // Without the fault, `recover` confirms the policy is gone and closes the journal.
    proxy.set_plan(FaultPlan::off());
    let mut c = home.cmd();
    c.arg("recover");
    let o = tokio::task::spawn_blocking(move || run_bounded(c, Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(open_entries(&home.db()).unwrap().is_empty());
    assert!(
        campaign_common::k8s_clean_within(&client, Duration::from_secs(10))
            .await
            .is_empty()
    );
    proxy.shutdown().await;
}
