//! `chaosduck recover --sweep`: restores what ChaosDuck changed in AWS from the tags alone, for
//! when the journal is lost. Only artefacts whose `chaosduck:expires-at` has passed are touched
//! (a live run may own the others) unless `force` is set.

use super::client::{AwsError, Clients, classify};
use super::records::{
    RouteTargetSpec, TAG_DESTINATION, TAG_EXPERIMENT, TAG_EXPIRES_AT, TAG_FAIL_BACK,
    TAG_ORIGINAL_ACL, TAG_ORIGINAL_ROUTE_PREFIX, TAG_ORIGINAL_WRITER, TAG_PRIOR_STATE,
    TAG_ROUTE_TABLE,
};
use super::{
    AwsBackend, az_outage, ec2_filter, ec2_stop, ec2_tag_map, expired, rds_failover,
    route_blackhole,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the sweep did with one artefact.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SweepItem {
    /// The resource id.
    pub resource: String,
    /// The experiment that changed it.
    pub experiment: String,
    /// `restored`, `skipped` or `failed`.
    pub outcome: String,
    /// What happened, or what to do.
    pub message: String,
}

/// The sweep of one region.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    /// The region swept.
    pub region: String,
    /// Per artefact.
    pub items: Vec<SweepItem>,
    /// Services that could not be listed (an AccessDenied on RDS does not hide EC2).
    pub service_errors: Vec<String>,
}

impl SweepReport {
    /// Artefacts that could not be restored, plus services that could not be read.
    pub fn failures(&self) -> usize {
        self.items.iter().filter(|i| i.outcome == "failed").count() + self.service_errors.len()
    }

    fn record(&mut self, resource: &str, experiment: &str, r: Result<String, AwsError>) {
        let (outcome, message) = match r {
            Ok(m) => ("restored", m),
            Err(e) => ("failed", e.to_string()),
        };
        self.items.push(SweepItem {
            resource: resource.into(),
            experiment: experiment.into(),
            outcome: outcome.into(),
            message,
        });
    }

    fn skip(&mut self, resource: &str, tags: &BTreeMap<String, String>) {
        self.items.push(SweepItem {
            resource: resource.into(),
            experiment: tags.get(TAG_EXPERIMENT).cloned().unwrap_or_default(),
            outcome: "skipped".into(),
            message: format!(
                "expires at {}: a run may still own it; sweep again after that or pass --force",
                tags.get(TAG_EXPIRES_AT).map_or("?", String::as_str)
            ),
        });
    }
}

/// Sweeps one region (the default when `None`).
pub async fn sweep(
    b: &AwsBackend,
    region: Option<&str>,
    force: bool,
) -> Result<SweepReport, AwsError> {
    let c = b.clients().get(region).await?;
    let mut rep = SweepReport {
        region: c.region.clone(),
        ..Default::default()
    };
    let due = |t: &BTreeMap<String, String>| force || expired(t.get(TAG_EXPIRES_AT));
    if let Err(e) = sweep_routes(&c, &mut rep, &due).await {
        rep.service_errors.push(format!("routes: {e}"));
    }
    if let Err(e) = sweep_acls(&c, &mut rep, &due).await {
        rep.service_errors.push(format!("network ACLs: {e}"));
    }
    if let Err(e) = sweep_instances(b, &c, &mut rep, &due).await {
        rep.service_errors.push(format!("EC2 instances: {e}"));
    }
    if let Err(e) = sweep_rds(b, &c, &mut rep, &due).await {
        rep.service_errors.push(format!("RDS: {e}"));
    }
    Ok(rep)
}

async fn sweep_routes(
    c: &Clients,
    rep: &mut SweepReport,
    due: &impl Fn(&BTreeMap<String, String>) -> bool,
) -> Result<(), AwsError> {
    let tables = c
        .ec2
        .describe_route_tables()
        .filters(ec2_filter("tag-key", &[TAG_EXPERIMENT]))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeRouteTables", e))?;
    for t in tables.route_tables() {
        let Some(id) = t.route_table_id() else {
            continue;
        };
        let tags = ec2_tag_map(t.tags());
        let Some(exp) = tags.get(TAG_EXPERIMENT).cloned() else {
            continue;
        };
        if !due(&tags) {
            rep.skip(id, &tags);
            continue;
        }
        for (k, v) in &tags {
            let Some(cidr) = k.strip_prefix(TAG_ORIGINAL_ROUTE_PREFIX) else {
                continue;
            };
            let original = RouteTargetSpec::decode(v);
            let r = route_blackhole::restore_route(c, id, cidr, &original, &exp).await;
            rep.record(&format!("{id}/{cidr}"), &exp, r);
        }
    }
    let enis = c
        .ec2
        .describe_network_interfaces()
        .filters(ec2_filter("tag-key", &[TAG_EXPERIMENT]))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNetworkInterfaces", e))?;
    for n in enis.network_interfaces() {
        let Some(id) = n.network_interface_id() else {
            continue;
        };
        let tags = ec2_tag_map(n.tag_set());
        let (Some(exp), Some(rtb), Some(cidr)) = (
            tags.get(TAG_EXPERIMENT),
            tags.get(TAG_ROUTE_TABLE),
            tags.get(TAG_DESTINATION),
        ) else {
            continue;
        };
        if !due(&tags) {
            rep.skip(id, &tags);
            continue;
        }
        let r = route_blackhole::delete_interfaces(c, &[id.to_string()], rtb, cidr).await;
        rep.record(id, exp, r);
    }
    Ok(())
}

async fn sweep_acls(
    c: &Clients,
    rep: &mut SweepReport,
    due: &impl Fn(&BTreeMap<String, String>) -> bool,
) -> Result<(), AwsError> {
    let subnets = c
        .ec2
        .describe_subnets()
        .filters(ec2_filter("tag-key", &[TAG_ORIGINAL_ACL]))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeSubnets", e))?;
    for s in subnets.subnets() {
        let Some(id) = s.subnet_id() else { continue };
        let tags = ec2_tag_map(s.tags());
        let Some(orig) = tags.get(TAG_ORIGINAL_ACL) else {
            continue;
        };
        let exp = tags.get(TAG_EXPERIMENT).cloned().unwrap_or_default();
        if !due(&tags) {
            rep.skip(id, &tags);
            continue;
        }
        let r = az_outage::restore_subnet(c, id, orig, None).await;
        rep.record(id, &exp, r);
    }
    let acls = c
        .ec2
        .describe_network_acls()
        .filters(ec2_filter("tag-key", &[TAG_EXPERIMENT]))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeNetworkAcls", e))?;
    for a in acls.network_acls() {
        let Some(id) = a.network_acl_id() else {
            continue;
        };
        let tags = ec2_tag_map(a.tags());
        let Some(exp) = tags.get(TAG_EXPERIMENT) else {
            continue;
        };
        if !due(&tags) {
            rep.skip(id, &tags);
            continue;
        }
        let subnets: Vec<String> = a
            .associations()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect();
        let r = az_outage::delete_acl(c, id, &subnets)
            .await
            .map(|()| format!("deleted deny-all ACL {id}"));
        rep.record(id, exp, r);
    }
    Ok(())
}

async fn sweep_instances(
    b: &AwsBackend,
    c: &Clients,
    rep: &mut SweepReport,
    due: &impl Fn(&BTreeMap<String, String>) -> bool,
) -> Result<(), AwsError> {
    let r = c
        .ec2
        .describe_instances()
        .filters(ec2_filter("tag-key", &[TAG_PRIOR_STATE]))
        .send()
        .await
        .map_err(|e| classify("ec2:DescribeInstances", e))?;
    for res in r.reservations() {
        for i in res.instances() {
            let Some(id) = i.instance_id() else { continue };
            let tags = ec2_tag_map(i.tags());
            let exp = tags.get(TAG_EXPERIMENT).cloned().unwrap_or_default();
            if !due(&tags) {
                rep.skip(id, &tags);
                continue;
            }
            let r = async {
                let note = if tags.get(TAG_PRIOR_STATE).map(String::as_str) == Some("running") {
                    ec2_stop::restart(b, c, id).await?
                } else {
                    format!("{id} was not running before; left as is")
                };
                ec2_stop::untag(c, id).await?;
                Ok(note)
            }
            .await;
            rep.record(id, &exp, r);
        }
    }
    Ok(())
}

async fn sweep_rds(
    b: &AwsBackend,
    c: &Clients,
    rep: &mut SweepReport,
    due: &impl Fn(&BTreeMap<String, String>) -> bool,
) -> Result<(), AwsError> {
    let clusters = c
        .rds
        .describe_db_clusters()
        .send()
        .await
        .map_err(|e| classify("rds:DescribeDBClusters", e))?;
    for cl in clusters.db_clusters() {
        let Some(id) = cl.db_cluster_identifier() else {
            continue;
        };
        let tags: BTreeMap<String, String> = cl
            .tag_list()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        let Some(exp) = tags.get(TAG_EXPERIMENT).cloned() else {
            continue;
        };
        if !due(&tags) {
            rep.skip(id, &tags);
            continue;
        }
        let writer = tags.get(TAG_ORIGINAL_WRITER).cloned().unwrap_or_default();
        let fail_back = tags.get(TAG_FAIL_BACK).map(String::as_str) == Some("true");
        let r = rds_failover::settle_cluster(b, c, id, &writer, fail_back, Some(&exp)).await;
        rep.record(id, &exp, r);
    }
    let instances = c
        .rds
        .describe_db_instances()
        .send()
        .await
        .map_err(|e| classify("rds:DescribeDBInstances", e))?;
    for i in instances.db_instances() {
        let Some(id) = i.db_instance_identifier() else {
            continue;
        };
        if i.db_cluster_identifier().is_some() {
            continue;
        }
        let tags: BTreeMap<String, String> = i
            .tag_list()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        let Some(exp) = tags.get(TAG_EXPERIMENT).cloned() else {
            continue;
        };
        if !due(&tags) {
            rep.skip(id, &tags);
            continue;
        }
        let r = rds_failover::settle_instance(b, c, id).await;
        rep.record(id, &exp, r);
    }
    Ok(())
}
