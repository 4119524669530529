//! AWS topology: VPCs → subnets (zone) → route tables (routes and their targets) and network
//! ACLs; EC2 instances (state, zone, tags, Auto Scaling group); RDS clusters (writer, readers)
//! and instances. Every describe call is paged (bounded), and each service's failure is
//! reported on its own, so an AccessDenied on RDS does not hide EC2.

use crate::engine::aws::client::{AwsError, Clients, classify};
use crate::engine::aws::records::RouteTargetSpec;
use crate::engine::aws::route_blackhole::target_of;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Most pages read per describe call.
const MAX_PAGES: usize = 50;

/// Tags of a resource.
pub type Tags = BTreeMap<String, String>;

/// The whole picture of one region.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct AwsTopology {
    /// The region.
    pub region: String,
    /// VPCs with their network.
    pub vpcs: Vec<VpcNode>,
    /// EC2 instances.
    pub instances: Vec<InstanceNode>,
    /// RDS clusters.
    pub db_clusters: Vec<DbClusterNode>,
    /// RDS instances.
    pub db_instances: Vec<DbInstanceNode>,
    /// Calls that failed, per service; the rest of the picture is still valid.
    pub errors: Vec<ServiceError>,
}

/// A failed describe call.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ServiceError {
    /// `ec2` or `rds`.
    pub service: String,
    /// What failed and what to do.
    pub message: String,
}

/// A VPC.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VpcNode {
    /// Id.
    pub id: String,
    /// CIDR.
    pub cidr: String,
    /// Tags.
    pub tags: Tags,
    /// Subnets.
    pub subnets: Vec<SubnetNode>,
    /// Route tables.
    pub route_tables: Vec<RouteTableNode>,
    /// Network ACLs.
    pub network_acls: Vec<AclNode>,
}

/// A subnet.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SubnetNode {
    /// Id.
    pub id: String,
    /// Availability zone.
    pub zone: String,
    /// CIDR.
    pub cidr: String,
    /// Its route table (explicit association, else the main table).
    pub route_table: Option<String>,
    /// Its network ACL.
    pub network_acl: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// A route table.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RouteTableNode {
    /// Id.
    pub id: String,
    /// The VPC's main table.
    pub main: bool,
    /// Explicitly associated subnets.
    pub subnets: Vec<String>,
    /// Routes.
    pub routes: Vec<RouteNode>,
    /// Tags.
    pub tags: Tags,
}

/// A route.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RouteNode {
    /// Destination CIDR (or prefix list).
    pub destination: String,
    /// What it points at; `None` for the local route or an unknown kind.
    pub target: Option<RouteTargetSpec>,
    /// `local` for the VPC's local route.
    pub local: bool,
    /// `active` or `blackhole`.
    pub state: String,
}

/// A network ACL.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AclNode {
    /// Id.
    pub id: String,
    /// The VPC's default ACL.
    pub default: bool,
    /// Associated subnets.
    pub subnets: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

/// An EC2 instance.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct InstanceNode {
    /// Id.
    pub id: String,
    /// State name.
    pub state: String,
    /// Zone.
    pub zone: Option<String>,
    /// Subnet.
    pub subnet: Option<String>,
    /// VPC.
    pub vpc: Option<String>,
    /// Instance type.
    pub instance_type: Option<String>,
    /// The Auto Scaling group, if any.
    pub auto_scaling_group: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// An RDS cluster.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DbClusterNode {
    /// Identifier.
    pub id: String,
    /// Status.
    pub status: String,
    /// Engine.
    pub engine: String,
    /// The writer.
    pub writer: Option<String>,
    /// The readers.
    pub readers: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

/// An RDS instance.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DbInstanceNode {
    /// Identifier.
    pub id: String,
    /// Status.
    pub status: String,
    /// Engine.
    pub engine: String,
    /// Primary zone.
    pub zone: Option<String>,
    /// Multi-AZ.
    pub multi_az: bool,
    /// The cluster it belongs to.
    pub cluster: Option<String>,
    /// Tags.
    pub tags: Tags,
}

fn ec2_tags(t: &[aws_sdk_ec2::types::Tag]) -> Tags {
    t.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn rds_tags(t: &[aws_sdk_rds::types::Tag]) -> Tags {
    t.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Pages an EC2 describe call: `$call` builds a request, `$list` extracts the items.
macro_rules! pages {
    ($op:expr, $call:expr, $list:ident) => {{
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let r = $call
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| classify($op, e))?;
            out.extend(r.$list().iter().cloned());
            token = r.next_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok::<_, AwsError>(out)
    }};
}

async fn network(c: &Clients) -> Result<Vec<VpcNode>, AwsError> {
    let vpcs = pages!("ec2:DescribeVpcs", c.ec2.describe_vpcs(), vpcs)?;
    let subnets = pages!("ec2:DescribeSubnets", c.ec2.describe_subnets(), subnets)?;
    let tables = pages!(
        "ec2:DescribeRouteTables",
        c.ec2.describe_route_tables(),
        route_tables
    )?;
    let acls = pages!(
        "ec2:DescribeNetworkAcls",
        c.ec2.describe_network_acls(),
        network_acls
    )?;
    let mut out = Vec::new();
    for v in &vpcs {
        let Some(vid) = v.vpc_id() else { continue };
        let route_tables: Vec<RouteTableNode> = tables
            .iter()
            .filter(|t| t.vpc_id() == Some(vid))
            .filter_map(|t| {
                Some(RouteTableNode {
                    id: t.route_table_id()?.to_string(),
                    main: t.associations().iter().any(|a| a.main() == Some(true)),
                    subnets: t
                        .associations()
                        .iter()
                        .filter_map(|a| a.subnet_id().map(str::to_string))
                        .collect(),
                    routes: t
                        .routes()
                        .iter()
                        .map(|r| RouteNode {
                            destination: r
                                .destination_cidr_block()
                                .or(r.destination_ipv6_cidr_block())
                                .or(r.destination_prefix_list_id())
                                .unwrap_or_default()
                                .to_string(),
                            local: r.gateway_id() == Some("local"),
                            target: (r.gateway_id() != Some("local"))
                                .then(|| target_of(r))
                                .flatten(),
                            state: r
                                .state()
                                .map(|s| s.as_str().to_string())
                                .unwrap_or_default(),
                        })
                        .collect(),
                    tags: ec2_tags(t.tags()),
                })
            })
            .collect();
        let network_acls: Vec<AclNode> = acls
            .iter()
            .filter(|a| a.vpc_id() == Some(vid))
            .filter_map(|a| {
                Some(AclNode {
                    id: a.network_acl_id()?.to_string(),
                    default: a.is_default().unwrap_or(false),
                    subnets: a
                        .associations()
                        .iter()
                        .filter_map(|s| s.subnet_id().map(str::to_string))
                        .collect(),
                    tags: ec2_tags(a.tags()),
                })
            })
            .collect();
        // Association order carries no meaning: sort for a stable picture.
        let mut route_tables = route_tables;
        for t in &mut route_tables {
            t.subnets.sort();
        }
        let mut network_acls = network_acls;
        for a in &mut network_acls {
            a.subnets.sort();
        }
        let main = route_tables.iter().find(|t| t.main).map(|t| t.id.clone());
        let subnet_nodes = subnets
            .iter()
            .filter(|s| s.vpc_id() == Some(vid))
            .filter_map(|s| {
                let id = s.subnet_id()?.to_string();
                Some(SubnetNode {
                    zone: s.availability_zone().unwrap_or_default().to_string(),
                    cidr: s.cidr_block().unwrap_or_default().to_string(),
                    route_table: route_tables
                        .iter()
                        .find(|t| t.subnets.contains(&id))
                        .map(|t| t.id.clone())
                        .or_else(|| main.clone()),
                    network_acl: network_acls
                        .iter()
                        .find(|a| a.subnets.contains(&id))
                        .map(|a| a.id.clone()),
                    tags: ec2_tags(s.tags()),
                    id,
                })
            })
            .collect();
        out.push(VpcNode {
            id: vid.to_string(),
            cidr: v.cidr_block().unwrap_or_default().to_string(),
            tags: ec2_tags(v.tags()),
            subnets: subnet_nodes,
            route_tables,
            network_acls,
        });
    }
    Ok(out)
}

async fn instances(c: &Clients) -> Result<Vec<InstanceNode>, AwsError> {
    let res = pages!(
        "ec2:DescribeInstances",
        c.ec2.describe_instances(),
        reservations
    )?;
    Ok(res
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| {
            let tags = ec2_tags(i.tags());
            Some(InstanceNode {
                id: i.instance_id()?.to_string(),
                state: i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
                zone: i
                    .placement()
                    .and_then(|p| p.availability_zone())
                    .map(str::to_string),
                subnet: i.subnet_id().map(str::to_string),
                vpc: i.vpc_id().map(str::to_string),
                instance_type: i.instance_type().map(|t| t.as_str().to_string()),
                auto_scaling_group: tags.get("aws:autoscaling:groupName").cloned(),
                tags,
            })
        })
        .collect())
}

async fn rds(c: &Clients) -> Result<(Vec<DbClusterNode>, Vec<DbInstanceNode>), AwsError> {
    let mut clusters = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let r = c
            .rds
            .describe_db_clusters()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| classify("rds:DescribeDBClusters", e))?;
        for d in r.db_clusters() {
            let Some(id) = d.db_cluster_identifier() else {
                continue;
            };
            let members = d.db_cluster_members();
            clusters.push(DbClusterNode {
                id: id.to_string(),
                status: d.status().unwrap_or_default().to_string(),
                engine: d.engine().unwrap_or_default().to_string(),
                writer: members
                    .iter()
                    .find(|m| m.is_cluster_writer() == Some(true))
                    .and_then(|m| m.db_instance_identifier())
                    .map(str::to_string),
                readers: members
                    .iter()
                    .filter(|m| m.is_cluster_writer() != Some(true))
                    .filter_map(|m| m.db_instance_identifier().map(str::to_string))
                    .collect(),
                tags: rds_tags(d.tag_list()),
            });
        }
        marker = r.marker().filter(|m| !m.is_empty()).map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut instances = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let r = c
            .rds
            .describe_db_instances()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| classify("rds:DescribeDBInstances", e))?;
        for d in r.db_instances() {
            let Some(id) = d.db_instance_identifier() else {
                continue;
            };
            instances.push(DbInstanceNode {
                id: id.to_string(),
                status: d.db_instance_status().unwrap_or_default().to_string(),
                engine: d.engine().unwrap_or_default().to_string(),
                zone: d.availability_zone().map(str::to_string),
                multi_az: d.multi_az().unwrap_or(false),
                cluster: d.db_cluster_identifier().map(str::to_string),
                tags: rds_tags(d.tag_list()),
            });
        }
        marker = r.marker().filter(|m| !m.is_empty()).map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok((clusters, instances))
}

/// Discovers one region; each service's failure is recorded and the rest still returned.
pub async fn discover(c: &Clients) -> AwsTopology {
    let (net, inst, db) = tokio::join!(network(c), instances(c), rds(c));
    let mut t = AwsTopology {
        region: c.region.clone(),
        ..Default::default()
    };
    match net {
        Ok(v) => t.vpcs = v,
        Err(e) => t.errors.push(ServiceError {
            service: "ec2".into(),
            message: e.to_string(),
        }),
    }
    match inst {
        Ok(v) => t.instances = v,
        Err(e) => t.errors.push(ServiceError {
            service: "ec2".into(),
            message: e.to_string(),
        }),
    }
    match db {
        Ok((c, i)) => {
            t.db_clusters = c;
            t.db_instances = i;
        }
        Err(e) => t.errors.push(ServiceError {
            service: "rds".into(),
            message: e.to_string(),
        }),
    }
    t
}

/// Refreshes the topology every `every` until cancelled, publishing each snapshot (latest wins)
/// for the dashboard.
pub async fn refresh(
    c: Clients,
    every: Duration,
    out: watch::Sender<Option<Arc<AwsTopology>>>,
    cancel: CancellationToken,
) {
    loop {
        let t = tokio::select! {
            _ = cancel.cancelled() => return,
            t = discover(&c) => t,
        };
        if out.send(Some(Arc::new(t))).is_err() {
            return; // nobody listens any more
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
