//! `aws` probes against the sandbox AWS account through the real SDK: cluster status, writer,
//! instance state.

mod common;
use common::{Home, code, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_probes_read_cluster_status_writer_and_instances() {
    let sb = chaosduck::sandbox::aws::start(chaosduck::sandbox::aws::SandboxOptions::default())
        .await
        .expect("aws sandbox");
    let h = Home::new();
    let f = h.experiment(
        "aws-probes",
        "  fault: {type: rds_failover}\n  target: {dbCluster: {id: shop-orders}}\n  duration: 1s\n  probes:\n    - name: available\n      aws: {dbCluster: shop-orders, state: available}\n    - name: writer\n      aws: {dbCluster: shop-orders, writer: shop-orders-1}\n    - name: wrong-writer\n      aws: {dbCluster: shop-orders, writer: shop-orders-2}\n    - name: ghost\n      aws: {instance: i-0000000000000dead, state: running}\n",
    );
    let mut c = h.cmd_without_world();
    c.args([
        "--aws-endpoint-url",
        &sb.endpoint_url(),
        "check",
        "-o",
        "json",
        f.to_str().unwrap(),
    ])
    .env("AWS_ACCESS_KEY_ID", "sandbox")
    .env("AWS_SECRET_ACCESS_KEY", "sandbox")
    .env("AWS_REGION", "us-east-1")
    .env("AWS_EC2_METADATA_DISABLED", "true");
    let o = tokio::task::spawn_blocking(move || c.output().expect("run"))
        .await
        .expect("join");
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    let by = |n: &str| {
        v["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by("available")["passed"], true, "{v}");
    assert_eq!(by("writer")["passed"], true, "{v}");
    assert!(
        by("wrong-writer")["error"]
            .as_str()
            .unwrap()
            .contains("want shop-orders-2"),
        "{v}"
    );
    assert_eq!(by("ghost")["passed"], false, "{v}");
    assert!(!text(&o).contains("SECRET"), "no credentials in output");
    sb.shutdown().await;
}
