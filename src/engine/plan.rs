//! A plan: the resolved targets and, for each mutation, its inverse. A dry run shows a plan; a
//! real run executes the same plan.

use crate::engine::aws::records::{AwsMark, RouteTargetSpec};
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
    /// Start the self-expiring injector script detached inside an app container (`pods/exec`),
    /// for clusters that forbid ephemeral containers.
    ExecInjector {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// The target container.
        container: String,
        /// The injector's pidfile inside that container (one per experiment and pod).
        pid_file: String,
        /// The exec command (argv), which carries the fault's environment.
        command: Vec<String>,
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
    /// Tag an EC2 instance with the experiment and stop it (`ec2:CreateTags`, `ec2:StopInstances`).
    AwsStopInstance {
        /// Region.
        region: String,
        /// Instance id.
        instance_id: String,
        /// Stop without a clean OS shutdown.
        force: bool,
        /// Experiment tags.
        mark: AwsMark,
    },
    /// Tag a DB cluster and fail it over (`rds:AddTagsToResource`, `rds:FailoverDBCluster`).
    AwsFailoverDbCluster {
        /// Region.
        region: String,
        /// Cluster identifier.
        cluster: String,
        /// The cluster ARN (for tagging).
        arn: String,
        /// The instance to promote; RDS chooses when absent.
        target_instance: Option<String>,
        /// The writer before the failover.
        original_writer: String,
        /// Whether the revert fails back.
        fail_back: bool,
        /// Experiment tags.
        mark: AwsMark,
    },
    /// Tag a Multi-AZ DB instance and reboot it with forced failover (`rds:RebootDBInstance`).
    AwsRebootDbInstanceFailover {
        /// Region.
        region: String,
        /// Instance identifier.
        instance: String,
        /// The instance ARN (for tagging).
        arn: String,
        /// Experiment tags.
        mark: AwsMark,
    },
    /// Create the tagged, unattached network interface a blackholed route points at
    /// (`ec2:CreateNetworkInterface`).
    AwsCreateBlackholeInterface {
        /// Region.
        region: String,
        /// A subnet of the route table's VPC to create it in.
        subnet_id: String,
        /// The route table.
        route_table: String,
        /// The route's destination.
        destination_cidr: String,
        /// What the route pointed at (None: no such route existed).
        original: Option<RouteTargetSpec>,
        /// Experiment tags.
        mark: AwsMark,
    },
    /// Point the route at the blackhole interface, or create it there (`ec2:ReplaceRoute` /
    /// `ec2:CreateRoute`), after tagging the route table with the original target.
    AwsBlackholeRoute {
        /// Region.
        region: String,
        /// The route table.
        route_table: String,
        /// The route's destination.
        destination_cidr: String,
        /// What the route pointed at (None: no such route existed).
        original: Option<RouteTargetSpec>,
        /// Experiment tags.
        mark: AwsMark,
    },
    /// Create a deny-all network ACL in the VPC (`ec2:CreateNetworkAcl`).
    AwsCreateDenyAllAcl {
        /// Region.
        region: String,
        /// VPC id.
        vpc: String,
        /// The zone it cuts off.
        zone: String,
        /// Experiment tags.
        mark: AwsMark,
    },
    /// Tag a subnet with its ACL and associate it with the deny-all ACL
    /// (`ec2:ReplaceNetworkAclAssociation`).
    AwsSwapSubnetAcl {
        /// Region.
        region: String,
        /// VPC id.
        vpc: String,
        /// The zone.
        zone: String,
        /// The subnet.
        subnet_id: String,
        /// The ACL it was associated with.
        original_acl: String,
        /// Experiment tags.
        mark: AwsMark,
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
