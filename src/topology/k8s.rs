//! Kubernetes topology: kube-runtime watchers feeding reflector stores of stripped objects (no
//! managedFields, no annotations but ChaosDuck's, no container specs), and a graph built from the
//! local stores — namespaces → workloads → pods, nodes, services → pods by selector — with fault
//! markers on targets that carry a ChaosDuck fault. Filtering and rebuilding never refetch.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, PodSpec, PodStatus, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a kind's listing may keep failing before `ready` gives up with the API's error
/// instead of waiting out its whole limit (the watchers keep retrying either way).
const FAILING_FOR: Duration = Duration::from_secs(5);

/// Per kind, since when its watcher has been failing and its last error.
type Failures = Arc<Mutex<BTreeMap<&'static str, (Instant, String)>>>;

/// Topology failures.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The initial listing did not finish in time.
    #[error(
        "the Kubernetes topology was not complete after {0}; check the connection (--kubeconfig, --context)"
    )]
    Timeout(String),
    /// A listing keeps failing: the server is unreachable or does not answer like Kubernetes.
    #[error(
        "the Kubernetes API keeps failing to list {kind}s: {message}; check that the server in the kubeconfig is a Kubernetes API server and reachable (--kubeconfig, --context)"
    )]
    Failing {
        /// The kind whose listing fails.
        kind: &'static str,
        /// The last error.
        message: String,
    },
}

/// One pod in the graph.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PodInfo {
    /// Name.
    pub name: String,
    /// Phase.
    pub phase: String,
    /// Ready condition.
    pub ready: bool,
    /// Restarts of all containers.
    pub restarts: i32,
    /// Node it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// ChaosDuck faults on it now (running injectors, partition label).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}

/// A workload and its pods.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkloadNode {
    /// Deployment, StatefulSet, DaemonSet or ReplicaSet (without a Deployment).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Desired pods.
    pub desired: i32,
    /// Ready pods.
    pub ready: i32,
    /// Its pod selector's matchLabels as `k=v,k2=v2` (empty when it has none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    /// Its pods.
    pub pods: Vec<PodInfo>,
}

/// A Service and the pods its selector picks.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ServiceNode {
    /// Name.
    pub name: String,
    /// Selector, `k=v,...`.
    pub selector: String,
    /// Pods it selects.
    pub pods: Vec<String>,
}

/// A namespace.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NamespaceNode {
    /// Name.
    pub name: String,
    /// Workloads.
    pub workloads: Vec<WorkloadNode>,
    /// Pods without a controller.
    pub bare_pods: Vec<PodInfo>,
    /// Services.
    pub services: Vec<ServiceNode>,
}

/// A node.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// `topology.kubernetes.io/zone`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Not cordoned.
    pub schedulable: bool,
    /// Ready condition.
    pub ready: bool,
    /// Cordoned by a ChaosDuck experiment.
    pub chaosduck_cordon: bool,
    /// Pods on it.
    pub pods: usize,
}

/// The whole graph.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct K8sTopology {
    /// Namespaces, by name.
    pub namespaces: Vec<NamespaceNode>,
    /// Nodes, by name.
    pub nodes: Vec<NodeInfo>,
    /// All pods.
    pub pods: usize,
    /// Pods carrying a ChaosDuck fault now.
    pub faulted_pods: usize,
}

/// Keeps what the topology shows and drops the rest: the cache stays small at 10,000 pods.
fn strip_pod(p: &mut Pod) {
    let m = &mut p.metadata;
    m.managed_fields = None;
    m.annotations = None;
    m.finalizers = None;
    m.generate_name = None;
    if let Some(spec) = p.spec.take() {
        p.spec = Some(PodSpec {
            node_name: spec.node_name,
            ..Default::default()
        });
    }
    if let Some(st) = p.status.take() {
        let containers = st.container_statuses.map(|v| {
            v.into_iter()
                .map(|mut c| {
                    c.image = String::new();
                    c.image_id = String::new();
                    c.state = None;
                    c.last_state = None;
                    c.resources = None;
                    c.volume_mounts = None;
                    c.container_id = None;
                    c
                })
                .collect()
        });
        let ephemeral = st.ephemeral_container_statuses.map(|v| {
            v.into_iter()
                .filter(|c| c.name.starts_with("chaosduck-"))
                .collect()
        });
        p.status = Some(PodStatus {
            phase: st.phase,
            conditions: st
                .conditions
                .map(|c| c.into_iter().filter(|c| c.type_ == "Ready").collect()),
            container_statuses: containers,
            ephemeral_container_statuses: ephemeral,
            ..Default::default()
        });
    }
}

fn strip_meta(m: &mut kube::api::ObjectMeta) {
    m.managed_fields = None;
    if let Some(a) = m.annotations.as_mut() {
        a.retain(|k, _| k.starts_with("chaosduck.io/"));
    }
}

/// Watchers and their stores; dropping it stops the watchers.
pub struct K8sWatch {
    pods: Store<Pod>,
    nodes: Store<Node>,
    namespaces: Store<Namespace>,
    deployments: Store<Deployment>,
    statefulsets: Store<StatefulSet>,
    daemonsets: Store<DaemonSet>,
    replicasets: Store<ReplicaSet>,
    services: Store<Service>,
    changes: watch::Receiver<u64>,
    failures: Failures,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for K8sWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn spawn<K>(
    api: Api<K>,
    strip: fn(&mut K),
    tick: watch::Sender<u64>,
    failures: &Failures,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default().page_size(500))
        .default_backoff()
        .modify(strip)
        .reflect(writer);
    // "Pod" from "k8s_openapi::api::core::v1::Pod": static, and what the user knows it by.
    let kind = std::any::type_name::<K>()
        .rsplit("::")
        .next()
        .unwrap_or("object");
    let failures = failures.clone();
    tasks.push(tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            let mut f = failures.lock().unwrap_or_else(|e| e.into_inner());
            match ev {
                Err(e) => {
                    tracing::debug!(error = %e, "topology watch error (retrying with backoff)");
                    let message = e.to_string();
                    f.entry(kind)
                        .and_modify(|(_, m)| m.clone_from(&message))
                        .or_insert((Instant::now(), message));
                }
                // Each retry starts with `Init`; only what follows a listing shows it worked.
                Ok(watcher::Event::Init) => {}
                Ok(_) => {
                    f.remove(kind);
                }
            }
            drop(f);
            tick.send_modify(|n| *n = n.wrapping_add(1));
        }
    }));
    store
}

impl K8sWatch {
    /// Starts one watcher per kind.
    pub fn start(client: kube::Client) -> Self {
        let (tx, rx) = watch::channel(0u64);
        let failures = Failures::default();
        let mut tasks = Vec::new();
        let c = client;
        K8sWatch {
            pods: spawn(
                Api::<Pod>::all(c.clone()),
                strip_pod,
                tx.clone(),
                &failures,
                &mut tasks,
            ),
            nodes: spawn(
                Api::<Node>::all(c.clone()),
                |n: &mut Node| {
                    strip_meta(&mut n.metadata);
                    if let Some(s) = n.status.as_mut() {
                        s.images = None;
                        s.node_info = None;
                        s.volumes_attached = None;
                        s.volumes_in_use = None;
                    }
                },
                tx.clone(),
                &failures,
                &mut tasks,
            ),
            namespaces: spawn(
                Api::<Namespace>::all(c.clone()),
                |n: &mut Namespace| strip_meta(&mut n.metadata),
                tx.clone(),
                &failures,
                &mut tasks,
            ),
            deployments: spawn(
                Api::<Deployment>::all(c.clone()),
                |d: &mut Deployment| {
                    strip_meta(&mut d.metadata);
                    if let Some(s) = d.spec.as_mut() {
                        s.template = Default::default();
                    }
                },
                tx.clone(),
                &failures,
                &mut tasks,
            ),
            statefulsets: spawn(
                Api::<StatefulSet>::all(c.clone()),
                |d: &mut StatefulSet| {
                    strip_meta(&mut d.metadata);
                    if let Some(s) = d.spec.as_mut() {
                        s.template = Default::default();
                        s.volume_claim_templates = None;
                    }
                },
                tx.clone(),
                &failures,
                &mut tasks,
            ),
            daemonsets: spawn(
                Api::<DaemonSet>::all(c.clone()),
                |d: &mut DaemonSet| {
                    strip_meta(&mut d.metadata);
                    if let Some(s) = d.spec.as_mut() {
                        s.template = Default::default();
                    }
                },
                tx.clone(),
                &failures,
                &mut tasks,
            ),
            replicasets: spawn(
                Api::<ReplicaSet>::all(c.clone()),
                |d: &mut ReplicaSet| {
                    strip_meta(&mut d.metadata);
                    if let Some(s) = d.spec.as_mut() {
                        s.template = None;
                    }
                },
                tx.clone(),
                &failures,
                &mut tasks,
            ),
            services: spawn(
                Api::<Service>::all(c),
                |s: &mut Service| strip_meta(&mut s.metadata),
                tx,
                &failures,
                &mut tasks,
            ),
            changes: rx,
            failures,
            tasks,
        }
    }

    /// Waits until every store holds its initial listing. Gives up early, with the API's own
    /// error, when a listing has kept failing for a few seconds.
    pub async fn ready(&self, limit: Duration) -> Result<(), TopologyError> {
        let all = async {
            let _ = self.pods.wait_until_ready().await;
            let _ = self.nodes.wait_until_ready().await;
            let _ = self.namespaces.wait_until_ready().await;
            let _ = self.deployments.wait_until_ready().await;
            let _ = self.statefulsets.wait_until_ready().await;
            let _ = self.daemonsets.wait_until_ready().await;
            let _ = self.replicasets.wait_until_ready().await;
            let _ = self.services.wait_until_ready().await;
        };
        let failing = async {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((kind, (_, message))) = f
                    .iter()
                    .find(|(_, (since, _))| since.elapsed() >= FAILING_FOR)
                {
                    return TopologyError::Failing {
                        kind,
                        message: message.clone(),
                    };
                }
            }
        };
        let timeout = tokio::time::sleep(limit);
        tokio::select! {
            _ = all => Ok(()),
            e = failing => Err(e),
            _ = timeout => Err(TopologyError::Timeout(humantime::format_duration(limit).to_string())),
        }
    }

    /// A counter that moves whenever any store changes (for redraws; latest wins).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Builds the graph from the local stores.
    pub fn snapshot(&self) -> K8sTopology {
        build(
            &self.pods.state(),
            &self.nodes.state(),
            &self.namespaces.state(),
            &self.deployments.state(),
            &self.statefulsets.state(),
            &self.daemonsets.state(),
            &self.replicasets.state(),
            &self.services.state(),
        )
    }
}

fn pod_info(p: &Pod) -> PodInfo {
    let st = p.status.as_ref();
    let ready = st
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let restarts = st
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |v| v.iter().map(|c| c.restart_count).sum());
    let mut faults: Vec<String> = st
        .and_then(|s| s.ephemeral_container_statuses.as_ref())
        .map(|v| {
            v.iter()
                .filter(|c| {
                    c.name.starts_with("chaosduck-")
                        && c.state.as_ref().is_some_and(|s| s.terminated.is_none())
                })
                .map(|c| format!("injector {}", c.name))
                .collect()
        })
        .unwrap_or_default();
    if let Some(v) = p
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("chaosduck.io/partition"))
    {
        faults.push(format!("partition {v}"));
    }
    let phase = if p.metadata.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else {
        st.and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into())
    };
    PodInfo {
        name: p.metadata.name.clone().unwrap_or_default(),
        phase,
        ready,
        restarts,
        node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        faults,
    }
}

/// A pod's labels and name, for matching Service selectors.
type LabelledPod = (BTreeMap<String, String>, String);

fn ns_of(m: &kube::api::ObjectMeta) -> String {
    m.namespace.clone().unwrap_or_default()
}

fn controller(m: &kube::api::ObjectMeta) -> Option<(String, String)> {
    m.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.clone(), o.name.clone()))
}

/// A selector's matchLabels as `k=v,k2=v2`, sorted.
fn match_labels(sel: Option<&LabelSelector>) -> String {
    sel.and_then(|s| s.match_labels.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn build(
    pods: &[Arc<Pod>],
    nodes: &[Arc<Node>],
    namespaces: &[Arc<Namespace>],
    deployments: &[Arc<Deployment>],
    statefulsets: &[Arc<StatefulSet>],
    daemonsets: &[Arc<DaemonSet>],
    replicasets: &[Arc<ReplicaSet>],
    services: &[Arc<Service>],
) -> K8sTopology {
    // ReplicaSet -> its Deployment, so pods group under the Deployment.
    let rs_owner: HashMap<(String, String), String> = replicasets
        .iter()
        .filter_map(|r| {
            let (k, n) = controller(&r.metadata)?;
            (k == "Deployment").then(|| {
                (
                    (
                        ns_of(&r.metadata),
                        r.metadata.name.clone().unwrap_or_default(),
                    ),
                    n,
                )
            })
        })
        .collect();
    let mut ns: BTreeMap<String, NamespaceNode> = namespaces
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            (
                name.clone(),
                NamespaceNode {
                    name,
                    workloads: vec![],
                    bare_pods: vec![],
                    services: vec![],
                },
            )
        })
        .collect();
    let mut workloads: BTreeMap<(String, String, String), WorkloadNode> = BTreeMap::new();
    let mut add_wl = |ns: String,
                      kind: &str,
                      name: String,
                      desired: i32,
                      ready: i32,
                      sel: Option<&LabelSelector>| {
        workloads.insert(
            (ns, kind.to_string(), name.clone()),
            WorkloadNode {
                kind: kind.into(),
                name,
                desired,
                ready,
                selector: match_labels(sel),
                pods: vec![],
            },
        );
    };
    for d in deployments {
        let st = d.status.clone().unwrap_or_default();
        add_wl(
            ns_of(&d.metadata),
            "Deployment",
            d.metadata.name.clone().unwrap_or_default(),
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            st.ready_replicas.unwrap_or(0),
            d.spec.as_ref().map(|s| &s.selector),
        );
    }
    for d in statefulsets {
        let st = d.status.clone().unwrap_or_default();
        add_wl(
            ns_of(&d.metadata),
            "StatefulSet",
            d.metadata.name.clone().unwrap_or_default(),
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            st.ready_replicas.unwrap_or(0),
            d.spec.as_ref().map(|s| &s.selector),
        );
    }
    for d in daemonsets {
        let st = d.status.clone().unwrap_or_default();
        add_wl(
            ns_of(&d.metadata),
            "DaemonSet",
            d.metadata.name.clone().unwrap_or_default(),
            st.desired_number_scheduled,
            st.number_ready,
            d.spec.as_ref().map(|s| &s.selector),
        );
    }
    for r in replicasets {
        let key = (
            ns_of(&r.metadata),
            r.metadata.name.clone().unwrap_or_default(),
        );
        if !rs_owner.contains_key(&key) {
            let st = r.status.clone().unwrap_or_default();
            add_wl(
                key.0,
                "ReplicaSet",
                key.1,
                r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                st.ready_replicas.unwrap_or(0),
                r.spec.as_ref().map(|s| &s.selector),
            );
        }
    }
    let mut node_pods: HashMap<String, usize> = HashMap::new();
    let mut by_ns_pods: HashMap<String, Vec<LabelledPod>> = HashMap::new();
    let mut faulted = 0;
    for p in pods {
        let info = pod_info(p);
        if !info.faults.is_empty() {
            faulted += 1;
        }
        if let Some(n) = &info.node {
            *node_pods.entry(n.clone()).or_default() += 1;
        }
        let namespace = ns_of(&p.metadata);
        by_ns_pods.entry(namespace.clone()).or_default().push((
            p.metadata.labels.clone().unwrap_or_default(),
            info.name.clone(),
        ));
        let owner = controller(&p.metadata).map(|(k, n)| {
            match rs_owner.get(&(namespace.clone(), n.clone())) {
                Some(d) if k == "ReplicaSet" => ("Deployment".to_string(), d.clone()),
                _ => (k, n),
            }
        });
        let entry = ns
            .entry(namespace.clone())
            .or_insert_with(|| NamespaceNode {
                name: namespace.clone(),
                workloads: vec![],
                bare_pods: vec![],
                services: vec![],
            });
        match owner.and_then(|(k, n)| workloads.get_mut(&(namespace.clone(), k, n))) {
            Some(w) => w.pods.push(info),
            None => entry.bare_pods.push(info),
        }
    }
    for ((namespace, _, _), mut w) in workloads {
        w.pods.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(n) = ns.get_mut(&namespace) {
            n.workloads.push(w);
        }
    }
    for s in services {
        let namespace = ns_of(&s.metadata);
        let sel = s
            .spec
            .as_ref()
            .and_then(|sp| sp.selector.clone())
            .unwrap_or_default();
        let picked: Vec<String> = if sel.is_empty() {
            vec![]
        } else {
            by_ns_pods
                .get(&namespace)
                .map(|v| {
                    v.iter()
                        .filter(|(l, _)| sel.iter().all(|(k, val)| l.get(k) == Some(val)))
                        .map(|(_, n)| n.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        if let Some(n) = ns.get_mut(&namespace) {
            n.services.push(ServiceNode {
                name: s.metadata.name.clone().unwrap_or_default(),
                selector: sel
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                pods: picked,
            });
        }
    }
    for n in ns.values_mut() {
        n.bare_pods.sort_by(|a, b| a.name.cmp(&b.name));
        n.services.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut node_list: Vec<NodeInfo> = nodes
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            NodeInfo {
                zone: n
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("topology.kubernetes.io/zone").cloned()),
                schedulable: !n
                    .spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false),
                ready: n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
                chaosduck_cordon: n
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("chaosduck.io/cordoned-by")),
                pods: node_pods.get(&name).copied().unwrap_or(0),
                name,
            }
        })
        .collect();
    node_list.sort_by(|a, b| a.name.cmp(&b.name));
    K8sTopology {
        namespaces: ns.into_values().collect(),
        nodes: node_list,
        pods: pods.len(),
        faulted_pods: faulted,
    }
}
