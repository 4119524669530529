//! `cpu_stress`: stress-ng CPU workers from an injector, bounded by the fault duration.

use super::injector::{self, InjectorKind};
use super::{K8sBackend, K8sError};
use crate::domain::ExperimentDoc;
use crate::domain::fault::CpuStress;
use crate::engine::PlanContext;
use crate::engine::plan::Plan;

/// The injector environment for these parameters.
pub fn kind(f: &CpuStress) -> InjectorKind {
    InjectorKind {
        fault: "cpu_stress",
        env: vec![
            ("CHAOSDUCK_CPU_WORKERS".into(), f.workers.to_string()),
            (
                "CHAOSDUCK_CPU_LOAD_PERCENT".into(),
                (f.load.get().round() as u32).to_string(),
            ),
        ],
        network: false,
        mode: f.injection,
        container: f.container.clone(),
        summary: format!("{} workers at {}", f.workers, f.load),
    }
}

/// Plans one CPU stress injector per chosen pod.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    f: &CpuStress,
    ctx: &PlanContext,
) -> Result<Plan, K8sError> {
    injector::plan(b, doc, ctx, kind(f)).await
}
