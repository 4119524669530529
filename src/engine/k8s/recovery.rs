//! Verified recovery of pods that were deleted or evicted: wait until their controller has its
//! desired number of ready pods again (none of them the pod that went away), or recreate a bare
//! pod from its snapshot and wait until it is ready.

use super::{K8sBackend, K8sError, is_not_found};
use crate::safety::journal::OwnerRef;
use crate::store::now_ms;
use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use std::time::{Duration, Instant};

/// When the pod last turned Ready (unix ms), from its condition's transition time.
fn ready_since(p: &Pod) -> Option<i64> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0.as_millisecond())
}

fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Desired replicas and label selector of an owner; `None` when the owner is gone.
async fn owner_state(
    b: &K8sBackend,
    ns: &str,
    o: &OwnerRef,
) -> Result<Option<(i32, String, String)>, K8sError> {
    fn sel(m: Option<&std::collections::BTreeMap<String, String>>) -> String {
        m.map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
    }
    let c = b.client.clone();
    let got = match o.kind.as_str() {
        "ReplicaSet" => Api::<ReplicaSet>::namespaced(c, ns)
            .get(&o.name)
            .await
            .map(|r| {
                let uid = r.metadata.uid.clone().unwrap_or_default();
                let s = r.spec.unwrap_or_default();
                (
                    s.replicas.unwrap_or(1),
                    sel(s.selector.match_labels.as_ref()),
                    uid,
                )
            }),
        "StatefulSet" => Api::<StatefulSet>::namespaced(c, ns)
            .get(&o.name)
            .await
            .map(|r| {
                let uid = r.metadata.uid.clone().unwrap_or_default();
                let s = r.spec.unwrap_or_default();
                (
                    s.replicas.unwrap_or(1),
                    sel(s.selector.match_labels.as_ref()),
                    uid,
                )
            }),
        "DaemonSet" => Api::<DaemonSet>::namespaced(c, ns)
            .get(&o.name)
            .await
            .map(|r| {
                let uid = r.metadata.uid.clone().unwrap_or_default();
                let desired = r.status.map_or(0, |s| s.desired_number_scheduled);
                (
                    desired,
                    sel(r.spec.unwrap_or_default().selector.match_labels.as_ref()),
                    uid,
                )
            }),
        other => {
            return Err(K8sError::Other(format!(
                "pods owned by a {other} are not waited for; check it by hand"
            )));
        }
    };
    match got {
        Ok(x) => Ok(Some(x)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(K8sError::Api {
            what: "get pod owner",
            source: e,
        }),
    }
}

/// Waits (bounded by the recovery timeout) for the pod's replacement; returns the note.
pub async fn await_recovery(
    b: &K8sBackend,
    ns: &str,
    pod: &str,
    uid: &str,
    owner: Option<&OwnerRef>,
    snapshot: Option<&serde_json::Value>,
    deleted_at: i64,
) -> Result<Option<String>, K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    let start = Instant::now();
    let limit = b.recovery_timeout();
    let since = |t0: i64| {
        let ms = if t0 > 0 {
            now_ms() - t0
        } else {
            i64::try_from(start.elapsed().as_millis()).unwrap_or(0)
        };
        format!("{:.1}s", ms as f64 / 1000.0)
    };
    // Killed between the intent and the delete: the pod is still there, untouched.
    if let Some(p) = api.get_opt(pod).await.map_err(K8sError::api("get pod"))?
        && p.metadata.uid.as_deref() == Some(uid)
        && p.metadata.deletion_timestamp.is_none()
    {
        return Ok(Some(format!(
            "pod {ns}/{pod} was never deleted; nothing to recover"
        )));
    }
    let mut created = false;
    loop {
        match owner {
            Some(o) => match owner_state(b, ns, o).await? {
                None => {
                    return Ok(Some(format!(
                        "{} {} no longer exists; nothing to wait for",
                        o.kind, o.name
                    )));
                }
                Some((_, _, owner_uid)) if owner_uid != o.uid => {
                    return Ok(Some(format!(
                        "{} {} was replaced by a new object; nothing to wait for",
                        o.kind, o.name
                    )));
                }
                Some((desired, selector, _)) => {
                    let pods = api
                        .list(&ListParams::default().labels(&selector))
                        .await
                        .map_err(K8sError::api("list pods"))?;
                    let counted: Vec<&Pod> = pods
                        .items
                        .iter()
                        .filter(|p| p.metadata.uid.as_deref() != Some(uid))
                        .filter(|p| {
                            p.metadata
                                .owner_references
                                .as_ref()
                                .is_some_and(|r| r.iter().any(|r| r.uid == o.uid))
                        })
                        .filter(|p| ready(p))
                        .collect();
                    let ready_now = counted.len();
                    // The owner was whole again when its last counted pod turned Ready.
                    let back_at = counted.iter().filter_map(|p| ready_since(p)).max();
                    if i32::try_from(ready_now).unwrap_or(i32::MAX) >= desired {
                        let took = match back_at {
                            Some(t) if deleted_at > 0 && t >= deleted_at => {
                                format!(
                                    "recovered {:.1}s after the fault",
                                    (t - deleted_at) as f64 / 1000.0
                                )
                            }
                            _ => format!("checked {} after the fault", since(deleted_at)),
                        };
                        return Ok(Some(format!(
                            "{} {} ready again ({ready_now}/{desired}), {took}",
                            o.kind, o.name
                        )));
                    }
                }
            },
            None => match api.get_opt(pod).await.map_err(K8sError::api("get pod"))? {
                Some(p) if p.metadata.uid.as_deref() != Some(uid) && ready(&p) => {
                    return Ok(Some(format!(
                        "pod {ns}/{pod} ready again {} after the fault",
                        since(deleted_at)
                    )));
                }
                Some(_) => {}
                None => {
                    let Some(snap) = snapshot else {
                        return Err(K8sError::Other(format!(
                            "bare pod {ns}/{pod} is gone and no snapshot was kept"
                        )));
                    };
                    if !created {
                        let p: Pod = serde_json::from_value(snap.clone()).map_err(|e| {
                            K8sError::Other(format!(
                                "the snapshot of {ns}/{pod} cannot be read: {e}"
                            ))
                        })?;
                        match api.create(&PostParams::default(), &p).await {
                            Ok(_) => created = true,
                            Err(kube::Error::Api(s)) if s.code == 409 => {}
                            Err(e) => {
                                return Err(K8sError::Api {
                                    what: "recreate bare pod",
                                    source: e,
                                });
                            }
                        }
                    }
                }
            },
        }
        if start.elapsed() > limit {
            return Err(K8sError::Other(format!(
                "{ns}/{pod} has not recovered after {}; will retry",
                humantime::format_duration(limit)
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
