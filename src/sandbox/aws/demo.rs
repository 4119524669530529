//! The demo account: one VPC with three subnets in three zones, public and private route tables
//! (IGW and NAT routes), web and api instances, an Aurora cluster with a writer and two readers,
//! and a Multi-AZ instance. Ids match `experiments/*.yaml`, so the examples run against it.

use super::state::{Account, Cluster, DbInstance, Route, Tags};

/// The demo VPC id (as in experiments/az-outage.yaml).
pub const VPC: &str = "vpc-0a1b2c3d4e5f60001";
/// The private route table, whose default route goes through the NAT gateway (as in
/// experiments/route-blackhole.yaml).
pub const PRIVATE_RTB: &str = "rtb-0a1b2c3d4e5f60001";
/// The public route table (default route to the internet gateway).
pub const PUBLIC_RTB: &str = "rtb-0a1b2c3d4e5f60002";
/// The Aurora cluster (as in experiments/rds-failover.yaml).
pub const CLUSTER: &str = "shop-orders";
/// The Multi-AZ instance.
pub const MULTI_AZ: &str = "shop-billing";

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Fills `a` with the demo account.
pub fn populate(a: &mut Account) {
    let base = tags(&[("env", "sandbox"), ("chaos", "allowed")]);
    let tmp = a.create_vpc("10.0.0.0/16", {
        let mut t = base.clone();
        t.insert("Name".into(), "shop".into());
        t
    });
    // Give the VPC and its main route table the documented ids.
    if let Some(v) = a.vpcs.remove(&tmp) {
        a.vpcs.insert(VPC.into(), v);
    }
    for t in a.route_tables.values_mut() {
        if t.vpc == tmp {
            t.vpc = VPC.into();
        }
    }
    for acl in a.acls.values_mut() {
        if acl.vpc == tmp {
            acl.vpc = VPC.into();
        }
    }
    let mut subnets = Vec::new();
    for (i, z) in ["a", "b", "c"].iter().enumerate() {
        let mut t = base.clone();
        t.insert("Name".into(), format!("shop-{z}"));
        subnets.push(a.create_subnet(
            VPC,
            &format!("10.0.{}.0/24", i + 1),
            &format!("us-east-1{z}"),
            t,
        ));
    }
    let igw = a.id("igw");
    a.gateways
        .insert(igw.clone(), ("internet-gateway".into(), Some(VPC.into())));
    let nat = a.id("nat");
    a.gateways
        .insert(nat.clone(), ("nat-gateway".into(), Some(VPC.into())));
    for (id, name, target, subnet) in [
        (
            PUBLIC_RTB,
            "shop-public",
            ("gatewayId", igw.as_str()),
            0usize,
        ),
        (
            PRIVATE_RTB,
            "shop-private",
            ("natGatewayId", nat.as_str()),
            1,
        ),
    ] {
        let mut t = base.clone();
        t.insert("Name".into(), name.into());
        let Some(tmp) = a.create_route_table(VPC, t) else {
            continue;
        };
        if let Some(mut rt) = a.route_tables.remove(&tmp) {
            rt.routes.push(Route {
                dest: "0.0.0.0/0".into(),
                target: (target.0.into(), target.1.into()),
                origin: "CreateRoute",
            });
            let subnets_here: Vec<&String> = if subnet == 0 {
                subnets.iter().take(1).collect()
            } else {
                subnets.iter().skip(1).collect()
            };
            for s in subnets_here {
                let assoc = a.id("rtbassoc");
                rt.associations.push((assoc, Some(s.clone()), false));
            }
            a.route_tables.insert(id.into(), rt);
        }
    }
    for (i, s) in subnets.iter().enumerate() {
        let mut t = base.clone();
        t.insert("role".into(), "web".into());
        t.insert("Name".into(), format!("web-{}", i + 1));
        a.run_instance(s, "t3.small", "ami-0sandbox", t);
    }
    for (i, s) in subnets.iter().skip(1).enumerate() {
        let mut t = base.clone();
        t.insert("role".into(), "api".into());
        t.insert("Name".into(), format!("api-{}", i + 1));
        a.run_instance(s, "t3.medium", "ami-0sandbox", t);
    }
    let members: Vec<(String, bool)> = (1..=3)
        .map(|n| (format!("{CLUSTER}-{n}"), n == 1))
        .collect();
    for (n, (m, _)) in members.iter().enumerate() {
        a.db_instances.insert(
            m.clone(),
            DbInstance {
                cluster: Some(CLUSTER.into()),
                engine: "aurora-postgresql".into(),
                class: "db.r6g.large".into(),
                multi_az: false,
                az: format!("us-east-1{}", ["a", "b", "c"][n % 3]),
                secondary_az: None,
                status: "available".into(),
                reboot: None,
                tags: base.clone(),
            },
        );
    }
    a.clusters.insert(
        CLUSTER.into(),
        Cluster {
            engine: "aurora-postgresql".into(),
            members,
            status: "available".into(),
            failover: None,
            tags: base.clone(),
        },
    );
    a.db_instances.insert(
        MULTI_AZ.into(),
        DbInstance {
            cluster: None,
            engine: "postgres".into(),
            class: "db.m6g.large".into(),
            multi_az: true,
            az: "us-east-1a".into(),
            secondary_az: Some("us-east-1b".into()),
            status: "available".into(),
            reboot: None,
            tags: base,
        },
    );
}
