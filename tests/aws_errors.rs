//! Errors from AWS give clear messages and never lose an undo entry: a route table that vanished
//! mid-run (moto and the sandbox), throttling, AccessDenied and IncorrectInstanceState (the
//! sandbox only: moto cannot be made to throttle or deny, so those are injected there).

mod aws_common;
use aws_common::fixture::{self, Net};
use aws_common::{AwsHome, Peer, Sdk, code, eventually, peers, sandbox, text};
use chaosduck::sandbox::aws::InjectedError;
use std::time::Duration;

const OBSERVE: Duration = Duration::from_secs(20);

fn exp(h: &AwsHome, fault: &str, target: &str, duration: &str) -> std::path::PathBuf {
    h.experiment(
        "err",
        &format!("  fault: {fault}\n  target: {target}\n  duration: {duration}\n  safety: {{blastRadius: 100%}}\n"),
    )
}

/// A config with quick, few rollback retries so failing undo steps fail fast.
fn quick_rollback(h: &AwsHome) -> String {
    h.config("[rollback]\nmax_attempts = 2\ninitial_backoff = \"100ms\"\nmax_backoff = \"200ms\"\n")
        .to_string_lossy()
        .into_owned()
}

/// The undo records still open after `recover`, as JSON.
fn still_open(h: &AwsHome, cfg: &str) -> (i32, Vec<serde_json::Value>, String) {
    let o = h
        .cmd()
        .env("CHAOSDUCK_AWS_WAIT_TIMEOUT", "2s")
        .args(["--config", cfg, "recover", "--output", "json"])
        .output()
        .expect("recover");
    h.assert_no_secret(&text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    (
        code(&o),
        v["still_open"].as_array().cloned().unwrap_or_default(),
        text(&o),
    )
}

async fn blackholed(sdk: &Sdk, net: &Net, cidr: &str) -> bool {
    fixture::routes(sdk, &net.rtb)
        .await
        .get(cidr)
        .is_some_and(|r| r.contains("eni-") && !r.contains("igw-") && !r.contains("nat-"))
        && fixture::table_tags(sdk, &net.rtb)
            .await
            .contains_key(&format!("chaosduck:original-route:{cidr}"))
}

async fn vanished_route_table_on(peer: &Peer) {
    let sdk = Sdk::new(&peer.url());
    let net = fixture::build(&sdk).await;
    let enis_before = fixture::interfaces(&sdk).await;
    let h = AwsHome::new(&peer.url());
    let cfg = quick_rollback(&h);
    let f = exp(
        &h,
        "{type: route_blackhole}",
        &format!(
            "{{route: {{routeTable: {}, destinationCidr: 0.0.0.0/0}}}}",
            net.rtb
        ),
        "4s",
    );
    let child = h.spawn(&["--config", &cfg, "run", f.to_str().unwrap()]);
    assert!(
        eventually(OBSERVE, || blackholed(&sdk, &net, "0.0.0.0/0")).await,
        "never blackholed"
    );
    // Someone deletes the route table while the fault is held.
    sdk.ec2
        .delete_route_table()
        .route_table_id(&net.rtb)
        .send()
        .await
        .expect("DeleteRouteTable");
    let o = child.finish(Duration::from_secs(60));
    let t = text(&o);
    assert_eq!(code(&o), 5, "{t}");
    assert!(
        t.contains(&format!("route table {} no longer exists", net.rtb)),
        "no clear message: {t}"
    );
    // The interface was still cleaned up; the route restore stays in the journal.
    assert_eq!(
        fixture::interfaces(&sdk).await,
        enis_before,
        "interface left"
    );
    let (c, open, t) = still_open(&h, &cfg);
    assert_eq!(c, 5, "{t}");
    assert_eq!(open.len(), 1, "{t}");
    assert_eq!(open[0]["undo"]["kind"], "aws_restore_route", "{t}");
    assert_eq!(open[0]["state"], "failed", "{t}");
    assert!(
        open[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no longer exists") && e.contains("igw-")),
        "{t}"
    );
    h.assert_store_and_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_route_table_that_vanished_keeps_its_undo_with_a_clear_message() {
    for peer in peers().await {
        eprintln!("== vanished route table against {}", peer.name());
        vanished_route_table_on(&peer).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_during_revert_keeps_the_undo_until_recover_succeeds() {
    let peer = sandbox().await;
    let sb = peer.sandbox().expect("sandbox");
    let sdk = Sdk::new(&peer.url());
    let net = fixture::build(&sdk).await;
    let h = AwsHome::new(&peer.url());
    let cfg = quick_rollback(&h);
    let f = exp(
        &h,
        "{type: ec2_stop}",
        &format!("{{instances: {{ids: [{}]}}}}", net.web[0]),
        "2s",
    );
    let child = aws_common::Bg::new(
        h.cmd()
            .env("CHAOSDUCK_AWS_WAIT_TIMEOUT", "2s")
            .args(["--config", &cfg, "run", f.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let stopped = eventually(OBSERVE, || async {
        fixture::instances(&sdk).await[&net.web[0]].0 == "stopped"
    })
    .await;
    assert!(stopped, "never stopped");
    sb.inject_error(InjectedError {
        action: "StartInstances".into(),
        code: "RequestLimitExceeded".into(),
        status: 503,
        count: 100_000,
        message: "Request limit exceeded.".into(),
    });
    let o = child.finish(Duration::from_secs(90));
    let t = text(&o);
    assert_eq!(code(&o), 5, "{t}");
    assert!(t.contains("throttling"), "no clear message: {t}");
    assert_eq!(fixture::instances(&sdk).await[&net.web[0]].0, "stopped");
    let (c, open, t) = still_open(&h, &cfg);
    assert_eq!(c, 5, "recover must fail while throttled: {t}");
    assert_eq!(open.len(), 1, "{t}");
    assert_eq!(open[0]["undo"]["kind"], "aws_start_instance", "{t}");
    // Throttling ends: recover finishes the job.
    sb.clear_errors();
    let (c, open, t) = still_open(&h, &cfg);
    assert_eq!(c, 0, "{t}");
    assert!(open.is_empty(), "{t}");
    let (state, tags) = fixture::instances(&sdk).await[&net.web[0]].clone();
    assert_eq!(state, "running");
    assert!(
        !tags.keys().any(|k| k.starts_with("chaosduck:")),
        "{tags:?}"
    );
    h.assert_store_and_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn access_denied_names_the_permission_problem_and_keeps_the_undo() {
    let peer = sandbox().await;
    let sb = peer.sandbox().expect("sandbox");
    let sdk = Sdk::new(&peer.url());
    let net = fixture::build(&sdk).await;
    let routes_before = fixture::routes(&sdk, &net.rtb).await;
    let enis_before = fixture::interfaces(&sdk).await;
    let h = AwsHome::new(&peer.url());
    let cfg = quick_rollback(&h);
    sb.inject_error(InjectedError {
        action: "DeleteNetworkInterface".into(),
        code: "UnauthorizedOperation".into(),
        status: 403,
        count: 100_000,
        message: "You are not authorized to perform this operation.".into(),
    });
    let f = exp(
        &h,
        "{type: route_blackhole}",
        &format!(
            "{{route: {{routeTable: {}, destinationCidr: 10.1.0.0/16}}}}",
            net.rtb
        ),
        "1s",
    );
    let o = h.run(&["--config", &cfg, "run", f.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(code(&o), 5, "{t}");
    assert!(
        t.contains("access denied") && t.contains("--profile"),
        "{t}"
    );
    // The route came back; only the interface deletion is pending.
    assert_eq!(fixture::routes(&sdk, &net.rtb).await, routes_before);
    let (_, open, t) = still_open(&h, &cfg);
    assert_eq!(open.len(), 1, "{t}");
    assert_eq!(
        open[0]["undo"]["kind"], "aws_delete_blackhole_interface",
        "{t}"
    );
    sb.clear_errors();
    let (c, open, t) = still_open(&h, &cfg);
    assert_eq!(c, 0, "{t}");
    assert!(open.is_empty(), "{t}");
    assert_eq!(fixture::interfaces(&sdk).await, enis_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incorrect_instance_state_fails_the_injection_and_rolls_back_cleanly() {
    let peer = sandbox().await;
    let sb = peer.sandbox().expect("sandbox");
    let sdk = Sdk::new(&peer.url());
    let net = fixture::build(&sdk).await;
    let before = fixture::instances(&sdk).await;
    let h = AwsHome::new(&peer.url());
    sb.inject_error(InjectedError {
        action: "StopInstances".into(),
        code: "IncorrectInstanceState".into(),
        status: 400,
        count: 1,
        message: format!(
            "The instance '{}' is not in a state from which it can be stopped.",
            net.web[0]
        ),
    });
    let f = exp(
        &h,
        "{type: ec2_stop}",
        &format!("{{instances: {{ids: [{}]}}}}", net.web[0]),
        "1s",
    );
    let o = h.run(&["run", f.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(code(&o), 5, "{t}");
    assert!(t.contains("IncorrectInstanceState"), "{t}");
    // The intent was journaled and its undo ran: the tags written before the stop are gone.
    assert_eq!(fixture::instances(&sdk).await, before);
    let o = h.run(&["recover"]);
    assert!(text(&o).contains("journal clean"), "{}", text(&o));
}
