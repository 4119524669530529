//! A real terminal for the benches: the dashboard on a pty whose output is read back into a
//! small screen model (which answers cursor-position queries as a terminal does), keys written
//! at a human pace, the terminal closed on demand, and the `revert call` lines of the log.
//!
//! Shared by `benches/dashboard.rs` and the campaigns via `#[path = "support/pty.rs"] mod pty;`
//! (each bench uses a part of it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Just enough of a terminal to read ratatui's output back as text: cursor moves (`CSI r;c H`),
/// clear (`CSI 2J`) and printable characters; colours and modes are skipped. Ratatui moves the
/// cursor explicitly after every wide character, so one cell per character is enough here.
pub struct Screen {
    w: usize,
    h: usize,
    cells: Vec<Vec<char>>,
    x: usize,
    y: usize,
    pending: Vec<u8>,
}

impl Screen {
    pub fn new(w: u16, h: u16) -> Screen {
        let (w, h) = (usize::from(w), usize::from(h));
        Screen {
            w,
            h,
            cells: vec![vec![' '; w]; h],
            x: 0,
            y: 0,
            pending: Vec::new(),
        }
    }

    pub fn resize(&mut self, w: u16, h: u16) {
        let pending = std::mem::take(&mut self.pending);
        *self = Screen::new(w, h);
        self.pending = pending;
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        let mut b = std::mem::take(&mut self.pending);
        b.extend_from_slice(bytes);
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == 0x1b {
                let Some(&kind) = b.get(i + 1) else { break };
                if kind != b'[' {
                    i += 2;
                    continue;
                }
                let Some(end) = b[i + 2..].iter().position(|x| (0x40..=0x7e).contains(x)) else {
                    break;
                };
                let params = String::from_utf8_lossy(&b[i + 2..i + 2 + end]).into_owned();
                match b[i + 2 + end] {
                    b'H' => {
                        let mut it = params
                            .split(';')
                            .map(|p| p.parse::<usize>().unwrap_or(1).max(1));
                        self.y = it.next().unwrap_or(1) - 1;
                        self.x = it.next().unwrap_or(1) - 1;
                    }
                    b'J' if params == "2" => self.cells = vec![vec![' '; self.w]; self.h],
                    _ => {}
                }
                i += 3 + end;
            } else if c < 0x20 {
                match c {
                    b'\r' => self.x = 0,
                    b'\n' => self.y += 1,
                    _ => {}
                }
                i += 1;
            } else {
                let len = match c {
                    0xf0..=0xff => 4,
                    0xe0..=0xef => 3,
                    0xc0..=0xdf => 2,
                    _ => 1,
                };
                let Some(chunk) = b.get(i..i + len) else {
                    break;
                };
                let ch = std::str::from_utf8(chunk)
                    .ok()
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                if self.y < self.h && self.x < self.w {
                    self.cells[self.y][self.x] = ch;
                }
                self.x += 1;
                i += len;
            }
        }
        self.pending = b[i..].to_vec();
    }

    pub fn text(&self) -> String {
        self.cells
            .iter()
            .map(|r| r.iter().collect::<String>() + "\n")
            .collect()
    }
}

/// What the pty has carried from the dashboard, with the time each read arrived, and the
/// screen it draws.
pub struct Recording {
    pub buf: Vec<u8>,
    /// (arrival, end offset in `buf`).
    pub reads: Vec<(Instant, usize)>,
    pub closed: bool,
    pub screen: Screen,
    /// Texts waited for, and when each first showed on the screen.
    pub watches: Vec<(String, Option<Instant>)>,
}
/// How to start the program besides its arguments.
#[derive(Default)]
pub struct Opts<'a> {
    /// Extra environment (the environment is otherwise cleared: PATH, HOME, TERM,
    /// `CHAOSDUCK_LOG=info` and XDG dirs under the home).
    pub env: &'a [(&'a str, &'a str)],
    /// SIGHUP blocked in the program, so only the terminal itself can tell it the terminal
    /// closed.
    pub block_sighup: bool,
    /// stderr on the terminal too (else `stderr.txt` in the home).
    pub stderr_on_terminal: bool,
}

/// A program on a pty of its own, as a terminal emulator runs it.
pub struct Pty {
    /// None once the terminal was closed.
    master: Option<OwnedFd>,
    pub rec: Arc<Mutex<Recording>>,
    pub child: Child,
    /// Tells the reader thread to let go of its copy of the master.
    closing: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

fn winsize(w: u16, h: u16) -> libc::winsize {
    libc::winsize {
        ws_row: h,
        ws_col: w,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Pty {
    /// Starts `bin ARGS` on a new pty, watching for `first` from the first byte.
    pub fn spawn(bin: &Path, home: &Path, size: (u16, u16), args: &[&str], first: &[&str]) -> Pty {
        Pty::spawn_with(bin, home, size, args, &Opts::default(), first)
    }

    /// `spawn` with options.
    pub fn spawn_with(
        bin: &Path,
        home: &Path,
        size: (u16, u16),
        args: &[&str],
        opts: &Opts<'_>,
        first: &[&str],
    ) -> Pty {
        let (mut m, mut s) = (0, 0);
        let ws = winsize(size.0, size.1);
        // SAFETY: openpty writes two descriptors into the ints we pass; the rest may be null.
        let r =
            unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty succeeded, so both are open descriptors that we now own.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        // openpty's descriptors are inherited across exec; the program must not hold the master
        // (closing the terminal would not hang it up) nor a stray copy of the slave.
        for fd in [&master, &slave] {
            // SAFETY: sets a flag on a descriptor we own.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        let err = if opts.stderr_on_terminal {
            Stdio::from(slave.try_clone().expect("dup"))
        } else {
            Stdio::from(std::fs::File::create(home.join("stderr.txt")).expect("stderr file"))
        };
        let block_sighup = opts.block_sighup;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(home)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("TERM", "xterm-256color")
            .env("COLORTERM", "truecolor")
            .env("LANG", "C.UTF-8")
            .env("CHAOSDUCK_LOG", "info")
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .envs(opts.env.iter().copied())
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave))
            .stderr(err);
        // SAFETY: only async-signal-safe calls between fork and exec: a new session whose
        // controlling terminal is the pty (stdin), as a terminal emulator does, and the signal
        // mask (std resets it before this runs; exec keeps it).
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if block_sighup {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGHUP);
                    if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn the dashboard");
        let rec = Arc::new(Mutex::new(Recording {
            buf: Vec::new(),
            reads: Vec::new(),
            closed: false,
            screen: Screen::new(size.0, size.1),
            watches: first.iter().map(|n| (n.to_string(), None)).collect(),
        }));
        let closing = Arc::new(AtomicBool::new(false));
        let (r2, c2, fd) = (
            rec.clone(),
            closing.clone(),
            master.try_clone().expect("dup master"),
        );
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            // Ends when the program's side closes, or when asked to let go of the master
            // (polling at 20 ms so a close is not held up by a blocking read).
            while !c2.load(Ordering::SeqCst) {
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: polls one descriptor this thread owns, described by `pfd`.
                let ready = unsafe { libc::poll(&mut pfd, 1, 20) };
                if ready == 0
                    || (ready < 0
                        && std::io::Error::last_os_error().kind()
                            == std::io::ErrorKind::Interrupted)
                {
                    continue;
                }
                // SAFETY: reads into our buffer from a descriptor this thread owns.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                let now = Instant::now();
                let mut r = r2.lock().expect("recording");
                if n <= 0 {
                    r.closed = true;
                    return;
                }
                let got = &buf[..n as usize];
                // Answer the cursor-position query as a terminal does (the dashboard's start-up
                // clear asks for it and gives up after 2 s without an answer).
                if got.windows(4).any(|w| w == b"\x1b[6n") {
                    let reply = b"\x1b[1;1R";
                    // SAFETY: writes our bytes to the master descriptor this thread owns.
                    unsafe { libc::write(fd.as_raw_fd(), reply.as_ptr().cast(), reply.len()) };
                }
                r.buf.extend_from_slice(got);
                let end = r.buf.len();
                r.reads.push((now, end));
                r.screen.feed(got);
                if r.watches.iter().any(|(_, t)| t.is_none()) {
                    let text = r.screen.text();
                    for (needle, t) in &mut r.watches {
                        if t.is_none() && text.contains(needle.as_str()) {
                            *t = Some(now);
                        }
                    }
                }
            }
        });
        Pty {
            master: Some(master),
            rec,
            child,
            closing,
            reader: Some(reader),
        }
    }

    /// The program's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn master(&self) -> &OwnedFd {
        self.master.as_ref().expect("the terminal is closed")
    }

    pub fn write(&self, bytes: &[u8]) -> Instant {
        let t = Instant::now();
        // SAFETY: writes our bytes to the master descriptor we own.
        let n = unsafe {
            libc::write(
                self.master().as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
            )
        };
        assert_eq!(n, bytes.len() as isize, "write to the pty");
        t
    }

    /// Closes the terminal as a terminal emulator's window closing does: the last descriptor of
    /// the master goes, the kernel hangs the pty up (SIGHUP to the session, EOF/EIO on its
    /// side). Returns the moment of the close.
    pub fn close_terminal(&mut self) -> Instant {
        self.closing.store(true, Ordering::SeqCst);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        let t = Instant::now();
        drop(self.master.take());
        t
    }

    /// Keys at a human pace (a key within one frame of a draw can stay undrawn until the next
    /// message; see the report).
    pub fn keys(&self, keys: &[&[u8]]) {
        for k in keys {
            std::thread::sleep(Duration::from_millis(150));
            self.write(k);
        }
    }

    /// Types `text` a character at a time.
    pub fn type_text(&self, text: &str) {
        let keys: Vec<&[u8]> = text
            .split("")
            .filter(|c| !c.is_empty())
            .map(str::as_bytes)
            .collect();
        self.keys(&keys);
    }

    pub fn offset(&self) -> usize {
        self.rec.lock().expect("recording").buf.len()
    }

    /// The screen as text now.
    pub fn screen(&self) -> String {
        self.rec.lock().expect("recording").screen.text()
    }

    /// Starts watching for `needle` to show on the screen (it must not be there yet).
    pub fn watch(&self, needle: &str) -> usize {
        let mut r = self.rec.lock().expect("recording");
        assert!(
            !r.screen.text().contains(needle),
            "`{needle}` is already on the screen"
        );
        r.watches.push((needle.to_string(), None));
        r.watches.len() - 1
    }

    /// When the watched text first showed (the read that completed it), waiting up to `limit`.
    pub fn seen(&self, id: usize, limit: Duration) -> Option<Instant> {
        let start = Instant::now();
        loop {
            {
                let r = self.rec.lock().expect("recording");
                if let Some(t) = r.watches[id].1 {
                    return Some(t);
                }
                if r.closed || start.elapsed() > limit {
                    return None;
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Like `seen`, but the benchmark cannot go on without it.
    pub fn must(&self, id: usize, limit: Duration) -> Instant {
        self.seen(id, limit).unwrap_or_else(|| {
            let (needle, screen) = {
                let r = self.rec.lock().expect("recording");
                (r.watches[id].0.clone(), r.screen.text())
            };
            panic!("`{needle}` never showed; the screen:\n{screen}")
        })
    }

    /// Sends keys and waits for `needle` to show.
    pub fn keys_until(&self, keys: &[&[u8]], needle: &str, limit: Duration) -> Instant {
        let id = self.watch(needle);
        self.keys(keys);
        self.must(id, limit)
    }

    /// Bytes and reads that arrived in `[from, to)`.
    pub fn between(&self, from: Instant, to: Instant) -> (usize, usize) {
        let r = self.rec.lock().expect("recording");
        let mut prev = 0;
        let (mut bytes, mut reads) = (0, 0);
        for (t, end) in &r.reads {
            if *t >= from && *t < to {
                bytes += end - prev;
                reads += 1;
            }
            prev = *end;
        }
        (bytes, reads)
    }

    /// Bytes arriving during `d` from now.
    pub fn measure(&self, d: Duration) -> (usize, usize) {
        let t = Instant::now();
        std::thread::sleep(d);
        self.between(t, t + d)
    }

    pub fn resize(&self, w: u16, h: u16) -> Instant {
        let ws = winsize(w, h);
        let t = Instant::now();
        self.rec.lock().expect("recording").screen.resize(w, h);
        // SAFETY: TIOCSWINSZ reads the winsize we pass; the kernel signals SIGWINCH.
        let r = unsafe { libc::ioctl(self.master().as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0, "TIOCSWINSZ");
        t
    }

    /// Waits (bounded) for the program to exit; its exit code, or None on timeout or a signal.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<Option<i32>> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s.code());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: signals only the child this benchmark started.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if self.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.child.try_wait().ok().flatten().is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        self.closing.store(true, Ordering::SeqCst);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

/// The log files under `state` (`$XDG_STATE_HOME`).
fn log_files(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("chaosduck"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("chaosduck") && n.ends_with(".log"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The time stamps (RFC3339 UTC, first field) of the log lines under `state` containing
/// `needle`, at or after `t0` (less 50 ms of clock granularity).
pub fn log_times(state: &Path, needle: &str, t0: SystemTime) -> Vec<SystemTime> {
    let mut out = Vec::new();
    for l in log_files(state) {
        let Ok(f) = std::fs::File::open(&l) else {
            continue;
        };
        for line in BufReader::new(f).lines().map_while(Result::ok) {
            if !line.contains(needle) {
                continue;
            }
            let stamp = line.split_whitespace().next().unwrap_or_default();
            if let Ok(t) = humantime::parse_rfc3339_weak(stamp.trim_end_matches('Z'))
                .or_else(|_| humantime::parse_rfc3339(stamp))
                && t >= t0 - Duration::from_millis(50)
            {
                out.push(t);
            }
        }
    }
    out.sort();
    out
}

/// The first `revert call` logged at or after `t0`, as a time on the wall clock.
pub fn first_revert_call(state: &Path, t0: SystemTime, limit: Duration) -> Option<SystemTime> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(t) = log_times(state, "revert call", t0).first() {
            return Some(*t);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}
