//! A bug in the dashboard must not abandon a fault: the real binary in tmux, a run started with
//! `:run`, then a panic forced by the `dashboard-panic` failpoint; the process must roll back
//! every fault, restore the terminal and exit with code 5.

mod common;

use common::{Home, wait_until};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn screen(&self) -> String {
        self.cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn keys(&self, literal: &str) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t", "-l", literal])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux send-keys {literal}");
    }

    fn key(&self, name: &str) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t", name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux send-keys {name}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn has_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn a_panic_in_the_dashboard_rolls_back_and_restores_the_terminal() {
    if !has_tmux() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it)");
        return;
    }
    let h = Home::new();
    h.write_world(3);
    let exp = h.experiment(
        "ui-crash",
        "  fault:\n    type: pod_delete\n  target:\n    pods:\n      namespace: shop\n      selector: app=web\n      count: 2\n  duration: 2m\n  safety:\n    blastRadius: 2\n",
    );
    // Keys before the one that panics: ":" + "run PATH" + Enter (dry run) + Enter + "y".
    let typed = format!("run {}", exp.display());
    let panic_at = 1 + typed.chars().count() + 1 + 1 + 1 + 1;
    let code_file = h.path().join("exit-code");
    let bin = env!("CARGO_BIN_EXE_chaosduck");
    let script = format!(
        "env XDG_DATA_HOME={d}/data-home XDG_STATE_HOME={d}/state XDG_CONFIG_HOME={d}/config XDG_RUNTIME_DIR={d}/run TERM=xterm-256color CHAOSDUCK_FAILPOINT=dashboard-panic:{panic_at} {bin} --world {w} --db {db} 2>{d}/stderr; echo $? > {code}",
        d = shell_quote(h.path()),
        bin = shell_quote(Path::new(bin)),
        w = shell_quote(&h.world()),
        db = shell_quote(&h.db()),
        code = shell_quote(&code_file),
    );
    let t = Tmux {
        socket: format!("cd-crash-{}", std::process::id()),
    };
    let ok = t
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "40",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "tmux new-session");
    assert!(
        wait_until(Duration::from_secs(20), || t.screen().contains("Topology")),
        "no dashboard: {}",
        t.screen()
    );
    t.key(":");
    t.keys(&typed);
    t.key("Enter");
    assert!(
        wait_until(Duration::from_secs(20), || t.screen().contains("Dry run")),
        "no dry run: {}",
        t.screen()
    );
    t.key("Enter");
    assert!(
        wait_until(Duration::from_secs(10), || t
            .screen()
            .contains("Confirm the run")),
        "no confirmation: {}",
        t.screen()
    );
    t.key("y");
    assert!(
        wait_until(Duration::from_secs(20), || h.markers().len() == 2),
        "the run did not inject: {:?} {}",
        h.markers(),
        t.screen()
    );
    // The next key panics inside the UI.
    t.key("j");
    assert!(
        wait_until(Duration::from_secs(30), || code_file.exists()
            && std::fs::read_to_string(&code_file)
                .is_ok_and(|s| !s.trim().is_empty())),
        "the process did not exit after the panic: {}",
        t.screen()
    );
    let code = std::fs::read_to_string(&code_file).unwrap();
    let stderr = std::fs::read_to_string(h.path().join("stderr")).unwrap_or_default();
    assert_eq!(code.trim(), "5", "exit code; stderr: {stderr}");
    assert!(stderr.contains("failpoint dashboard-panic"), "{stderr}");
    assert!(stderr.contains("every fault was rolled back"), "{stderr}");
    assert!(
        h.markers().is_empty(),
        "faults left behind: {:?}",
        h.markers()
    );
    let out = h.run(&["list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list json");
    let list = v.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{v}");
    assert_ne!(list[0]["status"], "running", "{v}");
    let id = list[0]["id"].as_str().unwrap().to_string();
    let show = h.run(&["show", &id, "-o", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show json");
    let journal = s["journal"].as_array().cloned().unwrap_or_default();
    assert_eq!(journal.len(), 2, "{s}");
    for e in journal {
        assert_eq!(e["state"], "reverted", "{e}");
    }
}
