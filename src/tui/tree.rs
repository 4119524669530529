//! The topology as a tree of rows: built from the watchers' snapshot, flattened through the
//! expanded set (or the filter), so the pane only ever draws the rows on screen. Rebuilt when the
//! topology, the expansion or the filter changes, never per frame.

use crate::topology::aws::AwsTopology;
use crate::topology::k8s::{K8sTopology, PodInfo};
use std::collections::HashSet;

/// What a row shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// A kube context or an AWS region.
    Root,
    /// A grouping row (Nodes, Services, Subnets, ...).
    Group,
    /// A namespace.
    Namespace,
    /// A Deployment, StatefulSet, DaemonSet or ReplicaSet.
    Workload,
    /// A pod.
    Pod,
    /// A node.
    Node,
    /// A service.
    Service,
    /// A VPC.
    Vpc,
    /// A subnet.
    Subnet,
    /// An EC2 instance.
    Instance,
    /// A route table.
    RouteTable,
    /// A route.
    Route,
    /// A network ACL.
    Acl,
    /// An RDS cluster.
    DbCluster,
    /// An RDS instance.
    DbInstance,
}

/// Health of what a row shows, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Nothing to say.
    Neutral,
    /// Running and ready.
    Good,
    /// Degraded or changing.
    Warn,
    /// Down.
    Bad,
}

/// What a selected row offers as an experiment target (prefills the form).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum TargetHint {
    /// Nothing to target.
    #[default]
    None,
    /// A namespace.
    Namespace(String),
    /// A workload's pods.
    Workload {
        /// Namespace.
        ns: String,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// Its selector, `k=v,...`.
        selector: String,
    },
    /// One pod.
    Pod {
        /// Namespace.
        ns: String,
        /// Name.
        name: String,
    },
    /// A node.
    Node(String),
    /// An EC2 instance.
    Instance(String),
    /// An RDS cluster.
    DbCluster(String),
    /// An RDS instance.
    DbInstance(String),
    /// A route.
    Route {
        /// Route table.
        table: String,
        /// Destination.
        cidr: String,
    },
    /// A subnet's zone in a VPC.
    Zone {
        /// VPC.
        vpc: String,
        /// Zone.
        zone: String,
    },
}

/// One row of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// A stable path, kept across rebuilds (selection and expansion follow it).
    pub id: String,
    /// Indentation level.
    pub depth: u16,
    /// What it is.
    pub kind: RowKind,
    /// The name.
    pub label: String,
    /// Status text after the name.
    pub detail: String,
    /// Its colour.
    pub health: Health,
    /// It (or something under it) carries a ChaosDuck fault now.
    pub fault: bool,
    /// It has children.
    pub expandable: bool,
    /// Its children are shown.
    pub expanded: bool,
    /// What an experiment on it would target.
    pub target: TargetHint,
}

/// A node of the full tree (only the flattening sees it).
#[derive(Debug)]
pub struct Node {
    row: Row,
    children: Vec<Node>,
}

impl Node {
    fn new(id: String, kind: RowKind, label: impl Into<String>, detail: impl Into<String>) -> Node {
        Node {
            row: Row {
                id,
                depth: 0,
                kind,
                label: label.into(),
                detail: detail.into(),
                health: Health::Neutral,
                fault: false,
                expandable: false,
                expanded: false,
                target: TargetHint::None,
            },
            children: Vec::new(),
        }
    }

    fn health(mut self, h: Health) -> Node {
        self.row.health = h;
        self
    }

    fn fault(mut self, f: bool) -> Node {
        self.row.fault = f;
        self
    }

    fn target(mut self, t: TargetHint) -> Node {
        self.row.target = t;
        self
    }

    fn push(&mut self, c: Node) {
        self.row.fault |= c.row.fault;
        self.children.push(c);
    }
}

fn pod_node(parent: &str, ns: &str, p: &PodInfo) -> Node {
    let health = match (p.phase.as_str(), p.ready) {
        ("Running", true) | ("Succeeded", _) => Health::Good,
        ("Failed", _) => Health::Bad,
        _ => Health::Warn,
    };
    let mut detail = format!(
        "{}{} r{}",
        p.phase,
        if p.ready { " ready" } else { " not-ready" },
        p.restarts
    );
    if let Some(n) = &p.node {
        detail.push_str(&format!(" @{n}"));
    }
    if !p.faults.is_empty() {
        detail.push_str(&format!(" [{}]", p.faults.join(",")));
    }
    Node::new(
        format!("{parent}/pod/{}", p.name),
        RowKind::Pod,
        &p.name,
        detail,
    )
    .health(health)
    .fault(!p.faults.is_empty())
    .target(TargetHint::Pod {
        ns: ns.to_string(),
        name: p.name.clone(),
    })
}

/// The Kubernetes tree of one context; with `only`, just that namespace (and the nodes).
pub fn k8s_tree(t: &K8sTopology, context: &str, only: Option<&str>) -> Node {
    let root_id = format!("k8s:{context}");
    let mut root = Node::new(
        root_id.clone(),
        RowKind::Root,
        format!("⎈ {context}"),
        format!(
            "{} namespaces, {} pods, {} nodes",
            t.namespaces.len(),
            t.pods,
            t.nodes.len()
        ),
    );
    for ns in t
        .namespaces
        .iter()
        .filter(|n| only.is_none_or(|o| o == n.name))
    {
        let ns_id = format!("{root_id}/ns/{}", ns.name);
        let pods: usize =
            ns.workloads.iter().map(|w| w.pods.len()).sum::<usize>() + ns.bare_pods.len();
        let mut n = Node::new(
            ns_id.clone(),
            RowKind::Namespace,
            &ns.name,
            format!("{pods} pods"),
        )
        .target(TargetHint::Namespace(ns.name.clone()));
        for w in &ns.workloads {
            let wid = format!("{ns_id}/{}/{}", w.kind, w.name);
            let health = if w.ready >= w.desired {
                Health::Good
            } else if w.ready == 0 && w.desired > 0 {
                Health::Bad
            } else {
                Health::Warn
            };
            let mut wn = Node::new(
                wid.clone(),
                RowKind::Workload,
                &w.name,
                format!("{} {}/{}", w.kind, w.ready, w.desired),
            )
            .health(health)
            .target(TargetHint::Workload {
                ns: ns.name.clone(),
                kind: w.kind.clone(),
                name: w.name.clone(),
                selector: w.selector.clone(),
            });
            for p in &w.pods {
                wn.push(pod_node(&wid, &ns.name, p));
            }
            n.push(wn);
        }
        for p in &ns.bare_pods {
            n.push(pod_node(&ns_id, &ns.name, p));
        }
        if !ns.services.is_empty() {
            let sid = format!("{ns_id}/services");
            let mut g = Node::new(
                sid.clone(),
                RowKind::Group,
                "services",
                format!("{}", ns.services.len()),
            );
            for s in &ns.services {
                let mut sn = Node::new(
                    format!("{sid}/{}", s.name),
                    RowKind::Service,
                    &s.name,
                    format!("{} → {} pods", s.selector, s.pods.len()),
                )
                .health(if s.pods.is_empty() {
                    Health::Warn
                } else {
                    Health::Neutral
                });
                for p in &s.pods {
                    sn.children.push(Node::new(
                        format!("{sid}/{}/{p}", s.name),
                        RowKind::Pod,
                        p,
                        "",
                    ));
                }
                g.push(sn);
            }
            n.push(g);
        }
        root.push(n);
    }
    let nid = format!("{root_id}/nodes");
    let mut g = Node::new(
        nid.clone(),
        RowKind::Group,
        "nodes",
        format!("{}", t.nodes.len()),
    );
    for node in &t.nodes {
        let health = match (node.ready, node.schedulable) {
            (true, true) => Health::Good,
            (true, false) => Health::Warn,
            _ => Health::Bad,
        };
        let detail = format!(
            "{}{}{} {} pods",
            node.zone.as_deref().unwrap_or("-"),
            if node.ready { " ready" } else { " not-ready" },
            if node.schedulable { "" } else { " cordoned" },
            node.pods
        );
        g.push(
            Node::new(
                format!("{nid}/{}", node.name),
                RowKind::Node,
                &node.name,
                detail,
            )
            .health(health)
            .fault(node.chaosduck_cordon)
            .target(TargetHint::Node(node.name.clone())),
        );
    }
    root.push(g);
    root
}

fn tagged(tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.contains_key("chaosduck:experiment")
}

fn name_tag(tags: &std::collections::BTreeMap<String, String>) -> String {
    tags.get("Name")
        .map(|n| format!(" ({n})"))
        .unwrap_or_default()
}

fn aws_state(s: &str) -> Health {
    match s {
        "running" | "available" | "active" => Health::Good,
        "stopped" | "terminated" | "failed" | "blackhole" => Health::Bad,
        _ => Health::Warn,
    }
}

/// The AWS tree of one region.
pub fn aws_tree(t: &AwsTopology) -> Node {
    let root_id = format!("aws:{}", t.region);
    let mut root = Node::new(
        root_id.clone(),
        RowKind::Root,
        format!("☁ {}", t.region),
        format!(
            "{} VPCs, {} instances, {} DB clusters{}",
            t.vpcs.len(),
            t.instances.len(),
            t.db_clusters.len(),
            if t.errors.is_empty() {
                String::new()
            } else {
                format!(", {} errors", t.errors.len())
            }
        ),
    );
    for e in &t.errors {
        root.children.push(
            Node::new(
                format!("{root_id}/error/{}", e.service),
                RowKind::Group,
                format!("{} error", e.service),
                &e.message,
            )
            .health(Health::Bad),
        );
    }
    for v in &t.vpcs {
        let vid = format!("{root_id}/{}", v.id);
        let mut vn = Node::new(
            vid.clone(),
            RowKind::Vpc,
            &v.id,
            format!("{}{}", v.cidr, name_tag(&v.tags)),
        );
        let sid = format!("{vid}/subnets");
        let mut subnets = Node::new(
            sid.clone(),
            RowKind::Group,
            "subnets",
            format!("{}", v.subnets.len()),
        );
        for s in &v.subnets {
            let mut sn = Node::new(
                format!("{sid}/{}", s.id),
                RowKind::Subnet,
                &s.id,
                format!("{} {}{}", s.zone, s.cidr, name_tag(&s.tags)),
            )
            .fault(tagged(&s.tags))
            .target(TargetHint::Zone {
                vpc: v.id.clone(),
                zone: s.zone.clone(),
            });
            for i in t
                .instances
                .iter()
                .filter(|i| i.subnet.as_deref() == Some(&s.id))
            {
                sn.push(
                    Node::new(
                        format!("{sid}/{}/{}", s.id, i.id),
                        RowKind::Instance,
                        &i.id,
                        format!(
                            "{} {}{}",
                            i.state,
                            i.instance_type.as_deref().unwrap_or(""),
                            name_tag(&i.tags)
                        ),
                    )
                    .health(aws_state(&i.state))
                    .fault(tagged(&i.tags))
                    .target(TargetHint::Instance(i.id.clone())),
                );
            }
            subnets.push(sn);
        }
        vn.push(subnets);
        let rid = format!("{vid}/routes");
        let mut rts = Node::new(
            rid.clone(),
            RowKind::Group,
            "route tables",
            format!("{}", v.route_tables.len()),
        );
        for rt in &v.route_tables {
            let mut rn = Node::new(
                format!("{rid}/{}", rt.id),
                RowKind::RouteTable,
                &rt.id,
                format!(
                    "{}{} subnets{}",
                    if rt.main { "main, " } else { "" },
                    rt.subnets.len(),
                    name_tag(&rt.tags)
                ),
            )
            .fault(tagged(&rt.tags));
            for r in &rt.routes {
                let target = if r.local {
                    "local".to_string()
                } else {
                    r.target
                        .as_ref()
                        .map_or_else(|| "-".to_string(), |t| t.encode())
                };
                rn.push(
                    Node::new(
                        format!("{rid}/{}/{}", rt.id, r.destination),
                        RowKind::Route,
                        &r.destination,
                        format!("→ {target} {}", r.state),
                    )
                    .health(aws_state(&r.state))
                    .target(if r.local {
                        TargetHint::None
                    } else {
                        TargetHint::Route {
                            table: rt.id.clone(),
                            cidr: r.destination.clone(),
                        }
                    }),
                );
            }
            rts.push(rn);
        }
        vn.push(rts);
        let aid = format!("{vid}/acls");
        let mut acls = Node::new(
            aid.clone(),
            RowKind::Group,
            "network ACLs",
            format!("{}", v.network_acls.len()),
        );
        for a in &v.network_acls {
            acls.push(
                Node::new(
                    format!("{aid}/{}", a.id),
                    RowKind::Acl,
                    &a.id,
                    format!(
                        "{}{} subnets{}",
                        if a.default { "default, " } else { "" },
                        a.subnets.len(),
                        name_tag(&a.tags)
                    ),
                )
                .fault(tagged(&a.tags)),
            );
        }
        vn.push(acls);
        root.push(vn);
    }
    let loose: Vec<_> = t.instances.iter().filter(|i| i.subnet.is_none()).collect();
    if !loose.is_empty() {
        let lid = format!("{root_id}/instances");
        let mut g = Node::new(
            lid.clone(),
            RowKind::Group,
            "instances without subnet",
            format!("{}", loose.len()),
        );
        for i in loose {
            g.push(
                Node::new(
                    format!("{lid}/{}", i.id),
                    RowKind::Instance,
                    &i.id,
                    i.state.clone(),
                )
                .health(aws_state(&i.state))
                .fault(tagged(&i.tags))
                .target(TargetHint::Instance(i.id.clone())),
            );
        }
        root.push(g);
    }
    let did = format!("{root_id}/rds");
    let mut rds = Node::new(
        did.clone(),
        RowKind::Group,
        "RDS",
        format!("{} clusters", t.db_clusters.len()),
    );
    for c in &t.db_clusters {
        let mut cn = Node::new(
            format!("{did}/{}", c.id),
            RowKind::DbCluster,
            &c.id,
            format!("{} {}", c.engine, c.status),
        )
        .health(aws_state(&c.status))
        .fault(tagged(&c.tags))
        .target(TargetHint::DbCluster(c.id.clone()));
        for i in t
            .db_instances
            .iter()
            .filter(|i| i.cluster.as_deref() == Some(&c.id))
        {
            let role = if c.writer.as_deref() == Some(&i.id) {
                "writer"
            } else {
                "reader"
            };
            cn.push(
                Node::new(
                    format!("{did}/{}/{}", c.id, i.id),
                    RowKind::DbInstance,
                    &i.id,
                    format!("{role} {} {}", i.status, i.zone.as_deref().unwrap_or("")),
                )
                .health(aws_state(&i.status)),
            );
        }
        rds.push(cn);
    }
    for i in t.db_instances.iter().filter(|i| i.cluster.is_none()) {
        rds.push(
            Node::new(
                format!("{did}/{}", i.id),
                RowKind::DbInstance,
                &i.id,
                format!(
                    "{} {}{}",
                    i.engine,
                    i.status,
                    if i.multi_az { " multi-AZ" } else { "" }
                ),
            )
            .health(aws_state(&i.status))
            .target(TargetHint::DbInstance(i.id.clone())),
        );
    }
    root.push(rds);
    root
}

/// The rows expanded by default: roots and namespaces (pods stay folded under workloads).
pub fn default_expanded(root: &Node, out: &mut HashSet<String>) {
    out.insert(root.row.id.clone());
    for c in &root.children {
        if matches!(c.row.kind, RowKind::Namespace | RowKind::Vpc)
            || (c.row.kind == RowKind::Group && c.row.label == "RDS")
        {
            out.insert(c.row.id.clone());
        }
    }
}

/// The visible rows: children of expanded rows, or with a filter every match and its ancestors.
pub fn flatten(roots: &[Node], expanded: &HashSet<String>, filter: &str) -> Vec<Row> {
    let mut out = Vec::new();
    let needle = filter.trim().to_lowercase();
    for r in roots {
        if needle.is_empty() {
            walk(r, 0, expanded, &mut out);
        } else {
            walk_filtered(r, 0, &needle, &mut out);
        }
    }
    out
}

fn walk(n: &Node, depth: u16, expanded: &HashSet<String>, out: &mut Vec<Row>) {
    let open = expanded.contains(&n.row.id);
    let mut row = n.row.clone();
    row.depth = depth;
    row.expandable = !n.children.is_empty();
    row.expanded = open && row.expandable;
    out.push(row);
    if open {
        for c in &n.children {
            walk(c, depth + 1, expanded, out);
        }
    }
}

/// Pushes the rows of `n` that match or lead to a match; returns whether any did.
fn walk_filtered(n: &Node, depth: u16, needle: &str, out: &mut Vec<Row>) -> bool {
    let at = out.len();
    let mut row = n.row.clone();
    row.depth = depth;
    row.expandable = !n.children.is_empty();
    row.expanded = row.expandable;
    out.push(row);
    let mut any = false;
    for c in &n.children {
        any |= walk_filtered(c, depth + 1, needle, out);
    }
    let me = n.row.label.to_lowercase().contains(needle);
    if !me && !any {
        out.truncate(at);
    }
    me || any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::k8s::{NamespaceNode, NodeInfo, WorkloadNode};

    fn topo(pods: usize) -> K8sTopology {
        let pod = |i: usize| PodInfo {
            name: format!("web-{i}"),
            phase: "Running".into(),
            ready: !i.is_multiple_of(7),
            restarts: 0,
            node: Some("node-a".into()),
            faults: if i == 3 {
                vec!["chaosduck-net".into()]
            } else {
                vec![]
            },
        };
        K8sTopology {
            namespaces: vec![NamespaceNode {
                name: "shop".into(),
                workloads: vec![WorkloadNode {
                    kind: "Deployment".into(),
                    name: "web".into(),
                    desired: pods as i32,
                    ready: pods as i32 - 1,
                    selector: "app=web".into(),
                    pods: (0..pods).map(pod).collect(),
                }],
                bare_pods: vec![],
                services: vec![],
            }],
            nodes: vec![NodeInfo {
                name: "node-a".into(),
                zone: Some("zone-a".into()),
                schedulable: true,
                ready: true,
                chaosduck_cordon: false,
                pods,
            }],
            pods,
            faulted_pods: 1,
        }
    }

    #[test]
    fn folded_workloads_hide_their_pods_and_carry_the_fault_marker() {
        let root = k8s_tree(&topo(10), "kind", None);
        let mut exp = HashSet::new();
        default_expanded(&root, &mut exp);
        let rows = flatten(std::slice::from_ref(&root), &exp, "");
        let labels: Vec<_> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["⎈ kind", "shop", "web", "nodes"]);
        assert!(rows[2].fault && rows[1].fault && rows[0].fault);
        assert!(!rows[3].fault);
        assert!(rows[2].expandable && !rows[2].expanded);
        exp.insert(rows[2].id.clone());
        let rows = flatten(std::slice::from_ref(&root), &exp, "");
        assert_eq!(rows.len(), 14);
        assert_eq!(rows[3].depth, 3);
    }

    #[test]
    fn filter_keeps_matches_and_their_ancestors_only() {
        let root = k8s_tree(&topo(100), "kind", None);
        let rows = flatten(std::slice::from_ref(&root), &HashSet::new(), "WEB-42");
        let labels: Vec<_> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["⎈ kind", "shop", "web", "web-42"]);
        assert!(
            flatten(
                std::slice::from_ref(&root),
                &HashSet::new(),
                "nothing-like-it"
            )
            .is_empty()
        );
    }

    #[test]
    fn ten_thousand_pods_flatten_to_every_row_when_expanded() {
        let root = k8s_tree(&topo(10_000), "kind", None);
        let mut exp = HashSet::new();
        default_expanded(&root, &mut exp);
        exp.insert("k8s:kind/ns/shop/Deployment/web".into());
        let rows = flatten(std::slice::from_ref(&root), &exp, "");
        assert_eq!(rows.len(), 10_004);
        assert!(matches!(rows[5].target, TargetHint::Pod { .. }));
    }
}
