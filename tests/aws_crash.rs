//! Crash matrix against moto: `chaosduck run` is killed (SIGKILL, via failpoints) at every
//! journal step of every AWS fault, then `chaosduck recover` must restore everything exactly.
//! Plus the sweep: with the journal deleted, the tags alone let `recover --sweep` restore.

mod aws_common;
use aws_common::fixture::{self, Net};
use aws_common::{AwsHome, Peer, Sdk, code, peers, text};
use std::time::{Duration, Instant};

/// (fault, target, steps in the plan)
fn fault(kind: &str, net: &Net) -> (String, String, usize) {
    match kind {
        "ec2_stop" => (
            "{type: ec2_stop}".into(),
            "{instances: {tags: {role: web}, count: 2}}".into(),
            2,
        ),
        "route_blackhole" => (
            "{type: route_blackhole}".into(),
            format!(
                "{{route: {{routeTable: {}, destinationCidr: 10.1.0.0/16}}}}",
                net.rtb
            ),
            2,
        ),
        "az_outage" => (
            "{type: az_outage}".into(),
            format!(
                "{{availabilityZone: {{vpc: {}, zone: us-east-1a}}}}",
                net.vpc
            ),
            3,
        ),
        "rds_failover" => (
            "{type: rds_failover, failBack: true}".into(),
            "{dbCluster: {id: orders}}".into(),
            1,
        ),
        other => panic!("unknown fault {other}"),
    }
}

fn failpoints(steps: usize) -> Vec<String> {
    let mut v = vec!["after-plan".to_string()];
    for s in [
        "after-intent",
        "after-apply",
        "before-revert",
        "after-revert",
    ] {
        v.push(format!("{s}:1"));
        if steps > 1 {
            v.push(format!("{s}:{steps}"));
        }
    }
    v.push("mid-observe".into());
    v.push("before-finish".into());
    v
}

async fn fresh(peer: &Peer, sdk: &Sdk, rds: bool) -> Net {
    peer.reset();
    let net = fixture::build(sdk).await;
    if rds {
        fixture::build_rds(sdk).await;
    }
    net
}

async fn crash_matrix(kind: &str) {
    for peer in peers().await {
        eprintln!("== {kind} crash matrix against {}", peer.name());
        crash_matrix_on(&peer, kind).await;
    }
}

async fn crash_matrix_on(peer: &Peer, kind: &str) {
    let sdk = Sdk::new(&peer.url());
    let probe = fresh(peer, &sdk, kind == "rds_failover").await;
    let (_, _, steps) = fault(kind, &probe);
    let mut revert_times = Vec::new();
    for fp in failpoints(steps) {
        let net = fresh(peer, &sdk, kind == "rds_failover").await;
        let before = fixture::snapshot(&sdk, &net).await;
        let h = AwsHome::new(&peer.url());
        let (f, t, _) = fault(kind, &net);
        let file = h.experiment(
            "crash",
            &format!(
                "  fault: {f}\n  target: {t}\n  duration: 1s\n  safety: {{blastRadius: 100%}}\n"
            ),
        );
        let o = h
            .cmd()
            .env("CHAOSDUCK_FAILPOINT", &fp)
            .args(["run", file.to_str().unwrap()])
            .output()
            .expect("run");
        h.assert_no_secret(&text(&o));
        assert!(
            o.status.code().is_none(),
            "{kind} {fp}: the run must die by SIGKILL: {}",
            text(&o)
        );
        let start = Instant::now();
        let o = h.run(&["recover"]);
        let took = start.elapsed();
        assert_eq!(code(&o), 0, "{kind} {fp}: {}", text(&o));
        assert!(
            text(&o).contains("journal clean"),
            "{kind} {fp}: {}",
            text(&o)
        );
        let after = fixture::snapshot(&sdk, &net).await;
        assert_eq!(after, before, "{kind} {fp}: not restored exactly");
        if fp.starts_with("after-apply:") && fp.ends_with(&steps.to_string()) {
            revert_times.push(took);
        }
        h.assert_store_and_logs_clean();
    }
    eprintln!(
        "{kind} on {}: `chaosduck recover` after a kill with everything applied took {revert_times:?}",
        peer.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ec2_stop_survives_a_kill_at_every_journal_step() {
    crash_matrix("ec2_stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn route_blackhole_survives_a_kill_at_every_journal_step() {
    crash_matrix("route_blackhole").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn az_outage_survives_a_kill_at_every_journal_step() {
    crash_matrix("az_outage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rds_failover_survives_a_kill_at_every_journal_step() {
    crash_matrix("rds_failover").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweep_restores_every_fault_from_tags_alone_with_the_journal_deleted() {
    for peer in peers().await {
        eprintln!("== sweep against {}", peer.name());
        sweep_on(&peer).await;
    }
}

async fn sweep_on(peer: &Peer) {
    let sdk = Sdk::new(&peer.url());
    let net = fresh(peer, &sdk, true).await;
    let before = fixture::snapshot(&sdk, &net).await;
    let h = AwsHome::new(&peer.url());
    for (kind, steps) in [
        ("route_blackhole", 2),
        ("az_outage", 3),
        ("ec2_stop", 2),
        ("rds_failover", 1),
    ] {
        let (f, t, _) = fault(kind, &net);
        let file = h.experiment(
            &kind.replace('_', "-"),
            &format!("  fault: {f}\n  target: {t}\n  duration: 1s\n  safety: {{blastRadius: 100%, timeout: 2s}}\n"),
        );
        let o = h
            .cmd()
            .env("CHAOSDUCK_FAILPOINT", format!("after-apply:{steps}"))
            .args(["run", file.to_str().unwrap()])
            .output()
            .expect("run");
        assert!(o.status.code().is_none(), "{kind}: {}", text(&o));
        // The journal is lost.
        std::fs::remove_file(h.db()).expect("delete the store");
    }
    assert_ne!(
        fixture::snapshot(&sdk, &net).await,
        before,
        "nothing was injected"
    );
    // Before expiry a sweep leaves everything alone (a live run could own it)...
    let o = h.run(&["recover", "--sweep"]);
    assert!(text(&o).contains("skipped"), "{}", text(&o));
    assert_ne!(
        fixture::snapshot(&sdk, &net).await,
        before,
        "swept unexpired changes"
    );
    // ...and after expiry it restores everything from the tags.
    std::thread::sleep(Duration::from_millis(2500));
    let start = Instant::now();
    let o = h.run(&["recover", "--sweep"]);
    eprintln!(
        "sweep of four faults on {} took {:?}",
        peer.name(),
        start.elapsed()
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        !text(&o)
            .lines()
            .any(|l| l.trim_start().starts_with("failed")),
        "{}",
        text(&o)
    );
    assert_eq!(text(&o).matches("  restored ").count(), 8, "{}", text(&o));
    assert_eq!(
        fixture::snapshot(&sdk, &net).await,
        before,
        "sweep did not restore exactly"
    );
    // A second sweep finds nothing.
    let o = h.run(&["recover", "--sweep", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["sweep"][0]["items"].as_array().map(Vec::len),
        Some(0),
        "{v}"
    );
    h.assert_store_and_logs_clean();
}
