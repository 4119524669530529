//! The injector command lines run for real: the network script's apply / expire / TERM paths with
//! a recording `tc` on PATH (always), real netem between two network namespaces (where the kernel
//! has sch_netem), and the stress script with the real stress-ng.

use chaosduck::engine::k8s::injector::{NETWORK_SCRIPT, STOP_COMMAND, STRESS_SCRIPT};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

fn exited(c: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = c.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A `tc` that records its arguments, one call per line.
fn shim(dir: &Path) {
    let tc = dir.join("tc");
    std::fs::write(
        &tc,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\n",
            dir.join("tc.log").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tc, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn network(dir: &Path, env: &[(&str, &str)]) -> Child {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .args(["-c", NETWORK_SCRIPT])
        .env("PATH", path)
        .env("CHAOSDUCK_PID_FILE", dir.join("pid"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn log(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("tc.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn network_script_applies_under_the_reserved_handle_and_removes_it_on_expiry() {
    let d = tempfile::tempdir().unwrap();
    shim(d.path());
    let mut c = network(
        d.path(),
        &[
            ("CHAOSDUCK_FAULT", "network_latency"),
            ("CHAOSDUCK_LATENCY_MS", "200"),
            ("CHAOSDUCK_JITTER_MS", "20"),
            ("CHAOSDUCK_DURATION_SECONDS", "1"),
        ],
    );
    let st = exited(&mut c, Duration::from_secs(10)).expect("the injector expires on its own");
    assert!(st.success());
    let l = log(d.path());
    assert!(
        l.contains(&"qdisc add dev eth0 root handle 1337: netem delay 200ms 20ms 0%".to_string()),
        "{l:?}"
    );
    assert_eq!(
        l.last().unwrap(),
        "qdisc del dev eth0 root handle 1337:",
        "removes exactly its own qdisc last: {l:?}"
    );
}

#[test]
fn network_script_removes_its_qdisc_when_stopped_by_the_stop_command() {
    let d = tempfile::tempdir().unwrap();
    shim(d.path());
    let mut c = network(
        d.path(),
        &[
            ("CHAOSDUCK_FAULT", "network_loss"),
            ("CHAOSDUCK_LOSS_PERCENT", "30"),
            ("CHAOSDUCK_DURATION_SECONDS", "600"),
            ("CHAOSDUCK_INTERFACE", "net1"),
        ],
    );
    assert!(wait_until(Duration::from_secs(5), || log(d.path())
        .iter()
        .any(|l| l.contains("netem loss 30%"))));
    let start = Instant::now();
    let st = Command::new(STOP_COMMAND[0])
        .args(&STOP_COMMAND[1..])
        .env("CHAOSDUCK_PID_FILE", d.path().join("pid"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        exited(&mut c, Duration::from_secs(5)).is_some(),
        "TERM ends the injector"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        log(d.path()).last().unwrap(),
        "qdisc del dev net1 root handle 1337:"
    );
}

#[test]
fn network_script_filters_by_destination_and_ports() {
    let d = tempfile::tempdir().unwrap();
    shim(d.path());
    let mut c = network(
        d.path(),
        &[
            ("CHAOSDUCK_FAULT", "network_latency"),
            ("CHAOSDUCK_LATENCY_MS", "50"),
            ("CHAOSDUCK_DURATION_SECONDS", "1"),
            ("CHAOSDUCK_DEST_CIDR", "10.1.0.0/16"),
            ("CHAOSDUCK_PORTS", "5432,6379"),
        ],
    );
    exited(&mut c, Duration::from_secs(10)).expect("expires");
    let l = log(d.path()).join("\n");
    assert!(l.contains("root handle 1337: prio bands 4"), "{l}");
    assert!(
        l.contains("parent 1337:4 handle 1338: netem delay 50ms"),
        "{l}"
    );
    assert!(
        l.contains("match ip dst 10.1.0.0/16 match ip dport 5432 0xffff flowid 1337:4"),
        "{l}"
    );
    assert!(l.contains("match ip dport 6379 0xffff"), "{l}");
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn network_script_adds_real_latency_between_network_namespaces() {
    if !have("ip") || !have("tc") || unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root with iproute2 (ip, tc)");
        return;
    }
    let id = std::process::id();
    let (a, b) = (format!("cda{id}"), format!("cdb{id}"));
    let cleanup = |a: &str, b: &str| {
        sh(&format!("ip netns del {a}"));
        sh(&format!("ip netns del {b}"));
    };
    let setup = [
        format!("ip netns add {a}"),
        format!("ip netns add {b}"),
        format!("ip link add cdv{id}a netns {a} type veth peer name cdv{id}b netns {b}"),
        format!("ip -n {a} addr add 10.231.0.1/30 dev cdv{id}a"),
        format!("ip -n {b} addr add 10.231.0.2/30 dev cdv{id}b"),
        format!("ip -n {a} link set cdv{id}a up"),
        format!("ip -n {b} link set cdv{id}b up"),
    ];
    if !setup.iter().all(|c| sh(c)) {
        cleanup(&a, &b);
        eprintln!("SKIPPED: cannot create network namespaces here");
        return;
    }
    if !sh(&format!(
        "ip netns exec {a} tc qdisc add dev cdv{id}a root handle 9: netem delay 1ms && ip netns exec {a} tc qdisc del dev cdv{id}a root"
    )) {
        cleanup(&a, &b);
        eprintln!(
            "SKIPPED: this kernel has no netem (CONFIG_NET_SCH_NETEM); the recording-tc tests cover the script"
        );
        return;
    }
    let rtt = |a: &str| -> f64 {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                a,
                "ping",
                "-c",
                "3",
                "-i",
                "0.2",
                "-W",
                "2",
                "10.231.0.2",
            ])
            .output()
            .unwrap();
        let t = String::from_utf8_lossy(&o.stdout).to_string();
        t.lines()
            .find(|l| l.contains("min/avg/max"))
            .and_then(|l| l.split('=').nth(1))
            .and_then(|v| v.trim().split('/').nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let before = rtt(&a);
    let d = tempfile::tempdir().unwrap();
    let mut c = Command::new("ip")
        .args(["netns", "exec", &a, "sh", "-c", NETWORK_SCRIPT])
        .env("CHAOSDUCK_PID_FILE", d.path().join("pid"))
        .env("CHAOSDUCK_FAULT", "network_latency")
        .env("CHAOSDUCK_LATENCY_MS", "150")
        .env("CHAOSDUCK_DURATION_SECONDS", "600")
        .env("CHAOSDUCK_INTERFACE", format!("cdv{id}a"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let during = rtt(&a);
    let _ = Command::new(STOP_COMMAND[0])
        .args(&STOP_COMMAND[1..])
        .env("CHAOSDUCK_PID_FILE", d.path().join("pid"))
        .status();
    let stopped = exited(&mut c, Duration::from_secs(5)).is_some();
    let after = rtt(&a);
    cleanup(&a, &b);
    assert!(stopped, "the injector stopped on TERM");
    assert!(
        during >= 150.0,
        "latency while active: {during} ms (before {before} ms)"
    );
    assert!(after < 50.0, "latency gone after revert: {after} ms");
}

#[test]
fn stress_script_runs_real_stress_ng_and_stops_it_on_term_and_on_expiry() {
    if !have("stress-ng") {
        eprintln!(
            "SKIPPED: stress-ng is not installed (apt-get install stress-ng; scripts/test.sh does)"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let children = |pid: u32| -> Vec<u32> {
        let o = Command::new("pgrep")
            .args(["-P", &pid.to_string()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();
    let start_stress = |duration: &str| {
        Command::new("sh")
            .args(["-c", STRESS_SCRIPT])
            .env("CHAOSDUCK_PID_FILE", d.path().join("pid"))
            .env("CHAOSDUCK_FAULT", "cpu_stress")
            .env("CHAOSDUCK_CPU_WORKERS", "1")
            .env("CHAOSDUCK_CPU_LOAD_PERCENT", "20")
            .env("CHAOSDUCK_DURATION_SECONDS", duration)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Stopped early by the stop command.
    let mut c = start_stress("600");
    let mut kids = Vec::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            kids = children(c.id());
            !kids.is_empty()
        }),
        "stress-ng started"
    );
    let st = Command::new(STOP_COMMAND[0])
        .args(&STOP_COMMAND[1..])
        .env("CHAOSDUCK_PID_FILE", d.path().join("pid"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        exited(&mut c, Duration::from_secs(10)).is_some(),
        "the injector exits after TERM"
    );
    assert!(
        wait_until(Duration::from_secs(5), || kids.iter().all(|k| !alive(*k))),
        "no stress-ng left: {kids:?}"
    );
    // Expires on its own.
    let mut c = start_stress("1");
    assert!(
        exited(&mut c, Duration::from_secs(15)).is_some(),
        "expired on its own"
    );
}

/// Runs an exec-mode argv (as the kubelet would inside the target container); returns its code.
fn run_argv(argv: &[String], path: &str) -> i32 {
    Command::new(&argv[0])
        .args(&argv[1..])
        .env("PATH", path)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1)
}

#[test]
fn exec_mode_launcher_detaches_the_injector_and_stop_and_check_end_it() {
    use chaosduck::engine::k8s::exec_injector::{
        STILL_RUNNING, check_command, start_command, stop_command,
    };
    let d = tempfile::tempdir().unwrap();
    shim(d.path());
    let path = format!(
        "{}:{}",
        d.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pid_file = d.path().join("chaosduck-exp-1.pid");
    let pf = pid_file.to_str().unwrap();
    let env: Vec<(String, String)> = [
        ("CHAOSDUCK_FAULT", "network_latency"),
        ("CHAOSDUCK_LATENCY_MS", "120"),
        ("CHAOSDUCK_DURATION_SECONDS", "600"),
        ("CHAOSDUCK_INTERFACE", "eth7"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let start = Instant::now();
    let argv = start_command(&env, pf, NETWORK_SCRIPT);
    assert_eq!(run_argv(&argv, &path), 0, "the launcher returns at once");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "detached: the exec call does not wait for the 600s fault"
    );
    assert!(wait_until(Duration::from_secs(5), || log(d.path())
        .iter()
        .any(
            |l| l.contains("dev eth7 root handle 1337: netem delay 120ms")
        )));
    let check = check_command(pf, None);
    assert_eq!(run_argv(&check, &path), STILL_RUNNING);
    // Starting again while it runs does not start a second injector.
    assert_eq!(run_argv(&argv, &path), 0);
    std::thread::sleep(Duration::from_millis(300));
    let adds = log(d.path())
        .iter()
        .filter(|l| l.contains("netem delay"))
        .count();
    assert_eq!(adds, 1, "{:?}", log(d.path()));
    assert_eq!(run_argv(&stop_command(pf), &path), 0);
    assert!(
        wait_until(Duration::from_secs(5), || run_argv(&check, &path) == 0),
        "gone after the stop"
    );
    assert_eq!(
        log(d.path()).last().unwrap(),
        "qdisc del dev eth7 root handle 1337:"
    );
    assert!(!pid_file.exists(), "the injector removes its pidfile");
    // Stopping again is harmless.
    assert_eq!(run_argv(&stop_command(pf), &path), 0);
}

#[test]
fn exec_mode_stop_never_kills_a_process_that_is_not_chaosducks() {
    use chaosduck::engine::k8s::exec_injector::{check_command, stop_command};
    let d = tempfile::tempdir().unwrap();
    let mut other = Command::new("sleep").arg("30").spawn().unwrap();
    // A stale pidfile whose pid now belongs to someone else (pid reuse after expiry).
    let pid_file = d.path().join("chaosduck-exp-2.pid");
    std::fs::write(&pid_file, other.id().to_string()).unwrap();
    let pf = pid_file.to_str().unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(run_argv(&stop_command(pf), &path), 0);
    assert_eq!(run_argv(&check_command(pf, None), &path), 0, "not ours");
    std::thread::sleep(Duration::from_millis(200));
    let still = other.try_wait().unwrap().is_none();
    other.kill().unwrap();
    other.wait().unwrap();
    assert!(still, "the unrelated process survived the stop");
}

#[test]
fn exec_mode_check_removes_a_reserved_qdisc_left_by_a_killed_injector() {
    use chaosduck::engine::k8s::exec_injector::check_command;
    let d = tempfile::tempdir().unwrap();
    // A tc that reports a leftover qdisc under 1337: until it is deleted.
    let tc = d.path().join("tc");
    let log = d.path().join("tc.log");
    let gone = d.path().join("deleted");
    std::fs::write(
        &tc,
        format!(
            "#!/bin/sh\necho \"$*\" >> {log}\ncase \"$*\" in\n  'qdisc show'*) [ -f {gone} ] || echo 'qdisc netem 1337: root refcnt 2 limit 1000 delay 400ms' ;;\n  'qdisc del'*) touch {gone} ;;\nesac\n",
            log = log.display(),
            gone = gone.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        d.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pf = d.path().join("missing.pid");
    let pf = pf.to_str().unwrap();
    assert_eq!(run_argv(&check_command(pf, Some("eth0")), &path), 0);
    let l = std::fs::read_to_string(&log).unwrap();
    assert!(
        l.lines()
            .any(|l| l == "qdisc del dev eth0 root handle 1337:"),
        "{l}"
    );
    // Without an interface (the apply-time check) no qdisc is touched.
    std::fs::remove_file(&log).unwrap();
    assert_eq!(run_argv(&check_command(pf, None), &path), 0);
    assert!(!log.exists());
}

#[test]
fn exec_mode_adds_real_latency_between_network_namespaces_and_the_stop_removes_it() {
    use chaosduck::engine::k8s::exec_injector::{check_command, start_command, stop_command};
    if !have("ip") || !have("tc") || unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root with iproute2 (ip, tc)");
        return;
    }
    let id = std::process::id();
    let (a, b) = (format!("cxa{id}"), format!("cxb{id}"));
    let cleanup = |a: &str, b: &str| {
        sh(&format!("ip netns del {a}"));
        sh(&format!("ip netns del {b}"));
    };
    let setup = [
        format!("ip netns add {a}"),
        format!("ip netns add {b}"),
        format!("ip link add cxv{id}a netns {a} type veth peer name cxv{id}b netns {b}"),
        format!("ip -n {a} addr add 10.232.0.1/30 dev cxv{id}a"),
        format!("ip -n {b} addr add 10.232.0.2/30 dev cxv{id}b"),
        format!("ip -n {a} link set cxv{id}a up"),
        format!("ip -n {b} link set cxv{id}b up"),
    ];
    if !setup.iter().all(|c| sh(c))
        || !sh(&format!(
            "ip netns exec {a} tc qdisc add dev cxv{id}a root handle 9: netem delay 1ms && ip netns exec {a} tc qdisc del dev cxv{id}a root"
        ))
    {
        cleanup(&a, &b);
        eprintln!(
            "SKIPPED: no network namespaces, or this kernel has no netem (CONFIG_NET_SCH_NETEM); the recording-tc exec tests cover the launcher"
        );
        return;
    }
    let rtt = || -> f64 {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &a,
                "ping",
                "-c",
                "3",
                "-i",
                "0.2",
                "-W",
                "2",
                "10.232.0.2",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.contains("min/avg/max"))
            .and_then(|l| l.split('=').nth(1))
            .and_then(|v| v.trim().split('/').nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    // "exec into the container": run the argv inside the namespace, as the kubelet would.
    let in_ns = |argv: &[String]| -> i32 {
        Command::new("ip")
            .args(["netns", "exec", &a])
            .args(argv)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .code()
            .unwrap_or(-1)
    };
    let d = tempfile::tempdir().unwrap();
    let pf = d.path().join("chaosduck-x-1.pid");
    let pf = pf.to_str().unwrap();
    let iface = format!("cxv{id}a");
    let env: Vec<(String, String)> = vec![
        ("CHAOSDUCK_FAULT".into(), "network_latency".into()),
        ("CHAOSDUCK_LATENCY_MS".into(), "150".into()),
        ("CHAOSDUCK_DURATION_SECONDS".into(), "600".into()),
        ("CHAOSDUCK_INTERFACE".into(), iface.clone()),
    ];
    let started = in_ns(&start_command(&env, pf, NETWORK_SCRIPT));
    std::thread::sleep(Duration::from_millis(500));
    let during = rtt();
    let running = in_ns(&check_command(pf, None));
    let stopped = in_ns(&stop_command(pf));
    let gone = wait_until(Duration::from_secs(5), || {
        in_ns(&check_command(pf, Some(&iface))) == 0
    });
    let after = rtt();
    cleanup(&a, &b);
    eprintln!(
        "exec mode over a veth: rtt {during:.1} ms with the fault, {after:.1} ms after the stop"
    );
    assert_eq!(started, 0, "the launcher returned");
    assert_eq!(running, 3, "the detached injector runs");
    assert_eq!(stopped, 0);
    assert!(gone, "gone after the stop");
    assert!(during >= 150.0, "latency while active: {during} ms");
    assert!(after < 50.0, "latency gone after the stop: {after} ms");
}
