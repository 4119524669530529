//! What the safety campaigns share: a private home (XDG dirs), the sandbox cluster and AWS
//! account as their own process, `chaosduck` commands that check the world is clean, and the
//! figures' arithmetic.
//!
//! Used via `#[path = "support/campaign.rs"] mod campaign;` (each bench uses a part of it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chaosduck"))
}

/// A private home: `state`, `data`, `config` and `run` (the XDG dirs), removed at the end.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A new home under the temp dir.
    pub fn new(prefix: &str) -> Home {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("tempdir");
        for d in ["state", "data", "config", "run"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("dirs");
        }
        Home { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `$XDG_STATE_HOME` (the log is under `chaosduck/`).
    pub fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    /// `chaosduck` with this home's environment only (plus `extra`), logging at info.
    pub fn cmd(&self, extra: &[(&str, &str)]) -> Command {
        let p = self.path();
        let mut c = Command::new(bin());
        c.current_dir(p)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", p)
            .env("LANG", "C.UTF-8")
            .env("CHAOSDUCK_LOG", "info")
            .env("XDG_STATE_HOME", p.join("state"))
            .env("XDG_DATA_HOME", p.join("data"))
            .env("XDG_CONFIG_HOME", p.join("config"))
            .env("XDG_RUNTIME_DIR", p.join("run"))
            .envs(extra.iter().copied())
            .stdin(Stdio::null());
        c
    }

    /// Runs `chaosduck ARGS` to completion (bounded by `limit`); stdout, or the failure.
    pub fn output(
        &self,
        extra: &[(&str, &str)],
        args: &[&str],
        limit: Duration,
    ) -> Result<String, String> {
        let mut child = self
            .cmd(extra)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let t_out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break Some(s);
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let (out, err) = (
            t_out.join().unwrap_or_default(),
            t_err.join().unwrap_or_default(),
        );
        match status {
            Some(s) if s.success() => Ok(out),
            Some(s) => Err(format!("chaosduck {args:?} exited {s}: {}", err.trim())),
            None => Err(format!("chaosduck {args:?} timed out after {limit:?}")),
        }
    }
}

/// `chaosduck sandbox serve` as its own process (stopped on drop): the cluster with `pods`
/// extra pods and, with `aws`, the sandbox AWS account.
pub struct Sandbox {
    child: Child,
    pub kubeconfig: PathBuf,
    /// The account's environment (`AWS_ENDPOINT_URL`, region, dummy keys), when served.
    pub aws_env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn start(home: &Home, pods: usize, aws: bool) -> Sandbox {
        let kubeconfig = home.path().join("sandbox.kubeconfig");
        let env_file = home.path().join("sandbox-aws.env");
        let db = home.path().join("sandbox.redb");
        let pods = pods.to_string();
        let mut args = vec![
            "--db",
            db.to_str().expect("utf-8 path"),
            "sandbox",
            "serve",
            "--pods",
            &pods,
            "--write-kubeconfig",
            kubeconfig.to_str().expect("utf-8 path"),
        ];
        if aws {
            args.extend(["--write-aws-env", env_file.to_str().expect("utf-8 path")]);
        }
        let mut child = home
            .cmd(&[("CHAOSDUCK_LOG", "warn")])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(home.path().join("sandbox.stderr")).expect("stderr file"),
            ))
            .spawn()
            .expect("spawn the sandbox");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        // Drains the sandbox's stdout for its whole life (it ends with the process).
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let mut sb = Sandbox {
            child,
            kubeconfig,
            aws_env: Vec::new(),
        };
        let start = Instant::now();
        loop {
            let left = Duration::from_secs(120).saturating_sub(start.elapsed());
            match rx.recv_timeout(left) {
                Ok(l) if l.starts_with("sandbox listening") => break,
                Ok(_) => {}
                Err(_) => panic!("the sandbox did not get ready within 120 s"),
            }
        }
        if aws {
            let text = std::fs::read_to_string(&env_file).expect("the sandbox's AWS env file");
            sb.aws_env = text
                .lines()
                .filter_map(|l| l.strip_prefix("export "))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect();
        }
        sb
    }

    /// The AWS environment as `(name, value)` pairs for `Command::envs`.
    pub fn aws_pairs(&self) -> Vec<(&str, &str)> {
        self.aws_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub fn aws_endpoint(&self) -> &str {
        self.aws_env
            .iter()
            .find(|(k, _)| k == "AWS_ENDPOINT_URL")
            .map_or("", |(_, v)| v.as_str())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // SAFETY: signals only the child this benchmark started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("not JSON ({e}): {}", &text[..text.len().min(300)]))
}

/// Pods carrying a running ChaosDuck injector, as `topology -o json` reports them (read with a
/// database of its own so it never waits for the one under test).
pub fn faulted_pods(home: &Home, kubeconfig: &Path) -> Result<u64, String> {
    let db = home.path().join("observer.redb");
    let out = home.output(
        &[],
        &[
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8 path"),
            "--db",
            db.to_str().expect("utf-8 path"),
            "topology",
            "-o",
            "json",
        ],
        Duration::from_secs(60),
    )?;
    json(&out)?["faulted_pods"]
        .as_u64()
        .ok_or_else(|| "topology JSON without faulted_pods".to_string())
}

/// `topology --aws -o json` of the sandbox account.
pub fn aws_topology(home: &Home, sb: &Sandbox) -> Result<serde_json::Value, String> {
    let db = home.path().join("observer.redb");
    let out = home.output(
        &sb.aws_pairs(),
        &[
            "--aws-endpoint-url",
            sb.aws_endpoint(),
            "--region",
            "us-east-1",
            "--db",
            db.to_str().expect("utf-8 path"),
            "topology",
            "--aws",
            "-o",
            "json",
        ],
        Duration::from_secs(60),
    )?;
    json(&out)
}

/// Ids of the experiments in a database (`list -o json`).
pub fn experiment_ids(home: &Home, db: &Path) -> Result<Vec<String>, String> {
    let out = home.output(
        &[],
        &[
            "--db",
            db.to_str().expect("utf-8 path"),
            "list",
            "-o",
            "json",
        ],
        Duration::from_secs(30),
    )?;
    Ok(json(&out)?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// One experiment's journal entries (`show ID -o json`).
pub fn journal(home: &Home, db: &Path, id: &str) -> Result<Vec<serde_json::Value>, String> {
    let out = home.output(
        &[],
        &[
            "--db",
            db.to_str().expect("utf-8 path"),
            "show",
            id,
            "-o",
            "json",
        ],
        Duration::from_secs(30),
    )?;
    Ok(json(&out)?["journal"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Every journal entry of every experiment in a database.
pub fn all_entries(home: &Home, db: &Path) -> Result<Vec<serde_json::Value>, String> {
    let mut all = Vec::new();
    for id in experiment_ids(home, db)? {
        all.extend(journal(home, db, &id)?);
    }
    Ok(all)
}

/// Entries not in state `reverted`.
pub fn not_reverted(entries: &[serde_json::Value]) -> usize {
    entries
        .iter()
        .filter(|e| e["state"].as_str() != Some("reverted"))
        .count()
}

/// The `q`-quantile (nearest rank) of `v`, or None when empty.
pub fn pct(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    Some(s[((s.len() - 1) as f64 * q).round() as usize])
}

/// Milliseconds, or `—`.
pub fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.0} ms"))
}

/// An environment variable as a number, or the default.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
