//! The object store: typed objects per kind, one global resourceVersion counter (as etcd's
//! revision), a bounded event log for watch resumption, and a broadcast channel for live watches.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use tokio::sync::{Notify, broadcast};

use super::error::ApiError;
use super::faults::{ExecProcess, Injector};
use super::resources::{Kind, Obj};
use super::validation::validate;

/// Type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

/// One change to the store.
#[derive(Debug)]
pub struct StoreEvent {
    /// resourceVersion of the change.
    pub rv: u64,
    /// What happened.
    pub etype: EventType,
    /// The object after the change (for DELETED: the last state, with the deletion's rv).
    pub obj: Arc<Obj>,
    /// The object before the change, for selector transitions.
    pub old: Option<Arc<Obj>>,
}

/// Key of an object inside its kind: (namespace, name).
pub type Key = (String, String);

/// Mutable state behind the store lock.
#[derive(Debug)]
pub struct State {
    rv: u64,
    objects: HashMap<Kind, BTreeMap<Key, Arc<Obj>>>,
    log: VecDeque<Arc<StoreEvent>>,
    log_cap: usize,
    /// Highest rv no longer in the log (events after it are all in the log).
    compacted: u64,
    tx: broadcast::Sender<Arc<StoreEvent>>,
    ip_counter: u32,
    /// Injectors started by exec in app containers, by pod uid (a recreated pod starts clean).
    exec: HashMap<String, Vec<ExecProcess>>,
}

/// The shared store.
#[derive(Debug)]
pub struct Store {
    state: RwLock<State>,
    /// Woken after every change, so controllers react promptly.
    pub changed: Notify,
}

/// Current time as a k8s `Time`.
pub fn now() -> Time {
    Time(Timestamp::now())
}

impl Store {
    /// A new empty store keeping `log_cap` events for watch resumption.
    pub fn new(log_cap: usize) -> Arc<Store> {
        let (tx, _) = broadcast::channel(8192);
        Arc::new(Store {
            state: RwLock::new(State {
                rv: 1,
                objects: HashMap::new(),
                log: VecDeque::new(),
                log_cap: log_cap.max(1),
                compacted: 1,
                tx,
                ip_counter: 0,
                exec: HashMap::new(),
            }),
            changed: Notify::new(),
        })
    }

    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the data is still consistent per write.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access; notifies watchers of changes when dropped via `Store::write_notify`.
    pub fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` under the write lock and wakes the controllers afterwards.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = {
            let mut g = self.write();
            f(&mut g)
        };
        self.changed.notify_waiters();
        r
    }
}

fn kind_err_not_found(kind: Kind, name: &str) -> ApiError {
    let i = kind.info();
    ApiError::not_found(i.group, i.plural, name)
}

impl State {
    /// Starts a simulated exec injector in pod `uid`; `false` when one with the same pidfile
    /// already runs there (the launcher then starts nothing).
    pub fn exec_start(&mut self, uid: &str, p: ExecProcess) -> bool {
        self.exec.retain(|_, v| {
            v.retain(ExecProcess::running);
            !v.is_empty()
        });
        let procs = self.exec.entry(uid.to_string()).or_default();
        if procs
            .iter()
            .any(|q| q.container == p.container && q.pid_file == p.pid_file)
        {
            return false;
        }
        procs.push(p);
        true
    }

    /// Stops the exec injector with this pidfile; returns whether it was running.
    pub fn exec_stop(&mut self, uid: &str, container: &str, pid_file: &str) -> bool {
        let Some(v) = self.exec.get_mut(uid) else {
            return false;
        };
        let ours = |p: &ExecProcess| p.container == container && p.pid_file == pid_file;
        let was = v.iter().any(|p| ours(p) && p.running());
        v.retain(|p| !ours(p) && p.running());
        was
    }

    /// Whether the exec injector with this pidfile still runs.
    pub fn exec_running(&self, uid: &str, container: &str, pid_file: &str) -> bool {
        self.exec.get(uid).is_some_and(|v| {
            v.iter()
                .any(|p| p.container == container && p.pid_file == pid_file && p.running())
        })
    }

    /// The running exec injectors of pod `uid`.
    pub fn exec_injectors(&self, uid: &str) -> Vec<Injector> {
        self.exec
            .get(uid)
            .map(|v| {
                v.iter()
                    .filter(|p| p.running())
                    .map(|p| p.injector.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// Highest compacted rv: watches from below it get 410.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// Forgets the event history (after loading demo data, so it does not pin old versions).
    pub fn compact_all(&mut self) {
        self.log.clear();
        self.compacted = self.rv;
    }

    /// New receiver of live events.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoreEvent>> {
        self.tx.subscribe()
    }

    /// Logged events of `kind` after `rv`, or 410 when that history is gone.
    pub fn events_since(&self, kind: Kind, rv: u64) -> Result<Vec<Arc<StoreEvent>>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.compacted
            )));
        }
        Ok(self
            .log
            .iter()
            .filter(|e| e.rv > rv && e.obj.kind() == kind)
            .cloned()
            .collect())
    }

    /// The object of `kind` at ns/name.
    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<Arc<Obj>> {
        self.objects
            .get(&kind)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Like `get`, as a 404 when missing.
    pub fn get_or_404(&self, kind: Kind, ns: &str, name: &str) -> Result<Arc<Obj>, ApiError> {
        self.get(kind, ns, name)
            .ok_or_else(|| kind_err_not_found(kind, name))
    }

    /// All objects of `kind` in `ns` (all namespaces when `ns` is None), ordered by (ns, name).
    pub fn iter<'a>(
        &'a self,
        kind: Kind,
        ns: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Obj>> + 'a> {
        let Some(m) = self.objects.get(&kind) else {
            return Box::new(std::iter::empty());
        };
        match ns {
            None => Box::new(m.values()),
            Some(ns) => Box::new(
                m.range((ns.to_string(), String::new())..)
                    .take_while(move |((n, _), _)| n == ns)
                    .map(|(_, v)| v),
            ),
        }
    }

    /// Objects of `kind` strictly after `after` (for pagination), in key order.
    pub fn iter_after<'a>(
        &'a self,
        kind: Kind,
        ns: Option<&'a str>,
        after: Option<&Key>,
    ) -> Box<dyn Iterator<Item = (&'a Key, &'a Arc<Obj>)> + 'a> {
        let Some(m) = self.objects.get(&kind) else {
            return Box::new(std::iter::empty());
        };
        let it: Box<dyn Iterator<Item = (&Key, &Arc<Obj>)>> = match after {
            Some(k) => Box::new(m.range((
                std::ops::Bound::Excluded(k.clone()),
                std::ops::Bound::Unbounded,
            ))),
            None => match ns {
                Some(ns) => Box::new(m.range((ns.to_string(), String::new())..)),
                None => Box::new(m.iter()),
            },
        };
        match ns {
            Some(ns) => Box::new(it.take_while(move |((n, _), _)| n == ns)),
            None => it,
        }
    }

    /// Number of objects of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.objects.get(&kind).map_or(0, BTreeMap::len)
    }

    /// A fresh simulated pod IP.
    pub fn next_pod_ip(&mut self) -> String {
        self.ip_counter += 1;
        let n = self.ip_counter;
        format!("10.244.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }

    fn record(&mut self, etype: EventType, obj: Arc<Obj>, old: Option<Arc<Obj>>) {
        let ev = Arc::new(StoreEvent {
            rv: self.rv,
            etype,
            obj,
            old,
        });
        self.log.push_back(ev.clone());
        while self.log.len() > self.log_cap {
            if let Some(e) = self.log.pop_front() {
                self.compacted = e.rv;
            }
        }
        // No receivers is fine.
        let _ = self.tx.send(ev);
    }

    /// Stores `obj` as a new or changed object with the next resourceVersion.
    fn commit(&mut self, mut obj: Obj, old: Option<Arc<Obj>>) -> Arc<Obj> {
        self.rv += 1;
        obj.meta_mut().resource_version = Some(self.rv.to_string());
        let key = (obj.namespace().to_string(), obj.name().to_string());
        let obj = Arc::new(obj);
        self.objects
            .entry(obj.kind())
            .or_default()
            .insert(key, obj.clone());
        let et = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(et, obj.clone(), old);
        obj
    }

    /// Removes an object now, recording a DELETED event.
    pub fn remove(&mut self, kind: Kind, ns: &str, name: &str) -> Option<Arc<Obj>> {
        let old = self
            .objects
            .get_mut(&kind)?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        let mut last = (*old).clone();
        last.meta_mut().resource_version = Some(self.rv.to_string());
        let last = Arc::new(last);
        self.record(EventType::Deleted, last.clone(), Some(old));
        Some(last)
    }

    /// Creates an object (server-side fields filled in).
    pub fn create(&mut self, mut obj: Obj) -> Result<Arc<Obj>, ApiError> {
        let kind = obj.kind();
        let info = kind.info();
        {
            let m = obj.meta_mut();
            if m.name.as_deref().unwrap_or("").is_empty()
                && let Some(prefix) = m.generate_name.clone()
            {
                m.name = Some(format!("{prefix}{}", random_suffix()));
            }
            if !info.namespaced {
                m.namespace = None;
            }
            m.uid = Some(uuid::Uuid::now_v7().to_string());
            m.creation_timestamp = Some(now());
            m.generation = Some(1);
            m.deletion_timestamp = None;
            m.deletion_grace_period_seconds = None;
            m.resource_version = None;
        }
        if obj.name().is_empty() {
            return Err(ApiError::invalid(
                info.kind,
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
        validate(&obj)?;
        if info.namespaced {
            let ns = obj.namespace().to_string();
            if ns.is_empty() {
                return Err(ApiError::bad_request(
                    "the namespace of the object is not set",
                ));
            }
            match self.get(Kind::Namespace, "", &ns) {
                None => return Err(ApiError::not_found("", "namespaces", &ns)),
                Some(n) if n.meta().deletion_timestamp.is_some() => {
                    return Err(ApiError {
                        code: 403,
                        reason: "Forbidden",
                        message: format!(
                            "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                            info.plural,
                            obj.name()
                        ),
                        details: None,
                    });
                }
                Some(_) => {}
            }
        }
        if self.get(kind, obj.namespace(), obj.name()).is_some() {
            return Err(ApiError::already_exists(
                info.group,
                info.plural,
                obj.name(),
            ));
        }
        default_fields(&mut obj);
        Ok(self.commit(obj, None))
    }

    /// Replaces an object as a client PUT does. With `status_only`, only the status is taken
    /// from `new`; otherwise the status of kinds with a status subresource is kept.
    pub fn update(&mut self, mut new: Obj, status_only: bool) -> Result<Arc<Obj>, ApiError> {
        let kind = new.kind();
        let info = kind.info();
        if !info.namespaced {
            new.meta_mut().namespace = None;
        }
        let name = new.name().to_string();
        let ns = new.namespace().to_string();
        let old = self.get_or_404(kind, &ns, &name)?;
        if let Some(rv) = new.meta().resource_version.as_deref()
            && !rv.is_empty()
            && Some(rv) != old.meta().resource_version.as_deref()
        {
            return Err(ApiError::conflict(info.group, info.plural, &name));
        }
        let has_status = info.subresources.contains(&"status");
        let merged = if status_only {
            let mut o = (*old).clone();
            let mut ov = o.to_value();
            ov["status"] = new.to_value().get("status").cloned().unwrap_or(Value::Null);
            o = Obj::from_value(kind, ov)
                .map_err(|e| ApiError::invalid(info.kind, &name, e.to_string()))?;
            o
        } else {
            if has_status {
                let mut nv = new.to_value();
                match old.to_value().get("status") {
                    Some(s) => nv["status"] = s.clone(),
                    None => {
                        if let Some(m) = nv.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                new = Obj::from_value(kind, nv)
                    .map_err(|e| ApiError::invalid(info.kind, &name, e.to_string()))?;
            }
            // Immutable server-side metadata.
            let om = old.meta();
            let m = new.meta_mut();
            m.uid = om.uid.clone();
            m.creation_timestamp = om.creation_timestamp.clone();
            m.deletion_timestamp = om.deletion_timestamp.clone();
            m.deletion_grace_period_seconds = om.deletion_grace_period_seconds;
            m.generation = om.generation;
            m.generate_name = om.generate_name.clone();
            if spec_of(&new) != spec_of(&old) {
                let m = new.meta_mut();
                m.generation = Some(m.generation.unwrap_or(1) + 1);
            }
            validate(&new)?;
            if let (Obj::Pod(np), Obj::Pod(op)) = (&new, &*old) {
                check_pod_update(np, op)?;
            }
            new
        };
        if *old == merged_with_rv(&merged, &old) {
            // No-op update: real servers do not bump the resourceVersion.
            return Ok(old);
        }
        let finished = merged.meta().deletion_timestamp.is_some()
            && merged.meta().finalizers.as_ref().is_none_or(Vec::is_empty)
            && kind != Kind::Pod;
        let obj = self.commit(merged, Some(old));
        if finished {
            self.remove(kind, &ns, &name);
        }
        Ok(obj)
    }

    /// Internal update by a controller: `f` edits a copy; commits only when it changed.
    pub fn mutate(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Obj),
    ) -> Option<Arc<Obj>> {
        let old = self.get(kind, ns, name)?;
        let mut new = (*old).clone();
        f(&mut new);
        if new == *old {
            return Some(old);
        }
        Some(self.commit(new, Some(old)))
    }

    /// Creates an object on behalf of a controller (no validation beyond the store's own).
    pub fn create_internal(&mut self, obj: Obj) -> Result<Arc<Obj>, ApiError> {
        self.create(obj)
    }

    /// Deletes an object as a client DELETE does. Pods with a grace period > 0 that are bound to a
    /// node only get a deletionTimestamp; the kubelet simulation removes them later.
    pub fn delete(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        grace: Option<i64>,
        precondition_uid: Option<&str>,
        precondition_rv: Option<&str>,
    ) -> Result<Arc<Obj>, ApiError> {
        let info = kind.info();
        let old = self.get_or_404(kind, ns, name)?;
        if let Some(uid) = precondition_uid
            && old.meta().uid.as_deref() != Some(uid)
        {
            return Err(ApiError::conflict(info.group, info.plural, name));
        }
        if let Some(rv) = precondition_rv
            && old.meta().resource_version.as_deref() != Some(rv)
        {
            return Err(ApiError::conflict(info.group, info.plural, name));
        }
        match &*old {
            Obj::Pod(p) => {
                let spec_grace = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
                    .unwrap_or(30);
                let grace = grace.unwrap_or(spec_grace).max(0);
                let bound = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
                let has_finalizers = p
                    .metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty());
                if (grace == 0 || !bound) && !has_finalizers {
                    return self
                        .remove(kind, ns, name)
                        .ok_or_else(|| kind_err_not_found(kind, name));
                }
                let current = p.metadata.deletion_grace_period_seconds;
                if current.is_some_and(|c| c <= grace) {
                    return Ok(old);
                }
                let deadline = Timestamp::now()
                    .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(grace))
                    .unwrap_or_else(|_| Timestamp::now());
                let o = self
                    .mutate(kind, ns, name, |o| {
                        let m = o.meta_mut();
                        m.deletion_timestamp = Some(Time(deadline));
                        m.deletion_grace_period_seconds = Some(grace);
                    })
                    .ok_or_else(|| kind_err_not_found(kind, name))?;
                Ok(o)
            }
            Obj::Namespace(_) => {
                let o = self
                    .mutate(kind, ns, name, |o| {
                        o.meta_mut().deletion_timestamp = Some(now());
                        if let Obj::Namespace(n) = o {
                            n.status.get_or_insert_with(Default::default).phase =
                                Some("Terminating".into());
                        }
                    })
                    .ok_or_else(|| kind_err_not_found(kind, name))?;
                Ok(o)
            }
            other => {
                if other
                    .meta()
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
                {
                    let o = self
                        .mutate(kind, ns, name, |o| {
                            if o.meta().deletion_timestamp.is_none() {
                                o.meta_mut().deletion_timestamp = Some(now());
                            }
                        })
                        .ok_or_else(|| kind_err_not_found(kind, name))?;
                    return Ok(o);
                }
                self.remove(kind, ns, name)
                    .ok_or_else(|| kind_err_not_found(kind, name))
            }
        }
    }
}

/// The object with `old`'s resourceVersion, for no-op detection.
fn merged_with_rv(new: &Obj, old: &Obj) -> Obj {
    let mut n = new.clone();
    n.meta_mut().resource_version = old.meta().resource_version.clone();
    n
}

fn spec_of(o: &Obj) -> Value {
    o.to_value().get("spec").cloned().unwrap_or(Value::Null)
}

/// Pod updates may change only a few spec fields, as on a real server.
fn check_pod_update(
    new: &k8s_openapi::api::core::v1::Pod,
    old: &k8s_openapi::api::core::v1::Pod,
) -> Result<(), ApiError> {
    let (Some(ns), Some(os)) = (&new.spec, &old.spec) else {
        return Ok(());
    };
    let name = new.metadata.name.as_deref().unwrap_or("");
    let mut a = ns.clone();
    let mut b = os.clone();
    // Mutable: container images, activeDeadlineSeconds, tolerations (additions); ephemeral
    // containers only through their subresource, so a plain update must keep them.
    for c in a.containers.iter_mut() {
        c.image = None;
    }
    for c in b.containers.iter_mut() {
        c.image = None;
    }
    a.active_deadline_seconds = None;
    b.active_deadline_seconds = None;
    a.tolerations = None;
    b.tolerations = None;
    if a.ephemeral_containers.is_none() {
        a.ephemeral_containers = b.ephemeral_containers.clone();
    }
    if a.node_name.is_none() {
        a.node_name = b.node_name.clone();
    }
    if a != b {
        return Err(ApiError::invalid(
            "Pod",
            name,
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations)",
        ));
    }
    Ok(())
}

/// Fills defaults a real API server would (restart policy, scheduler, grace period, ...).
fn default_fields(obj: &mut Obj) {
    match obj {
        Obj::Pod(p) => {
            if let Some(s) = p.spec.as_mut() {
                s.restart_policy.get_or_insert_with(|| "Always".into());
                s.scheduler_name
                    .get_or_insert_with(|| "default-scheduler".into());
                s.termination_grace_period_seconds.get_or_insert(30);
                s.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
                s.service_account_name
                    .get_or_insert_with(|| "default".into());
            }
            let st = p.status.get_or_insert_with(Default::default);
            st.phase.get_or_insert_with(|| "Pending".into());
            st.qos_class.get_or_insert_with(|| "BestEffort".into());
        }
        Obj::Namespace(n) => {
            n.status.get_or_insert_with(Default::default).phase = Some("Active".into());
            let name = n.metadata.name.clone().unwrap_or_default();
            n.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("kubernetes.io/metadata.name".into(), name);
        }
        Obj::Deployment(d) => {
            if let Some(s) = d.spec.as_mut() {
                s.replicas.get_or_insert(1);
            }
        }
        Obj::ReplicaSet(r) => {
            if let Some(s) = r.spec.as_mut() {
                s.replicas.get_or_insert(1);
            }
        }
        Obj::StatefulSet(r) => {
            if let Some(s) = r.spec.as_mut() {
                s.replicas.get_or_insert(1);
            }
        }
        Obj::Service(s) => {
            if let Some(spec) = s.spec.as_mut() {
                spec.type_.get_or_insert_with(|| "ClusterIP".into());
                if spec.cluster_ip.is_none() && spec.type_.as_deref() != Some("ExternalName") {
                    let h = fxhash(s.metadata.name.as_deref().unwrap_or(""))
                        ^ fxhash(s.metadata.namespace.as_deref().unwrap_or(""));
                    let ip = format!("10.96.{}.{}", (h >> 8) & 0xff, (h & 0xfe) + 1);
                    spec.cluster_ip = Some(ip.clone());
                    spec.cluster_ips = Some(vec![ip]);
                }
            }
        }
        _ => {}
    }
}

fn fxhash(s: &str) -> u32 {
    s.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    })
}

/// A random 5-character suffix from the alphabet Kubernetes uses for generated names.
pub fn random_suffix() -> String {
    use rand::Rng;
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHA[rng.random_range(0..ALPHA.len())] as char)
        .collect()
}
