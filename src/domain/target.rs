//! What a fault acts on. One key names the kind of target: `pods`, `nodes`, `instances`,
//! `dbCluster`, `dbInstance`, `route` or `availabilityZone`.

use super::amount::Amount;
use super::selector::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The target of a fault. Written as a mapping with exactly one key naming the kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TargetRepr", into = "TargetRepr")]
pub enum Target {
    /// Kubernetes pods in one namespace, by selector or by name.
    Pods(PodTarget),
    /// Kubernetes nodes, by selector or by name.
    Nodes(NodeTarget),
    /// EC2 instances, by id or by tags.
    Instances(InstanceTarget),
    /// An RDS DB cluster (Aurora or Multi-AZ cluster).
    DbCluster(DbClusterTarget),
    /// An RDS Multi-AZ DB instance.
    DbInstance(DbInstanceTarget),
    /// One route of a VPC route table.
    Route(RouteTarget),
    /// The subnets of one availability zone in a VPC.
    AvailabilityZone(AzTarget),
}

/// How a target is written: one optional key per kind, exactly one present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "Target",
    description = "Exactly one of the keys, naming the kind of target"
)]
pub struct TargetRepr {
    /// Kubernetes pods in one namespace, by selector or by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodTarget>,
    /// Kubernetes nodes, by selector or by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeTarget>,
    /// EC2 instances, by id or by tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<InstanceTarget>,
    /// An RDS DB cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster: Option<DbClusterTarget>,
    /// An RDS Multi-AZ DB instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance: Option<DbInstanceTarget>,
    /// One route of a route table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteTarget>,
    /// The subnets of one availability zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<AzTarget>,
}

impl TryFrom<TargetRepr> for Target {
    type Error = String;
    fn try_from(r: TargetRepr) -> Result<Self, String> {
        let mut found: Vec<Target> = Vec::new();
        found.extend(r.pods.map(Target::Pods));
        found.extend(r.nodes.map(Target::Nodes));
        found.extend(r.instances.map(Target::Instances));
        found.extend(r.db_cluster.map(Target::DbCluster));
        found.extend(r.db_instance.map(Target::DbInstance));
        found.extend(r.route.map(Target::Route));
        found.extend(r.availability_zone.map(Target::AvailabilityZone));
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err("the target names no kind; write one of pods, nodes, instances, dbCluster, dbInstance, route, availabilityZone".into()),
            _ => {
                let kinds: Vec<&str> = found.iter().map(|t| t.kind().as_str()).collect();
                Err(format!("the target names {} kinds ({}); one experiment acts on one kind of target", kinds.len(), kinds.join(", ")))
            }
        }
    }
}

impl From<Target> for TargetRepr {
    fn from(t: Target) -> Self {
        let mut r = TargetRepr::default();
        match t {
            Target::Pods(x) => r.pods = Some(x),
            Target::Nodes(x) => r.nodes = Some(x),
            Target::Instances(x) => r.instances = Some(x),
            Target::DbCluster(x) => r.db_cluster = Some(x),
            Target::DbInstance(x) => r.db_instance = Some(x),
            Target::Route(x) => r.route = Some(x),
            Target::AvailabilityZone(x) => r.availability_zone = Some(x),
        }
        r
    }
}

impl JsonSchema for Target {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        TargetRepr::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut s = TargetRepr::json_schema(g);
        s.insert("minProperties".into(), 1.into());
        s.insert("maxProperties".into(), 1.into());
        s
    }
}

/// Target kinds without details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TargetKind {
    /// `pods`
    Pods,
    /// `nodes`
    Nodes,
    /// `instances`
    Instances,
    /// `dbCluster`
    DbCluster,
    /// `dbInstance`
    DbInstance,
    /// `route`
    Route,
    /// `availabilityZone`
    AvailabilityZone,
}

impl TargetKind {
    /// The key used in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Pods => "pods",
            TargetKind::Nodes => "nodes",
            TargetKind::Instances => "instances",
            TargetKind::DbCluster => "dbCluster",
            TargetKind::DbInstance => "dbInstance",
            TargetKind::Route => "route",
            TargetKind::AvailabilityZone => "availabilityZone",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Target {
    /// The kind of target.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Pods(_) => TargetKind::Pods,
            Target::Nodes(_) => TargetKind::Nodes,
            Target::Instances(_) => TargetKind::Instances,
            Target::DbCluster(_) => TargetKind::DbCluster,
            Target::DbInstance(_) => TargetKind::DbInstance,
            Target::Route(_) => TargetKind::Route,
            Target::AvailabilityZone(_) => TargetKind::AvailabilityZone,
        }
    }

    /// The Kubernetes namespace, for pod targets.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Target::Pods(p) => Some(&p.namespace),
            _ => None,
        }
    }

    /// A one-line description for listings.
    pub fn summary(&self) -> String {
        fn sel(s: &Option<LabelSelector>, names: &[String]) -> String {
            match (s, names.is_empty()) {
                (Some(s), true) => s.to_string(),
                (None, false) => names.join(","),
                (Some(s), false) => format!("{s} +{}", names.join(",")),
                (None, true) => "(nothing)".into(),
            }
        }
        match self {
            Target::Pods(p) => format!("pods {}/{}", p.namespace, sel(&p.selector, &p.names)),
            Target::Nodes(n) => format!("nodes {}", sel(&n.selector, &n.names)),
            Target::Instances(i) => {
                if i.ids.is_empty() {
                    let tags: Vec<String> =
                        i.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("instances tagged {}", tags.join(","))
                } else {
                    format!("instances {}", i.ids.join(","))
                }
            }
            Target::DbCluster(c) => format!("db cluster {}", c.id),
            Target::DbInstance(c) => format!("db instance {}", c.id),
            Target::Route(r) => format!("route {} {}", r.route_table, r.destination_cidr),
            Target::AvailabilityZone(a) => format!("zone {} in {}", a.zone, a.vpc),
        }
    }

    /// How many of the matching targets to act on, when the target says so.
    pub fn count(&self) -> Option<Amount> {
        match self {
            Target::Pods(p) => p.count,
            Target::Nodes(n) => n.count,
            Target::Instances(i) => i.count,
            _ => None,
        }
    }
}

/// Pods in one namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodTarget {
    /// The namespace; required, never defaulted.
    pub namespace: String,
    /// Which pods, in kubectl selector syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Pods by name (instead of or in addition to the selector).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// How many of the matching pods to affect, chosen at random; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Amount>,
    /// The container for exec-mode faults; the first container when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Kubernetes nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeTarget {
    /// Which nodes, in kubectl selector syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Nodes by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// How many of the matching nodes to affect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Amount>,
}

/// EC2 instances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceTarget {
    /// Instance ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Instances carrying all of these tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The region; the profile's region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How many of the matching instances to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Amount>,
}

/// An RDS DB cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DbClusterTarget {
    /// The DB cluster identifier.
    pub id: String,
    /// The region; the profile's region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// An RDS Multi-AZ DB instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DbInstanceTarget {
    /// The DB instance identifier.
    pub id: String,
    /// The region; the profile's region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One route of a route table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteTarget {
    /// The route table id, `rtb-...`.
    pub route_table: String,
    /// The destination CIDR of the route, e.g. `0.0.0.0/0`.
    pub destination_cidr: String,
    /// The region; the profile's region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The subnets of one availability zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzTarget {
    /// The VPC id, `vpc-...`.
    pub vpc: String,
    /// The availability zone, e.g. `us-east-1a`.
    pub zone: String,
    /// The region; the profile's region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}
