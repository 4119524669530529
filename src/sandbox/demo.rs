//! Demo data: a small online shop (namespace `shop`), three nodes in three zones, kube-system
//! workloads, and optionally thousands of generated pods across many namespaces for benchmarks.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Namespace, Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus,
    NodeSystemInfo, PodSpec, PodTemplateSpec, ResourceRequirements, Service, ServicePort,
    ServiceSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::resources::Obj;
use super::store::{State, now};

/// Zone label key.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Pods per generated namespace (4 deployments of 25).
const PODS_PER_NAMESPACE: usize = 100;
/// Pods per generated node.
const PODS_PER_NODE: usize = 100;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn meta(ns: Option<&str>, name: &str, l: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: ns.map(String::from),
        labels: if l.is_empty() { None } else { Some(l) },
        ..Default::default()
    }
}

fn node(name: &str, zone: &str, ip: &str) -> Node {
    let cap: BTreeMap<String, Quantity> = [
        ("cpu", "4"),
        ("memory", "16Gi"),
        ("pods", "110"),
        ("ephemeral-storage", "100Gi"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
    .collect();
    Node {
        metadata: meta(
            None,
            name,
            labels(&[
                ("kubernetes.io/hostname", name),
                ("kubernetes.io/os", "linux"),
                ("kubernetes.io/arch", "amd64"),
                ("node.kubernetes.io/instance-type", "sandbox.large"),
                ("topology.kubernetes.io/region", "sandbox-1"),
                (ZONE_LABEL, zone),
            ]),
        ),
        spec: Some(NodeSpec {
            pod_cidr: None,
            provider_id: Some(format!("sandbox:///{zone}/{name}")),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(cap.clone()),
            allocatable: Some(cap),
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: ip.to_string(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: name.to_string(),
                },
            ]),
            conditions: Some(vec![
                cond(
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                ),
                cond(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                cond(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                cond(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
            ]),
            node_info: Some(NodeSystemInfo {
                architecture: "amd64".into(),
                boot_id: String::new(),
                container_runtime_version: "sandbox://1.0".into(),
                kernel_version: "6.1.0-sandbox".into(),
                kube_proxy_version: "v1.33.0".into(),
                kubelet_version: "v1.33.0".into(),
                machine_id: String::new(),
                operating_system: "linux".into(),
                os_image: "ChaosDuck sandbox".into(),
                system_uuid: String::new(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn cond(t: &str, s: &str, reason: &str, msg: &str) -> NodeCondition {
    NodeCondition {
        type_: t.into(),
        status: s.into(),
        reason: Some(reason.into()),
        message: Some(msg.into()),
        last_heartbeat_time: Some(now()),
        last_transition_time: Some(now()),
    }
}

fn container(name: &str, image: &str, port: i32) -> Container {
    Container {
        name: name.to_string(),
        image: Some(image.to_string()),
        ports: Some(vec![ContainerPort {
            container_port: port,
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(
                [("cpu", "100m"), ("memory", "128Mi")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.into())))
                    .collect(),
            ),
            limits: Some(
                [("memory", "256Mi")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.into())))
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn template(app: &str, image: &str, port: i32, extra: &[(&str, &str)]) -> PodTemplateSpec {
    let mut l = labels(&[("app", app)]);
    l.extend(labels(extra));
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(l),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container(app, image, port)],
            ..Default::default()
        }),
    }
}

/// A Deployment of `replicas` pods labelled `app=NAME`.
pub fn deployment(
    ns: &str,
    name: &str,
    replicas: i32,
    image: &str,
    port: i32,
    extra: &[(&str, &str)],
) -> Deployment {
    let mut l = labels(&[("app", name)]);
    l.extend(labels(extra));
    Deployment {
        metadata: meta(Some(ns), name, l),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", name)])),
                ..Default::default()
            },
            template: template(name, image, port, extra),
            ..Default::default()
        }),
        status: None,
    }
}

fn statefulset(
    ns: &str,
    name: &str,
    replicas: i32,
    image: &str,
    port: i32,
    extra: &[(&str, &str)],
) -> StatefulSet {
    let mut l = labels(&[("app", name)]);
    l.extend(labels(extra));
    StatefulSet {
        metadata: meta(Some(ns), name, l),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(name.to_string()),
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", name)])),
                ..Default::default()
            },
            template: template(name, image, port, extra),
            ..Default::default()
        }),
        status: None,
    }
}

/// A Service selecting `app=NAME`.
pub fn service(ns: &str, name: &str, port: i32, target: i32) -> Service {
    Service {
        metadata: meta(Some(ns), name, labels(&[("app", name)])),
        spec: Some(ServiceSpec {
            selector: Some(labels(&[("app", name)])),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port,
                target_port: Some(IntOrString::Int(target)),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

fn namespace(name: &str, l: &[(&str, &str)]) -> Namespace {
    Namespace {
        metadata: meta(None, name, labels(l)),
        ..Default::default()
    }
}

fn create(st: &mut State, o: Obj) {
    let what = format!("{:?} {}/{}", o.kind(), o.namespace(), o.name());
    if let Err(e) = st.create(o) {
        tracing::warn!(object = %what, error = %e, "demo object not created");
    }
}

/// The three demo nodes.
pub const NODES: [(&str, &str, &str); 3] = [
    ("sandbox-node-a", "zone-a", "10.0.1.10"),
    ("sandbox-node-b", "zone-b", "10.0.2.10"),
    ("sandbox-node-c", "zone-c", "10.0.3.10"),
];

/// Loads the shop demo: namespaces, nodes, kube-system and the shop workloads.
pub fn load_shop(st: &mut State) {
    for (n, l) in [
        ("default", vec![]),
        ("kube-system", vec![]),
        ("kube-public", vec![]),
        ("shop", vec![("team", "shop"), ("environment", "demo")]),
    ] {
        create(st, Obj::Namespace(namespace(n, &l)));
    }
    for (name, zone, ip) in NODES {
        create(st, Obj::Node(node(name, zone, ip)));
    }
    // kubernetes service without selector, as in every cluster.
    let mut k = service("default", "kubernetes", 443, 6443);
    if let Some(s) = k.spec.as_mut() {
        s.selector = None;
    }
    k.metadata.labels = Some(labels(&[
        ("component", "apiserver"),
        ("provider", "kubernetes"),
    ]));
    create(st, Obj::Service(k));

    let sys = "kube-system";
    create(
        st,
        Obj::Deployment(deployment(
            sys,
            "coredns",
            2,
            "registry.k8s.io/coredns/coredns:v1.11.3",
            53,
            &[("k8s-app", "kube-dns")],
        )),
    );
    create(
        st,
        Obj::Deployment(deployment(
            sys,
            "metrics-server",
            1,
            "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
            10250,
            &[],
        )),
    );
    let mut dns = service(sys, "kube-dns", 53, 53);
    if let Some(s) = dns.spec.as_mut() {
        s.selector = Some(labels(&[("app", "coredns")]));
    }
    create(st, Obj::Service(dns));
    let proxy_t = {
        let mut t = template(
            "kube-proxy",
            "registry.k8s.io/kube-proxy:v1.33.0",
            10256,
            &[("k8s-app", "kube-proxy")],
        );
        if let Some(s) = t.spec.as_mut() {
            s.tolerations = Some(vec![Toleration {
                operator: Some("Exists".into()),
                ..Default::default()
            }]);
        }
        t
    };
    create(
        st,
        Obj::DaemonSet(DaemonSet {
            metadata: meta(
                Some(sys),
                "kube-proxy",
                labels(&[("k8s-app", "kube-proxy")]),
            ),
            spec: Some(DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some(labels(&[("app", "kube-proxy")])),
                    ..Default::default()
                },
                template: proxy_t,
                ..Default::default()
            }),
            status: None,
        }),
    );

    let shop = "shop";
    for (name, replicas, port, tier) in [
        ("frontend", 3, 8080, "web"),
        ("checkout", 2, 8080, "api"),
        ("payments", 2, 8080, "api"),
        ("catalog", 3, 8080, "api"),
    ] {
        let image = format!("ghcr.io/chaosduck/shop-{name}:1.4.2");
        create(
            st,
            Obj::Deployment(deployment(
                shop,
                name,
                replicas,
                &image,
                port,
                &[("tier", tier), ("part-of", "shop")],
            )),
        );
        create(st, Obj::Service(service(shop, name, 80, port)));
    }
    create(
        st,
        Obj::StatefulSet(statefulset(
            shop,
            "redis",
            1,
            "redis:7.4",
            6379,
            &[("tier", "cache"), ("part-of", "shop")],
        )),
    );
    create(st, Obj::Service(service(shop, "redis", 6379, 6379)));
    create(
        st,
        Obj::StatefulSet(statefulset(
            shop,
            "postgres",
            1,
            "postgres:16.4",
            5432,
            &[("tier", "db"), ("part-of", "shop")],
        )),
    );
    create(st, Obj::Service(service(shop, "postgres", 5432, 5432)));
}

/// Generates about `pods` extra pods: namespaces `bench-NNNN` holding 4 deployments of 25 replicas
/// and their services, plus one node per 100 pods spread over three zones.
pub fn load_generated(st: &mut State, pods: usize) {
    if pods == 0 {
        return;
    }
    let nodes = pods.div_ceil(PODS_PER_NODE);
    let zones = ["zone-a", "zone-b", "zone-c"];
    for i in 0..nodes {
        let name = format!("sandbox-bench-node-{i:04}");
        let ip = format!("10.1.{}.{}", i / 250, i % 250 + 1);
        create(st, Obj::Node(node(&name, zones[i % 3], &ip)));
    }
    let namespaces = pods.div_ceil(PODS_PER_NAMESPACE);
    let mut left = pods;
    for n in 0..namespaces {
        let ns = format!("bench-{n:04}");
        create(
            st,
            Obj::Namespace(namespace(&ns, &[("purpose", "benchmark")])),
        );
        for (d, app) in ["web", "api", "worker", "cache"].iter().enumerate() {
            if left == 0 {
                break;
            }
            let per = (PODS_PER_NAMESPACE / 4).min(left);
            left -= per;
            let name = format!("{app}-{d}");
            create(
                st,
                Obj::Deployment(deployment(
                    &ns,
                    &name,
                    per as i32,
                    "ghcr.io/chaosduck/bench:1.0",
                    8080,
                    &[],
                )),
            );
            create(st, Obj::Service(service(&ns, &name, 80, 8080)));
        }
    }
}
