//! `topology --aws`: the AWS topology of one region, as a tree or JSON.

use super::{Cli, Exit, OutputFormat, fail};
use crate::engine::aws::client::AwsClients;
use crate::topology::aws::{AwsTopology, discover};

/// Prints the topology; exits 5 when a service could not be read (the rest is still shown).
pub async fn show(cli: &Cli, aws: bool, output: OutputFormat) -> Exit {
    if !aws {
        return fail(
            Exit::Invalid,
            "only the AWS topology is available in this build; pass --aws",
        );
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
