//! API semantics of the sandbox through the real kube client over HTTP.

mod sandbox_common;

use std::collections::BTreeSet;
use std::time::Duration;

use chaosduck::sandbox::SandboxOptions;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{
    Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use sandbox_common::{eventually, namespace, pod, start, start_with};
use serde_json::json;

fn names(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

async fn select(api: &Api<Pod>, sel: &str) -> BTreeSet<String> {
    names(
        &api.list(&ListParams::default().labels(sel))
            .await
            .expect("list")
            .items,
    )
}

fn set(xs: &[&str]) -> BTreeSet<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn api_err(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(s) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selectors_support_every_operator() {
    let (sb, client) = start().await;
    namespace(&client, "sel").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "sel");
    for (n, l) in [
        ("a", vec![("app", "web"), ("tier", "fe"), ("env", "prod")]),
        ("b", vec![("app", "web"), ("tier", "be")]),
        ("c", vec![("app", "db"), ("env", "dev"), ("ver", "3")]),
    ] {
        api.create(&PostParams::default(), &pod(n, &l))
            .await
            .expect("create");
    }
    assert_eq!(select(&api, "app=web").await, set(&["a", "b"]));
    assert_eq!(select(&api, "app==web").await, set(&["a", "b"]));
    assert_eq!(select(&api, "app!=web").await, set(&["c"]));
    assert_eq!(select(&api, "tier in (fe,be)").await, set(&["a", "b"]));
    assert_eq!(select(&api, "tier notin (fe)").await, set(&["b", "c"]));
    assert_eq!(select(&api, "env").await, set(&["a", "c"]));
    assert_eq!(select(&api, "!env").await, set(&["b"]));
    assert_eq!(select(&api, "app=web,!env").await, set(&["b"]));
    assert_eq!(select(&api, "ver>2").await, set(&["c"]));
    assert_eq!(
        select(&api, "env in (prod, dev),app!=db").await,
        set(&["a"])
    );
    let err = api_err(
        api.list(&ListParams::default().labels("app in (web"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_selectors_filter_name_namespace_node_and_phase() {
    let (sb, client) = start().await;
    namespace(&client, "fs").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "fs");
    api.create(&PostParams::default(), &pod("one", &[]))
        .await
        .expect("create");
    let mut stuck = pod("stuck", &[]);
    stuck.spec.as_mut().unwrap().node_selector =
        Some([("no-such".to_string(), "node".to_string())].into());
    api.create(&PostParams::default(), &stuck)
        .await
        .expect("create");
    eventually("pod one running", Duration::from_secs(5), || async {
        let p = api.get("one").await.ok()?;
        (p.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    let by = |f: &'static str| {
        let api = api.clone();
        async move {
            names(
                &api.list(&ListParams::default().fields(f))
                    .await
                    .expect("list")
                    .items,
            )
        }
    };
    assert_eq!(by("metadata.name=one").await, set(&["one"]));
    assert_eq!(by("status.phase=Running").await, set(&["one"]));
    assert_eq!(by("status.phase!=Running").await, set(&["stuck"]));
    assert_eq!(by("status.phase=Pending").await, set(&["stuck"]));
    let node = api
        .get("one")
        .await
        .unwrap()
        .spec
        .unwrap()
        .node_name
        .unwrap();
    let all: Api<Pod> = Api::all(client.clone());
    let on_node = names(
        &all.list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
            .await
            .unwrap()
            .items,
    );
    assert!(on_node.contains("one"));
    assert!(!on_node.contains("stuck"));
    let in_ns = names(
        &all.list(&ListParams::default().fields("metadata.namespace=fs"))
            .await
            .unwrap()
            .items,
    );
    assert_eq!(in_ns, set(&["one", "stuck"]));
    let unscheduled = names(
        &all.list(&ListParams::default().fields("spec.nodeName="))
            .await
            .unwrap()
            .items,
    );
    assert_eq!(unscheduled, set(&["stuck"]));
    let err = api_err(
        api.list(&ListParams::default().fields("spec.bogus=1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_returns_every_item_once_across_pages() {
    let (sb, client) = start().await;
    namespace(&client, "pages").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "pages");
    for i in 0..23 {
        api.create(
            &PostParams::default(),
            &pod(&format!("p{i:02}"), &[("k", "v")]),
        )
        .await
        .expect("create");
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(10).labels("k=v");
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("page");
        pages += 1;
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().filter_map(|p| p.metadata.name.clone()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => {
                assert!(page.metadata.remaining_item_count.unwrap_or(0) > 0);
                token = Some(c);
            }
            None => break,
        }
        assert!(pages < 10, "pagination does not terminate");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 23);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 23);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_from_a_resource_version_with_bookmarks() {
    let (sb, client) = start().await;
    namespace(&client, "w").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "w");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.create(&PostParams::default(), &pod("x", &[]))
        .await
        .unwrap();
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
    )
    .await
    .unwrap();
    api.delete(
        "x",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap();
    let mut stream = Box::pin(stream);
    let mut kinds = Vec::new();
    let got = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(ev) = stream.try_next().await.unwrap() {
            match ev {
                WatchEvent::Added(p) if p.metadata.name.as_deref() == Some("x") => {
                    kinds.push("ADDED")
                }
                WatchEvent::Modified(p) if p.metadata.name.as_deref() == Some("x") => {
                    kinds.push("MODIFIED")
                }
                WatchEvent::Deleted(p) if p.metadata.name.as_deref() == Some("x") => {
                    kinds.push("DELETED")
                }
                WatchEvent::Bookmark(b) => {
                    assert!(!b.metadata.resource_version.is_empty());
                    kinds.push("BOOKMARK");
                    break;
                }
                WatchEvent::Error(e) => panic!("watch error {e:?}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(
        got.is_ok(),
        "watch did not deliver a bookmark in time: {kinds:?}"
    );
    // Every change of x after `rv`, in order; the kubelet may add MODIFIED events in between.
    let changes: Vec<&str> = kinds.iter().copied().filter(|k| *k != "BOOKMARK").collect();
    assert_eq!(changes.first(), Some(&"ADDED"));
    assert!(changes.contains(&"MODIFIED"));
    assert_eq!(changes.last(), Some(&"DELETED"));
    assert_eq!(kinds.last(), Some(&"BOOKMARK"));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_compacted_version_is_410_gone() {
    let opts = SandboxOptions {
        watch_history: 20,
        ..SandboxOptions::fast()
    };
    let (sb, client) = start_with(opts).await;
    namespace(&client, "old").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "old");
    for i in 0..30 {
        api.create(&PostParams::default(), &pod(&format!("c{i}"), &[]))
            .await
            .unwrap();
    }
    let mut stream = Box::pin(api.watch(&WatchParams::default(), "2").await.unwrap());
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event");
    match first {
        Some(Ok(WatchEvent::Error(s))) => {
            assert_eq!(s.code, 410);
            assert_eq!(s.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // A continue token older than the history is 410 too.
    let all: Api<Pod> = Api::all(client.clone());
    let page = all.list(&ListParams::default().limit(1)).await.unwrap();
    let c = page.metadata.continue_.expect("more pods than one");
    for i in 30..60 {
        api.create(&PostParams::default(), &pod(&format!("c{i}"), &[]))
            .await
            .unwrap();
    }
    let err = api_err(
        all.list(&ListParams::default().limit(1).continue_token(&c))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 410);
    assert_eq!(err.reason, "Expired");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_update_is_409_and_errors_are_status_objects() {
    let (sb, client) = start().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let d = deps.get("frontend").await.unwrap();
    let mut fresh = d.clone();
    fresh
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("x".into(), "1".into());
    let updated = deps
        .replace("frontend", &PostParams::default(), &fresh)
        .await
        .expect("first update");
    assert_ne!(
        updated.metadata.resource_version,
        d.metadata.resource_version
    );
    let mut stale = d.clone();
    stale
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("x".into(), "2".into());
    let err = api_err(
        deps.replace("frontend", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert!(
        err.message.contains("the object has been modified"),
        "{}",
        err.message
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let err = api_err(pods.get("does-not-exist").await.unwrap_err());
    assert_eq!(err.code, 404);
    assert_eq!(err.reason, "NotFound");
    assert_eq!(err.message, "pods \"does-not-exist\" not found");
    assert_eq!(
        err.details.as_ref().map(|d| d.name.as_str()),
        Some("does-not-exist")
    );

    let mut bad = pod("no-containers", &[]);
    bad.spec.as_mut().unwrap().containers.clear();
    let err = api_err(pods.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!(err.code, 422);
    assert_eq!(err.reason, "Invalid");
    assert!(err.message.contains("spec.containers"), "{}", err.message);

    let err = api_err(
        pods.create(&PostParams::default(), &pod("Bad_Name", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);

    pods.create(&PostParams::default(), &pod("dup", &[]))
        .await
        .unwrap();
    let err = api_err(
        pods.create(&PostParams::default(), &pod("dup", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "AlreadyExists");

    let missing_ns: Api<Pod> = Api::namespaced(client.clone(), "nowhere");
    let err = api_err(
        missing_ns
            .create(&PostParams::default(), &pod("p", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 404);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_deletion_marks_terminating_then_removes() {
    let (sb, client) = start().await;
    namespace(&client, "gd").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "gd");
    api.create(&PostParams::default(), &pod("g", &[]))
        .await
        .unwrap();
    eventually("pod g scheduled", Duration::from_secs(5), || async {
        api.get("g").await.ok()?.spec?.node_name.map(|_| ())
    })
    .await;
    let res = api
        .delete(
            "g",
            &DeleteParams {
                grace_period_seconds: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let deleted = res.left().expect("the pod object");
    assert!(deleted.metadata.deletion_timestamp.is_some());
    assert_eq!(deleted.metadata.deletion_grace_period_seconds, Some(1));
    let still = api.get("g").await.expect("still there while terminating");
    assert!(still.metadata.deletion_timestamp.is_some());
    eventually("pod g gone", Duration::from_secs(5), || async {
        api.get_opt("g").await.ok()?.is_none().then_some(())
    })
    .await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_deletes_the_pod_gracefully() {
    let (sb, client) = start().await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let victim = api
        .list(&ListParams::default().labels("app=catalog"))
        .await
        .unwrap()
        .items[0]
        .clone();
    let name = victim.metadata.name.clone().unwrap();
    let status = api
        .evict(&name, &EvictParams::default())
        .await
        .expect("eviction allowed");
    assert!(status.is_success(), "{status:?}");
    let p = api.get(&name).await.expect("terminating pod");
    assert!(p.metadata.deletion_timestamp.is_some());
    eventually("evicted pod gone", Duration::from_secs(5), || async {
        api.get_opt(&name).await.ok()?.is_none().then_some(())
    })
    .await;
    let err = api_err(
        api.evict("nope", &EvictParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 404);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_containers_subresource_adds_and_protects_containers() {
    let (sb, client) = start().await;
    namespace(&client, "eph").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "eph");
    api.create(&PostParams::default(), &pod("target", &[]))
        .await
        .unwrap();
    let patch = json!({"spec": {"ephemeralContainers": [{
        "name": "debugger", "image": "busybox:1.36", "command": ["sleep", "3600"],
        "targetContainerName": "app"
    }]}});
    let p = api
        .patch_ephemeral_containers("target", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("patch ephemeralcontainers");
    let ecs = p.spec.unwrap().ephemeral_containers.unwrap();
    assert_eq!(ecs.len(), 1);
    assert_eq!(ecs[0].name, "debugger");
    eventually(
        "ephemeral container running",
        Duration::from_secs(5),
        || async {
            let p = api.get_ephemeral_containers("target").await.ok()?;
            let st = p.status?.ephemeral_container_statuses?;
            st.iter()
                .find(|s| s.name == "debugger")?
                .state
                .as_ref()?
                .running
                .as_ref()
                .map(|_| ())
        },
    )
    .await;
    // A second one merges by name; the first stays.
    let p = api
        .patch_ephemeral_containers(
            "target",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"ephemeralContainers": [{"name": "second", "image": "busybox:1.36"}]}})),
        )
        .await
        .unwrap();
    assert_eq!(p.spec.unwrap().ephemeral_containers.unwrap().len(), 2);
    // Removing one is forbidden.
    let mut cur = api.get_ephemeral_containers("target").await.unwrap();
    // Unconditional, so a concurrent kubelet status write cannot turn this into a 409.
    cur.metadata.resource_version = None;
    cur.spec
        .as_mut()
        .unwrap()
        .ephemeral_containers
        .as_mut()
        .unwrap()
        .remove(0);
    let err = api_err(
        api.replace_ephemeral_containers("target", &PostParams::default(), &cur)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    // A plain pod update cannot add one.
    let mut plain = api.get("target").await.unwrap();
    // Unconditional update, so the kubelet's status writes cannot turn this into a 409.
    plain.metadata.resource_version = None;
    plain
        .spec
        .as_mut()
        .unwrap()
        .ephemeral_containers
        .as_mut()
        .unwrap()
        .push(k8s_openapi::api::core::v1::EphemeralContainer {
            name: "sneaky".into(),
            image: Some("busybox".into()),
            ..Default::default()
        });
    let err = api_err(
        api.replace("target", &PostParams::default(), &plain)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_merge_patches_containers_by_name_and_merge_patch_cordons() {
    let (sb, client) = start().await;
    namespace(&client, "smp").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "smp");
    api.create(&PostParams::default(), &pod("m", &[("keep", "me")]))
        .await
        .unwrap();
    let p = api
        .patch(
            "m",
            &PatchParams::default(),
            &Patch::Strategic(json!({
                "metadata": {"labels": {"added": "yes"}, "annotations": {"note": "x"}},
                "spec": {"containers": [{"name": "sidecar", "image": "example/sidecar:2"}]}
            })),
        )
        .await
        .expect("strategic merge");
    let cs = p.spec.as_ref().unwrap().containers.clone();
    assert_eq!(cs.len(), 2, "containers merged by name, not replaced");
    assert_eq!(cs[0].name, "app");
    assert_eq!(cs[0].image.as_deref(), Some("example/app:1"));
    assert_eq!(cs[1].image.as_deref(), Some("example/sidecar:2"));
    let labels = p.metadata.labels.unwrap();
    assert_eq!(labels.get("keep").map(String::as_str), Some("me"));
    assert_eq!(labels.get("added").map(String::as_str), Some("yes"));
    // Merge patch removes a label with null.
    let p = api
        .patch(
            "m",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"added": null}}})),
        )
        .await
        .unwrap();
    assert!(!p.metadata.labels.unwrap().contains_key("added"));
    // Changing an immutable field is 422.
    let err = api_err(
        api.patch(
            "m",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"containers": [{"name": "app", "command": ["x"]}]}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    // Cordon a node with a merge patch.
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes
        .patch(
            "sandbox-node-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    assert_eq!(n.spec.unwrap().unschedulable, Some(true));
    let cordoned = nodes
        .list(&ListParams::default().fields("spec.unschedulable=true"))
        .await
        .unwrap();
    assert_eq!(cordoned.items.len(), 1);
    // JSON patch works too.
    let n = nodes
        .patch(
            "sandbox-node-a",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(
                    json!([{"op": "replace", "path": "/spec/unschedulable", "value": false}]),
                )
                .unwrap(),
            ),
        )
        .await
        .expect("json patch");
    assert_eq!(n.spec.unwrap().unschedulable, Some(false));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_runtime_watcher_work_against_the_sandbox() {
    let (sb, client) = start().await;
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let groups: BTreeSet<String> = discovery.groups().map(|g| g.name().to_string()).collect();
    for g in [
        "",
        "apps",
        "discovery.k8s.io",
        "networking.k8s.io",
        "coordination.k8s.io",
    ] {
        assert!(groups.contains(g), "group {g:?} missing from {groups:?}");
    }
    let v = client.apiserver_version().await.expect("version");
    assert_eq!(v.major, "1");
    // kube-runtime's watcher does list+watch and sees the demo pods.
    let api: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let (reader, writer) = kube::runtime::reflector::store();
    let stream = kube::runtime::reflector(writer, kube::runtime::watcher(api, Default::default()));
    let task = tokio::spawn(async move {
        let mut s = Box::pin(stream);
        while s.next().await.is_some() {}
    });
    reader.wait_until_ready().await.expect("reflector ready");
    let want = sb.pods(Some("shop")).len();
    assert!(want >= 12);
    assert_eq!(reader.state().len(), want);
    task.abort();
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_respects_pod_disruption_budgets() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let (sb, client) = start().await;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "shop");
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "catalog", "namespace": "shop"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "catalog"}}}
    }))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    let s = eventually("pdb status", Duration::from_secs(3), || async {
        let s = pdbs.get("catalog").await.ok()?.status?;
        (s.expected_pods == 3).then_some(s)
    })
    .await;
    assert_eq!(
        (s.current_healthy, s.desired_healthy, s.disruptions_allowed),
        (3, 2, 1)
    );
    // kube's default client retries 429 (with backoff); see the raw answer instead.
    let mut cfg = sb.kube_config();
    cfg.default_retry = false;
    let no_retry = kube::Client::try_from(cfg).unwrap();
    let api: Api<Pod> = Api::namespaced(no_retry, "shop");
    let names: Vec<String> = api
        .list(&ListParams::default().labels("app=catalog"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    api.evict(&names[0], &EvictParams::default())
        .await
        .expect("first eviction allowed");
    let err = api_err(
        api.evict(&names[1], &EvictParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 429);
    assert_eq!(err.reason, "TooManyRequests");
    assert!(err.message.contains("disruption budget"), "{}", err.message);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_a_label_selector_sees_objects_leave_and_enter() {
    let (sb, client) = start().await;
    namespace(&client, "wl").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "wl");
    api.create(&PostParams::default(), &pod("p", &[("team", "a")]))
        .await
        .unwrap();
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = Box::pin(
        api.watch(&WatchParams::default().labels("team=a").timeout(10), &rv)
            .await
            .unwrap(),
    );
    api.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "b"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(ev)) = stream.next().await {
            match ev {
                WatchEvent::Deleted(_) => seen.push("DELETED"),
                WatchEvent::Added(_) => {
                    seen.push("ADDED");
                    break;
                }
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(seen, vec!["DELETED", "ADDED"]);
    sb.shutdown().await;
}

/// Found by tests/fuzz_sandbox.rs: a body or patch result that is not a JSON object was
/// indexed into and panicked the request handler (the connection closed without an answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_patches_that_are_not_objects_are_refused() {
    let (sb, _client) = start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = sb.base_url();
    let node = sb.nodes()[0].metadata.name.clone().unwrap();
    let cases: [(&str, String, &str, &str, u16); 5] = [
        (
            "POST",
            format!("{base}/api/v1/namespaces"),
            "application/json",
            "[{\"op\": \"add\"}]",
            400,
        ),
        (
            "POST",
            format!("{base}/api/v1/namespaces/shop/pods"),
            "application/json",
            "5",
            400,
        ),
        (
            "PATCH",
            format!("{base}/apis/apps/v1/namespaces/shop/deployments/frontend"),
            "application/merge-patch+json",
            "[1]",
            422,
        ),
        (
            "PATCH",
            format!("{base}/apis/apps/v1/namespaces/shop/deployments/frontend"),
            "application/merge-patch+json",
            "{\"metadata\": 5}",
            422,
        ),
        (
            "PATCH",
            format!("{base}/api/v1/nodes/{node}"),
            "application/merge-patch+json",
            "\"x\"",
            422,
        ),
    ];
    for (method, url, ct, body, want) in cases {
        let r = http
            .request(method.parse().unwrap(), &url)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url} {body}: no answer: {e}"));
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, want, "{method} {url} {body}: {text}");
        assert!(
            text.contains("\"kind\":\"Status\""),
            "a Status object: {text}"
        );
    }
    let r = http
        .get(format!("{base}/api/v1/namespaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "still serving");
    sb.shutdown().await;
}
