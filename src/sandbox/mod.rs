//! The sandbox: a simulated Kubernetes cluster that speaks the real REST API over HTTP on
//! 127.0.0.1, with controllers, a scheduler, a kubelet simulation, demo data and simulated
//! applications behind every Service. The real kube client (and kubectl) talk to it as to a
//! cluster.
//!
//! Files: `store` (objects, resourceVersions, event log), `resources` (kinds and typed objects),
//! `selectors`, `patch`, `validation`, `watch`, `routes` (HTTP API), `discovery`, `controllers`
//! (workloads, scheduler, kubelet, endpoint slices, GC), `faults` (injector contract), `apps`
//! (per-Service HTTP endpoints), `exec` (pods/exec over WebSocket), `demo` (shop and generated
//! data), `kubeconfig`.
//!
//! # Exec
//! `pods/exec` speaks the WebSocket channel protocol (`v5.channel.k8s.io`, falling back to
//! `v4.channel.k8s.io`), which is what kube's `ws` feature offers. No process runs: an exec into a
//! container named `chaosduck-*` whose command mentions `chaosduck-stop` or `kill` terminates that
//! injector (status terminated, exit code 0, reason Completed) and reports Success on the status
//! channel; any other command gets a Failure `Status` (reason NonZeroExitCode, exit code 126)
//! saying the sandbox does not run arbitrary commands. SPDY (kubectl 1.20's exec) is refused.
//!
//! # Simplifications relative to a real API server
//! - Storage is in memory; one global resourceVersion counter (like etcd's revision). The watch
//!   history is a bounded event log (`watch_history` events); a watch or continue token older than
//!   it gets 410 Expired (watches: an ERROR event with that `Status`, as the watch cache does).
//! - Lists are served from the current state: `resourceVersion`/`resourceVersionMatch` on a list
//!   are ignored (always "most recent"), and `continue` resumes after the last key in the current
//!   state rather than from a snapshot.
//! - No authentication, authorization, admission webhooks, quotas, server-side apply (415),
//!   protobuf, or `dryRun` (400). Table output (for kubectl) covers pods, nodes, deployments,
//!   replicasets, statefulsets, services and events with kubectl's usual columns; other kinds get
//!   NAME/AGE; watches never answer as Table. Not served: configmaps, secrets, serviceaccounts,
//!   events.k8s.io, jobs, ingresses and every other kind not listed in `resources`.
//! - Strategic merge patch looks up list merge keys by field name (containers, ephemeralContainers,
//!   initContainers, env, volumes → name; ports → containerPort; volumeMounts → mountPath;
//!   conditions → type; taints → key; ownerReferences → uid; finalizers unioned), not by the schema
//!   path; `$patch: delete|replace` and `$deleteFromPrimitiveList` are honoured, `$setElementOrder`
//!   and `$retainKeys` ignored. JSON patch supports add/remove/replace/test.
//! - Validation covers names, containers (name, image, duplicates), workload selectors vs template
//!   labels, 0 ≤ replicas ≤ 100,000 (a sandbox limit), pod spec immutability (only images,
//!   activeDeadlineSeconds, tolerations), ephemeral containers (no removal or change) — not the
//!   full OpenAPI validation. Bodies that do
//!   not decode into the k8s-openapi type are 422 Invalid.
//! - Fields selectors: metadata.name/namespace for every kind; pods: spec.nodeName,
//!   spec.restartPolicy, spec.schedulerName, spec.serviceAccountName, status.phase, status.podIP,
//!   status.nominatedNodeName; nodes: spec.unschedulable; events: involvedObject.*, reason, type,
//!   source; namespaces: status.phase.
//! - Deployments replace ReplicaSets at once on a template change (no rolling update strategy);
//!   StatefulSets create missing ordinals in parallel; DaemonSet pods are bound directly to every
//!   ready node (ignoring cordons, as real DaemonSet pods tolerate them).
//! - The scheduler picks the least-loaded ready, schedulable node honouring nodeSelector and
//!   NoSchedule/NoExecute taints vs tolerations; no affinity, spread constraints or resources.
//! - The kubelet makes bound pods Running/Ready after `readiness_delay`, never restarts or fails
//!   containers, and removes terminating pods after min(grace period, `termination_delay`).
//!   Terminating pods turn NotReady at once.
//! - Garbage collection deletes objects whose owners are all gone (background propagation only);
//!   namespace deletion deletes contents then the namespace. Events have no TTL.
//! - EndpointSlices: one per Service, named `SERVICE-sandbox`.
//! - PodDisruptionBudgets: status computed from ready pods; an eviction of a ready pod that would
//!   leave fewer than desiredHealthy is 429 TooManyRequests; `disruptedPods` is not tracked and
//!   not-ready pods can always be evicted.
//! - Simulated apps: requests are answered by the sandbox itself (see `apps`); network loss is a
//!   503 with `x-sandbox-fault: network_loss`, a NetworkPolicy partition a 504 after 200 ms.
//!   Correlation of loss is accepted but not simulated.

mod apps;
mod controllers;
mod demo;
mod discovery;
mod disruption;
mod error;
mod exec;
mod faults;
mod kubeconfig;
mod patch;
mod resources;
mod routes;
mod selectors;
mod store;
mod table;
mod validation;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use apps::URL_ANNOTATION;
pub use controllers::{Timing, pod_ready};
pub use error::{ApiError, SandboxError};
pub use faults::{
    ExecProcess, FaultKind, INJECTOR_PREFIX, Injector, PodEffects, active_injectors, effects,
    effects_with, exec_env, parse_exec_injector, parse_injector,
};
pub use resources::{Kind, Obj};
pub use selectors::{FieldQuery, LabelQuery};

/// Context name written into kubeconfigs.
pub const CONTEXT_NAME: &str = "chaosduck-sandbox";

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Port of the API server (0 = a free port).
    pub port: u16,
    /// Load the shop demo (namespaces, nodes, workloads).
    pub demo: bool,
    /// Extra generated pods for benchmarks (0 = none).
    pub pods: usize,
    /// From scheduling to Ready.
    pub readiness_delay: Duration,
    /// From a missing replica to its replacement.
    pub recreate_delay: Duration,
    /// Upper bound on how long a terminating pod stays.
    pub termination_delay: Duration,
    /// Interval of watch bookmarks.
    pub bookmark_interval: Duration,
    /// Events kept for watch resumption.
    pub watch_history: usize,
    /// Serve a simulated app per Service.
    pub apps: bool,
    /// At most this many app endpoints.
    pub max_apps: usize,
    /// Controller loop period.
    pub tick: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            port: 0,
            demo: true,
            pods: 0,
            readiness_delay: Duration::from_secs(2),
            recreate_delay: Duration::from_secs(1),
            termination_delay: Duration::from_secs(2),
            bookmark_interval: Duration::from_secs(30),
            watch_history: 10_000,
            apps: true,
            max_apps: 256,
            tick: Duration::from_millis(100),
        }
    }
}

impl SandboxOptions {
    /// Short delays for tests.
    pub fn fast() -> Self {
        SandboxOptions {
            readiness_delay: Duration::from_millis(200),
            recreate_delay: Duration::from_millis(200),
            termination_delay: Duration::from_millis(300),
            bookmark_interval: Duration::from_millis(300),
            tick: Duration::from_millis(50),
            ..Default::default()
        }
    }
}

/// A running sandbox. Stops on `shutdown()` or when dropped.
pub struct Sandbox {
    addr: SocketAddr,
    store: Arc<store::Store>,
    apps: Arc<apps::AppRegistry>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts the API server, controllers and app endpoints, with the demo data loaded and settled
    /// (demo pods are Ready when this returns).
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let store = store::Store::new(opts.watch_history);
        let timing = Timing {
            readiness_delay: opts.readiness_delay,
            recreate_delay: opts.recreate_delay,
            termination_delay: opts.termination_delay,
            tick: opts.tick,
        };
        let mut ctrl = controllers::Controllers::default();
        {
            let mut st = store.write();
            if opts.demo {
                demo::load_shop(&mut st);
            }
            demo::load_generated(&mut st, opts.pods);
            if opts.demo || opts.pods > 0 {
                // Settle the demo at once: ReplicaSets, pods, scheduling, readiness, endpoints.
                for _ in 0..2 {
                    ctrl.reconcile(&mut st, std::time::Instant::now(), &timing, true);
                }
            }
            st.compact_all();
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
            .await
            .map_err(|source| SandboxError::Bind {
                what: "API server".into(),
                port: opts.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(SandboxError::Serve)?;
        let shutdown = CancellationToken::new();
        let ctx = routes::Ctx {
            store: store.clone(),
            bookmark_interval: opts.bookmark_interval,
            shutdown: shutdown.clone(),
        };
        let app = routes::router(ctx);
        let mut tasks = Vec::new();
        let tok = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(tok.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "sandbox API server failed");
            }
        }));
        tasks.push(tokio::spawn(ctrl.run(
            store.clone(),
            timing,
            shutdown.clone(),
        )));
        let registry = Arc::new(apps::AppRegistry::default());
        if opts.apps {
            let mut warned = false;
            apps::sync_once(&store, &registry, opts.max_apps, &shutdown, &mut warned).await;
            tasks.push(tokio::spawn(apps::run(
                store.clone(),
                registry.clone(),
                opts.max_apps,
                shutdown.clone(),
            )));
        }
        tracing::info!(%addr, pods = store.read().count(Kind::Pod), "sandbox started");
        Ok(Sandbox {
            addr,
            store,
            apps: registry,
            shutdown,
            tasks,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kube client configuration pointing at the sandbox (namespace `default`).
    pub fn kube_config(&self) -> kube::Config {
        let uri: http::Uri = self
            .base_url()
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("http://127.0.0.1"));
        let mut c = kube::Config::new(uri);
        c.default_namespace = "default".into();
        c
    }

    /// A kube client for the sandbox.
    pub fn client(&self) -> Result<kube::Client, SandboxError> {
        kube::Client::try_from(self.kube_config())
            .map_err(|e| SandboxError::KubeConfig(e.to_string()))
    }

    /// The kubeconfig YAML (server, a cluster/user/context named `chaosduck-sandbox`).
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::render(&self.base_url())
    }

    /// Writes the kubeconfig to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), SandboxError> {
        std::fs::write(path, self.kubeconfig_yaml()).map_err(|source| {
            SandboxError::WriteKubeconfig {
                path: path.display().to_string(),
                source,
            }
        })
    }

    /// URL of the simulated app of a Service.
    pub fn app_url(&self, namespace: &str, service: &str) -> Option<String> {
        self.apps.url(namespace, service)
    }

    /// All app URLs, keyed "namespace/service".
    pub fn app_urls(&self) -> BTreeMap<String, String> {
        self.apps.all()
    }

    /// Current resourceVersion of the store.
    pub fn resource_version(&self) -> u64 {
        self.store.read().rv()
    }

    /// Snapshot of every object of `kind` (all namespaces).
    pub fn objects(&self, kind: Kind) -> Vec<Obj> {
        self.store
            .read()
            .iter(kind, None)
            .map(|o| (**o).clone())
            .collect()
    }

    /// Number of objects of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.store.read().count(kind)
    }

    /// Snapshot of the pods (optionally of one namespace).
    pub fn pods(&self, namespace: Option<&str>) -> Vec<Pod> {
        self.store
            .read()
            .iter(Kind::Pod, namespace)
            .filter_map(|o| o.as_pod().cloned())
            .collect()
    }

    /// One pod.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        self.store
            .read()
            .get(Kind::Pod, namespace, name)
            .and_then(|o| o.as_pod().cloned())
    }

    /// The exec injectors (`injection: exec`) running in the pods of `namespace` (all when
    /// `None`), as (namespace/pod, injector).
    pub fn exec_injectors(&self, namespace: Option<&str>) -> Vec<(String, Injector)> {
        let st = self.store.read();
        st.iter(Kind::Pod, namespace)
            .filter_map(|o| o.as_pod())
            .flat_map(|p| {
                let name = format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default()
                );
                st.exec_injectors(p.metadata.uid.as_deref().unwrap_or_default())
                    .into_iter()
                    .map(move |i| (name.clone(), i))
            })
            .collect()
    }

    /// Snapshot of the nodes.
    pub fn nodes(&self) -> Vec<Node> {
        self.typed(Kind::Node, |o| match o {
            Obj::Node(n) => Some(n.clone()),
            _ => None,
        })
    }

    /// Snapshot of the deployments.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.typed(Kind::Deployment, |o| match o {
            Obj::Deployment(n) => Some(n.clone()),
            _ => None,
        })
    }

    /// Snapshot of the replicasets.
    pub fn replicasets(&self) -> Vec<ReplicaSet> {
        self.typed(Kind::ReplicaSet, |o| match o {
            Obj::ReplicaSet(n) => Some(n.clone()),
            _ => None,
        })
    }

    /// Snapshot of the statefulsets.
    pub fn statefulsets(&self) -> Vec<StatefulSet> {
        self.typed(Kind::StatefulSet, |o| match o {
            Obj::StatefulSet(n) => Some(n.clone()),
            _ => None,
        })
    }

    /// Snapshot of the services.
    pub fn services(&self) -> Vec<Service> {
        self.typed(Kind::Service, |o| match o {
            Obj::Service(n) => Some(n.clone()),
            _ => None,
        })
    }

    fn typed<T>(&self, kind: Kind, f: impl Fn(&Obj) -> Option<T>) -> Vec<T> {
        self.store
            .read()
            .iter(kind, None)
            .filter_map(|o| f(o))
            .collect()
    }

    /// Stops every server and task and waits for them.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        tracing::info!(addr = %self.addr, "sandbox stopped");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `chaosduck sandbox serve`: runs the sandbox as its own process.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Extra generated pods across many namespaces, for benchmarks.
    #[arg(long, default_value_t = 0)]
    pub pods: usize,
    /// Write a kubeconfig (context `chaosduck-sandbox`) to this file.
    #[arg(long, value_name = "FILE")]
    pub write_kubeconfig: Option<PathBuf>,
    /// Start without the shop demo.
    #[arg(long)]
    pub no_demo: bool,
    /// Time from scheduling to Ready (e.g. 2s, 500ms).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    pub readiness_delay: Duration,
    /// Time before a missing replica is recreated.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub recreate_delay: Duration,
    /// Upper bound on pod termination.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    pub termination_delay: Duration,
    /// Do not serve simulated apps for Services.
    #[arg(long)]
    pub no_apps: bool,
    /// Also serve the sandbox AWS account (EC2 and RDS) and write its endpoint and dummy
    /// credentials as shell `export` lines to this file.
    #[arg(long, value_name = "FILE")]
    pub write_aws_env: Option<PathBuf>,
    /// How long the sandbox AWS account's state changes take (stopping → stopped, failover).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    pub aws_transition: Duration,
}

impl SandboxServeArgs {
    /// The options these arguments stand for.
    pub fn options(&self) -> SandboxOptions {
        SandboxOptions {
            port: self.port,
            pods: self.pods,
            demo: !self.no_demo,
            readiness_delay: self.readiness_delay,
            recreate_delay: self.recreate_delay,
            termination_delay: self.termination_delay,
            apps: !self.no_apps,
            ..SandboxOptions::default()
        }
    }
}

/// Runs the sandbox until SIGINT or SIGTERM. Prints one line on stdout when ready (the command's
/// output, like `kubectl proxy`): the server URL and the kubeconfig path.
pub async fn serve(args: SandboxServeArgs) -> Result<(), SandboxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(SandboxError::Signal)?;
    let sandbox = Sandbox::start(args.options()).await?;
    if let Some(p) = &args.write_kubeconfig {
        sandbox.write_kubeconfig(p)?;
    }
    let aws_sandbox = match &args.write_aws_env {
        Some(p) => {
            let a = aws::start(aws::SandboxOptions {
                transition: args.aws_transition,
                ..aws::SandboxOptions::default()
            })
            .await
            .map_err(|e| SandboxError::Other(format!("the AWS sandbox: {e}")))?;
            a.write_aws_env(p)
                .map_err(|e| SandboxError::Other(format!("the AWS sandbox: {e}")))?;
            let _ = writeln_stdout(&format!(
                "sandbox AWS account on {} (env {})\n",
                a.endpoint_url(),
                p.display()
            ));
            Some(a)
        }
        None => None,
    };
    let line = match &args.write_kubeconfig {
        Some(p) => format!(
            "sandbox listening on {} (kubeconfig {})\n",
            sandbox.base_url(),
            p.display()
        ),
        None => format!("sandbox listening on {}\n", sandbox.base_url()),
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
    tracing::info!(url = %sandbox.base_url(), "sandbox serving until SIGINT/SIGTERM");
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(SandboxError::Signal)?,
        _ = term.recv() => {}
    }
    sandbox.shutdown().await;
    if let Some(a) = aws_sandbox {
        a.shutdown().await;
    }
    Ok(())
}

fn writeln_stdout(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}
pub mod aws;
pub mod faulty_proxy;
