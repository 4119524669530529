//! The dashboard on a raw pty (the benches' harness): closing the terminal alone — with SIGHUP
//! blocked, so the hang-up signal cannot do the work — must end the dashboard promptly, without
//! spinning (crossterm's reader loops forever on a hung-up terminal if it is let read it) and
//! without a panic on the way out (stderr is that closed terminal).

#[path = "../benches/support/pty.rs"]
mod pty;

use std::time::Duration;

fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = s
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

#[test]
fn a_closed_terminal_ends_the_dashboard_without_a_busy_loop_even_with_sighup_blocked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    for d in ["state", "data", "config", "run"] {
        std::fs::create_dir_all(home.join(d)).expect("dirs");
    }
    let db = home.join("db.redb");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_chaosduck"));
    let mut p = pty::Pty::spawn_with(
        bin,
        home,
        (120, 40),
        &["--db", db.to_str().expect("utf-8 path"), "--sandbox"],
        &pty::Opts {
            block_sighup: true,
            stderr_on_terminal: true,
            ..pty::Opts::default()
        },
        &["faults 0 ", "checkout Deployment"],
    );
    p.must(0, Duration::from_secs(60));
    // Settled: the sandbox's tree is drawn and nothing else is on its way.
    p.must(1, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    let pid = p.pid();
    let before = cpu_ticks(pid);
    let t0 = p.close_terminal();
    // Sample CPU until it exits (bounded); the exit is reaped by wait_exit.
    let mut ticks = before;
    let mut exited = None;
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(status)) = p.child.try_wait() {
            exited = Some((t0.elapsed(), status.code()));
            break;
        }
        let t = cpu_ticks(pid);
        if t > 0 {
            ticks = t;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (exited, code) = exited.unwrap_or_else(|| {
        let spent = cpu_ticks(pid).saturating_sub(before);
        panic!(
            "the dashboard was still running 20 s after its terminal closed ({spent} ticks of CPU since)"
        )
    });
    // 101 would be a panic: printing to the closed terminal on the way out.
    assert_eq!(code, Some(0), "exit code after the terminal closed");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = ticks.saturating_sub(before) as f64 / hz;
    assert!(
        cpu < 0.5 * exited.as_secs_f64().max(0.2),
        "{cpu:.2} s of CPU in {exited:?} after the terminal closed: a busy loop"
    );
}
