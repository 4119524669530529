//! Shared helpers for the AWS tests: moto's standalone server (one per test, on a free loopback
//! port, stopped by its guard), the in-process sandbox account, SDK clients with dummy
//! credentials, fixtures, and the real `chaosduck` binary pointed at the endpoint.
#![allow(dead_code)]

use aws_sdk_ec2::types::Filter;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The secret key every test uses; it must never appear in output, logs or the store.
pub const SECRET: &str = "cdSecretNeverLogged9f3a7c1e5b2d8f4a6c0e2b4d";
/// The access key id.
pub const KEY_ID: &str = "AKIACHAOSDUCKTEST01";
/// The region of every fixture.
pub const REGION: &str = "us-east-1";

/// A moto server on a free loopback port; killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
}

fn moto_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHAOSDUCK_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("moto_server"))
            .find(|p| p.exists())
    })
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local addr").port()
}

/// A raw HTTP/1.1 request to a loopback server; returns the status and body.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

impl Moto {
    /// Starts moto, or prints why the test is skipped and returns `None` when moto is missing.
    pub fn start() -> Option<Moto> {
        let Some(bin) = moto_binary() else {
            eprintln!(
                "SKIPPED: moto_server not found (install it: python3 -m venv .venv && .venv/bin/pip install 'moto[server]'; scripts/test.sh does this)"
            );
            return None;
        };
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut m = Moto {
                child,
                url: format!("http://127.0.0.1:{port}"),
                port,
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = m.child.try_wait() {
                    break; // port taken by someone else: try another
                }
                if http(port, "GET", "/moto-api/", "").is_some_and(|(s, _)| s == 200) {
                    return Some(m);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
        panic!("moto_server did not become ready on a loopback port within 20 s (3 tries)");
    }

    /// Clears every resource.
    pub fn reset(&self) {
        let r = http(self.port, "POST", "/moto-api/reset", "");
        assert!(
            r.as_ref().is_some_and(|(s, _)| *s == 200),
            "moto reset failed: {r:?}"
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Where moto and the sandbox disagree. moto wins unless it is known to differ from AWS; each case
// below is one where moto differs from AWS, so the sandbox follows AWS and the tests accept both:
//
// 1. StopInstances/StartInstances: moto changes the state at once; AWS (and the sandbox) pass
//    through `stopping`/`pending`, and AWS rejects StartInstances while `stopping`
//    (IncorrectInstanceState). The engine waits for `stopped` either way.
// 2. FailoverDBCluster: moto swaps the writer at once and stays `available`; AWS (and the
//    sandbox) go through `failing-over` first. Revert waits for `available` either way.
// 3. RebootDBInstance with ForceFailover: moto accepts it and changes nothing; AWS (and the
//    sandbox) reboot (`rebooting`) and swap the primary and standby zones.
// 4. Routes whose target is an unattached network interface or a deleted gateway: moto keeps
//    them `active`; AWS (and the sandbox) describe them as `blackhole`. The fixture's route to a
//    bare interface is therefore `blackhole` in the sandbox; tests compare before/after only.
// 5. A route created with InstanceId: moto describes it by instanceId alone; AWS (and the
//    sandbox) route to the instance's primary interface and describe networkInterfaceId and
//    instanceId. The engine restores by interface when one is described, else by instance.
// 6. Throttling, AccessDenied and injected IncorrectInstanceState: moto cannot be made to
//    return them, so those error tests run against the sandbox only (tests/aws_errors.rs).

/// The endpoint a test talks to: moto or the sandbox account. The same tests run on both.
pub enum Peer {
    /// moto's standalone server.
    Moto(Moto),
    /// The in-process sandbox account (empty; transitions take 300 ms).
    Sandbox(chaosduck::sandbox::aws::AwsSandbox),
}

impl Peer {
    /// Its URL.
    pub fn url(&self) -> String {
        match self {
            Peer::Moto(m) => m.url.clone(),
            Peer::Sandbox(s) => s.endpoint_url(),
        }
    }

    /// Its name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Peer::Moto(_) => "moto",
            Peer::Sandbox(_) => "sandbox",
        }
    }

    /// Clears every resource.
    pub fn reset(&self) {
        match self {
            Peer::Moto(m) => m.reset(),
            Peer::Sandbox(s) => s.reset(),
        }
    }

    /// The sandbox, for tests that inject errors.
    pub fn sandbox(&self) -> Option<&chaosduck::sandbox::aws::AwsSandbox> {
        match self {
            Peer::Sandbox(s) => Some(s),
            Peer::Moto(_) => None,
        }
    }
}

/// An empty sandbox account whose transitions take 300 ms.
pub async fn sandbox() -> Peer {
    let s = chaosduck::sandbox::aws::start(chaosduck::sandbox::aws::SandboxOptions {
        port: 0,
        transition: Duration::from_millis(300),
        demo: false,
    })
    .await
    .expect("start the sandbox account");
    Peer::Sandbox(s)
}

/// moto (when installed) and the sandbox.
pub async fn peers() -> Vec<Peer> {
    let mut v = Vec::new();
    if let Some(m) = Moto::start() {
        v.push(Peer::Moto(m));
    }
    v.push(sandbox().await);
    v
}

/// SDK clients against an endpoint, with the dummy credentials.
pub struct Sdk {
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
}

impl Sdk {
    pub fn new(url: &str) -> Sdk {
        let creds = aws_sdk_ec2::config::Credentials::new(KEY_ID, SECRET, None, None, "test");
        let ec2 = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new(REGION))
            .credentials_provider(creds.clone())
            .endpoint_url(url)
            .build();
        let rds = aws_sdk_rds::Config::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_sdk_rds::config::Region::new(REGION))
            .credentials_provider(creds)
            .endpoint_url(url)
            .build();
        Sdk {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            rds: aws_sdk_rds::Client::from_conf(rds),
        }
    }
}

pub fn filter(name: &str, v: &str) -> Filter {
    Filter::builder().name(name).values(v).build()
}

pub fn tag_map(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// A temp home for the binary, with its own XDG dirs and store, pointed at one endpoint.
pub struct AwsHome {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl AwsHome {
    pub fn new(url: &str) -> AwsHome {
        let dir = tempfile::Builder::new()
            .prefix("cdaws")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("run")).expect("run dir");
        AwsHome {
            dir,
            url: url.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("data").join("chaosduck.redb")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_chaosduck"));
        for v in [
            "CHAOSDUCK_FAILPOINT",
            "KUBECONFIG",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "CHAOSDUCK_WORLD",
        ] {
            c.env_remove(v);
        }
        c.env("XDG_DATA_HOME", self.path().join("data-home"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_RUNTIME_DIR", self.path().join("run"))
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path().join("no-aws-credentials"),
            )
            .env("CHAOSDUCK_AWS_WAIT_TIMEOUT", "60s")
            .arg("--db")
            .arg(self.db());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let o = self.cmd().args(args).output().expect("run chaosduck");
        self.assert_no_secret(&text(&o));
        o
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

    /// Writes a config file and returns its path.
    pub fn config(&self, toml: &str) -> PathBuf {
        let p = self.path().join("config.toml");
        std::fs::write(&p, toml).expect("write config");
        p
    }

    pub fn assert_no_secret(&self, s: &str) {
        assert!(
            !s.contains(SECRET),
            "the secret key leaked into output:\n{s}"
        );
    }

    /// Neither the store nor the logs hold the secret.
    pub fn assert_store_and_logs_clean(&self) {
        for dir in [self.path().join("data"), self.path().join("state")] {
            for f in walk(&dir) {
                let bytes = std::fs::read(&f).unwrap_or_default();
                let needle = SECRET.as_bytes();
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "the secret key leaked into {}",
                    f.display()
                );
            }
        }
    }

    /// Starts a run in the background; the guard kills it if the test ends first.
    pub fn spawn(&self, args: &[&str]) -> Bg {
        Bg::new(
            self.cmd()
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn chaosduck"),
        )
    }
}

/// A background `chaosduck`: killed on drop unless [`Bg::finish`] collected it, so a failing
/// assertion never leaves a process behind.
pub struct Bg(Option<Child>);

impl Bg {
    pub fn new(c: Child) -> Bg {
        Bg(Some(c))
    }

    /// Waits for the process to end (bounded) and returns its output.
    pub fn finish(mut self, limit: Duration) -> Output {
        let child = self.0.take().expect("running");
        finish(child, limit)
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
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

/// Waits for a background run to end (bounded) and returns its output.
pub fn finish(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(o)) => o,
        _ => {
            // SAFETY: kill(2) on a pid we started.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
            panic!("chaosduck did not finish within {:?}", start.elapsed());
        }
    }
}

/// Polls an async check every 100 ms until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f().await
}
pub mod fixture;
