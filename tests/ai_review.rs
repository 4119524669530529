//! Steady-state review before injection and the hypothesis from the topology around the target:
//! the pure functions on a hand-built topology snapshot, then `chaosduck ai review` and
//! `chaosduck ai hypothesis` against the sandbox with the real kube client.

mod common;

use chaosduck::ai::assistant;
use chaosduck::ai::review::{self, FindingSeverity, context_from_topology};
use chaosduck::domain::{ExperimentDoc, Phase, ProbeMode};
use chaosduck::sandbox::{Sandbox, SandboxOptions};
use chaosduck::store::records::ProbeSample;
use chaosduck::topology::k8s::{
    K8sTopology, NamespaceNode, NodeInfo, PodInfo, ServiceNode, WorkloadNode,
};
use common::{Home, code, text};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};

fn doc(body: &str) -> ExperimentDoc {
    chaosduck::domain::parse_experiment(
        "x.yaml",
        &format!(
            "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata: {{name: x}}\nspec:\n{body}"
        ),
    )
    .expect("valid experiment")
}

fn pod(name: &str, ready: bool, restarts: i32, node: &str) -> PodInfo {
    PodInfo {
        name: name.into(),
        phase: "Running".into(),
        ready,
        restarts,
        node: Some(node.into()),
        faults: vec![],
    }
}

fn node(name: &str, zone: &str, schedulable: bool, ready: bool) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        zone: Some(zone.into()),
        schedulable,
        ready,
        chaosduck_cordon: false,
        pods: 1,
    }
}

/// checkout: 3 desired, 2 ready (one pod not ready, restarting), on nodes a and b (b cordoned),
/// behind Service checkout; node c (not ready) hosts nothing of it.
fn topology() -> K8sTopology {
    let pods = vec![
        pod("checkout-1", true, 0, "a"),
        pod("checkout-2", true, 0, "b"),
        pod("checkout-3", false, 7, "a"),
    ];
    K8sTopology {
        namespaces: vec![NamespaceNode {
            name: "shop".into(),
            workloads: vec![
                WorkloadNode {
                    selector: String::new(),
                    kind: "Deployment".into(),
                    name: "checkout".into(),
                    desired: 3,
                    ready: 2,
                    pods,
                },
                WorkloadNode {
                    selector: String::new(),
                    kind: "Deployment".into(),
                    name: "web".into(),
                    desired: 1,
                    ready: 1,
                    pods: vec![pod("web-1", true, 0, "c")],
                },
            ],
            bare_pods: vec![],
            services: vec![ServiceNode {
                name: "checkout".into(),
                selector: "app=checkout".into(),
                pods: vec![
                    "checkout-1".into(),
                    "checkout-2".into(),
                    "checkout-3".into(),
                ],
            }],
        }],
        nodes: vec![
            node("a", "zone-a", true, true),
            node("b", "zone-b", false, true),
            node("c", "zone-c", true, false),
        ],
        pods: 4,
        faulted_pods: 0,
    }
}

fn sample(probe: &str, passed: bool, value: Option<f64>, error: Option<&str>) -> ProbeSample {
    ProbeSample {
        probe: probe.into(),
        kind: "http".into(),
        mode: ProbeMode::Continuous,
        phase: Phase::SteadyState,
        at: 0,
        passed,
        value,
        error: error.map(str::to_string),
        skipped: false,
    }
}

const LATENCY: &str = "  fault: {type: network_latency, latency: 200ms}\n  target: {pods: {namespace: shop, selector: app=checkout}}\n  duration: 2m\n  probes:\n    - name: fast\n      http: {url: 'http://127.0.0.1:9/', maxLatency: 500ms}\n    - name: down\n      http: {url: 'http://127.0.0.1:9/'}\n";

#[test]
fn the_context_holds_the_targets_workload_services_and_nodes() {
    let names: Vec<String> = ["checkout-1", "checkout-2", "checkout-3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let c = context_from_topology(&topology(), "shop", &names);
    assert!(c.known);
    assert_eq!(c.pods.len(), 3);
    assert_eq!(c.workloads.len(), 1, "web is not around the target");
    assert_eq!((c.workloads[0].desired, c.workloads[0].ready), (3, 2));
    assert_eq!(c.services.len(), 1);
    assert_eq!((c.services[0].pods, c.services[0].ready), (3, 2));
    assert_eq!(c.zones, vec!["zone-a".to_string(), "zone-b".to_string()]);
    let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["a", "b", "c"],
        "hosting nodes and the unhealthy one"
    );
    assert_eq!(c.nodes[0].target_pods, 2);
    assert_eq!(c.nodes[2].target_pods, 0);
}

#[test]
fn the_offline_review_finds_every_pre_existing_anomaly_with_its_severity() {
    let names: Vec<String> = ["checkout-1", "checkout-2", "checkout-3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let c = context_from_topology(&topology(), "shop", &names);
    let d = doc(LATENCY);
    let samples = [
        sample("fast", true, Some(450.0), None),
        sample("down", false, None, Some("connection refused")),
    ];
    let r = review::offline(&d, &c, &samples);
    let has = |sev: FindingSeverity, subject: &str, words: &str| {
        r.findings
            .iter()
            .any(|f| f.severity == sev && f.subject == subject && f.message.contains(words))
    };
    assert!(
        has(
            FindingSeverity::Critical,
            "pod shop/checkout-3",
            "not ready"
        ),
        "{r:#?}"
    );
    assert!(has(
        FindingSeverity::Warning,
        "pod shop/checkout-3",
        "restarted 7 times"
    ));
    assert!(has(
        FindingSeverity::Warning,
        "Deployment shop/checkout",
        "2/3 ready"
    ));
    assert!(has(
        FindingSeverity::Warning,
        "service shop/checkout",
        "2/3 ready endpoints"
    ));
    assert!(has(FindingSeverity::Warning, "node b", "cordoned"));
    assert!(has(
        FindingSeverity::Warning,
        "node c",
        "not ready (0 target"
    ));
    assert!(has(
        FindingSeverity::Critical,
        "probe down",
        "already fails"
    ));
    assert!(has(
        FindingSeverity::Warning,
        "probe fast",
        "90% of its 500 ms"
    ));
    assert!(!r.proceed);
    assert_eq!(
        r.findings[0].severity,
        FindingSeverity::Critical,
        "most serious first"
    );
    assert!(review::render(&r).contains("HOLD"));

    // A healthy surrounding: nothing to hold for.
    let healthy = K8sTopology {
        namespaces: vec![NamespaceNode {
            name: "shop".into(),
            workloads: vec![WorkloadNode {
                selector: String::new(),
                kind: "Deployment".into(),
                name: "checkout".into(),
                desired: 2,
                ready: 2,
                pods: vec![
                    pod("checkout-1", true, 0, "a"),
                    pod("checkout-2", true, 0, "b"),
                ],
            }],
            bare_pods: vec![],
            services: vec![],
        }],
        nodes: vec![
            node("a", "zone-a", true, true),
            node("b", "zone-b", true, true),
        ],
        pods: 2,
        faulted_pods: 0,
    };
    let c = context_from_topology(
        &healthy,
        "shop",
        &["checkout-1".into(), "checkout-2".into()],
    );
    let r = review::offline(&d, &c, &[sample("fast", true, Some(20.0), None)]);
    assert!(r.proceed, "{r:#?}");
    assert!(r.findings.is_empty(), "{r:#?}");
}

#[test]
fn the_offline_hypothesis_uses_the_topology_around_the_target() {
    let d = doc(
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=checkout, count: 1}}\n  duration: 1m\n",
    );
    let names: Vec<String> = ["checkout-1", "checkout-2", "checkout-3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let c = context_from_topology(&topology(), "shop", &names);
    let h = assistant::hypothesis_offline(&d, &c);
    assert!(
        h.hypothesis.contains("Deployment checkout (2/3 ready)")
            && h.hypothesis.contains("spread over 2 nodes in 2 zones")
            && h.hypothesis.contains("clients of Service checkout"),
        "{}",
        h.hypothesis
    );
    assert!(
        h.rationale.contains("Services selecting it: checkout"),
        "{}",
        h.rationale
    );
    // A single replica: the hypothesis admits the outage instead of promising availability.
    let single = K8sTopology {
        namespaces: vec![NamespaceNode {
            name: "shop".into(),
            workloads: vec![WorkloadNode {
                selector: String::new(),
                kind: "Deployment".into(),
                name: "checkout".into(),
                desired: 1,
                ready: 1,
                pods: vec![pod("checkout-1", true, 0, "a")],
            }],
            bare_pods: vec![],
            services: vec![],
        }],
        nodes: vec![node("a", "zone-a", true, true)],
        pods: 1,
        faulted_pods: 0,
    };
    let c = context_from_topology(&single, "shop", &["checkout-1".into()]);
    let h = assistant::hypothesis_offline(&d, &c);
    assert!(
        h.hypothesis.starts_with("When the only pod of")
            && h.hypothesis.contains("see errors only until then"),
        "{}",
        h.hypothesis
    );
    // Without a topology the template still says something testable.
    let h = assistant::hypothesis_offline(&d, &Default::default());
    assert!(h.hypothesis.contains("within 60s"), "{}", h.hypothesis);
    assert!(h.rationale.contains("no topology"), "{}", h.rationale);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_review_and_hypothesis_read_the_sandbox_cluster() {
    let sb = Sandbox::start(SandboxOptions::fast())
        .await
        .expect("sandbox");
    let home = Home::new();
    let kc = home.path().join("kubeconfig");
    sb.write_kubeconfig(&kc).expect("kubeconfig");
    let client = kube::Client::try_from(sb.kube_config()).expect("client");
    let url = sb.app_url("shop", "payments").expect("payments app");
    let f = home.experiment(
        "pay",
        &format!(
            "  fault: {{type: network_latency, latency: 200ms}}\n  target: {{pods: {{namespace: shop, selector: app=payments}}}}\n  duration: 1m\n  probes:\n    - name: pay\n      http: {{url: '{url}', maxLatency: 2s}}\n"
        ),
    );
    let run = |args: Vec<String>| {
        let mut c = home.cmd_without_world();
        c.arg("--kubeconfig").arg(&kc).args(args);
        tokio::task::spawn_blocking(move || c.output().expect("run"))
    };
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // A healthy sandbox: proceed.
    let o = run(args(&[
        "ai",
        "review",
        "--offline",
        "-o",
        "json",
        f.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["engine"], "offline");
    assert_eq!(v["review"]["proceed"], true, "{v}");
    let pods = v["context"]["pods"].as_array().unwrap();
    assert!(!pods.is_empty(), "{v}");
    assert!(
        pods.iter()
            .all(|p| p["name"].as_str().unwrap().starts_with("payments"))
    );
    assert_eq!(v["context"]["services"][0]["name"], "payments", "{v}");

    // Cordon the node of a payments pod: the review warns, naming it.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let p = pods
        .list(&ListParams::default().labels("app=payments"))
        .await
        .unwrap()
        .items
        .remove(0);
    let n = p.spec.and_then(|s| s.node_name).expect("scheduled");
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(
            &n,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    let o = run(args(&["ai", "review", "--offline", f.to_str().unwrap()]))
        .await
        .unwrap();
    assert_eq!(code(&o), 0, "a warning does not hold the run: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("WARNING  node {n}: is cordoned")),
        "{out}"
    );
    assert!(out.contains("PROCEED"), "{out}");

    // A probe that already fails holds the run (exit 1).
    let bad = home.experiment(
        "pay-bad",
        "  fault: {type: cpu_stress}\n  target: {pods: {namespace: shop, selector: app=payments}}\n  duration: 1m\n  probes:\n    - name: closed\n      tcp: {host: 127.0.0.1, port: 9}\n",
    );
    let o = run(args(&["ai", "review", "--offline", bad.to_str().unwrap()]))
        .await
        .unwrap();
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("CRITICAL probe closed: already fails"),
        "{}",
        text(&o)
    );

    // The hypothesis names the workload, its readiness and the Service around the target.
    let o = run(args(&[
        "ai",
        "hypothesis",
        "--offline",
        f.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Deployment payments (") && out.contains("clients of Service payments"),
        "{out}"
    );
    sb.shutdown().await;
}
