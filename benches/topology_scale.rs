//! The Kubernetes topology at scale: a `chaosduck sandbox serve --pods N` process, then the time
//! until `chaosduck topology` holds every pod (process start to JSON printed) and that process's
//! peak RSS, against one `kubectl get pods -A` listing of the same sandbox, in one run.
//!
//! Run: `cargo bench --bench topology_scale [PODS,...]` (default 1000,10000,30000, each against
//! its own sandbox). `KUBECTL` picks kubectl.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Waits for one child and returns its peak RSS in KiB (that child's own, not the maximum over
/// every child this process waited for).
fn wait_rss_kib(child: &std::process::Child) -> i64 {
    // SAFETY: wait4 writes into the status and rusage we pass; the pid is our unwaited child.
    unsafe {
        let mut status = 0;
        let mut u: libc::rusage = std::mem::zeroed();
        libc::wait4(child.id() as i32, &mut status, 0, &mut u);
        u.ru_maxrss
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .map(|a| a.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 30_000]);
    println!(
        "| pods | chaosduck topology (s) | peak RSS (MiB) | kubectl get pods -A (s) | ratio |"
    );
    let mut rows = Vec::new();
    for pods in sizes {
        rows.push(measure(pods));
    }
    println!();
    println!(
        "| pods | chaosduck topology (s) | peak RSS (MiB) | kubectl get pods -A (s) | ratio |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

// The topology child is reaped by `wait_rss_kib` (wait4), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn measure(pods: usize) -> String {
    let exe = std::env::current_exe().expect("bench path");
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("chaosduck"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "build the binary first: cargo build --release ({})",
        bin.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    let t0 = Instant::now();
    let mut sb = Command::new(&bin)
        .args([
            "sandbox",
            "serve",
            "--pods",
            &pods.to_string(),
            "--no-apps",
            "--write-kubeconfig",
        ])
        .arg(&kc)
        .env("XDG_STATE_HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sandbox");
    let mut line = String::new();
    BufReader::new(sb.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("sandbox line");
    println!(
        "sandbox with {pods} extra pods up in {:.2}s",
        t0.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut child = Command::new(&bin)
        .args(["--kubeconfig"])
        .arg(&kc)
        .args(["--db"])
        .arg(dir.path().join("db.redb"))
        .args(["topology", "-o", "json"])
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_RUNTIME_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("topology");
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().expect("stdout"), &mut stdout)
        .expect("topology output");
    let rss = wait_rss_kib(&child);
    let topo = t.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&stdout).expect("topology json");
    let seen = v["pods"].as_u64().unwrap_or(0);

    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let t = Instant::now();
    let k = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["get", "pods", "-A", "--no-headers"])
        .output();
    let kt = t.elapsed();
    let _ = sb.kill();
    let _ = sb.wait();

    println!(
        "chaosduck topology: {seen} pods in {:.2}s (whole process), peak RSS {:.0} MiB",
        topo.as_secs_f64(),
        rss as f64 / 1024.0
    );
    let (kubectl_s, ratio) = match k {
        Ok(o) if o.status.success() => {
            let lines = String::from_utf8_lossy(&o.stdout).lines().count();
            println!(
                "kubectl get pods -A: {lines} pods in {:.2}s",
                kt.as_secs_f64()
            );
            let ratio = topo.as_secs_f64() / kt.as_secs_f64();
            println!("ratio chaosduck/kubectl: {ratio:.2}");
            (format!("{:.2}", kt.as_secs_f64()), format!("{ratio:.2}"))
        }
        _ => {
            println!("kubectl not available; no comparison");
            ("-".into(), "-".into())
        }
    };
    format!(
        "| {seen} | {:.2} | {:.0} | {kubectl_s} | {ratio} |",
        topo.as_secs_f64(),
        rss as f64 / 1024.0
    )
}
