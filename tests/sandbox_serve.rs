//! `serve`: the sandbox as its own long-running command, stopped by SIGTERM, with a kubeconfig
//! that kubectl and the kube client can use.

mod sandbox_common;

use std::time::Duration;

use chaosduck::sandbox::{SandboxServeArgs, serve};
use clap::Parser;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use sandbox_common::eventually;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: SandboxServeArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_writes_a_kubeconfig_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kubeconfig");
    let cli = Cli::parse_from([
        "serve",
        "--write-kubeconfig",
        cfg.to_str().unwrap(),
        "--readiness-delay",
        "100ms",
        "--no-apps",
    ]);
    assert_eq!(cli.serve.port, 0);
    let task = tokio::spawn(serve(cli.serve));
    let text = eventually("kubeconfig written", Duration::from_secs(10), || async {
        std::fs::read_to_string(&cfg)
            .ok()
            .filter(|t| t.contains("current-context"))
    })
    .await;
    assert!(text.contains("server: http://127.0.0.1:"), "{text}");
    assert!(
        text.contains("current-context: chaosduck-sandbox"),
        "{text}"
    );

    let kc = kube::config::Kubeconfig::read_from(&cfg).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config from kubeconfig");
    let client = kube::Client::try_from(config).unwrap();
    let nodes: Api<Node> = Api::all(client);
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );

    // SIGTERM to this process: serve's handler catches it and shuts down cleanly.
    // SAFETY: plain libc calls on our own pid.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGTERM);
    }
    let res = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("serve returns after SIGTERM");
    res.expect("task joined").expect("serve ok");
    assert!(
        nodes.list(&ListParams::default()).await.is_err(),
        "server still answering after SIGTERM"
    );
}
