//! The AWS fault engine: `ec2_stop`, `rds_failover`, `route_blackhole` and `az_outage`, one file
//! each, over the real SDK clients. Everything ChaosDuck creates or changes carries
//! `chaosduck:*` tags (see [`records`]) so [`sweep`] can restore it with the journal lost.

pub mod az_outage;
pub mod client;
pub mod ec2_stop;
pub mod rds_failover;
pub mod records;
pub mod route_blackhole;
pub mod sweep;

use super::plan::{Plan, PlannedStep, TargetRef};
use super::{EngineError, FaultBackend, PlanContext, RevertOutcome};
use crate::domain::{ExperimentDoc, FaultKind, FaultSpec, Target};
use crate::safety::journal::UndoRecord;
use async_trait::async_trait;
use client::{AwsClients, AwsError, AwsSettings};
use records::AwsMark;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Label carrying the region of an AWS target (the `aws:` prefix is reserved by AWS, so no real
/// tag can collide with it). Read by the `allowed-regions` guardrail.
pub const LABEL_REGION: &str = "aws:region";
/// Label carrying the account id of an AWS target. Read by the `allowed-accounts` guardrail.
pub const LABEL_ACCOUNT: &str = "aws:account";

/// How long and how often to wait for AWS state changes.
#[derive(Clone, Debug)]
pub struct WaitPolicy {
    /// Give up (the undo stays in the journal) after this long.
    pub timeout: Duration,
    /// First poll interval; doubles up to `max_interval`.
    pub first_interval: Duration,
    /// Longest poll interval.
    pub max_interval: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        WaitPolicy {
            timeout: Duration::from_secs(15 * 60),
            first_interval: Duration::from_millis(250),
            max_interval: Duration::from_secs(5),
        }
    }
}

impl WaitPolicy {
    /// The default, with `CHAOSDUCK_AWS_WAIT_TIMEOUT` (e.g. `2m`) applied when set.
    pub fn from_env() -> Self {
        let mut w = WaitPolicy::default();
        if let Some(t) = std::env::var("CHAOSDUCK_AWS_WAIT_TIMEOUT")
            .ok()
            .and_then(|s| humantime::parse_duration(&s).ok())
        {
            w.timeout = t;
        }
        w
    }

    /// Polls `check` until it yields a value, with backoff, bounded by `timeout`. Throttling and
    /// unreachable endpoints are retried; other errors end the wait.
    pub async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, AwsError>>,
    {
        let start = Instant::now();
        let mut interval = self.first_interval;
        let mut last_err: Option<AwsError> = None;
        loop {
            match check().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e @ (AwsError::Throttled { .. } | AwsError::Unreachable { .. })) => {
                    last_err = Some(e)
                }
                Err(e) => return Err(e),
            }
            if start.elapsed() + interval > self.timeout {
                return Err(AwsError::Api {
                    op: format!("waiting for {what}"),
                    code: "WaitTimeout".into(),
                    message: format!(
                        "not reached within {}{}; run `chaosduck recover` later to finish",
                        humantime::format_duration(self.timeout),
                        last_err
                            .map(|e| format!(" (last error: {e})"))
                            .unwrap_or_default()
                    ),
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(self.max_interval);
        }
    }
}

/// The AWS backend.
pub struct AwsBackend {
    clients: AwsClients,
    waits: WaitPolicy,
}

impl AwsBackend {
    /// A backend for these settings; nothing is contacted until the first plan or revert.
    pub fn new(settings: AwsSettings) -> Self {
        AwsBackend {
            clients: AwsClients::new(settings),
            waits: WaitPolicy::from_env(),
        }
    }

    /// Overrides the wait policy (tests, the sandbox).
    pub fn with_waits(mut self, waits: WaitPolicy) -> Self {
        self.waits = waits;
        self
    }

    /// The clients.
    pub fn clients(&self) -> &AwsClients {
        &self.clients
    }

    /// The wait policy.
    pub fn waits(&self) -> &WaitPolicy {
        &self.waits
    }
}

/// The tags written on every artefact of an experiment: id and expiry (the run's hard limit).
pub(crate) fn mark_for(doc: &ExperimentDoc, ctx: &PlanContext) -> AwsMark {
    let expires = SystemTime::now() + doc.spec.effective_timeout();
    AwsMark {
        experiment: ctx.experiment_id.clone(),
        expires_at: humantime::format_rfc3339_seconds(expires).to_string(),
    }
}

/// Whether an `expires-at` tag value lies in the past (unparsable values count as expired).
pub(crate) fn expired(value: Option<&String>) -> bool {
    match value.and_then(|v| humantime::parse_rfc3339_weak(v).ok()) {
        Some(t) => t <= SystemTime::now(),
        None => true,
    }
}

/// An EC2 tag.
pub(crate) fn ec2_tag(k: &str, v: &str) -> aws_sdk_ec2::types::Tag {
    aws_sdk_ec2::types::Tag::builder().key(k).value(v).build()
}

/// A tag key to delete (any value).
pub(crate) fn ec2_tag_key(k: &str) -> aws_sdk_ec2::types::Tag {
    aws_sdk_ec2::types::Tag::builder().key(k).build()
}

/// The experiment tags.
pub(crate) fn ec2_mark_tags(mark: &AwsMark) -> Vec<aws_sdk_ec2::types::Tag> {
    vec![
        ec2_tag(records::TAG_EXPERIMENT, &mark.experiment),
        ec2_tag(records::TAG_EXPIRES_AT, &mark.expires_at),
    ]
}

/// EC2 tags as a map.
pub(crate) fn ec2_tag_map(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// An EC2 describe filter.
pub(crate) fn ec2_filter(name: &str, values: &[&str]) -> aws_sdk_ec2::types::Filter {
    let mut b = aws_sdk_ec2::types::Filter::builder().name(name);
    for v in values {
        b = b.values(*v);
    }
    b.build()
}

/// Target labels: the resource's tags plus region and account.
pub(crate) fn labels(
    mut tags: BTreeMap<String, String>,
    region: &str,
    account: Option<&str>,
) -> BTreeMap<String, String> {
    tags.insert(LABEL_REGION.into(), region.into());
    if let Some(a) = account.filter(|a| !a.is_empty()) {
        tags.insert(LABEL_ACCOUNT.into(), a.into());
    }
    tags
}

/// The account id inside an ARN (`arn:aws:rds:REGION:ACCOUNT:...`).
pub(crate) fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// A plan-time failure.
pub(crate) fn plan_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Plan(e.to_string())
}

/// An apply-time failure.
pub(crate) fn apply_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Apply(e.to_string())
}

/// A revert-time failure.
pub(crate) fn revert_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Revert(e.to_string())
}

/// A plan with the engine's name filled in.
pub(crate) fn plan_of(
    eligible: usize,
    matched: usize,
    targets: Vec<TargetRef>,
    steps: Vec<PlannedStep>,
    notes: Vec<String>,
) -> Plan {
    Plan {
        engine: "aws".into(),
        namespace: None,
        eligible,
        matched,
        targets,
        steps,
        notes,
    }
}

#[async_trait]
impl FaultBackend for AwsBackend {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn handles(&self, kind: FaultKind) -> bool {
        matches!(
            kind,
            FaultKind::Ec2Stop
                | FaultKind::RdsFailover
                | FaultKind::RouteBlackhole
                | FaultKind::AzOutage
        )
    }

    fn handles_undo(&self, undo: &UndoRecord) -> bool {
        matches!(
            undo,
            UndoRecord::AwsStartInstance { .. }
                | UndoRecord::AwsSettleDbCluster { .. }
                | UndoRecord::AwsSettleDbInstance { .. }
                | UndoRecord::AwsRestoreRoute { .. }
                | UndoRecord::AwsDeleteBlackholeInterface { .. }
                | UndoRecord::AwsRestoreSubnetAcl { .. }
                | UndoRecord::AwsDeleteDenyAllAcl { .. }
        )
    }

    async fn plan(&self, doc: &ExperimentDoc, ctx: &PlanContext) -> Result<Plan, EngineError> {
        let mark = mark_for(doc, ctx);
        match (&doc.spec.fault, &doc.spec.target) {
            (FaultSpec::Ec2Stop(p), Target::Instances(t)) => {
                ec2_stop::plan(self, p, t, &mark).await
            }
            (FaultSpec::RdsFailover(p), Target::DbCluster(t)) => {
                rds_failover::plan_cluster(self, p, t, &mark).await
            }
            (FaultSpec::RdsFailover(p), Target::DbInstance(t)) => {
                rds_failover::plan_instance(self, p, t, &mark).await
            }
            (FaultSpec::RouteBlackhole(_), Target::Route(t)) => {
                route_blackhole::plan(self, t, &mark).await
            }
            (FaultSpec::AzOutage(_), Target::AvailabilityZone(t)) => {
                az_outage::plan(self, t, &mark).await
            }
            (f, t) => Err(EngineError::Plan(format!(
                "the AWS engine cannot run {} on a {} target; see `chaosduck schema`",
                f.kind(),
                t.kind()
            ))),
        }
    }

    async fn apply(&self, step: &PlannedStep) -> Result<(), EngineError> {
        use super::plan::Action;
        match &step.action {
            Action::AwsStopInstance { .. } => ec2_stop::apply(self, &step.action).await,
            Action::AwsFailoverDbCluster { .. } | Action::AwsRebootDbInstanceFailover { .. } => {
                rds_failover::apply(self, &step.action).await
            }
            Action::AwsCreateBlackholeInterface { .. } | Action::AwsBlackholeRoute { .. } => {
                route_blackhole::apply(self, &step.action).await
            }
            Action::AwsCreateDenyAllAcl { .. } | Action::AwsSwapSubnetAcl { .. } => {
                az_outage::apply(self, &step.action).await
            }
            other => Err(EngineError::Apply(format!(
                "the AWS engine cannot apply {other:?}"
            ))),
        }
    }

    async fn revert(&self, undo: &UndoRecord) -> Result<RevertOutcome, EngineError> {
        match undo {
            UndoRecord::AwsStartInstance { .. } => ec2_stop::revert(self, undo).await,
            UndoRecord::AwsSettleDbCluster { .. } | UndoRecord::AwsSettleDbInstance { .. } => {
                rds_failover::revert(self, undo).await
            }
            UndoRecord::AwsRestoreRoute { .. } | UndoRecord::AwsDeleteBlackholeInterface { .. } => {
                route_blackhole::revert(self, undo).await
            }
            UndoRecord::AwsRestoreSubnetAcl { .. } | UndoRecord::AwsDeleteDenyAllAcl { .. } => {
                az_outage::revert(self, undo).await
            }
            other => Err(EngineError::NoUndoBackend(other.summary())),
        }
    }
}
