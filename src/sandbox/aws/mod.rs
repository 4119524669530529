//! The sandbox AWS account: an HTTP server on 127.0.0.1 speaking the EC2 and RDS query protocols
//! (form-encoded POST, XML answers, AWS error XML) for every call ChaosDuck's engine and
//! topology use, over a simulated account whose state changes take simulated time. The real
//! SDK clients reach it through `AWS_ENDPOINT_URL`, exactly as they reach AWS.
//!
//! Control endpoints for tests and demos: `POST /_sandbox/reset` (empty account),
//! `POST /_sandbox/errors` with a JSON [`InjectedError`] (the next matching calls fail),
//! `DELETE /_sandbox/errors`.

pub mod demo;
pub mod ec2;
pub mod query;
pub mod rds;
pub mod state;
pub mod xml;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use query::{ApiError, Params};
pub use state::{Account, InjectedError};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// How to start the sandbox account.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How long simulated transitions take (stopping → stopped, failover → available).
    pub transition: Duration,
    /// Fill the account with the demo resources.
    pub demo: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            port: 0,
            transition: Duration::from_secs(2),
            demo: true,
        }
    }
}

/// Sandbox failures.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}; choose another port or 0 for any")]
    Bind {
        /// The port.
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
    /// The env file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running sandbox account.
pub struct AwsSandbox {
    addr: SocketAddr,
    account: Arc<Mutex<Account>>,
    options: SandboxOptions,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn lock(a: &Mutex<Account>) -> MutexGuard<'_, Account> {
    a.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the sandbox account on 127.0.0.1 (only) in the current runtime.
pub async fn start(options: SandboxOptions) -> Result<AwsSandbox, SandboxError> {
    let listener = TcpListener::bind(("127.0.0.1", options.port))
        .await
        .map_err(|source| SandboxError::Bind {
            port: options.port,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        port: options.port,
        source,
    })?;
    let mut account = Account::new(options.transition);
    if options.demo {
        demo::populate(&mut account);
    }
    let account = Arc::new(Mutex::new(account));
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(listener, account.clone(), stop.clone()));
    Ok(AwsSandbox {
        addr,
        account,
        options,
        stop,
        task: Some(task),
    })
}

async fn serve(listener: TcpListener, account: Arc<Mutex<Account>>, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let account = account.clone();
                conns.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| {
                        let account = account.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(req, &account).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

impl AwsSandbox {
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes shell `export` lines with the endpoint, region and dummy credentials.
    pub fn write_aws_env(&self, path: &Path) -> Result<(), SandboxError> {
        let text = format!(
            "# ChaosDuck sandbox AWS account (dummy credentials; the sandbox does not check them)\nexport AWS_ENDPOINT_URL={}\nexport AWS_REGION=us-east-1\nexport AWS_DEFAULT_REGION=us-east-1\nexport AWS_ACCESS_KEY_ID=sandbox\nexport AWS_SECRET_ACCESS_KEY=sandbox\n",
            self.endpoint_url()
        );
        std::fs::write(path, text).map_err(|source| SandboxError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// Arms an error for the next matching calls.
    pub fn inject_error(&self, e: InjectedError) {
        lock(&self.account).errors.push(e);
    }

    /// Disarms every injected error.
    pub fn clear_errors(&self) {
        lock(&self.account).errors.clear();
    }

    /// Replaces the account with an empty one (the demo too, if it was started with it).
    pub fn reset(&self) {
        let mut a = Account::new(self.options.transition);
        if self.options.demo {
            demo::populate(&mut a);
        }
        *lock(&self.account) = a;
    }

    /// Runs `f` on the account (for tests).
    pub fn with_account<T>(&self, f: impl FnOnce(&mut Account) -> T) -> T {
        f(&mut lock(&self.account))
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for AwsSandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn respond(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// The service a request is signed for (`.../REGION/SERVICE/aws4_request`), else guessed from
/// the action name.
fn service_of(auth: &str, action: &str) -> &'static str {
    if auth.contains("/rds/aws4_request") {
        return "rds";
    }
    if auth.contains("/ec2/aws4_request") {
        return "ec2";
    }
    if action.contains("DB")
        || action.ends_with("TagsToResource")
        || action.ends_with("TagsFromResource")
    {
        "rds"
    } else {
        "ec2"
    }
}

async fn handle(req: Request<Incoming>, account: &Mutex<Account>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let service_hint = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Credentials are never read: the Authorization header only names the service.
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return respond(
                413,
                "text/plain",
                "request body too large or unreadable".into(),
            );
        }
    };
    match (method.as_str(), path.as_str()) {
        ("POST", "/_sandbox/reset") => {
            let t = lock(account).transition;
            *lock(account) = Account::new(t);
            return respond(200, "application/json", "{\"status\":\"ok\"}".into());
        }
        ("POST", "/_sandbox/errors") => {
            return match serde_json::from_slice::<InjectedError>(&body) {
                Ok(e) => {
                    lock(account).errors.push(e);
                    respond(200, "application/json", "{\"status\":\"ok\"}".into())
                }
                Err(e) => respond(400, "text/plain", format!("bad error spec: {e}")),
            };
        }
        ("DELETE", "/_sandbox/errors") => {
            lock(account).errors.clear();
            return respond(200, "application/json", "{\"status\":\"ok\"}".into());
        }
        ("GET", "/_sandbox/health") => return respond(200, "text/plain", "ok".into()),
        _ => {}
    }
    let mut params: Params = form_urlencoded::parse(&body).into_owned().collect();
    if let Some(q) = parts.uri.query() {
        params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let action = params.get("Action").cloned().unwrap_or_default();
    let service = service_of(service_hint.as_deref().unwrap_or_default(), &action);
    let request_id = uuid::Uuid::now_v7().to_string();
    let result = {
        let mut a = lock(account);
        a.tick();
        if action.is_empty() {
            Err(query::bad(
                "MissingAction",
                "the request has no Action parameter",
            ))
        } else if let Some(e) = a.take_error(&action) {
            Err(ApiError {
                status: e.status,
                code: e.code.clone(),
                message: if e.message.is_empty() {
                    format!("injected by the sandbox: {}", e.code)
                } else {
                    e.message
                },
            })
        } else if service == "rds" {
            rds::handle(&mut a, &action, &params)
        } else {
            ec2::handle(&mut a, &action, &params)
        }
    };
    match (service, result) {
        ("rds", Ok(inner)) => respond(
            200,
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<{action}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><{action}Result>{inner}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ),
        ),
        (_, Ok(inner)) => respond(
            200,
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>{request_id}</requestId>{inner}</{action}Response>"
            ),
        ),
        ("rds", Err(e)) => respond(
            e.status,
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type>{}{}</Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                xml::el("Code", &e.code),
                xml::el("Message", &e.message)
            ),
        ),
        (_, Err(e)) => respond(
            e.status,
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>{}{}</Error></Errors><RequestID>{request_id}</RequestID></Response>",
                xml::el("Code", &e.code),
                xml::el("Message", &e.message)
            ),
        ),
    }
}
