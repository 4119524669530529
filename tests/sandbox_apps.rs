//! Simulated apps behind Services, the injector contract, and exec stopping an injector.

mod sandbox_common;

use std::time::Duration;

use chaosduck::sandbox::{SandboxOptions, URL_ANNOTATION};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use sandbox_common::{eventually, http_get, start_with};
use serde_json::json;

fn injector(name: &str, fault: &str, duration: u64, extra: &[(&str, &str)]) -> serde_json::Value {
    let mut env = vec![
        json!({"name": "CHAOSDUCK_EXPERIMENT", "value": "exp-1"}),
        json!({"name": "CHAOSDUCK_FAULT", "value": fault}),
        json!({"name": "CHAOSDUCK_DURATION_SECONDS", "value": duration.to_string()}),
    ];
    for (k, v) in extra {
        env.push(json!({"name": k, "value": v}));
    }
    json!({"spec": {"ephemeralContainers": [{
        "name": name,
        "image": "ghcr.io/chaosduck/injector:1",
        "command": ["/bin/sh", "-c", "tc qdisc add dev eth0 root netem delay 300ms; sleep 60"],
        "env": env,
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        "targetContainerName": "app"
    }]}})
}

async fn inject_all(pods: &Api<Pod>, sel: &str, body: &serde_json::Value) -> Vec<String> {
    let names: Vec<String> = pods
        .list(&ListParams::default().labels(sel))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    for n in &names {
        pods.patch_ephemeral_containers(
            n,
            &PatchParams::default(),
            &Patch::Strategic(body.clone()),
        )
        .await
        .unwrap();
    }
    names
}

fn injector_state(p: &Pod, name: &str) -> Option<(&'static str, Option<i32>)> {
    let st = p
        .status
        .as_ref()?
        .ephemeral_container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == name)?;
    let state = st.state.as_ref()?;
    if state.running.is_some() {
        Some(("running", None))
    } else {
        state
            .terminated
            .as_ref()
            .map(|t| ("terminated", Some(t.exit_code)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_app_sees_latency_while_injector_runs_and_exec_stops_it() {
    let (sb, client) = start_with(SandboxOptions::fast()).await;
    let url = sb.app_url("shop", "frontend").expect("frontend app url");
    let svcs: Api<Service> = Api::namespaced(client.clone(), "shop");
    let svc = eventually("url annotation", Duration::from_secs(3), || async {
        let s = svcs.get("frontend").await.ok()?;
        s.metadata
            .annotations
            .as_ref()?
            .get(URL_ANNOTATION)
            .cloned()
    })
    .await;
    assert_eq!(svc, url);
    let (code, body, base) = http_get(&url).await;
    assert_eq!(code, Some(200), "{body}");
    assert!(body.contains("\"pod\":\"frontend-"), "{body}");
    assert!(
        base < Duration::from_millis(250),
        "baseline too slow: {base:?}"
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let names = inject_all(
        &pods,
        "app=frontend",
        &injector(
            "chaosduck-net-1",
            "network_latency",
            60,
            &[
                ("CHAOSDUCK_LATENCY_MS", "600"),
                ("CHAOSDUCK_JITTER_MS", "0"),
            ],
        ),
    )
    .await;
    assert_eq!(names.len(), 3);
    eventually("injectors running", Duration::from_secs(3), || async {
        let ps = pods
            .list(&ListParams::default().labels("app=frontend"))
            .await
            .ok()?
            .items;
        ps.iter()
            .all(|p| injector_state(p, "chaosduck-net-1") == Some(("running", None)))
            .then_some(())
    })
    .await;
    for _ in 0..3 {
        let (code, body, took) = http_get(&url).await;
        assert_eq!(code, Some(200), "{body}");
        assert!(
            took >= Duration::from_millis(300),
            "latency not applied: {took:?}"
        );
        assert!(body.contains("\"added_latency_ms\":600"), "{body}");
    }

    // Exec into each injector with the stop command.
    for n in &names {
        let ap = AttachParams::default()
            .container("chaosduck-net-1")
            .stdout(true)
            .stderr(false);
        let mut proc = pods
            .exec(n, ["/bin/sh", "-c", "chaosduck-stop"], &ap)
            .await
            .expect("exec");
        let status = proc
            .take_status()
            .expect("status channel")
            .await
            .expect("a status");
        assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
        proc.join().await.expect("exec ends");
    }
    let ps = pods
        .list(&ListParams::default().labels("app=frontend"))
        .await
        .unwrap()
        .items;
    for p in &ps {
        assert_eq!(
            injector_state(p, "chaosduck-net-1"),
            Some(("terminated", Some(0)))
        );
    }
    let (code, _, took) = http_get(&url).await;
    assert_eq!(code, Some(200));
    assert!(
        took < Duration::from_millis(400),
        "latency still applied after stop: {took:?}"
    );

    // Other commands are refused with a Failure status.
    let ap = AttachParams::default()
        .container("frontend")
        .stdout(true)
        .stderr(false);
    let mut proc = pods.exec(&names[0], ["ls", "/"], &ap).await.expect("exec");
    let status = proc.take_status().unwrap().await.expect("a status");
    assert_eq!(status.status.as_deref(), Some("Failure"));
    let message = status.message.unwrap_or_default();
    assert!(
        message.contains("does not run arbitrary commands"),
        "{message}"
    );
    let _ = proc.join().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injector_expires_after_its_duration_and_loss_drops_requests() {
    let (sb, client) = start_with(SandboxOptions::fast()).await;
    let url = sb.app_url("shop", "catalog").unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    inject_all(
        &pods,
        "app=catalog",
        &injector(
            "chaosduck-loss",
            "network_loss",
            1,
            &[("CHAOSDUCK_LOSS_PERCENT", "100")],
        ),
    )
    .await;
    eventually("loss applied", Duration::from_secs(3), || async {
        let (code, body, _) = http_get(&url).await;
        (code == Some(503) && body.contains("network_loss")).then_some(())
    })
    .await;
    eventually("injector expired", Duration::from_secs(5), || async {
        let ps = pods
            .list(&ListParams::default().labels("app=catalog"))
            .await
            .ok()?
            .items;
        ps.iter()
            .all(|p| injector_state(p, "chaosduck-loss") == Some(("terminated", Some(0))))
            .then_some(())
    })
    .await;
    let (code, body, _) = http_get(&url).await;
    assert_eq!(code, Some(200), "{body}");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_raises_simulated_cpu_and_memory() {
    let (sb, client) = start_with(SandboxOptions::fast()).await;
    let url = sb.app_url("shop", "postgres").unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let (_, before, _) = http_get(&format!("{url}/metrics")).await;
    assert!(
        before.contains("sandbox_pod_cpu_millicores{namespace=\"shop\",pod=\"postgres-0\"} 20"),
        "{before}"
    );
    pods.patch_ephemeral_containers(
        "postgres-0",
        &PatchParams::default(),
        &Patch::Strategic(injector(
            "chaosduck-cpu",
            "cpu_stress",
            60,
            &[
                ("CHAOSDUCK_CPU_WORKERS", "2"),
                ("CHAOSDUCK_CPU_LOAD_PERCENT", "80"),
            ],
        )),
    )
    .await
    .unwrap();
    pods.patch_ephemeral_containers(
        "postgres-0",
        &PatchParams::default(),
        &Patch::Strategic(injector(
            "chaosduck-mem",
            "memory_stress",
            60,
            &[("CHAOSDUCK_MEMORY_BYTES", "1000000")],
        )),
    )
    .await
    .unwrap();
    let body = eventually("stress figures", Duration::from_secs(3), || async {
        let (_, body, _) = http_get(&format!("{url}/metrics")).await;
        let mem = format!(
            "sandbox_pod_memory_bytes{{namespace=\"shop\",pod=\"postgres-0\"}} {}",
            64 * 1024 * 1024 + 1_000_000
        );
        (body.contains("sandbox_pod_cpu_millicores{namespace=\"shop\",pod=\"postgres-0\"} 1620")
            && body.contains(&mem))
        .then_some(body)
    })
    .await;
    assert!(
        body.contains(&format!(
            "sandbox_pod_memory_bytes{{namespace=\"shop\",pod=\"postgres-0\"}} {}",
            64 * 1024 * 1024 + 1_000_000
        )),
        "{body}"
    );
    let (_, body, _) = http_get(&url).await;
    assert!(body.contains("\"cpu_millicores\":1620"), "{body}");
    // A broken contract is rejected: the injector terminates with an error at once.
    pods.patch_ephemeral_containers(
        "postgres-0",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"ephemeralContainers": [{"name": "chaosduck-bad", "image": "x", "env": [{"name": "CHAOSDUCK_FAULT", "value": "meteor"}]}]}})),
    )
    .await
    .unwrap();
    let p = eventually(
        "bad injector terminated",
        Duration::from_secs(3),
        || async {
            let p = pods.get("postgres-0").await.ok()?;
            (injector_state(&p, "chaosduck-bad") == Some(("terminated", Some(2)))).then_some(p)
        },
    )
    .await;
    assert!(p.status.is_some());
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ready_pod_is_503_and_network_policy_partitions() {
    let (sb, client) = start_with(SandboxOptions::fast()).await;
    let url = sb.app_url("shop", "checkout").unwrap();
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let nps: Api<NetworkPolicy> = Api::namespaced(client.clone(), "shop");
    let np: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "chaosduck-partition", "namespace": "shop"},
        "spec": {"podSelector": {"matchLabels": {"app": "checkout"}}, "policyTypes": ["Ingress"]}
    }))
    .unwrap();
    nps.create(&PostParams::default(), &np).await.unwrap();
    let (code, body, _) = http_get(&url).await;
    assert_eq!(code, Some(504), "{body}");
    nps.delete("chaosduck-partition", &DeleteParams::default())
        .await
        .unwrap();
    let (code, _, _) = http_get(&url).await;
    assert_eq!(code, Some(200));

    deps.patch(
        "checkout",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();
    eventually("503 with no ready pods", Duration::from_secs(5), || async {
        let (code, body, _) = http_get(&url).await;
        (code == Some(503) && body.contains("no ready endpoints")).then_some(())
    })
    .await;
    deps.patch(
        "checkout",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .unwrap();
    eventually(
        "200 again after recovery",
        Duration::from_secs(5),
        || async {
            let (code, _, _) = http_get(&url).await;
            (code == Some(200)).then_some(())
        },
    )
    .await;
    sb.shutdown().await;
    // After shutdown the app endpoint is gone.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (code, _, _) = http_get(&url).await;
    assert_eq!(code, None, "app endpoint still answering after shutdown");
}
