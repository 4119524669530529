//! SIGINT, SIGTERM and SIGHUP: the signals that mean "roll back and exit" (SIGHUP is the SSH link
//! dropping), for both the headless runs and the dashboard.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The three signals, listened to together.
pub struct ExitSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl ExitSignals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<ExitSignals> {
        Ok(ExitSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The name of the next signal received.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}
