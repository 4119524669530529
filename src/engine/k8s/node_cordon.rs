//! `node_cordon`: cordon the chosen nodes (and with `drain: true`, evict their pods, respecting
//! PodDisruptionBudgets). Each node ChaosDuck cordons carries the annotation
//! `chaosduck.io/cordoned-by=<experiment>`; revert uncordons only nodes that still carry it, so a
//! node someone else cordoned is never uncordoned by ChaosDuck.

use super::{K8sBackend, K8sError, is_not_found, plan_of, pod_delete, targets};
use crate::domain::ExperimentDoc;
use crate::domain::fault::NodeCordon;
use crate::engine::PlanContext;
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::safety::journal::UndoRecord;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};

/// The annotation that marks ChaosDuck's cordons.
pub const CORDON_ANNOTATION: &str = "chaosduck.io/cordoned-by";

/// Plans a cordon per node, then (for a drain) an eviction per evictable pod on it.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    f: &NodeCordon,
    ctx: &PlanContext,
) -> Result<Plan, K8sError> {
    let crate::domain::Target::Nodes(t) = &doc.spec.target else {
        return Err(K8sError::Other("node_cordon needs a nodes target".into()));
    };
    let r = targets::nodes(&b.client, t.selector.as_ref(), &t.names, t.count).await?;
    let mut refs = Vec::new();
    let mut steps = Vec::new();
    for n in &r.chosen {
        let node = n.metadata.name.clone().unwrap_or_default();
        let target = TargetRef {
            kind: "node".into(),
            name: node.clone(),
            labels: n.metadata.labels.clone().unwrap_or_default(),
        };
        steps.push(PlannedStep {
            target: target.clone(),
            action: Action::CordonNode {
                node: node.clone(),
                experiment: ctx.experiment_id.clone(),
            },
            undo: UndoRecord::UncordonNode {
                node: node.clone(),
                experiment: ctx.experiment_id.clone(),
            },
            summary: format!("cordon node {node}"),
        });
        refs.push(target);
    }
    if f.drain {
        let pods: Api<Pod> = Api::all(b.client.clone());
        for n in &r.chosen {
            let node = n.metadata.name.clone().unwrap_or_default();
            let on_node = targets::list_all(
                &pods,
                ListParams::default().fields(&format!("spec.nodeName={node}")),
            )
            .await?;
            for p in on_node {
                let daemon = pod_delete::owner_of(&p).is_some_and(|o| o.kind == "DaemonSet");
                let mirror = p
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
                if daemon || mirror || p.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                let name = p.metadata.name.clone().unwrap_or_default();
                steps.push(PlannedStep {
                    target: TargetRef {
                        kind: "pod".into(),
                        name: format!("{ns}/{name}"),
                        labels: p.metadata.labels.clone().unwrap_or_default(),
                    },
                    action: Action::EvictPod {
                        namespace: ns.clone(),
                        name: name.clone(),
                    },
                    undo: pod_delete::recovery_undo(&p, &ns),
                    summary: format!("evict pod {ns}/{name} from {node}"),
                });
            }
        }
    }
    Ok(plan_of(None, r.eligible, r.matched, refs, steps, r.notes))
}

/// Cordons a node and marks it as ChaosDuck's.
pub async fn cordon(b: &K8sBackend, node: &str, experiment: &str) -> Result<(), K8sError> {
    let api: Api<Node> = Api::all(b.client.clone());
    let patch = serde_json::json!({
        "metadata": {"annotations": {CORDON_ANNOTATION: experiment}},
        "spec": {"unschedulable": true},
    });
    api.patch(node, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(K8sError::api("cordon node"))?;
    Ok(())
}

/// Uncordons a node if it still carries this experiment's mark; verifies it is schedulable.
pub async fn uncordon(
    b: &K8sBackend,
    node: &str,
    experiment: &str,
) -> Result<Option<String>, K8sError> {
    let api: Api<Node> = Api::all(b.client.clone());
    let Some(n) = api.get_opt(node).await.map_err(K8sError::api("get node"))? else {
        return Ok(Some(format!("node {node} no longer exists")));
    };
    let ours = n
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CORDON_ANNOTATION))
        .map(String::as_str)
        == Some(experiment);
    if !ours {
        let cordoned = n
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        return Ok(cordoned.then(|| {
            format!("node {node} is cordoned, but not by this experiment; left as it is")
        }));
    }
    let patch = serde_json::json!({
        "metadata": {"annotations": {CORDON_ANNOTATION: null}},
        "spec": {"unschedulable": null},
    });
    api.patch(node, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(K8sError::api("uncordon node"))?;
    let n = api.get(node).await.map_err(K8sError::api("get node"))?;
    if n.spec.and_then(|s| s.unschedulable).unwrap_or(false) {
        return Err(K8sError::Other(format!(
            "node {node} is still unschedulable after uncordon"
        )));
    }
    Ok(Some(format!("node {node} schedulable again")))
}

/// Evicts one pod (a pod already gone counts as evicted). A PodDisruptionBudget refusal (429)
/// fails the step, so the run rolls back instead of waiting.
pub async fn evict(b: &K8sBackend, ns: &str, name: &str) -> Result<(), K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    match api.evict(name, &EvictParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(K8sError::Api {
            what: "evict pod",
            source: e,
        }),
    }
}
