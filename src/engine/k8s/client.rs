//! Connecting to a cluster like kubectl does: `--kubeconfig` / `KUBECONFIG`, `--context`, or the
//! in-cluster service account. kube's own retry of 429/503/504 (up to 15 times, minutes of
//! backoff) is switched off: ChaosDuck bounds its own retries, so a sick API server can never
//! stall a rollback for long.

use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::Path;

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
    /// The client.
    pub client: kube::Client,
    /// The context's name (explicit, else the kubeconfig's current-context, else the API
    /// server's URL): for people.
    pub context: String,
    /// The API server's URL: what identifies the cluster (journal scopes use it, so a step made
    /// with `--context X` and one made through the current-context are the same cluster).
    pub server: String,
}

/// Builds a client from an explicit kubeconfig file, or infers one (KUBECONFIG, ~/.kube/config,
/// in-cluster).
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
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
    from_config(&mut cfg, current.as_deref())
}

/// Builds a client from a ready config (the sandbox hands one out).
pub fn from_config(
    cfg: &mut kube::Config,
    context: Option<&str>,
) -> Result<Connected, ClientError> {
    cfg.default_retry = false;
    let name = context
        .map(str::to_string)
        .unwrap_or_else(|| cfg.cluster_url.to_string());
    let server = cfg.cluster_url.to_string();
    let client =
        kube::Client::try_from(cfg.clone()).map_err(|e| ClientError::Build(e.to_string()))?;
    Ok(Connected {
        client,
        context: name,
        server,
    })
}
