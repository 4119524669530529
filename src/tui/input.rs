//! Terminal input on a thread of its own, which notices a closed terminal before crossterm reads
//! it.
//!
//! A hung-up terminal (window closed, SSH link gone, pty master closed) reads as endless
//! end-of-file, and crossterm's reader retries that forever inside one call: its thread spins at
//! 100 % CPU and never reports the loss (an open crossterm issue). So this thread polls the
//! terminal's descriptor itself and only hands it to crossterm when there is input and no
//! hang-up; a hang-up or error becomes `Msg::InputLost` and the thread ends without touching
//! the terminal again. Window size changes come from SIGWINCH (`spawn_resize`), not from
//! crossterm's reader, so the size is current even while no key arrives.
//!
//! crossterm is built with `use-dev-tty`: its poll-based reader is level-triggered, so input
//! that arrived together with its SIGWINCH notice is read on the next call (its default mio
//! reader is edge-triggered and would leave such a key unread until the next one), and a
//! zero-timeout poll of a hung-up terminal returns instead of spinning.

use super::msg::Msg;
use crossterm::event::Event;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the thread checks that the UI still listens while the terminal is idle.
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// crossterm's wait once there is input (its poll-based reader does not read at all with a
/// zero timeout).
const PARSE_WAIT: Duration = Duration::from_millis(1);

/// What one wait on the terminal's descriptor saw.
#[derive(Debug, PartialEq)]
pub enum Readiness {
    /// Input to read.
    Input,
    /// Nothing within the wait.
    Idle,
    /// The terminal is gone (hang-up, error, closed descriptor).
    Gone(String),
}

/// Waits up to `limit` for input on `fd`, reporting a hang-up before any input still queued.
pub fn wait_readable(fd: BorrowedFd<'_>, limit: Duration) -> Readiness {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: polls one descriptor that `fd` keeps open for the call; `p` outlives it.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted {
            Readiness::Idle
        } else {
            Readiness::Gone(format!("polling the terminal failed: {e}"))
        };
    }
    if n == 0 {
        return Readiness::Idle;
    }
    if p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Readiness::Gone("the terminal hung up".into());
    }
    if p.revents & libc::POLLIN != 0 {
        Readiness::Input
    } else {
        Readiness::Idle
    }
}

/// The descriptor crossterm reads: stdin when it is a terminal, else `/dev/tty`.
fn terminal_fd() -> std::io::Result<OwnedFd> {
    // SAFETY: isatty only inspects descriptor 0.
    if unsafe { libc::isatty(0) } == 1 {
        // SAFETY: descriptor 0 is open (isatty succeeded); the clone is ours to close.
        return unsafe { BorrowedFd::borrow_raw(0) }.try_clone_to_owned();
    }
    Ok(std::fs::File::open("/dev/tty")?.into())
}

fn to_msg(e: Event) -> Option<Msg> {
    match e {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Paste(s) => Some(Msg::Paste(s)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

/// Reads keys, pastes and resizes into `tx` until the terminal is gone or the UI stops
/// listening.
pub fn spawn_input(tx: mpsc::Sender<Msg>) {
    let spawned = std::thread::Builder::new()
        .name("terminal-input".into())
        .spawn(move || {
            let fd = match terminal_fd() {
                Ok(fd) => fd,
                Err(e) => {
                    let _ = tx.blocking_send(Msg::InputLost(format!("no terminal to read: {e}")));
                    return;
                }
            };
            loop {
                match wait_readable(fd.as_fd(), IDLE_CHECK) {
                    Readiness::Gone(why) => {
                        let _ = tx.blocking_send(Msg::InputLost(why));
                        return;
                    }
                    Readiness::Idle => {
                        if tx.is_closed() {
                            return;
                        }
                        continue;
                    }
                    Readiness::Input => {}
                }
                // Everything crossterm can parse from what is there now.
                loop {
                    match crossterm::event::poll(PARSE_WAIT) {
                        Ok(false) => break,
                        Ok(true) => match crossterm::event::read() {
                            Ok(e) => {
                                if let Some(m) = to_msg(e)
                                    && tx.blocking_send(m).is_err()
                                {
                                    return;
                                }
                            }
                            Err(e) => {
                                let _ = tx.blocking_send(Msg::InputLost(e.to_string()));
                                return;
                            }
                        },
                        Err(e) => {
                            let _ = tx.blocking_send(Msg::InputLost(e.to_string()));
                            return;
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the terminal input thread");
    }
}

/// Window size changes (SIGWINCH) as `Msg::Resize`.
pub fn spawn_resize(tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut winch) = signal(SignalKind::window_change()) else {
            tracing::warn!("cannot watch window size changes");
            return;
        };
        while winch.recv().await.is_some() {
            if let Ok((w, h)) = crossterm::terminal::size()
                && tx.send(Msg::Resize(w, h)).await.is_err()
            {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn pty() -> (OwnedFd, OwnedFd) {
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty writes two descriptors into the ints we pass; the rest may be null.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty succeeded; both descriptors are ours.
        unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
    }

    #[test]
    fn a_closed_terminal_reads_as_gone_not_as_input() {
        let (master, slave) = pty();
        assert_eq!(
            wait_readable(slave.as_fd(), Duration::from_millis(10)),
            Readiness::Idle
        );
        // SAFETY: writes two bytes to the master we own.
        let n = unsafe { libc::write(master.as_raw_fd(), b"x\r".as_ptr().cast(), 2) };
        assert_eq!(n, 2);
        assert_eq!(
            wait_readable(slave.as_fd(), Duration::from_secs(1)),
            Readiness::Input
        );
        // The window closes: a hung-up terminal would read as endless EOF.
        drop(master);
        assert!(matches!(
            wait_readable(slave.as_fd(), Duration::from_secs(1)),
            Readiness::Gone(_)
        ));
    }
}
