//! EC2 query API of the sandbox account: the calls the engine, the topology and the test
//! fixtures use.

use super::query::{ApiError, Params, bad, filters, list, pass, req, tag_spec, tags};
use super::state::{Account, Acl, Pending, Route, Tags};
use super::xml::{el, items, opt, tag_set, wrap};
use std::time::Instant;

fn nf(code: &str, what: &str, id: &str) -> ApiError {
    bad(code, format!("The {what} ID '{id}' does not exist"))
}

fn ok() -> String {
    el("return", "true")
}

fn state_code(s: &str) -> &'static str {
    match s {
        "pending" => "0",
        "running" => "16",
        "shutting-down" => "32",
        "terminated" => "48",
        "stopping" => "64",
        _ => "80",
    }
}

fn state_xml(name: &str, s: &str) -> String {
    wrap(
        name,
        &format!("{}{}", el("code", state_code(s)), el("name", s)),
    )
}

/// Handles one EC2 action; returns the inner XML of the response.
pub fn handle(a: &mut Account, action: &str, p: &Params) -> Result<String, ApiError> {
    let f = filters(p);
    match action {
        "DescribeVpcs" => {
            let ids = list(p, "VpcId");
            for id in &ids {
                if !a.vpcs.contains_key(id) {
                    return Err(nf("InvalidVpcID.NotFound", "vpc", id));
                }
            }
            let mut out = Vec::new();
            for (id, v) in &a.vpcs {
                if (!ids.is_empty() && !ids.contains(id))
                    || !pass(&f, &v.tags, |n| match n {
                        "vpc-id" => Some(vec![id.clone()]),
                        "cidr" | "cidr-block" => Some(vec![v.cidr.clone()]),
                        _ => None,
                    })?
                {
                    continue;
                }
                out.push(format!(
                    "{}{}{}{}{}",
                    el("vpcId", id),
                    el("cidrBlock", &v.cidr),
                    el("state", "available"),
                    el("ownerId", &a.account_id),
                    tag_set(&v.tags)
                ));
            }
            Ok(items("vpcSet", out))
        }
        "CreateVpc" => {
            let cidr = req(p, "CidrBlock")?.to_string();
            let id = a.create_vpc(&cidr, tag_spec(p, "vpc"));
            Ok(wrap(
                "vpc",
                &format!(
                    "{}{}{}",
                    el("vpcId", &id),
                    el("cidrBlock", &cidr),
                    el("state", "available")
                ),
            ))
        }
        "DescribeSubnets" => {
            let ids = list(p, "SubnetId");
            for id in &ids {
                if !a.subnets.contains_key(id) {
                    return Err(nf("InvalidSubnetID.NotFound", "subnet", id));
                }
            }
            let mut out = Vec::new();
            for (id, s) in &a.subnets {
                if (!ids.is_empty() && !ids.contains(id))
                    || !pass(&f, &s.tags, |n| match n {
                        "vpc-id" => Some(vec![s.vpc.clone()]),
                        "subnet-id" => Some(vec![id.clone()]),
                        "availability-zone" => Some(vec![s.az.clone()]),
                        _ => None,
                    })?
                {
                    continue;
                }
                out.push(format!(
                    "{}{}{}{}{}{}{}",
                    el("subnetId", id),
                    el("vpcId", &s.vpc),
                    el("availabilityZone", &s.az),
                    el("cidrBlock", &s.cidr),
                    el("state", "available"),
                    el("ownerId", &a.account_id),
                    tag_set(&s.tags)
                ));
            }
            Ok(items("subnetSet", out))
        }
        "CreateSubnet" => {
            let vpc = req(p, "VpcId")?.to_string();
            if !a.vpcs.contains_key(&vpc) {
                return Err(nf("InvalidVpcID.NotFound", "vpc", &vpc));
            }
            let cidr = req(p, "CidrBlock")?.to_string();
            let az = p
                .get("AvailabilityZone")
                .cloned()
                .unwrap_or_else(|| format!("{}a", a.region));
            let id = a.create_subnet(&vpc, &cidr, &az, tag_spec(p, "subnet"));
            Ok(wrap(
                "subnet",
                &format!(
                    "{}{}{}",
                    el("subnetId", &id),
                    el("vpcId", &vpc),
                    el("availabilityZone", &az)
                ),
            ))
        }
        "CreateInternetGateway" => {
            let id = a.id("igw");
            a.gateways
                .insert(id.clone(), ("internet-gateway".into(), None));
            Ok(wrap("internetGateway", &el("internetGatewayId", &id)))
        }
        "AttachInternetGateway" => {
            let id = req(p, "InternetGatewayId")?.to_string();
            let vpc = req(p, "VpcId")?.to_string();
            match a.gateways.get_mut(&id) {
                Some(g) => g.1 = Some(vpc),
                None => {
                    return Err(nf(
                        "InvalidInternetGatewayID.NotFound",
                        "internet gateway",
                        &id,
                    ));
                }
            }
            Ok(ok())
        }
        "DescribeInternetGateways" => {
            let out = a
                .gateways
                .iter()
                .filter(|(_, (k, _))| k == "internet-gateway")
                .map(|(id, (_, vpc))| {
                    let att = vpc
                        .as_ref()
                        .map(|v| {
                            items(
                                "attachmentSet",
                                [format!("{}{}", el("vpcId", v), el("state", "available"))],
                            )
                        })
                        .unwrap_or_default();
                    format!("{}{att}", el("internetGatewayId", id))
                })
                .collect::<Vec<_>>();
            Ok(items("internetGatewaySet", out))
        }
        "AllocateAddress" => {
            let id = a.id("eipalloc");
            Ok(format!(
                "{}{}{}",
                el("allocationId", &id),
                el("publicIp", "198.51.100.7"),
                el("domain", "vpc")
            ))
        }
        "CreateNatGateway" => {
            let subnet = req(p, "SubnetId")?.to_string();
            let vpc = a
                .vpc_of_subnet(&subnet)
                .ok_or_else(|| nf("InvalidSubnetID.NotFound", "subnet", &subnet))?;
            let id = a.id("nat");
            a.gateways
                .insert(id.clone(), ("nat-gateway".into(), Some(vpc.clone())));
            Ok(wrap(
                "natGateway",
                &format!(
                    "{}{}{}{}",
                    el("natGatewayId", &id),
                    el("subnetId", &subnet),
                    el("vpcId", &vpc),
                    el("state", "available")
                ),
            ))
        }
        "CreateVpcPeeringConnection" => {
            let vpc = req(p, "VpcId")?.to_string();
            let id = a.id("pcx");
            a.gateways
                .insert(id.clone(), ("vpc-peering".into(), Some(vpc)));
            Ok(wrap(
                "vpcPeeringConnection",
                &el("vpcPeeringConnectionId", &id),
            ))
        }
        "RunInstances" => {
            let subnet = req(p, "SubnetId")?.to_string();
            if !a.subnets.contains_key(&subnet) {
                return Err(nf("InvalidSubnetID.NotFound", "subnet", &subnet));
            }
            let n: u32 = p
                .get("MinCount")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)
                .clamp(1, 50);
            let ty = p
                .get("InstanceType")
                .cloned()
                .unwrap_or_else(|| "t3.micro".into());
            let image = req(p, "ImageId")?.to_string();
            let t = tag_spec(p, "instance");
            let mut out = Vec::new();
            for _ in 0..n {
                let id = a.run_instance(&subnet, &ty, &image, t.clone());
                out.push(instance_xml(a, &id));
            }
            Ok(format!(
                "{}{}",
                el("ownerId", &a.account_id),
                items("instancesSet", out)
            ))
        }
        "DescribeInstances" => {
            let ids = list(p, "InstanceId");
            for id in &ids {
                if !a.instances.contains_key(id) {
                    return Err(nf("InvalidInstanceID.NotFound", "instance", id));
                }
            }
            let mut out = Vec::new();
            for (id, i) in &a.instances {
                let vpc = a.vpc_of_subnet(&i.subnet).unwrap_or_default();
                let az = a
                    .subnets
                    .get(&i.subnet)
                    .map(|s| s.az.clone())
                    .unwrap_or_default();
                if (!ids.is_empty() && !ids.contains(id))
                    || !pass(&f, &i.tags, |n| match n {
                        "instance-id" => Some(vec![id.clone()]),
                        "instance-state-name" => Some(vec![i.state.clone()]),
                        "vpc-id" => Some(vec![vpc.clone()]),
                        "subnet-id" => Some(vec![i.subnet.clone()]),
                        "availability-zone" => Some(vec![az.clone()]),
                        _ => None,
                    })?
                {
                    continue;
                }
                out.push(format!(
                    "{}{}{}",
                    el(
                        "reservationId",
                        &format!("r-{}", id.strip_prefix("i-").unwrap_or(id))
                    ),
                    el("ownerId", &a.account_id),
                    items("instancesSet", [instance_xml(a, id)])
                ));
            }
            Ok(items("reservationSet", out))
        }
        "StopInstances" | "StartInstances" => {
            let stop = action == "StopInstances";
            let ids = list(p, "InstanceId");
            if ids.is_empty() {
                return Err(bad(
                    "MissingParameter",
                    "The request must contain the parameter InstanceId",
                ));
            }
            for id in &ids {
                let Some(i) = a.instances.get(id) else {
                    return Err(nf("InvalidInstanceID.NotFound", "instance", id));
                };
                if !stop && i.state == "stopping" {
                    return Err(bad(
                        "IncorrectInstanceState",
                        format!(
                            "The instance '{id}' is not in a state from which it can be started."
                        ),
                    ));
                }
                if i.state == "terminated" || i.state == "shutting-down" {
                    return Err(bad(
                        "IncorrectInstanceState",
                        format!(
                            "This instance '{id}' is not in a state from which it can be {}.",
                            if stop { "stopped" } else { "started" }
                        ),
                    ));
                }
            }
            let delay = a.transition;
            let mut out = Vec::new();
            for id in &ids {
                let Some(i) = a.instances.get_mut(id) else {
                    continue;
                };
                let prev = i.state.clone();
                let (mid, end) = if stop {
                    ("stopping", "stopped")
                } else {
                    ("pending", "running")
                };
                let start_state = if stop {
                    ["running", "pending"]
                } else {
                    ["stopped", "stopped"]
                };
                if start_state.contains(&prev.as_str()) {
                    if delay.is_zero() {
                        i.state = end.into();
                    } else {
                        i.state = mid.into();
                        i.pending = Some(Pending {
                            at: Instant::now() + delay,
                            to: end.into(),
                        });
                    }
                }
                out.push(format!(
                    "{}{}{}",
                    el("instanceId", id),
                    state_xml("currentState", &i.state),
                    state_xml("previousState", &prev)
                ));
            }
            Ok(items("instancesSet", out))
        }
        "CreateTags" | "DeleteTags" => {
            let ids = list(p, "ResourceId");
            let t = tags(p, "Tag");
            for id in &ids {
                if a.ec2_tags_mut(id).is_none() {
                    return Err(bad("InvalidID", format!("The ID '{id}' is not valid")));
                }
            }
            for id in &ids {
                if let Some(have) = a.ec2_tags_mut(id) {
                    for (k, v) in &t {
                        if action == "CreateTags" {
                            have.insert(k.clone(), v.clone());
                        } else if v.is_empty() || have.get(k) == Some(v) {
                            have.remove(k);
                        }
                    }
                }
            }
            Ok(ok())
        }
        "DescribeRouteTables" => {
            let ids = list(p, "RouteTableId");
            for id in &ids {
                if !a.route_tables.contains_key(id) {
                    return Err(nf("InvalidRouteTableID.NotFound", "route table", id));
                }
            }
            let mut out = Vec::new();
            for (id, t) in &a.route_tables {
                if (!ids.is_empty() && !ids.contains(id))
                    || !pass(&f, &t.tags, |n| match n {
                        "route-table-id" => Some(vec![id.clone()]),
                        "vpc-id" => Some(vec![t.vpc.clone()]),
                        "association.subnet-id" => {
                            Some(t.associations.iter().filter_map(|x| x.1.clone()).collect())
                        }
                        "association.main" => {
                            Some(vec![t.associations.iter().any(|x| x.2).to_string()])
                        }
                        "route.network-interface-id" => Some(
                            t.routes
                                .iter()
                                .filter(|r| r.target.0 == "networkInterfaceId")
                                .map(|r| r.target.1.clone())
                                .collect(),
                        ),
                        _ => None,
                    })?
                {
                    continue;
                }
                let routes = t.routes.iter().map(|r| route_xml(a, r));
                let assocs = t.associations.iter().map(|(aid, sub, main)| {
                    format!(
                        "{}{}{}{}",
                        el("routeTableAssociationId", aid),
                        el("routeTableId", id),
                        opt("subnetId", sub.as_deref()),
                        el("main", if *main { "true" } else { "false" })
                    )
                });
                out.push(format!(
                    "{}{}{}{}{}{}",
                    el("routeTableId", id),
                    el("vpcId", &t.vpc),
                    el("ownerId", &a.account_id),
                    items("routeSet", routes),
                    items("associationSet", assocs),
                    tag_set(&t.tags)
                ));
            }
            Ok(items("routeTableSet", out))
        }
        "CreateRouteTable" => {
            let vpc = req(p, "VpcId")?.to_string();
            let id = a
                .create_route_table(&vpc, tag_spec(p, "route-table"))
                .ok_or_else(|| nf("InvalidVpcID.NotFound", "vpc", &vpc))?;
            Ok(wrap(
                "routeTable",
                &format!("{}{}", el("routeTableId", &id), el("vpcId", &vpc)),
            ))
        }
        "DeleteRouteTable" => {
            let id = req(p, "RouteTableId")?.to_string();
            let Some(t) = a.route_tables.get(&id) else {
                return Err(nf("InvalidRouteTableID.NotFound", "route table", &id));
            };
            if !t.associations.is_empty() {
                return Err(bad(
                    "DependencyViolation",
                    format!("The routeTable '{id}' has dependencies and cannot be deleted."),
                ));
            }
            a.route_tables.remove(&id);
            Ok(ok())
        }
        "CreateRoute" | "ReplaceRoute" | "DeleteRoute" => {
            let id = req(p, "RouteTableId")?.to_string();
            let dest = req(p, "DestinationCidrBlock")?.to_string();
            if !a.route_tables.contains_key(&id) {
                return Err(nf("InvalidRouteTableID.NotFound", "route table", &id));
            }
            let target = if action == "DeleteRoute" {
                None
            } else {
                Some(route_target(a, p)?)
            };
            let Some(t) = a.route_tables.get_mut(&id) else {
                return Err(nf("InvalidRouteTableID.NotFound", "route table", &id));
            };
            let pos = t.routes.iter().position(|r| r.dest == dest);
            if pos.is_some_and(|i| t.routes[i].target.1 == "local") {
                return Err(bad(
                    "InvalidParameterValue",
                    format!("cannot {action} the local route {dest}"),
                ));
            }
            match (action, pos, target) {
                ("CreateRoute", Some(_), _) => {
                    return Err(bad(
                        "RouteAlreadyExists",
                        format!("The route identified by {dest} already exists."),
                    ));
                }
                ("CreateRoute", None, Some(target)) => t.routes.push(Route {
                    dest,
                    target,
                    origin: "CreateRoute",
                }),
                ("ReplaceRoute", Some(i), Some(target)) => t.routes[i].target = target,
                ("DeleteRoute", Some(i), _) => {
                    t.routes.remove(i);
                }
                _ => {
                    return Err(bad(
                        "InvalidRoute.NotFound",
                        format!("no route with destination-cidr-block {dest} in route table {id}"),
                    ));
                }
            }
            Ok(ok())
        }
        "CreateNetworkInterface" => {
            let subnet = req(p, "SubnetId")?.to_string();
            if !a.subnets.contains_key(&subnet) {
                return Err(nf("InvalidSubnetID.NotFound", "subnet", &subnet));
            }
            let desc = p.get("Description").cloned().unwrap_or_default();
            let id = a.create_eni(&subnet, &desc, tag_spec(p, "network-interface"));
            Ok(wrap("networkInterface", &eni_xml(a, &id)))
        }
        "DescribeNetworkInterfaces" => {
            let ids = list(p, "NetworkInterfaceId");
            for id in &ids {
                if !a.enis.contains_key(id) {
                    return Err(nf(
                        "InvalidNetworkInterfaceID.NotFound",
                        "network interface",
                        id,
                    ));
                }
            }
            let mut out = Vec::new();
            for (id, e) in &a.enis {
                let vpc = a.vpc_of_subnet(&e.subnet).unwrap_or_default();
                if (!ids.is_empty() && !ids.contains(id))
                    || !pass(&f, &e.tags, |n| match n {
                        "network-interface-id" => Some(vec![id.clone()]),
                        "subnet-id" => Some(vec![e.subnet.clone()]),
                        "vpc-id" => Some(vec![vpc.clone()]),
                        "status" => Some(vec![
                            if e.attached_to.is_some() {
                                "in-use"
                            } else {
                                "available"
                            }
                            .into(),
                        ]),
                        _ => None,
                    })?
                {
                    continue;
                }
                out.push(eni_xml(a, id));
            }
            Ok(items("networkInterfaceSet", out))
        }
        "DeleteNetworkInterface" => {
            let id = req(p, "NetworkInterfaceId")?.to_string();
            let Some(e) = a.enis.get(&id) else {
                return Err(nf(
                    "InvalidNetworkInterfaceID.NotFound",
                    "network interface",
                    &id,
                ));
            };
            if e.attached_to.is_some() {
                return Err(bad(
                    "InvalidNetworkInterface.InUse",
                    format!("Interface: [{id}] in use."),
                ));
            }
            a.enis.remove(&id);
            Ok(ok())
        }
        "DescribeNetworkAcls" => {
            let ids = list(p, "NetworkAclId");
            let mut out = Vec::new();
            for (id, acl) in &a.acls {
                if (!ids.is_empty() && !ids.contains(id))
                    || !pass(&f, &acl.tags, |n| match n {
                        "network-acl-id" => Some(vec![id.clone()]),
                        "vpc-id" => Some(vec![acl.vpc.clone()]),
                        "default" => Some(vec![acl.default.to_string()]),
                        "association.subnet-id" => {
                            Some(acl.associations.iter().map(|x| x.1.clone()).collect())
                        }
                        "association.association-id" => {
                            Some(acl.associations.iter().map(|x| x.0.clone()).collect())
                        }
                        _ => None,
                    })?
                {
                    continue;
                }
                out.push(acl_xml(a, id, acl));
            }
            Ok(items("networkAclSet", out))
        }
        "CreateNetworkAcl" => {
            let vpc = req(p, "VpcId")?.to_string();
            if !a.vpcs.contains_key(&vpc) {
                return Err(nf("InvalidVpcID.NotFound", "vpc", &vpc));
            }
            let id = a.id("acl");
            let acl = Acl {
                vpc,
                default: false,
                associations: vec![],
                tags: tag_spec(p, "network-acl"),
            };
            let x = acl_xml(a, &id, &acl);
            a.acls.insert(id, acl);
            Ok(wrap("networkAcl", &x))
        }
        "DeleteNetworkAcl" => {
            let id = req(p, "NetworkAclId")?.to_string();
            let Some(acl) = a.acls.get(&id) else {
                return Err(nf("InvalidNetworkAclID.NotFound", "network ACL", &id));
            };
            if acl.default {
                return Err(bad(
                    "InvalidParameterValue",
                    "cannot delete the default network ACL",
                ));
            }
            if !acl.associations.is_empty() {
                return Err(bad(
                    "DependencyViolation",
                    format!("The networkAcl '{id}' has dependencies and cannot be deleted."),
                ));
            }
            a.acls.remove(&id);
            Ok(ok())
        }
        "ReplaceNetworkAclAssociation" => {
            let assoc = req(p, "AssociationId")?.to_string();
            let to = req(p, "NetworkAclId")?.to_string();
            if !a.acls.contains_key(&to) {
                return Err(nf("InvalidNetworkAclID.NotFound", "network ACL", &to));
            }
            let mut subnet = None;
            for acl in a.acls.values_mut() {
                if let Some(i) = acl.associations.iter().position(|x| x.0 == assoc) {
                    subnet = Some(acl.associations.remove(i).1);
                }
            }
            let Some(subnet) = subnet else {
                return Err(nf("InvalidAssociationID.NotFound", "association", &assoc));
            };
            let new = a.id("aclassoc");
            if let Some(acl) = a.acls.get_mut(&to) {
                acl.associations.push((new.clone(), subnet));
            }
            Ok(el("newAssociationId", &new))
        }
        _ => Err(bad(
            "InvalidAction",
            format!(
                "The action {action} is not valid for this web service (the ChaosDuck sandbox implements the calls ChaosDuck uses)"
            ),
        )),
    }
}

fn route_target(a: &Account, p: &Params) -> Result<(String, String), ApiError> {
    let fields = [
        ("GatewayId", "gatewayId", "InvalidGatewayID.NotFound"),
        (
            "NatGatewayId",
            "natGatewayId",
            "InvalidNatGatewayID.NotFound",
        ),
        (
            "TransitGatewayId",
            "transitGatewayId",
            "InvalidTransitGatewayID.NotFound",
        ),
        (
            "VpcPeeringConnectionId",
            "vpcPeeringConnectionId",
            "InvalidVpcPeeringConnectionID.NotFound",
        ),
        (
            "EgressOnlyInternetGatewayId",
            "egressOnlyInternetGatewayId",
            "InvalidEgressOnlyInternetGatewayId.NotFound",
        ),
        (
            "VpcEndpointId",
            "gatewayId",
            "InvalidVpcEndpointId.NotFound",
        ),
        (
            "LocalGatewayId",
            "localGatewayId",
            "InvalidLocalGatewayID.NotFound",
        ),
        (
            "CarrierGatewayId",
            "carrierGatewayId",
            "InvalidCarrierGatewayID.NotFound",
        ),
        (
            "CoreNetworkArn",
            "coreNetworkArn",
            "InvalidCoreNetworkArn.NotFound",
        ),
    ];
    for (param, field, code) in fields {
        if let Some(v) = p.get(param).filter(|v| !v.is_empty()) {
            if !a.gateways.contains_key(v) {
                return Err(bad(code, format!("The {param} '{v}' does not exist")));
            }
            return Ok((field.into(), v.clone()));
        }
    }
    if let Some(v) = p.get("NetworkInterfaceId").filter(|v| !v.is_empty()) {
        if !a.enis.contains_key(v) {
            return Err(nf(
                "InvalidNetworkInterfaceID.NotFound",
                "network interface",
                v,
            ));
        }
        return Ok(("networkInterfaceId".into(), v.clone()));
    }
    if let Some(v) = p.get("InstanceId").filter(|v| !v.is_empty()) {
        // AWS routes to an instance's primary interface and describes both.
        let Some(i) = a.instances.get(v) else {
            return Err(nf("InvalidInstanceID.NotFound", "instance", v));
        };
        return Ok(("networkInterfaceId".into(), i.eni.clone()));
    }
    Err(bad(
        "MissingParameter",
        "a route needs a target: GatewayId, NatGatewayId, NetworkInterfaceId, InstanceId, ...",
    ))
}

fn route_xml(a: &Account, r: &Route) -> String {
    let (field, id) = &r.target;
    let mut x = el("destinationCidrBlock", &r.dest);
    x.push_str(&el(field, id));
    let mut active = id == "local" || a.gateways.contains_key(id);
    if field == "networkInterfaceId"
        && let Some(e) = a.enis.get(id)
        && let Some(inst) = &e.attached_to
    {
        x.push_str(&el("instanceId", inst));
        x.push_str(&el("instanceOwnerId", &a.account_id));
        active = true;
    }
    // A route whose target is gone or is an unattached interface is a blackhole, as in AWS.
    x.push_str(&el("state", if active { "active" } else { "blackhole" }));
    x.push_str(&el("origin", r.origin));
    x
}

fn instance_xml(a: &Account, id: &str) -> String {
    let Some(i) = a.instances.get(id) else {
        return String::new();
    };
    let s = a.subnets.get(&i.subnet);
    format!(
        "{}{}{}{}{}{}{}{}{}",
        el("instanceId", id),
        el("imageId", &i.image),
        state_xml("instanceState", &i.state),
        el("instanceType", &i.instance_type),
        wrap(
            "placement",
            &opt("availabilityZone", s.map(|s| s.az.as_str()))
        ),
        el("subnetId", &i.subnet),
        opt("vpcId", s.map(|s| s.vpc.as_str())),
        items(
            "networkInterfaceSet",
            [format!(
                "{}{}",
                el("networkInterfaceId", &i.eni),
                el("subnetId", &i.subnet)
            )]
        ),
        tag_set(&i.tags)
    )
}

fn eni_xml(a: &Account, id: &str) -> String {
    let Some(e) = a.enis.get(id) else {
        return String::new();
    };
    let s = a.subnets.get(&e.subnet);
    let att = e
        .attached_to
        .as_ref()
        .map(|i| {
            wrap(
                "attachment",
                &format!("{}{}", el("instanceId", i), el("status", "attached")),
            )
        })
        .unwrap_or_default();
    format!(
        "{}{}{}{}{}{}{}{att}{}",
        el("networkInterfaceId", id),
        el("subnetId", &e.subnet),
        opt("vpcId", s.map(|s| s.vpc.as_str())),
        opt("availabilityZone", s.map(|s| s.az.as_str())),
        el("description", &e.description),
        el("ownerId", &a.account_id),
        el(
            "status",
            if e.attached_to.is_some() {
                "in-use"
            } else {
                "available"
            }
        ),
        tag_set(&e.tags)
    )
}

fn acl_xml(a: &Account, id: &str, acl: &Acl) -> String {
    let assocs = acl.associations.iter().map(|(aid, sub)| {
        format!(
            "{}{}{}",
            el("networkAclAssociationId", aid),
            el("networkAclId", id),
            el("subnetId", sub)
        )
    });
    // Every ACL ends with the implicit deny-all rules; the default ACL also allows all.
    let mut entries = Vec::new();
    for egress in ["true", "false"] {
        if acl.default {
            entries.push(format!(
                "{}{}{}{}{}",
                el("ruleNumber", "100"),
                el("protocol", "-1"),
                el("ruleAction", "allow"),
                el("egress", egress),
                el("cidrBlock", "0.0.0.0/0")
            ));
        }
        entries.push(format!(
            "{}{}{}{}{}",
            el("ruleNumber", "32767"),
            el("protocol", "-1"),
            el("ruleAction", "deny"),
            el("egress", egress),
            el("cidrBlock", "0.0.0.0/0")
        ));
    }
    format!(
        "{}{}{}{}{}{}{}",
        el("networkAclId", id),
        el("vpcId", &acl.vpc),
        el("default", if acl.default { "true" } else { "false" }),
        el("ownerId", &a.account_id),
        items("entrySet", entries),
        items("associationSet", assocs),
        tag_set(&acl.tags)
    )
}

/// Tags of a resource, for tests.
pub fn tags_of(a: &mut Account, id: &str) -> Option<Tags> {
    a.ec2_tags_mut(id).map(|t| t.clone())
}
