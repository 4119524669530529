//! Shared helpers for the integration tests: a temp home with its own XDG dirs, a test world,
//! experiment files, and the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cd")
            .tempdir()
            .expect("tempdir");
        let h = Home { dir };
        std::fs::create_dir_all(h.world()).unwrap();
        std::fs::create_dir_all(h.path().join("run")).unwrap();
        h
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn world(&self) -> PathBuf {
        self.path().join("world")
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("data").join("chaosduck.redb")
    }

    /// A world with `n` pods labelled app=web in namespace `shop` (plus others).
    pub fn write_world(&self, web_pods: usize) {
        let mut pods = Vec::new();
        for i in 0..web_pods {
            pods.push(serde_json::json!({"namespace": "shop", "name": format!("web-{i}"), "labels": {"app": "web"}}));
        }
        for i in 0..10 {
            pods.push(serde_json::json!({"namespace": "shop", "name": format!("other-{i}"), "labels": {"app": "other"}}));
        }
        for i in 0..3 {
            pods.push(serde_json::json!({"namespace": "kube-system", "name": format!("dns-{i}"), "labels": {"app": "dns"}}));
        }
        let w = serde_json::json!({"pods": pods, "nodes": []});
        std::fs::write(
            self.world().join("world.json"),
            serde_json::to_vec_pretty(&w).unwrap(),
        )
        .unwrap();
    }

    /// Writes an experiment file whose `spec` body is given (indented by 2).
    pub fn experiment(&self, name: &str, spec: &str) -> PathBuf {
        let p = self.path().join(format!("{name}.yaml"));
        let body = format!(
            "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata:\n  name: {name}\nspec:\n{spec}"
        );
        std::fs::write(&p, body).unwrap();
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = self.cmd_without_world();
        c.arg("--world").arg(self.world());
        c
    }

    /// The binary with this home's environment and database, without the test world.
    pub fn cmd_without_world(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_chaosduck"));
        c.env_remove("CHAOSDUCK_FAILPOINT")
            .env_remove("KUBECONFIG")
            .env("XDG_DATA_HOME", self.path().join("data-home"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_RUNTIME_DIR", self.path().join("run"))
            .arg("--db")
            .arg(self.db());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run chaosduck")
    }

    /// Fault markers present in the world.
    pub fn markers(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.world())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".fault"))
            .collect();
        v.sort();
        v
    }

    /// Lines of undo.log (one per undo that took effect).
    pub fn undo_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.world().join("undo.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
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

/// Polls `f` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

pub const WEB: &str =
    "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=web}}\n";
