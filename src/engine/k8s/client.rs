//! Connecting to a cluster like kubectl does: `--kubeconfig` / `KUBECONFIG`, `--context`, or the
//! in-cluster service account. kube's own retry of 429/503/504 (up to 15 times, minutes of
//! backoff) is switched off: ChaosDuck bounds its own retries, so a sick API server can never
//! stall a rollback for long. For the same reason every request of the engine's client is
//! bounded (`[kubernetes] request_timeout`, default 30 s): kube sets no read timeout, so an API
//! server (or a proxy) that holds a connection without answering would otherwise stall a revert,
//! and the exit after SIGTERM, forever. Watches use a second client without a read timeout.

use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::Path;
use std::time::Duration;

/// Default bound on one request of the engine's client.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig could not be read or has no such context.
    #[error(
        "cannot use kubeconfig {path}: {detail}; check --kubeconfig / KUBECONFIG and --context"
    )]
    Kubeconfig {
        /// The file (or "default").
        path: String,
        /// What kube said.
        detail: String,
    },
    /// Neither a kubeconfig nor an in-cluster environment was found.
    #[error(
        "no Kubernetes configuration found ({0}); pass --kubeconfig FILE, set KUBECONFIG, or use --sandbox"
    )]
    NotFound(String),
    /// The client could not be built.
    #[error("cannot build the Kubernetes client: {0}")]
    Build(String),
}

/// A client and the name of the context it talks to.
pub struct Connected {
    /// The client for requests: each one bounded by the request timeout.
    pub client: kube::Client,
    /// The client for watches (long-lived reads): no read timeout.
    pub watch: kube::Client,
    /// The context's name (explicit, else the kubeconfig's current-context, else the API
    /// server's URL): for people.
    pub context: String,
    /// The API server's URL: what identifies the cluster (journal scopes use it, so a step made
    /// with `--context X` and one made through the current-context are the same cluster).
    pub server: String,
}

/// Builds a client from an explicit kubeconfig file, or infers one (KUBECONFIG, ~/.kube/config,
/// in-cluster); each request of `Connected::client` is bounded by `request_timeout`.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    request_timeout: Duration,
) -> Result<Connected, ClientError> {
    let opts = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let mut cfg = match kubeconfig {
        Some(p) => {
            let kc = Kubeconfig::read_from(p).map_err(|e| ClientError::Kubeconfig {
                path: p.display().to_string(),
                detail: e.to_string(),
            })?;
            kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| ClientError::Kubeconfig {
                    path: p.display().to_string(),
                    detail: e.to_string(),
                })?
        }
        None if context.is_some() => {
            kube::Config::from_kubeconfig(&opts)
                .await
                .map_err(|e| ClientError::Kubeconfig {
                    path: "default".into(),
                    detail: e.to_string(),
                })?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| ClientError::NotFound(e.to_string()))?,
    };
    let current = match (context, kubeconfig) {
        (Some(c), _) => Some(c.to_string()),
        (None, Some(p)) => Kubeconfig::read_from(p)
            .ok()
            .and_then(|k| k.current_context),
        (None, None) => Kubeconfig::read().ok().and_then(|k| k.current_context),
    };
    from_config(&mut cfg, current.as_deref(), request_timeout)
}

/// Builds a client from a ready config (the sandbox hands one out).
pub fn from_config(
    cfg: &mut kube::Config,
    context: Option<&str>,
    request_timeout: Duration,
) -> Result<Connected, ClientError> {
    cfg.default_retry = false;
    let name = context
        .map(str::to_string)
        .unwrap_or_else(|| cfg.cluster_url.to_string());
    let server = cfg.cluster_url.to_string();
    let watch =
        kube::Client::try_from(cfg.clone()).map_err(|e| ClientError::Build(e.to_string()))?;
    let mut bounded = cfg.clone();
    bounded.read_timeout = Some(request_timeout);
    bounded.write_timeout = Some(request_timeout);
    bounded.connect_timeout = Some(
        bounded
            .connect_timeout
            .map_or(request_timeout, |c| c.min(request_timeout)),
    );
    let client = kube::Client::try_from(bounded).map_err(|e| ClientError::Build(e.to_string()))?;
    Ok(Connected {
        client,
        watch,
        context: name,
        server,
    })
}
