//! Benchmark: a 10,000-pod sandbox. Prints start time, RSS, and the time of one full
//! `kubectl get pods -A` (and of a kube-client list of all pods) against it.
//!
//! Run: `cargo bench --bench sandbox_scale` (env `SANDBOX_BENCH_PODS` overrides the pod count,
//! `KUBECTL` the kubectl binary).

use std::time::{Duration, Instant};

use chaosduck::sandbox::{Kind, Sandbox, SandboxOptions};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// utime+stime of this process in seconds.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" of the command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

fn main() {
    let pods: usize = std::env::var("SANDBOX_BENCH_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (rss0, _) = rss_kib();
        let t0 = Instant::now();
        let sb = Sandbox::start(SandboxOptions { pods, ..SandboxOptions::default() }).await.expect("sandbox");
        let start = t0.elapsed();
        let (rss, hwm) = rss_kib();
        let total = sb.count(Kind::Pod);
        println!("sandbox_scale: pods={total} (requested {pods} + demo), nodes={}, namespaces={}, services={}",
            sb.count(Kind::Node), sb.count(Kind::Namespace), sb.count(Kind::Service));
        println!("sandbox_scale: start_time={:.3}s", start.as_secs_f64());
        println!("sandbox_scale: rss_before={:.1}MiB rss_after_start={:.1}MiB peak={:.1}MiB", rss0 as f64 / 1024.0, rss as f64 / 1024.0, hwm as f64 / 1024.0);

        // Idle cost of the controllers at this size: CPU time over 5 idle seconds.
        let cpu0 = cpu_seconds();
        tokio::time::sleep(Duration::from_secs(5)).await;
        println!("sandbox_scale: idle_cpu={:.1}% of one core (5s window)", (cpu_seconds() - cpu0) / 5.0 * 100.0);

        let client = kube::Client::try_from(sb.kube_config()).expect("client");
        let api: Api<Pod> = Api::all(client);
        let t = Instant::now();
        let mut n = 0;
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(500);
            if let Some(c) = &token {
                lp = lp.continue_token(c);
            }
            let page = api.list(&lp).await.expect("list");
            n += page.items.len();
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => token = Some(c),
                None => break,
            }
        }
        println!("sandbox_scale: kube_client_list_all_pods(limit=500) items={n} time={:.3}s", t.elapsed().as_secs_f64());
        let t = Instant::now();
        let all = api.list(&ListParams::default()).await.expect("list");
        println!("sandbox_scale: kube_client_list_all_pods(unpaginated) items={} time={:.3}s", all.items.len(), t.elapsed().as_secs_f64());

        let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let dir = std::env::temp_dir().join(format!("chaosduck-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cfg = dir.join("kubeconfig");
        sb.write_kubeconfig(&cfg).expect("kubeconfig");
        for (label, args) in [
            ("kubeconfig", vec!["--kubeconfig".to_string(), cfg.display().to_string(), "get".into(), "pods".into(), "-A".into()]),
            ("server", vec!["--server".to_string(), sb.base_url(), "get".into(), "pods".into(), "-A".into()]),
        ] {
            let t = Instant::now();
            let out = tokio::process::Command::new(&kubectl).args(&args).env("HOME", &dir).kill_on_drop(true).output().await;
            match out {
                Ok(o) if o.status.success() => {
                    let lines = String::from_utf8_lossy(&o.stdout).lines().count();
                    println!(
                        "sandbox_scale: kubectl get pods -A ({label}) lines={lines} time={:.3}s  [{} {}]",
                        t.elapsed().as_secs_f64(),
                        kubectl,
                        args.join(" ")
                    );
                }
                Ok(o) => println!("sandbox_scale: kubectl failed: {}", String::from_utf8_lossy(&o.stderr)),
                Err(e) => println!("sandbox_scale: kubectl not run ({e}); install kubernetes-client"),
            }
        }
        let (rss, hwm) = rss_kib();
        println!("sandbox_scale: rss_after_lists={:.1}MiB peak={:.1}MiB", rss as f64 / 1024.0, hwm as f64 / 1024.0);
        let _ = std::fs::remove_dir_all(&dir);
        sb.shutdown().await;
    });
}
