//! `prometheus` probes: a PromQL instant query against the HTTP API; every series of a vector
//! (or the scalar) must satisfy the comparator. The value is the worst series' value.

use super::Outcome;
use crate::domain::probe::PrometheusProbe;
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

fn parse_value(v: &serde_json::Value) -> Result<f64, String> {
    // A sample is [timestamp, "value"].
    let s = v
        .get(1)
        .and_then(|x| x.as_str())
        .ok_or_else(|| format!("malformed sample {v}"))?;
    let n: f64 = s
        .parse()
        .map_err(|_| format!("non-numeric sample value {s:?}"))?;
    if !n.is_finite() {
        return Err(format!("the query returned {s}, which cannot be compared"));
    }
    Ok(n)
}

/// Runs the query once.
pub async fn evaluate(p: &PrometheusProbe, timeout: Duration) -> Outcome {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Outcome::fail(None, format!("cannot build the HTTP client: {e}")),
    };
    let url = format!("{}/api/v1/query", p.url.trim_end_matches('/'));
    let mut req = client
        .get(&url)
        .query(&[("query", p.query.as_str())])
        .timeout(timeout);
    if let Some(var) = &p.bearer_token_env {
        match std::env::var(var) {
            Ok(t) => req = req.bearer_auth(t),
            Err(_) => {
                return Outcome::fail(
                    None,
                    format!("environment variable {var} (bearer token) is not set"),
                );
            }
        }
    }
    if let (Some(u), Some(var)) = (&p.username, &p.password_env) {
        match std::env::var(var) {
            Ok(pw) => req = req.basic_auth(u, Some(pw)),
            Err(_) => {
                return Outcome::fail(
                    None,
                    format!("environment variable {var} (password) is not set"),
                );
            }
        }
    }
    let run = async {
        let resp = req.send().await.map_err(|e| format!("query failed: {e}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        if bytes.len() > 8 << 20 {
            return Err("the answer is larger than 8 MiB".to_string());
        }
        let ans: Answer = serde_json::from_slice(&bytes)
            .map_err(|e| format!("HTTP {status}: the answer is not Prometheus JSON ({e})"))?;
        Ok::<_, String>(ans)
    };
    let ans = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return Outcome::fail(None, e),
        Err(_) => {
            return Outcome::fail(
                None,
                format!("no answer within {}", humantime::format_duration(timeout)),
            );
        }
    };
    if ans.status != "success" {
        return Outcome::fail(
            None,
            format!("query error: {}", ans.error.unwrap_or(ans.status)),
        );
    }
    let Some(data) = ans.data else {
        return Outcome::fail(None, "the answer has no data");
    };
    let values: Result<Vec<(String, f64)>, String> = match data.result_type.as_str() {
        "scalar" => parse_value(&data.result).map(|v| vec![("scalar".into(), v)]),
        "vector" => match data.result.as_array() {
            None => Err("vector result is not a list".to_string()),
            Some(series) => series
                .iter()
                .take(10_000)
                .map(|s| {
                    let name = s.get("metric").map(|m| m.to_string()).unwrap_or_default();
                    parse_value(s.get("value").unwrap_or(&serde_json::Value::Null))
                        .map(|v| (name, v))
                })
                .collect(),
        },
        other => Err(format!(
            "result type {other} is not supported; use an instant vector or scalar"
        )),
    };
    let values = match values {
        Ok(v) => v,
        Err(e) => return Outcome::fail(None, e),
    };
    if values.is_empty() {
        return if p.allow_empty {
            Outcome {
                passed: true,
                value: None,
                error: None,
                skipped: false,
            }
        } else {
            Outcome::fail(None, "the query returned no series")
        };
    }
    for (name, v) in &values {
        if !p.compare(*v) {
            return Outcome::fail(
                Some(*v),
                format!("{name} = {v}, not {} {}", p.comparator, p.threshold),
            );
        }
    }
    // All pass: report the one closest to failing.
    let worst = values
        .iter()
        .map(|(_, v)| *v)
        .min_by(|a, b| (a - p.threshold).abs().total_cmp(&(b - p.threshold).abs()))
        .unwrap_or(values[0].1);
    Outcome {
        passed: true,
        value: Some(worst),
        error: None,
        skipped: false,
    }
}
