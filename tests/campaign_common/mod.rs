//! Shared by the campaigns (crash, API faults): a `chaosduck sandbox serve` process (cluster and
//! AWS account), the kill-and-restart helpers, the "is the system clean" checks, the journal check
//! read straight from the store, a seeded RNG and percentile tables.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: `CHAOSDUCK_BIN` when set (a private copy for long campaigns, so a
/// rebuild in a shared target dir cannot swap it mid-run), else the one cargo built.
pub fn bin() -> String {
    std::env::var("CHAOSDUCK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_chaosduck").to_string())
}

/// A `chaosduck sandbox serve` process with fast timings, serving the cluster and the AWS
/// account; killed on drop.
pub struct Served {
    child: Child,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    /// The sandbox account's endpoint.
    pub aws_url: String,
    /// The API server's URL.
    pub kube_url: String,
}

impl Served {
    /// Starts it and waits (bounded) until both files are written.
    pub fn start() -> Served {
        let dir = tempfile::Builder::new()
            .prefix("cdserve")
            .tempdir()
            .expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let env = dir.path().join("aws.env");
        let child = Command::new(bin())
            .args(["sandbox", "serve", "--write-kubeconfig"])
            .arg(&kubeconfig)
            .arg("--write-aws-env")
            .arg(&env)
            .args([
                "--readiness-delay",
                "200ms",
                "--recreate-delay",
                "200ms",
                "--termination-delay",
                "300ms",
                "--aws-transition",
                "300ms",
            ])
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chaosduck sandbox serve");
        let mut s = Served {
            child,
            kube_url: String::new(),
            aws_url: String::new(),
            kubeconfig,
            dir,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("chaosduck sandbox serve exited early: {st}");
            }
            let kc = std::fs::read_to_string(&s.kubeconfig).unwrap_or_default();
            let aws = std::fs::read_to_string(&env).unwrap_or_default();
            let server = kc
                .lines()
                .find_map(|l| l.trim().strip_prefix("server:"))
                .map(|v| v.trim().trim_matches(['"', '\'']).to_string());
            let url = aws
                .lines()
                .find_map(|l| l.strip_prefix("export AWS_ENDPOINT_URL="))
                .map(str::to_string);
            if let (Some(k), Some(a)) = (server, url) {
                s.kube_url = k;
                s.aws_url = a;
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chaosduck sandbox serve did not write its kubeconfig and env within 30 s");
    }

    /// A kube client for it (from the kubeconfig it wrote).
    pub async fn client(&self) -> kube::Client {
        kube_client(&self.kubeconfig).await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A kube client from a kubeconfig file.
pub async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config");
    kube::Client::try_from(cfg).expect("kube client")
}

/// A background process killed (SIGKILL) on drop unless collected.
pub struct Proc(Option<Child>);

impl Proc {
    pub fn spawn(mut c: Command) -> Proc {
        c.stdin(Stdio::null());
        Proc(Some(c.spawn().expect("spawn chaosduck")))
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Takes its piped stdout, to read while it runs.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.0.as_mut().and_then(|c| c.stdout.take())
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// kill -9, then reap.
    pub fn kill9(&mut self) -> Option<std::process::ExitStatus> {
        let c = self.0.as_mut()?;
        // SAFETY: kill(2) on a child we started and have not reaped.
        unsafe {
            libc::kill(c.id() as i32, libc::SIGKILL);
        }
        c.wait().ok()
    }

    /// Waits up to `limit` for it to end; Err (after killing it) when it did not.
    pub fn finish(mut self, limit: Duration) -> Result<Output, String> {
        let child = self.0.take().expect("running");
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(limit) {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(e)) => Err(format!("wait failed: {e}")),
            Err(_) => {
                // SAFETY: kill(2) on a pid we started (its waiter thread reaps it).
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
                Err(format!("did not finish within {limit:?} (killed)"))
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs a command to its end, bounded.
pub fn run_bounded(mut c: Command, limit: Duration) -> Result<Output, String> {
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    Proc::spawn(c).finish(limit)
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Journal entries still open in a store, read directly (no process may hold the file).
pub fn open_entries(db: &Path) -> Result<Vec<String>, String> {
    if !db.exists() {
        return Ok(Vec::new());
    }
    let mut last = String::new();
    // The process that held the store may still be releasing its lock for a moment.
    for _ in 0..50 {
        match chaosduck::store::Store::open(db) {
            Ok(s) => {
                let open = s.open_journal().map_err(|e| e.to_string())?;
                return Ok(open
                    .iter()
                    .map(|e| format!("{} #{} {}: {}", e.experiment_id, e.seq, e.state, e.summary))
                    .collect());
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("cannot open {}: {last}", db.display()))
}

/// Every journal entry in a store, as (state, undo) strings, across experiments.
pub fn all_entries(db: &Path) -> Result<Vec<(String, String, String)>, String> {
    if !db.exists() {
        return Ok(Vec::new());
    }
    let mut tries = 0;
    let s = loop {
        match chaosduck::store::Store::open(db) {
            Ok(s) => break s,
            Err(e) if tries >= 50 => return Err(e.to_string()),
            Err(_) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    let mut out = Vec::new();
    for x in s.experiments().map_err(|e| e.to_string())? {
        for e in s.journal(&x.id).map_err(|e| e.to_string())? {
            out.push((x.id.clone(), e.state.to_string(), e.summary.clone()));
        }
    }
    Ok(out)
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn running_injectors(p: &Pod) -> Vec<String> {
    p.status
        .as_ref()
        .and_then(|s| s.ephemeral_container_statuses.as_ref())
        .map(|v| {
            v.iter()
                .filter(|c| {
                    c.name.starts_with("chaosduck-")
                        && c.state
                            .as_ref()
                            .is_some_and(|s| s.running.is_some() || s.waiting.is_some())
                })
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// What of ChaosDuck's is left in the cluster now: running injectors, partition labels,
/// ChaosDuck NetworkPolicies, cordoned nodes, shop pods not ready. Empty when clean. An API
/// error is reported as a leftover (it cannot be shown clean).
pub async fn k8s_leftovers(client: &kube::Client) -> Vec<String> {
    let mut wrong = Vec::new();
    let pods: Api<Pod> = Api::all(client.clone());
    match pods.list(&ListParams::default()).await {
        Ok(l) => {
            for p in l.items {
                let name = format!(
                    "{}/{}",
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default()
                );
                for c in running_injectors(&p) {
                    wrong.push(format!("injector {c} still running in {name}"));
                }
                if p.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key("chaosduck.io/partition"))
                {
                    wrong.push(format!("partition label left on {name}"));
                }
                if name.starts_with("shop/") && !ready(&p) {
                    wrong.push(format!("{name} not ready"));
                }
            }
        }
        Err(e) => wrong.push(format!("cannot list pods: {e}")),
    }
    let np: Api<NetworkPolicy> = Api::all(client.clone());
    match np
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=chaosduck"))
        .await
    {
        Ok(l) => {
            for n in l.items {
                wrong.push(format!(
                    "NetworkPolicy {} left",
                    n.metadata.name.unwrap_or_default()
                ));
            }
        }
        Err(e) => wrong.push(format!("cannot list policies: {e}")),
    }
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.list(&ListParams::default()).await {
        Ok(l) => {
            for n in l.items {
                if n.spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false)
                {
                    wrong.push(format!(
                        "node {} left cordoned",
                        n.metadata.name.unwrap_or_default()
                    ));
                }
            }
        }
        Err(e) => wrong.push(format!("cannot list nodes: {e}")),
    }
    wrong
}

/// Polls `k8s_leftovers` every 50 ms until clean or `limit`; returns what is left.
pub async fn k8s_clean_within(client: &kube::Client, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let w = k8s_leftovers(client).await;
        if w.is_empty() || start.elapsed() > limit {
            return w;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The nearest-rank percentile of durations (p in 0..=100), in ms.
pub fn pct_ms(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// A seed from the environment variable `var`, or from the clock; printed by the caller.
pub fn seed(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(42)
        })
}

/// A number from the environment, or `default`.
pub fn env_num(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Counts by key, printed in key order.
pub type Tally = BTreeMap<String, usize>;

/// A temp home for the binary (XDG dirs, its own store), pointed at a cluster (kubeconfig)
/// and/or an AWS endpoint.
pub struct CampHome {
    pub dir: tempfile::TempDir,
    pub kubeconfig: Option<PathBuf>,
    pub aws_url: Option<String>,
}

impl CampHome {
    pub fn new(kubeconfig: Option<&Path>, aws_url: Option<&str>) -> CampHome {
        let dir = tempfile::Builder::new()
            .prefix("cdcamp")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("run")).expect("run dir");
        CampHome {
            dir,
            kubeconfig: kubeconfig.map(Path::to_path_buf),
            aws_url: aws_url.map(str::to_string),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("data").join("chaosduck.redb")
    }

    /// The binary with this home's environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        for v in [
            "CHAOSDUCK_FAILPOINT",
            "KUBECONFIG",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "CHAOSDUCK_WORLD",
            "CHAOSDUCK_CONFIG",
            "CHAOSDUCK_DB",
        ] {
            c.env_remove(v);
        }
        c.env("XDG_DATA_HOME", self.path().join("data-home"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_RUNTIME_DIR", self.path().join("run"))
            .env("HOME", self.path())
            .arg("--db")
            .arg(self.db());
        if let Some(k) = &self.kubeconfig {
            c.arg("--kubeconfig").arg(k);
        }
        if let Some(u) = &self.aws_url {
            c.env("AWS_ENDPOINT_URL", u)
                .env("AWS_ACCESS_KEY_ID", "AKIACAMPAIGN")
                .env("AWS_SECRET_ACCESS_KEY", "campaign-secret")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_CONFIG_FILE", self.path().join("no-aws-config"))
                .env(
                    "AWS_SHARED_CREDENTIALS_FILE",
                    self.path().join("no-aws-credentials"),
                )
                .env("CHAOSDUCK_AWS_WAIT_TIMEOUT", "60s");
        }
        c
    }

    /// Writes an experiment file whose `spec` body is given (indented by 2).
    pub fn experiment(&self, name: &str, spec: &str) -> PathBuf {
        let p = self.path().join(format!("{name}.yaml"));
        let body = format!(
            "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata:\n  name: {name}\nspec:\n{spec}"
        );
        std::fs::write(&p, body).expect("write experiment");
        p
    }
}

/// What the system under one cell is.
pub enum System {
    K8s(kube::Client),
    Aws {
        sdk: crate::aws_common::Sdk,
        net: crate::aws_common::fixture::Net,
        before: String,
    },
}

impl System {
    /// What is left now (empty = clean), polled until clean or `limit`.
    pub async fn leftovers(&self, limit: Duration) -> Vec<String> {
        match self {
            System::K8s(c) => k8s_clean_within(c, limit).await,
            System::Aws { sdk, net, before } => {
                let start = Instant::now();
                loop {
                    let now = crate::aws_common::fixture::snapshot(sdk, net).await;
                    if &now == before {
                        return Vec::new();
                    }
                    if start.elapsed() > limit {
                        return vec![diff(before, &now)];
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// The lines of `now` that differ from `before`.
pub fn diff(before: &str, now: &str) -> String {
    let b: Vec<&str> = before.lines().collect();
    let changed: Vec<String> = now
        .lines()
        .filter(|l| !b.contains(l))
        .take(12)
        .map(|l| l.trim().to_string())
        .collect();
    format!("AWS state differs from before: {}", changed.join(" | "))
}

/// Every Kubernetes fault kind, with a target in the shop demo.
pub const K8S: &[(&str, &str)] = &[
    (
        "pod_delete",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=checkout, count: 1}}\n",
    ),
    (
        "network_latency",
        "  fault: {type: network_latency, latency: 400ms}\n  target: {pods: {namespace: shop, selector: app=payments}}\n",
    ),
    (
        "network_loss",
        "  fault: {type: network_loss, percent: 100}\n  target: {pods: {namespace: shop, selector: app=catalog}}\n",
    ),
    (
        "cpu_stress",
        "  fault: {type: cpu_stress, workers: 1, load: 50}\n  target: {pods: {namespace: shop, selector: app=frontend, count: 1}}\n",
    ),
    (
        "memory_stress",
        "  fault: {type: memory_stress, size: 64Mi}\n  target: {pods: {namespace: shop, selector: app=catalog, count: 1}}\n",
    ),
    (
        "network_partition",
        "  fault: {type: network_partition}\n  target: {pods: {namespace: shop, selector: app=redis}}\n",
    ),
    (
        "node_cordon",
        "  fault: {type: node_cordon, drain: true}\n  target: {nodes: {selector: topology.kubernetes.io/zone=zone-a}}\n",
    ),
];

/// Every AWS fault kind.
pub const AWS: &[&str] = &["ec2_stop", "rds_failover", "route_blackhole", "az_outage"];

/// The spec body of an AWS fault against the fixture `net`, held for `duration`.
pub fn aws_spec(kind: &str, net: &crate::aws_common::fixture::Net, duration: &str) -> String {
    let (f, t) = match kind {
        "ec2_stop" => (
            "{type: ec2_stop}".to_string(),
            format!("{{instances: {{ids: [{}, {}]}}}}", net.web[0], net.web[1]),
        ),
        "route_blackhole" => (
            "{type: route_blackhole}".to_string(),
            format!(
                "{{route: {{routeTable: {}, destinationCidr: 10.1.0.0/16}}}}",
                net.rtb
            ),
        ),
        "az_outage" => (
            "{type: az_outage}".to_string(),
            format!(
                "{{availabilityZone: {{vpc: {}, zone: us-east-1a}}}}",
                net.vpc
            ),
        ),
        "rds_failover" => (
            "{type: rds_failover, failBack: true}".to_string(),
            "{dbCluster: {id: orders}}".to_string(),
        ),
        other => panic!("unknown AWS fault {other}"),
    };
    format!(
        "  fault: {f}\n  target: {t}\n  duration: {duration}\n  safety: {{blastRadius: 100%, timeout: 5m}}\n"
    )
}
