//! The keymap as data: actions, default bindings, user overrides by action name, and the help
//! text generated from the live bindings. The emergency stop is reserved: it is matched before
//! any other routing, in every mode, and can be neither unbound nor rebound to something else.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;
use std::fmt;

/// The emergency-stop key: Ctrl-G, the terminal "abort" key. One byte (0x07), so it cannot be
/// split on a slow link; not a flow-control key (Ctrl-S/Q), not suspend (Ctrl-Z), not EOF
/// (Ctrl-D), not a tmux or screen prefix (Ctrl-B/Ctrl-A), and not used by the text box.
pub const EMERGENCY: KeyChord = KeyChord {
    code: KeyCode::Char('g'),
    mods: KeyModifiers::CONTROL,
};

/// A key with its modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyChord {
    /// The key.
    pub code: KeyCode,
    /// Ctrl, Alt, Shift.
    pub mods: KeyModifiers,
}

impl KeyChord {
    /// A chord from a key event (shift is folded into the character for printable keys).
    pub fn from_event(k: &KeyEvent) -> KeyChord {
        let mut mods =
            k.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match k.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.insert(KeyModifiers::SHIFT);
                KeyCode::Tab
            }
            c => c,
        };
        KeyChord { code, mods }
    }

    /// Parses `ctrl-g`, `alt-x`, `shift-tab`, `enter`, `pgdn`, `f5`, `?`, `n`.
    pub fn parse(s: &str) -> Result<KeyChord, String> {
        let s = s.trim();
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (m, n) = if lower.starts_with("ctrl-") || lower.starts_with("ctrl+") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") || lower.starts_with("alt+") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") || lower.starts_with("shift+") {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            if rest.len() == n {
                break;
            }
            mods |= m;
            rest = &rest[n..];
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => {
                mods |= KeyModifiers::SHIFT;
                KeyCode::Tab
            }
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() >= 2
                && f.starts_with('f')
                && f[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                let n: u8 = f[1..]
                    .parse()
                    .map_err(|_| format!("`{s}`: no such function key"))?;
                if !(1..=24).contains(&n) {
                    return Err(format!("`{s}`: function keys are f1 to f24"));
                }
                KeyCode::F(n)
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => {
                        // As `from_event` folds them: Ctrl wins over Shift for letters, so
                        // `ctrl-shift-g` is Ctrl-G (and is refused as the emergency stop).
                        if mods.contains(KeyModifiers::CONTROL) {
                            if c.is_ascii_alphabetic() {
                                mods.remove(KeyModifiers::SHIFT);
                            }
                            KeyCode::Char(c.to_ascii_lowercase())
                        } else if mods.contains(KeyModifiers::SHIFT) && c.is_ascii_alphabetic() {
                            mods.remove(KeyModifiers::SHIFT);
                            KeyCode::Char(c.to_ascii_uppercase())
                        } else {
                            KeyCode::Char(c)
                        }
                    }
                    _ => {
                        return Err(format!(
                            "`{s}` is not a key (examples: n, ?, ctrl-x, alt-r, enter, esc, tab, pgdn, f5)"
                        ));
                    }
                }
            }
        };
        Ok(KeyChord { code, mods })
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if self.mods.contains(KeyModifiers::CONTROL) => {
                write!(f, "{}", c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::F(n) => write!(f, "F{n}"),
            c => write!(f, "{c:?}"),
        }
    }
}

macro_rules! actions {
    ($( $v:ident => $name:literal, $doc:literal, [$($key:literal),*] );* $(;)?) => {
        /// Something the operator can do with a key.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $( #[doc = $doc] $v, )* }

        impl Action {
            /// Every action, in help order.
            pub const ALL: &'static [Action] = &[$(Action::$v),*];
            /// The name used in the config file's `[keys]` table.
            pub fn name(self) -> &'static str { match self { $(Action::$v => $name,)* } }
            /// What it does.
            pub fn describe(self) -> &'static str { match self { $(Action::$v => $doc,)* } }
            fn defaults(self) -> &'static [&'static str] { match self { $(Action::$v => &[$($key),*],)* } }
        }
    };
}

actions! {
    Quit => "quit", "Quit (active faults are rolled back first)", ["q"];
    Help => "help", "Show this help", ["?"];
    Command => "command", "Command line (:ctx, :ns, :theme, :run, :q)", [":"];
    Filter => "filter", "Filter the topology (local, never refetches)", ["/"];
    FocusNext => "focus_next", "Next pane", ["tab"];
    FocusPrev => "focus_prev", "Previous pane", ["shift-tab"];
    Up => "up", "Move up", ["up", "k"];
    Down => "down", "Move down", ["down", "j"];
    PageUp => "page_up", "Page up", ["pgup"];
    PageDown => "page_down", "Page down", ["pgdn"];
    Top => "top", "First row", ["home", "g"];
    Bottom => "bottom", "Last row", ["end", "G"];
    Expand => "expand", "Expand / open", ["enter", "right", "l"];
    Collapse => "collapse", "Collapse", ["left", "h"];
    NewExperiment => "new_experiment", "New experiment on the selected target (form)", ["n"];
    Prompt => "prompt", "Describe an experiment in words", ["p"];
    OpenFile => "open_file", "Open an experiment file from experiments/", ["o"];
    Rerun => "rerun", "Run the selected experiment again (dry run first)", ["R"];
    Rollback => "rollback", "Roll back the selected experiment now", ["r"];
    Analyze => "analyze", "AI analysis of the selected experiment", ["a"];
    Suggest => "suggest", "Experiments worth running here, with the resilience trend", ["s"];
    TopologySource => "topology_source", "Switch the topology between Kubernetes and AWS", ["t"];
    Pane1 => "pane_topology", "Show the topology", ["1"];
    Pane2 => "pane_experiments", "Show the experiments", ["2"];
    Pane3 => "pane_probes", "Show the probes", ["3"];
    Pane4 => "pane_journal", "Show the journal", ["4"];
    Pane5 => "pane_ai", "Show the AI analysis", ["5"];
}

/// The bindings in force.
#[derive(Clone, Debug)]
pub struct Keymap {
    bindings: BTreeMap<Action, Vec<KeyChord>>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = Action::ALL
            .iter()
            .map(|a| {
                (
                    *a,
                    a.defaults()
                        .iter()
                        .filter_map(|k| KeyChord::parse(k).ok())
                        .collect(),
                )
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// The defaults with the config file's `[keys]` overrides (`action = "key"` or a list).
    /// Every problem is reported; the rest still applies.
    pub fn with_overrides(over: &BTreeMap<String, Vec<String>>) -> (Keymap, Vec<String>) {
        let mut km = Keymap::default();
        let mut errors = Vec::new();
        for (name, keys) in over {
            let Some(action) = Action::ALL.iter().find(|a| a.name() == name) else {
                if name == "emergency_stop" {
                    errors.push(format!(
                        "[keys] emergency_stop: the emergency stop is always {EMERGENCY} and cannot be rebound"
                    ));
                } else {
                    errors.push(format!(
                        "[keys] {name}: no such action (see `?` in the dashboard for the names)"
                    ));
                }
                continue;
            };
            let mut chords = Vec::new();
            for k in keys {
                match KeyChord::parse(k) {
                    Ok(c) if c == EMERGENCY => errors.push(format!(
                        "[keys] {name}: {EMERGENCY} is reserved for the emergency stop"
                    )),
                    Ok(c) => chords.push(c),
                    Err(e) => errors.push(format!("[keys] {name}: {e}")),
                }
            }
            // The new keys leave whatever action held them before.
            for v in km.bindings.values_mut() {
                v.retain(|c| !chords.contains(c));
            }
            km.bindings.insert(*action, chords);
        }
        (km, errors)
    }

    /// The action bound to a key, if any.
    pub fn action(&self, k: &KeyChord) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(_, v)| v.contains(k))
            .map(|(a, _)| *a)
    }

    /// The keys of an action, for hints ("n", "Ctrl-X").
    pub fn keys(&self, a: Action) -> String {
        let v = self.bindings.get(&a).map(Vec::as_slice).unwrap_or(&[]);
        if v.is_empty() {
            "(unbound)".into()
        } else {
            v.iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join("/")
        }
    }

    /// The first key of an action, for short hints.
    pub fn key(&self, a: Action) -> String {
        self.bindings
            .get(&a)
            .and_then(|v| v.first())
            .map_or_else(|| "-".into(), |k| k.to_string())
    }

    /// Help lines: (keys, action name, description), the emergency stop first.
    pub fn help(&self) -> Vec<(String, String, String)> {
        let mut out = vec![(
            EMERGENCY.to_string(),
            "emergency_stop".to_string(),
            "EMERGENCY STOP: roll back every fault now (any mode, no confirmation)".to_string(),
        )];
        out.extend(Action::ALL.iter().map(|a| {
            (
                self.keys(*a),
                a.name().to_string(),
                a.describe().to_string(),
            )
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_print() {
        for (s, shown) in [
            ("ctrl-g", "Ctrl-G"),
            ("n", "n"),
            ("G", "G"),
            ("shift-g", "G"),
            ("?", "?"),
            ("enter", "Enter"),
            ("shift-tab", "Shift-Tab"),
            ("alt-r", "Alt-r"),
            ("f5", "F5"),
            ("pgdn", "PgDn"),
        ] {
            assert_eq!(KeyChord::parse(s).unwrap().to_string(), shown, "{s}");
        }
        assert!(KeyChord::parse("ctrl-").is_err());
        assert!(KeyChord::parse("hello").is_err());
        assert!(KeyChord::parse("f99").is_err());
    }

    #[test]
    fn emergency_key_is_the_ctrl_g_event() {
        let ev = KeyEvent::new(KeyCode::Char('g'), KeyModifiers::CONTROL);
        assert_eq!(KeyChord::from_event(&ev), EMERGENCY);
        let shifted = KeyEvent::new(
            KeyCode::Char('G'),
            KeyModifiers::CONTROL | KeyModifiers::SHIFT,
        );
        assert_eq!(KeyChord::from_event(&shifted), EMERGENCY);
    }

    #[test]
    fn overrides_rebind_by_action_name_and_report_mistakes() {
        let mut over = BTreeMap::new();
        over.insert("rollback".to_string(), vec!["x".to_string()]);
        over.insert("quit".to_string(), vec!["ctrl-g".to_string()]);
        over.insert("launch".to_string(), vec!["z".to_string()]);
        over.insert("emergency_stop".to_string(), vec!["f1".to_string()]);
        let (km, errs) = Keymap::with_overrides(&over);
        let x = KeyChord::parse("x").unwrap();
        assert_eq!(km.action(&x), Some(Action::Rollback));
        assert_eq!(km.action(&KeyChord::parse("r").unwrap()), None);
        assert_eq!(km.action(&EMERGENCY), None);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("reserved")));
        assert!(errs.iter().any(|e| e.contains("launch")));
    }

    #[test]
    fn help_lists_every_action_with_the_emergency_stop_first() {
        let km = Keymap::default();
        let h = km.help();
        assert_eq!(h[0].0, "Ctrl-G");
        assert_eq!(h.len(), Action::ALL.len() + 1);
        assert!(h.iter().any(|(k, n, _)| n == "rollback" && k == "r"));
    }

    #[test]
    fn ctrl_shift_letter_is_the_ctrl_letter_and_cannot_take_the_emergency_stop() {
        // Found by tests/fuzz_config.rs: `ctrl-shift-g` parsed to Ctrl+'G', a chord no key event
        // ever makes, shown in the help as "Ctrl-G" next to the emergency stop.
        assert_eq!(KeyChord::parse("ctrl-shift-g"), Ok(EMERGENCY));
        assert_eq!(
            KeyChord::parse("Shift-Ctrl-X"),
            KeyChord::parse("ctrl-x"),
            "Ctrl wins over Shift for letters"
        );
        let mut over = BTreeMap::new();
        over.insert("quit".to_string(), vec!["ctrl-shift-g".to_string()]);
        let (km, errors) = Keymap::with_overrides(&over);
        assert!(errors.iter().any(|e| e.contains("reserved")), "{errors:?}");
        assert_eq!(km.action(&EMERGENCY), None);
    }
}
