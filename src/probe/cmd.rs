//! `cmd` probes: a local program as an argv list, with a timeout; output is bounded.

use super::Outcome;
use crate::domain::probe::CmdProbe;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const MAX_OUTPUT: usize = 64 * 1024;

/// Runs the command once.
pub async fn evaluate(c: &CmdProbe, timeout: Duration) -> Outcome {
    let mut cmd = if c.shell {
        let mut k = tokio::process::Command::new("sh");
        k.arg("-c")
            .arg(c.argv.first().map(String::as_str).unwrap_or(""));
        k
    } else {
        let Some(prog) = c.argv.first() else {
            return Outcome::fail(None, "argv is empty");
        };
        let mut k = tokio::process::Command::new(prog);
        k.args(&c.argv[1..]);
        k
    };
    cmd.envs(&c.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(ch) => ch,
        Err(e) => return Outcome::fail(None, format!("cannot start {:?}: {e}", c.argv.first())),
    };
    let mut out = Vec::new();
    let stdout = child.stdout.take();
    let run = async {
        if let Some(s) = stdout {
            let _ = s.take(MAX_OUTPUT as u64).read_to_end(&mut out).await;
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Outcome::fail(None, format!("waiting for the command failed: {e}")),
        Err(_) => {
            return Outcome::fail(
                None,
                format!(
                    "the command did not finish within {}",
                    humantime::format_duration(timeout)
                ),
            );
        }
    };
    let code = status.code();
    let want = c.expect_exit_code.unwrap_or(0);
    if code != Some(want) {
        return Outcome::fail(
            code.map(f64::from),
            format!("exit code {code:?}, expected {want}"),
        );
    }
    if let Some(needle) = &c.stdout_contains {
        let text = String::from_utf8_lossy(&out);
        if !text.contains(needle.as_str()) {
            return Outcome::fail(
                code.map(f64::from),
                format!("stdout does not contain {needle:?}"),
            );
        }
    }
    Outcome {
        passed: true,
        value: code.map(f64::from),
        error: None,
        skipped: false,
    }
}
