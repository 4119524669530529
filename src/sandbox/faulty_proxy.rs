//! A faulty HTTP/1.1 proxy for campaigns, tests and benches: it forwards to an upstream on
//! 127.0.0.1 (the sandbox API server, the sandbox AWS account, moto) and, for a configurable
//! share of the matching requests, answers 500 or 503 itself, answers slowly, holds the
//! connection without answering (a client-side timeout), or drops the connection mid-response.
//! What it did is counted. The plan (share, kinds, which requests) can be switched at runtime,
//! e.g. only while a run injects or only while it reverts.
//!
//! Semantics of each fault (chosen to be the hard cases for an idempotent undo):
//! - `Error500`/`Error503`: the request never reaches the upstream.
//! - `Slow`: the request is forwarded and the answer is delivered after [`FaultPlan::slow`].
//! - `Timeout`: the request **is forwarded** (so it may take effect), then the connection is held
//!   unanswered for [`FaultPlan::hold`] and closed; the client learns nothing.
//! - `Drop`: the request is forwarded, the status, headers and about half the body are sent,
//!   then the connection is cut.
//!
//! HTTP upgrades (the Kubernetes `pods/exec` WebSocket) are passed through byte for byte; the
//! upgrade request itself can be faulted like any other. Streaming answers (watches) are streamed.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BoxError>;

/// One kind of fault the proxy can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Answer 500 Internal Server Error without forwarding.
    Error500,
    /// Answer 503 Service Unavailable without forwarding.
    Error503,
    /// Forward, then delay the answer.
    Slow,
    /// Forward, then hold the connection unanswered and close it.
    Timeout,
    /// Forward, send part of the answer, then cut the connection.
    Drop,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Error500,
        FaultKind::Error503,
        FaultKind::Slow,
        FaultKind::Timeout,
        FaultKind::Drop,
    ];

    /// Its name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Error500 => "500",
            FaultKind::Error503 => "503",
            FaultKind::Slow => "slow",
            FaultKind::Timeout => "timeout",
            FaultKind::Drop => "drop",
        }
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown fault {s:?}; use one of 500, 503, slow, timeout, drop"))
    }
}

/// Which requests may be faulted. Empty lists match everything.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    /// Only these methods (e.g. `POST`, `PATCH`).
    pub methods: Vec<String>,
    /// Only paths (with query) containing one of these.
    pub path_contains: Vec<String>,
    /// Only requests whose body contains one of these (e.g. `Action=StartInstances`).
    pub body_contains: Vec<String>,
}

impl Matcher {
    fn matches(&self, method: &str, path: &str, body: &[u8]) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            && (self.path_contains.is_empty()
                || self.path_contains.iter().any(|p| path.contains(p.as_str())))
            && (self.body_contains.is_empty()
                || self
                    .body_contains
                    .iter()
                    .any(|b| body.windows(b.len().max(1)).any(|w| w == b.as_bytes())))
    }
}

/// What the proxy does now; replace it at runtime with [`FaultyProxy::set_plan`].
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// Share of matching requests that get a fault, 0.0..=1.0.
    pub rate: f64,
    /// The kinds to choose from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// Which requests may be faulted.
    pub matcher: Matcher,
    /// Extra delay of a `Slow` answer.
    pub slow: Duration,
    /// How long a `Timeout` holds the connection before closing it.
    pub hold: Duration,
}

impl FaultPlan {
    /// Forward everything untouched.
    pub fn off() -> FaultPlan {
        FaultPlan {
            rate: 0.0,
            ..FaultPlan::every_kind(0.0)
        }
    }

    /// Every kind of fault for `rate` of all requests (slow: 1.5 s, hold: 30 s).
    pub fn every_kind(rate: f64) -> FaultPlan {
        FaultPlan {
            rate,
            kinds: FaultKind::ALL.to_vec(),
            matcher: Matcher::default(),
            slow: Duration::from_millis(1500),
            hold: Duration::from_secs(30),
        }
    }
}

/// What the proxy did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    /// Requests received.
    pub requests: u64,
    /// Requests forwarded and answered untouched.
    pub passed: u64,
    /// 500 answers.
    pub error_500: u64,
    /// 503 answers.
    pub error_503: u64,
    /// Slowed answers.
    pub slow: u64,
    /// Connections held unanswered.
    pub timeout: u64,
    /// Connections cut mid-answer.
    pub dropped: u64,
    /// Upstream unreachable (answered 502).
    pub upstream_errors: u64,
}

impl ProxyCounts {
    /// Faults injected, all kinds.
    pub fn faults(&self) -> u64 {
        self.error_500 + self.error_503 + self.slow + self.timeout + self.dropped
    }
}

impl std::fmt::Display for ProxyCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests: {} passed, {} × 500, {} × 503, {} slow, {} timeout, {} dropped, {} upstream errors",
            self.requests,
            self.passed,
            self.error_500,
            self.error_503,
            self.slow,
            self.timeout,
            self.dropped,
            self.upstream_errors
        )
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    passed: AtomicU64,
    error_500: AtomicU64,
    error_503: AtomicU64,
    slow: AtomicU64,
    timeout: AtomicU64,
    dropped: AtomicU64,
    upstream_errors: AtomicU64,
}

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<FaultPlan>,
    rng: Mutex<StdRng>,
    counts: Counters,
    shutdown: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Decides the fault for one request (None = pass), and returns the plan's timings.
    fn decide(&self, method: &str, path: &str, body: &[u8]) -> (Option<FaultKind>, FaultPlan) {
        let plan = lock(&self.plan).clone();
        if plan.rate <= 0.0 || plan.kinds.is_empty() || !plan.matcher.matches(method, path, body) {
            return (None, plan);
        }
        let mut rng = lock(&self.rng);
        if !rng.random_bool(plan.rate.clamp(0.0, 1.0)) {
            return (None, plan);
        }
        let k = plan.kinds[rng.random_range(0..plan.kinds.len())];
        (Some(k), plan)
    }

    fn count(&self, k: Option<FaultKind>) {
        let c = &self.counts;
        match k {
            None => &c.passed,
            Some(FaultKind::Error500) => &c.error_500,
            Some(FaultKind::Error503) => &c.error_503,
            Some(FaultKind::Slow) => &c.slow,
            Some(FaultKind::Timeout) => &c.timeout,
            Some(FaultKind::Drop) => &c.dropped,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

/// A running faulty proxy. Stops on [`FaultyProxy::shutdown`] or when dropped (every open
/// connection is closed).
pub struct FaultyProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultyProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream is not a loopback `http://127.0.0.1:PORT` URL.
    #[error("upstream {0:?} must be http://127.0.0.1:PORT (or localhost)")]
    Upstream(String),
    /// The listen address is not on loopback.
    #[error("listen address {0} must be on 127.0.0.1")]
    NotLoopback(SocketAddr),
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Parses `http://127.0.0.1:PORT[/...]` (or `localhost`) into a loopback socket address.
pub fn loopback_upstream(url: &str) -> Result<SocketAddr, ProxyError> {
    let bad = || ProxyError::Upstream(url.to_string());
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let hostport = rest.split('/').next().unwrap_or_default();
    let (host, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    match host {
        "127.0.0.1" | "localhost" => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        _ => Err(bad()),
    }
}

impl FaultyProxy {
    /// Starts a proxy on `listen` (127.0.0.1, port 0 = any) in front of `upstream`, with `plan`
    /// and an RNG seeded by `seed` (the same seed and request order give the same faults).
    pub async fn start(
        upstream: SocketAddr,
        listen: SocketAddr,
        plan: FaultPlan,
        seed: u64,
    ) -> Result<FaultyProxy, ProxyError> {
        if !listen.ip().is_loopback() {
            return Err(ProxyError::NotLoopback(listen));
        }
        if !upstream.ip().is_loopback() {
            return Err(ProxyError::Upstream(upstream.to_string()));
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ProxyError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            addr: listen,
            source,
        })?;
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(plan),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            counts: Counters::default(),
            shutdown: CancellationToken::new(),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultyProxy {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the plan; applies to requests that arrive from now on.
    pub fn set_plan(&self, plan: FaultPlan) {
        *lock(&self.shared.plan) = plan;
    }

    /// Changes only the share of faulted requests (0 switches faults off).
    pub fn set_rate(&self, rate: f64) {
        lock(&self.shared.plan).rate = rate;
    }

    /// The current plan.
    pub fn plan(&self) -> FaultPlan {
        lock(&self.shared.plan).clone()
    }

    /// What the proxy did so far.
    pub fn counts(&self) -> ProxyCounts {
        let c = &self.shared.counts;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyCounts {
            requests: g(&c.requests),
            passed: g(&c.passed),
            error_500: g(&c.error_500),
            error_503: g(&c.error_503),
            slow: g(&c.slow),
            timeout: g(&c.timeout),
            dropped: g(&c.dropped),
            upstream_errors: g(&c.upstream_errors),
        }
    }

    /// Stops accepting, closes every connection and waits for the accept loop.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in the set: when this loop ends (shutdown or abort), they are aborted.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors or similar: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            let _ = conn.await;
        });
    }
    conns.shutdown().await;
}

fn plain(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

/// Sends one request to the upstream on a fresh connection (upgrades allowed).
async fn forward(
    upstream: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, BoxError> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender.send_request(req).await?)
}

async fn handle(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, BoxError> {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let method = req.method().as_str().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let wants_upgrade = req.headers().contains_key(hyper::header::UPGRADE);
    let client_upgrade = wants_upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let (fault, plan) = shared.decide(&method, &path, &body);
    shared.count(fault);
    match fault {
        Some(FaultKind::Error500) => {
            return Ok(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "faulty proxy: injected 500\n",
            ));
        }
        Some(FaultKind::Error503) => {
            return Ok(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "faulty proxy: injected 503\n",
            ));
        }
        _ => {}
    }
    let mut up_req = Request::from_parts(parts, Full::new(body));
    *up_req.uri_mut() = path
        .parse()
        .unwrap_or_else(|_| hyper::Uri::from_static("/"));
    let mut resp = match forward(shared.upstream, up_req).await {
        Ok(r) => r,
        Err(e) => {
            shared
                .counts
                .upstream_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %e, "faulty proxy: upstream unreachable");
            return Ok(plain(
                StatusCode::BAD_GATEWAY,
                "faulty proxy: upstream unreachable\n",
            ));
        }
    };
    match fault {
        Some(FaultKind::Timeout) => {
            tokio::select! {
                _ = tokio::time::sleep(plan.hold) => {}
                _ = shared.shutdown.cancelled() => {}
            }
            return Err("faulty proxy: held the connection, now closing it".into());
        }
        Some(FaultKind::Slow) => {
            tokio::select! {
                _ = tokio::time::sleep(plan.slow) => {}
                _ = shared.shutdown.cancelled() => return Err("faulty proxy: shutting down".into()),
            }
        }
        _ => {}
    }
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let server_upgrade = hyper::upgrade::on(&mut resp);
        if let Some(client_upgrade) = client_upgrade {
            let stop = shared.shutdown.clone();
            tokio::spawn(async move {
                let (Ok(a), Ok(b)) = (client_upgrade.await, server_upgrade.await) else {
                    return;
                };
                let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                    _ = stop.cancelled() => {}
                }
            });
        }
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(
            parts,
            Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed(),
        ));
    }
    let (parts, body) = resp.into_parts();
    let body: ProxyBody = match fault {
        Some(FaultKind::Drop) => {
            let allow = parts
                .headers
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                .map(|n| n / 2);
            Truncated {
                inner: body,
                allow,
                sent: 0,
                frames: 0,
            }
            .boxed()
        }
        _ => body.map_err(|e| Box::new(e) as BoxError).boxed(),
    };
    Ok(Response::from_parts(parts, body))
}

/// A body that passes about half of its data (half the content length, or one frame) and then
/// fails, which makes the server cut the connection mid-answer.
struct Truncated {
    inner: Incoming,
    allow: Option<usize>,
    sent: usize,
    frames: usize,
}

impl Body for Truncated {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let cut = || {
            Poll::Ready(Some(Err::<Frame<Bytes>, BoxError>(
                "faulty proxy: connection dropped mid-response".into(),
            )))
        };
        let done = match self.allow {
            Some(n) => self.sent >= n,
            None => self.frames >= 1,
        };
        if done {
            return cut();
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let Ok(mut data) = frame.into_data() else {
                    return cut();
                };
                if let Some(n) = self.allow {
                    data.truncate(n - self.sent);
                }
                self.sent += data.len();
                self.frames += 1;
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            // The upstream ended before the cut: cut anyway, so the client never sees an end.
            Poll::Ready(None) => cut(),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `chaosduck sandbox proxy`: a faulty proxy as its own process.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// The upstream, `http://127.0.0.1:PORT`.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Where to listen (127.0.0.1; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Share of requests that get a fault, 0.0 to 1.0.
    #[arg(long, default_value_t = 0.2)]
    pub fault_rate: f64,
    /// The faults to choose from (500, 503, slow, timeout, drop).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "500,503,slow,timeout,drop"
    )]
    pub faults: Vec<FaultKind>,
    /// Only fault these methods (comma-separated); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Only fault paths containing one of these (comma-separated); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub paths: Vec<String>,
    /// Delay of a slow answer.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1500ms")]
    pub slow: Duration,
    /// How long a timeout holds the connection.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub hold: Duration,
    /// RNG seed (random when absent; printed).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs the proxy until SIGINT or SIGTERM; prints its URL and seed when ready and its counts
/// when it stops.
pub async fn serve(args: ProxyArgs) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(format!(
            "--fault-rate {} must be between 0.0 and 1.0",
            args.fault_rate
        ));
    }
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let upstream = loopback_upstream(&args.upstream).map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    let plan = FaultPlan {
        rate: args.fault_rate,
        kinds: args.faults.clone(),
        matcher: Matcher {
            methods: args.methods.clone(),
            path_contains: args.paths.clone(),
            body_contains: Vec::new(),
        },
        slow: args.slow,
        hold: args.hold,
    };
    let p = FaultyProxy::start(upstream, args.listen, plan, seed)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "faulty proxy listening on {} -> {} (fault rate {}, seed {seed})",
        p.url(),
        args.upstream,
        args.fault_rate
    );
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(|e| e.to_string())?,
        _ = term.recv() => {}
    }
    println!("faulty proxy: {}", p.counts());
    p.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_filters_by_method_path_and_body() {
        let m = Matcher {
            methods: vec!["PATCH".into()],
            path_contains: vec!["/nodes/".into()],
            body_contains: vec![],
        };
        assert!(m.matches("patch", "/api/v1/nodes/a", b""));
        assert!(!m.matches("GET", "/api/v1/nodes/a", b""));
        assert!(!m.matches("PATCH", "/api/v1/pods/a", b""));
        let b = Matcher {
            body_contains: vec!["Action=StartInstances".into()],
            ..Matcher::default()
        };
        assert!(b.matches("POST", "/", b"Action=StartInstances&Version=1"));
        assert!(!b.matches("POST", "/", b"Action=StopInstances"));
        assert!(Matcher::default().matches("GET", "/", b""));
    }

    #[test]
    fn upstream_must_be_loopback() {
        assert_eq!(
            loopback_upstream("http://127.0.0.1:8080/x").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8080))
        );
        assert!(loopback_upstream("http://10.0.0.1:80").is_err());
        assert!(loopback_upstream("https://127.0.0.1:80").is_err());
        assert!(loopback_upstream("127.0.0.1:80").is_err());
    }

    #[test]
    fn fault_kinds_parse_by_name() {
        for k in FaultKind::ALL {
            assert_eq!(k.as_str().parse::<FaultKind>().unwrap(), k);
        }
        assert!("teapot".parse::<FaultKind>().is_err());
    }
}
