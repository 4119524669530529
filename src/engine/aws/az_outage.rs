//! `az_outage`: cuts one availability zone of a VPC off the network. ChaosDuck creates a
//! deny-all network ACL (a new custom ACL has only the implicit deny rules), tags each subnet of
//! the zone with its current ACL, and swaps the subnet's association to the deny-all ACL.
//! Revert restores each subnet's original association, then deletes the ACL.

use super::client::{AwsError, Clients, classify};
use super::records::{
    AwsMark, TAG_EXPERIMENT, TAG_EXPIRES_AT, TAG_ORIGINAL_ACL, TAG_VPC, TAG_ZONE,
};
use super::{
    AwsBackend, apply_err, ec2_filter, ec2_mark_tags, ec2_tag, ec2_tag_key, ec2_tag_map, labels,
    plan_err, plan_of, revert_err,
};
use crate::domain::target::AzTarget;
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::engine::{EngineError, RevertOutcome};
use crate::safety::journal::UndoRecord;
use aws_sdk_ec2::types::{ResourceType, TagSpecification};
use std::collections::BTreeMap;

/// A subnet's current ACL association.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclAssociation {
    /// The association id (changes on every replace).
    pub association_id: String,
    /// The ACL.
    pub acl_id: String,
    /// The ACL's tags.
    pub acl_tags: BTreeMap<String, String>,
}

/// The ACL association of `subnet`, or `None` when the subnet has none (it does not exist).
pub async fn association_of(c: &Clients, subnet: &str) -> Result<Option<AclAssociation>, AwsError> {
    let r = c
        .ec2
        .describe_network_acls()
        .filters(ec2_filter("association.subnet-id", &[subnet]))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNetworkAcls", e))?;
    for acl in r.network_acls() {
        for a in acl.associations() {
            if a.subnet_id() == Some(subnet)
                && let (Some(assoc), Some(id)) =
                    (a.network_acl_association_id(), acl.network_acl_id())
            {
                return Ok(Some(AclAssociation {
                    association_id: assoc.to_string(),
                    acl_id: id.to_string(),
                    acl_tags: ec2_tag_map(acl.tags()),
                }));
            }
        }
    }
    Ok(None)
}

/// The experiment's deny-all ACLs for a zone, with the subnets still associated to each.
pub async fn find_acls(
    c: &Clients,
    experiment: &str,
    vpc: &str,
    zone: &str,
) -> Result<Vec<(String, Vec<String>)>, AwsError> {
    let r = c
        .ec2
        .describe_network_acls()
        .filters(ec2_filter(&format!("tag:{TAG_EXPERIMENT}"), &[experiment]))
        .filters(ec2_filter("vpc-id", &[vpc]))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNetworkAcls", e))?;
    Ok(r.network_acls()
        .iter()
        .filter(|a| {
            let t = ec2_tag_map(a.tags());
            t.get(TAG_EXPERIMENT).map(String::as_str) == Some(experiment)
                && t.get(TAG_ZONE).map(String::as_str) == Some(zone)
                && a.vpc_id() == Some(vpc)
        })
        .filter_map(|a| {
            let subnets = a
                .associations()
                .iter()
                .filter_map(|s| s.subnet_id().map(str::to_string))
                .collect();
            Some((a.network_acl_id()?.to_string(), subnets))
        })
        .collect())
}

/// Plans the outage of one zone.
pub async fn plan(b: &AwsBackend, t: &AzTarget, mark: &AwsMark) -> Result<Plan, EngineError> {
    let c = b
        .clients()
        .get(t.region.as_deref())
        .await
        .map_err(plan_err)?;
    let r = c
        .ec2
        .describe_subnets()
        .filters(ec2_filter("vpc-id", &[&t.vpc]))
        .send()
        .await
        .map_err(|e| plan_err(classify("ec2:DescribeSubnets", e)))?;
    let all = r.subnets();
    if all.is_empty() {
        return Err(plan_err(format!(
            "VPC {} has no subnets in {} (or does not exist); check target.availabilityZone.vpc and the region",
            t.vpc, c.region
        )));
    }
    let mut in_zone: Vec<_> = all
        .iter()
        .filter(|s| {
            s.availability_zone() == Some(t.zone.as_str())
                || s.availability_zone_id() == Some(t.zone.as_str())
        })
        .collect();
    in_zone.sort_by_key(|s| s.subnet_id().unwrap_or_default().to_string());
    let zones: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|s| s.availability_zone()).collect();
    if in_zone.is_empty() {
        return Err(plan_err(format!(
            "VPC {} has no subnet in zone {}; its zones are {}",
            t.vpc,
            t.zone,
            zones.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut targets = Vec::new();
    let mut steps = vec![];
    let mut swaps = vec![];
    for s in &in_zone {
        let Some(id) = s.subnet_id() else { continue };
        let Some(assoc) = association_of(&c, id).await.map_err(plan_err)? else {
            return Err(plan_err(format!(
                "subnet {id} has no network ACL association; AWS always has one, so the endpoint is inconsistent"
            )));
        };
        if let Some(exp) = assoc.acl_tags.get(TAG_EXPERIMENT) {
            return Err(plan_err(format!(
                "subnet {id} is already cut off by experiment {exp}; run `chaosduck recover` or `chaosduck recover --sweep` first"
            )));
        }
        let target = TargetRef {
            kind: "subnet".into(),
            name: id.to_string(),
            labels: labels(ec2_tag_map(s.tags()), &c.region, s.owner_id()),
        };
        swaps.push(PlannedStep {
            target: target.clone(),
            action: Action::AwsSwapSubnetAcl {
                region: c.region.clone(),
                vpc: t.vpc.clone(),
                zone: t.zone.clone(),
                subnet_id: id.to_string(),
                original_acl: assoc.acl_id.clone(),
                mark: mark.clone(),
            },
            undo: UndoRecord::AwsRestoreSubnetAcl {
                region: c.region.clone(),
                subnet_id: id.to_string(),
                original_acl: assoc.acl_id.clone(),
                experiment: mark.experiment.clone(),
            },
            summary: format!(
                "ec2:CreateTags {TAG_ORIGINAL_ACL}={} on {id}, ec2:ReplaceNetworkAclAssociation {id} -> the deny-all ACL ({})",
                assoc.acl_id, c.region
            ),
        });
        targets.push(target);
    }
    let Some(first) = targets.first().cloned() else {
        return Err(plan_err("no subnet of the zone has an id"));
    };
    steps.push(PlannedStep {
        target: TargetRef {
            kind: "vpc".into(),
            name: t.vpc.clone(),
            labels: first.labels.clone(),
        },
        action: Action::AwsCreateDenyAllAcl {
            region: c.region.clone(),
            vpc: t.vpc.clone(),
            zone: t.zone.clone(),
            mark: mark.clone(),
        },
        undo: UndoRecord::AwsDeleteDenyAllAcl {
            region: c.region.clone(),
            vpc: t.vpc.clone(),
            zone: t.zone.clone(),
            experiment: mark.experiment.clone(),
        },
        summary: format!(
            "ec2:CreateNetworkAcl in {} (deny all, tagged with the experiment and zone {}) ({})",
            t.vpc, t.zone, c.region
        ),
    });
    steps.extend(swaps);
    let notes = vec![format!(
        "{} of {} subnets of {} are in {}",
        targets.len(),
        all.len(),
        t.vpc,
        t.zone
    )];
    Ok(plan_of(all.len(), targets.len(), targets, steps, notes))
}

/// Creates the deny-all ACL or swaps one subnet onto it.
pub async fn apply(b: &AwsBackend, action: &Action) -> Result<(), EngineError> {
    match action {
        Action::AwsCreateDenyAllAcl {
            region,
            vpc,
            zone,
            mark,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(apply_err)?;
            if !find_acls(&c, &mark.experiment, vpc, zone)
                .await
                .map_err(apply_err)?
                .is_empty()
            {
                return Ok(());
            }
            let mut tags = ec2_mark_tags(mark);
            tags.push(ec2_tag(TAG_VPC, vpc));
            tags.push(ec2_tag(TAG_ZONE, zone));
            tags.push(ec2_tag("Name", &format!("chaosduck-deny-all {zone}")));
            c.ec2
                .create_network_acl()
                .vpc_id(vpc)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::NetworkAcl)
                        .set_tags(Some(tags))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| apply_err(classify("ec2:CreateNetworkAcl", e)))?;
            Ok(())
        }
        Action::AwsSwapSubnetAcl {
            region,
            vpc,
            zone,
            subnet_id,
            original_acl,
            mark,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(apply_err)?;
            let acls = find_acls(&c, &mark.experiment, vpc, zone)
                .await
                .map_err(apply_err)?;
            let Some((deny, _)) = acls.into_iter().next() else {
                return Err(apply_err(format!(
                    "the deny-all ACL for {zone} in {vpc} is missing; {subnet_id} was not changed"
                )));
            };
            let Some(assoc) = association_of(&c, subnet_id).await.map_err(apply_err)? else {
                return Err(apply_err(format!(
                    "subnet {subnet_id} has no ACL association (was it deleted?)"
                )));
            };
            if assoc.acl_id == deny {
                return Ok(());
            }
            let mut tags = ec2_mark_tags(mark);
            tags.push(ec2_tag(TAG_ORIGINAL_ACL, original_acl));
            c.ec2
                .create_tags()
                .resources(subnet_id)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| apply_err(classify("ec2:CreateTags", e)))?;
            c.ec2
                .replace_network_acl_association()
                .association_id(&assoc.association_id)
                .network_acl_id(&deny)
                .send()
                .await
                .map_err(|e| apply_err(classify("ec2:ReplaceNetworkAclAssociation", e)))?;
            Ok(())
        }
        _ => Err(apply_err("az_outage got a foreign action")),
    }
}

/// Associates `subnet` with `original_acl` again if it sits on a ChaosDuck ACL; verifies and
/// removes the subnet's tags. Shared with the sweep.
pub async fn restore_subnet(
    c: &Clients,
    subnet: &str,
    original_acl: &str,
    experiment: Option<&str>,
) -> Result<String, AwsError> {
    let Some(assoc) = association_of(c, subnet).await? else {
        return Err(AwsError::NotFound {
            op: "ec2:DescribeNetworkAcls".into(),
            code: "InvalidSubnetID.NotFound".into(),
            message: format!(
                "subnet {subnet} has no ACL association (deleted?), so {original_acl} cannot be restored; the undo stays in the journal"
            ),
        });
    };
    let on_ours = match experiment {
        Some(e) => assoc.acl_tags.get(TAG_EXPERIMENT).map(String::as_str) == Some(e),
        None => assoc.acl_tags.contains_key(TAG_EXPERIMENT),
    };
    let note = if assoc.acl_id == original_acl {
        format!("{subnet} is on {original_acl}")
    } else if on_ours {
        c.ec2
            .replace_network_acl_association()
            .association_id(&assoc.association_id)
            .network_acl_id(original_acl)
            .send()
            .await
            .map_err(|e| classify("ec2:ReplaceNetworkAclAssociation", e))?;
        let after = association_of(c, subnet).await?;
        if after.as_ref().map(|a| a.acl_id.as_str()) != Some(original_acl) {
            return Err(AwsError::Api {
                op: "verify ACL".into(),
                code: "AclNotRestored".into(),
                message: format!(
                    "{subnet} is on {} after the restore, expected {original_acl}",
                    after.map_or("nothing".into(), |a| a.acl_id)
                ),
            });
        }
        format!("{subnet} back on {original_acl}")
    } else {
        return Err(AwsError::Api {
            op: "restore ACL".into(),
            code: "AclChangedElsewhere".into(),
            message: format!(
                "{subnet} is now on {}, which ChaosDuck did not set; left alone — associate it with {original_acl} by hand if needed",
                assoc.acl_id
            ),
        });
    };
    c.ec2
        .delete_tags()
        .resources(subnet)
        .tags(ec2_tag_key(TAG_ORIGINAL_ACL))
        .tags(ec2_tag_key(TAG_EXPERIMENT))
        .tags(ec2_tag_key(TAG_EXPIRES_AT))
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteTags", e))?;
    Ok(note)
}

/// Deletes a ChaosDuck ACL once no subnet uses it.
pub async fn delete_acl(c: &Clients, acl: &str, subnets: &[String]) -> Result<(), AwsError> {
    if !subnets.is_empty() {
        return Err(AwsError::Api {
            op: "ec2:DeleteNetworkAcl".into(),
            code: "StillAssociated".into(),
            message: format!(
                "deny-all ACL {acl} is still associated with {}; restore them first (`chaosduck recover`)",
                subnets.join(", ")
            ),
        });
    }
    match c.ec2.delete_network_acl().network_acl_id(acl).send().await {
        Ok(_) => Ok(()),
        Err(e) => match classify("ec2:DeleteNetworkAcl", e) {
            e if e.is_not_found() => Ok(()),
            e => Err(e),
        },
    }
}

/// Reverts one step of the outage.
pub async fn revert(b: &AwsBackend, undo: &UndoRecord) -> Result<RevertOutcome, EngineError> {
    match undo {
        UndoRecord::AwsRestoreSubnetAcl {
            region,
            subnet_id,
            original_acl,
            experiment,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(revert_err)?;
            let note = restore_subnet(&c, subnet_id, original_acl, Some(experiment))
                .await
                .map_err(revert_err)?;
            Ok(RevertOutcome { note: Some(note) })
        }
        UndoRecord::AwsDeleteDenyAllAcl {
            region,
            vpc,
            zone,
            experiment,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(revert_err)?;
            let acls = find_acls(&c, experiment, vpc, zone)
                .await
                .map_err(revert_err)?;
            let mut deleted = Vec::new();
            for (acl, subnets) in &acls {
                delete_acl(&c, acl, subnets).await.map_err(revert_err)?;
                deleted.push(acl.clone());
            }
            if !find_acls(&c, experiment, vpc, zone)
                .await
                .map_err(revert_err)?
                .is_empty()
            {
                return Err(revert_err(format!(
                    "the deny-all ACL for {zone} in {vpc} still exists after deletion"
                )));
            }
            Ok(RevertOutcome {
                note: Some(if deleted.is_empty() {
                    "no deny-all ACL left".into()
                } else {
                    format!("deleted deny-all ACL {}", deleted.join(", "))
                }),
            })
        }
        _ => Err(revert_err("az_outage got a foreign undo record")),
    }
}
