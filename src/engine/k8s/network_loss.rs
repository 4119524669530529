//! `network_loss`: netem loss (with correlation) from an injector.

use super::injector::{self, InjectorKind};
use super::{K8sBackend, K8sError};
use crate::domain::ExperimentDoc;
use crate::domain::fault::NetworkLoss;
use crate::engine::PlanContext;
use crate::engine::plan::Plan;

/// Interface and destination filter variables shared by the network faults.
pub fn scope_env(
    env: &mut Vec<(String, String)>,
    interface: Option<&str>,
    cidr: Option<&str>,
    ports: &[u16],
) {
    if let Some(i) = interface {
        env.push(("CHAOSDUCK_INTERFACE".into(), i.into()));
    }
    if let Some(c) = cidr {
        env.push(("CHAOSDUCK_DEST_CIDR".into(), c.into()));
    }
    if !ports.is_empty() {
        let p: Vec<String> = ports.iter().map(ToString::to_string).collect();
        env.push(("CHAOSDUCK_PORTS".into(), p.join(",")));
    }
}

/// The injector environment for these parameters.
pub fn kind(f: &NetworkLoss) -> InjectorKind {
    let mut env = vec![
        (
            "CHAOSDUCK_LOSS_PERCENT".to_string(),
            f.percent.get().to_string(),
        ),
        (
            "CHAOSDUCK_CORRELATION_PERCENT".to_string(),
            f.correlation.map_or("0".into(), |c| c.get().to_string()),
        ),
    ];
    scope_env(
        &mut env,
        f.interface.as_deref(),
        f.destination_cidr.as_deref(),
        &f.ports,
    );
    InjectorKind {
        fault: "network_loss",
        env,
        network: true,
        mode: f.injection,
        container: f.container.clone(),
        summary: format!("{} loss", f.percent),
    }
}

/// Plans one loss injector per chosen pod.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    f: &NetworkLoss,
    ctx: &PlanContext,
) -> Result<Plan, K8sError> {
    injector::plan(b, doc, ctx, kind(f)).await
}
