//! The Kubernetes fault engine: one file per fault, each with `plan` / `apply` / `revert`
//! functions the backend dispatches to. Network and stress faults run in self-expiring injector
//! ephemeral containers (see `injector`); pod_delete lets controllers heal and measures it;
//! network_partition and node_cordon are pure API.

pub mod client;
pub mod cpu_stress;
pub mod injector;
pub mod memory_stress;
pub mod network_latency;
pub mod network_loss;
pub mod network_partition;
pub mod node_cordon;
pub mod pod_delete;
pub mod recovery;
pub mod targets;

use super::plan::{Action, Plan, PlannedStep};
use super::{EngineError, FaultBackend, PlanContext, RevertOutcome};
use crate::config::KubernetesConfig;
use crate::domain::{ExperimentDoc, FaultKind, FaultSpec};
use crate::safety::journal::UndoRecord;
use async_trait::async_trait;
use std::time::Duration;

/// Kubernetes API failures, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// An API call failed.
    #[error("Kubernetes API {what} failed: {source}")]
    Api {
        /// The operation.
        what: &'static str,
        /// kube's error.
        source: kube::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl K8sError {
    /// A mapper for `map_err` naming the operation.
    pub fn api(what: &'static str) -> impl Fn(kube::Error) -> K8sError {
        move |source| K8sError::Api { what, source }
    }
}

/// Whether a kube error is a 404.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// The Kubernetes backend.
pub struct K8sBackend {
    /// The client.
    pub client: kube::Client,
    /// Engine settings.
    pub config: KubernetesConfig,
    /// Context name for plans.
    pub context: String,
    /// What journal entries are stamped with (the cluster, or the in-process sandbox's pid).
    pub scope: String,
}

impl K8sBackend {
    /// A backend over a connected client.
    pub fn new(
        client: kube::Client,
        context: String,
        scope: String,
        config: KubernetesConfig,
    ) -> Self {
        K8sBackend {
            client,
            config,
            context,
            scope,
        }
    }

    /// The longest wait for verification.
    pub fn recovery_timeout(&self) -> Duration {
        self.config.recovery_timeout.get()
    }
}

fn plan_err(e: K8sError) -> EngineError {
    EngineError::Plan(e.to_string())
}

#[async_trait]
impl FaultBackend for K8sBackend {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn handles(&self, kind: FaultKind) -> bool {
        kind.is_kubernetes()
    }

    fn scope(&self) -> Option<String> {
        Some(self.scope.clone())
    }

    fn handles_undo(&self, undo: &UndoRecord) -> bool {
        matches!(
            undo,
            UndoRecord::AwaitPodRecovery { .. }
                | UndoRecord::StopInjector { .. }
                | UndoRecord::UnlabelPod { .. }
                | UndoRecord::DeleteNetworkPolicy { .. }
                | UndoRecord::UncordonNode { .. }
        )
    }

    async fn plan(&self, doc: &ExperimentDoc, ctx: &PlanContext) -> Result<Plan, EngineError> {
        let mut plan = match &doc.spec.fault {
            FaultSpec::PodDelete(f) => pod_delete::plan(self, doc, f, ctx).await,
            FaultSpec::NetworkLatency(f) => network_latency::plan(self, doc, f, ctx).await,
            FaultSpec::NetworkLoss(f) => network_loss::plan(self, doc, f, ctx).await,
            FaultSpec::CpuStress(f) => cpu_stress::plan(self, doc, f, ctx).await,
            FaultSpec::MemoryStress(f) => memory_stress::plan(self, doc, f, ctx).await,
            FaultSpec::NetworkPartition(f) => network_partition::plan(self, doc, f, ctx).await,
            FaultSpec::NodeCordon(f) => node_cordon::plan(self, doc, f, ctx).await,
            other => {
                return Err(EngineError::Plan(format!(
                    "{} is not a Kubernetes fault",
                    other.kind()
                )));
            }
        }
        .map_err(plan_err)?;
        plan.notes
            .insert(0, format!("kube context: {}", self.context));
        Ok(plan)
    }

    fn stamp(&self, undo: &mut UndoRecord, now_ms: i64) {
        if let UndoRecord::AwaitPodRecovery { deleted_at, .. } = undo {
            *deleted_at = now_ms;
        }
    }

    async fn apply(&self, step: &PlannedStep) -> Result<(), EngineError> {
        let r = match &step.action {
            Action::DeletePod {
                namespace,
                name,
                grace_seconds,
            } => pod_delete::apply(self, namespace, name, *grace_seconds).await,
            Action::EvictPod { namespace, name } => node_cordon::evict(self, namespace, name).await,
            Action::AddInjector {
                namespace,
                pod,
                container,
                spec,
            } => injector::apply(self, namespace, pod, container, spec).await,
            Action::LabelPod {
                namespace,
                name,
                key,
                value,
            } => network_partition::label(self, namespace, name, key, value).await,
            Action::CreateNetworkPolicy {
                namespace,
                name,
                spec,
            } => network_partition::create(self, namespace, name, spec).await,
            Action::CordonNode { node, experiment } => {
                node_cordon::cordon(self, node, experiment).await
            }
            other => {
                return Err(EngineError::Apply(format!(
                    "the Kubernetes engine cannot perform {other:?}"
                )));
            }
        };
        r.map_err(|e| EngineError::Apply(e.to_string()))
    }

    async fn revert(&self, undo: &UndoRecord) -> Result<RevertOutcome, EngineError> {
        let r = match undo {
            UndoRecord::AwaitPodRecovery {
                namespace,
                pod,
                uid,
                owner,
                snapshot,
                deleted_at,
            } => {
                recovery::await_recovery(
                    self,
                    namespace,
                    pod,
                    uid,
                    owner.as_ref(),
                    snapshot.as_ref(),
                    *deleted_at,
                )
                .await
            }
            UndoRecord::StopInjector {
                namespace,
                pod,
                container,
            } => injector::stop(self, namespace, pod, container).await,
            UndoRecord::UnlabelPod {
                namespace,
                name,
                key,
                value,
            } => network_partition::unlabel(self, namespace, name, key, value).await,
            UndoRecord::DeleteNetworkPolicy { namespace, name } => {
                network_partition::delete(self, namespace, name).await
            }
            UndoRecord::UncordonNode { node, experiment } => {
                node_cordon::uncordon(self, node, experiment).await
            }
            other => {
                return Err(EngineError::Revert(format!(
                    "the Kubernetes engine cannot undo {}",
                    other.summary()
                )));
            }
        };
        r.map(|note| RevertOutcome { note })
            .map_err(|e| EngineError::Revert(e.to_string()))
    }
}

/// The pod target of a document (validation guarantees it for pod faults).
pub fn pod_target(doc: &ExperimentDoc) -> Result<&crate::domain::target::PodTarget, K8sError> {
    match &doc.spec.target {
        crate::domain::Target::Pods(t) => Ok(t),
        other => Err(K8sError::Other(format!(
            "this fault needs a pods target, not {}",
            other.kind()
        ))),
    }
}

/// Builds a plan from resolved targets and their steps.
pub fn plan_of(
    namespace: Option<String>,
    eligible: usize,
    matched: usize,
    targets: Vec<super::plan::TargetRef>,
    steps: Vec<PlannedStep>,
    notes: Vec<String>,
) -> Plan {
    Plan {
        engine: "kubernetes".into(),
        namespace,
        eligible,
        matched,
        targets,
        steps,
        notes,
    }
}

/// The short experiment id used in names (`chaosduck-<8 chars>-...`): the id's *last* eight
/// characters, which are random in a UUIDv7. (The first eight are the top of its millisecond
/// timestamp and repeat for every experiment started within the same ~65 s, which made a second
/// run reuse the first one's injector and partition names.)
pub fn short_id(id: &str) -> String {
    let alnum: Vec<char> = id.chars().filter(char::is_ascii_alphanumeric).collect();
    alnum[alnum.len().saturating_sub(8)..]
        .iter()
        .collect::<String>()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::short_id;

    #[test]
    fn short_ids_of_experiments_started_together_differ() {
        let a = uuid::Uuid::now_v7().simple().to_string();
        let b = uuid::Uuid::now_v7().simple().to_string();
        assert_eq!(a[..8], b[..8], "same timestamp prefix");
        assert_ne!(short_id(&a), short_id(&b));
        assert_eq!(short_id(&a).len(), 8);
        assert_eq!(short_id("AB-c"), "abc");
    }
}
