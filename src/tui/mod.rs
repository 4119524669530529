//! The dashboard. Producers (keyboard, signals, watchers, runs, the AI) send `Msg`s into one
//! bounded channel; the UI task applies them with `App::update`, hands the returned `Effect`s to
//! the driver, and draws only when something changed, at most ~15 frames a second, inside a
//! synchronized update through a buffered writer. Losing the terminal, SIGHUP, SIGINT and
//! SIGTERM roll every fault back before the process exits.

pub mod app;
pub mod dialogs;
pub mod driver;
pub mod form;
pub mod form_view;
pub mod input;
pub mod keymap;
pub mod layout;
pub mod msg;
pub mod panes;
pub mod theme;
pub mod tree;
pub mod ui;

use crate::cli::{Cli, Exit};
use crate::engine::events::{EventSink, RunEvent};
use app::App;
use msg::Msg;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{BufWriter, Stdout, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The shortest time between two frames (~15 frames a second).
pub const FRAME: Duration = Duration::from_millis(66);

/// Capacity of the UI's inbound channel; producers wait when it is full (none of them is a
/// rollback: runs report through a never-blocking sink).
const INBOX: usize = 2048;

type Backend = CrosstermBackend<BufWriter<Stdout>>;

/// Puts the terminal back: raw mode off, main screen, cursor visible. Safe to call twice.
pub fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(
        out,
        crossterm::event::DisableBracketedPaste,
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = out.flush();
}

/// Owns the terminal while the dashboard runs; restores it on every exit path.
struct TermGuard {
    terminal: Terminal<Backend>,
}

impl TermGuard {
    fn enter(mouse: bool) -> std::io::Result<TermGuard> {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            prev(info);
        }));
        crossterm::terminal::enable_raw_mode()?;
        let mut out = std::io::stdout();
        crossterm::execute!(
            out,
            crossterm::terminal::EnterAlternateScreen,
            crossterm::event::EnableBracketedPaste
        )?;
        if mouse {
            crossterm::execute!(out, crossterm::event::EnableMouseCapture)?;
        }
        let backend = CrosstermBackend::new(BufWriter::with_capacity(64 * 1024, std::io::stdout()));
        let mut terminal = Terminal::new(backend)?;
        terminal.hide_cursor()?;
        // Not `terminal.clear()`: it asks the terminal for the cursor position and waits for an
        // answer a slow link or a silent terminal may never send.
        crossterm::execute!(
            terminal.backend_mut(),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )?;
        Ok(TermGuard { terminal })
    }

    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        crossterm::queue!(
            self.terminal.backend_mut(),
            crossterm::terminal::BeginSynchronizedUpdate
        )?;
        self.terminal.draw(|f| ui::render(app, f))?;
        crossterm::execute!(
            self.terminal.backend_mut(),
            crossterm::terminal::EndSynchronizedUpdate
        )?;
        Ok(())
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn spawn_signals(tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let Ok(mut signals) = crate::safety::signals::ExitSignals::install() else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        loop {
            let name = signals.recv().await;
            tracing::warn!(signal = name, "rolling back before exit");
            if tx.send(Msg::Signal(name)).await.is_err() {
                return;
            }
        }
    });
}

fn spawn_ticks(tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_secs(1));
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            iv.tick().await;
            if tx.is_closed() {
                return;
            }
            let _ = tx.try_send(Msg::Tick);
        }
    });
}

fn spawn_k8s(client: kube::Client, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let watch = crate::topology::k8s::K8sWatch::start(client);
        let mut changes = watch.changes();
        if let Err(e) = watch.ready(Duration::from_secs(60)).await {
            let _ = tx
                .send(Msg::Toast(format!(
                    "the cluster's topology is incomplete: {e}"
                )))
                .await;
        }
        loop {
            let snap = tokio::task::block_in_place(|| watch.snapshot());
            if tx.send(Msg::K8s(Arc::new(snap))).await.is_err() {
                return;
            }
            // Latest wins: wait for a change, then let a burst settle.
            if changes.changed().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            changes.borrow_and_update();
        }
    });
}

fn spawn_aws(settings: crate::engine::aws::client::AwsSettings, tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let clients = crate::engine::aws::client::AwsClients::new(settings);
        let c = match clients.get(None).await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx
                    .send(Msg::Toast(format!("AWS topology unavailable: {e}")))
                    .await;
                return;
            }
        };
        let (wtx, mut wrx) = tokio::sync::watch::channel(None);
        let cancel = tokio_util::sync::CancellationToken::new();
        let guard = cancel.clone().drop_guard();
        tokio::spawn(crate::topology::aws::refresh(
            c,
            Duration::from_secs(15),
            wtx,
            cancel,
        ));
        while wrx.changed().await.is_ok() {
            let t = wrx.borrow_and_update().clone();
            if let Some(t) = t
                && tx.send(Msg::Aws(t)).await.is_err()
            {
                break;
            }
        }
        drop(guard);
    });
}

fn spawn_events(mut rx: mpsc::Receiver<RunEvent>, tx: mpsc::Sender<Msg>, d: driver::Driver) {
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if matches!(ev, RunEvent::Journal { .. } | RunEvent::Finished { .. }) {
                d.refresh_safety();
            }
            if tx.send(Msg::Run(ev)).await.is_err() {
                return;
            }
        }
    });
}

fn read_only_for(cli: &Cli, cfg: &crate::config::Config, context: &str) -> bool {
    if cli.read_only || cfg.dashboard.read_only {
        return true;
    }
    cfg.dashboard.read_only_contexts.iter().any(|g| {
        globset::Glob::new(g)
            .map(|g| g.compile_matcher().is_match(context))
            .unwrap_or(g == context)
    })
}

/// After a panic in the UI: restore the terminal and roll everything back (the panic hook has
/// printed the message). Returns true.
fn crash(drv: &driver::Driver) -> bool {
    restore_terminal();
    tracing::error!("panic in the dashboard: rolling back every fault, then exiting");
    drv.handle(msg::Effect::Shutdown(
        "internal error in the dashboard".into(),
    ));
    true
}

/// Opens the dashboard; returns when the operator quits or after an emergency exit's rollback.
pub async fn run(mut cli: Cli) -> Exit {
    let config = match crate::config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chaosduck: {e}");
            return Exit::Invalid;
        }
    };
    // The sandbox comes with its AWS account.
    let mut _aws_sandbox = None;
    if cli.sandbox && cli.aws_endpoint_url.is_none() {
        match crate::sandbox::aws::start(crate::sandbox::aws::SandboxOptions::default()).await {
            Ok(a) => {
                cli.aws_endpoint_url = Some(a.endpoint_url());
                cli.region = Some("us-east-1".into());
                _aws_sandbox = Some(a);
            }
            Err(e) => eprintln!("chaosduck: the sandbox AWS account did not start: {e}"),
        }
    }
    let (sink, ev_rx) = EventSink::channel(4096);
    let env = match crate::cli::open_env(&cli, sink).await {
        Ok(e) => e,
        Err(code) => return code,
    };
    let sup = env.sup.clone();
    let context = env
        .kube
        .as_ref()
        .map_or_else(|| "no cluster".to_string(), |(_, c)| c.clone());
    let aws = cli.aws_settings();
    let aws_label = if !aws.configured() {
        "AWS not configured".to_string()
    } else {
        let mut s = aws.profile.clone().unwrap_or_else(|| "default".into());
        if let Some(r) = &aws.region {
            s.push_str(&format!(" {r}"));
        }
        if _aws_sandbox.is_some() {
            s = format!("sandbox {}", aws.region.clone().unwrap_or_default());
        }
        s
    };
    let read_only = read_only_for(&cli, &config, &context);
    let theme_dir = dirs::config_dir().map(|d| d.join("chaosduck").join("themes"));
    let tier = theme::Tier::detect(
        std::env::var("COLORTERM").ok().as_deref(),
        std::env::var("TERM").ok().as_deref(),
    );
    let no_color = std::env::var("NO_COLOR").is_ok_and(|v| !v.is_empty());
    let theme_name = cli
        .theme
        .clone()
        .or_else(|| config.dashboard.theme.clone())
        .unwrap_or_else(|| "dark".into());
    let (theme, theme_warn) =
        theme::Theme::startup(&theme_name, theme_dir.as_deref(), tier, no_color);
    let overrides = config
        .keys
        .iter()
        .map(|(k, v)| (k.clone(), v.keys()))
        .collect();
    let (keymap, key_warnings) = keymap::Keymap::with_overrides(&overrides);
    let mut app = App::new(theme, keymap, read_only, context, aws_label);
    app.warnings.extend(env.recovered.iter().cloned());
    app.warnings.extend(theme_warn);
    app.warnings.extend(key_warnings);
    app.theme_dir = theme_dir;
    app.tier = tier;
    app.no_color = no_color;
    app.now_ms = crate::store::now_ms();
    if let Ok((w, h)) = crossterm::terminal::size() {
        app.size = (w, h);
    }
    if !cli.sandbox {
        app.contexts = kube_contexts(cli.kubeconfig.as_deref());
    }

    let (tx, mut rx) = mpsc::channel::<Msg>(INBOX);
    let mut dirs = vec![std::path::PathBuf::from("experiments")];
    if let Some(d) = dirs::config_dir() {
        dirs.push(d.join("chaosduck").join("experiments"));
    }
    let drv = driver::Driver::new(
        sup.clone(),
        Arc::new(config.clone()),
        tx.clone(),
        read_only,
        dirs,
    );
    let sock = crate::safety::control::socket_path(env.store.path());
    let server = crate::safety::control::serve(sup.clone(), sock.clone())
        .await
        .ok();
    if server.is_none() {
        app.warnings
            .push("control socket unavailable: `chaosduck stop` from another shell will not reach this dashboard".into());
    }

    let mut term = match TermGuard::enter(config.dashboard.mouse) {
        Ok(t) => t,
        Err(e) => {
            restore_terminal();
            eprintln!(
                "chaosduck: cannot open the terminal for the dashboard ({e}); use the headless commands (chaosduck --help)"
            );
            return Exit::Environment;
        }
    };
    if let Ok(s) = term.terminal.size() {
        app.size = (s.width, s.height);
    }
    input::spawn_input(tx.clone());
    input::spawn_resize(tx.clone());
    spawn_signals(tx.clone());
    spawn_ticks(tx.clone());
    spawn_events(ev_rx, tx.clone(), drv.clone());
    if let Some((client, _)) = env.kube.clone() {
        spawn_k8s(client, tx.clone());
    }
    if aws.configured() {
        spawn_aws(aws.clone(), tx.clone());
        if env.kube.is_none() {
            app.source = app::Source::Aws;
        }
    }
    drv.handle(msg::Effect::LoadExperiments);
    drop(tx);

    let mut last_draw = Instant::now() - FRAME;
    // A bug in update or render must not abandon the faults: it becomes a rollback and an exit.
    let mut crashed = false;
    loop {
        if app.dirty && !app.terminal_lost && !crashed && last_draw.elapsed() >= FRAME {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| term.draw(&app))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "terminal write failed: treating the terminal as gone");
                    for fx in app.update(Msg::InputLost(format!("terminal write failed: {e}"))) {
                        drv.handle(fx);
                    }
                }
                Err(_) => crashed = crash(&drv),
            }
            app.dirty = false;
            last_draw = Instant::now();
        }
        let next = if app.dirty && !app.terminal_lost && !crashed {
            tokio::select! {
                m = rx.recv() => m.map(Some),
                _ = tokio::time::sleep_until(last_draw + FRAME) => Some(None),
            }
        } else {
            rx.recv().await.map(Some)
        };
        let Some(first) = next else { break };
        let Some(first) = first else { continue };
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        for m in batch {
            if crashed {
                // Only the end of the rollback matters now.
                if matches!(m, Msg::ShutdownDone) {
                    app.should_exit = true;
                }
                continue;
            }
            let step = || {
                if matches!(m, Msg::Key(_)) && crate::safety::failpoint::reached("dashboard-panic")
                {
                    panic!("failpoint dashboard-panic");
                }
                app.update(m)
            };
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
                Ok(effects) => {
                    for fx in effects {
                        drv.handle(fx);
                    }
                }
                Err(_) => crashed = crash(&drv),
            }
        }
        if app.should_exit {
            break;
        }
    }
    if crashed {
        drop(term);
        // Not eprintln!: it panics when the terminal is gone (stderr is often that terminal).
        let _ = writeln!(
            std::io::stderr(),
            "chaosduck: the dashboard hit an internal error (see the log); every fault was rolled back before exit"
        );
        return Exit::Failed;
    }
    let gone = app.terminal_lost || term.draw(&app).is_err();
    if gone {
        // ratatui's Terminal shows the cursor when dropped and reports a failure with
        // eprintln!, which panics when stderr is the terminal that went away.
        restore_terminal();
        std::mem::forget(term);
    } else {
        drop(term);
    }
    if let Some(s) = server {
        s.abort();
        let _ = std::fs::remove_file(&sock);
    }
    // A stop from another shell may be finishing: let it answer first.
    drop(sup.control_lock().lock().await);
    if let Some(why) = &app.quitting {
        let _ = writeln!(
            std::io::stderr(),
            "chaosduck: {why}: every fault was rolled back before exit"
        );
    }
    if let Some(ctx) = app.switch_to.take() {
        drop(env);
        return reopen_on(&ctx);
    }
    Exit::Ok
}

/// The context names of the kubeconfig (as kubectl reads it).
fn kube_contexts(file: Option<&std::path::Path>) -> Vec<String> {
    let kc = match file.filter(|p| !p.to_string_lossy().contains(':')) {
        Some(p) => kube::config::Kubeconfig::read_from(p),
        None => kube::config::Kubeconfig::read(),
    };
    kc.map(|k| k.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

/// Replaces this process with a dashboard on another context (same flags, same store: the store
/// lock is released because every file is opened close-on-exec).
fn reopen_on(ctx: &str) -> Exit {
    use std::os::unix::process::CommandExt;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--context" {
            args.drain(i..(i + 2).min(args.len()));
        } else if args[i].starts_with("--context=") {
            args.remove(i);
        } else {
            i += 1;
        }
    }
    args.push("--context".into());
    args.push(ctx.into());
    let exe = std::env::current_exe().unwrap_or_else(|_| "chaosduck".into());
    let err = std::process::Command::new(exe).args(&args).exec();
    eprintln!("chaosduck: cannot reopen on context {ctx}: {err}; run chaosduck --context {ctx}");
    Exit::Environment
}
