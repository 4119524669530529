//! `http` probes: one request; criteria on status, latency, body text, regex and JSONPath values.
//! The value is the latency in milliseconds. Bodies are read up to 1 MiB.

use super::Outcome;
use crate::domain::probe::{HttpProbe, StatusMatch};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MAX_BODY: usize = 1 << 20;

fn client(follow: bool) -> Result<&'static reqwest::Client, String> {
    static PLAIN: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    static FOLLOW: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    let cell = if follow { &FOLLOW } else { &PLAIN };
    cell.get_or_init(|| {
        let policy = if follow {
            reqwest::redirect::Policy::limited(5)
        } else {
            reqwest::redirect::Policy::none()
        };
        reqwest::Client::builder()
            .redirect(policy)
            .user_agent(concat!("chaosduck/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Sends the request once.
pub async fn evaluate(h: &HttpProbe, timeout: Duration) -> Outcome {
    let client = match client(h.follow_redirects) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(None, e),
    };
    let method = match reqwest::Method::from_bytes(
        h.method
            .as_deref()
            .unwrap_or("GET")
            .to_ascii_uppercase()
            .as_bytes(),
    ) {
        Ok(m) => m,
        Err(_) => return Outcome::fail(None, format!("invalid method {:?}", h.method)),
    };
    let mut req = client.request(method, &h.url).timeout(timeout);
    for (k, v) in &h.headers {
        req = req.header(k, v);
    }
    if let Some(b) = &h.body {
        req = req.body(b.clone());
    }
    let start = Instant::now();
    let run = async {
        let mut resp = req.send().await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
        Ok::<_, String>((status, body, truncated))
    };
    let (status, body, truncated) = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Outcome::fail(None, e),
        Err(_) => {
            return Outcome::fail(
                None,
                format!(
                    "no complete answer within {}",
                    humantime::format_duration(timeout)
                ),
            );
        }
    };
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let expect = h
        .expect_status
        .clone()
        .unwrap_or(StatusMatch::Range("200-299".into()));
    if !expect.accepts(status) {
        return Outcome::fail(
            Some(ms),
            format!("status {status}, expected {}", describe_status(&expect)),
        );
    }
    if let Some(max) = h.max_latency
        && start.elapsed() > max.get()
    {
        return Outcome::fail(
            Some(ms),
            format!("answered in {ms:.0}ms, slower than {max}"),
        );
    }
    let text = String::from_utf8_lossy(&body);
    if let Some(needle) = &h.body_contains
        && !text.contains(needle.as_str())
    {
        return Outcome::fail(
            Some(ms),
            format!(
                "body does not contain {needle:?}{}",
                if truncated { " (first 1 MiB read)" } else { "" }
            ),
        );
    }
    if let Some(r) = &h.body_regex {
        match regex::Regex::new(r) {
            Ok(re) if re.is_match(&text) => {}
            Ok(_) => return Outcome::fail(Some(ms), format!("body does not match /{r}/")),
            Err(e) => return Outcome::fail(Some(ms), format!("invalid regex: {e}")),
        }
    }
    if let Some(j) = &h.json {
        if truncated {
            return Outcome::fail(Some(ms), "the JSON body is larger than 1 MiB");
        }
        let doc: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(d) => d,
            Err(e) => return Outcome::fail(Some(ms), format!("body is not JSON: {e}")),
        };
        let path = match serde_json_path::JsonPath::parse(&j.path) {
            Ok(p) => p,
            Err(e) => return Outcome::fail(Some(ms), format!("invalid JSONPath: {e}")),
        };
        let found = path.query(&doc).all();
        if found.is_empty() {
            return Outcome::fail(Some(ms), format!("JSONPath {} selects nothing", j.path));
        }
        let tol = j.expect();
        for v in found {
            if let Err(e) = tol.accepts(v) {
                return Outcome::fail(Some(ms), format!("{}: {e}", j.path));
            }
        }
    }
    Outcome {
        passed: true,
        value: Some(ms),
        error: None,
        skipped: false,
    }
}

fn describe_status(s: &StatusMatch) -> String {
    match s {
        StatusMatch::Code(c) => c.to_string(),
        StatusMatch::Set(v) => format!("{v:?}"),
        StatusMatch::Range(r) => r.clone(),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    // The full chain names the root cause (refused, reset, ...).
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}
