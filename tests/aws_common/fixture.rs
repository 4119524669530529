//! A VPC with three zones, a route table whose routes point at targets of several kinds,
//! instances, and RDS clusters, created through the real SDK (moto), plus snapshots of the state
//! the faults change, for exact before/after comparison.

use super::{Sdk, filter, tag_map};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use std::collections::{BTreeMap, BTreeSet};

/// Ids of the fixture.
#[derive(Clone, Debug, Default)]
pub struct Net {
    pub vpc: String,
    /// (subnet, zone); two in us-east-1a, one each in b and c.
    pub subnets: Vec<(String, String)>,
    /// The custom ACL one us-east-1a subnet uses.
    pub custom_acl: String,
    /// The route table with routes of several kinds.
    pub rtb: String,
    /// cidr -> kind of its target.
    pub routes: Vec<(String, &'static str)>,
    /// Instances tagged role=web.
    pub web: Vec<String>,
    /// An instance tagged role=db.
    pub other: String,
}

fn tags(kind: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(kind);
    for (k, v) in pairs {
        b = b.tags(Tag::builder().key(*k).value(*v).build());
    }
    b.build()
}

async fn instance(sdk: &Sdk, subnet: &str, role: &str) -> String {
    let r = sdk
        .ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet)
        .tag_specifications(tags(
            ResourceType::Instance,
            &[("role", role), ("env", "chaos")],
        ))
        .send()
        .await
        .expect("RunInstances");
    r.instances()[0]
        .instance_id()
        .expect("instance id")
        .to_string()
}

/// Builds the network and instances.
pub async fn build(sdk: &Sdk) -> Net {
    let ec2 = &sdk.ec2;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    for (cidr, az) in [
        ("10.0.1.0/24", "us-east-1a"),
        ("10.0.2.0/24", "us-east-1a"),
        ("10.0.3.0/24", "us-east-1b"),
        ("10.0.4.0/24", "us-east-1c"),
    ] {
        let id = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(az)
            .tag_specifications(tags(ResourceType::Subnet, &[("env", "chaos")]))
            .send()
            .await
            .expect("CreateSubnet")
            .subnet()
            .and_then(|s| s.subnet_id())
            .expect("subnet id")
            .to_string();
        subnets.push((id, az.to_string()));
    }
    // One subnet of zone a uses a custom ACL, so restoring must not just pick the default.
    let custom_acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("CreateNetworkAcl")
        .network_acl()
        .and_then(|a| a.network_acl_id())
        .expect("acl id")
        .to_string();
    let acls = ec2
        .describe_network_acls()
        .filters(filter("association.subnet-id", &subnets[1].0))
        .send()
        .await
        .expect("DescribeNetworkAcls");
    let assoc = acls
        .network_acls()
        .iter()
        .flat_map(|a| a.associations())
        .find(|a| a.subnet_id() == Some(subnets[1].0.as_str()))
        .and_then(|a| a.network_acl_association_id())
        .expect("association")
        .to_string();
    ec2.replace_network_acl_association()
        .association_id(assoc)
        .network_acl_id(&custom_acl)
        .send()
        .await
        .expect("ReplaceNetworkAclAssociation");

    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .expect("CreateInternetGateway")
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw")
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .expect("AttachInternetGateway");
    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .expect("AllocateAddress")
        .allocation_id()
        .expect("allocation")
        .to_string();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&subnets[0].0)
        .allocation_id(eip)
        .send()
        .await
        .expect("CreateNatGateway")
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .expect("nat")
        .to_string();
    let eni = ec2
        .create_network_interface()
        .subnet_id(&subnets[2].0)
        .send()
        .await
        .expect("CreateNetworkInterface")
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .expect("eni")
        .to_string();
    let peer_vpc = ec2
        .create_vpc()
        .cidr_block("10.3.0.0/16")
        .send()
        .await
        .expect("CreateVpc peer")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("peer vpc")
        .to_string();
    let pcx = ec2
        .create_vpc_peering_connection()
        .vpc_id(&vpc)
        .peer_vpc_id(&peer_vpc)
        .send()
        .await
        .expect("CreateVpcPeeringConnection")
        .vpc_peering_connection()
        .and_then(|p| p.vpc_peering_connection_id())
        .expect("pcx")
        .to_string();
    let web = vec![
        instance(sdk, &subnets[0].0, "web").await,
        instance(sdk, &subnets[2].0, "web").await,
        instance(sdk, &subnets[3].0, "web").await,
    ];
    let other = instance(sdk, &subnets[3].0, "db").await;
    let router = instance(sdk, &subnets[3].0, "router").await;

    let rtb = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .tag_specifications(tags(ResourceType::RouteTable, &[("env", "chaos")]))
        .send()
        .await
        .expect("CreateRouteTable")
        .route_table()
        .and_then(|r| r.route_table_id())
        .expect("rtb")
        .to_string();
    let route = |cidr: &str| {
        ec2.create_route()
            .route_table_id(&rtb)
            .destination_cidr_block(cidr)
    };
    route("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .expect("route igw");
    route("10.1.0.0/16")
        .nat_gateway_id(&nat)
        .send()
        .await
        .expect("route nat");
    route("10.2.0.0/16")
        .network_interface_id(&eni)
        .send()
        .await
        .expect("route eni");
    route("10.3.0.0/16")
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .expect("route pcx");
    route("10.4.0.0/16")
        .instance_id(&router)
        .send()
        .await
        .expect("route instance");
    Net {
        vpc,
        subnets,
        custom_acl,
        rtb,
        routes: vec![
            ("0.0.0.0/0".into(), "internet gateway"),
            ("10.1.0.0/16".into(), "NAT gateway"),
            ("10.2.0.0/16".into(), "network interface"),
            ("10.3.0.0/16".into(), "peering connection"),
            ("10.4.0.0/16".into(), "instance"),
            ("10.9.0.0/16".into(), "no route"),
        ],
        web,
        other,
    }
}

/// Every route of a table, exactly as described (target fields, state, origin), by destination.
pub async fn routes(sdk: &Sdk, rtb: &str) -> BTreeMap<String, String> {
    let r = sdk
        .ec2
        .describe_route_tables()
        .route_table_ids(rtb)
        .send()
        .await
        .expect("DescribeRouteTables");
    r.route_tables()[0]
        .routes()
        .iter()
        .map(|r| {
            (
                r.destination_cidr_block().unwrap_or_default().to_string(),
                format!("{r:?}"),
            )
        })
        .collect()
}

/// Tags of a route table.
pub async fn table_tags(sdk: &Sdk, rtb: &str) -> BTreeMap<String, String> {
    let r = sdk
        .ec2
        .describe_route_tables()
        .route_table_ids(rtb)
        .send()
        .await
        .expect("DescribeRouteTables");
    tag_map(r.route_tables()[0].tags())
}

/// Ids of every network interface.
pub async fn interfaces(sdk: &Sdk) -> BTreeSet<String> {
    sdk.ec2
        .describe_network_interfaces()
        .send()
        .await
        .expect("DescribeNetworkInterfaces")
        .network_interfaces()
        .iter()
        .filter_map(|n| n.network_interface_id().map(str::to_string))
        .collect()
}

/// subnet -> ACL, and every ACL of the VPC.
pub async fn acls(sdk: &Sdk, vpc: &str) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let r = sdk
        .ec2
        .describe_network_acls()
        .filters(filter("vpc-id", vpc))
        .send()
        .await
        .expect("DescribeNetworkAcls");
    let mut by_subnet = BTreeMap::new();
    let mut all = BTreeSet::new();
    for a in r.network_acls() {
        let id = a.network_acl_id().unwrap_or_default().to_string();
        all.insert(id.clone());
        for s in a.associations() {
            by_subnet.insert(s.subnet_id().unwrap_or_default().to_string(), id.clone());
        }
    }
    (by_subnet, all)
}

/// instance -> (state, tags).
pub async fn instances(sdk: &Sdk) -> BTreeMap<String, (String, BTreeMap<String, String>)> {
    let r = sdk
        .ec2
        .describe_instances()
        .send()
        .await
        .expect("DescribeInstances");
    r.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            (
                i.instance_id().unwrap_or_default().to_string(),
                (
                    i.state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    tag_map(i.tags()),
                ),
            )
        })
        .collect()
}

/// An Aurora cluster with a writer and two readers, and a Multi-AZ instance.
pub async fn build_rds(sdk: &Sdk) -> (String, Vec<String>, String) {
    let rds = &sdk.rds;
    rds.create_db_cluster()
        .db_cluster_identifier("orders")
        .engine("aurora-postgresql")
        .master_username("admin")
        .master_user_password("not-a-secret-1")
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("env")
                .value("chaos")
                .build(),
        )
        .send()
        .await
        .expect("CreateDBCluster");
    let mut members = Vec::new();
    for n in ["orders-1", "orders-2", "orders-3"] {
        rds.create_db_instance()
            .db_instance_identifier(n)
            .db_cluster_identifier("orders")
            .engine("aurora-postgresql")
            .db_instance_class("db.r5.large")
            .send()
            .await
            .expect("CreateDBInstance member");
        members.push(n.to_string());
    }
    rds.create_db_instance()
        .db_instance_identifier("billing")
        .engine("postgres")
        .db_instance_class("db.m5.large")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("not-a-secret-1")
        .multi_az(true)
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("env")
                .value("chaos")
                .build(),
        )
        .send()
        .await
        .expect("CreateDBInstance multi-az");
    ("orders".into(), members, "billing".into())
}

/// (status, writer, tags) of a cluster.
pub async fn cluster(sdk: &Sdk, id: &str) -> (String, Option<String>, BTreeMap<String, String>) {
    let r = sdk
        .rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .expect("DescribeDBClusters");
    let c = &r.db_clusters()[0];
    (
        c.status().unwrap_or_default().to_string(),
        c.db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier())
            .map(str::to_string),
        c.tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
    )
}

/// Everything the faults touch, as one comparable value: routes and route-table tags, network
/// interfaces, ACL associations and ACLs, subnet tags, instance states and tags, and the
/// cluster's status, writer and tags (when it exists).
pub async fn snapshot(sdk: &Sdk, net: &Net) -> String {
    let subnets = sdk
        .ec2
        .describe_subnets()
        .filters(filter("vpc-id", &net.vpc))
        .send()
        .await
        .expect("DescribeSubnets");
    let subnet_tags: BTreeMap<String, BTreeMap<String, String>> = subnets
        .subnets()
        .iter()
        .map(|s| {
            (
                s.subnet_id().unwrap_or_default().to_string(),
                tag_map(s.tags()),
            )
        })
        .collect();
    let cluster = match sdk
        .rds
        .describe_db_clusters()
        .db_cluster_identifier("orders")
        .send()
        .await
    {
        Ok(_) => format!("{:?}", cluster(sdk, "orders").await),
        Err(_) => String::new(),
    };
    format!(
        "routes {:#?}\ntable tags {:#?}\ninterfaces {:#?}\nacls {:#?}\nsubnet tags {:#?}\ninstances {:#?}\ncluster {cluster}",
        routes(sdk, &net.rtb).await,
        table_tags(sdk, &net.rtb).await,
        interfaces(sdk).await,
        acls(sdk, &net.vpc).await,
        subnet_tags,
        instances(sdk).await,
    )
}
