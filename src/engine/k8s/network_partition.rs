//! `network_partition`: isolate the chosen pods. Each pod gets the label
//! `chaosduck.io/partition=<experiment>`, then one NetworkPolicy selecting that label denies all
//! ingress and/or egress. The policy is labelled and annotated as ChaosDuck's (experiment id,
//! expiry) so a sweep can find it. Pure API: works where ephemeral containers are not allowed.

use super::{K8sBackend, K8sError, is_not_found, plan_of, pod_target, short_id, targets};
use crate::domain::ExperimentDoc;
use crate::domain::fault::{Direction, NetworkPartition};
use crate::engine::PlanContext;
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::safety::journal::UndoRecord;
use crate::store::now_ms;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

/// The label put on partitioned pods.
pub const PARTITION_LABEL: &str = "chaosduck.io/partition";

/// Plans the labels and the policy.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    f: &NetworkPartition,
    ctx: &PlanContext,
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
    let id = short_id(&ctx.experiment_id);
    let name = format!("chaosduck-partition-{id}");
    let expires = now_ms() + i64::try_from(doc.spec.duration.get().as_millis()).unwrap_or(i64::MAX);
    let mut refs = Vec::new();
    let mut steps = Vec::new();
    for p in &r.chosen {
        let pod = p.metadata.name.clone().unwrap_or_default();
        let target = TargetRef {
            kind: "pod".into(),
            name: format!("{}/{pod}", t.namespace),
            labels: p.metadata.labels.clone().unwrap_or_default(),
        };
        steps.push(PlannedStep {
            target: target.clone(),
            action: Action::LabelPod {
                namespace: t.namespace.clone(),
                name: pod.clone(),
                key: PARTITION_LABEL.into(),
                value: id.clone(),
            },
            undo: UndoRecord::UnlabelPod {
                namespace: t.namespace.clone(),
                name: pod.clone(),
                key: PARTITION_LABEL.into(),
                value: id.clone(),
            },
            summary: format!("label {}/{pod} {PARTITION_LABEL}={id}", t.namespace),
        });
        refs.push(target);
    }
    if !steps.is_empty() {
        let types: Vec<&str> = match f.direction {
            Direction::Ingress => vec!["Ingress"],
            Direction::Egress => vec!["Egress"],
            Direction::Both => vec!["Ingress", "Egress"],
        };
        let spec = serde_json::json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": name,
                "namespace": t.namespace,
                "labels": {"app.kubernetes.io/managed-by": "chaosduck", "chaosduck.io/experiment": id},
                "annotations": {"chaosduck.io/experiment": ctx.experiment_id, "chaosduck.io/expires-at": expires.to_string()},
            },
            "spec": {"podSelector": {"matchLabels": {PARTITION_LABEL: id}}, "policyTypes": types},
        });
        steps.push(PlannedStep {
            target: TargetRef {
                kind: "networkpolicy".into(),
                name: format!("{}/{name}", t.namespace),
                labels: Default::default(),
            },
            action: Action::CreateNetworkPolicy {
                namespace: t.namespace.clone(),
                name: name.clone(),
                spec,
            },
            undo: UndoRecord::DeleteNetworkPolicy {
                namespace: t.namespace.clone(),
                name: name.clone(),
            },
            summary: format!(
                "create NetworkPolicy {}/{name} denying {} of the labelled pods",
                t.namespace,
                types.join(" and ").to_lowercase()
            ),
        });
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

/// Labels a pod.
pub async fn label(
    b: &K8sBackend,
    ns: &str,
    pod: &str,
    key: &str,
    value: &str,
) -> Result<(), K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    let patch = serde_json::json!({"metadata": {"labels": {key: value}}});
    api.patch(pod, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(K8sError::api("label pod"))?;
    Ok(())
}

/// Removes the label if the pod still carries our value.
pub async fn unlabel(
    b: &K8sBackend,
    ns: &str,
    pod: &str,
    key: &str,
    value: &str,
) -> Result<Option<String>, K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    let Some(p) = api.get_opt(pod).await.map_err(K8sError::api("get pod"))? else {
        return Ok(Some(format!("pod {ns}/{pod} is gone")));
    };
    if p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
        != Some(value)
    {
        return Ok(None);
    }
    let patch = serde_json::json!({"metadata": {"labels": {key: null}}});
    api.patch(pod, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(K8sError::api("unlabel pod"))?;
    let p = api.get_opt(pod).await.map_err(K8sError::api("get pod"))?;
    if p.is_some_and(|p| p.metadata.labels.is_some_and(|l| l.contains_key(key))) {
        return Err(K8sError::Other(format!(
            "label {key} is still on {ns}/{pod}"
        )));
    }
    Ok(None)
}

/// Creates the policy (an existing one with the same name counts as created).
pub async fn create(
    b: &K8sBackend,
    ns: &str,
    name: &str,
    spec: &serde_json::Value,
) -> Result<(), K8sError> {
    let api: Api<NetworkPolicy> = Api::namespaced(b.client.clone(), ns);
    let np: NetworkPolicy = serde_json::from_value(spec.clone())
        .map_err(|e| K8sError::Other(format!("policy {name}: {e}")))?;
    match api.create(&PostParams::default(), &np).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(K8sError::Api {
            what: "create NetworkPolicy",
            source: e,
        }),
    }
}

/// Deletes the policy and verifies it is gone.
pub async fn delete(b: &K8sBackend, ns: &str, name: &str) -> Result<Option<String>, K8sError> {
    let api: Api<NetworkPolicy> = Api::namespaced(b.client.clone(), ns);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => {
            return Err(K8sError::Api {
                what: "delete NetworkPolicy",
                source: e,
            });
        }
    }
    if api
        .get_opt(name)
        .await
        .map_err(K8sError::api("get NetworkPolicy"))?
        .is_some()
    {
        return Err(K8sError::Other(format!(
            "NetworkPolicy {ns}/{name} still exists"
        )));
    }
    Ok(None)
}
