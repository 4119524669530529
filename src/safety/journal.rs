//! The write-ahead rollback journal: one entry per mutation, written (durably) before the
//! mutation, holding the undo record as data so any later process can replay it.

use crate::engine::aws::records::RouteTargetSpec;
use crate::engine::plan::{Action, PlannedStep, TargetRef};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// How to undo one mutation. Data, never a closure: a new process can replay it after a crash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UndoRecord {
    /// Wait until a deleted or evicted pod's owner is back at its desired ready count (the
    /// controller recreates it); a bare pod is recreated from its snapshot.
    AwaitPodRecovery {
        /// Namespace.
        namespace: String,
        /// The pod that was deleted.
        pod: String,
        /// Its uid (the replacement must be another pod).
        uid: String,
        /// Its controller, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<OwnerRef>,
        /// The pod object, for bare pods.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<serde_json::Value>,
        /// When it was deleted (unix ms), for the recovery time.
        deleted_at: i64,
    },
    /// Stop an injector container early (it also stops on its own at its expiry).
    StopInjector {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// Stop an injector ChaosDuck started by exec in an app container (it also stops on its own
    /// at its expiry); verified by an exec check that its process is gone and, for network
    /// faults, that no qdisc under the reserved handle is left on the interface.
    StopExecInjector {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// The app container it runs in.
        container: String,
        /// Its pidfile inside that container.
        pid_file: String,
        /// The interface of a network fault (checked for a leftover `1337:` qdisc).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interface: Option<String>,
    },
    /// Remove a label ChaosDuck put on a pod.
    UnlabelPod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
        /// Label key.
        key: String,
        /// Label value (only removed if it still has it).
        value: String,
    },
    /// Delete a NetworkPolicy ChaosDuck created.
    DeleteNetworkPolicy {
        /// Namespace.
        namespace: String,
        /// Policy name.
        name: String,
    },
    /// Uncordon a node ChaosDuck cordoned (only if it still carries ChaosDuck's mark).
    UncordonNode {
        /// Node name.
        node: String,
        /// Experiment id that cordoned it.
        experiment: String,
    },
    /// Remove a fault marker file from a test world (the file-backed engine used by tests).
    TestWorldUnmark {
        /// The world directory.
        world: PathBuf,
        /// The marker file name inside it.
        marker: String,
    },
    /// Wait until the instance is `stopped`, start it, wait for `running`, remove the tags.
    AwsStartInstance {
        /// Region.
        region: String,
        /// Instance id.
        instance_id: String,
        /// The experiment whose tag proves ChaosDuck stopped it.
        experiment: String,
    },
    /// Wait until the cluster is `available`; fail back to the original writer if asked.
    AwsSettleDbCluster {
        /// Region.
        region: String,
        /// Cluster identifier.
        cluster: String,
        /// The writer before the failover.
        original_writer: String,
        /// Fail back to it.
        fail_back: bool,
        /// The experiment.
        experiment: String,
    },
    /// Wait until the Multi-AZ instance is `available` again.
    AwsSettleDbInstance {
        /// Region.
        region: String,
        /// Instance identifier.
        instance: String,
        /// The experiment.
        experiment: String,
    },
    /// Point the route back at its original target (or delete the route ChaosDuck created).
    AwsRestoreRoute {
        /// Region.
        region: String,
        /// The route table.
        route_table: String,
        /// The destination.
        destination_cidr: String,
        /// The original target; None: delete the route.
        original: Option<RouteTargetSpec>,
        /// The experiment.
        experiment: String,
    },
    /// Delete the experiment's blackhole interface (found by its tags).
    AwsDeleteBlackholeInterface {
        /// Region.
        region: String,
        /// The route table.
        route_table: String,
        /// The destination.
        destination_cidr: String,
        /// The experiment.
        experiment: String,
    },
    /// Associate the subnet with its original network ACL again.
    AwsRestoreSubnetAcl {
        /// Region.
        region: String,
        /// The subnet.
        subnet_id: String,
        /// The ACL to restore.
        original_acl: String,
        /// The experiment.
        experiment: String,
    },
    /// Delete the experiment's deny-all ACL (found by its tags) once no subnet uses it.
    AwsDeleteDenyAllAcl {
        /// Region.
        region: String,
        /// VPC id.
        vpc: String,
        /// The zone.
        zone: String,
        /// The experiment.
        experiment: String,
    },
}

/// A pod's controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRef {
    /// Kind: ReplicaSet, StatefulSet, DaemonSet.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
}

impl UndoRecord {
    /// A one-line description for listings.
    pub fn summary(&self) -> String {
        match self {
            UndoRecord::AwaitPodRecovery {
                namespace,
                pod,
                owner: Some(o),
                ..
            } => {
                format!(
                    "wait until {} {namespace}/{} is fully ready again (replacing {pod})",
                    o.kind, o.name
                )
            }
            UndoRecord::AwaitPodRecovery { namespace, pod, .. } => {
                format!(
                    "recreate bare pod {namespace}/{pod} from its snapshot and wait until it is ready"
                )
            }
            UndoRecord::StopInjector {
                namespace,
                pod,
                container,
            } => {
                format!("stop injector {container} in {namespace}/{pod} and verify it exited")
            }
            UndoRecord::StopExecInjector {
                namespace,
                pod,
                container,
                pid_file,
                ..
            } => format!(
                "exec in {namespace}/{pod} container {container}: stop the injector in {pid_file} and verify it is gone"
            ),
            UndoRecord::UnlabelPod {
                namespace,
                name,
                key,
                ..
            } => format!("remove label {key} from {namespace}/{name}"),
            UndoRecord::DeleteNetworkPolicy { namespace, name } => {
                format!("delete NetworkPolicy {namespace}/{name}")
            }
            UndoRecord::UncordonNode { node, .. } => format!("uncordon node {node}"),
            UndoRecord::TestWorldUnmark { world, marker } => {
                format!("remove marker {marker} from {}", world.display())
            }
            UndoRecord::AwsStartInstance {
                region,
                instance_id,
                ..
            } => format!(
                "ec2:StartInstances {instance_id} ({region}) once it is stopped, wait for running, ec2:DeleteTags chaosduck:*"
            ),
            UndoRecord::AwsSettleDbCluster {
                region,
                cluster,
                original_writer,
                fail_back,
                ..
            } => {
                if *fail_back {
                    format!(
                        "wait for db cluster {cluster} ({region}) to be available, rds:FailoverDBCluster back to {original_writer}, rds:RemoveTagsFromResource"
                    )
                } else {
                    format!(
                        "wait for db cluster {cluster} ({region}) to be available (writer was {original_writer}), rds:RemoveTagsFromResource"
                    )
                }
            }
            UndoRecord::AwsSettleDbInstance {
                region, instance, ..
            } => format!(
                "wait for db instance {instance} ({region}) to be available, rds:RemoveTagsFromResource"
            ),
            UndoRecord::AwsRestoreRoute {
                region,
                route_table,
                destination_cidr,
                original,
                ..
            } => match original {
                Some(t) => format!(
                    "ec2:ReplaceRoute {route_table} {destination_cidr} back to {t} ({region}), ec2:DeleteTags"
                ),
                None => format!(
                    "ec2:DeleteRoute {route_table} {destination_cidr} (ChaosDuck created it) ({region}), ec2:DeleteTags"
                ),
            },
            UndoRecord::AwsDeleteBlackholeInterface {
                region,
                route_table,
                destination_cidr,
                experiment,
            } => format!(
                "ec2:DeleteNetworkInterface the blackhole interface tagged {experiment} for {route_table} {destination_cidr} ({region})"
            ),
            UndoRecord::AwsRestoreSubnetAcl {
                region,
                subnet_id,
                original_acl,
                ..
            } => format!(
                "ec2:ReplaceNetworkAclAssociation {subnet_id} back to {original_acl} ({region}), ec2:DeleteTags"
            ),
            UndoRecord::AwsDeleteDenyAllAcl {
                region,
                vpc,
                zone,
                experiment,
            } => format!(
                "ec2:DeleteNetworkAcl the deny-all ACL tagged {experiment} for {zone} in {vpc} ({region})"
            ),
        }
    }
}

/// Where a journal entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalState {
    /// Written before the mutation; the mutation may or may not have happened.
    Intent,
    /// The mutation happened.
    Applied,
    /// The undo ran and the target was verified back.
    Reverted,
    /// The undo failed after every retry; the entry stays open for `chaosduck recover`.
    Failed,
}

impl JournalState {
    /// Whether the entry still needs its undo.
    pub fn is_open(self) -> bool {
        !matches!(self, JournalState::Reverted)
    }
}

impl fmt::Display for JournalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JournalState::Intent => "intent",
            JournalState::Applied => "applied",
            JournalState::Reverted => "reverted",
            JournalState::Failed => "failed",
        })
    }
}

/// One journaled mutation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The experiment it belongs to.
    pub experiment_id: String,
    /// The system the mutation was made in (see `FaultBackend::scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The fault kind of the experiment (for metrics and listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<crate::domain::FaultKind>,
    /// Order within the experiment (rollback runs from the highest down).
    pub seq: u32,
    /// What the mutation acts on.
    pub target: TargetRef,
    /// The mutation.
    pub action: Action,
    /// How to undo it.
    pub undo: UndoRecord,
    /// Human description of the mutation.
    pub summary: String,
    /// Where it stands.
    pub state: JournalState,
    /// Undo attempts so far.
    pub attempts: u32,
    /// The last undo error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the verified undo observed (e.g. recovery time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the intent was written (unix ms).
    pub created_at: i64,
    /// Last change (unix ms).
    pub updated_at: i64,
    /// When the fault expires on its own, if it does (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl JournalEntry {
    /// A fresh `intent` entry for a planned step.
    pub fn intent(
        experiment_id: &str,
        fault: Option<crate::domain::FaultKind>,
        seq: u32,
        step: &PlannedStep,
        now: i64,
        expires_at: Option<i64>,
    ) -> Self {
        JournalEntry {
            experiment_id: experiment_id.to_string(),
            scope: None,
            fault,
            seq,
            target: step.target.clone(),
            action: step.action.clone(),
            undo: step.undo.clone(),
            summary: step.summary.clone(),
            state: JournalState::Intent,
            attempts: 0,
            error: None,
            note: None,
            created_at: now,
            updated_at: now,
            expires_at,
        }
    }
}
