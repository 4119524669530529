//! RDS query API of the sandbox account.

use super::query::{ApiError, Params, bad, list, not_found, req, tags};
use super::state::{Account, Cluster, DbInstance};
use super::xml::{el, opt, tag_list, wrap};
use std::time::Instant;

fn cluster_missing(id: &str) -> ApiError {
    not_found(
        "DBClusterNotFoundFault",
        format!("DBCluster {id} not found."),
    )
}

fn instance_missing(id: &str) -> ApiError {
    not_found("DBInstanceNotFound", format!("DBInstance {id} not found."))
}

fn cluster_xml(a: &Account, id: &str, c: &Cluster) -> String {
    let members: String = c
        .members
        .iter()
        .map(|(m, w)| {
            wrap(
                "DBClusterMember",
                &format!(
                    "{}{}",
                    el("DBInstanceIdentifier", m),
                    el("IsClusterWriter", if *w { "true" } else { "false" })
                ),
            )
        })
        .collect();
    wrap(
        "DBCluster",
        &format!(
            "{}{}{}{}{}{}{}",
            el("DBClusterIdentifier", id),
            el("DBClusterArn", &a.rds_arn("cluster", id)),
            el("Status", &c.status),
            el("Engine", &c.engine),
            el(
                "MultiAZ",
                if c.members.len() > 1 { "true" } else { "false" }
            ),
            wrap("DBClusterMembers", &members),
            tag_list(&c.tags)
        ),
    )
}

fn instance_xml(a: &Account, id: &str, d: &DbInstance) -> String {
    wrap(
        "DBInstance",
        &format!(
            "{}{}{}{}{}{}{}{}{}{}",
            el("DBInstanceIdentifier", id),
            el("DBInstanceArn", &a.rds_arn("db", id)),
            el("DBInstanceStatus", &d.status),
            el("Engine", &d.engine),
            el("DBInstanceClass", &d.class),
            el("MultiAZ", if d.multi_az { "true" } else { "false" }),
            el("AvailabilityZone", &d.az),
            opt("SecondaryAvailabilityZone", d.secondary_az.as_deref()),
            opt("DBClusterIdentifier", d.cluster.as_deref()),
            tag_list(&d.tags)
        ),
    )
}

/// Handles one RDS action; returns the inner XML of its `...Result` element.
pub fn handle(a: &mut Account, action: &str, p: &Params) -> Result<String, ApiError> {
    match action {
        "DescribeDBClusters" => {
            let want = p.get("DBClusterIdentifier");
            if let Some(id) = want
                && !a.clusters.contains_key(id)
            {
                return Err(cluster_missing(id));
            }
            let inner: String = a
                .clusters
                .iter()
                .filter(|(id, _)| want.is_none_or(|w| w == *id))
                .map(|(id, c)| cluster_xml(a, id, c))
                .collect();
            Ok(wrap("DBClusters", &inner))
        }
        "DescribeDBInstances" => {
            let want = p.get("DBInstanceIdentifier");
            if let Some(id) = want
                && !a.db_instances.contains_key(id)
            {
                return Err(instance_missing(id));
            }
            let inner: String = a
                .db_instances
                .iter()
                .filter(|(id, _)| want.is_none_or(|w| w == *id))
                .map(|(id, d)| instance_xml(a, id, d))
                .collect();
            Ok(wrap("DBInstances", &inner))
        }
        "CreateDBCluster" => {
            let id = req(p, "DBClusterIdentifier")?.to_string();
            if a.clusters.contains_key(&id) {
                return Err(bad(
                    "DBClusterAlreadyExistsFault",
                    format!("DB Cluster {id} already exists"),
                ));
            }
            let c = Cluster {
                engine: req(p, "Engine")?.to_string(),
                members: vec![],
                status: "available".into(),
                failover: None,
                tags: tags(p, "Tags.Tag"),
            };
            let x = cluster_xml(a, &id, &c);
            a.clusters.insert(id, c);
            Ok(x)
        }
        "CreateDBInstance" => {
            let id = req(p, "DBInstanceIdentifier")?.to_string();
            if a.db_instances.contains_key(&id) {
                return Err(bad(
                    "DBInstanceAlreadyExists",
                    format!("DB instance {id} already exists"),
                ));
            }
            let cluster = p.get("DBClusterIdentifier").cloned();
            let zones = ["a", "b", "c"];
            let n = a.db_instances.len();
            let az = format!("{}{}", a.region, zones[n % 3]);
            let multi_az = p.get("MultiAZ").is_some_and(|v| v == "true");
            let d = DbInstance {
                cluster: cluster.clone(),
                engine: req(p, "Engine")?.to_string(),
                class: req(p, "DBInstanceClass")?.to_string(),
                multi_az,
                az,
                secondary_az: multi_az.then(|| format!("{}{}", a.region, zones[(n + 1) % 3])),
                status: "available".into(),
                reboot: None,
                tags: tags(p, "Tags.Tag"),
            };
            if let Some(c) = &cluster {
                let Some(cl) = a.clusters.get_mut(c) else {
                    return Err(cluster_missing(c));
                };
                let writer = cl.members.is_empty();
                cl.members.push((id.clone(), writer));
            }
            let x = instance_xml(a, &id, &d);
            a.db_instances.insert(id, d);
            Ok(x)
        }
        "FailoverDBCluster" => {
            let id = req(p, "DBClusterIdentifier")?.to_string();
            let delay = a.transition;
            let Some(c) = a.clusters.get_mut(&id) else {
                return Err(cluster_missing(&id));
            };
            if c.status != "available" {
                return Err(bad(
                    "InvalidDBClusterStateFault",
                    format!("DB cluster {id} is {}; failover needs available", c.status),
                ));
            }
            let readers: Vec<String> = c
                .members
                .iter()
                .filter(|m| !m.1)
                .map(|m| m.0.clone())
                .collect();
            let to = match p.get("TargetDBInstanceIdentifier") {
                Some(t) if readers.contains(t) => t.clone(),
                Some(t) => {
                    return Err(bad(
                        "InvalidParameterValue",
                        format!("{t} is not a reader of DB cluster {id}"),
                    ));
                }
                None => readers.first().cloned().ok_or_else(|| {
                    bad(
                        "InvalidDBClusterStateFault",
                        format!("DB cluster {id} has no reader"),
                    )
                })?,
            };
            if delay.is_zero() {
                for m in &mut c.members {
                    m.1 = m.0 == to;
                }
            } else {
                c.status = "failing-over".into();
                c.failover = Some((Instant::now() + delay, to));
            }
            let c = c.clone();
            Ok(cluster_xml(a, &id, &c))
        }
        "RebootDBInstance" => {
            let id = req(p, "DBInstanceIdentifier")?.to_string();
            let force = p.get("ForceFailover").is_some_and(|v| v == "true");
            let delay = a.transition;
            let Some(d) = a.db_instances.get_mut(&id) else {
                return Err(instance_missing(&id));
            };
            if force && !d.multi_az {
                return Err(bad(
                    "InvalidParameterCombination",
                    "ForceFailover applies only to Multi-AZ DB instances",
                ));
            }
            if d.status != "available" {
                return Err(bad(
                    "InvalidDBInstanceState",
                    format!("DB instance {id} is {}", d.status),
                ));
            }
            d.status = "rebooting".into();
            d.reboot = Some((Instant::now() + delay, force));
            let d = d.clone();
            Ok(instance_xml(a, &id, &d))
        }
        "AddTagsToResource" | "RemoveTagsFromResource" => {
            let arn = req(p, "ResourceName")?.to_string();
            let id = arn.rsplit(':').next().unwrap_or_default().to_string();
            let is_cluster = arn.contains(":cluster:");
            let t = if is_cluster {
                a.clusters
                    .get_mut(&id)
                    .map(|c| &mut c.tags)
                    .ok_or_else(|| cluster_missing(&id))?
            } else {
                a.db_instances
                    .get_mut(&id)
                    .map(|d| &mut d.tags)
                    .ok_or_else(|| instance_missing(&id))?
            };
            if action == "AddTagsToResource" {
                t.extend(tags(p, "Tags.Tag"));
            } else {
                for k in list(p, "TagKeys.member") {
                    t.remove(&k);
                }
            }
            Ok(String::new())
        }
        _ => Err(bad(
            "InvalidAction",
            format!(
                "The action {action} is not valid for this web service (the ChaosDuck sandbox implements the calls ChaosDuck uses)"
            ),
        )),
    }
}
