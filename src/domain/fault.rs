//! Fault kinds with their typed parameters. `type` selects the kind; every other key belongs to it.

use super::amount::{ByteSize, Percent};
use super::duration::HumanDuration;
use super::target::TargetKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The fault to inject, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultSpec {
    /// Delete pods; their controllers bring them back, and the recovery time is measured.
    PodDelete(PodDelete),
    /// Add latency to the pods' network with netem, from a self-expiring injector.
    NetworkLatency(NetworkLatency),
    /// Drop a share of the pods' packets with netem, from a self-expiring injector.
    NetworkLoss(NetworkLoss),
    /// Load the pods' CPUs with stress-ng, bounded by the fault duration.
    CpuStress(CpuStress),
    /// Allocate memory in the pods with stress-ng, bounded by the fault duration.
    MemoryStress(MemoryStress),
    /// Isolate the pods with a NetworkPolicy owned by ChaosDuck.
    NetworkPartition(NetworkPartition),
    /// Cordon (and optionally drain) nodes; revert uncordons exactly those ChaosDuck cordoned.
    NodeCordon(NodeCordon),
    /// Stop EC2 instances; revert waits for `stopped`, starts them, waits for `running`.
    Ec2Stop(Ec2Stop),
    /// Fail over an Aurora / Multi-AZ DB cluster or a Multi-AZ DB instance.
    RdsFailover(RdsFailover),
    /// Send a route table's traffic for a CIDR into a real blackhole; revert restores the target.
    RouteBlackhole(RouteBlackhole),
    /// Cut one availability zone's subnets off with a deny-all network ACL.
    AzOutage(AzOutage),
}

/// Fault kinds without parameters, for dispatch, display and guardrails.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// See [`FaultSpec::PodDelete`].
    PodDelete,
    /// See [`FaultSpec::NetworkLatency`].
    NetworkLatency,
    /// See [`FaultSpec::NetworkLoss`].
    NetworkLoss,
    /// See [`FaultSpec::CpuStress`].
    CpuStress,
    /// See [`FaultSpec::MemoryStress`].
    MemoryStress,
    /// See [`FaultSpec::NetworkPartition`].
    NetworkPartition,
    /// See [`FaultSpec::NodeCordon`].
    NodeCordon,
    /// See [`FaultSpec::Ec2Stop`].
    Ec2Stop,
    /// See [`FaultSpec::RdsFailover`].
    RdsFailover,
    /// See [`FaultSpec::RouteBlackhole`].
    RouteBlackhole,
    /// See [`FaultSpec::AzOutage`].
    AzOutage,
}

impl FaultKind {
    /// Every kind, in documentation order.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::PodDelete,
        FaultKind::NetworkLatency,
        FaultKind::NetworkLoss,
        FaultKind::CpuStress,
        FaultKind::MemoryStress,
        FaultKind::NetworkPartition,
        FaultKind::NodeCordon,
        FaultKind::Ec2Stop,
        FaultKind::RdsFailover,
        FaultKind::RouteBlackhole,
        FaultKind::AzOutage,
    ];

    /// The name used in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::PodDelete => "pod_delete",
            FaultKind::NetworkLatency => "network_latency",
            FaultKind::NetworkLoss => "network_loss",
            FaultKind::CpuStress => "cpu_stress",
            FaultKind::MemoryStress => "memory_stress",
            FaultKind::NetworkPartition => "network_partition",
            FaultKind::NodeCordon => "node_cordon",
            FaultKind::Ec2Stop => "ec2_stop",
            FaultKind::RdsFailover => "rds_failover",
            FaultKind::RouteBlackhole => "route_blackhole",
            FaultKind::AzOutage => "az_outage",
        }
    }

    /// Which target kinds this fault accepts.
    pub fn accepted_targets(self) -> &'static [TargetKind] {
        match self {
            FaultKind::PodDelete
            | FaultKind::NetworkLatency
            | FaultKind::NetworkLoss
            | FaultKind::CpuStress
            | FaultKind::MemoryStress
            | FaultKind::NetworkPartition => &[TargetKind::Pods],
            FaultKind::NodeCordon => &[TargetKind::Nodes],
            FaultKind::Ec2Stop => &[TargetKind::Instances],
            FaultKind::RdsFailover => &[TargetKind::DbCluster, TargetKind::DbInstance],
            FaultKind::RouteBlackhole => &[TargetKind::Route],
            FaultKind::AzOutage => &[TargetKind::AvailabilityZone],
        }
    }

    /// Whether the fault acts on Kubernetes (as opposed to AWS).
    pub fn is_kubernetes(self) -> bool {
        matches!(
            self.accepted_targets()[0],
            TargetKind::Pods | TargetKind::Nodes
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FaultSpec {
    /// The kind without parameters.
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultSpec::PodDelete(_) => FaultKind::PodDelete,
            FaultSpec::NetworkLatency(_) => FaultKind::NetworkLatency,
            FaultSpec::NetworkLoss(_) => FaultKind::NetworkLoss,
            FaultSpec::CpuStress(_) => FaultKind::CpuStress,
            FaultSpec::MemoryStress(_) => FaultKind::MemoryStress,
            FaultSpec::NetworkPartition(_) => FaultKind::NetworkPartition,
            FaultSpec::NodeCordon(_) => FaultKind::NodeCordon,
            FaultSpec::Ec2Stop(_) => FaultKind::Ec2Stop,
            FaultSpec::RdsFailover(_) => FaultKind::RdsFailover,
            FaultSpec::RouteBlackhole(_) => FaultKind::RouteBlackhole,
            FaultSpec::AzOutage(_) => FaultKind::AzOutage,
        }
    }
}

impl FaultSpec {
    /// The injection mode and exec container of the injector faults (`None` for the others).
    pub fn injection(&self) -> Option<(InjectionMode, Option<&str>)> {
        match self {
            FaultSpec::NetworkLatency(f) => Some((f.injection, f.container.as_deref())),
            FaultSpec::NetworkLoss(f) => Some((f.injection, f.container.as_deref())),
            FaultSpec::CpuStress(f) => Some((f.injection, f.container.as_deref())),
            FaultSpec::MemoryStress(f) => Some((f.injection, f.container.as_deref())),
            _ => None,
        }
    }
}

/// How an in-pod fault reaches the pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InjectionMode {
    /// An ephemeral container added to the pod (no tools needed in the app image). The default.
    #[default]
    Ephemeral,
    /// Exec in the target container, for clusters that forbid ephemeral containers; the image
    /// must carry `tc`/`stress-ng`.
    Exec,
}

/// Parameters of `pod_delete`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodDelete {
    /// Grace period given to each pod; the pod's own setting when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<HumanDuration>,
}

/// Parameters of `network_latency`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkLatency {
    /// Delay added to every packet, e.g. `200ms`.
    pub latency: HumanDuration,
    /// Random variation around the delay, e.g. `20ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<HumanDuration>,
    /// How much each delay depends on the previous one, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Percent>,
    /// The pod interface; `eth0` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Only traffic to this CIDR, e.g. `10.0.0.0/16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr: Option<String>,
    /// Only traffic to these destination ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// How the injector reaches the pod.
    #[serde(default)]
    pub injection: InjectionMode,
    /// With `injection: exec`: the container to exec into; the pod's first container when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Parameters of `network_loss`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkLoss {
    /// Share of packets dropped.
    pub percent: Percent,
    /// How much each drop depends on the previous one, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Percent>,
    /// The pod interface; `eth0` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Only traffic to this CIDR, e.g. `10.0.0.0/16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr: Option<String>,
    /// Only traffic to these destination ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// How the injector reaches the pod.
    #[serde(default)]
    pub injection: InjectionMode,
    /// With `injection: exec`: the container to exec into; the pod's first container when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Parameters of `cpu_stress`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuStress {
    /// Number of stress workers (CPU cores to load).
    #[serde(default = "one")]
    pub workers: u32,
    /// Load per worker, in percent.
    #[serde(default = "hundred")]
    pub load: Percent,
    /// How the injector reaches the pod.
    #[serde(default)]
    pub injection: InjectionMode,
    /// With `injection: exec`: the container to exec into; the pod's first container when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Parameters of `memory_stress`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryStress {
    /// Memory to allocate per worker, e.g. `256Mi`.
    pub size: ByteSize,
    /// Number of allocating workers.
    #[serde(default = "one")]
    pub workers: u32,
    /// How the injector reaches the pod.
    #[serde(default)]
    pub injection: InjectionMode,
    /// With `injection: exec`: the container to exec into; the pod's first container when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Direction of a network partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Block traffic into the pods.
    Ingress,
    /// Block traffic out of the pods.
    Egress,
    /// Block both directions. The default.
    #[default]
    Both,
}

/// Parameters of `network_partition`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPartition {
    /// Which direction to cut.
    #[serde(default)]
    pub direction: Direction,
}

/// Parameters of `node_cordon`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeCordon {
    /// Also evict the nodes' pods (a drain), respecting PodDisruptionBudgets.
    #[serde(default)]
    pub drain: bool,
    /// Grace period for evicted pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<HumanDuration>,
}

/// Parameters of `ec2_stop`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ec2Stop {
    /// Force the stop (no clean OS shutdown).
    #[serde(default)]
    pub force: bool,
    /// Allow instances that belong to an Auto Scaling group (the group may replace them).
    #[serde(default)]
    pub allow_auto_scaling: bool,
}

/// Parameters of `rds_failover`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RdsFailover {
    /// The instance to promote (clusters only); RDS chooses when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_instance: Option<String>,
    /// Fail back to the original writer as the revert step.
    #[serde(default)]
    pub fail_back: bool,
}

/// Parameters of `route_blackhole` (the route itself is the target).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteBlackhole {}

/// Parameters of `az_outage` (the zone itself is the target).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzOutage {}

fn one() -> u32 {
    1
}

fn hundred() -> Percent {
    Percent(100.0)
}

/// Re-reads a fault mapping with its variant's own type, to find the exact field of an error
/// (serde's internally tagged enums lose the path inside the variant).
pub(crate) fn diagnose(value: &serde_norway::Value) -> Option<(String, String)> {
    fn probe<T: serde::de::DeserializeOwned>(v: serde_norway::Value) -> Option<(String, String)> {
        match serde_path_to_error::deserialize::<_, T>(v) {
            Ok(_) => None,
            Err(e) => Some((e.path().to_string(), e.inner().to_string())),
        }
    }
    let map = value.as_mapping()?;
    let kind = map.get("type")?.as_str()?;
    let mut rest = map.clone();
    rest.remove("type");
    let rest = serde_norway::Value::Mapping(rest);
    match kind {
        "pod_delete" => probe::<PodDelete>(rest),
        "network_latency" => probe::<NetworkLatency>(rest),
        "network_loss" => probe::<NetworkLoss>(rest),
        "cpu_stress" => probe::<CpuStress>(rest),
        "memory_stress" => probe::<MemoryStress>(rest),
        "network_partition" => probe::<NetworkPartition>(rest),
        "node_cordon" => probe::<NodeCordon>(rest),
        "ec2_stop" => probe::<Ec2Stop>(rest),
        "rds_failover" => probe::<RdsFailover>(rest),
        "route_blackhole" => probe::<RouteBlackhole>(rest),
        "az_outage" => probe::<AzOutage>(rest),
        _ => None,
    }
}
