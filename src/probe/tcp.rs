//! `tcp` probes: connect within a timeout; the value is the connect time in milliseconds.

use super::Outcome;
use crate::domain::probe::TcpProbe;
use std::time::{Duration, Instant};

/// Connects once.
pub async fn evaluate(t: &TcpProbe, timeout: Duration) -> Outcome {
    let start = Instant::now();
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((t.host.as_str(), t.port)),
    )
    .await
    {
        Ok(Ok(_)) => Outcome {
            passed: true,
            value: Some(start.elapsed().as_secs_f64() * 1000.0),
            error: None,
            skipped: false,
        },
        Ok(Err(e)) => Outcome::fail(
            None,
            format!("connect to {}:{} failed: {e}", t.host, t.port),
        ),
        Err(_) => Outcome::fail(None, format!("connect to {}:{} timed out", t.host, t.port)),
    }
}
