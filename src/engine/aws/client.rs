//! AWS client configuration: the standard credential chain (environment, profiles including SSO,
//! instance metadata), `--profile`, `--region` and an endpoint URL for emulators, one client
//! pair per region, and AWS errors turned into messages that say what to do next.
//!
//! Credentials are never copied out of the SDK: nothing here formats the config, and error
//! messages carry only the service's code and message.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell};

/// Log directives that keep the AWS SDK and its HTTP stack at `info` whatever the log filter
/// asks: at debug/trace they log signed requests, whose headers carry session tokens.
pub const LOG_CAPS: &[&str] = &[
    "aws_sigv4=info",
    "aws_smithy_runtime=info",
    "aws_smithy_runtime_api=info",
    "aws_smithy_http_client=info",
    "aws_smithy_http=info",
    "aws_smithy_types=info",
    "aws_runtime=info",
    "aws_config=info",
    "aws_credential_types=info",
    "aws_sdk_ec2=info",
    "aws_sdk_rds=info",
    "aws_sdk_sts=info",
    "aws_sdk_sso=info",
    "aws_sdk_ssooidc=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "rustls=info",
];

/// Where and as whom to reach AWS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// A named profile (`--profile`, else `AWS_PROFILE`).
    pub profile: Option<String>,
    /// The default region (`--region`, else the chain: `AWS_REGION`, profile).
    pub region: Option<String>,
    /// An endpoint for every service (`AWS_ENDPOINT_URL`): an emulator or the sandbox.
    pub endpoint_url: Option<String>,
}

impl AwsSettings {
    /// Whether anything says AWS is meant to be used: flags, or the usual environment.
    pub fn configured(&self) -> bool {
        self.profile.is_some()
            || self.region.is_some()
            || self.endpoint_url.is_some()
            || [
                "AWS_PROFILE",
                "AWS_ACCESS_KEY_ID",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            ]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
            || shared_files_exist()
    }
}

/// Whether the shared AWS config or credentials file exists (profiles, SSO).
fn shared_files_exist() -> bool {
    let from_env = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".aws").join(default)))
            .is_some_and(|p| p.is_file())
    };
    from_env("AWS_CONFIG_FILE", "config") || from_env("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

/// The EC2 and RDS clients for one region.
#[derive(Clone, Debug)]
pub struct Clients {
    /// The region they talk to.
    pub region: String,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
}

/// Lazily loaded SDK config with a client pair per region.
pub struct AwsClients {
    settings: AwsSettings,
    base: OnceCell<aws_config::SdkConfig>,
    by_region: Mutex<HashMap<String, Clients>>,
}

impl AwsClients {
    /// Clients for `settings`; nothing is loaded until first use.
    pub fn new(settings: AwsSettings) -> Self {
        AwsClients {
            settings,
            base: OnceCell::new(),
            by_region: Mutex::new(HashMap::new()),
        }
    }

    /// The settings these clients use.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    async fn base(&self) -> &aws_config::SdkConfig {
        self.base
            .get_or_init(|| async {
                // `CHAOSDUCK_AWS_ATTEMPT_TIMEOUT` (e.g. `5s`) shortens the bound of one attempt
                // (the whole operation gets three), for tests against a faulty endpoint.
                let attempt = std::env::var("CHAOSDUCK_AWS_ATTEMPT_TIMEOUT")
                    .ok()
                    .and_then(|s| humantime::parse_duration(&s).ok())
                    .filter(|d| !d.is_zero())
                    .unwrap_or(Duration::from_secs(30));
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .retry_config(RetryConfig::standard().with_max_attempts(3))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(5).min(attempt))
                            .operation_attempt_timeout(attempt)
                            .operation_timeout(attempt * 3)
                            .build(),
                    );
                if let Some(p) = &self.settings.profile {
                    loader = loader.profile_name(p);
                }
                if let Some(r) = &self.settings.region {
                    loader = loader.region(aws_config::Region::new(r.clone()));
                }
                if let Some(u) = &self.settings.endpoint_url {
                    loader = loader.endpoint_url(u);
                }
                loader.load().await
            })
            .await
    }

    /// The region used when a target names none.
    pub async fn default_region(&self) -> Result<String, AwsError> {
        self.base()
            .await
            .region()
            .map(|r| r.to_string())
            .ok_or(AwsError::NoRegion)
    }

    /// The clients for `region` (the default region when `None`).
    pub async fn get(&self, region: Option<&str>) -> Result<Clients, AwsError> {
        let region = match region {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => self.default_region().await?,
        };
        let base = self.base().await.clone();
        let mut map = self.by_region.lock().await;
        if let Some(c) = map.get(&region) {
            return Ok(c.clone());
        }
        let r = aws_config::Region::new(region.clone());
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&base)
                .region(r.clone())
                .build(),
        );
        let rds = aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(&base).region(r).build(),
        );
        let c = Clients {
            region: region.clone(),
            ec2,
            rds,
        };
        map.insert(region, c.clone());
        Ok(c)
    }
}

/// AWS failures, each saying what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// No region anywhere.
    #[error(
        "no AWS region: pass --region, set AWS_REGION, set a region in the profile, or name one in the target"
    )]
    NoRegion,
    /// AWS is rate-limiting the caller (after the SDK's own retries).
    #[error(
        "{op}: AWS is throttling requests ({code}); wait a minute and retry (undo steps stay in the journal for `chaosduck recover`)"
    )]
    Throttled {
        /// The API call.
        op: String,
        /// The error code.
        code: String,
    },
    /// The caller lacks a permission.
    #[error(
        "{op}: access denied ({code}: {message}); grant this permission to the caller or use another --profile"
    )]
    AccessDenied {
        /// The API call.
        op: String,
        /// The error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// A resource does not exist.
    #[error("{op}: not found ({code}: {message}); check the id and the region")]
    NotFound {
        /// The API call.
        op: String,
        /// The error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The resource is in a state that does not allow the call (e.g. `IncorrectInstanceState`).
    #[error("{op}: the resource is not in a state that allows this ({code}: {message})")]
    InvalidState {
        /// The API call.
        op: String,
        /// The error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// No credentials, or they were rejected.
    #[error(
        "{op}: AWS credentials missing or rejected ({detail}); run `aws sso login`, pass --profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    )]
    Credentials {
        /// The API call.
        op: String,
        /// What failed.
        detail: String,
    },
    /// The endpoint could not be reached or timed out.
    #[error("{op}: cannot reach AWS ({detail}); check the network, --region and AWS_ENDPOINT_URL")]
    Unreachable {
        /// The API call.
        op: String,
        /// What failed.
        detail: String,
    },
    /// Any other service error.
    #[error("{op}: {code}: {message}")]
    Api {
        /// The API call.
        op: String,
        /// The error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// A response without what the call promised.
    #[error(
        "{op}: the response lacks {what}; the endpoint may not be AWS-compatible (check --aws-endpoint-url / AWS_ENDPOINT_URL and --region)"
    )]
    Malformed {
        /// The API call.
        op: String,
        /// What was missing.
        what: String,
    },
}

impl AwsError {
    /// Whether the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::NotFound { .. })
    }

    /// The error code, where the service sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Throttled { code, .. }
            | AwsError::AccessDenied { code, .. }
            | AwsError::NotFound { code, .. }
            | AwsError::InvalidState { code, .. }
            | AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Turns an SDK error into an [`AwsError`] for the call `op` (e.g. `ec2:StopInstances`).
pub fn classify<E, R>(op: &str, e: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    let op = op.to_string();
    match &e {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {}
        SdkError::TimeoutError(_) => {
            return AwsError::Unreachable {
                op,
                detail: "the call timed out".into(),
            };
        }
        SdkError::DispatchFailure(d) => {
            let detail = chain(&e);
            if d.is_io() || d.is_timeout() {
                return AwsError::Unreachable { op, detail };
            }
            if detail.contains("credential") || detail.contains("Credential") {
                return AwsError::Credentials { op, detail };
            }
            return AwsError::Unreachable { op, detail };
        }
        SdkError::ConstructionFailure(_) => {
            let detail = chain(&e);
            if detail.contains("credential") || detail.contains("Credential") {
                return AwsError::Credentials { op, detail };
            }
            return AwsError::Api {
                op,
                code: "RequestConstruction".into(),
                message: detail,
            };
        }
        _ => {}
    }
    // No error code: the SDK could not read the answer at all (malformed or truncated XML, an
    // HTML page, an empty body), so the endpoint is the suspect, not the call.
    let Some(code) = e.code().map(str::to_string) else {
        return AwsError::Malformed {
            op,
            what: format!("a readable AWS answer ({})", chain(&e)),
        };
    };
    let message = e.message().map(str::to_string).unwrap_or_else(|| chain(&e));
    classify_code(op, code, message)
}

/// An error and its causes, by their `Display` only (never `Debug`, which could show request
/// internals), without repeats.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        if parts.len() >= 6 {
            break;
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Maps an error code to its class.
pub fn classify_code(op: String, code: String, message: String) -> AwsError {
    let c = code.as_str();
    if matches!(
        c,
        "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
    ) {
        AwsError::Throttled { op, code }
    } else if matches!(
        c,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "OptInRequired"
    ) {
        AwsError::AccessDenied { op, code, message }
    } else if matches!(
        c,
        "AuthFailure"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "UnrecognizedClientException"
    ) {
        AwsError::Credentials {
            op,
            detail: format!("{code}: {message}"),
        }
    } else if c.ends_with(".NotFound")
        || c.ends_with("NotFound")
        || c.ends_with("NotFoundFault")
        || c == "InvalidInstanceID.Malformed"
    {
        AwsError::NotFound { op, code, message }
    } else if c == "IncorrectInstanceState"
        || c == "IncorrectState"
        || c.starts_with("InvalidDBClusterState")
        || c.starts_with("InvalidDBInstanceState")
    {
        AwsError::InvalidState { op, code, message }
    } else {
        AwsError::Api { op, code, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_classes_with_next_steps() {
        let t = classify_code(
            "ec2:StopInstances".into(),
            "RequestLimitExceeded".into(),
            "x".into(),
        );
        assert!(matches!(t, AwsError::Throttled { .. }));
        assert!(t.to_string().contains("chaosduck recover"));
        let a = classify_code(
            "ec2:StopInstances".into(),
            "UnauthorizedOperation".into(),
            "no".into(),
        );
        assert!(a.to_string().contains("--profile"), "{a}");
        assert!(
            classify_code(
                "x".into(),
                "InvalidRouteTableID.NotFound".into(),
                "m".into()
            )
            .is_not_found()
        );
        assert!(
            classify_code("x".into(), "DBClusterNotFoundFault".into(), "m".into()).is_not_found()
        );
        assert!(matches!(
            classify_code("x".into(), "IncorrectInstanceState".into(), "m".into()),
            AwsError::InvalidState { .. }
        ));
    }
}
