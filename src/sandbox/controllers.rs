//! Controllers and the simulated kubelet/scheduler: Deployment → ReplicaSet → Pod, StatefulSet and
//! DaemonSet pods, scheduling around cordons and taints, readiness after a delay, injector
//! lifecycles, graceful termination, garbage collection by owner, namespace deletion, workload
//! status counts, and EndpointSlices that follow ready pods.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{
    DaemonSetStatus, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
    ReplicaSetStatus, StatefulSetStatus,
};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStatus, Event, EventSource, Node,
    ObjectReference, Pod, PodCondition, PodIP, PodTemplateSpec,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use tokio_util::sync::CancellationToken;

use super::faults;
use super::resources::{Kind, Obj};
use super::selectors::map_selects;
use super::store::{State, Store, now, random_suffix};

/// Delays of the simulation.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From scheduling to Ready.
    pub readiness_delay: Duration,
    /// From a missing replica to its replacement being created.
    pub recreate_delay: Duration,
    /// Upper bound on how long a terminating pod stays (its grace period, if shorter).
    pub termination_delay: Duration,
    /// Controller loop period (also the resolution of the delays).
    pub tick: Duration,
}

/// Label carrying the template hash on ReplicaSets and pods.
const HASH_LABEL: &str = "pod-template-hash";

/// State of the controllers between passes.
#[derive(Debug, Default)]
pub struct Controllers {
    ready_at: HashMap<String, Instant>,
    remove_at: HashMap<String, Instant>,
    shortfall_since: HashMap<String, Instant>,
    /// Some pod has ephemeral containers (injectors expire with time, not with changes).
    ephemeral_seen: bool,
}

fn uid(o: &Obj) -> String {
    o.meta().uid.clone().unwrap_or_default()
}

fn controller_ref(m: &ObjectMeta) -> Option<&OwnerReference> {
    m.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

fn owner_ref(o: &Obj) -> OwnerReference {
    OwnerReference {
        api_version: o.kind().api_version(),
        kind: o.kind().info().kind.to_string(),
        name: o.name().to_string(),
        uid: uid(o),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn is_terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

fn condition_true(p: &Pod, t: &str) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == t && c.status == "True"))
}

/// Whether a pod is Ready (condition Ready=True) and not terminating.
pub fn pod_ready(p: &Pod) -> bool {
    !is_terminating(p) && condition_true(p, "Ready")
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_none_or(|c| {
            c.iter()
                .find(|c| c.type_ == "Ready")
                .is_none_or(|c| c.status == "True")
        })
}

fn node_schedulable(n: &Node) -> bool {
    !n.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

fn tolerates(p: &Pod, n: &Node) -> bool {
    let tols = p.spec.as_ref().and_then(|s| s.tolerations.as_ref());
    n.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .all(|taint| {
            if taint.effect == "PreferNoSchedule" {
                return true;
            }
            tols.into_iter().flatten().any(|t| {
                let key_ok = t
                    .key
                    .as_deref()
                    .is_none_or(|k| k.is_empty() || k == taint.key);
                let op_exists = t.operator.as_deref() == Some("Exists");
                let val_ok = op_exists
                    || t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("");
                let eff_ok = t
                    .effect
                    .as_deref()
                    .is_none_or(|e| e.is_empty() || e == taint.effect);
                key_ok && val_ok && eff_ok && (op_exists || t.key.is_some())
            })
        })
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// Template hash in the style of pod-template-hash (10 characters).
fn template_hash(t: &PodTemplateSpec) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = fnv(&serde_json::to_string(t).unwrap_or_default());
    (0..10)
        .map(|_| {
            let c = ALPHA[(h % ALPHA.len() as u64) as usize] as char;
            h /= ALPHA.len() as u64;
            c
        })
        .collect()
}

/// Builds a pod from a template.
fn pod_from_template(
    tmpl: &PodTemplateSpec,
    ns: &str,
    name: Option<String>,
    generate: &str,
    owner: OwnerReference,
) -> Pod {
    let tm = tmpl.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            name,
            generate_name: Some(generate.to_string()),
            namespace: Some(ns.to_string()),
            labels: tm.labels,
            annotations: tm.annotations,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: tmpl.spec.clone(),
        status: None,
    }
}

fn emit_event(st: &mut State, involved: &Obj, reason: &str, message: String, type_: &str) {
    let ns = if involved.namespace().is_empty() {
        "default".to_string()
    } else {
        involved.namespace().to_string()
    };
    let ev = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{}", involved.name(), random_suffix())),
            namespace: Some(ns),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some(involved.kind().api_version()),
            kind: Some(involved.kind().info().kind.to_string()),
            name: Some(involved.name().to_string()),
            namespace: (!involved.namespace().is_empty()).then(|| involved.namespace().to_string()),
            uid: involved.meta().uid.clone(),
            ..Default::default()
        },
        reason: Some(reason.to_string()),
        message: Some(message),
        type_: Some(type_.to_string()),
        count: Some(1),
        first_timestamp: Some(now()),
        last_timestamp: Some(now()),
        source: Some(EventSource {
            component: Some("chaosduck-sandbox".into()),
            host: None,
        }),
        ..Default::default()
    };
    if let Err(e) = st.create_internal(Obj::Event(ev)) {
        tracing::debug!(error = %e, "event not recorded");
    }
}

impl Controllers {
    /// Runs the controllers until `shutdown`.
    pub async fn run(mut self, store: Arc<Store>, timing: Timing, shutdown: CancellationToken) {
        let mut last_rv = store.read().rv();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = store.changed.notified() => {
                    // Coalesce bursts of changes into one pass.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                _ = tokio::time::sleep(timing.tick) => {}
            }
            // Skip the pass when nothing changed and no delay or injector is pending: keeps a
            // large idle sandbox cheap.
            if store.read().rv() == last_rv && !self.has_pending() {
                continue;
            }
            let changed = {
                let mut st = store.write();
                let before = st.rv();
                self.reconcile(&mut st, Instant::now(), &timing, false);
                // A pass that changed something runs again next tick, until a pass is a no-op:
                // later controllers' changes may concern earlier ones.
                last_rv = if st.rv() != before { 0 } else { st.rv() };
                st.rv() != before
            };
            if changed {
                // Wake watchers of the app servers; controllers themselves loop on the tick.
                store.changed.notify_waiters();
            }
        }
    }

    fn has_pending(&self) -> bool {
        self.ephemeral_seen
            || !self.ready_at.is_empty()
            || !self.remove_at.is_empty()
            || !self.shortfall_since.is_empty()
    }

    /// One pass of every controller. With `instant`, delays are skipped (demo data at start).
    pub fn reconcile(&mut self, st: &mut State, now_i: Instant, t: &Timing, instant: bool) {
        self.namespaces(st);
        self.garbage_collect(st);
        self.deployments(st);
        self.replicasets(st, now_i, t, instant);
        self.statefulsets(st, now_i, t, instant);
        self.daemonsets(st, instant);
        self.schedule(st, instant);
        self.kubelet(st, now_i, t, instant);
        self.workload_status(st);
        self.endpoint_slices(st);
        super::disruption::reconcile(st);
        let owners: HashSet<String> = [Kind::ReplicaSet, Kind::StatefulSet]
            .into_iter()
            .flat_map(|k| st.iter(k, None).map(|o| uid(o)))
            .collect();
        self.shortfall_since.retain(|k, _| owners.contains(k));
    }

    fn namespaces(&mut self, st: &mut State) {
        let dying: Vec<String> = st
            .iter(Kind::Namespace, None)
            .filter(|n| n.meta().deletion_timestamp.is_some())
            .map(|n| n.name().to_string())
            .collect();
        for ns in dying {
            let mut left = 0;
            for kind in Kind::ALL.into_iter().filter(|k| k.info().namespaced) {
                let names: Vec<(String, bool)> = st
                    .iter(kind, Some(&ns))
                    .map(|o| (o.name().to_string(), o.meta().deletion_timestamp.is_some()))
                    .collect();
                left += names.len();
                for (name, dying) in names {
                    if !dying {
                        let _ = st.delete(kind, &ns, &name, None, None, None);
                    }
                }
            }
            if left == 0 {
                st.remove(Kind::Namespace, "", &ns);
            }
        }
    }

    fn garbage_collect(&mut self, st: &mut State) {
        let mut owners: HashSet<String> = HashSet::new();
        for k in [
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::StatefulSet,
            Kind::DaemonSet,
            Kind::Service,
            Kind::Node,
        ] {
            owners.extend(st.iter(k, None).map(|o| uid(o)));
        }
        let mut orphans = Vec::new();
        for k in [Kind::Pod, Kind::ReplicaSet, Kind::EndpointSlice] {
            for o in st.iter(k, None) {
                if o.meta().deletion_timestamp.is_some() {
                    continue;
                }
                if let Some(refs) = &o.meta().owner_references
                    && !refs.is_empty()
                    && refs.iter().all(|r| !owners.contains(&r.uid))
                {
                    orphans.push((k, o.namespace().to_string(), o.name().to_string()));
                }
            }
        }
        for (k, ns, name) in orphans {
            let _ = st.delete(k, &ns, &name, None, None, None);
        }
    }

    fn deployments(&mut self, st: &mut State) {
        let deps: Vec<Arc<Obj>> = st.iter(Kind::Deployment, None).cloned().collect();
        for d in deps {
            let Obj::Deployment(dep) = &*d else { continue };
            if dep.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(spec) = &dep.spec else { continue };
            let ns = d.namespace().to_string();
            let hash = template_hash(&spec.template);
            let rs_name = format!("{}-{}", d.name(), hash);
            let duid = uid(&d);
            let owned: Vec<Arc<Obj>> = st
                .iter(Kind::ReplicaSet, Some(&ns))
                .filter(|r| controller_ref(r.meta()).is_some_and(|c| c.uid == duid))
                .cloned()
                .collect();
            let replicas = spec.replicas.unwrap_or(1);
            for r in &owned {
                if r.name() != rs_name {
                    // Simplification: no rolling update; old ReplicaSets scale to 0 at once.
                    st.mutate(Kind::ReplicaSet, &ns, r.name(), |o| {
                        if let Obj::ReplicaSet(rs) = o
                            && let Some(s) = rs.spec.as_mut()
                        {
                            s.replicas = Some(0);
                        }
                    });
                }
            }
            if owned.iter().any(|r| r.name() == rs_name) {
                st.mutate(Kind::ReplicaSet, &ns, &rs_name, |o| {
                    if let Obj::ReplicaSet(rs) = o
                        && let Some(s) = rs.spec.as_mut()
                    {
                        s.replicas = Some(replicas);
                    }
                });
                continue;
            }
            let mut template = spec.template.clone();
            template
                .metadata
                .get_or_insert_with(Default::default)
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(HASH_LABEL.into(), hash.clone());
            let mut selector: LabelSelector = spec.selector.clone();
            selector
                .match_labels
                .get_or_insert_with(BTreeMap::new)
                .insert(HASH_LABEL.into(), hash.clone());
            let mut labels = template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert(HASH_LABEL.into(), hash.clone());
            let rs = ReplicaSet {
                metadata: ObjectMeta {
                    name: Some(rs_name),
                    namespace: Some(ns.clone()),
                    labels: Some(labels),
                    annotations: Some(BTreeMap::from([(
                        "deployment.kubernetes.io/revision".to_string(),
                        (owned.len() + 1).to_string(),
                    )])),
                    owner_references: Some(vec![owner_ref(&d)]),
                    ..Default::default()
                },
                spec: Some(ReplicaSetSpec {
                    replicas: Some(replicas),
                    selector,
                    template: Some(template),
                    min_ready_seconds: spec.min_ready_seconds,
                }),
                status: None,
            };
            if let Err(e) = st.create_internal(Obj::ReplicaSet(rs)) {
                tracing::warn!(deployment = %d.name(), error = %e, "cannot create replicaset");
            }
        }
    }

    /// Pods owned by each controller uid (terminating pods included).
    fn pods_by_owner(st: &State) -> HashMap<String, Vec<Arc<Obj>>> {
        let mut m: HashMap<String, Vec<Arc<Obj>>> = HashMap::new();
        for p in st.iter(Kind::Pod, None) {
            if let Some(r) = controller_ref(p.meta()) {
                m.entry(r.uid.clone()).or_default().push(p.clone());
            }
        }
        m
    }

    fn due(&mut self, key: &str, now_i: Instant, delay: Duration, instant: bool) -> bool {
        if instant {
            self.shortfall_since.remove(key);
            return true;
        }
        let since = *self.shortfall_since.entry(key.to_string()).or_insert(now_i);
        if now_i.duration_since(since) >= delay {
            self.shortfall_since.remove(key);
            true
        } else {
            false
        }
    }

    fn replicasets(&mut self, st: &mut State, now_i: Instant, t: &Timing, instant: bool) {
        let by_owner = Self::pods_by_owner(st);
        let sets: Vec<Arc<Obj>> = st.iter(Kind::ReplicaSet, None).cloned().collect();
        for r in sets {
            let Obj::ReplicaSet(rs) = &*r else { continue };
            if rs.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(spec) = &rs.spec else { continue };
            let Some(tmpl) = &spec.template else { continue };
            let ruid = uid(&r);
            let empty = Vec::new();
            let pods = by_owner.get(&ruid).unwrap_or(&empty);
            let active: Vec<&Arc<Obj>> = pods
                .iter()
                .filter(|p| p.as_pod().is_some_and(|p| !is_terminating(p)))
                .collect();
            let want = spec.replicas.unwrap_or(1).max(0) as usize;
            let ns = r.namespace().to_string();
            if active.len() < want {
                if !self.due(&ruid, now_i, t.recreate_delay, instant) {
                    continue;
                }
                for _ in active.len()..want {
                    let pod = pod_from_template(
                        tmpl,
                        &ns,
                        None,
                        &format!("{}-", r.name()),
                        owner_ref(&r),
                    );
                    match st.create_internal(Obj::Pod(pod)) {
                        Ok(p) if !instant => emit_event(
                            st,
                            &r,
                            "SuccessfulCreate",
                            format!("Created pod: {}", p.name()),
                            "Normal",
                        ),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(replicaset = %r.name(), error = %e, "cannot create pod")
                        }
                    }
                }
            } else {
                self.shortfall_since.remove(&ruid);
                if active.len() > want {
                    // Delete not-ready pods first, then the newest.
                    let mut victims: Vec<&Arc<Obj>> = active.clone();
                    victims.sort_by_key(|p| {
                        let ready = p.as_pod().is_some_and(pod_ready);
                        (
                            ready,
                            std::cmp::Reverse(p.meta().creation_timestamp.clone().map(|t| t.0)),
                        )
                    });
                    for v in victims.into_iter().take(active.len() - want) {
                        let name = v.name().to_string();
                        if st.delete(Kind::Pod, &ns, &name, None, None, None).is_ok() && !instant {
                            emit_event(
                                st,
                                &r,
                                "SuccessfulDelete",
                                format!("Deleted pod: {name}"),
                                "Normal",
                            );
                        }
                    }
                }
            }
        }
    }

    fn statefulsets(&mut self, st: &mut State, now_i: Instant, t: &Timing, instant: bool) {
        let sets: Vec<Arc<Obj>> = st.iter(Kind::StatefulSet, None).cloned().collect();
        for s in sets {
            let Obj::StatefulSet(sts) = &*s else { continue };
            if sts.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(spec) = &sts.spec else { continue };
            let ns = s.namespace().to_string();
            let want = spec.replicas.unwrap_or(1).max(0);
            let suid = uid(&s);
            let mut missing = Vec::new();
            for i in 0..want {
                let name = format!("{}-{i}", s.name());
                if st.get(Kind::Pod, &ns, &name).is_none() {
                    missing.push((i, name));
                }
            }
            if missing.is_empty() {
                self.shortfall_since.remove(&suid);
            } else if self.due(&suid, now_i, t.recreate_delay, instant) {
                for (_, name) in missing {
                    let mut pod = pod_from_template(
                        &spec.template,
                        &ns,
                        Some(name.clone()),
                        &format!("{}-", s.name()),
                        owner_ref(&s),
                    );
                    pod.metadata
                        .labels
                        .get_or_insert_with(BTreeMap::new)
                        .insert("statefulset.kubernetes.io/pod-name".into(), name.clone());
                    if let Some(ps) = pod.spec.as_mut() {
                        ps.hostname = Some(name.clone());
                        ps.subdomain = Some(spec.service_name.clone().unwrap_or_default())
                            .filter(|x| !x.is_empty());
                    }
                    match st.create_internal(Obj::Pod(pod)) {
                        Ok(_) if !instant => emit_event(
                            st,
                            &s,
                            "SuccessfulCreate",
                            format!("create Pod {name} in StatefulSet {} successful", s.name()),
                            "Normal",
                        ),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(statefulset = %s.name(), error = %e, "cannot create pod")
                        }
                    }
                }
            }
            // Scale down: ordinals at or above `want`.
            let extra: Vec<String> = st
                .iter(Kind::Pod, Some(&ns))
                .filter(|p| controller_ref(p.meta()).is_some_and(|c| c.uid == suid))
                .filter(|p| p.as_pod().is_some_and(|p| !is_terminating(p)))
                .filter(|p| {
                    p.name()
                        .rsplit_once('-')
                        .and_then(|(_, i)| i.parse::<i32>().ok())
                        .is_none_or(|i| i >= want)
                })
                .map(|p| p.name().to_string())
                .collect();
            for name in extra {
                let _ = st.delete(Kind::Pod, &ns, &name, None, None, None);
            }
        }
    }

    fn daemonsets(&mut self, st: &mut State, _instant: bool) {
        let nodes: Vec<Arc<Obj>> = st.iter(Kind::Node, None).cloned().collect();
        let by_owner = Self::pods_by_owner(st);
        let sets: Vec<Arc<Obj>> = st.iter(Kind::DaemonSet, None).cloned().collect();
        for s in sets {
            let Obj::DaemonSet(ds) = &*s else { continue };
            if ds.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(spec) = &ds.spec else { continue };
            let ns = s.namespace().to_string();
            let empty = Vec::new();
            let pods = by_owner.get(&uid(&s)).unwrap_or(&empty);
            let node_sel = spec
                .template
                .spec
                .as_ref()
                .and_then(|p| p.node_selector.clone());
            for n in &nodes {
                let Obj::Node(node) = &**n else { continue };
                if !node_ready(node) {
                    continue;
                }
                if node_sel.as_ref().is_some_and(|sel| {
                    !sel.is_empty() && !map_selects(Some(sel), node.metadata.labels.as_ref())
                }) {
                    continue;
                }
                let has = pods.iter().any(|p| {
                    p.as_pod()
                        .and_then(|p| p.spec.as_ref())
                        .and_then(|s| s.node_name.as_deref())
                        == Some(n.name())
                        && p.as_pod().is_some_and(|p| !is_terminating(p))
                });
                if has {
                    continue;
                }
                let mut pod = pod_from_template(
                    &spec.template,
                    &ns,
                    None,
                    &format!("{}-", s.name()),
                    owner_ref(&s),
                );
                // Simplification: DaemonSet pods are bound directly (they tolerate cordons).
                if let Some(ps) = pod.spec.as_mut() {
                    ps.node_name = Some(n.name().to_string());
                }
                if let Err(e) = st.create_internal(Obj::Pod(pod)) {
                    tracing::warn!(daemonset = %s.name(), error = %e, "cannot create pod");
                }
            }
        }
    }

    fn schedule(&mut self, st: &mut State, instant: bool) {
        let pending: Vec<Arc<Obj>> = st
            .iter(Kind::Pod, None)
            .filter(|p| {
                p.as_pod().is_some_and(|p| {
                    !is_terminating(p) && p.spec.as_ref().is_some_and(|s| s.node_name.is_none())
                })
            })
            .cloned()
            .collect();
        if pending.is_empty() {
            return;
        }
        let nodes: Vec<Node> = st
            .iter(Kind::Node, None)
            .filter_map(|n| match &**n {
                Obj::Node(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let mut load: HashMap<String, usize> = HashMap::new();
        for p in st.iter(Kind::Pod, None) {
            if let Some(n) = p
                .as_pod()
                .and_then(|p| p.spec.as_ref())
                .and_then(|s| s.node_name.clone())
            {
                *load.entry(n).or_default() += 1;
            }
        }
        for p in pending {
            let Some(pod) = p.as_pod() else { continue };
            let sel = pod.spec.as_ref().and_then(|s| s.node_selector.clone());
            let candidates: Vec<&Node> = nodes
                .iter()
                .filter(|n| node_ready(n) && node_schedulable(n) && tolerates(pod, n))
                .filter(|n| {
                    sel.as_ref().is_none_or(|s| {
                        s.is_empty() || map_selects(Some(s), n.metadata.labels.as_ref())
                    })
                })
                .collect();
            let best = candidates.iter().min_by_key(|n| {
                let name = n.metadata.name.clone().unwrap_or_default();
                (load.get(&name).copied().unwrap_or(0), name)
            });
            let ns = p.namespace().to_string();
            match best {
                Some(n) => {
                    let node = n.metadata.name.clone().unwrap_or_default();
                    let host_ip = n
                        .status
                        .as_ref()
                        .and_then(|s| s.addresses.as_ref())
                        .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
                        .map(|a| a.address.clone());
                    *load.entry(node.clone()).or_default() += 1;
                    let updated = st.mutate(Kind::Pod, &ns, p.name(), |o| {
                        if let Obj::Pod(pod) = o {
                            if let Some(s) = pod.spec.as_mut() {
                                s.node_name = Some(node.clone());
                            }
                            let status = pod.status.get_or_insert_with(Default::default);
                            status.host_ip = host_ip.clone();
                            status.host_ips = host_ip
                                .clone()
                                .map(|ip| vec![k8s_openapi::api::core::v1::HostIP { ip }]);
                            set_condition(
                                status.conditions.get_or_insert_with(Vec::new),
                                "PodScheduled",
                                "True",
                                None,
                                None,
                            );
                        }
                    });
                    if !instant && let Some(u) = updated {
                        emit_event(
                            st,
                            &u,
                            "Scheduled",
                            format!("Successfully assigned {ns}/{} to {node}", u.name()),
                            "Normal",
                        );
                    }
                }
                None => {
                    let msg = format!(
                        "0/{} nodes are available: {} node(s) were unschedulable or not ready.",
                        nodes.len(),
                        nodes.len()
                    );
                    let already = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| {
                            c.iter().any(|c| {
                                c.type_ == "PodScheduled"
                                    && c.reason.as_deref() == Some("Unschedulable")
                            })
                        });
                    if !already {
                        let updated = st.mutate(Kind::Pod, &ns, p.name(), |o| {
                            if let Obj::Pod(pod) = o {
                                let status = pod.status.get_or_insert_with(Default::default);
                                status.phase = Some("Pending".into());
                                set_condition(
                                    status.conditions.get_or_insert_with(Vec::new),
                                    "PodScheduled",
                                    "False",
                                    Some("Unschedulable"),
                                    Some(msg.clone()),
                                );
                            }
                        });
                        if !instant && let Some(u) = updated {
                            emit_event(st, &u, "FailedScheduling", msg, "Warning");
                        }
                    }
                }
            }
        }
    }

    fn kubelet(&mut self, st: &mut State, now_i: Instant, t: &Timing, instant: bool) {
        let mut seen: HashSet<String> = HashSet::new();
        self.ephemeral_seen = false;
        let pods: Vec<Arc<Obj>> = st.iter(Kind::Pod, None).cloned().collect();
        for o in pods {
            let Obj::Pod(p) = &*o else { continue };
            let puid = uid(&o);
            let ns = o.namespace().to_string();
            let name = o.name().to_string();
            seen.insert(puid.clone());
            if is_terminating(p) {
                let grace = p.metadata.deletion_grace_period_seconds.unwrap_or(0).max(0) as u64;
                let delay = t.termination_delay.min(Duration::from_secs(grace));
                let at = *self.remove_at.entry(puid.clone()).or_insert_with(|| {
                    if !instant {
                        emit_event(
                            st,
                            &o,
                            "Killing",
                            "Stopping container".to_string(),
                            "Normal",
                        );
                    }
                    now_i + delay
                });
                if instant || now_i >= at {
                    if p.metadata.finalizers.as_ref().is_none_or(Vec::is_empty) {
                        st.remove(Kind::Pod, &ns, &name);
                        self.remove_at.remove(&puid);
                    }
                } else if condition_true(p, "Ready") {
                    st.mutate(Kind::Pod, &ns, &name, |o| {
                        if let Obj::Pod(p) = o {
                            set_ready(p, false);
                        }
                    });
                }
                continue;
            }
            let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) else {
                continue;
            };
            if !condition_true(p, "Ready")
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Running")
            {
                let at = *self
                    .ready_at
                    .entry(puid.clone())
                    .or_insert(now_i + t.readiness_delay);
                if instant || now_i >= at {
                    self.ready_at.remove(&puid);
                    let ip = st.next_pod_ip();
                    st.mutate(Kind::Pod, &ns, &name, |o| {
                        if let Obj::Pod(p) = o {
                            start_pod(p, &ip, &node);
                        }
                    });
                }
            }
            let has_eph = p
                .spec
                .as_ref()
                .and_then(|s| s.ephemeral_containers.as_ref())
                .is_some_and(|e| !e.is_empty());
            if has_eph {
                let live = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.ephemeral_containers.as_ref())
                    .is_some_and(|ecs| {
                        ecs.iter().any(|c| {
                            let status = p
                                .status
                                .as_ref()
                                .and_then(|s| s.ephemeral_container_statuses.as_ref())
                                .and_then(|ss| ss.iter().find(|s| s.name == c.name));
                            status.is_none() || faults::is_running(p, &c.name)
                        })
                    });
                self.ephemeral_seen |= live;
                let mut copy = p.clone();
                if faults::reconcile_ephemeral(&mut copy) {
                    st.mutate(Kind::Pod, &ns, &name, |o| {
                        if let Obj::Pod(p) = o {
                            faults::reconcile_ephemeral(p);
                        }
                    });
                }
            }
        }
        self.ready_at.retain(|k, _| seen.contains(k));
        self.remove_at.retain(|k, _| seen.contains(k));
    }

    fn workload_status(&mut self, st: &mut State) {
        let by_owner = Self::pods_by_owner(st);
        let count = |uid: &str| -> (i32, i32) {
            let pods = by_owner.get(uid).map(Vec::as_slice).unwrap_or(&[]);
            let active = pods
                .iter()
                .filter(|p| p.as_pod().is_some_and(|p| !is_terminating(p)))
                .count() as i32;
            let ready = pods
                .iter()
                .filter(|p| p.as_pod().is_some_and(pod_ready))
                .count() as i32;
            (active, ready)
        };
        let mut rs_counts: HashMap<String, (i32, i32, String)> = HashMap::new();
        let sets: Vec<Arc<Obj>> = st.iter(Kind::ReplicaSet, None).cloned().collect();
        for r in sets {
            let (active, ready) = count(&uid(&r));
            if let Some(c) = controller_ref(r.meta()) {
                rs_counts.insert(
                    r.name().to_string() + "\u{1}" + r.namespace(),
                    (active, ready, c.uid.clone()),
                );
            }
            let generation = r.meta().generation;
            st.mutate(Kind::ReplicaSet, r.namespace(), r.name(), |o| {
                if let Obj::ReplicaSet(rs) = o {
                    let s = rs.status.get_or_insert_with(ReplicaSetStatus::default);
                    s.replicas = active;
                    s.fully_labeled_replicas = Some(active);
                    s.ready_replicas = Some(ready);
                    s.available_replicas = Some(ready);
                    s.observed_generation = generation;
                }
            });
        }
        let deps: Vec<Arc<Obj>> = st.iter(Kind::Deployment, None).cloned().collect();
        for d in deps {
            let Obj::Deployment(dep) = &*d else { continue };
            let duid = uid(&d);
            let hash = dep
                .spec
                .as_ref()
                .map(|s| template_hash(&s.template))
                .unwrap_or_default();
            let current = format!("{}-{}", d.name(), hash);
            let (mut total, mut ready, mut updated) = (0, 0, 0);
            for (key, (a, r, owner)) in &rs_counts {
                if *owner == duid {
                    total += a;
                    ready += r;
                    if key.split('\u{1}').next() == Some(current.as_str()) {
                        updated += a;
                    }
                }
            }
            let want = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let max_unavailable = want / 4;
            let available = ready >= want - max_unavailable;
            let generation = d.meta().generation;
            st.mutate(Kind::Deployment, d.namespace(), d.name(), |o| {
                if let Obj::Deployment(dep) = o {
                    let s = dep.status.get_or_insert_with(DeploymentStatus::default);
                    s.replicas = Some(total);
                    s.updated_replicas = Some(updated);
                    s.ready_replicas = Some(ready);
                    s.available_replicas = Some(ready);
                    s.unavailable_replicas = Some((want - ready).max(0)).filter(|u| *u > 0);
                    s.observed_generation = generation;
                    let conds = s.conditions.get_or_insert_with(Vec::new);
                    let (st_s, reason, msg) = if available {
                        (
                            "True",
                            "MinimumReplicasAvailable",
                            "Deployment has minimum availability.",
                        )
                    } else {
                        (
                            "False",
                            "MinimumReplicasUnavailable",
                            "Deployment does not have minimum availability.",
                        )
                    };
                    match conds.iter_mut().find(|c| c.type_ == "Available") {
                        Some(c) if c.status == st_s => {}
                        Some(c) => {
                            c.status = st_s.into();
                            c.reason = Some(reason.into());
                            c.message = Some(msg.into());
                            c.last_transition_time = Some(now());
                            c.last_update_time = Some(now());
                        }
                        None => conds.push(DeploymentCondition {
                            type_: "Available".into(),
                            status: st_s.into(),
                            reason: Some(reason.into()),
                            message: Some(msg.into()),
                            last_transition_time: Some(now()),
                            last_update_time: Some(now()),
                        }),
                    }
                }
            });
        }
        let sets: Vec<Arc<Obj>> = st.iter(Kind::StatefulSet, None).cloned().collect();
        for s in sets {
            let (active, ready) = count(&uid(&s));
            let generation = s.meta().generation;
            st.mutate(Kind::StatefulSet, s.namespace(), s.name(), |o| {
                if let Obj::StatefulSet(x) = o {
                    let status = x.status.get_or_insert_with(StatefulSetStatus::default);
                    status.replicas = active;
                    status.current_replicas = Some(active);
                    status.updated_replicas = Some(active);
                    status.ready_replicas = Some(ready);
                    status.available_replicas = Some(ready);
                    status.observed_generation = generation;
                }
            });
        }
        let nodes = st.count(Kind::Node) as i32;
        let sets: Vec<Arc<Obj>> = st.iter(Kind::DaemonSet, None).cloned().collect();
        for s in sets {
            let (active, ready) = count(&uid(&s));
            let generation = s.meta().generation;
            st.mutate(Kind::DaemonSet, s.namespace(), s.name(), |o| {
                if let Obj::DaemonSet(x) = o {
                    let status = x.status.get_or_insert_with(DaemonSetStatus::default);
                    status.desired_number_scheduled = nodes;
                    status.current_number_scheduled = active;
                    status.number_ready = ready;
                    status.number_available = Some(ready);
                    status.updated_number_scheduled = Some(active);
                    status.number_misscheduled = 0;
                    status.observed_generation = generation;
                }
            });
        }
    }

    fn endpoint_slices(&mut self, st: &mut State) {
        let services: Vec<Arc<Obj>> = st.iter(Kind::Service, None).cloned().collect();
        for s in services {
            let Obj::Service(svc) = &*s else { continue };
            let Some(spec) = &svc.spec else { continue };
            let Some(sel) = spec.selector.as_ref().filter(|m| !m.is_empty()) else {
                continue;
            };
            let ns = s.namespace().to_string();
            let mut endpoints: Vec<Endpoint> = st
                .iter(Kind::Pod, Some(&ns))
                .filter_map(|p| p.as_pod())
                .filter(|p| map_selects(Some(sel), p.metadata.labels.as_ref()))
                .filter_map(|p| {
                    let ip = p.status.as_ref().and_then(|s| s.pod_ip.clone())?;
                    let ready = pod_ready(p);
                    let terminating = is_terminating(p);
                    Some(Endpoint {
                        addresses: vec![ip],
                        conditions: Some(EndpointConditions {
                            ready: Some(ready),
                            serving: Some(ready),
                            terminating: Some(terminating),
                        }),
                        node_name: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                        target_ref: Some(ObjectReference {
                            kind: Some("Pod".into()),
                            name: p.metadata.name.clone(),
                            namespace: p.metadata.namespace.clone(),
                            uid: p.metadata.uid.clone(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                })
                .collect();
            endpoints.sort_by(|a, b| a.addresses.cmp(&b.addresses));
            let ports: Vec<EndpointPort> = spec
                .ports
                .iter()
                .flatten()
                .map(|p| EndpointPort {
                    name: p.name.clone(),
                    port: Some(match &p.target_port {
                        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i)) => {
                            *i
                        }
                        _ => p.port,
                    }),
                    protocol: p.protocol.clone().or_else(|| Some("TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
                .collect();
            let slice_name = format!("{}-sandbox", s.name());
            let svc_name = s.name().to_string();
            if st.get(Kind::EndpointSlice, &ns, &slice_name).is_some() {
                st.mutate(Kind::EndpointSlice, &ns, &slice_name, |o| {
                    if let Obj::EndpointSlice(es) = o {
                        es.endpoints = endpoints;
                        es.ports = Some(ports);
                    }
                });
            } else {
                let es = EndpointSlice {
                    metadata: ObjectMeta {
                        name: Some(slice_name),
                        namespace: Some(ns.clone()),
                        labels: Some(BTreeMap::from([
                            ("kubernetes.io/service-name".to_string(), svc_name),
                            (
                                "endpointslice.kubernetes.io/managed-by".to_string(),
                                "endpointslice-controller.k8s.io".to_string(),
                            ),
                        ])),
                        owner_references: Some(vec![owner_ref(&s)]),
                        ..Default::default()
                    },
                    address_type: "IPv4".into(),
                    endpoints,
                    ports: Some(ports),
                };
                if let Err(e) = st.create_internal(Obj::EndpointSlice(es)) {
                    tracing::warn!(service = %s.name(), error = %e, "cannot create endpointslice");
                }
            }
        }
    }
}

fn set_condition(
    conds: &mut Vec<PodCondition>,
    type_: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<String>,
) {
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Some(now());
            }
            c.status = status.into();
            c.reason = reason.map(String::from);
            c.message = message;
        }
        None => conds.push(PodCondition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.map(String::from),
            message,
            last_transition_time: Some(now()),
            ..Default::default()
        }),
    }
}

fn set_ready(p: &mut Pod, ready: bool) {
    let s = if ready { "True" } else { "False" };
    let status = p.status.get_or_insert_with(Default::default);
    let conds = status.conditions.get_or_insert_with(Vec::new);
    set_condition(conds, "Ready", s, None, None);
    set_condition(conds, "ContainersReady", s, None, None);
    for c in status.container_statuses.iter_mut().flatten() {
        c.ready = ready;
    }
}

/// The kubelet starting a bound pod: Running, IP, container statuses, Ready.
fn start_pod(p: &mut Pod, ip: &str, _node: &str) {
    let started: Time = now();
    let containers = p
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let status = p.status.get_or_insert_with(Default::default);
    status.phase = Some("Running".into());
    status.pod_ip = Some(ip.to_string());
    status.pod_ips = Some(vec![PodIP { ip: ip.to_string() }]);
    status.start_time.get_or_insert(started.clone());
    status.container_statuses = Some(
        containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                image_id: format!("sandbox://{}", c.image.clone().unwrap_or_default()),
                container_id: Some(format!("sandbox://{}", uuid::Uuid::now_v7())),
                ready: true,
                started: Some(true),
                restart_count: 0,
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(started.clone()),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
    );
    let conds = status.conditions.get_or_insert_with(Vec::new);
    for t in ["PodReadyToStartContainers", "Initialized", "PodScheduled"] {
        set_condition(conds, t, "True", None, None);
    }
    set_ready(p, true);
}
