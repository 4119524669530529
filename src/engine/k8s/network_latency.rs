//! `network_latency`: netem delay (with jitter and correlation) from an injector.

use super::injector::{self, InjectorKind};
use super::{K8sBackend, K8sError};
use crate::domain::ExperimentDoc;
use crate::domain::fault::NetworkLatency;
use crate::engine::PlanContext;
use crate::engine::plan::Plan;

/// The injector environment for these parameters.
pub fn kind(f: &NetworkLatency) -> InjectorKind {
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    let mut env = vec![
        ("CHAOSDUCK_LATENCY_MS".to_string(), ms(f.latency.get())),
        (
            "CHAOSDUCK_JITTER_MS".to_string(),
            f.jitter.map_or("0".into(), |j| ms(j.get())),
        ),
        (
            "CHAOSDUCK_CORRELATION_PERCENT".to_string(),
            f.correlation.map_or("0".into(), |c| c.get().to_string()),
        ),
    ];
    super::network_loss::scope_env(
        &mut env,
        f.interface.as_deref(),
        f.destination_cidr.as_deref(),
        &f.ports,
    );
    InjectorKind {
        fault: "network_latency",
        env,
        network: true,
        mode: f.injection,
        container: f.container.clone(),
        summary: format!(
            "+{}{}",
            f.latency,
            f.jitter.map(|j| format!(" ±{j}")).unwrap_or_default()
        ),
    }
}

/// Plans one latency injector per chosen pod.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    f: &NetworkLatency,
    ctx: &PlanContext,
) -> Result<Plan, K8sError> {
    injector::plan(b, doc, ctx, kind(f)).await
}
