//! `k8s` probes: a resource condition through the kube client — a workload's ready replicas
//! against desired (or `minReady`), the ready pods matching a selector, a pod phase, or a status
//! condition on any supported kind. The value is the ready count (or 1/0 for phase/condition).

use super::Outcome;
use crate::domain::probe::K8sProbe;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use std::sync::RwLock;
use std::time::Duration;

static CLIENT: RwLock<Option<kube::Client>> = RwLock::new(None);

/// Sets the cluster this process's k8s probes read (done once the Kubernetes engine connects).
pub fn set_client(c: Option<kube::Client>) {
    if let Ok(mut g) = CLIENT.write() {
        *g = c;
    }
}

fn client() -> Option<kube::Client> {
    CLIENT.read().ok().and_then(|g| g.clone())
}

fn pod_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn condition(obj: &serde_json::Value, ty: &str) -> Option<String> {
    obj.get("status")?
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(ty))
        .and_then(|c| c.get("status")?.as_str().map(str::to_string))
}

/// Evaluates once.
pub async fn evaluate(p: &K8sProbe, timeout: Duration) -> Outcome {
    let Some(c) = client() else {
        return Outcome {
            passed: false,
            value: None,
            error: Some("k8s probes need a Kubernetes connection; pass --sandbox, --kubeconfig or --context".into()),
            skipped: true,
        };
    };
    match tokio::time::timeout(timeout, run(c, p)).await {
        Ok(o) => o,
        Err(_) => Outcome::fail(
            None,
            format!(
                "no answer from the API server within {}",
                humantime::format_duration(timeout)
            ),
        ),
    }
}

/// Ready and desired replicas of a workload kind with `spec.replicas` / `status.readyReplicas`.
macro_rules! replicas {
    ($ty:ty, $c:expr, $ns:expr, $name:expr) => {
        Api::<$ty>::namespaced($c, &$ns).get(&$name).await.map(|d| {
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            (
                Some((ready, desired)),
                serde_json::to_value(&d).unwrap_or_default(),
            )
        })
    };
}

async fn run(c: kube::Client, p: &K8sProbe) -> Outcome {
    let ns = p.namespace.clone().unwrap_or_else(|| "default".into());
    if let Some(sel) = &p.selector {
        let pods: Api<Pod> = Api::namespaced(c, &ns);
        return match pods
            .list(&ListParams::default().labels(&sel.to_string()))
            .await
        {
            Ok(l) => {
                let ready = l.items.iter().filter(|p| pod_ready(p)).count();
                let want = p.min_ready.unwrap_or(1) as usize;
                if ready >= want {
                    Outcome {
                        passed: true,
                        value: Some(ready as f64),
                        error: None,
                        skipped: false,
                    }
                } else {
                    Outcome::fail(
                        Some(ready as f64),
                        format!("{ready} ready pods match {sel} in {ns}, want at least {want}"),
                    )
                }
            }
            Err(e) => Outcome::fail(None, format!("listing pods failed: {e}")),
        };
    }
    let name = p.name.clone().unwrap_or_default();
    let kind = p.kind.clone().unwrap_or_default();
    // (ready, desired, the object as JSON for conditions)
    let got: Result<(Option<(i32, i32)>, serde_json::Value), kube::Error> = match kind.as_str() {
        "Deployment" => replicas!(Deployment, c, ns, name),
        "StatefulSet" => replicas!(StatefulSet, c, ns, name),
        "ReplicaSet" => replicas!(ReplicaSet, c, ns, name),
        "DaemonSet" => Api::<DaemonSet>::namespaced(c, &ns)
            .get(&name)
            .await
            .map(|d| {
                let s = d.status.clone().unwrap_or_default();
                (
                    Some((s.number_ready, s.desired_number_scheduled)),
                    serde_json::to_value(&d).unwrap_or_default(),
                )
            }),
        "Pod" => Api::<Pod>::namespaced(c, &ns)
            .get(&name)
            .await
            .map(|d| (None, serde_json::to_value(&d).unwrap_or_default())),
        "Node" => Api::<Node>::all(c)
            .get(&name)
            .await
            .map(|d| (None, serde_json::to_value(&d).unwrap_or_default())),
        other => return Outcome::fail(None, format!("unsupported kind {other:?}")),
    };
    let (counts, obj) = match got {
        Ok(x) => x,
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Outcome::fail(None, format!("{kind} {ns}/{name} does not exist"));
        }
        Err(e) => return Outcome::fail(None, format!("reading {kind} {ns}/{name} failed: {e}")),
    };
    if let Some(cond) = &p.condition {
        let have = condition(&obj, &cond.type_);
        if have.as_deref() != Some(cond.status.as_str()) {
            return Outcome::fail(
                Some(0.0),
                format!(
                    "condition {} is {:?}, want {}",
                    cond.type_, have, cond.status
                ),
            );
        }
    }
    if kind == "Pod" {
        let want = p.phase.clone().unwrap_or_else(|| "Running".into());
        let phase = obj
            .get("status")
            .and_then(|s| s.get("phase"))
            .and_then(|v| v.as_str())
            .unwrap_or("Unknown")
            .to_string();
        if phase != want {
            return Outcome::fail(
                Some(0.0),
                format!("pod {ns}/{name} is {phase}, want {want}"),
            );
        }
        return Outcome {
            passed: true,
            value: Some(1.0),
            error: None,
            skipped: false,
        };
    }
    if kind == "Node"
        && p.condition.is_none()
        && condition(&obj, "Ready").as_deref() != Some("True")
    {
        return Outcome::fail(Some(0.0), format!("node {name} is not Ready"));
    }
    if let Some((ready, desired)) = counts {
        let want = p
            .min_ready
            .map_or(desired, |m| i32::try_from(m).unwrap_or(i32::MAX));
        if ready < want {
            return Outcome::fail(
                Some(f64::from(ready)),
                format!("{kind} {ns}/{name} has {ready} ready of {desired}, want {want}"),
            );
        }
        return Outcome {
            passed: true,
            value: Some(f64::from(ready)),
            error: None,
            skipped: false,
        };
    }
    Outcome {
        passed: true,
        value: Some(1.0),
        error: None,
        skipped: false,
    }
}
