//! Dashboard figures, printed (nothing asserted about speed):
//! - frame render time (p50/p99) at 200×50 and 80×24 with a 10,000-pod topology, a workload of
//!   5,000 pods expanded, the selection moving every frame (ratatui `TestBackend`), the bytes a
//!   selection move writes (crossterm backend into memory), and `App::update(Msg::K8s)` (the
//!   tree rebuild) for 10,000 pods;
//! - through a pty, the real binary on `--sandbox` at 200×50: spawn to first frame, bytes/s
//!   written while idle and while an experiment runs, bytes of a full repaint (resize,
//!   `:theme light`), and the emergency stop: Ctrl-G written to the pty → first `revert call`
//!   in the log (RFC3339 UTC timestamps) and → the revert/latch on screen.
//!
//! Run: `cargo bench --bench dashboard` (release), or quicker to build:
//! `cargo bench --profile dev --bench dashboard`. `FRAMES=N` changes the frames rendered
//! (default 500); `PTY=0` skips the pty part.

use chaosduck::topology::k8s::{
    K8sTopology, NamespaceNode, NodeInfo, PodInfo, ServiceNode, WorkloadNode,
};
use chaosduck::tui::app::App;
use chaosduck::tui::keymap::Keymap;
use chaosduck::tui::msg::Msg;
use chaosduck::tui::theme::Theme;
use chaosduck::tui::tree::RowKind;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

#[path = "support/pty.rs"]
mod pty;
use pty::{Pty, first_revert_call};

const BIG: usize = 5_000;
const TOTAL: usize = 10_000;

fn pod(prefix: &str, i: usize, node: usize) -> PodInfo {
    PodInfo {
        name: format!("{prefix}-7d9f8c6b5-{i:05}"),
        phase: "Running".into(),
        ready: !i.is_multiple_of(97),
        restarts: (i % 5) as i32,
        node: Some(format!("node-{node:03}")),
        faults: vec![],
    }
}

/// 10,000 pods: one Deployment of 5,000 in `bench-big`, the rest in 50 namespaces of 4×25.
fn topology() -> K8sTopology {
    let mut namespaces = Vec::new();
    let web: Vec<PodInfo> = (0..BIG).map(|i| pod("web", i, i % 100)).collect();
    namespaces.push(NamespaceNode {
        name: "bench-big".into(),
        workloads: vec![WorkloadNode {
            kind: "Deployment".into(),
            name: "web".into(),
            desired: BIG as i32,
            ready: web.iter().filter(|p| p.ready).count() as i32,
            selector: "app=web".into(),
            pods: web.clone(),
        }],
        bare_pods: vec![],
        services: vec![ServiceNode {
            name: "web".into(),
            selector: "app=web".into(),
            pods: web.iter().map(|p| p.name.clone()).collect(),
        }],
    });
    let mut n = BIG;
    for ns in 0..(TOTAL - BIG) / 100 {
        let mut workloads = Vec::new();
        let mut services = Vec::new();
        for app in ["web", "api", "worker", "cache"] {
            let pods: Vec<PodInfo> = (0..25)
                .map(|_| {
                    n += 1;
                    pod(app, n, n % 100)
                })
                .collect();
            services.push(ServiceNode {
                name: app.into(),
                selector: format!("app={app}"),
                pods: pods.iter().map(|p| p.name.clone()).collect(),
            });
            workloads.push(WorkloadNode {
                kind: "Deployment".into(),
                name: app.into(),
                desired: 25,
                ready: 25,
                selector: format!("app={app}"),
                pods,
            });
        }
        namespaces.push(NamespaceNode {
            name: format!("bench-{ns:04}"),
            workloads,
            bare_pods: vec![],
            services,
        });
    }
    let nodes = (0..100)
        .map(|i| NodeInfo {
            name: format!("node-{i:03}"),
            zone: Some(["zone-a", "zone-b", "zone-c"][i % 3].into()),
            schedulable: true,
            ready: true,
            chaosduck_cordon: false,
            pods: TOTAL / 100,
        })
        .collect();
    K8sTopology {
        namespaces,
        nodes,
        pods: TOTAL,
        faulted_pods: 0,
    }
}

/// A terminal that only counts what it is sent.
struct Counter(Arc<AtomicUsize>);

impl std::io::Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(b.len(), Ordering::SeqCst);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn pct(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn row(what: &str, value: String) {
    println!("  {what:<58} {value}");
}

/// A dashboard on the 10,000-pod topology with the 5,000-pod workload expanded.
fn app_with_topology(topo: &Arc<K8sTopology>) -> App {
    let mut app = App::new(
        Theme::default(),
        Keymap::default(),
        false,
        "bench".into(),
        "AWS not configured".into(),
    );
    app.size = (200, 50);
    app.update(Msg::K8s(topo.clone()));
    let web = app
        .rows
        .iter()
        .position(|r| r.kind == RowKind::Workload && r.id.contains("/ns/bench-big/"))
        .expect("the big workload row");
    app.topo_sel = web;
    app.update(key(KeyCode::Right));
    assert!(app.rows.len() > BIG, "the workload did not expand");
    app
}

fn render_figures(frames: usize) {
    let topo = Arc::new(topology());
    println!(
        "In-process rendering ({TOTAL} pods; a {BIG}-pod Deployment expanded; {frames} frames):"
    );

    // The tree rebuild a topology update costs.
    let mut app = app_with_topology(&topo);
    let mut rebuild = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        app.update(Msg::K8s(topo.clone()));
        rebuild.push(t.elapsed());
    }
    row(
        &format!(
            "App::update(Msg::K8s) tree rebuild, {} rows visible",
            app.rows.len()
        ),
        format!(
            "p50 {}  p99 {}",
            ms(pct(&mut rebuild, 0.5)),
            ms(pct(&mut rebuild, 0.99))
        ),
    );

    for (w, h) in [(200u16, 50u16), (80, 24)] {
        let mut app = app_with_topology(&topo);
        app.update(Msg::Resize(w, h));
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
        term.draw(|f| chaosduck::tui::ui::render(&app, f))
            .expect("draw");
        let (mut draw, mut upd) = (Vec::new(), Vec::new());
        for i in 0..frames {
            // Down through the pods, then back up, so the viewport scrolls every frame.
            let k = if (i / 200) % 2 == 0 {
                KeyCode::Down
            } else {
                KeyCode::Up
            };
            let t = Instant::now();
            app.update(key(k));
            upd.push(t.elapsed());
            let t = Instant::now();
            term.draw(|f| chaosduck::tui::ui::render(&app, f))
                .expect("draw");
            draw.push(t.elapsed());
        }
        row(
            &format!("frame render {w}×{h} (TestBackend draw)"),
            format!(
                "p50 {}  p99 {}  max {}",
                ms(pct(&mut draw, 0.5)),
                ms(pct(&mut draw, 0.99)),
                ms(*draw.iter().max().unwrap_or(&Duration::ZERO))
            ),
        );
        row(
            &format!("App::update(Down/Up) {w}×{h}"),
            format!(
                "p50 {}  p99 {}",
                ms(pct(&mut upd, 0.5)),
                ms(pct(&mut upd, 0.99))
            ),
        );
    }

    // What a keypress costs on the wire: the crossterm diff of one selection move.
    let mut app = app_with_topology(&topo);
    let written = Arc::new(AtomicUsize::new(0));
    let backend = CrosstermBackend::new(Counter(written.clone()));
    let mut term = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 200, 50)),
        },
    )
    .expect("crossterm terminal");
    term.draw(|f| chaosduck::tui::ui::render(&app, f))
        .expect("draw");
    let first = written.load(Ordering::SeqCst);
    let moves = 200;
    for _ in 0..moves {
        app.update(key(KeyCode::Down));
        term.draw(|f| chaosduck::tui::ui::render(&app, f))
            .expect("draw");
    }
    let after = written.load(Ordering::SeqCst);
    row(
        "first full frame 200×50 (crossterm bytes)",
        format!("{first} B"),
    );
    row(
        "one selection move 200×50 (crossterm bytes, mean)",
        format!("{} B", (after - first) / moves),
    );
}

fn rate(bytes: usize, d: Duration) -> String {
    format!("{:.1} B/s", bytes as f64 / d.as_secs_f64())
}

fn pty_figures() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_chaosduck"));
    let dir = tempfile::Builder::new()
        .prefix("cdbench")
        .tempdir()
        .expect("tempdir");
    let home = dir.path();
    for d in ["state", "data", "config", "run"] {
        std::fs::create_dir_all(home.join(d)).expect("dirs");
    }
    let db = home.join("db.redb");
    println!("\nThrough a pty: `chaosduck --sandbox` at 200×50 (TERM=xterm-256color, truecolor):");
    let t_spawn = Instant::now();
    let args = ["--db", db.to_str().expect("utf-8 path"), "--sandbox"];
    let p = Pty::spawn(
        &bin,
        home,
        (200, 50),
        &args,
        &["Topology", "checkout Deployment 2/2"],
    );
    let t_first = p.must(0, Duration::from_secs(60));
    let t_tree = p.must(1, Duration::from_secs(60));
    row(
        "spawn → first frame (\"Topology\" on the screen)",
        ms(t_first - t_spawn),
    );
    row(
        "spawn → sandbox tree drawn (\"checkout Deployment 2/2\")",
        ms(t_tree - t_spawn),
    );
    row("bytes until then", format!("{} B", p.offset()));

    std::thread::sleep(Duration::from_secs(2));
    let idle = Duration::from_secs(10);
    let (b, reads) = p.measure(idle);
    row(
        "idle, 10 s after the tree settled",
        format!("{} ({b} B in {reads} reads)", rate(b, idle)),
    );

    for (w, h) in [(180, 50), (200, 50)] {
        let t = p.resize(w, h);
        std::thread::sleep(Duration::from_millis(1500));
        let (b, reads) = p.between(t, Instant::now());
        row(
            &format!("full repaint: resize to {w}×{h}"),
            format!("{b} B in {reads} reads"),
        );
    }
    let theme: Vec<&[u8]> = ":theme light"
        .split("")
        .filter(|c| !c.is_empty())
        .map(str::as_bytes)
        .collect();
    p.keys(&theme);
    std::thread::sleep(Duration::from_millis(300));
    let t = p.write(b"\r");
    std::thread::sleep(Duration::from_millis(1000));
    let (b, reads) = p.between(t, Instant::now());
    row(
        "full repaint: `:theme light` (Enter → 1 s)",
        format!("{b} B in {reads} reads"),
    );
    let theme: Vec<&[u8]> = ":theme dark\r"
        .split("")
        .filter(|c| !c.is_empty())
        .map(str::as_bytes)
        .collect();
    p.keys(&theme);
    std::thread::sleep(Duration::from_secs(7)); // let the toast expire

    // An experiment: network_latency on payments (row 14 of the sandbox tree), 1 minute.
    let down: &[u8] = b"\x1b[B";
    p.keys_until(
        &[down; 13],
        "▶    ▸ payments Deployment",
        Duration::from_secs(10),
    );
    p.keys_until(
        &[b"n".as_slice(), b"\x1b[C"],
        "◀ network_latency ▶",
        Duration::from_secs(10),
    );
    p.keys_until(
        &[b"\r"],
        "Dry run · payments-network-latency",
        Duration::from_secs(30),
    );
    p.keys_until(&[b"\r"], "Confirm the run", Duration::from_secs(10));
    p.keys_until(&[b"y"], "▶ OBSERVE", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(1));
    let (b, reads) = p.measure(idle);
    row(
        "running network_latency (OBSERVE), 10 s",
        format!("{} ({b} B in {reads} reads)", rate(b, idle)),
    );

    // The emergency stop.
    let banner = p.watch("■ EMERGENCY STOP —");
    let reverted = p.watch("Journal · 0 open · 1 reverted");
    let latched = p.watch("EMERGENCY STOP LATCHED");
    let clean = p.watch("faults 0 ");
    let t0_wall = SystemTime::now();
    let t0 = p.write(&[0x07]);
    let first = first_revert_call(&home.join("state"), t0_wall, Duration::from_secs(10));
    match first.and_then(|t| t.duration_since(t0_wall).ok()) {
        Some(d) => row("Ctrl-G written → first revert call (log timestamp)", ms(d)),
        None => row(
            "Ctrl-G written → first revert call (log timestamp)",
            "not found in the log".into(),
        ),
    }
    let since = |id| {
        p.seen(id, Duration::from_secs(30))
            .map_or_else(|| "not seen".to_string(), |t| ms(t - t0))
    };
    row(
        "Ctrl-G written → \"EMERGENCY STOP —\" banner on screen",
        since(banner),
    );
    row(
        "Ctrl-G written → journal \"0 open · 1 reverted\" on screen",
        since(reverted),
    );
    row(
        "Ctrl-G written → status bar \"faults 0\" on screen",
        since(clean),
    );
    row(
        "Ctrl-G written → \"EMERGENCY STOP LATCHED\" on screen",
        since(latched),
    );

    p.keys(&[b"q"]);
    let start = Instant::now();
    let mut p = p;
    let code = loop {
        if let Ok(Some(s)) = p.child.try_wait() {
            break s.code();
        }
        if start.elapsed() > Duration::from_secs(30) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    row(
        "`q` → process exit",
        format!("{} (exit code {code:?})", ms(start.elapsed())),
    );
    row(
        "total bytes written to the terminal",
        format!("{} B", p.offset()),
    );
}

fn main() {
    let frames = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    render_figures(frames);
    if std::env::var("PTY").as_deref() != Ok("0") {
        pty_figures();
    }
}
