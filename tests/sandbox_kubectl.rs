//! Third-party check: Debian's kubectl (`kubernetes-client`) lists from the sandbox.

mod sandbox_common;

use std::path::PathBuf;
use std::process::Output;

use chaosduck::sandbox::{Sandbox, SandboxOptions};

fn kubectl_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("KUBECTL") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    })
}

async fn kubectl(bin: &PathBuf, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("HOME", kubeconfig.parent().unwrap());
    cmd.kill_on_drop(true);
    tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("kubectl finished in time")
        .expect("kubectl runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_lists_pods_nodes_deployments_and_services() {
    let Some(bin) = kubectl_path() else {
        eprintln!("SKIPPED: kubectl is not installed (apt-get install kubernetes-client)");
        return;
    };
    let sb = Sandbox::start(SandboxOptions::fast())
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kubeconfig");
    sb.write_kubeconfig(&cfg).unwrap();

    let out = kubectl(&bin, &cfg, &["get", "pods", "-A"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "kubectl get pods failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    for want in [
        "READY",
        "STATUS",
        "shop",
        "kube-system",
        "redis-0",
        "postgres-0",
        "frontend-",
        "1/1",
        "Running",
    ] {
        assert!(text.contains(want), "missing {want} in:\n{text}");
    }
    // One line per pod plus the header.
    assert_eq!(text.lines().count(), sb.pods(None).len() + 1, "{text}");

    let out = kubectl(&bin, &cfg, &["get", "nodes", "-o", "name"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("node/sandbox-node-a"));

    let out = kubectl(&bin, &cfg, &["get", "deployments", "-n", "shop"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in ["frontend", "checkout", "payments", "catalog"] {
        assert!(text.contains(want), "missing {want} in:\n{text}");
    }

    let out = kubectl(&bin, &cfg, &["get", "services", "-A", "-o", "json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json list");
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    for want in ["kubernetes", "frontend", "postgres", "kube-dns"] {
        assert!(names.contains(&want), "missing service {want} in {names:?}");
    }

    // Label selectors and a write through kubectl.
    let out = kubectl(
        &bin,
        &cfg,
        &[
            "get",
            "pods",
            "-n",
            "shop",
            "-l",
            "app in (redis,postgres)",
            "-o",
            "name",
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    let out = kubectl(&bin, &cfg, &["cordon", "sandbox-node-b"]).await;
    assert!(
        out.status.success(),
        "cordon: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let node = sb
        .nodes()
        .into_iter()
        .find(|n| n.metadata.name.as_deref() == Some("sandbox-node-b"))
        .unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true));
    let out = kubectl(&bin, &cfg, &["get", "nodes"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("Ready,SchedulingDisabled"), "{text}");
    sb.shutdown().await;
}
