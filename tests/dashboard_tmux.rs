//! The dashboard end to end: the real binary in a real terminal (tmux), driven with
//! `send-keys` and read with `capture-pane`. A pod_delete from the form reaches ROLLBACK and its
//! probe dips and recovers; an emergency stop pressed while the prompt box has focus reverts a
//! running network_latency; closing the terminal (or SIGHUP) under a running experiment rolls it
//! back and exits; 80×24 gets tabs and the help lists the emergency stop first.
//!
//! Every test uses its own tmux socket (`tmux -L`), so the user's tmux is never touched, and
//! kills that server (and the dashboard, if it is still there) when it ends. Skipped, with a
//! message, when tmux is not installed.

mod common;
use chaosduck::sandbox::{Sandbox, SandboxOptions};
use common::{Home, text};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any one screen may take to appear (generous: tests share two cores with builds).
const SCREEN: Duration = Duration::from_secs(60);

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn tmux_installed() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: tmux is not installed; the dashboard's terminal tests need it");
    }
    ok
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent has not reaped it yet.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The dashboard running in a detached tmux session on a private socket.
struct Dash {
    sock: String,
    /// The server's socket file (removed when the test ends).
    socket_path: Option<PathBuf>,
    home: Home,
    rc: PathBuf,
    err: PathBuf,
    /// The chaosduck process (the pane runs a shell that waits for it and records its exit).
    pid: u32,
}

impl Dash {
    /// Starts `chaosduck ARGS` (with this home's database and XDG dirs) in a `w`×`h` terminal.
    fn start(name: &str, home: Home, size: (u16, u16), args: &[&str]) -> Dash {
        static N: AtomicUsize = AtomicUsize::new(0);
        let sock = format!(
            "chaosduck-test-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let p = home.path().to_path_buf();
        let rc = p.join("exit-code");
        let err = p.join("stderr.txt");
        let mut line = format!(
            "env -i PATH=\"$PATH\" HOME={home} TERM=\"$TERM\" LANG=C.UTF-8 \
             XDG_DATA_HOME={data} XDG_STATE_HOME={state} XDG_CONFIG_HOME={config} XDG_RUNTIME_DIR={run} \
             {bin} --db {db}",
            home = sh_quote(&p),
            data = sh_quote(&p.join("data-home")),
            state = sh_quote(&p.join("state")),
            config = sh_quote(&p.join("config")),
            run = sh_quote(&p.join("run")),
            bin = sh_quote(Path::new(env!("CARGO_BIN_EXE_chaosduck"))),
            db = sh_quote(&home.db()),
        );
        for a in args {
            line.push(' ');
            line.push_str(&sh_quote(Path::new(a)));
        }
        // The shell outlives a hang-up (its trap runs only after the dashboard exits) so that it
        // can record the dashboard's exit code.
        let script = format!(
            "trap : HUP\ncd {}\n{line} 2>{}\necho $? > {}\n",
            sh_quote(&p),
            sh_quote(&err),
            sh_quote(&rc)
        );
        let script_path = p.join("dashboard.sh");
        std::fs::write(&script_path, script).expect("write script");
        let mut d = Dash {
            sock,
            socket_path: None,
            home,
            rc,
            err,
            pid: 0,
        };
        let (w, h) = (size.0.to_string(), size.1.to_string());
        let cmd = format!("sh {}", sh_quote(&script_path));
        let o = d.tmux(&["new-session", "-d", "-s", "main", "-x", &w, "-y", &h, &cmd]);
        assert!(o.status.success(), "tmux new-session: {}", text(&o));
        let path = d.tmux(&["display", "-p", "-t", "main", "#{socket_path}"]);
        d.socket_path = Some(PathBuf::from(String::from_utf8_lossy(&path.stdout).trim()))
            .filter(|p| p.is_absolute());
        let sh: u32 = String::from_utf8_lossy(
            &d.tmux(&["display", "-p", "-t", "main", "#{pane_pid}"])
                .stdout,
        )
        .trim()
        .parse()
        .expect("pane pid");
        let children = format!("/proc/{sh}/task/{sh}/children");
        let found = common::wait_until(Duration::from_secs(10), || {
            let first = std::fs::read_to_string(&children)
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()));
            match first {
                Some(pid) => {
                    d.pid = pid;
                    true
                }
                None => false,
            }
        });
        assert!(
            found,
            "the dashboard process did not start under the pane's shell {sh}"
        );
        d
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .env_remove("TMUX")
            .args(["-L", &self.sock, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        // A key that lands within one frame of the last draw can stay undrawn when a clock tick
        // follows it (App::update lets a Tick clear the dirty flag): press keys at a human pace.
        std::thread::sleep(Duration::from_millis(150));
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        let o = self.tmux(&args);
        assert!(o.status.success(), "send-keys {keys:?}: {}", text(&o));
    }

    fn type_text(&self, s: &str) {
        std::thread::sleep(Duration::from_millis(150));
        let o = self.tmux(&["send-keys", "-t", "main", "-l", s]);
        assert!(o.status.success(), "send-keys -l {s:?}: {}", text(&o));
    }

    /// Polls the screen until `ok` holds; panics with the last screen after `limit`.
    fn wait_for(&self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > limit {
                panic!(
                    "waited {limit:?} for {what}; the screen:\n{s}\nstderr: {}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_text(&self, needle: &str) -> String {
        self.wait_for(&format!("`{needle}`"), SCREEN, |s| s.contains(needle))
    }

    /// Presses Down until `done` holds for the screen (at most 60 presses).
    fn down_until(&self, what: &str, done: impl Fn(&str) -> bool) {
        for _ in 0..60 {
            let s = self.screen();
            if done(&s) {
                return;
            }
            self.keys(&["Down"]);
            self.wait_for("the selection to move", Duration::from_secs(5), |n| n != s);
        }
        panic!("{what} never got selected; the screen:\n{}", self.screen());
    }

    /// Selects the topology row containing `label` (the tree is the leftmost pane, so its
    /// selected row starts with the border and the `▶` marker).
    fn select_row(&self, label: &str) {
        self.down_until(label, |s| {
            s.lines().any(|l| l.starts_with("│▶") && l.contains(label))
        });
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits until the dashboard process is gone, then for the exit code its shell recorded.
    fn wait_exit(&self, limit: Duration) -> i32 {
        let start = Instant::now();
        assert!(
            common::wait_until(limit, || !alive(self.pid)),
            "the dashboard (pid {}) still runs {limit:?} later; stderr: {}",
            self.pid,
            self.stderr()
        );
        let gone = start.elapsed();
        let mut rc = None;
        common::wait_until(Duration::from_secs(10), || {
            rc = std::fs::read_to_string(&self.rc)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            rc.is_some()
        });
        eprintln!("dashboard exited {gone:?} after the request");
        rc.expect("the pane's shell recorded no exit code")
    }

    /// `chaosduck ARGS -o json` against the same store (the dashboard must have exited).
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let o = self
            .home
            .cmd_without_world()
            .args(args)
            .args(["-o", "json"])
            .output()
            .expect("chaosduck");
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&o)))
    }
}

impl Drop for Dash {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
        if self.pid != 0 && !common::wait_until(Duration::from_secs(15), || !alive(self.pid)) {
            // SAFETY: kill only sends a signal to the process this test started.
            unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        }
    }
}

/// `(open, reverted, failed)` from the journal pane's title.
fn journal_counts(screen: &str) -> Option<(u32, u32, u32)> {
    let re = regex::Regex::new(r"Journal · (\d+) open · (\d+) reverted · (\d+) failed").ok()?;
    let c = re.captures(screen)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?))
}

/// The probe's sparkline: the bar characters on the line under its header, in its column.
fn sparkline(screen: &str, probe: &str) -> (Vec<char>, Vec<char>) {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let head = format!("{probe} continuous");
    let (row, col) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            let s: String = l.iter().collect();
            s.find(&head).map(|b| (i, s[..b].chars().count()))
        })
        .unwrap_or_else(|| panic!("no `{head}` on the screen:\n{screen}"));
    // The mark (✓/✗) and a space come before the name; the sparkline starts under the mark.
    let start = col - 2;
    let take = |r: usize, set: &dyn Fn(char) -> bool| -> Vec<char> {
        lines
            .get(r)
            .map(|l| {
                l.iter()
                    .skip(start)
                    .take_while(|c| set(**c))
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    };
    let bars = take(row + 1, &|c| BARS.contains(&c));
    let window = take(row + 2, &|c| c == '▔' || c == ' ');
    (bars, window)
}

/// Opens the form on the selected workload, optionally switches the fault and sets the
/// duration, and goes through dry run and confirmation. Returns the dry-run screen.
fn run_from_form(d: &Dash, name: &str, fault_steps: usize, duration: &str) -> String {
    d.keys(&["n"]);
    d.wait_text("New experiment");
    for _ in 0..fault_steps {
        let s = d.screen();
        d.keys(&["Right"]);
        d.wait_for("the fault kind to change", Duration::from_secs(5), |n| {
            n != s
        });
    }
    d.down_until("the duration field", |s| s.contains("│▶ duration"));
    for _ in 0..6 {
        d.keys(&["BSpace"]);
    }
    d.type_text(duration);
    d.wait_for("the new duration", Duration::from_secs(5), |s| {
        s.lines()
            .any(|l| l.contains("│▶ duration") && l.contains(&format!(" {duration}")))
    });
    d.keys(&["Enter"]);
    let preview = d.wait_text(&format!("Dry run · {name} · nothing has been changed"));
    d.keys(&["Enter"]);
    d.wait_text("Confirm the run");
    d.keys(&["y"]);
    preview
}

#[test]
fn pod_delete_from_the_form_then_an_emergency_stop_typed_in_the_prompt_box() {
    if !tmux_installed() {
        return;
    }
    let d = Dash::start("flow", Home::new(), (200, 50), &["--sandbox"]);
    d.wait_text("checkout Deployment 2/2");
    assert!(d.screen().contains("faults 0"), "{}", d.screen());
    assert!(d.screen().contains(" Ctrl-G STOP "), "{}", d.screen());
    d.select_row("checkout Deployment");

    // 1. pod_delete on checkout, 8 s, through the dry run and the confirmation.
    let preview = run_from_form(&d, "checkout-pod-delete", 0, "8s");
    assert!(preview.contains("fault   pod_delete  for 8s"), "{preview}");
    assert!(preview.contains("targets 1 of"), "{preview}");
    assert!(preview.contains("pod shop/checkout-"), "{preview}");
    assert!(preview.contains("undo: "), "{preview}");
    assert!(preview.contains("✓ blast-radius"), "{preview}");
    let running = d.wait_for("the run to observe", SCREEN, |s| s.contains("▶ OBSERVE"));
    assert!(running.contains("checkout-pod-delete"), "{running}");
    let done = d.wait_for("ROLLBACK and the verdict", SCREEN, |s| {
        s.contains("✓ ROLLBACK") && s.contains("verdict: hypothesis")
    });
    assert!(
        done.contains("verdict: hypothesis held · resilience"),
        "{done}"
    );
    assert!(done.contains("completed"), "{done}");
    for phase in [
        "STEADY_STATE",
        "HYPOTHESIS",
        "INJECT",
        "OBSERVE",
        "ROLLBACK",
    ] {
        assert!(
            done.contains(&format!("✓ {phase}")),
            "{phase} not done:\n{done}"
        );
    }
    // The probe lost a ready pod while the fault was on, and got it back.
    let (bars, window) = sparkline(&done, "checkout-ready");
    let low = bars.iter().position(|c| *c != '█');
    assert!(
        low.is_some(),
        "the sparkline never dipped: {bars:?}\n{done}"
    );
    let last_low = bars.iter().rposition(|c| *c != '█').unwrap_or(0);
    assert!(
        last_low + 1 < bars.len() && bars[last_low + 1..].iter().all(|c| *c == '█'),
        "the sparkline did not recover: {bars:?}\n{done}"
    );
    assert!(
        window.contains(&'▔'),
        "no fault window under the sparkline: {window:?}\n{done}"
    );
    assert_eq!(
        journal_counts(&done).map(|(o, _, f)| (o, f)),
        Some((0, 0)),
        "{done}"
    );
    assert!(
        journal_counts(&done).is_some_and(|(_, r, _)| r >= 1),
        "{done}"
    );

    // 2. network_latency on payments; the emergency stop pressed while typing in the prompt box.
    d.keys(&["1"]);
    d.select_row("payments Deployment");
    let preview = run_from_form(&d, "payments-network-latency", 1, "60s");
    assert!(
        preview.contains("fault   network_latency  for "),
        "{preview}"
    );
    assert!(
        preview.contains("network_latency on shop/payments-"),
        "{preview}"
    );
    assert!(preview.contains(" for 60s via injector"), "{preview}");
    d.wait_for("the latency run to observe", SCREEN, |s| {
        s.contains("Timeline · payments-network-latency") && s.contains("▶ OBSERVE")
    });
    d.wait_for("the active fault in the status bar", SCREEN, |s| {
        s.contains("faults 1")
    });
    d.keys(&["p"]);
    d.wait_text("Describe the experiment");
    d.type_text("add 300ms latency to checkout");
    d.wait_text("add 300ms latency to checkout");
    d.keys(&["C-g"]);
    let stop = d.wait_for("the emergency banner", Duration::from_secs(10), |s| {
        s.contains("■ EMERGENCY STOP")
    });
    assert!(
        !stop.contains("Describe the experiment"),
        "the prompt box stayed open:\n{stop}"
    );
    let latched = d.wait_for("the latch and the stopped run", SCREEN, |s| {
        s.contains("EMERGENCY STOP LATCHED")
            && s.contains("■ EMERGENCY STOP:")
            && s.contains("faults 0")
    });
    assert!(latched.contains("emergency_stop"), "{latched}");
    assert!(latched.contains("✓ ROLLBACK"), "{latched}");
    let (open, reverted, failed) = journal_counts(&latched).expect("journal title");
    assert_eq!((open, failed), (0, 0), "{latched}");
    assert!(reverted >= 1, "{latched}");

    d.keys(&["q"]);
    std::thread::sleep(Duration::from_millis(300));
    if d.screen().contains("y: roll back and quit") {
        d.keys(&["y"]);
    }
    assert_eq!(d.wait_exit(SCREEN), 0, "stderr: {}", d.stderr());

    // 3. The store agrees: both runs, every journal entry reverted, nothing to recover.
    let list = d.json(&["list"]);
    let list = list.as_array().expect("list is an array");
    assert_eq!(list.len(), 2, "{list:?}");
    for (name, status) in [
        ("checkout-pod-delete", "completed"),
        ("payments-network-latency", "emergency_stopped"),
    ] {
        let e = list
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not stored: {list:?}"));
        assert_eq!(e["status"], status, "{e}");
        let id = e["id"].as_str().expect("id");
        let shown = d.json(&["show", id]);
        let journal = shown["journal"].as_array().expect("journal");
        assert!(
            !journal.is_empty(),
            "{name}: nothing was journaled: {shown}"
        );
        assert!(
            journal.iter().all(|j| j["state"] == "reverted"),
            "{name}: {journal:?}"
        );
    }
    let rec = d.json(&["recover"]);
    assert_eq!(rec["still_open"].as_array().map(Vec::len), Some(0), "{rec}");
    assert_eq!(rec["retried"].as_array().map(Vec::len), Some(0), "{rec}");
}

/// Ephemeral injector containers still running in a pod.
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

async fn injectors_in(client: &kube::Client, ns: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.list(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .iter()
        .flat_map(running_injectors)
        .collect()
}

/// Starts a 60 s network_latency on payments from the dashboard (on a sandbox served by this
/// test, so the cluster outlives the dashboard), hangs up with `hang_up`, and checks the process
/// exits after rolling back, the store and `recover` agree, and the cluster carries no fault.
async fn hang_up_under_a_running_experiment(name: &str, hang_up: fn(&Dash)) {
    if !tmux_installed() {
        return;
    }
    // Quick pods, but the default watch bookmarks (the fast ones redraw the tree every 300 ms).
    let sb = Sandbox::start(SandboxOptions {
        readiness_delay: Duration::from_millis(300),
        recreate_delay: Duration::from_millis(300),
        termination_delay: Duration::from_millis(300),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    let client = sb.client().expect("client");
    let home = Home::new();
    let kc = home.path().join("kubeconfig");
    sb.write_kubeconfig(&kc).expect("kubeconfig");
    let kc_s = kc.display().to_string();
    let name = name.to_string();
    let kc2 = kc_s.clone();
    let d = tokio::task::spawn_blocking(move || {
        let d = Dash::start(&name, home, (200, 50), &["--kubeconfig", &kc2]);
        d.wait_text("payments Deployment 2/2");
        d.select_row("payments Deployment");
        run_from_form(&d, "payments-network-latency", 1, "60s");
        d.wait_for("the run to observe", SCREEN, |s| {
            s.contains("▶ OBSERVE") && s.contains("faults 1")
        });
        d
    })
    .await
    .expect("join");
    assert!(
        !injectors_in(&client, "shop").await.is_empty(),
        "the latency injector is not running before the hang-up"
    );

    let d = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        hang_up(&d);
        let rc = d.wait_exit(Duration::from_secs(30));
        assert!(t.elapsed() < Duration::from_secs(30));
        assert_eq!(rc, 0, "stderr: {}", d.stderr());
        assert!(
            d.stderr()
                .contains("every fault was rolled back before exit"),
            "stderr: {}",
            d.stderr()
        );
        d
    })
    .await
    .expect("join");

    let left = injectors_in(&client, "shop").await;
    assert!(left.is_empty(), "injectors left running: {left:?}");
    let list = d.json(&["list"]);
    let list = list.as_array().expect("list is an array");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_ne!(list[0]["status"], "running", "{list:?}");
    let id = list[0]["id"].as_str().expect("id");
    let shown = d.json(&["show", id]);
    let journal = shown["journal"].as_array().expect("journal");
    assert!(!journal.is_empty(), "nothing was journaled: {shown}");
    assert!(
        journal.iter().all(|j| j["state"] == "reverted"),
        "{journal:?}"
    );
    let rec = d.json(&["--kubeconfig", &kc_s, "recover"]);
    assert_eq!(rec["still_open"].as_array().map(Vec::len), Some(0), "{rec}");
    assert_eq!(rec["retried"].as_array().map(Vec::len), Some(0), "{rec}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_terminal_under_a_running_experiment_rolls_back_and_exits() {
    hang_up_under_a_running_experiment("close", |d| {
        let o = d.tmux(&["kill-session", "-t", "main"]);
        assert!(o.status.success(), "kill-session: {}", text(&o));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_under_a_running_experiment_rolls_back_and_exits() {
    hang_up_under_a_running_experiment("hup", |d| {
        // SAFETY: kill only sends SIGHUP to the dashboard this test started.
        assert_eq!(unsafe { libc::kill(d.pid as i32, libc::SIGHUP) }, 0);
    })
    .await;
}

#[test]
fn a_small_terminal_gets_tabs_and_the_help_lists_the_emergency_stop_first() {
    if !tmux_installed() {
        return;
    }
    let d = Dash::start("small", Home::new(), (80, 24), &["--sandbox"]);
    let s = d.wait_text("checkout Deployment");
    assert!(s.contains("[1:Topology]"), "{s}");
    assert!(s.contains("2:Experiments"), "{s}");
    assert!(
        !s.contains("┌ Probes") && !s.contains("┌ Journal"),
        "more than one pane at 80×24:\n{s}"
    );

    d.keys(&["2"]);
    let s = d.wait_text("[2:Experiments]");
    assert!(s.contains("Experiments · 0"), "{s}");
    assert!(!s.contains("Topology · Kubernetes"), "{s}");

    d.keys(&["?"]);
    let s = d.wait_text("Keys (");
    let lines: Vec<&str> = s.lines().collect();
    let title = lines
        .iter()
        .position(|l| l.contains("Keys ("))
        .expect("title");
    let first = lines.get(title + 1).copied().unwrap_or_default();
    assert!(
        first.contains("Ctrl-G") && first.contains("emergency_stop"),
        "the help does not start with the emergency stop:\n{s}"
    );
    let quit = lines
        .iter()
        .position(|l| l.contains("quit ") && l.contains("Quit"));
    assert!(quit.is_some_and(|q| q > title + 1), "{s}");

    // Any key closes the help; a wider terminal then shows every pane at once.
    d.keys(&["Escape"]);
    d.wait_for("the help to close", SCREEN, |s| !s.contains("Keys ("));
    let o = d.tmux(&["resize-window", "-t", "main", "-x", "200", "-y", "50"]);
    assert!(o.status.success(), "resize-window: {}", text(&o));
    let s = d.wait_for("every pane", SCREEN, |s| {
        s.contains("Topology · Kubernetes") && s.contains("┌ Probes") && s.contains("┌ Journal ·")
    });
    assert!(!s.contains("[2:Experiments]"), "{s}");

    d.keys(&["q"]);
    assert_eq!(d.wait_exit(SCREEN), 0, "stderr: {}", d.stderr());
}
