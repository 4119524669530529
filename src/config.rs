//! The config file (`$XDG_CONFIG_HOME/chaosduck/config.toml` or `--config`): guardrail policy,
//! rollback retries, and (from later work) engines, AI, keys and themes.

use crate::domain::{Amount, HumanDuration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole config file. Unknown keys are errors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rules checked before any side effect.
    #[serde(default)]
    pub guardrails: Guardrails,
    /// Limits for AWS targets.
    #[serde(default)]
    pub aws: AwsPolicy,
    /// How hard rollback tries.
    #[serde(default)]
    pub rollback: RollbackPolicy,
    /// The Kubernetes fault engine.
    #[serde(default)]
    pub kubernetes: KubernetesConfig,
    /// AI assistance: provider, model, endpoint, key file.
    #[serde(default)]
    pub ai: AiConfig,
    /// The dashboard: theme, read-only contexts, mouse.
    #[serde(default)]
    pub dashboard: DashboardConfig,
    /// Key overrides by action name (`rollback = "x"` or `up = ["up", "k"]`); see `?`.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyList>,
}

/// One key or several.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum KeyList {
    /// One key.
    One(String),
    /// Several keys.
    Many(Vec<String>),
}

impl KeyList {
    /// The keys.
    pub fn keys(&self) -> Vec<String> {
        match self {
            KeyList::One(k) => vec![k.clone()],
            KeyList::Many(v) => v.clone(),
        }
    }
}

/// The `[dashboard]` section.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Theme name: dark (default), light, high-contrast, basic16, mono, or NAME for
    /// `$XDG_CONFIG_HOME/chaosduck/themes/NAME.toml`.
    #[serde(default)]
    pub theme: Option<String>,
    /// Always read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Kube contexts (globs) in which the dashboard is read-only.
    #[serde(default)]
    pub read_only_contexts: Vec<String>,
    /// Capture the mouse (off by default so text can be selected and copied).
    #[serde(default)]
    pub mouse: bool,
}

/// Settings of the Kubernetes fault engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Image of network injectors: needs `sh` and `tc` (iproute2).
    #[serde(default = "default_net_image")]
    pub network_injector_image: String,
    /// Image of stress injectors: needs `sh` and `stress-ng`.
    #[serde(default = "default_stress_image")]
    pub stress_injector_image: String,
    /// Longest wait for a target to be verified back (owner ready, injector exited).
    #[serde(default = "default_recovery_timeout")]
    pub recovery_timeout: HumanDuration,
    /// Longest wait for one API request (a server that holds a connection unanswered fails
    /// the call after this, and rollback retries it).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        KubernetesConfig {
            network_injector_image: default_net_image(),
            stress_injector_image: default_stress_image(),
            recovery_timeout: default_recovery_timeout(),
            request_timeout: default_request_timeout(),
        }
    }
}

fn default_net_image() -> String {
    "docker.io/nicolaka/netshoot:v0.13".into()
}

fn default_stress_image() -> String {
    "ghcr.io/colinianking/stress-ng:latest".into()
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_recovery_timeout() -> HumanDuration {
    HumanDuration::from_secs(300)
}

/// The `[ai]` section. The key itself never appears here: it comes from the environment
/// (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`) or from the file `key_file` names.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiConfig {
    /// `anthropic`, `openai` or `offline`; anthropic when a key is available, else offline.
    #[serde(default)]
    pub provider: Option<crate::domain::experiment::AiProvider>,
    /// Model name (provider default when absent).
    #[serde(default)]
    pub model: Option<String>,
    /// API base URL (`ANTHROPIC_BASE_URL` / `OPENAI_BASE_URL` win over it).
    #[serde(default)]
    pub base_url: Option<String>,
    /// A file holding the API key (first line); used when the environment has none.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Time limit of one request (default 120s).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// Attempts per request on 429/529/5xx (default 4).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Largest answer accepted, in tokens (default 4096).
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// Guardrail policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Namespaces (globs) that need a typed confirmation.
    #[serde(default = "default_protected")]
    pub protected_namespaces: Vec<String>,
    /// The blast radius when an experiment sets none.
    #[serde(default = "default_blast")]
    pub default_blast_radius: Amount,
    /// Most faults active at once across all experiments of this store.
    #[serde(default = "default_max_active")]
    pub max_active_faults: usize,
    /// Longest hard timeout an experiment may ask for.
    #[serde(default = "default_max_timeout")]
    pub max_timeout: HumanDuration,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            protected_namespaces: default_protected(),
            default_blast_radius: default_blast(),
            max_active_faults: default_max_active(),
            max_timeout: default_max_timeout(),
        }
    }
}

fn default_protected() -> Vec<String> {
    vec![
        "kube-system".into(),
        "kube-public".into(),
        "kube-node-lease".into(),
    ]
}

fn default_blast() -> Amount {
    Amount::Percent(50.0)
}

fn default_max_active() -> usize {
    50
}

fn default_max_timeout() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

/// AWS limits.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPolicy {
    /// Every AWS target must carry all of these tags.
    #[serde(default)]
    pub required_tags: BTreeMap<String, String>,
    /// Regions faults may run in (empty: any).
    #[serde(default)]
    pub allowed_regions: Vec<String>,
    /// Account ids faults may run in (empty: any).
    #[serde(default)]
    pub allowed_accounts: Vec<String>,
}

/// Rollback retries with capped exponential backoff.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackPolicy {
    /// Attempts per undo step before it is marked failed (and kept for `recover`).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait after the first failure.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: HumanDuration,
    /// Longest wait between attempts.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        RollbackPolicy {
            max_attempts: default_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

impl RollbackPolicy {
    /// The wait before attempt `n + 1` (n ≥ 1 failures so far).
    pub fn backoff(&self, failures: u32) -> Duration {
        let base = self.initial_backoff.get();
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        base.saturating_mul(factor).min(self.max_backoff.get())
    }
}

fn default_attempts() -> u32 {
    5
}

fn default_initial_backoff() -> HumanDuration {
    HumanDuration::new(Duration::from_millis(200))
}

fn default_max_backoff() -> HumanDuration {
    HumanDuration::from_secs(5)
}

/// Config problems, naming the file and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// toml's message, which names the key and line.
        message: String,
    },
}

impl Config {
    /// The default location.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("chaosduck").join("config.toml"))
    }

    /// Loads `explicit` (must exist) or the default path (may be absent).
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match Self::default_path() {
                Some(p) => (p, false),
                None => return Ok(Config::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Self::parse(&path, &text)
    }

    /// Parses config text; errors name the key and line.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if cfg.rollback.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "rollback.max_attempts must be at least 1".into(),
            });
        }
        if cfg.guardrails.default_blast_radius.is_zero() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "guardrails.default_blast_radius must allow at least one target".into(),
            });
        }
        if cfg.ai.max_attempts == Some(0) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "ai.max_attempts must be at least 1".into(),
            });
        }
        if let Some(u) = &cfg.ai.base_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("ai.base_url: {u:?} is not an http:// or https:// URL"),
            });
        }
        for g in &cfg.guardrails.protected_namespaces {
            if globset::Glob::new(g).is_err() {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("guardrails.protected_namespaces: {g:?} is not a valid glob"),
                });
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_key_is_named() {
        let e =
            Config::parse(Path::new("c.toml"), "[guardrails]\nmax_active_fault = 3\n").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("c.toml") && s.contains("max_active_fault"),
            "{s}"
        );
    }

    #[test]
    fn ai_section_reads_and_names_bad_keys() {
        let c = Config::parse(
            Path::new("c.toml"),
            "[ai]\nprovider = \"offline\"\nmodel = \"m\"\nkey_file = \"/k\"\n",
        )
        .unwrap();
        assert_eq!(
            c.ai.provider,
            Some(crate::domain::experiment::AiProvider::Offline)
        );
        let e = Config::parse(Path::new("c.toml"), "[ai]\napi_key = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("api_key"), "{e}");
    }

    #[test]
    fn backoff_is_capped() {
        let p = RollbackPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(10), Duration::from_secs(5));
    }
}
