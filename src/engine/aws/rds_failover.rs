//! `rds_failover`: Aurora / Multi-AZ DB clusters via `FailoverDBCluster` (optionally to a chosen
//! reader), Multi-AZ DB instances via `RebootDBInstance` with `ForceFailover`. The resource is
//! tagged with the experiment and the writer before the failover. Revert waits until it is
//! `available` again, reports the writer after and the time taken, and fails back to the
//! original writer when asked.

use super::client::{AwsError, Clients, classify};
use super::records::{AwsMark, TAG_EXPERIMENT, TAG_EXPIRES_AT, TAG_FAIL_BACK, TAG_ORIGINAL_WRITER};
use super::{AwsBackend, apply_err, arn_account, labels, plan_err, plan_of, revert_err};
use crate::domain::fault::RdsFailover;
use crate::domain::target::{DbClusterTarget, DbInstanceTarget};
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::engine::{EngineError, RevertOutcome};
use crate::safety::journal::UndoRecord;
use std::collections::BTreeMap;
use tokio::time::Instant;

/// A cluster as ChaosDuck needs it.
#[derive(Clone, Debug)]
pub struct ClusterInfo {
    /// Identifier.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Status (`available`, `failing-over`, ...).
    pub status: String,
    /// The writer, if any.
    pub writer: Option<String>,
    /// Member instance ids.
    pub members: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

fn rds_tags(t: &[aws_sdk_rds::types::Tag]) -> BTreeMap<String, String> {
    t.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Describes one cluster; `None` when it does not exist.
pub async fn describe_cluster(c: &Clients, id: &str) -> Result<Option<ClusterInfo>, AwsError> {
    let r = match c
        .rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return match classify("rds:DescribeDBClusters", e) {
                e if e.is_not_found() => Ok(None),
                e => Err(e),
            };
        }
    };
    Ok(r.db_clusters()
        .iter()
        .find(|d| d.db_cluster_identifier() == Some(id))
        .map(|d| ClusterInfo {
            id: id.to_string(),
            arn: d.db_cluster_arn().unwrap_or_default().to_string(),
            status: d.status().unwrap_or_default().to_string(),
            writer: d
                .db_cluster_members()
                .iter()
                .find(|m| m.is_cluster_writer() == Some(true))
                .and_then(|m| m.db_instance_identifier())
                .map(str::to_string),
            members: d
                .db_cluster_members()
                .iter()
                .filter_map(|m| m.db_instance_identifier().map(str::to_string))
                .collect(),
            tags: rds_tags(d.tag_list()),
        }))
}

/// An instance as ChaosDuck needs it.
#[derive(Clone, Debug)]
pub struct DbInstanceInfo {
    /// ARN.
    pub arn: String,
    /// Status.
    pub status: String,
    /// Multi-AZ.
    pub multi_az: bool,
    /// Its zone.
    pub zone: Option<String>,
    /// The cluster it belongs to, if any.
    pub cluster: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// Describes one DB instance; `None` when it does not exist.
pub async fn describe_instance(c: &Clients, id: &str) -> Result<Option<DbInstanceInfo>, AwsError> {
    let r = match c
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return match classify("rds:DescribeDBInstances", e) {
                e if e.is_not_found() => Ok(None),
                e => Err(e),
            };
        }
    };
    Ok(r.db_instances()
        .iter()
        .find(|d| d.db_instance_identifier() == Some(id))
        .map(|d| DbInstanceInfo {
            arn: d.db_instance_arn().unwrap_or_default().to_string(),
            status: d.db_instance_status().unwrap_or_default().to_string(),
            multi_az: d.multi_az().unwrap_or(false),
            zone: d.availability_zone().map(str::to_string),
            cluster: d.db_cluster_identifier().map(str::to_string),
            tags: rds_tags(d.tag_list()),
        }))
}

/// Plans a cluster failover.
pub async fn plan_cluster(
    b: &AwsBackend,
    p: &RdsFailover,
    t: &DbClusterTarget,
    mark: &AwsMark,
) -> Result<Plan, EngineError> {
    let c = b
        .clients()
        .get(t.region.as_deref())
        .await
        .map_err(plan_err)?;
    let Some(cl) = describe_cluster(&c, &t.id).await.map_err(plan_err)? else {
        return Err(plan_err(format!(
            "DB cluster {} not found in {}; check target.dbCluster.id and the region",
            t.id, c.region
        )));
    };
    if cl.status != "available" {
        return Err(plan_err(format!(
            "DB cluster {} is {}, not available; wait for it before failing it over",
            t.id, cl.status
        )));
    }
    let Some(writer) = cl.writer.clone() else {
        return Err(plan_err(format!(
            "DB cluster {} has no writer instance",
            t.id
        )));
    };
    if cl.members.len() < 2 {
        return Err(plan_err(format!(
            "DB cluster {} has no reader to fail over to; add a reader instance first",
            t.id
        )));
    }
    if let Some(ti) = &p.target_instance
        && (ti == &writer || !cl.members.contains(ti))
    {
        return Err(plan_err(format!(
            "targetInstance {ti} is not a reader of {} (readers: {})",
            t.id,
            cl.members
                .iter()
                .filter(|m| **m != writer)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(e) = cl.tags.get(TAG_EXPERIMENT) {
        return Err(plan_err(format!(
            "DB cluster {} still carries {TAG_EXPERIMENT}={e}; run `chaosduck recover --sweep` first",
            t.id
        )));
    }
    let target = TargetRef {
        kind: "db-cluster".into(),
        name: t.id.clone(),
        labels: labels(cl.tags.clone(), &c.region, arn_account(&cl.arn)),
    };
    let step = PlannedStep {
        target: target.clone(),
        action: Action::AwsFailoverDbCluster {
            region: c.region.clone(),
            cluster: t.id.clone(),
            arn: cl.arn.clone(),
            target_instance: p.target_instance.clone(),
            original_writer: writer.clone(),
            fail_back: p.fail_back,
            mark: mark.clone(),
        },
        undo: UndoRecord::AwsSettleDbCluster {
            region: c.region.clone(),
            cluster: t.id.clone(),
            original_writer: writer.clone(),
            fail_back: p.fail_back,
            experiment: mark.experiment.clone(),
        },
        summary: format!(
            "rds:AddTagsToResource then rds:FailoverDBCluster {} (writer {writer} -> {}) ({})",
            t.id,
            p.target_instance.as_deref().unwrap_or("a reader RDS picks"),
            c.region
        ),
    };
    Ok(plan_of(
        1,
        1,
        vec![target],
        vec![step],
        vec![format!("members: {}", cl.members.join(", "))],
    ))
}

/// Plans a Multi-AZ instance failover.
pub async fn plan_instance(
    b: &AwsBackend,
    p: &RdsFailover,
    t: &DbInstanceTarget,
    mark: &AwsMark,
) -> Result<Plan, EngineError> {
    if p.target_instance.is_some() || p.fail_back {
        return Err(plan_err(
            "targetInstance and failBack apply to DB clusters only; a Multi-AZ instance fails over to its standby",
        ));
    }
    let c = b
        .clients()
        .get(t.region.as_deref())
        .await
        .map_err(plan_err)?;
    let Some(inst) = describe_instance(&c, &t.id).await.map_err(plan_err)? else {
        return Err(plan_err(format!(
            "DB instance {} not found in {}; check target.dbInstance.id and the region",
            t.id, c.region
        )));
    };
    if let Some(cl) = &inst.cluster {
        return Err(plan_err(format!(
            "DB instance {} belongs to cluster {cl}; target the cluster with dbCluster instead",
            t.id
        )));
    }
    if !inst.multi_az {
        return Err(plan_err(format!(
            "DB instance {} is not Multi-AZ: a forced failover would only reboot it; choose a Multi-AZ instance",
            t.id
        )));
    }
    if inst.status != "available" {
        return Err(plan_err(format!(
            "DB instance {} is {}, not available; wait for it first",
            t.id, inst.status
        )));
    }
    let target = TargetRef {
        kind: "db-instance".into(),
        name: t.id.clone(),
        labels: labels(inst.tags.clone(), &c.region, arn_account(&inst.arn)),
    };
    let step = PlannedStep {
        target: target.clone(),
        action: Action::AwsRebootDbInstanceFailover {
            region: c.region.clone(),
            instance: t.id.clone(),
            arn: inst.arn.clone(),
            mark: mark.clone(),
        },
        undo: UndoRecord::AwsSettleDbInstance {
            region: c.region.clone(),
            instance: t.id.clone(),
            experiment: mark.experiment.clone(),
        },
        summary: format!(
            "rds:AddTagsToResource then rds:RebootDBInstance --force-failover {} (primary in {}) ({})",
            t.id,
            inst.zone.as_deref().unwrap_or("?"),
            c.region
        ),
    };
    Ok(plan_of(1, 1, vec![target], vec![step], vec![]))
}

fn tag(k: &str, v: &str) -> aws_sdk_rds::types::Tag {
    aws_sdk_rds::types::Tag::builder().key(k).value(v).build()
}

async fn add_tags(
    c: &Clients,
    arn: &str,
    tags: Vec<aws_sdk_rds::types::Tag>,
) -> Result<(), AwsError> {
    c.rds
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| classify("rds:AddTagsToResource", e))?;
    Ok(())
}

/// Removes the ChaosDuck tags from an RDS resource.
pub async fn untag(c: &Clients, arn: &str) -> Result<(), AwsError> {
    c.rds
        .remove_tags_from_resource()
        .resource_name(arn)
        .tag_keys(TAG_EXPERIMENT)
        .tag_keys(TAG_EXPIRES_AT)
        .tag_keys(TAG_ORIGINAL_WRITER)
        .tag_keys(TAG_FAIL_BACK)
        .send()
        .await
        .map_err(|e| classify("rds:RemoveTagsFromResource", e))?;
    Ok(())
}

/// Tags and fails over.
pub async fn apply(b: &AwsBackend, action: &Action) -> Result<(), EngineError> {
    match action {
        Action::AwsFailoverDbCluster {
            region,
            cluster,
            arn,
            target_instance,
            original_writer,
            fail_back,
            mark,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(apply_err)?;
            add_tags(
                &c,
                arn,
                vec![
                    tag(TAG_EXPERIMENT, &mark.experiment),
                    tag(TAG_EXPIRES_AT, &mark.expires_at),
                    tag(TAG_ORIGINAL_WRITER, original_writer),
                    tag(TAG_FAIL_BACK, if *fail_back { "true" } else { "false" }),
                ],
            )
            .await
            .map_err(apply_err)?;
            c.rds
                .failover_db_cluster()
                .db_cluster_identifier(cluster)
                .set_target_db_instance_identifier(target_instance.clone())
                .send()
                .await
                .map_err(|e| apply_err(classify("rds:FailoverDBCluster", e)))?;
            Ok(())
        }
        Action::AwsRebootDbInstanceFailover {
            region,
            instance,
            arn,
            mark,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(apply_err)?;
            add_tags(
                &c,
                arn,
                vec![
                    tag(TAG_EXPERIMENT, &mark.experiment),
                    tag(TAG_EXPIRES_AT, &mark.expires_at),
                ],
            )
            .await
            .map_err(apply_err)?;
            c.rds
                .reboot_db_instance()
                .db_instance_identifier(instance)
                .force_failover(true)
                .send()
                .await
                .map_err(|e| apply_err(classify("rds:RebootDBInstance", e)))?;
            Ok(())
        }
        _ => Err(apply_err("rds_failover got a foreign action")),
    }
}

/// Waits for the cluster to be available, fails back if asked; returns a note. Shared with
/// the sweep.
pub async fn settle_cluster(
    b: &AwsBackend,
    c: &Clients,
    cluster: &str,
    original_writer: &str,
    fail_back: bool,
    experiment: Option<&str>,
) -> Result<String, AwsError> {
    let start = Instant::now();
    let missing = || AwsError::NotFound {
        op: "rds:DescribeDBClusters".into(),
        code: "DBClusterNotFoundFault".into(),
        message: format!("DB cluster {cluster} no longer exists; nothing to settle"),
    };
    let available = || async {
        let cl = describe_cluster(c, cluster).await?.ok_or_else(missing)?;
        Ok((cl.status == "available").then_some(cl))
    };
    let cl = b
        .waits()
        .until(&format!("{cluster} to be available"), available)
        .await?;
    let ours = match experiment {
        Some(e) => cl.tags.get(TAG_EXPERIMENT).map(String::as_str) == Some(e),
        None => cl.tags.contains_key(TAG_EXPERIMENT),
    };
    let after = cl.writer.clone().unwrap_or_else(|| "none".into());
    let mut note = format!(
        "{cluster} available {:.1}s after the revert began; writer {original_writer} -> {after}",
        start.elapsed().as_secs_f64()
    );
    if !ours {
        return Ok(format!(
            "{cluster} was never failed over by this run (writer {after})"
        ));
    }
    if fail_back && cl.writer.as_deref() != Some(original_writer) {
        if !cl.members.iter().any(|m| m == original_writer) {
            return Err(AwsError::NotFound {
                op: "rds:FailoverDBCluster".into(),
                code: "DBInstanceNotFound".into(),
                message: format!(
                    "cannot fail back: {original_writer} is no longer a member of {cluster}"
                ),
            });
        }
        c.rds
            .failover_db_cluster()
            .db_cluster_identifier(cluster)
            .target_db_instance_identifier(original_writer)
            .send()
            .await
            .map_err(|e| classify("rds:FailoverDBCluster", e))?;
        b.waits()
            .until(
                &format!("{cluster} to fail back to {original_writer}"),
                || async {
                    let cl = describe_cluster(c, cluster).await?.ok_or_else(missing)?;
                    Ok(
                        (cl.status == "available" && cl.writer.as_deref() == Some(original_writer))
                            .then_some(()),
                    )
                },
            )
            .await?;
        note.push_str(&format!(
            "; failed back to {original_writer} after {:.1}s",
            start.elapsed().as_secs_f64()
        ));
    }
    untag(c, &cl.arn).await?;
    Ok(note)
}

/// Waits for the instance to be available; returns a note. Shared with the sweep.
pub async fn settle_instance(
    b: &AwsBackend,
    c: &Clients,
    instance: &str,
) -> Result<String, AwsError> {
    let start = Instant::now();
    let inst = b
        .waits()
        .until(&format!("{instance} to be available"), || async {
            let i = describe_instance(c, instance)
                .await?
                .ok_or_else(|| AwsError::NotFound {
                    op: "rds:DescribeDBInstances".into(),
                    code: "DBInstanceNotFound".into(),
                    message: format!("DB instance {instance} no longer exists"),
                })?;
            Ok((i.status == "available").then_some(i))
        })
        .await?;
    if inst.tags.contains_key(TAG_EXPERIMENT) {
        untag(c, &inst.arn).await?;
    }
    Ok(format!(
        "{instance} available {:.1}s after the revert began (primary in {})",
        start.elapsed().as_secs_f64(),
        inst.zone.as_deref().unwrap_or("?")
    ))
}

/// Reverts a failover.
pub async fn revert(b: &AwsBackend, undo: &UndoRecord) -> Result<RevertOutcome, EngineError> {
    match undo {
        UndoRecord::AwsSettleDbCluster {
            region,
            cluster,
            original_writer,
            fail_back,
            experiment,
        } => {
            let c = b.clients().get(Some(region)).await.map_err(revert_err)?;
            let note = settle_cluster(
                b,
                &c,
                cluster,
                original_writer,
                *fail_back,
                Some(experiment),
            )
            .await
            .map_err(revert_err)?;
            Ok(RevertOutcome { note: Some(note) })
        }
        UndoRecord::AwsSettleDbInstance {
            region, instance, ..
        } => {
            let c = b.clients().get(Some(region)).await.map_err(revert_err)?;
            let note = settle_instance(b, &c, instance).await.map_err(revert_err)?;
            Ok(RevertOutcome { note: Some(note) })
        }
        _ => Err(revert_err("rds_failover got a foreign undo record")),
    }
}
