//! Every Kubernetes fault end to end against the sandbox with the real kube client, through the
//! real binary: plan, inject, observe the effect, revert, verify a clean cluster; then the crash
//! matrix: kill -9 at every journal step of every fault, `recover`, and nothing is left behind.

mod common;
use chaosduck::sandbox::{Sandbox, SandboxOptions};
use common::{Home, code, text};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use std::time::{Duration, Instant};

struct Bed {
    sb: Sandbox,
    client: kube::Client,
    kubeconfig: std::path::PathBuf,
    home: Home,
}

async fn bed() -> Bed {
    let sb = Sandbox::start(SandboxOptions::fast())
        .await
        .expect("sandbox");
    let home = Home::new();
    let kubeconfig = home.path().join("kubeconfig");
    sb.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let client = kube::Client::try_from(sb.kube_config()).expect("client");
    Bed {
        sb,
        client,
        kubeconfig,
        home,
    }
}

impl Bed {
    fn experiment(&self, name: &str, body: &str) -> std::path::PathBuf {
        self.home.experiment(name, body)
    }

    /// Runs chaosduck with this sandbox's kubeconfig on a blocking thread (the sandbox serves
    /// from this process's runtime).
    async fn run(&self, args: &[&str], failpoint: Option<&str>) -> std::process::Output {
        let mut c = self.home.cmd_without_world();
        c.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        if let Some(f) = failpoint {
            c.env("CHAOSDUCK_FAILPOINT", f);
        }
        tokio::task::spawn_blocking(move || c.output().expect("run chaosduck"))
            .await
            .expect("join")
    }
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn running_injectors(p: &Pod) -> Vec<String> {
    p.status
        .as_ref()
        .and_then(|s| s.ephemeral_container_statuses.as_ref())
        .map(|v| {
            v.iter()
                .filter(|c| {
                    c.name.starts_with("chaosduck-")
                        && c.state
                            .as_ref()
                            .is_some_and(|s| s.running.is_some() || s.waiting.is_some())
                })
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing of ChaosDuck's is left: no running injector, no partition label or policy, no
/// cordoned node, and every shop pod ready. Returns what is still wrong after `limit`.
async fn leftovers(client: &kube::Client, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut wrong = Vec::new();
        let pods: Api<Pod> = Api::all(client.clone());
        for p in pods
            .list(&ListParams::default())
            .await
            .expect("list pods")
            .items
        {
            let name = format!(
                "{}/{}",
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default()
            );
            for c in running_injectors(&p) {
                wrong.push(format!("injector {c} still running in {name}"));
            }
            if p.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("chaosduck.io/partition"))
            {
                wrong.push(format!("partition label left on {name}"));
            }
            if name.starts_with("shop/") && !ready(&p) {
                wrong.push(format!("{name} not ready"));
            }
        }
        let np: Api<NetworkPolicy> = Api::all(client.clone());
        for n in np
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=chaosduck"))
            .await
            .expect("list np")
            .items
        {
            wrong.push(format!(
                "NetworkPolicy {} left",
                n.metadata.name.unwrap_or_default()
            ));
        }
        let nodes: Api<Node> = Api::all(client.clone());
        for n in nodes
            .list(&ListParams::default())
            .await
            .expect("list nodes")
            .items
        {
            if n.spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false)
            {
                wrong.push(format!(
                    "node {} left cordoned",
                    n.metadata.name.unwrap_or_default()
                ));
            }
        }
        if wrong.is_empty() || start.elapsed() > limit {
            return wrong;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const FAULTS: &[(&str, &str)] = &[
    (
        "pod-delete",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=checkout, count: 1}}\n",
    ),
    (
        "latency",
        "  fault: {type: network_latency, latency: 400ms}\n  target: {pods: {namespace: shop, selector: app=payments}}\n",
    ),
    (
        "loss",
        "  fault: {type: network_loss, percent: 100}\n  target: {pods: {namespace: shop, selector: app=catalog}}\n",
    ),
    (
        "cpu",
        "  fault: {type: cpu_stress, workers: 1, load: 50}\n  target: {pods: {namespace: shop, selector: app=frontend, count: 1}}\n",
    ),
    (
        "memory",
        "  fault: {type: memory_stress, size: 64Mi}\n  target: {pods: {namespace: shop, selector: app=catalog, count: 1}}\n",
    ),
    (
        "partition",
        "  fault: {type: network_partition}\n  target: {pods: {namespace: shop, selector: app=redis}}\n",
    ),
    (
        "cordon",
        "  fault: {type: node_cordon, drain: true}\n  target: {nodes: {selector: topology.kubernetes.io/zone=zone-a}}\n",
    ),
];

fn spec(body: &str, duration: &str, extra: &str) -> String {
    format!("{body}  duration: {duration}\n  safety: {{blastRadius: 100%, timeout: 5m}}\n{extra}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubernetes_fault_runs_end_to_end_and_leaves_the_cluster_clean() {
    let b = bed().await;
    for (name, body) in FAULTS {
        let f = b.experiment(name, &spec(body, "1500ms", ""));
        let o = b
            .run(&["run", "-o", "json", f.to_str().unwrap()], None)
            .await;
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{name}: {}", text(&o)));
        assert_eq!(v["status"], "completed", "{name}: {v}");
        let j = v["journal"].as_array().unwrap();
        assert!(!j.is_empty(), "{name}: nothing was injected");
        assert!(j.iter().all(|e| e["state"] == "reverted"), "{name}: {j:?}");
        let left = leftovers(&b.client, Duration::from_secs(15)).await;
        assert!(left.is_empty(), "{name}: {left:?}");
    }
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_visible_while_active_and_gone_after_revert() {
    let b = bed().await;
    // Latency: the payments app answers slower than 300ms while the injector runs.
    let url = b.sb.app_url("shop", "payments").expect("payments app");
    let probe = format!(
        "  probes:\n    - name: fast\n      mode: continuous\n      interval: 200ms\n      timeout: 3s\n      http: {{url: '{url}', maxLatency: 300ms}}\n    - name: recovered\n      mode: eot\n      http: {{url: '{url}', maxLatency: 300ms}}\n"
    );
    let f = b.experiment("lat", &spec(FAULTS[1].1, "2s", &probe));
    let o = b
        .run(&["run", "-o", "json", f.to_str().unwrap()], None)
        .await;
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(
        v["verdict"]["kind"], "violated",
        "the fault must be seen: {v}"
    );
    let probes = v["verdict"]["probes"].as_array().unwrap();
    let recovered = probes.iter().find(|p| p["name"] == "recovered").unwrap();
    assert_eq!(
        recovered["passed"], recovered["samples"],
        "recovered after revert: {v}"
    );

    // pod_delete: the journal records the owner's recovery time.
    let f = b.experiment("pd", &spec(FAULTS[0].1, "500ms", ""));
    let o = b
        .run(&["run", "-o", "json", f.to_str().unwrap()], None)
        .await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let note = v["journal"][0]["note"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        note.contains("ready again") && note.contains("after the fault"),
        "{note}"
    );

    // Cordon: the node is unschedulable during the run (checked from another task).
    let f = b.experiment("cordon", &spec("  fault: {type: node_cordon}\n  target: {nodes: {selector: topology.kubernetes.io/zone=zone-b}}\n", "3s", ""));
    let client = b.client.clone();
    let watcher = tokio::spawn(async move {
        let nodes: Api<Node> = Api::all(client);
        for _ in 0..100 {
            let l = nodes.list(&ListParams::default()).await.unwrap();
            if l.items.iter().any(|n| {
                n.spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false)
            }) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    let o = b.run(&["run", f.to_str().unwrap()], None).await;
    assert!(watcher.await.unwrap(), "the node was never seen cordoned");
    assert_eq!(code(&o), 7, "{}", text(&o));
    assert!(
        leftovers(&b.client, Duration::from_secs(10))
            .await
            .is_empty()
    );
    b.sb.shutdown().await;
}

/// Regression: injector names came from the first eight characters of the experiment id, the
/// top of a UUIDv7's timestamp, so a second run within ~65 s reused the first one's name, the
/// sandbox merged it into the old (exited) container and no fault was injected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_runs_each_add_their_own_injector() {
    let b = bed().await;
    let f = b.experiment("twice", &spec(FAULTS[1].1, "500ms", ""));
    for _ in 0..2 {
        let o = b
            .run(&["run", "-o", "json", f.to_str().unwrap()], None)
            .await;
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
        assert_eq!(v["status"], "completed", "{v}");
    }
    let pods: Vec<Pod> =
        b.sb.pods(Some("shop"))
            .into_iter()
            .filter(|p| {
                p.metadata
                    .name
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("payments")
            })
            .collect();
    assert!(!pods.is_empty());
    for p in pods {
        let mut names: Vec<String> = p
            .spec
            .as_ref()
            .and_then(|s| s.ephemeral_containers.as_ref())
            .map(|v| v.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        names.dedup();
        assert_eq!(names.len(), 2, "one injector per run: {names:?}");
    }
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_every_fault_every_journal_step_recovers_clean() {
    let b = bed().await;
    let steps = [
        "after-intent",
        "after-apply",
        "mid-observe",
        "before-revert",
        "after-revert",
    ];
    let mut cells = 0;
    for (name, body) in FAULTS {
        let f = b.experiment(&format!("crash-{name}"), &spec(body, "3s", ""));
        for step in steps {
            let o = b.run(&["run", f.to_str().unwrap()], Some(step)).await;
            assert!(
                o.status.code().is_none(),
                "{name}/{step}: must die by SIGKILL: {}",
                text(&o)
            );
            let o = b.run(&["recover"], None).await;
            assert_eq!(code(&o), 0, "{name}/{step}: {}", text(&o));
            let left = leftovers(&b.client, Duration::from_secs(15)).await;
            assert!(left.is_empty(), "{name}/{step}: left behind {left:?}");
            cells += 1;
        }
    }
    assert_eq!(cells, FAULTS.len() * steps.len());
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrails_refuse_before_touching_the_cluster() {
    let b = bed().await;
    let f = b.experiment(
        "wide",
        "  fault: {type: pod_delete}\n  target:\n    pods:\n      namespace: shop\n      selector: app in (frontend,checkout,catalog)\n  duration: 1s\n  safety: {blastRadius: 2}\n",
    );
    let o = b.run(&["run", f.to_str().unwrap()], None).await;
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("blast-radius"), "{}", text(&o));
    let f = b.experiment("sys", "  fault: {type: pod_delete}\n  target: {pods: {namespace: kube-system, selector: k8s-app=kube-dns}}\n  duration: 1s\n");
    let o = b.run(&["dry-run", f.to_str().unwrap()], None).await;
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(
        text(&o).contains("--confirm-namespace kube-system"),
        "{}",
        text(&o)
    );
    assert!(
        leftovers(&b.client, Duration::from_secs(5))
            .await
            .is_empty()
    );
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k8s_probes_read_the_cluster_through_the_kube_client() {
    let b = bed().await;
    let f = b.experiment(
        "k8s-probes",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=checkout}}\n  duration: 1s\n  probes:\n    - name: deploy\n      k8s: {namespace: shop, kind: Deployment, name: checkout}\n    - name: ready-pods\n      k8s: {namespace: shop, selector: app=checkout, minReady: 2}\n    - name: node\n      k8s: {kind: Node, name: sandbox-node-a, condition: {type: Ready, status: \"True\"}}\n    - name: missing\n      k8s: {namespace: shop, kind: Deployment, name: nope}\n    - name: too-many\n      k8s: {namespace: shop, selector: app=checkout, minReady: 50}\n",
    );
    let o = b
        .run(&["check", "-o", "json", f.to_str().unwrap()], None)
        .await;
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by = |n: &str| {
        v["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by("deploy")["passed"], true, "{v}");
    assert_eq!(by("ready-pods")["passed"], true, "{v}");
    assert_eq!(by("ready-pods")["value"], 2.0);
    assert_eq!(by("node")["passed"], true, "{v}");
    assert!(
        by("missing")["error"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    assert!(
        by("too-many")["error"]
            .as_str()
            .unwrap()
            .contains("want at least 50")
    );
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_holds_every_pod_and_marks_active_faults() {
    use chaosduck::topology::k8s::K8sWatch;
    let b = bed().await;
    let w = K8sWatch::start(b.client.clone());
    w.ready(Duration::from_secs(20))
        .await
        .expect("topology ready");
    let t = w.snapshot();
    assert_eq!(t.pods, b.sb.pods(None).len(), "every pod is in the graph");
    let shop = t
        .namespaces
        .iter()
        .find(|n| n.name == "shop")
        .expect("shop namespace");
    let checkout = shop
        .workloads
        .iter()
        .find(|w| w.kind == "Deployment" && w.name == "checkout")
        .expect("checkout deployment");
    assert_eq!(checkout.pods.len() as i32, checkout.desired);
    let svc = shop
        .services
        .iter()
        .find(|s| s.name == "checkout")
        .expect("checkout service");
    assert_eq!(
        svc.pods.len(),
        checkout.pods.len(),
        "services map to pods by selector"
    );
    assert_eq!(t.faulted_pods, 0);

    // A long latency fault shows up as a marker, then goes away after the emergency stop.
    let f = b.experiment("marked", &spec(FAULTS[1].1, "60s", ""));
    let mut c = b.home.cmd_without_world();
    c.arg("--kubeconfig")
        .arg(&b.kubeconfig)
        .args(["run", f.to_str().unwrap()])
        .stdout(std::process::Stdio::null());
    let mut child = c.spawn().expect("spawn run");
    let mut changes = w.changes();
    let start = Instant::now();
    while w.snapshot().faulted_pods == 0 && start.elapsed() < Duration::from_secs(20) {
        let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
    }
    let t = w.snapshot();
    assert!(
        t.faulted_pods >= 1,
        "the injected pods carry a fault marker"
    );
    let marked: Vec<&str> = t
        .namespaces
        .iter()
        .flat_map(|n| n.workloads.iter().flat_map(|w| w.pods.iter()))
        .filter(|p| !p.faults.is_empty())
        .map(|p| p.name.as_str())
        .collect();
    assert!(
        marked.iter().all(|p| p.starts_with("payments")),
        "{marked:?}"
    );
    let o = b.run(&["stop"], None).await;
    assert_eq!(code(&o), 0, "{}", text(&o));
    let st = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.code(), Some(3));
    let start = Instant::now();
    while w.snapshot().faulted_pods > 0 && start.elapsed() < Duration::from_secs(20) {
        let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
    }
    assert_eq!(
        w.snapshot().faulted_pods,
        0,
        "markers disappear after the revert"
    );
    drop(w);
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_watches_several_contexts_at_once() {
    let one = bed().await;
    let two = Sandbox::start(SandboxOptions {
        demo: true,
        ..SandboxOptions::fast()
    })
    .await
    .expect("second sandbox");
    let kc = one.home.path().join("two-contexts");
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {{server: '{}'}}\n- name: b\n  cluster: {{server: '{}'}}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: first\n  context: {{cluster: a, user: u}}\n- name: second\n  context: {{cluster: b, user: u}}\ncurrent-context: first\n",
        one.sb.base_url(),
        two.base_url()
    );
    std::fs::write(&kc, yaml).unwrap();
    let mut c = one.home.cmd_without_world();
    c.arg("--kubeconfig")
        .arg(&kc)
        .args(["topology", "--contexts", "first,second", "-o", "json"]);
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(
        v["first"]["pods"].as_u64().unwrap() as usize,
        one.sb.pods(None).len()
    );
    assert_eq!(
        v["second"]["pods"].as_u64().unwrap() as usize,
        two.pods(None).len()
    );
    two.shutdown().await;
    one.sb.shutdown().await;
}

/// The injector faults again, with `injection: exec` (no ephemeral container).
const EXEC_FAULTS: &[(&str, &str)] = &[
    (
        "exec-latency",
        "  fault: {type: network_latency, latency: 400ms, injection: exec}\n  target: {pods: {namespace: shop, selector: app=payments}}\n",
    ),
    (
        "exec-loss",
        "  fault: {type: network_loss, percent: 100, injection: exec, container: catalog}\n  target: {pods: {namespace: shop, selector: app=catalog}}\n",
    ),
    (
        "exec-cpu",
        "  fault: {type: cpu_stress, workers: 1, load: 50, injection: exec}\n  target: {pods: {namespace: shop, selector: app=frontend, count: 1}}\n",
    ),
    (
        "exec-memory",
        "  fault: {type: memory_stress, size: 64Mi, injection: exec}\n  target: {pods: {namespace: shop, selector: app=catalog, count: 1}}\n",
    ),
];

/// `leftovers`, plus: no exec injector still running in any pod.
async fn leftovers_with_exec(b: &Bed, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut wrong = leftovers(&b.client, Duration::ZERO).await;
        for (pod, i) in b.sb.exec_injectors(None) {
            wrong.push(format!(
                "exec injector {:?} still running in {pod} ({})",
                i.fault, i.container
            ));
        }
        if wrong.is_empty() || start.elapsed() > limit {
            return wrong;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_injection_runs_every_injector_fault_end_to_end_and_leaves_the_cluster_clean() {
    let b = bed().await;
    for (name, body) in EXEC_FAULTS {
        let f = b.experiment(name, &spec(body, "1500ms", ""));
        let o = b.run(&["dry-run", f.to_str().unwrap()], None).await;
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        let plan = text(&o);
        assert!(plan.contains("via exec in container"), "{name}: {plan}");
        assert!(plan.contains("injection: exec"), "{name}: {plan}");
        assert!(
            plan.contains("stop the injector in /tmp/chaosduck-"),
            "{name}: the undo step names the pidfile: {plan}"
        );
        let o = b
            .run(&["run", "-o", "json", f.to_str().unwrap()], None)
            .await;
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{name}: {}", text(&o)));
        assert_eq!(v["status"], "completed", "{name}: {v}");
        let j = v["journal"].as_array().unwrap();
        assert!(!j.is_empty(), "{name}: nothing was injected");
        for e in j {
            assert_eq!(e["state"], "reverted", "{name}: {e}");
            // The undo record says the mode and the container, so a new process can stop it.
            assert_eq!(e["undo"]["kind"], "stop_exec_injector", "{name}: {e}");
            assert_eq!(e["undo"]["container"], e["action"]["container"], "{e}");
            assert!(
                e["undo"]["pid_file"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/tmp/chaosduck-")),
                "{e}"
            );
            assert!(
                e["note"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("exec injector stopped"),
                "{name}: revert verified by exec: {e}"
            );
        }
        let left = leftovers_with_exec(&b, Duration::from_secs(15)).await;
        assert!(left.is_empty(), "{name}: {left:?}");
    }
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_injection_is_seen_by_the_app_while_active_and_gone_after_revert() {
    let b = bed().await;
    let url = b.sb.app_url("shop", "payments").expect("payments app");
    let probe = format!(
        "  probes:\n    - name: fast\n      mode: continuous\n      interval: 200ms\n      timeout: 3s\n      http: {{url: '{url}', maxLatency: 300ms}}\n    - name: recovered\n      mode: eot\n      http: {{url: '{url}', maxLatency: 300ms}}\n"
    );
    let f = b.experiment("exec-lat", &spec(EXEC_FAULTS[0].1, "3s", &probe));
    let sb_pods = |b: &Bed| b.sb.exec_injectors(Some("shop"));
    let mut c = b.home.cmd_without_world();
    c.arg("--kubeconfig")
        .arg(&b.kubeconfig)
        .args(["run", "-o", "json", f.to_str().unwrap()]);
    let run = tokio::task::spawn_blocking(move || c.output().expect("run"));
    // While it runs: an exec injector in every payments pod, and no ephemeral container.
    let start = Instant::now();
    let mut seen = Vec::new();
    while seen.is_empty() && start.elapsed() < Duration::from_secs(15) {
        seen = sb_pods(&b);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!seen.is_empty(), "the exec injector never started");
    assert!(
        seen.iter().all(|(pod, i)| pod.starts_with("shop/payments")
            && i.container == "payments"
            && i.latency_ms == 400),
        "{seen:?}"
    );
    for p in b.sb.pods(Some("shop")) {
        assert!(
            running_injectors(&p).is_empty(),
            "exec mode adds no ephemeral container"
        );
    }
    let o = run.await.expect("join");
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(
        v["verdict"]["kind"], "violated",
        "the fault must be seen: {v}"
    );
    let probes = v["verdict"]["probes"].as_array().unwrap();
    let recovered = probes.iter().find(|p| p["name"] == "recovered").unwrap();
    assert_eq!(
        recovered["passed"], recovered["samples"],
        "recovered after revert: {v}"
    );
    assert!(
        leftovers_with_exec(&b, Duration::from_secs(10))
            .await
            .is_empty()
    );

    // A container the pod does not have is refused at plan time, before any mutation.
    let f = b.experiment(
        "exec-nope",
        &spec(
            "  fault: {type: cpu_stress, injection: exec, container: sidecar}\n  target: {pods: {namespace: shop, selector: app=frontend, count: 1}}\n",
            "1s",
            "",
        ),
    );
    let o = b.run(&["dry-run", f.to_str().unwrap()], None).await;
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("no container \"sidecar\""),
        "{}",
        text(&o)
    );
    // `container` without exec is a validation error.
    let f = b.experiment(
        "exec-invalid",
        &spec(
            "  fault: {type: cpu_stress, container: frontend}\n  target: {pods: {namespace: shop, selector: app=frontend, count: 1}}\n",
            "1s",
            "",
        ),
    );
    let o = b.run(&["validate", f.to_str().unwrap()], None).await;
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("injection: exec"), "{}", text(&o));
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_injector_expires_on_its_own_after_chaosduck_dies() {
    let b = bed().await;
    let f = b.experiment("exec-expire", &spec(EXEC_FAULTS[2].1, "2s", ""));
    let o = b
        .run(&["run", f.to_str().unwrap()], Some("after-apply"))
        .await;
    assert!(o.status.code().is_none(), "killed: {}", text(&o));
    let running = b.sb.exec_injectors(Some("shop"));
    assert_eq!(running.len(), 1, "{running:?}");
    assert!(running[0].1.cpu_workers == 1 && running[0].1.cpu_load_percent == 50);
    // Nobody stops it: it ends at its expiry.
    let start = Instant::now();
    while !b.sb.exec_injectors(None).is_empty() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = start.elapsed();
    assert!(
        b.sb.exec_injectors(None).is_empty(),
        "still running after {took:?}"
    );
    assert!(took < Duration::from_secs(4), "expired after {took:?}");
    // Recovery then finds it gone and still records the revert.
    let o = b.run(&["recover"], None).await;
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        leftovers_with_exec(&b, Duration::from_secs(10))
            .await
            .is_empty()
    );
    b.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_exec_injection_every_journal_step_recovers_clean() {
    let b = bed().await;
    let steps = [
        "after-intent",
        "after-apply",
        "mid-observe",
        "before-revert",
        "after-revert",
    ];
    let mut cells = 0;
    for (name, body) in EXEC_FAULTS {
        let f = b.experiment(&format!("crash-{name}"), &spec(body, "4s", ""));
        for step in steps {
            let o = b.run(&["run", f.to_str().unwrap()], Some(step)).await;
            assert!(
                o.status.code().is_none(),
                "{name}/{step}: must die by SIGKILL: {}",
                text(&o)
            );
            if step == "after-apply" {
                // Killed with the fault running: only the recovery can end it before its expiry.
                assert!(
                    !b.sb.exec_injectors(Some("shop")).is_empty(),
                    "{name}/{step}: the injector runs after the kill"
                );
            }
            let o = b.run(&["recover"], None).await;
            assert_eq!(code(&o), 0, "{name}/{step}: {}", text(&o));
            let left = leftovers_with_exec(&b, Duration::from_secs(5)).await;
            assert!(left.is_empty(), "{name}/{step}: left behind {left:?}");
            cells += 1;
        }
    }
    assert_eq!(cells, EXEC_FAULTS.len() * steps.len());
    b.sb.shutdown().await;
}
