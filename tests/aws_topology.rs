//! AWS topology against moto and the sandbox, per-service error reporting, and the demo account
//! running the example experiments.

mod aws_common;
use aws_common::fixture;
use aws_common::{AwsHome, Peer, Sdk, code, peers, sandbox, text};
use chaosduck::sandbox::aws::{InjectedError, SandboxOptions};
use std::collections::BTreeSet;
use std::time::Duration;

async fn topology_on(peer: &Peer) {
    let sdk = Sdk::new(&peer.url());
    let net = fixture::build(&sdk).await;
    fixture::build_rds(&sdk).await;
    let h = AwsHome::new(&peer.url());
    let o = h.run(&["topology", "--aws", "--output", "json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let vpc = t["vpcs"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["id"] == net.vpc.as_str()))
        .expect("the fixture VPC");
    let zones: Vec<&str> = vpc["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .filter_map(|s| s["zone"].as_str())
        .collect();
    assert_eq!(zones.len(), 4, "{vpc}");
    assert_eq!(
        zones.iter().collect::<BTreeSet<_>>().len(),
        3,
        "three zones: {zones:?}"
    );
    let custom = vpc["subnets"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == net.subnets[1].0.as_str()))
        .expect("subnet");
    assert_eq!(custom["network_acl"], net.custom_acl.as_str());
    let rtb = vpc["route_tables"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == net.rtb.as_str()))
        .expect("route table");
    let kinds: BTreeSet<&str> = rtb["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(|r| r["target"]["type"].as_str())
        .collect();
    for k in ["gateway", "nat_gateway", "network_interface", "vpc_peering"] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    assert_eq!(t["instances"].as_array().map(Vec::len), Some(5), "{t}");
    let cluster = t["db_clusters"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "orders"))
        .expect("cluster");
    assert!(cluster["writer"].is_string());
    assert_eq!(cluster["readers"].as_array().map(Vec::len), Some(2));
    assert_eq!(t["errors"].as_array().map(Vec::len), Some(0), "{t}");
    // The text form names the same things.
    let o = h.run(&["topology", "--aws"]);
    assert!(
        text(&o).contains(&net.rtb) && text(&o).contains("writer"),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn topology_lists_the_network_instances_and_databases() {
    for peer in peers().await {
        eprintln!("== topology against {}", peer.name());
        topology_on(&peer).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn access_denied_on_rds_does_not_hide_ec2() {
    let peer = sandbox().await;
    let sdk = Sdk::new(&peer.url());
    let net = fixture::build(&sdk).await;
    peer.sandbox()
        .expect("sandbox")
        .inject_error(InjectedError {
            action: "DescribeDBClusters".into(),
            code: "AccessDenied".into(),
            status: 403,
            count: 100,
            message: "User is not authorized to perform: rds:DescribeDBClusters".into(),
        });
    let h = AwsHome::new(&peer.url());
    let o = h.run(&["topology", "--aws", "--output", "json"]);
    assert_eq!(code(&o), 5, "{}", text(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        t["vpcs"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v["id"] == net.vpc.as_str())),
        "{t}"
    );
    assert_eq!(t["instances"].as_array().map(Vec::len), Some(5), "{t}");
    let errs = t["errors"].as_array().expect("errors");
    assert_eq!(errs.len(), 1, "{t}");
    assert_eq!(errs[0]["service"], "rds");
    assert!(
        errs[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("access denied")),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_example_aws_experiments_run_against_the_demo_account() {
    let sb = chaosduck::sandbox::aws::start(SandboxOptions {
        port: 0,
        transition: Duration::from_millis(200),
        demo: true,
    })
    .await
    .expect("sandbox");
    let h = AwsHome::new(&sb.endpoint_url());
    let env = h.path().join("aws.env");
    sb.write_aws_env(&env).expect("write env");
    let env_text = std::fs::read_to_string(&env).expect("read env");
    assert!(env_text.contains(&format!("export AWS_ENDPOINT_URL={}", sb.endpoint_url())));
    assert!(env_text.contains("export AWS_REGION=us-east-1"));
    let before = h.run(&["topology", "--aws", "--output", "json"]);
    assert_eq!(code(&before), 0, "{}", text(&before));
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    for name in ["ec2-stop", "route-blackhole", "az-outage", "rds-failover"] {
        let src = std::fs::read_to_string(examples.join(format!("{name}.yaml"))).expect("example");
        let o = h.run(&[
            "dry-run",
            examples.join(format!("{name}.yaml")).to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        // The same experiment, held for one second instead of minutes.
        let short: String = src
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("duration:") {
                    "  duration: 1s".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let f = h.path().join(format!("{name}.yaml"));
        std::fs::write(&f, short).expect("write");
        let o = h.run(&["run", f.to_str().unwrap()]);
        assert_eq!(code(&o), 7, "{name}: {}", text(&o));
        assert!(text(&o).contains("reverted"), "{name}: {}", text(&o));
    }
    let after = h.run(&["topology", "--aws", "--output", "json"]);
    assert_eq!(
        String::from_utf8_lossy(&after.stdout),
        String::from_utf8_lossy(&before.stdout),
        "the demo account was not restored exactly"
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn background_refresh_publishes_fresh_snapshots_until_cancelled() {
    let sb = chaosduck::sandbox::aws::start(SandboxOptions {
        port: 0,
        transition: Duration::from_millis(100),
        demo: true,
    })
    .await
    .expect("sandbox");
    let sdk = Sdk::new(&sb.endpoint_url());
    let c = chaosduck::engine::aws::client::Clients {
        region: "us-east-1".into(),
        ec2: sdk.ec2,
        rds: sdk.rds,
    };
    let (tx, mut rx) = tokio::sync::watch::channel(None);
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(chaosduck::topology::aws::refresh(
        c,
        Duration::from_millis(100),
        tx,
        cancel.clone(),
    ));
    let first = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|t| t.is_some()))
        .await
        .expect("a first snapshot in time")
        .expect("sender alive")
        .clone()
        .expect("snapshot");
    assert_eq!(first.db_clusters.len(), 1);
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    // A change shows up in a later snapshot.
    sb.with_account(|a| {
        if let Some(i) = a.instances.values_mut().next() {
            i.state = "stopped".into();
        }
    });
    let changed = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|t| {
            t.as_ref()
                .is_some_and(|t| t.instances.iter().any(|i| i.state == "stopped"))
        }),
    )
    .await;
    assert!(changed.is_ok(), "the change never reached a snapshot");
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("refresh stops when cancelled")
        .expect("task");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trace_logging_never_records_credentials() {
    let peer = sandbox().await;
    let h = AwsHome::new(&peer.url());
    let token = "SessionTokenNeverLogged7c1e5b2d8f4a";
    for filter in ["trace", "aws_sigv4=trace,aws_smithy_runtime=trace,trace"] {
        let o = h
            .cmd()
            .env("CHAOSDUCK_LOG", filter)
            .env("AWS_SESSION_TOKEN", token)
            .args(["topology", "--aws"])
            .output()
            .expect("run");
        assert_eq!(code(&o), 0, "{}", text(&o));
        assert!(!text(&o).contains(token));
        h.assert_no_secret(&text(&o));
        let mut logs = String::new();
        for e in std::fs::read_dir(h.path().join("state").join("chaosduck")).expect("log dir") {
            logs.push_str(&std::fs::read_to_string(e.expect("entry").path()).unwrap_or_default());
        }
        assert!(!logs.contains(token), "the session token reached the log");
        assert!(
            !logs.contains(aws_common::SECRET),
            "the secret key reached the log"
        );
    }
    h.assert_store_and_logs_clean();
}
