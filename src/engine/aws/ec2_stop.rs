//! `ec2_stop`: stop instances chosen by id or tags. The instance is tagged with the experiment
//! and its prior state before the stop, so the revert (and a sweep) only starts what ChaosDuck
//! stopped. Revert waits for `stopped` (EC2 rejects a start while `stopping`), starts, waits for
//! `running` and reports the time to running.

use super::client::{AwsError, Clients, classify};
use super::records::{AwsMark, TAG_EXPERIMENT, TAG_EXPIRES_AT, TAG_PRIOR_STATE};
use super::{
    AwsBackend, apply_err, ec2_filter, ec2_mark_tags, ec2_tag, ec2_tag_key, ec2_tag_map, labels,
    plan_err, plan_of, revert_err,
};
use crate::domain::fault::Ec2Stop;
use crate::domain::target::InstanceTarget;
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::engine::{EngineError, RevertOutcome};
use crate::safety::journal::UndoRecord;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use tokio::time::Instant;

/// The tag AWS puts on Auto Scaling group members.
const ASG_TAG: &str = "aws:autoscaling:groupName";
/// Most describe pages read (bounded loops).
const MAX_PAGES: usize = 100;

/// One instance as ChaosDuck needs it.
#[derive(Clone, Debug)]
pub struct InstanceInfo {
    /// Instance id.
    pub id: String,
    /// State name (`running`, `stopped`, ...).
    pub state: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The owning account.
    pub owner: Option<String>,
}

/// Describes instances (all pages), by ids and/or tag filters; terminated ones are left out.
pub async fn describe(
    c: &Clients,
    ids: &[String],
    tags: &BTreeMap<String, String>,
) -> Result<Vec<InstanceInfo>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut req = c.ec2.describe_instances().set_next_token(token.clone());
        for id in ids {
            req = req.instance_ids(id);
        }
        for (k, v) in tags {
            req = req.filters(ec2_filter(&format!("tag:{k}"), &[v]));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| classify("ec2:DescribeInstances", e))?;
        for r in resp.reservations() {
            for i in r.instances() {
                let Some(id) = i.instance_id() else { continue };
                let state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default();
                if state == "terminated" {
                    continue;
                }
                out.push(InstanceInfo {
                    id: id.to_string(),
                    state,
                    tags: ec2_tag_map(i.tags()),
                    owner: r.owner_id().map(str::to_string),
                });
            }
        }
        token = resp
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

async fn describe_one(c: &Clients, id: &str) -> Result<Option<InstanceInfo>, AwsError> {
    match describe(c, &[id.to_string()], &BTreeMap::new()).await {
        Ok(v) => Ok(v.into_iter().find(|i| i.id == id)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Plans the stop of the chosen running instances.
pub async fn plan(
    b: &AwsBackend,
    p: &Ec2Stop,
    t: &InstanceTarget,
    mark: &AwsMark,
) -> Result<Plan, EngineError> {
    if t.ids.is_empty() && t.tags.is_empty() {
        return Err(plan_err(
            "the instances target names no ids and no tags, which would select every instance; add one",
        ));
    }
    let c = b
        .clients()
        .get(t.region.as_deref())
        .await
        .map_err(plan_err)?;
    let all = describe(&c, &t.ids, &t.tags).await.map_err(plan_err)?;
    let mut notes = Vec::new();
    for id in &t.ids {
        if !all.iter().any(|i| &i.id == id) {
            notes.push(format!(
                "instance {id} not found in {} (or terminated)",
                c.region
            ));
        }
    }
    let in_asg: Vec<String> = all
        .iter()
        .filter_map(|i| i.tags.get(ASG_TAG).map(|g| format!("{} (group {g})", i.id)))
        .collect();
    if !in_asg.is_empty() && !p.allow_auto_scaling {
        return Err(plan_err(format!(
            "{} belong to an Auto Scaling group, which would replace them instead of letting them come back; set fault.allowAutoScaling: true or choose other instances",
            in_asg.join(", ")
        )));
    }
    let mut running: Vec<&InstanceInfo> = all.iter().filter(|i| i.state == "running").collect();
    for i in all.iter().filter(|i| i.state != "running") {
        notes.push(format!("{} is {}, not running: left out", i.id, i.state));
    }
    if let Some(other) = running.iter().find_map(|i| {
        i.tags
            .get(TAG_EXPERIMENT)
            .map(|e| (i.id.clone(), e.clone()))
    }) {
        return Err(plan_err(format!(
            "{} still carries {TAG_EXPERIMENT}={} from an earlier run; run `chaosduck recover --sweep` first",
            other.0, other.1
        )));
    }
    let matched = running.len();
    // A shuffle keyed by the experiment id: random across runs, stable within one plan.
    running.sort_by_key(|i| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&mark.experiment, &i.id).hash(&mut h);
        h.finish()
    });
    if let Some(n) = t.count {
        running.truncate(n.of(matched));
    }
    running.sort_by(|a, b| a.id.cmp(&b.id));
    let mut targets = Vec::new();
    let mut steps = Vec::new();
    for i in running {
        let target = TargetRef {
            kind: "instance".into(),
            name: i.id.clone(),
            labels: labels(i.tags.clone(), &c.region, i.owner.as_deref()),
        };
        steps.push(PlannedStep {
            target: target.clone(),
            action: Action::AwsStopInstance {
                region: c.region.clone(),
                instance_id: i.id.clone(),
                force: p.force,
                mark: mark.clone(),
            },
            undo: UndoRecord::AwsStartInstance {
                region: c.region.clone(),
                instance_id: i.id.clone(),
                experiment: mark.experiment.clone(),
            },
            summary: format!(
                "ec2:CreateTags {TAG_EXPERIMENT},{TAG_PRIOR_STATE}=running then ec2:StopInstances{} {} ({})",
                if p.force { " --force" } else { "" },
                i.id,
                c.region
            ),
        });
        targets.push(target);
    }
    Ok(plan_of(all.len(), matched, targets, steps, notes))
}

/// Tags and stops one instance.
pub async fn apply(b: &AwsBackend, action: &Action) -> Result<(), EngineError> {
    let Action::AwsStopInstance {
        region,
        instance_id,
        force,
        mark,
    } = action
    else {
        return Err(apply_err("ec2_stop got a foreign action"));
    };
    let c = b.clients().get(Some(region)).await.map_err(apply_err)?;
    let mut tags = ec2_mark_tags(mark);
    tags.push(ec2_tag(TAG_PRIOR_STATE, "running"));
    c.ec2
        .create_tags()
        .resources(instance_id)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| apply_err(classify("ec2:CreateTags", e)))?;
    c.ec2
        .stop_instances()
        .instance_ids(instance_id)
        .force(*force)
        .send()
        .await
        .map_err(|e| apply_err(classify("ec2:StopInstances", e)))?;
    Ok(())
}

/// Removes the ChaosDuck tags from an instance.
pub async fn untag(c: &Clients, instance_id: &str) -> Result<(), AwsError> {
    c.ec2
        .delete_tags()
        .resources(instance_id)
        .tags(ec2_tag_key(TAG_EXPERIMENT))
        .tags(ec2_tag_key(TAG_EXPIRES_AT))
        .tags(ec2_tag_key(TAG_PRIOR_STATE))
        .send()
        .await
        .map_err(|e| classify("ec2:DeleteTags", e))?;
    Ok(())
}

/// Brings a stopped instance back to `running`; returns the time it took.
pub async fn restart(b: &AwsBackend, c: &Clients, id: &str) -> Result<String, AwsError> {
    let start = Instant::now();
    let waits = b.waits();
    // EC2 rejects StartInstances while the instance is still stopping.
    let state = waits
        .until(&format!("{id} to leave stopping"), || async {
            let s = describe_one(c, id).await?.map(|i| i.state);
            Ok(match s.as_deref() {
                Some("stopping") | Some("shutting-down") => None,
                _ => Some(s),
            })
        })
        .await?;
    match state.as_deref() {
        None | Some("terminated") => {
            return Ok(format!("{id} is gone (terminated): nothing to start"));
        }
        Some("stopped") => {
            // A concurrent state change makes EC2 answer IncorrectInstanceState: retry briefly.
            waits
                .until(&format!("StartInstances {id}"), || async {
                    match c.ec2.start_instances().instance_ids(id).send().await {
                        Ok(_) => Ok(Some(())),
                        Err(e) => match classify("ec2:StartInstances", e) {
                            AwsError::InvalidState { .. } => Ok(None),
                            other => Err(other),
                        },
                    }
                })
                .await?;
        }
        _ => {}
    }
    waits
        .until(&format!("{id} to be running"), || async {
            let s = describe_one(c, id).await?.map(|i| i.state);
            Ok(match s.as_deref() {
                Some("running") => Some(()),
                None | Some("terminated") => {
                    return Err(AwsError::NotFound {
                        op: "ec2:DescribeInstances".into(),
                        code: "InvalidInstanceID.NotFound".into(),
                        message: format!("{id} vanished while starting"),
                    });
                }
                _ => None,
            })
        })
        .await?;
    Ok(format!(
        "{id} running again after {:.1}s",
        start.elapsed().as_secs_f64()
    ))
}

/// Starts the instance if (and only if) this experiment stopped it; verifies `running`.
pub async fn revert(b: &AwsBackend, undo: &UndoRecord) -> Result<RevertOutcome, EngineError> {
    let UndoRecord::AwsStartInstance {
        region,
        instance_id,
        experiment,
    } = undo
    else {
        return Err(revert_err("ec2_stop got a foreign undo record"));
    };
    let c = b.clients().get(Some(region)).await.map_err(revert_err)?;
    let Some(info) = describe_one(&c, instance_id).await.map_err(revert_err)? else {
        return Ok(RevertOutcome {
            note: Some(format!("{instance_id} no longer exists: nothing to start")),
        });
    };
    if info.tags.get(TAG_EXPERIMENT) != Some(experiment) {
        // The tag is written before the stop: without it, the stop never happened.
        return Ok(RevertOutcome {
            note: Some(format!(
                "{instance_id} was never stopped by this run ({})",
                info.state
            )),
        });
    }
    let note = restart(b, &c, instance_id).await.map_err(revert_err)?;
    untag(&c, instance_id).await.map_err(revert_err)?;
    Ok(RevertOutcome { note: Some(note) })
}
