//! Each AWS fault end to end against moto's standalone server with the real SDK and the real
//! binary: inject, observe the fault in AWS, revert, and verify exact restoration.

mod aws_common;
use aws_common::fixture::{self, Net};
use aws_common::{AwsHome, Peer, Sdk, code, eventually, peers, text};
use std::time::Duration;

const OBSERVE: Duration = Duration::from_secs(20);

fn exp_body(fault: &str, target: &str, duration: &str) -> String {
    format!(
        "  fault: {fault}\n  target: {target}\n  duration: {duration}\n  safety: {{blastRadius: 100%}}\n"
    )
}

async fn setup(peer: &Peer) -> (Sdk, Net) {
    let sdk = Sdk::new(&peer.url());
    let net = fixture::build(&sdk).await;
    (sdk, net)
}

/// Runs a scenario against every peer (moto, the sandbox).
macro_rules! on_every_peer {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            for peer in peers().await {
                eprintln!("== {} against {}", stringify!($name), peer.name());
                $body(&peer).await;
            }
        }
    };
}

on_every_peer!(
    ec2_stop_stops_the_chosen_instances_and_restarts_them,
    ec2_stop_stops_the_chosen_instances_and_restarts_them_on
);

async fn ec2_stop_stops_the_chosen_instances_and_restarts_them_on(peer: &Peer) {
    let (sdk, net) = setup(peer).await;
    let h = AwsHome::new(&peer.url());
    let f = h.experiment(
        "stop",
        &exp_body(
            "{type: ec2_stop}",
            "{instances: {tags: {role: web}, count: 2}}",
            "3s",
        ),
    );
    let before = fixture::instances(&sdk).await;
    let child = h.spawn(&["run", f.to_str().unwrap()]);
    // Observe: exactly two web instances stopped and tagged with the experiment.
    let seen = eventually(OBSERVE, || async {
        let now = fixture::instances(&sdk).await;
        let stopped: Vec<_> = now
            .iter()
            .filter(|(_, (s, t))| s == "stopped" && t.contains_key("chaosduck:experiment"))
            .map(|(id, _)| id.clone())
            .collect();
        stopped.len() == 2 && stopped.iter().all(|id| net.web.contains(id))
    })
    .await;
    let o = child.finish(Duration::from_secs(60));
    h.assert_no_secret(&text(&o));
    assert!(
        seen,
        "two web instances were never seen stopped: {}",
        text(&o)
    );
    assert_eq!(code(&o), 7, "{}", text(&o)); // no probes: inconclusive
    assert!(text(&o).contains("running again after"), "{}", text(&o));
    assert_eq!(
        fixture::instances(&sdk).await,
        before,
        "instances not restored exactly"
    );
    let o = h.run(&["recover"]);
    assert!(text(&o).contains("journal clean"), "{}", text(&o));
    h.assert_store_and_logs_clean();
}

on_every_peer!(
    route_blackhole_restores_targets_of_every_kind,
    route_blackhole_restores_targets_of_every_kind_on
);

async fn route_blackhole_restores_targets_of_every_kind_on(peer: &Peer) {
    let (sdk, net) = setup(peer).await;
    let h = AwsHome::new(&peer.url());
    for (cidr, kind) in &net.routes {
        let before = fixture::routes(&sdk, &net.rtb).await;
        let tags_before = fixture::table_tags(&sdk, &net.rtb).await;
        let enis_before = fixture::interfaces(&sdk).await;
        let f = h.experiment(
            "hole",
            &exp_body(
                "{type: route_blackhole}",
                &format!(
                    "{{route: {{routeTable: {}, destinationCidr: {cidr}}}}}",
                    net.rtb
                ),
                "2s",
            ),
        );
        let started = std::time::Instant::now();
        let child = h.spawn(&["run", f.to_str().unwrap()]);
        // Observe: the route points at a new, ChaosDuck-tagged, unattached interface.
        let seen = eventually(OBSERVE, || async {
            let now = fixture::routes(&sdk, &net.rtb).await;
            let enis = fixture::interfaces(&sdk).await;
            let new: Vec<_> = enis.difference(&enis_before).cloned().collect();
            new.len() == 1 && now.get(cidr).is_some_and(|r| r.contains(&new[0]))
        })
        .await;
        let o = child.finish(Duration::from_secs(60));
        let elapsed = started.elapsed();
        assert!(
            seen,
            "{kind}: the route never pointed at the blackhole: {}",
            text(&o)
        );
        assert_eq!(code(&o), 7, "{kind}: {}", text(&o));
        assert_eq!(
            fixture::routes(&sdk, &net.rtb).await,
            before,
            "{kind}: routes not restored exactly"
        );
        assert_eq!(
            fixture::interfaces(&sdk).await,
            enis_before,
            "{kind}: interface left"
        );
        assert_eq!(
            fixture::table_tags(&sdk, &net.rtb).await,
            tags_before,
            "{kind}: tags left"
        );
        eprintln!("route_blackhole {kind}: whole run {elapsed:?}");
    }
    h.assert_store_and_logs_clean();
}

on_every_peer!(
    az_outage_swaps_each_subnet_of_the_zone_and_restores_each_association,
    az_outage_swaps_each_subnet_of_the_zone_and_restores_each_association_on
);

async fn az_outage_swaps_each_subnet_of_the_zone_and_restores_each_association_on(peer: &Peer) {
    let (sdk, net) = setup(peer).await;
    let h = AwsHome::new(&peer.url());
    let (assoc_before, acls_before) = fixture::acls(&sdk, &net.vpc).await;
    let zone_a: Vec<String> = net
        .subnets
        .iter()
        .filter(|(_, z)| z == "us-east-1a")
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(assoc_before[&zone_a[1]], net.custom_acl);
    let f = h.experiment(
        "az",
        &exp_body(
            "{type: az_outage}",
            &format!(
                "{{availabilityZone: {{vpc: {}, zone: us-east-1a}}}}",
                net.vpc
            ),
            "3s",
        ),
    );
    let child = h.spawn(&["run", f.to_str().unwrap()]);
    let seen = eventually(OBSERVE, || async {
        let (assoc, all) = fixture::acls(&sdk, &net.vpc).await;
        let new: Vec<_> = all.difference(&acls_before).cloned().collect();
        new.len() == 1
            && zone_a.iter().all(|s| assoc.get(s) == Some(&new[0]))
            && net
                .subnets
                .iter()
                .filter(|(_, z)| z != "us-east-1a")
                .all(|(s, _)| assoc.get(s) == assoc_before.get(s))
    })
    .await;
    let o = child.finish(Duration::from_secs(60));
    assert!(seen, "zone a was never cut off alone: {}", text(&o));
    assert_eq!(code(&o), 7, "{}", text(&o));
    let (assoc_after, acls_after) = fixture::acls(&sdk, &net.vpc).await;
    assert_eq!(assoc_after, assoc_before, "associations not restored");
    assert_eq!(acls_after, acls_before, "deny-all ACL left behind");
    h.assert_store_and_logs_clean();
}

on_every_peer!(
    rds_cluster_failover_changes_the_writer_and_fails_back,
    rds_cluster_failover_changes_the_writer_and_fails_back_on
);

async fn rds_cluster_failover_changes_the_writer_and_fails_back_on(peer: &Peer) {
    let sdk = Sdk::new(&peer.url());
    let (cluster, members, _) = fixture::build_rds(&sdk).await;
    let h = AwsHome::new(&peer.url());
    let (_, writer, tags_before) = fixture::cluster(&sdk, &cluster).await;
    let writer = writer.expect("a writer");
    let target = members
        .iter()
        .find(|m| **m != writer)
        .expect("a reader")
        .clone();
    let f = h.experiment(
        "fo",
        &exp_body(
            &format!("{{type: rds_failover, targetInstance: {target}, failBack: true}}"),
            &format!("{{dbCluster: {{id: {cluster}}}}}"),
            "3s",
        ),
    );
    let child = h.spawn(&["run", f.to_str().unwrap()]);
    let seen = eventually(OBSERVE, || async {
        fixture::cluster(&sdk, &cluster).await.1.as_deref() == Some(target.as_str())
    })
    .await;
    let o = child.finish(Duration::from_secs(60));
    assert!(seen, "the writer never moved to {target}: {}", text(&o));
    assert_eq!(code(&o), 7, "{}", text(&o));
    assert!(text(&o).contains("failed back to"), "{}", text(&o));
    let (status, writer_after, tags_after) = fixture::cluster(&sdk, &cluster).await;
    assert_eq!(status, "available");
    assert_eq!(
        writer_after.as_deref(),
        Some(writer.as_str()),
        "no fail-back"
    );
    assert_eq!(tags_after, tags_before, "tags left on the cluster");
}

on_every_peer!(
    rds_multi_az_instance_failover_waits_for_available,
    rds_multi_az_instance_failover_waits_for_available_on
);

async fn rds_multi_az_instance_failover_waits_for_available_on(peer: &Peer) {
    let sdk = Sdk::new(&peer.url());
    let (_, _, inst) = fixture::build_rds(&sdk).await;
    let h = AwsHome::new(&peer.url());
    let f = h.experiment(
        "fo-i",
        &exp_body(
            "{type: rds_failover}",
            &format!("{{dbInstance: {{id: {inst}}}}}"),
            "1s",
        ),
    );
    let o = h.run(&["run", f.to_str().unwrap()]);
    assert_eq!(code(&o), 7, "{}", text(&o));
    assert!(text(&o).contains("available"), "{}", text(&o));
    let r = sdk
        .rds
        .describe_db_instances()
        .db_instance_identifier(&inst)
        .send()
        .await
        .expect("describe");
    let i = &r.db_instances()[0];
    assert_eq!(i.db_instance_status(), Some("available"));
    assert!(
        !i.tag_list()
            .iter()
            .any(|t| t.key().is_some_and(|k| k.starts_with("chaosduck:"))),
        "tags left"
    );
}

on_every_peer!(
    dry_run_lists_every_resource_and_undo_call_and_changes_nothing,
    dry_run_lists_every_resource_and_undo_call_and_changes_nothing_on
);

async fn dry_run_lists_every_resource_and_undo_call_and_changes_nothing_on(peer: &Peer) {
    let (sdk, net) = setup(peer).await;
    let h = AwsHome::new(&peer.url());
    let before = (
        fixture::routes(&sdk, &net.rtb).await,
        fixture::acls(&sdk, &net.vpc).await,
        fixture::instances(&sdk).await,
    );
    let f = h.experiment(
        "az",
        &exp_body(
            "{type: az_outage}",
            &format!(
                "{{availabilityZone: {{vpc: {}, zone: us-east-1a}}}}",
                net.vpc
            ),
            "3s",
        ),
    );
    let o = h.run(&["dry-run", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("ec2:CreateNetworkAcl"), "{t}");
    assert!(t.contains("undo: ec2:DeleteNetworkAcl"), "{t}");
    for (s, z) in &net.subnets {
        assert_eq!(t.contains(s.as_str()), z == "us-east-1a", "{s} {z}: {t}");
    }
    assert!(t.contains(&format!("back to {}", net.custom_acl)), "{t}");
    let f = h.experiment(
        "hole",
        &exp_body(
            "{type: route_blackhole}",
            &format!(
                "{{route: {{routeTable: {}, destinationCidr: 10.1.0.0/16}}}}",
                net.rtb
            ),
            "3s",
        ),
    );
    let o = h.run(&["dry-run", f.to_str().unwrap()]);
    let t = text(&o);
    assert!(
        t.contains("ec2:ReplaceRoute") && t.contains("nat-gateway nat-"),
        "{t}"
    );
    assert!(t.contains("undo: ec2:DeleteNetworkInterface"), "{t}");
    let after = (
        fixture::routes(&sdk, &net.rtb).await,
        fixture::acls(&sdk, &net.vpc).await,
        fixture::instances(&sdk).await,
    );
    assert_eq!(before, after, "a dry run changed AWS");
}

on_every_peer!(
    guardrails_refuse_untagged_targets_and_foreign_regions_and_accounts,
    guardrails_refuse_untagged_targets_and_foreign_regions_and_accounts_on
);

async fn guardrails_refuse_untagged_targets_and_foreign_regions_and_accounts_on(peer: &Peer) {
    let (sdk, net) = setup(peer).await;
    let h = AwsHome::new(&peer.url());
    let before = fixture::instances(&sdk).await;
    let f = h.experiment(
        "stop",
        &exp_body(
            "{type: ec2_stop}",
            "{instances: {tags: {role: web}, count: 1}}",
            "1s",
        ),
    );
    for (cfg, rule) in [
        (
            "[aws]\nrequired_tags = { chaos = \"allowed\" }\n",
            "required-tags",
        ),
        (
            "[aws]\nallowed_regions = [\"eu-west-1\"]\n",
            "allowed-regions",
        ),
        (
            "[aws]\nallowed_accounts = [\"999999999999\"]\n",
            "allowed-accounts",
        ),
    ] {
        let c = h.config(cfg);
        let o = h.run(&["--config", c.to_str().unwrap(), "run", f.to_str().unwrap()]);
        assert_eq!(code(&o), 4, "{rule}: {}", text(&o));
        assert!(text(&o).contains(rule), "{rule}: {}", text(&o));
    }
    // The region and account moto uses are accepted, and so are matching tags.
    let c = h.config(
        "[aws]\nrequired_tags = { env = \"chaos\" }\nallowed_regions = [\"us-east-1\"]\nallowed_accounts = [\"123456789012\"]\n",
    );
    let o = h.run(&[
        "--config",
        c.to_str().unwrap(),
        "dry-run",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(fixture::instances(&sdk).await, before);
    // The blast radius counts instances.
    let f = h.experiment(
        "stop-all",
        "  fault: {type: ec2_stop}\n  target: {instances: {tags: {env: chaos}}}\n  duration: 1s\n  safety: {blastRadius: 2}\n",
    );
    let o = h.run(&["run", f.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("blast-radius"), "{}", text(&o));
    let _ = net;
}
