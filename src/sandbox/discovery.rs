//! Discovery documents: /api, /apis, /api/v1, /apis/GROUP/VERSION and /version, as kubectl and
//! kube's discovery client read them.

use serde_json::{Value, json};

use super::resources::Kind;

/// Groups served under /apis, in order.
fn groups() -> Vec<&'static str> {
    let mut g: Vec<&str> = Vec::new();
    for k in Kind::ALL {
        let grp = k.info().group;
        if !grp.is_empty() && !g.contains(&grp) {
            g.push(grp);
        }
    }
    g
}

/// `GET /api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]
    })
}

fn group_doc(g: &str) -> Value {
    let gv = format!("{g}/v1");
    json!({
        "name": g,
        "versions": [{"groupVersion": gv, "version": "v1"}],
        "preferredVersion": {"groupVersion": gv, "version": "v1"}
    })
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let gs: Vec<Value> = groups().into_iter().map(group_doc).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
}

/// `GET /apis/GROUP`, when served.
pub fn group(g: &str) -> Option<Value> {
    if !groups().contains(&g) {
        return None;
    }
    let mut d = group_doc(g);
    d["kind"] = json!("APIGroup");
    d["apiVersion"] = json!("v1");
    Some(d)
}

/// `GET /api/v1` or `GET /apis/GROUP/VERSION`, when served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| k.info().group == group && k.info().version == version)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut res = Vec::new();
    for k in kinds {
        let i = k.info();
        res.push(json!({
            "name": i.plural,
            "singularName": i.singular,
            "namespaced": i.namespaced,
            "kind": i.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": i.short_names,
        }));
        for sub in i.subresources {
            let (kind, verbs): (&str, Vec<&str>) = match *sub {
                "eviction" => ("Eviction", vec!["create"]),
                "exec" => ("PodExecOptions", vec!["create", "get"]),
                "scale" => ("Scale", vec!["get", "patch", "update"]),
                _ => (i.kind, vec!["get", "patch", "update"]),
            };
            let mut doc = json!({
                "name": format!("{}/{}", i.plural, sub),
                "singularName": "",
                "namespaced": i.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if *sub == "eviction" {
                doc["group"] = json!("policy");
                doc["version"] = json!("v1");
            }
            if *sub == "scale" {
                doc["group"] = json!("autoscaling");
                doc["version"] = json!("v1");
            }
            res.push(doc);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}),
    )
}

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-chaosduck-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}
