//! `pod_delete`: delete the chosen pods. Controllers bring owned pods back (ChaosDuck never
//! recreates them); the undo waits until the owner is fully ready again and records the recovery
//! time. Bare pods are recreated from their snapshot.

use super::{K8sBackend, K8sError, is_not_found, plan_of, pod_target, targets};
use crate::domain::ExperimentDoc;
use crate::domain::fault::PodDelete;
use crate::engine::PlanContext;
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::safety::journal::{OwnerRef, UndoRecord};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};

/// The controller of a pod, if it has one.
pub fn owner_of(p: &Pod) -> Option<OwnerRef> {
    p.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| OwnerRef {
            kind: o.kind.clone(),
            name: o.name.clone(),
            uid: o.uid.clone(),
        })
}

/// What a bare pod is recreated from: identity, labels and spec, without status or node binding.
pub fn snapshot(p: &Pod) -> Option<serde_json::Value> {
    let mut s = p.clone();
    s.status = None;
    let m = &mut s.metadata;
    m.uid = None;
    m.resource_version = None;
    m.creation_timestamp = None;
    m.deletion_timestamp = None;
    m.deletion_grace_period_seconds = None;
    m.managed_fields = None;
    m.generate_name = None;
    if let Some(spec) = s.spec.as_mut() {
        spec.node_name = None;
        spec.ephemeral_containers = None;
    }
    serde_json::to_value(&s).ok()
}

/// The undo for a pod that is about to go away (deleted or evicted).
pub fn recovery_undo(p: &Pod, namespace: &str) -> UndoRecord {
    let owner = owner_of(p);
    UndoRecord::AwaitPodRecovery {
        namespace: namespace.to_string(),
        pod: p.metadata.name.clone().unwrap_or_default(),
        uid: p.metadata.uid.clone().unwrap_or_default(),
        snapshot: if owner.is_none() { snapshot(p) } else { None },
        owner,
        deleted_at: 0,
    }
}

/// Resolves the pods and lists one delete per pod with its recovery undo.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    f: &PodDelete,
    _ctx: &PlanContext,
) -> Result<Plan, K8sError> {
    let t = pod_target(doc)?;
    let r = targets::pods(
        &b.client,
        &t.namespace,
        t.selector.as_ref(),
        &t.names,
        t.count,
    )
    .await?;
    let grace = f
        .grace_period
        .map(|g| i64::try_from(g.get().as_secs()).unwrap_or(i64::MAX));
    let mut refs = Vec::new();
    let mut steps = Vec::new();
    for p in &r.chosen {
        let name = p.metadata.name.clone().unwrap_or_default();
        let target = TargetRef {
            kind: "pod".into(),
            name: format!("{}/{name}", t.namespace),
            labels: p.metadata.labels.clone().unwrap_or_default(),
        };
        let owner = owner_of(p).map_or_else(
            || "bare pod".to_string(),
            |o| format!("{} {}", o.kind, o.name),
        );
        steps.push(PlannedStep {
            target: target.clone(),
            action: Action::DeletePod {
                namespace: t.namespace.clone(),
                name: name.clone(),
                grace_seconds: grace,
            },
            undo: recovery_undo(p, &t.namespace),
            summary: format!("delete pod {}/{name} ({owner})", t.namespace),
        });
        refs.push(target);
    }
    Ok(plan_of(
        Some(t.namespace.clone()),
        r.eligible,
        r.matched,
        refs,
        steps,
        r.notes,
    ))
}

/// Deletes one pod; a pod already gone counts as deleted.
pub async fn apply(
    b: &K8sBackend,
    namespace: &str,
    name: &str,
    grace: Option<i64>,
) -> Result<(), K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), namespace);
    let dp = DeleteParams {
        grace_period_seconds: grace.and_then(|g| u32::try_from(g).ok()),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(K8sError::Api {
            what: "delete pod",
            source: e,
        }),
    }
}
