//! Operator-loss campaign: the operator goes away while 10 faults are active, and every fault
//! must still be reverted before the process is gone.
//!
//! Run: `cargo bench --bench campaign_operator_loss` (release), or quicker to build:
//! `cargo bench --profile dev --bench campaign_operator_loss`.
//! `ROUNDS=N` (default 10) rounds per scenario; `FRONTS=headless` or `FRONTS=dashboard` runs one
//! front only.
//!
//! A `chaosduck sandbox serve --pods 100` process is the cluster. Each round starts, in a fresh
//! home and database, either `chaosduck run` (headless) or the dashboard on a pty (`:run FILE`,
//! dry run, confirmation) with network_latency on 10 pods of bench-0000 `app=web-0`
//! (blastRadius 10, duration 10 minutes), waits until the 10 journal entries are applied, then
//! at t0 does one of: SIGHUP, SIGTERM, closing the terminal (the last descriptor of the pty
//! master goes; dashboard only), or `chaosduck --db D stop` from another process. Measured:
//! - first revert: t0 → the first `revert call` line of the log (RFC3339 UTC timestamp);
//! - all reverted: t0 → the process has exited (for the dashboard's `stop`, which keeps the
//!   dashboard open: t0 → the `stop` command returned, which it does after the rollback);
//! - CPU: utime+stime of the process over that interval (/proc/PID/stat, the exit read from the
//!   zombie before it is reaped), as % of one core: a busy loop would show ~100 %;
//! - orphaned faults: after the round, pods still carrying a running injector (`topology -o
//!   json` faulted_pods, read with another database) plus journal entries not `reverted`
//!   (`show ID -o json`). Must be 0.

#[path = "support/campaign.rs"]
mod campaign;
#[path = "support/pty.rs"]
mod pty;

use campaign::{Home, Sandbox, all_entries, env_num, faulted_pods, ms, not_reverted, pct};
use pty::{Pty, first_revert_call};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

const FAULTS: usize = 10;
/// Longest wait for any one round's rollback.
const LIMIT: Duration = Duration::from_secs(90);

#[derive(Clone, Copy, PartialEq)]
enum Front {
    Headless,
    Dashboard,
}

#[derive(Clone, Copy, PartialEq)]
enum Loss {
    Hup,
    Term,
    Closed,
    Stop,
}

struct Scenario {
    name: &'static str,
    front: Front,
    loss: Loss,
}

const SCENARIOS: [Scenario; 7] = [
    Scenario {
        name: "SIGHUP",
        front: Front::Headless,
        loss: Loss::Hup,
    },
    Scenario {
        name: "SIGTERM",
        front: Front::Headless,
        loss: Loss::Term,
    },
    Scenario {
        name: "chaosduck stop (control socket)",
        front: Front::Headless,
        loss: Loss::Stop,
    },
    Scenario {
        name: "SIGHUP",
        front: Front::Dashboard,
        loss: Loss::Hup,
    },
    Scenario {
        name: "SIGTERM",
        front: Front::Dashboard,
        loss: Loss::Term,
    },
    Scenario {
        name: "terminal closed (pty master closed)",
        front: Front::Dashboard,
        loss: Loss::Closed,
    },
    Scenario {
        name: "chaosduck stop (control socket)",
        front: Front::Dashboard,
        loss: Loss::Stop,
    },
];

const EXPERIMENT: &str = "apiVersion: chaosduck.io/v1
kind: Experiment
metadata:
  name: oploss-latency
spec:
  fault:
    type: network_latency
    latency: 100ms
  target:
    pods:
      namespace: bench-0000
      selector: app=web-0
      count: 10
  duration: 10m
  safety:
    timeout: 15m
    blastRadius: 10
";

/// utime+stime of a process in clock ticks (also readable while it is a zombie).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); the text after ')' starts at field 3.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// Whether our child `pid` has exited, without reaping it (so its /proc entry stays readable).
fn exited(pid: u32) -> bool {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid on our own child with WNOWAIT leaves it waitable; `info` outlives the call.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: waitid filled `info` (si_pid stays 0 while the child runs).
    r == 0 && unsafe { info.si_pid() } != 0
}

/// `chaosduck run` with its stdout read line by line (stopped on drop if still running).
struct Headless {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Headless {
    fn start(home: &Home, kubeconfig: &Path, db: &Path, exp: &Path) -> Result<Headless, String> {
        let mut child = home
            .cmd(&[])
            .args([
                "--kubeconfig",
                kubeconfig.to_str().expect("utf-8 path"),
                "--db",
                db.to_str().expect("utf-8 path"),
                "run",
                exp.to_str().expect("utf-8 path"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(home.path().join("run.stderr")).expect("stderr file"),
            ))
            .spawn()
            .map_err(|e| format!("spawn run: {e}"))?;
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        // Drains stdout until the process closes it.
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let h = Headless { child, lines };
        let start = Instant::now();
        let mut applied = 0;
        loop {
            let left = Duration::from_secs(60).saturating_sub(start.elapsed());
            match h.lines.recv_timeout(left) {
                Ok(l) if l.contains(" applied ") => applied += 1,
                Ok(l) if l.trim_end().ends_with("OBSERVE") && applied == FAULTS => return Ok(h),
                Ok(_) => {}
                Err(_) => {
                    return Err(format!(
                        "run did not reach OBSERVE with {FAULTS} faults applied ({applied} seen)"
                    ));
                }
            }
        }
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: signals only the child this benchmark started.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The dashboard on a pty with the experiment confirmed and its 10 faults on the status bar.
fn start_dashboard(home: &Home, kubeconfig: &Path, db: &Path, exp: &Path) -> Pty {
    let p = Pty::spawn(
        &campaign::bin(),
        home.path(),
        (160, 45),
        &[
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8 path"),
            "--db",
            db.to_str().expect("utf-8 path"),
        ],
        &["faults 0 "],
    );
    p.must(0, Duration::from_secs(60));
    p.type_text(&format!(":run {}", exp.display()));
    p.keys_until(
        &[b"\r"],
        "Dry run · oploss-latency",
        Duration::from_secs(60),
    );
    p.keys_until(&[b"\r"], "Confirm the run", Duration::from_secs(10));
    p.keys_until(
        &[b"y"],
        &format!("faults {FAULTS} "),
        Duration::from_secs(60),
    );
    p
}

#[derive(Default)]
struct RoundResult {
    first_ms: Option<f64>,
    done_ms: Option<f64>,
    cpu_pct: Option<f64>,
    orphans: usize,
    exit: Option<i32>,
    error: Option<String>,
}

enum Running {
    Headless(Headless),
    Dashboard(Pty),
}

impl Running {
    fn pid(&self) -> u32 {
        match self {
            Running::Headless(h) => h.child.id(),
            Running::Dashboard(p) => p.pid(),
        }
    }

    /// Reaps the exited process; its exit code.
    fn reap(&mut self) -> Option<i32> {
        let c = match self {
            Running::Headless(h) => &mut h.child,
            Running::Dashboard(p) => &mut p.child,
        };
        c.try_wait().ok().flatten().and_then(|s| s.code())
    }
}

fn round(sb: &Sandbox, exp: &Path, sc: &Scenario) -> RoundResult {
    let mut res = RoundResult::default();
    let home = Home::new("cdoploss");
    let db = home.path().join("run.redb");
    let mut running = match sc.front {
        Front::Headless => match Headless::start(&home, &sb.kubeconfig, &db, exp) {
            Ok(h) => Running::Headless(h),
            Err(e) => {
                res.error = Some(e);
                return res;
            }
        },
        Front::Dashboard => Running::Dashboard(start_dashboard(&home, &sb.kubeconfig, &db, exp)),
    };
    let pid = running.pid();
    let zero = match &running {
        Running::Dashboard(p) => Some(p.watch("faults 0 ")),
        Running::Headless(_) => None,
    };

    // The event.
    let ticks0 = cpu_ticks(pid).unwrap_or(0);
    let t0_wall = SystemTime::now();
    let t0 = Instant::now();
    let (stop_tx, stop_rx) = mpsc::channel();
    match sc.loss {
        // SAFETY: signals only the child this benchmark started.
        Loss::Hup => unsafe {
            libc::kill(pid as i32, libc::SIGHUP);
        },
        // SAFETY: as above.
        Loss::Term => unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        },
        Loss::Closed => {
            if let Running::Dashboard(p) = &mut running {
                p.close_terminal();
            }
        }
        Loss::Stop => {
            let db = db.clone();
            let cmd = home.cmd(&[]);
            std::thread::spawn(move || {
                let mut cmd = cmd;
                let r = cmd
                    .args(["--db", db.to_str().expect("utf-8 path"), "stop"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                let _ = stop_tx.send((Instant::now(), r.map(|s| s.success()).unwrap_or(false)));
            });
        }
    }

    // Until exit (or, for the dashboard's stop, until `stop` answered), sampling every 5 ms.
    let waits_for_exit = !(sc.front == Front::Dashboard && sc.loss == Loss::Stop);
    let mut ticks1 = ticks0;
    let mut done = None;
    while t0.elapsed() < LIMIT {
        if waits_for_exit {
            if exited(pid) {
                done = Some(Instant::now());
                ticks1 = cpu_ticks(pid).unwrap_or(ticks1);
                break;
            }
        } else if let Ok((t, ok)) = stop_rx.try_recv() {
            if !ok {
                res.error = Some("`chaosduck stop` failed".into());
            }
            done = Some(t);
            ticks1 = cpu_ticks(pid).unwrap_or(ticks1);
            break;
        }
        ticks1 = cpu_ticks(pid).unwrap_or(ticks1);
        std::thread::sleep(Duration::from_millis(5));
    }
    let Some(done) = done else {
        res.error = Some(format!("not done within {LIMIT:?}"));
        return res;
    };
    let wall = (done - t0).as_secs_f64();
    res.done_ms = Some(wall * 1e3);
    res.cpu_pct = Some((ticks1.saturating_sub(ticks0)) as f64 / ticks_per_second() / wall * 100.0);
    res.first_ms = first_revert_call(&home.state(), t0_wall, Duration::from_secs(5))
        .and_then(|t| t.duration_since(t0_wall).ok())
        .map(|d| d.as_secs_f64() * 1e3);

    // The dashboard stays open after `stop`: it must show 0 faults; then quit it.
    if let Running::Dashboard(p) = &mut running
        && !waits_for_exit
    {
        if let Some(z) = zero
            && p.seen(z, Duration::from_secs(10)).is_none()
        {
            res.error = Some("the status bar never showed `faults 0` after the stop".into());
        }
        p.keys(&[b"q"]);
        if p.wait_exit(Duration::from_secs(30)).is_none() {
            res.error = Some("the dashboard did not quit after `q`".into());
        }
    }
    res.exit = running.reap();
    drop(running);

    // Verified clean: no running injector on any pod, every journal entry reverted.
    match faulted_pods(&home, &sb.kubeconfig) {
        Ok(n) => res.orphans += n as usize,
        Err(e) => res.error = Some(e),
    }
    match all_entries(&home, &db) {
        Ok(entries) if entries.len() == FAULTS => res.orphans += not_reverted(&entries),
        Ok(entries) => {
            res.orphans += not_reverted(&entries);
            res.error = Some(format!(
                "{} journal entries, expected {FAULTS}",
                entries.len()
            ));
        }
        Err(e) => res.error = Some(e),
    }
    res
}

fn main() {
    let rounds = env_num("ROUNDS", 10);
    let fronts = std::env::var("FRONTS").unwrap_or_else(|_| "headless,dashboard".into());
    let sb_home = Home::new("cdoploss-sandbox");
    let sb = Sandbox::start(&sb_home, 100, false);
    let exp = sb_home.path().join("oploss-latency.yaml");
    std::fs::write(&exp, EXPERIMENT).expect("write the experiment");
    match faulted_pods(&sb_home, &sb.kubeconfig) {
        Ok(0) => {}
        other => panic!("the sandbox is not clean before the campaign: {other:?}"),
    }

    let mut table = Vec::new();
    for sc in &SCENARIOS {
        let front = match sc.front {
            Front::Headless => "headless `run`",
            Front::Dashboard => "dashboard (pty)",
        };
        if !fronts.contains(match sc.front {
            Front::Headless => "headless",
            Front::Dashboard => "dashboard",
        }) {
            continue;
        }
        let mut results = Vec::new();
        for r in 0..rounds {
            let res = round(&sb, &exp, sc);
            eprintln!(
                "{front:<16} {:<36} round {:>2}: first revert {:>8}, all reverted {:>8}, CPU {:>5}, orphaned {}, exit {:?}{}",
                sc.name,
                r + 1,
                ms(res.first_ms),
                ms(res.done_ms),
                res.cpu_pct.map_or("—".into(), |c| format!("{c:.0} %")),
                res.orphans,
                res.exit,
                res.error
                    .as_ref()
                    .map(|e| format!(" ERROR {e}"))
                    .unwrap_or_default()
            );
            results.push(res);
        }
        table.push((front, sc.name, results));
    }

    println!(
        "\nOperator-loss campaign: {FAULTS} active network_latency faults (bench-0000 app=web-0), {rounds} round(s) per scenario"
    );
    println!(
        "{:<16} {:<36} {:>5} {:>21} {:>21} {:>13} {:>8} {:>6}",
        "front",
        "operator lost by",
        "ok",
        "first revert p50/p99",
        "all reverted p50/p99",
        "CPU p50/max",
        "orphaned",
        "exit"
    );
    let mut orphans_total = 0;
    for (front, name, rs) in &table {
        let first: Vec<f64> = rs.iter().filter_map(|r| r.first_ms).collect();
        let done: Vec<f64> = rs.iter().filter_map(|r| r.done_ms).collect();
        let cpu: Vec<f64> = rs.iter().filter_map(|r| r.cpu_pct).collect();
        let ok = rs.iter().filter(|r| r.error.is_none()).count();
        let orphans: usize = rs.iter().map(|r| r.orphans).sum();
        orphans_total += orphans;
        let mut exits: Vec<String> = rs
            .iter()
            .map(|r| r.exit.map_or("-".into(), |c| c.to_string()))
            .collect();
        exits.sort();
        exits.dedup();
        println!(
            "{:<16} {:<36} {:>5} {:>21} {:>21} {:>13} {:>8} {:>6}",
            front,
            name,
            format!("{ok}/{}", rs.len()),
            format!("{} / {}", ms(pct(&first, 0.5)), ms(pct(&first, 0.99))),
            format!("{} / {}", ms(pct(&done, 0.5)), ms(pct(&done, 0.99))),
            format!(
                "{} / {}",
                pct(&cpu, 0.5).map_or("—".into(), |c| format!("{c:.0}%")),
                pct(&cpu, 1.0).map_or("—".into(), |c| format!("{c:.0}%"))
            ),
            orphans,
            exits.join(",")
        );
    }
    println!(
        "all reverted = process exited (dashboard + stop: the `stop` command returned); CPU = utime+stime over that interval, % of one core; p99 of {rounds} rounds is the worst round"
    );
    println!("orphaned faults in total: {orphans_total} (must be 0)");
}
