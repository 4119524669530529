//! A plan: the resolved targets and, for each mutation, its inverse. A dry run shows a plan; a
//! real run executes the same plan.

use crate::safety::journal::UndoRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A resolved target: a pod, node, instance, cluster, route or subnet.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetRef {
    /// `pod`, `node`, `instance`, `db-cluster`, `db-instance`, `route`, `subnet`.
    pub kind: String,
    /// The identifying name, e.g. `shop/checkout-7d9f`.
    pub name: String,
    /// Labels or tags, for guardrails that read them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// One mutation, as data, so it can be shown in a dry run and journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Delete a pod.
    DeletePod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
        /// Grace period override.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_seconds: Option<i64>,
    },
    /// Evict a pod (respects PodDisruptionBudgets).
    EvictPod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// Add an injector ephemeral container to a pod.
    AddInjector {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Container name (`chaosduck-...`).
        container: String,
        /// The EphemeralContainer object.
        spec: serde_json::Value,
    },
    /// Put a label on a pod.
    LabelPod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
        /// Label key.
        key: String,
        /// Label value.
        value: String,
    },
    /// Create a NetworkPolicy.
    CreateNetworkPolicy {
        /// Namespace.
        namespace: String,
        /// Policy name.
        name: String,
        /// The NetworkPolicy object.
        spec: serde_json::Value,
    },
    /// Cordon a node, marking it as ChaosDuck's.
    CordonNode {
        /// Node name.
        node: String,
        /// Experiment id written on the node.
        experiment: String,
    },
    /// Write a fault marker into a test world.
    TestWorldMark {
        /// The world directory.
        world: PathBuf,
        /// The marker file name.
        marker: String,
        /// What the marker says (the fault and its parameters).
        content: String,
    },
}

/// A mutation and its undo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// What it acts on.
    pub target: TargetRef,
    /// The mutation.
    pub action: Action,
    /// Its inverse.
    pub undo: UndoRecord,
    /// One line for people.
    pub summary: String,
}

/// What a run will do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The engine that made it.
    pub engine: String,
    /// The namespace, for Kubernetes faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// How many targets were eligible (the blast-radius base).
    pub eligible: usize,
    /// How many matched the selector before `count` picked from them.
    pub matched: usize,
    /// The chosen targets.
    pub targets: Vec<TargetRef>,
    /// The mutations, in order; rollback runs them backwards.
    pub steps: Vec<PlannedStep>,
    /// Anything the operator should know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
