//! Controllers, scheduler and kubelet simulation, observed through the kube client.

mod sandbox_common;

use std::time::{Duration, Instant};

use chaosduck::sandbox::{SandboxOptions, pod_ready};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use sandbox_common::{eventually, start_with};
use serde_json::json;

fn opts() -> SandboxOptions {
    SandboxOptions {
        readiness_delay: Duration::from_millis(400),
        recreate_delay: Duration::from_millis(300),
        termination_delay: Duration::from_millis(200),
        ..SandboxOptions::fast()
    }
}

async fn names(api: &Api<Pod>, sel: &str) -> Vec<String> {
    api.list(&ListParams::default().labels(sel))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_owned_pod_brings_a_new_ready_one_after_the_delays() {
    let (sb, client) = start_with(opts()).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let before = names(&pods, "app=checkout").await;
    assert_eq!(before.len(), 2);
    let victim = before[0].clone();
    let t0 = Instant::now();
    pods.delete(
        &victim,
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Right after the delete the deployment counts one ready replica short.
    let d = eventually(
        "deployment counts the loss",
        Duration::from_secs(3),
        || async {
            let d = deps.get("checkout").await.ok()?;
            (d.status.as_ref()?.ready_replicas == Some(1)).then_some(d)
        },
    )
    .await;
    assert_eq!(d.spec.unwrap().replicas, Some(2));
    let replacement = eventually(
        "a replacement pod is created",
        Duration::from_secs(5),
        || async {
            names(&pods, "app=checkout")
                .await
                .into_iter()
                .find(|n| !before.contains(n))
        },
    )
    .await;
    let created_after = t0.elapsed();
    assert!(
        created_after >= Duration::from_millis(250),
        "recreated too early: {created_after:?}"
    );
    let p = pods.get(&replacement).await.unwrap();
    assert!(
        !pod_ready(&p) || t0.elapsed() >= Duration::from_millis(650),
        "ready before the readiness delay"
    );
    eventually("replacement Ready", Duration::from_secs(5), || async {
        let p = pods.get(&replacement).await.ok()?;
        pod_ready(&p).then_some(())
    })
    .await;
    assert!(
        t0.elapsed() >= Duration::from_millis(650),
        "ready too early: {:?}",
        t0.elapsed()
    );
    eventually(
        "deployment fully ready again",
        Duration::from_secs(5),
        || async {
            let s = deps.get("checkout").await.ok()?.status?;
            (s.ready_replicas == Some(2)
                && s.available_replicas == Some(2)
                && s.replicas == Some(2))
            .then_some(())
        },
    )
    .await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_recreates_the_same_ordinal() {
    let (sb, client) = start_with(opts()).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "shop");
    let old_uid = pods.get("postgres-0").await.unwrap().metadata.uid;
    pods.delete("postgres-0", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "postgres-0 recreated and ready",
        Duration::from_secs(8),
        || async {
            let p = pods.get("postgres-0").await.ok()?;
            (p.metadata.uid != old_uid && pod_ready(&p)).then_some(())
        },
    )
    .await;
    let s = sts.get("postgres").await.unwrap().status.unwrap();
    assert_eq!(s.ready_replicas, Some(1));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordoned_nodes_get_no_new_pods() {
    let (sb, client) = start_with(opts()).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    for n in ["sandbox-node-a", "sandbox-node-b"] {
        nodes
            .patch(
                n,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"unschedulable": true}})),
            )
            .await
            .unwrap();
    }
    let before = names(&pods, "app=frontend").await;
    for p in &before {
        pods.delete(
            p,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let fresh: Vec<Pod> = eventually(
        "three new frontend pods scheduled",
        Duration::from_secs(5),
        || async {
            let ps: Vec<Pod> = pods
                .list(&ListParams::default().labels("app=frontend"))
                .await
                .ok()?
                .items;
            let new: Vec<Pod> = ps
                .into_iter()
                .filter(|p| !before.contains(p.metadata.name.as_ref().unwrap()))
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
                .collect();
            (new.len() == 3).then_some(new)
        },
    )
    .await;
    for p in &fresh {
        assert_eq!(
            p.spec.as_ref().unwrap().node_name.as_deref(),
            Some("sandbox-node-c")
        );
    }
    // With every node cordoned, a new pod stays Pending and Unschedulable.
    nodes
        .patch(
            "sandbox-node-c",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    let victim = fresh[0].metadata.name.clone().unwrap();
    pods.delete(
        &victim,
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let pending = eventually("an unschedulable pod", Duration::from_secs(5), || async {
        let ps = pods
            .list(
                &ListParams::default()
                    .labels("app=frontend")
                    .fields("status.phase=Pending"),
            )
            .await
            .ok()?
            .items;
        ps.into_iter().find(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        c.type_ == "PodScheduled" && c.reason.as_deref() == Some("Unschedulable")
                    })
                })
        })
    })
    .await;
    assert!(pending.spec.unwrap().node_name.is_none());
    // Uncordon: it gets scheduled and Ready.
    nodes
        .patch(
            "sandbox-node-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .unwrap();
    let name = pending.metadata.name.unwrap();
    eventually(
        "pod scheduled on the uncordoned node and Ready",
        Duration::from_secs(5),
        || async {
            let p = pods.get(&name).await.ok()?;
            (p.spec.as_ref()?.node_name.as_deref() == Some("sandbox-node-a") && pod_ready(&p))
                .then_some(())
        },
    )
    .await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_and_endpoint_slices_follow_ready_pods() {
    let (sb, client) = start_with(opts()).await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "shop");
    let ready_eps = |s: &EndpointSlice| {
        s.endpoints
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .count()
    };
    let lp = ListParams::default().labels("kubernetes.io/service-name=payments");
    let s = slices.list(&lp).await.unwrap().items;
    assert_eq!(s.len(), 1);
    assert_eq!(ready_eps(&s[0]), 2);
    deps.patch(
        "payments",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    eventually("4 ready endpoints", Duration::from_secs(5), || async {
        let s = slices.list(&lp).await.ok()?.items;
        (ready_eps(&s[0]) == 4).then_some(())
    })
    .await;
    let d = deps.get("payments").await.unwrap();
    let st = d.status.unwrap();
    assert_eq!(
        (st.replicas, st.ready_replicas, st.updated_replicas),
        (Some(4), Some(4), Some(4))
    );
    deps.patch(
        "payments",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();
    eventually("no endpoints", Duration::from_secs(5), || async {
        let s = slices.list(&lp).await.ok()?.items;
        (s[0].endpoints.is_empty()).then_some(())
    })
    .await;
    let st = deps.get("payments").await.unwrap().status.unwrap();
    assert_eq!(st.ready_replicas, Some(0));
    // Deleting the deployment garbage-collects its replicasets and pods.
    deps.delete("payments", &DeleteParams::default())
        .await
        .unwrap();
    deps.patch(
        "checkout",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await
    .unwrap();
    eventually(
        "payments replicasets collected",
        Duration::from_secs(5),
        || async {
            sb.replicasets()
                .iter()
                .all(|r| {
                    !r.metadata
                        .name
                        .as_deref()
                        .unwrap_or("")
                        .starts_with("payments-")
                })
                .then_some(())
        },
    )
    .await;
    sb.shutdown().await;
}
