//! ChaosDuck's own Prometheus metrics, served on `--metrics-addr` for GameDays: experiments by
//! status, active faults, injections and rollback steps by fault and result, probe samples, and
//! journal commit latency. A Grafana dashboard for them is in `scripts/grafana-dashboard.json`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::OnceLock;

type Labels = Vec<(String, String)>;

/// Every metric ChaosDuck exports.
pub struct Metrics {
    registry: Registry,
    experiments: Family<Labels, Counter>,
    active_faults: Gauge,
    injections: Family<Labels, Counter>,
    rollback_steps: Family<Labels, Counter>,
    probe_samples: Family<Labels, Counter>,
    journal_commit: Histogram,
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let mut registry = Registry::with_prefix("chaosduck");
        let experiments = Family::<Labels, Counter>::default();
        let active_faults = Gauge::default();
        let injections = Family::<Labels, Counter>::default();
        let rollback_steps = Family::<Labels, Counter>::default();
        let probe_samples = Family::<Labels, Counter>::default();
        // 0.25 ms .. ~2 s
        let journal_commit = Histogram::new(exponential_buckets(0.000_25, 2.0, 14));
        registry.register(
            "experiments",
            "Experiments that reached a final status",
            experiments.clone(),
        );
        registry.register(
            "active_faults",
            "Journal entries not yet reverted",
            active_faults.clone(),
        );
        registry.register(
            "injections",
            "Fault injection steps by fault and result",
            injections.clone(),
        );
        registry.register(
            "rollback_steps",
            "Rollback steps by fault and result",
            rollback_steps.clone(),
        );
        registry.register(
            "probe_samples",
            "Probe samples by probe type and result",
            probe_samples.clone(),
        );
        registry.register(
            "journal_commit_seconds",
            "Durable journal commit latency",
            journal_commit.clone(),
        );
        Metrics {
            registry,
            experiments,
            active_faults,
            injections,
            rollback_steps,
            probe_samples,
            journal_commit,
        }
    })
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Metrics {
    /// An experiment ended with `status`.
    pub fn experiment_finished(&self, fault: &str, status: &str) {
        self.experiments
            .get_or_create(&l(&[("fault", fault), ("status", status)]))
            .inc();
    }

    /// An injection step ended.
    pub fn injection(&self, fault: &str, ok: bool) {
        self.injections
            .get_or_create(&l(&[
                ("fault", fault),
                ("result", if ok { "ok" } else { "error" }),
            ]))
            .inc();
    }

    /// A rollback step ended.
    pub fn rollback_step(&self, fault: &str, reverted: bool) {
        self.rollback_steps
            .get_or_create(&l(&[
                ("fault", fault),
                ("result", if reverted { "reverted" } else { "failed" }),
            ]))
            .inc();
    }

    /// A probe produced a sample.
    pub fn probe_sample(&self, kind: &str, result: &str) {
        self.probe_samples
            .get_or_create(&l(&[("type", kind), ("result", result)]))
            .inc();
    }

    /// The journal holds this many open entries.
    pub fn set_active_faults(&self, n: usize) {
        self.active_faults.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A durable journal commit took this long.
    pub fn journal_commit(&self, d: std::time::Duration) {
        self.journal_commit.observe(d.as_secs_f64());
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Serves `GET /metrics` on `addr` until the returned task is aborted.
pub async fn serve(addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                metrics().encode(),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics server stopped");
        }
    });
    Ok((bound, task))
}
