//! PodDisruptionBudgets: their status (computed from the pods they select) and the eviction check
//! (429 TooManyRequests when an eviction would break a budget).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::controllers::pod_ready;
use super::error::ApiError;
use super::resources::{Kind, Obj};
use super::selectors::selector_matches;
use super::store::State;

fn scaled(v: &IntOrString, total: i32, round_up: bool) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => {
            let pct: f64 = s.trim_end_matches('%').trim().parse().unwrap_or(0.0);
            let x = f64::from(total) * pct / 100.0;
            (if round_up { x.ceil() } else { x.floor() }) as i32
        }
    }
}

fn selected<'a>(st: &'a State, pdb: &'a PodDisruptionBudget) -> impl Iterator<Item = &'a Pod> + 'a {
    let ns = pdb.metadata.namespace.as_deref().unwrap_or("");
    let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
    st.iter(Kind::Pod, Some(ns))
        .filter_map(|o| o.as_pod())
        .filter(move |p| p.metadata.deletion_timestamp.is_none())
        .filter(move |p| selector_matches(sel, p.metadata.labels.as_ref()))
}

/// The status a budget has for the current pods.
pub fn status_of(st: &State, pdb: &PodDisruptionBudget) -> PodDisruptionBudgetStatus {
    let expected = selected(st, pdb).count() as i32;
    let healthy = selected(st, pdb).filter(|p| pod_ready(p)).count() as i32;
    let spec = pdb.spec.clone().unwrap_or_default();
    let desired = match (&spec.min_available, &spec.max_unavailable) {
        (Some(min), _) => scaled(min, expected, true),
        (None, Some(max)) => (expected - scaled(max, expected, true)).max(0),
        (None, None) => 0,
    };
    PodDisruptionBudgetStatus {
        current_healthy: healthy,
        desired_healthy: desired,
        expected_pods: expected,
        disruptions_allowed: (healthy - desired).max(0),
        observed_generation: pdb.metadata.generation,
        ..Default::default()
    }
}

/// Keeps every budget's status true.
pub fn reconcile(st: &mut State) {
    let pdbs: Vec<(String, String, PodDisruptionBudgetStatus)> = st
        .iter(Kind::PodDisruptionBudget, None)
        .filter_map(|o| match &**o {
            Obj::PodDisruptionBudget(p) => Some((
                o.namespace().to_string(),
                o.name().to_string(),
                status_of(st, p),
            )),
            _ => None,
        })
        .collect();
    for (ns, name, status) in pdbs {
        st.mutate(Kind::PodDisruptionBudget, &ns, &name, |o| {
            if let Obj::PodDisruptionBudget(p) = o {
                let old = p.status.take().unwrap_or_default();
                p.status = Some(PodDisruptionBudgetStatus {
                    conditions: old.conditions,
                    disrupted_pods: old.disrupted_pods,
                    ..status
                });
            }
        });
    }
}

/// Whether evicting `pod` is allowed by every budget that selects it. Pods that are not ready do
/// not count against a budget (as with the default unhealthy-pod policy for running pods).
pub fn check_eviction(st: &State, pod: &Pod) -> Result<(), ApiError> {
    if !pod_ready(pod) {
        return Ok(());
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    for o in st.iter(Kind::PodDisruptionBudget, Some(ns)) {
        let Obj::PodDisruptionBudget(pdb) = &**o else {
            continue;
        };
        let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
        if !selector_matches(sel, pod.metadata.labels.as_ref()) {
            continue;
        }
        let status = status_of(st, pdb);
        if status.disruptions_allowed < 1 {
            let mut e = ApiError::too_many_requests(format!(
                "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {} needs {} healthy pods and has {} currently",
                o.name(),
                status.desired_healthy,
                status.current_healthy
            ));
            e.details = Some(
                serde_json::json!({"causes": [{"reason": "DisruptionBudget", "message": format!("The disruption budget {} needs {} healthy pods and has {} currently", o.name(), status.desired_healthy, status.current_healthy)}]}),
            );
            return Err(e);
        }
    }
    Ok(())
}
