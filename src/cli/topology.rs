//! `topology`: the Kubernetes topology from watch caches, or with `--aws` the AWS topology of one
//! region; as a tree or JSON.

use super::{Cli, Exit, OutputFormat, fail};
use crate::engine::aws::client::AwsClients;
use crate::topology::aws::{AwsTopology, discover};

/// Prints the topology; exits 5 when a service could not be read (the rest is still shown).
pub async fn show(cli: &Cli, aws: bool, contexts: &[String], output: OutputFormat) -> Exit {
    if !aws && !contexts.is_empty() {
        return several_contexts(cli, contexts, output).await;
    }
    if !aws {
        return kubernetes(cli, output).await;
    }
    let clients = AwsClients::new(cli.aws_settings());
    let c = match clients.get(None).await {
        Ok(c) => c,
        Err(e) => return fail(Exit::Invalid, e),
    };
    let t = discover(&c).await;
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&t).unwrap_or_default()),
        OutputFormat::Text => print_tree(&t),
    }
    if t.errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// Watches several contexts at once: one watcher set per context, all syncing concurrently.
async fn several_contexts(cli: &Cli, contexts: &[String], output: OutputFormat) -> Exit {
    use crate::engine::k8s::client;
    use crate::topology::k8s::K8sWatch;
    let file = cli
        .kubeconfig
        .as_deref()
        .filter(|p| !p.to_string_lossy().contains(':'));
    let mut watches = Vec::new();
    for ctx in contexts {
        match client::connect(file, Some(ctx), client::DEFAULT_REQUEST_TIMEOUT).await {
            Ok(c) => watches.push((ctx.clone(), K8sWatch::start(c.watch))),
            Err(e) => return fail(Exit::Invalid, e),
        }
    }
    let limit = std::time::Duration::from_secs(120);
    let ready = futures::future::join_all(watches.iter().map(|(_, w)| w.ready(limit))).await;
    for ((ctx, _), r) in watches.iter().zip(ready) {
        if let Err(e) = r {
            return fail(Exit::Environment, format!("context {ctx}: {e}"));
        }
    }
    match output {
        OutputFormat::Json => {
            let map: std::collections::BTreeMap<&str, crate::topology::k8s::K8sTopology> = watches
                .iter()
                .map(|(c, w)| (c.as_str(), w.snapshot()))
                .collect();
            println!("{}", serde_json::to_string(&map).unwrap_or_default());
        }
        OutputFormat::Text => {
            for (c, w) in &watches {
                print_k8s(c, &w.snapshot());
            }
        }
    }
    Exit::Ok
}

async fn kubernetes(cli: &Cli, output: OutputFormat) -> Exit {
    use crate::engine::k8s::client;
    use crate::topology::k8s::K8sWatch;
    let mut sandbox = None;
    let connected = if cli.sandbox {
        let sb =
            match crate::sandbox::Sandbox::start(crate::sandbox::SandboxOptions::default()).await {
                Ok(s) => s,
                Err(e) => return fail(Exit::Environment, format!("cannot start the sandbox: {e}")),
            };
        let mut kc = sb.kube_config();
        sandbox = Some(sb);
        client::from_config(
            &mut kc,
            Some("chaosduck-sandbox"),
            client::DEFAULT_REQUEST_TIMEOUT,
        )
    } else {
        let file = cli
            .kubeconfig
            .as_deref()
            .filter(|p| !p.to_string_lossy().contains(':'));
        client::connect(
            file,
            cli.context.as_deref(),
            client::DEFAULT_REQUEST_TIMEOUT,
        )
        .await
    };
    let c = match connected {
        Ok(c) => c,
        Err(e) => return fail(Exit::Invalid, e),
    };
    let w = K8sWatch::start(c.watch);
    if let Err(e) = w.ready(std::time::Duration::from_secs(120)).await {
        return fail(Exit::Environment, e);
    }
    let t = w.snapshot();
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string(&t).unwrap_or_default()),
        OutputFormat::Text => print_k8s(&c.context, &t),
    }
    drop(w);
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    Exit::Ok
}

fn print_k8s(context: &str, t: &crate::topology::k8s::K8sTopology) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let _ = writeln!(
        out,
        "context {context}: {} namespaces, {} pods ({} with a ChaosDuck fault), {} nodes",
        t.namespaces.len(),
        t.pods,
        t.faulted_pods,
        t.nodes.len()
    );
    let pod = |out: &mut std::io::BufWriter<std::io::StdoutLock<'_>>,
               indent: &str,
               p: &crate::topology::k8s::PodInfo| {
        let faults = if p.faults.is_empty() {
            String::new()
        } else {
            format!("  ⚡ {}", p.faults.join(", "))
        };
        let _ = writeln!(
            out,
            "{indent}pod {} {}{} restarts {} on {}{faults}",
            p.name,
            p.phase,
            if p.ready { " ready" } else { " not-ready" },
            p.restarts,
            p.node.as_deref().unwrap_or("-")
        );
    };
    for n in &t.namespaces {
        let _ = writeln!(out, "namespace {}", n.name);
        for w in &n.workloads {
            let _ = writeln!(
                out,
                "  {} {} {}/{} ready",
                w.kind, w.name, w.ready, w.desired
            );
            for p in &w.pods {
                pod(&mut out, "    ", p);
            }
        }
        for p in &n.bare_pods {
            pod(&mut out, "  ", p);
        }
        for s in &n.services {
            let _ = writeln!(
                out,
                "  service {} ({}) -> {} pod(s)",
                s.name,
                if s.selector.is_empty() {
                    "no selector"
                } else {
                    &s.selector
                },
                s.pods.len()
            );
        }
    }
    for n in &t.nodes {
        let _ = writeln!(
            out,
            "node {} zone {} {}{}{} {} pods",
            n.name,
            n.zone.as_deref().unwrap_or("-"),
            if n.schedulable {
                "schedulable"
            } else {
                "cordoned"
            },
            if n.chaosduck_cordon {
                " (by ChaosDuck)"
            } else {
                ""
            },
            if n.ready { " ready" } else { " not-ready" },
            n.pods
        );
    }
}

fn name(tags: &std::collections::BTreeMap<String, String>) -> String {
    tags.get("Name")
        .map(|n| format!(" ({n})"))
        .unwrap_or_default()
}

fn print_tree(t: &AwsTopology) {
    println!("region {}", t.region);
    for v in &t.vpcs {
        println!("vpc {} {}{}", v.id, v.cidr, name(&v.tags));
        for s in &v.subnets {
            println!(
                "  subnet {} {} {}{}  routes {}  acl {}",
                s.id,
                s.zone,
                s.cidr,
                name(&s.tags),
                s.route_table.as_deref().unwrap_or("-"),
                s.network_acl.as_deref().unwrap_or("-")
            );
        }
        for r in &v.route_tables {
            println!(
                "  route table {}{}{}",
                r.id,
                if r.main { " main" } else { "" },
                name(&r.tags)
            );
            for route in &r.routes {
                let target = if route.local {
                    "local".to_string()
                } else {
                    route
                        .target
                        .as_ref()
                        .map_or("?".to_string(), |t| t.to_string())
                };
                println!("    {} -> {target} [{}]", route.destination, route.state);
            }
        }
        for a in &v.network_acls {
            println!(
                "  network acl {}{}{} subnets {}",
                a.id,
                if a.default { " default" } else { "" },
                name(&a.tags),
                a.subnets.join(",")
            );
        }
    }
    for i in &t.instances {
        println!(
            "instance {} {} {} {}{}{}",
            i.id,
            i.state,
            i.zone.as_deref().unwrap_or("-"),
            i.instance_type.as_deref().unwrap_or("-"),
            name(&i.tags),
            i.auto_scaling_group
                .as_ref()
                .map(|g| format!(" asg {g}"))
                .unwrap_or_default()
        );
    }
    for c in &t.db_clusters {
        println!(
            "db cluster {} {} {} writer {} readers {}",
            c.id,
            c.engine,
            c.status,
            c.writer.as_deref().unwrap_or("-"),
            c.readers.join(",")
        );
    }
    for d in &t.db_instances {
        println!(
            "db instance {} {} {} {}{}{}",
            d.id,
            d.engine,
            d.status,
            d.zone.as_deref().unwrap_or("-"),
            if d.multi_az { " multi-az" } else { "" },
            d.cluster
                .as_ref()
                .map(|c| format!(" in {c}"))
                .unwrap_or_default()
        );
    }
    for e in &t.errors {
        eprintln!("chaosduck: {} unavailable: {}", e.service, e.message);
    }
}
