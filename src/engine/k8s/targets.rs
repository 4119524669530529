//! Resolving pod and node targets: the eligible set (the blast-radius base), the matches, and a
//! random choice of `count` among them. ChaosDuck never targets its own pods, pods being deleted,
//! control-plane nodes, or nodes that host the API server.

use super::K8sError;
use crate::domain::Amount;
use crate::domain::LabelSelector;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use rand::seq::SliceRandom;
use std::collections::BTreeMap;

/// Label that marks ChaosDuck's own pods (when it runs in-cluster).
pub const SELF_LABEL: (&str, &str) = ("app.kubernetes.io/name", "chaosduck");

/// The outcome of resolving a target.
pub struct Resolved<T> {
    /// Everything the fault could have touched (the blast-radius base).
    pub eligible: usize,
    /// How many matched the selector or names.
    pub matched: usize,
    /// The chosen ones.
    pub chosen: Vec<T>,
    /// Things worth telling the operator (exclusions).
    pub notes: Vec<String>,
}

/// Lists every object of an API, page by page (500 per page).
pub async fn list_all<K>(api: &Api<K>, lp: ListParams) -> Result<Vec<K>, K8sError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut lp = lp.limit(500);
    // Bounded: 10,000 pages of 500 is far beyond any cluster.
    for _ in 0..10_000 {
        let page = api.list(&lp).await.map_err(K8sError::api("list"))?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        out.extend(page.items);
        match next {
            Some(c) => lp = lp.continue_token(&c),
            None => return Ok(out),
        }
    }
    Err(K8sError::Other(
        "listing did not end after 10,000 pages".into(),
    ))
}

fn labels_of(m: &Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    m.clone().unwrap_or_default()
}

fn pick<T>(mut v: Vec<T>, count: Option<Amount>) -> Vec<T> {
    if let Some(c) = count {
        v.shuffle(&mut rand::rng());
        let n = c.of(v.len());
        v.truncate(n);
    }
    v
}

/// Pods in `namespace` matching the selector or names.
pub async fn pods(
    client: &kube::Client,
    namespace: &str,
    selector: Option<&LabelSelector>,
    names: &[String],
    count: Option<Amount>,
) -> Result<Resolved<Pod>, K8sError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let all = list_all(&api, ListParams::default()).await?;
    let mut notes = Vec::new();
    let own_pod = std::env::var("POD_NAME").ok();
    let eligible: Vec<Pod> = all
        .into_iter()
        .filter(|p| {
            let l = labels_of(&p.metadata.labels);
            let mine = l.get(SELF_LABEL.0).map(String::as_str) == Some(SELF_LABEL.1)
                || own_pod
                    .as_deref()
                    .is_some_and(|o| p.metadata.name.as_deref() == Some(o));
            if mine {
                notes.push(format!(
                    "skipped {}: it is ChaosDuck's own pod",
                    p.metadata.name.clone().unwrap_or_default()
                ));
            }
            !mine && p.metadata.deletion_timestamp.is_none()
        })
        .collect();
    let matched: Vec<Pod> = eligible
        .iter()
        .filter(|p| {
            let name = p.metadata.name.clone().unwrap_or_default();
            names.contains(&name)
                || selector
                    .is_some_and(|s| !s.is_empty() && s.matches(&labels_of(&p.metadata.labels)))
        })
        .cloned()
        .collect();
    for n in names {
        if !matched
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(n))
        {
            notes.push(format!(
                "pod {namespace}/{n} was named but does not exist (or is terminating)"
            ));
        }
    }
    let n_matched = matched.len();
    let mut chosen = pick(matched, count);
    chosen.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(Resolved {
        eligible: eligible.len(),
        matched: n_matched,
        chosen,
        notes,
    })
}

/// Nodes matching the selector or names; control-plane / API-server nodes and nodes already
/// cordoned are left out.
pub async fn nodes(
    client: &kube::Client,
    selector: Option<&LabelSelector>,
    names: &[String],
    count: Option<Amount>,
) -> Result<Resolved<Node>, K8sError> {
    let api: Api<Node> = Api::all(client.clone());
    let all = list_all(&api, ListParams::default()).await?;
    // Nodes that run an API server pod (kubeadm-style static pods).
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let apiserver_nodes: Vec<String> = list_all(
        &pods,
        ListParams::default().labels("component=kube-apiserver"),
    )
    .await
    .unwrap_or_default()
    .into_iter()
    .filter_map(|p| p.spec.and_then(|s| s.node_name))
    .collect();
    let mut notes = Vec::new();
    let eligible: Vec<Node> = all
        .into_iter()
        .filter(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            let l = labels_of(&n.metadata.labels);
            let control = l.contains_key("node-role.kubernetes.io/control-plane")
                || l.contains_key("node-role.kubernetes.io/master");
            if control || apiserver_nodes.contains(&name) {
                notes.push(format!("skipped node {name}: it runs the control plane"));
                return false;
            }
            true
        })
        .collect();
    let matched: Vec<Node> = eligible
        .iter()
        .filter(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            names.contains(&name) || selector.is_some_and(|s| !s.is_empty() && s.matches(&labels_of(&n.metadata.labels)))
        })
        .filter(|n| {
            let cordoned = n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
            if cordoned {
                notes.push(format!(
                    "skipped node {}: already cordoned by someone else, so ChaosDuck will not touch it",
                    n.metadata.name.clone().unwrap_or_default()
                ));
            }
            !cordoned
        })
        .cloned()
        .collect();
    let n_matched = matched.len();
    let mut chosen = pick(matched, count);
    chosen.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(Resolved {
        eligible: eligible.len(),
        matched: n_matched,
        chosen,
        notes,
    })
}
