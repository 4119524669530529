//! `aws` probes: the state of an EC2 instance, the status of an RDS cluster, and which instance
//! is the cluster's writer — through the same SDK clients as the AWS engine.

use super::Outcome;
use crate::domain::probe::AwsProbe;
use crate::engine::aws::client::AwsClients;
use crate::engine::aws::client::classify;
use std::sync::{Arc, RwLock};
use std::time::Duration;

static CLIENTS: RwLock<Option<Arc<AwsClients>>> = RwLock::new(None);

/// Sets the AWS account this process's aws probes read (done when the AWS engine is configured).
pub fn set_clients(c: Option<Arc<AwsClients>>) {
    if let Ok(mut g) = CLIENTS.write() {
        *g = c;
    }
}

/// Evaluates once.
pub async fn evaluate(p: &AwsProbe, timeout: Duration) -> Outcome {
    let Some(c) = CLIENTS.read().ok().and_then(|g| g.clone()) else {
        return Outcome {
            passed: false,
            value: None,
            error: Some(
                "aws probes need AWS settings; pass --profile, --region or --aws-endpoint-url"
                    .into(),
            ),
            skipped: true,
        };
    };
    match tokio::time::timeout(timeout, run(&c, p)).await {
        Ok(Ok(())) => Outcome {
            passed: true,
            value: Some(1.0),
            error: None,
            skipped: false,
        },
        Ok(Err(e)) => Outcome::fail(Some(0.0), e),
        Err(_) => Outcome::fail(
            None,
            format!(
                "no answer from AWS within {}",
                humantime::format_duration(timeout)
            ),
        ),
    }
}

async fn run(c: &AwsClients, p: &AwsProbe) -> Result<(), String> {
    let clients = c.get(None).await.map_err(|e| e.to_string())?;
    if let Some(id) = &p.instance {
        let r = clients
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            // Classified like the engine's errors: "service error" alone says nothing.
            .map_err(|e| classify("ec2:DescribeInstances", e).to_string())?;
        let state = r
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(id.as_str()))
            .and_then(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
            })
            .ok_or_else(|| format!("instance {id} not found"))?;
        if let Some(want) = &p.state
            && &state != want
        {
            return Err(format!("instance {id} is {state}, want {want}"));
        }
    }
    if let Some(id) = &p.db_cluster {
        let r = clients
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| classify("rds:DescribeDBClusters", e).to_string())?;
        let cl = r
            .db_clusters()
            .first()
            .ok_or_else(|| format!("DB cluster {id} not found"))?;
        let status = cl.status().unwrap_or_default().to_string();
        if let Some(want) = &p.state
            && &status != want
        {
            return Err(format!("DB cluster {id} is {status}, want {want}"));
        }
        if let Some(want) = &p.writer {
            let writer = cl
                .db_cluster_members()
                .iter()
                .find(|m| m.is_cluster_writer() == Some(true))
                .and_then(|m| m.db_instance_identifier())
                .unwrap_or_default();
            if writer != want {
                return Err(format!("the writer of {id} is {writer:?}, want {want}"));
            }
        }
    }
    Ok(())
}
