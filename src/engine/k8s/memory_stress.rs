//! `memory_stress`: stress-ng VM workers holding memory, from an injector, bounded by the duration.

use super::injector::{self, InjectorKind};
use super::{K8sBackend, K8sError};
use crate::domain::ExperimentDoc;
use crate::domain::fault::MemoryStress;
use crate::engine::PlanContext;
use crate::engine::plan::Plan;

/// The injector environment for these parameters.
pub fn kind(f: &MemoryStress) -> InjectorKind {
    InjectorKind {
        fault: "memory_stress",
        env: vec![
            ("CHAOSDUCK_MEMORY_BYTES".into(), f.size.0.to_string()),
            ("CHAOSDUCK_VM_WORKERS".into(), f.workers.to_string()),
        ],
        network: false,
        mode: f.injection,
        container: f.container.clone(),
        summary: format!("{} × {}", f.workers, f.size),
    }
}

/// Plans one memory stress injector per chosen pod.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    f: &MemoryStress,
    ctx: &PlanContext,
) -> Result<Plan, K8sError> {
    injector::plan(b, doc, ctx, kind(f)).await
}
