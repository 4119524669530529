//! `route_blackhole`: sends a route table's traffic for one destination into a real blackhole.
//! AWS has no "blackhole route" call; a route whose target is an unattached network interface
//! is one. ChaosDuck creates that interface (tagged with the experiment, the route table, the
//! destination and the original target), tags the route table with the original target, and
//! points the route at the interface (or creates the route when none existed). Revert restores
//! the original target of any kind exactly, or deletes the route it created, then deletes the
//! interface.

use super::client::{AwsError, Clients, classify};
use super::records::{
    AwsMark, NO_ROUTE, RouteTargetSpec, TAG_DESTINATION, TAG_EXPERIMENT, TAG_EXPIRES_AT,
    TAG_ORIGINAL_ROUTE_PREFIX, TAG_ORIGINAL_TARGET, TAG_ROUTE_TABLE, encode_original,
};
use super::{
    AwsBackend, apply_err, ec2_filter, ec2_mark_tags, ec2_tag, ec2_tag_key, ec2_tag_map, labels,
    plan_err, plan_of, revert_err,
};
use crate::domain::target::RouteTarget;
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::engine::{EngineError, RevertOutcome};
use crate::safety::journal::UndoRecord;
use aws_sdk_ec2::types::{ResourceType, Route, RouteTable, TagSpecification};

/// What a described route points at; `None` for a route without a target ChaosDuck knows.
pub fn target_of(r: &Route) -> Option<RouteTargetSpec> {
    let s = |o: Option<&str>| o.filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(v) = s(r.nat_gateway_id()) {
        return Some(RouteTargetSpec::NatGateway(v));
    }
    if let Some(v) = s(r.transit_gateway_id()) {
        return Some(RouteTargetSpec::TransitGateway(v));
    }
    if let Some(v) = s(r.vpc_peering_connection_id()) {
        return Some(RouteTargetSpec::VpcPeering(v));
    }
    if let Some(v) = s(r.egress_only_internet_gateway_id()) {
        return Some(RouteTargetSpec::EgressOnlyGateway(v));
    }
    if let Some(v) = s(r.local_gateway_id()) {
        return Some(RouteTargetSpec::LocalGateway(v));
    }
    if let Some(v) = s(r.carrier_gateway_id()) {
        return Some(RouteTargetSpec::CarrierGateway(v));
    }
    if let Some(v) = s(r.core_network_arn()) {
        return Some(RouteTargetSpec::CoreNetwork(v));
    }
    if let Some(v) = s(r.gateway_id()) {
        // Gateway Load Balancer endpoints are described as gateways but replaced by endpoint id.
        return Some(if v.starts_with("vpce-") {
            RouteTargetSpec::VpcEndpoint(v)
        } else {
            RouteTargetSpec::Gateway(v)
        });
    }
    // An instance route also names its interface; the interface is the exact target.
    if let Some(v) = s(r.network_interface_id()) {
        return Some(RouteTargetSpec::NetworkInterface(v));
    }
    s(r.instance_id()).map(RouteTargetSpec::Instance)
}

/// The route table, or `None` when it does not exist.
pub async fn describe_table(c: &Clients, id: &str) -> Result<Option<RouteTable>, AwsError> {
    match c
        .ec2
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
    {
        Ok(r) => Ok(r
            .route_tables()
            .iter()
            .find(|t| t.route_table_id() == Some(id))
            .cloned()),
        Err(e) => match classify("ec2:DescribeRouteTables", e) {
            e if e.is_not_found() => Ok(None),
            e => Err(e),
        },
    }
}

/// The route for `cidr` in `table`.
pub fn route_for<'a>(table: &'a RouteTable, cidr: &str) -> Option<&'a Route> {
    table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(cidr))
}

/// The experiment's blackhole interfaces for one route.
pub async fn find_interfaces(
    c: &Clients,
    experiment: &str,
    route_table: &str,
    cidr: &str,
) -> Result<Vec<String>, AwsError> {
    let r = c
        .ec2
        .describe_network_interfaces()
        .filters(ec2_filter(&format!("tag:{TAG_EXPERIMENT}"), &[experiment]))
        .filters(ec2_filter(
            &format!("tag:{TAG_ROUTE_TABLE}"),
            &[route_table],
        ))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNetworkInterfaces", e))?;
    // Check the tags again: an endpoint that ignores filters must not make us delete others.
    Ok(r.network_interfaces()
        .iter()
        .filter(|n| {
            let t = ec2_tag_map(n.tag_set());
            t.get(TAG_EXPERIMENT).map(String::as_str) == Some(experiment)
                && t.get(TAG_ROUTE_TABLE).map(String::as_str) == Some(route_table)
                && t.get(TAG_DESTINATION).map(String::as_str) == Some(cidr)
        })
        .filter_map(|n| n.network_interface_id().map(str::to_string))
        .collect())
}

macro_rules! with_target {
    ($req:expr, $spec:expr) => {{
        let req = $req;
        match $spec {
            RouteTargetSpec::Gateway(v) => req.gateway_id(v),
            RouteTargetSpec::NatGateway(v) => req.nat_gateway_id(v),
            RouteTargetSpec::TransitGateway(v) => req.transit_gateway_id(v),
            RouteTargetSpec::VpcPeering(v) => req.vpc_peering_connection_id(v),
            RouteTargetSpec::NetworkInterface(v) => req.network_interface_id(v),
            RouteTargetSpec::Instance(v) => req.instance_id(v),
            RouteTargetSpec::EgressOnlyGateway(v) => req.egress_only_internet_gateway_id(v),
            RouteTargetSpec::VpcEndpoint(v) => req.vpc_endpoint_id(v),
            RouteTargetSpec::LocalGateway(v) => req.local_gateway_id(v),
            RouteTargetSpec::CarrierGateway(v) => req.carrier_gateway_id(v),
            RouteTargetSpec::CoreNetwork(v) => req.core_network_arn(v),
        }
    }};
}

/// `ReplaceRoute` to `spec`.
pub async fn replace_route(
    c: &Clients,
    table: &str,
    cidr: &str,
    spec: &RouteTargetSpec,
) -> Result<(), AwsError> {
    let req = c
        .ec2
        .replace_route()
        .route_table_id(table)
        .destination_cidr_block(cidr);
    with_target!(req, spec)
        .send()
        .await
        .map_err(|e| classify("ec2:ReplaceRoute", e))?;
    Ok(())
}

/// `CreateRoute` to `spec`.
pub async fn create_route(
    c: &Clients,
    table: &str,
    cidr: &str,
    spec: &RouteTargetSpec,
) -> Result<(), AwsError> {
    let req = c
        .ec2
        .create_route()
        .route_table_id(table)
        .destination_cidr_block(cidr);
    with_target!(req, spec)
        .send()
        .await
        .map_err(|e| classify("ec2:CreateRoute", e))?;
    Ok(())
}

/// `DeleteRoute`; a route already gone is fine.
pub async fn delete_route(c: &Clients, table: &str, cidr: &str) -> Result<(), AwsError> {
    match c
        .ec2
        .delete_route()
        .route_table_id(table)
        .destination_cidr_block(cidr)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match classify("ec2:DeleteRoute", e) {
            e if e.is_not_found() => Ok(()),
            e => Err(e),
        },
    }
}

/// The route-table tag for a destination.
pub fn original_route_tag(cidr: &str) -> String {
    format!("{TAG_ORIGINAL_ROUTE_PREFIX}{cidr}")
}

/// Plans the blackhole of one route.
pub async fn plan(b: &AwsBackend, t: &RouteTarget, mark: &AwsMark) -> Result<Plan, EngineError> {
    let cidr = t.destination_cidr.trim();
    if cidr.contains(':') || cidr.split('/').count() != 2 {
        return Err(plan_err(format!(
            "destinationCidr {cidr:?} is not an IPv4 CIDR such as 0.0.0.0/0 (IPv6 routes are not supported yet)"
        )));
    }
    let c = b
        .clients()
        .get(t.region.as_deref())
        .await
        .map_err(plan_err)?;
    let Some(table) = describe_table(&c, &t.route_table).await.map_err(plan_err)? else {
        return Err(plan_err(format!(
            "route table {} not found in {}; check target.route.routeTable and the region",
            t.route_table, c.region
        )));
    };
    let tags = ec2_tag_map(table.tags());
    if let Some(prev) = tags.get(&original_route_tag(cidr)) {
        return Err(plan_err(format!(
            "{} {cidr} is already blackholed by experiment {} (original {prev}); run `chaosduck recover` or `chaosduck recover --sweep` first",
            t.route_table,
            tags.get(TAG_EXPERIMENT).map_or("?", String::as_str)
        )));
    }
    let mut notes = Vec::new();
    let route = route_for(&table, cidr);
    let original = match route {
        None => {
            notes.push(format!(
                "{} has no route for {cidr}: ChaosDuck creates one to the blackhole and deletes it on revert",
                t.route_table
            ));
            None
        }
        Some(r) if r.gateway_id() == Some("local") => {
            return Err(plan_err(format!(
                "{cidr} is the VPC's local route in {}; it cannot be blackholed, choose another destination",
                t.route_table
            )));
        }
        Some(r) => match target_of(r) {
            Some(o) => {
                if r.state().map(|s| s.as_str()) == Some("blackhole") {
                    notes.push(format!("the route to {o} is already a blackhole"));
                }
                Some(o)
            }
            None => {
                return Err(plan_err(format!(
                    "the route {cidr} in {} has a target ChaosDuck cannot restore exactly (a prefix list or an unknown kind); choose another route",
                    t.route_table
                )));
            }
        },
    };
    let vpc = table.vpc_id().unwrap_or_default().to_string();
    let subnets = c
        .ec2
        .describe_subnets()
        .filters(ec2_filter("vpc-id", &[&vpc]))
        .send()
        .await
        .map_err(|e| plan_err(classify("ec2:DescribeSubnets", e)))?;
    let mut subnet_ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    subnet_ids.sort();
    let Some(subnet) = subnet_ids.into_iter().next() else {
        return Err(plan_err(format!(
            "VPC {vpc} of {} has no subnet to hold the blackhole network interface; add one",
            t.route_table
        )));
    };
    let name = format!("{}/{cidr}", t.route_table);
    let target = TargetRef {
        kind: "route".into(),
        name: name.clone(),
        labels: labels(tags, &c.region, table.owner_id()),
    };
    let was = original
        .as_ref()
        .map_or_else(|| "no route".to_string(), |o| o.to_string());
    let steps = vec![
        PlannedStep {
            target: target.clone(),
            action: Action::AwsCreateBlackholeInterface {
                region: c.region.clone(),
                subnet_id: subnet.clone(),
                route_table: t.route_table.clone(),
                destination_cidr: cidr.to_string(),
                original: original.clone(),
                mark: mark.clone(),
            },
            undo: UndoRecord::AwsDeleteBlackholeInterface {
                region: c.region.clone(),
                route_table: t.route_table.clone(),
                destination_cidr: cidr.to_string(),
                experiment: mark.experiment.clone(),
            },
            summary: format!(
                "ec2:CreateNetworkInterface in {subnet} (unattached, tagged with the experiment and the original target {was}) ({})",
                c.region
            ),
        },
        PlannedStep {
            target: target.clone(),
            action: Action::AwsBlackholeRoute {
                region: c.region.clone(),
                route_table: t.route_table.clone(),
                destination_cidr: cidr.to_string(),
                original: original.clone(),
                mark: mark.clone(),
            },
            undo: UndoRecord::AwsRestoreRoute {
                region: c.region.clone(),
                route_table: t.route_table.clone(),
                destination_cidr: cidr.to_string(),
                original: original.clone(),
                experiment: mark.experiment.clone(),
            },
            summary: format!(
                "ec2:CreateTags on {} then ec2:{} {name} -> the blackhole interface (was {was}) ({})",
                t.route_table,
                if original.is_some() {
                    "ReplaceRoute"
                } else {
                    "CreateRoute"
                },
                c.region
            ),
        },
    ];
    Ok(plan_of(1, 1, vec![target], steps, notes))
}

/// Creates the interface or points the route at it.
pub async fn apply(b: &AwsBackend, action: &Action) -> Result<(), EngineError> {
    match action {
        Action::AwsCreateBlackholeInterface {
            region,
            subnet_id,
            route_table,
            destination_cidr,
            original,
            mark,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(apply_err)?;
            let existing = find_interfaces(&c, &mark.experiment, route_table, destination_cidr)
                .await
                .map_err(apply_err)?;
            if !existing.is_empty() {
                return Ok(());
            }
            let mut tags = ec2_mark_tags(mark);
            tags.push(ec2_tag(TAG_ROUTE_TABLE, route_table));
            tags.push(ec2_tag(TAG_DESTINATION, destination_cidr));
            tags.push(ec2_tag(TAG_ORIGINAL_TARGET, &encode_original(original)));
            tags.push(ec2_tag(
                "Name",
                &format!("chaosduck-blackhole {route_table} {destination_cidr}"),
            ));
            c.ec2
                .create_network_interface()
                .subnet_id(subnet_id)
                .description(format!(
                    "ChaosDuck blackhole for {route_table} {destination_cidr} (experiment {}); delete after restoring the route",
                    mark.experiment
                ))
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::NetworkInterface)
                        .set_tags(Some(tags))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| apply_err(classify("ec2:CreateNetworkInterface", e)))?;
            Ok(())
        }
        Action::AwsBlackholeRoute {
            region,
            route_table,
            destination_cidr,
            original,
            mark,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(apply_err)?;
            let enis = find_interfaces(&c, &mark.experiment, route_table, destination_cidr)
                .await
                .map_err(apply_err)?;
            let Some(eni) = enis.into_iter().next() else {
                return Err(apply_err(format!(
                    "the blackhole interface for {route_table} {destination_cidr} is missing; nothing was changed on the route"
                )));
            };
            let mut tags = ec2_mark_tags(mark);
            tags.push(ec2_tag(
                &original_route_tag(destination_cidr),
                &encode_original(original),
            ));
            c.ec2
                .create_tags()
                .resources(route_table)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| apply_err(classify("ec2:CreateTags", e)))?;
            let spec = RouteTargetSpec::NetworkInterface(eni);
            let r = if original.is_some() {
                match replace_route(&c, route_table, destination_cidr, &spec).await {
                    // The route vanished since the plan: create it (revert restores the original).
                    Err(e)
                        if e.is_not_found() && e.code() != Some("InvalidRouteTableID.NotFound") =>
                    {
                        create_route(&c, route_table, destination_cidr, &spec).await
                    }
                    r => r,
                }
            } else {
                match create_route(&c, route_table, destination_cidr, &spec).await {
                    Err(e) if e.code() == Some("RouteAlreadyExists") => {
                        replace_route(&c, route_table, destination_cidr, &spec).await
                    }
                    r => r,
                }
            };
            r.map_err(apply_err)
        }
        _ => Err(apply_err("route_blackhole got a foreign action")),
    }
}

/// Removes the route table's ChaosDuck tags for `cidr` (and the experiment tags when no other
/// blackholed destination remains).
async fn untag_table(c: &Clients, table: &RouteTable, cidr: &str) -> Result<(), AwsError> {
    let Some(id) = table.route_table_id() else {
        return Ok(());
    };
    let tags = ec2_tag_map(table.tags());
    let key = original_route_tag(cidr);
    let others = tags
        .keys()
        .any(|k| k.starts_with(TAG_ORIGINAL_ROUTE_PREFIX) && *k != key);
    let mut req = c.ec2.delete_tags().resources(id).tags(ec2_tag_key(&key));
    if !others {
        req = req
            .tags(ec2_tag_key(TAG_EXPERIMENT))
            .tags(ec2_tag_key(TAG_EXPIRES_AT));
    }
    req.send()
        .await
        .map_err(|e| classify("ec2:DeleteTags", e))?;
    Ok(())
}

/// Restores one route to `original` if it points at a blackhole of `experiment`; verifies.
/// Shared with the sweep, which reads `original` from tags.
pub async fn restore_route(
    c: &Clients,
    route_table: &str,
    cidr: &str,
    original: &Option<RouteTargetSpec>,
    experiment: &str,
) -> Result<String, AwsError> {
    let Some(table) = describe_table(c, route_table).await? else {
        return Err(AwsError::NotFound {
            op: "ec2:DescribeRouteTables".into(),
            code: "InvalidRouteTableID.NotFound".into(),
            message: format!(
                "route table {route_table} no longer exists, so its route {cidr} cannot be restored to {}; the undo stays in the journal — check the VPC by hand",
                original
                    .as_ref()
                    .map_or("(no route)".into(), |o| o.to_string())
            ),
        });
    };
    let tags = ec2_tag_map(table.tags());
    let ours = find_interfaces(c, experiment, route_table, cidr).await?;
    let marked = tags.get(TAG_EXPERIMENT).map(String::as_str) == Some(experiment)
        && tags.contains_key(&original_route_tag(cidr));
    let current = route_for(&table, cidr).and_then(target_of);
    let is_ours = |t: &RouteTargetSpec| match t {
        RouteTargetSpec::NetworkInterface(e) => ours.contains(e) || marked,
        _ => false,
    };
    let note = match (original, &current) {
        (Some(o), Some(cur)) if cur == o => format!("{route_table} {cidr} points at {o}"),
        (Some(o), Some(cur)) if is_ours(cur) => {
            replace_route(c, route_table, cidr, o).await?;
            format!("{route_table} {cidr} restored to {o}")
        }
        (Some(o), None) if marked || !ours.is_empty() => {
            create_route(c, route_table, cidr, o).await?;
            format!("{route_table} {cidr} recreated to {o}")
        }
        (Some(o), None) => {
            format!("{route_table} {cidr} was never changed (no route; expected {o})")
        }
        (Some(o), Some(cur)) => {
            return Err(AwsError::Api {
                op: "restore route".into(),
                code: "RouteChangedElsewhere".into(),
                message: format!(
                    "{route_table} {cidr} now points at {cur}, which ChaosDuck did not set; left alone — point it back at {o} by hand if needed"
                ),
            });
        }
        (None, Some(cur)) if is_ours(cur) => {
            delete_route(c, route_table, cidr).await?;
            format!("{route_table} {cidr} deleted (ChaosDuck had created it)")
        }
        (None, _) => format!("{route_table} {cidr}: no ChaosDuck route"),
    };
    // Verify.
    let after = describe_table(c, route_table)
        .await?
        .ok_or_else(|| AwsError::NotFound {
            op: "ec2:DescribeRouteTables".into(),
            code: "InvalidRouteTableID.NotFound".into(),
            message: format!("{route_table} vanished during the restore"),
        })?;
    let now = route_for(&after, cidr).and_then(target_of);
    let ok = match original {
        Some(o) => now.as_ref() == Some(o) || (now.is_none() && !marked && ours.is_empty()),
        None => now.as_ref().is_none_or(|t| !is_ours(t)),
    };
    if !ok {
        return Err(AwsError::Api {
            op: "verify route".into(),
            code: "RouteNotRestored".into(),
            message: format!(
                "{route_table} {cidr} points at {} after the restore, expected {}",
                now.map_or("nothing".into(), |t| t.to_string()),
                original.as_ref().map_or(NO_ROUTE.into(), |o| o.to_string())
            ),
        });
    }
    if marked {
        untag_table(c, &after, cidr).await?;
    }
    Ok(note)
}

/// Deletes the blackhole interfaces of one route once the route no longer uses them.
pub async fn delete_interfaces(
    c: &Clients,
    enis: &[String],
    route_table: &str,
    cidr: &str,
) -> Result<String, AwsError> {
    if enis.is_empty() {
        return Ok("no blackhole interface left".into());
    }
    if let Some(table) = describe_table(c, route_table).await?
        && let Some(RouteTargetSpec::NetworkInterface(e)) =
            route_for(&table, cidr).and_then(target_of)
        && enis.contains(&e)
    {
        return Err(AwsError::Api {
            op: "ec2:DeleteNetworkInterface".into(),
            code: "StillRouted".into(),
            message: format!(
                "{route_table} {cidr} still points at blackhole interface {e}; restore the route first (`chaosduck recover`)"
            ),
        });
    }
    for e in enis {
        match c
            .ec2
            .delete_network_interface()
            .network_interface_id(e)
            .send()
            .await
        {
            Ok(_) => {}
            Err(err) => match classify("ec2:DeleteNetworkInterface", err) {
                err if err.is_not_found() => {}
                err => return Err(err),
            },
        }
    }
    Ok(format!("deleted blackhole interface {}", enis.join(", ")))
}

/// Reverts one step of the blackhole.
pub async fn revert(b: &AwsBackend, undo: &UndoRecord) -> Result<RevertOutcome, EngineError> {
    match undo {
        UndoRecord::AwsRestoreRoute {
            region,
            route_table,
            destination_cidr,
            original,
            experiment,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(revert_err)?;
            let note = restore_route(&c, route_table, destination_cidr, original, experiment)
                .await
                .map_err(revert_err)?;
            Ok(RevertOutcome { note: Some(note) })
        }
        UndoRecord::AwsDeleteBlackholeInterface {
            region,
            route_table,
            destination_cidr,
            experiment,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(revert_err)?;
            let enis = find_interfaces(&c, experiment, route_table, destination_cidr)
                .await
                .map_err(revert_err)?;
            let note = delete_interfaces(&c, &enis, route_table, destination_cidr)
                .await
                .map_err(revert_err)?;
            let left = find_interfaces(&c, experiment, route_table, destination_cidr)
                .await
                .map_err(revert_err)?;
            if !left.is_empty() {
                return Err(revert_err(format!(
                    "blackhole interface {} still exists after deletion",
                    left.join(", ")
                )));
            }
            Ok(RevertOutcome { note: Some(note) })
        }
        _ => Err(revert_err("route_blackhole got a foreign undo record")),
    }
}
