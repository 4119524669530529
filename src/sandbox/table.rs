//! `meta.k8s.io/v1 Table` output, which kubectl asks for (`Accept: ...;as=Table`) to print the
//! usual columns (READY, STATUS, RESTARTS, AGE, ...).

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::controllers::pod_ready;
use super::resources::{Kind, Obj};

/// Whether the client asked for a Table.
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.split(',').any(|part| part.contains("as=Table")))
}

fn col(name: &str, ty: &str, priority: i32) -> Value {
    let mut c =
        json!({"name": name, "type": ty, "format": "", "description": name, "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
    }
    c
}

fn columns(kind: Kind) -> Vec<Value> {
    match kind {
        Kind::Pod => vec![
            col("Name", "string", 0),
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            col("Age", "string", 0),
            col("IP", "string", 1),
            col("Node", "string", 1),
        ],
        Kind::Node => vec![
            col("Name", "string", 0),
            col("Status", "string", 0),
            col("Roles", "string", 0),
            col("Age", "string", 0),
            col("Version", "string", 0),
            col("Internal-IP", "string", 1),
            col("Zone", "string", 1),
        ],
        Kind::Deployment => vec![
            col("Name", "string", 0),
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Age", "string", 0),
        ],
        Kind::ReplicaSet | Kind::StatefulSet => vec![
            col("Name", "string", 0),
            col("Desired", "integer", 0),
            col("Ready", "string", 0),
            col("Age", "string", 0),
        ],
        Kind::Service => vec![
            col("Name", "string", 0),
            col("Type", "string", 0),
            col("Cluster-IP", "string", 0),
            col("External-IP", "string", 0),
            col("Port(s)", "string", 0),
            col("Age", "string", 0),
            col("Selector", "string", 1),
        ],
        Kind::Event => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Message", "string", 0),
        ],
        Kind::PodDisruptionBudget => vec![
            col("Name", "string", 0),
            col("Min Available", "string", 0),
            col("Max Unavailable", "string", 0),
            col("Allowed Disruptions", "integer", 0),
            col("Age", "string", 0),
        ],
        _ => vec![col("Name", "string", 0), col("Age", "string", 0)],
    }
}

fn int_or_string(v: Option<&k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>) -> String {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match v {
        Some(IntOrString::Int(i)) => i.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => "N/A".into(),
    }
}

fn since(
    t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    now: Timestamp,
) -> String {
    match t {
        None => "<unknown>".into(),
        Some(t) => short(now.duration_since(t.0).as_secs().max(0)),
    }
}

/// Short human age ("45s", "12m", "3h", "5d") as kubectl prints it.
pub fn age(o: &Obj, now: Timestamp) -> String {
    since(o.meta().creation_timestamp.as_ref(), now)
}

fn short(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn cells(o: &Obj, now: Timestamp) -> Vec<Value> {
    let name = json!(o.name());
    let a = json!(age(o, now));
    match o {
        Obj::Pod(p) => {
            let st = p.status.as_ref();
            let total = p.spec.as_ref().map_or(0, |s| s.containers.len());
            let ready = st
                .and_then(|s| s.container_statuses.as_ref())
                .map_or(0, |cs| cs.iter().filter(|c| c.ready).count());
            let restarts: i32 = st
                .and_then(|s| s.container_statuses.as_ref())
                .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum());
            let status = if p.metadata.deletion_timestamp.is_some() {
                "Terminating".to_string()
            } else {
                st.and_then(|s| s.phase.clone())
                    .unwrap_or_else(|| "Pending".into())
            };
            let ready_s = if pod_ready(p) {
                ready
            } else {
                ready.min(total)
            };
            vec![
                name,
                json!(format!("{ready_s}/{total}")),
                json!(status),
                json!(restarts.to_string()),
                a,
                json!(
                    st.and_then(|s| s.pod_ip.clone())
                        .unwrap_or_else(|| "<none>".into())
                ),
                json!(
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.clone())
                        .unwrap_or_else(|| "<none>".into())
                ),
            ]
        }
        Obj::Node(n) => {
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .map(|c| {
                    if c.status == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                })
                .unwrap_or("Unknown");
            let mut status = ready.to_string();
            if n.spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false)
            {
                status.push_str(",SchedulingDisabled");
            }
            let ip = n
                .status
                .as_ref()
                .and_then(|s| s.addresses.as_ref())
                .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
                .map(|a| a.address.clone())
                .unwrap_or_else(|| "<none>".into());
            let version = n
                .status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kubelet_version.clone())
                .unwrap_or_default();
            let zone = n
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(super::demo::ZONE_LABEL))
                .cloned()
                .unwrap_or_default();
            vec![
                name,
                json!(status),
                json!("<none>"),
                a,
                json!(version),
                json!(ip),
                json!(zone),
            ]
        }
        Obj::Deployment(d) => {
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let s = d.status.clone().unwrap_or_default();
            vec![
                name,
                json!(format!("{}/{want}", s.ready_replicas.unwrap_or(0))),
                json!(s.updated_replicas.unwrap_or(0)),
                json!(s.available_replicas.unwrap_or(0)),
                a,
            ]
        }
        Obj::ReplicaSet(r) => {
            let want = r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = r
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            vec![name, json!(want), json!(format!("{ready}/{want}")), a]
        }
        Obj::StatefulSet(r) => {
            let want = r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = r
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            vec![name, json!(want), json!(format!("{ready}/{want}")), a]
        }
        Obj::Service(s) => {
            let spec = s.spec.clone().unwrap_or_default();
            let ports = spec
                .ports
                .iter()
                .flatten()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p.port,
                        p.protocol.clone().unwrap_or_else(|| "TCP".into())
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            let sel = spec
                .selector
                .as_ref()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_else(|| "<none>".into());
            vec![
                name,
                json!(spec.type_.unwrap_or_else(|| "ClusterIP".into())),
                json!(spec.cluster_ip.unwrap_or_else(|| "None".into())),
                json!("<none>"),
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports
                }),
                a,
                json!(sel),
            ]
        }
        Obj::Event(e) => {
            let obj = format!(
                "{}/{}",
                e.involved_object
                    .kind
                    .clone()
                    .unwrap_or_default()
                    .to_lowercase(),
                e.involved_object.name.clone().unwrap_or_default()
            );
            vec![
                json!(since(
                    e.last_timestamp
                        .as_ref()
                        .or(e.metadata.creation_timestamp.as_ref()),
                    now
                )),
                json!(e.type_.clone().unwrap_or_default()),
                json!(e.reason.clone().unwrap_or_default()),
                json!(obj),
                json!(e.message.clone().unwrap_or_default()),
            ]
        }
        Obj::PodDisruptionBudget(p) => {
            let spec = p.spec.clone().unwrap_or_default();
            vec![
                name,
                json!(int_or_string(spec.min_available.as_ref())),
                json!(int_or_string(spec.max_unavailable.as_ref())),
                json!(p.status.as_ref().map_or(0, |s| s.disruptions_allowed)),
                a,
            ]
        }
        _ => vec![name, a],
    }
}

fn row(o: &Obj, now: Timestamp) -> Value {
    let mut meta = serde_json::to_value(o.meta()).unwrap_or(Value::Null);
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
    }
    json!({
        "cells": cells(o, now),
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    })
}

/// A Table of `objs` with the list metadata `meta`.
pub fn table<'a>(kind: Kind, objs: impl Iterator<Item = &'a Obj>, meta: Value) -> Value {
    let now = Timestamp::now();
    let rows: Vec<Value> = objs.map(|o| row(o, now)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns(kind),
        "rows": rows,
    })
}
