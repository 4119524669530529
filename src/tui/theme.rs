//! Colour themes with semantic roles (`themes/*.toml`), the terminal's colour tier, and the
//! fallback from truecolor to 256 and 16 colours. A broken theme file never stops the dashboard:
//! it yields the default theme and a warning for the status bar.

use crate::domain::Phase;
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::Path;

/// The themes built into the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("basic16", include_str!("../../themes/basic16.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// 24-bit colour.
    TrueColor,
    /// The xterm 256-colour palette.
    Ansi256,
    /// The 16 basic colours.
    Ansi16,
}

impl Tier {
    /// The tier a terminal advertises through `COLORTERM` and `TERM`.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> Tier {
        let ct = colorterm.unwrap_or_default().to_ascii_lowercase();
        if ct == "truecolor" || ct == "24bit" {
            return Tier::TrueColor;
        }
        let t = term.unwrap_or_default();
        if t.contains("256color") || t.contains("direct") {
            Tier::Ansi256
        } else {
            Tier::Ansi16
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    #[serde(default)]
    mono: bool,
    colors: Colors,
    phase: PhaseColors,
    probe: ProbeColors,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Colors {
    text: String,
    muted: String,
    primary: String,
    highlight: String,
    selection: String,
    border: String,
    success: String,
    warning: String,
    failure: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseColors {
    steady_state: String,
    hypothesis: String,
    inject: String,
    observe: String,
    rollback: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeColors {
    pass: String,
    fail: String,
    skipped: String,
    fault_window: String,
}

/// A resolved theme: one colour per semantic role.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    /// Its name.
    pub name: String,
    /// No colours at all: meaning is carried by modifiers and markers.
    pub mono: bool,
    /// Body text.
    pub text: Color,
    /// Secondary text.
    pub muted: Color,
    /// Titles, the focused border, keys.
    pub primary: Color,
    /// The selected row's text.
    pub highlight: Color,
    /// The selected row's background.
    pub selection: Color,
    /// Unfocused borders.
    pub border: Color,
    /// Good news.
    pub success: Color,
    /// Needs attention.
    pub warning: Color,
    /// Bad news, the emergency banner.
    pub failure: Color,
    /// STEADY_STATE, HYPOTHESIS, INJECT, OBSERVE, ROLLBACK.
    pub phases: [Color; 5],
    /// A passing probe sample.
    pub probe_pass: Color,
    /// A failing probe sample.
    pub probe_fail: Color,
    /// A sample that was not evaluated.
    pub probe_skipped: Color,
    /// The fault window under a sparkline.
    pub fault_window: Color,
}

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No such theme.
    #[error(
        "no theme named `{0}`; built in: dark, light, high-contrast, basic16, mono (or put NAME.toml in the themes folder)"
    )]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read theme {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a theme.
    #[error("theme {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
}

impl Default for Theme {
    fn default() -> Self {
        Theme::parse("dark", BUILTIN[0].1, Tier::TrueColor).unwrap_or_else(|_| Theme::fallback())
    }
}

impl Theme {
    /// A theme that needs no file (used only if the built-in one could not be read).
    fn fallback() -> Theme {
        Theme {
            name: "dark".into(),
            mono: false,
            text: Color::Reset,
            muted: Color::DarkGray,
            primary: Color::Cyan,
            highlight: Color::Yellow,
            selection: Color::Blue,
            border: Color::Gray,
            success: Color::Green,
            warning: Color::Yellow,
            failure: Color::Red,
            phases: [
                Color::Blue,
                Color::Magenta,
                Color::LightRed,
                Color::Yellow,
                Color::Green,
            ],
            probe_pass: Color::Green,
            probe_fail: Color::Red,
            probe_skipped: Color::DarkGray,
            fault_window: Color::LightRed,
        }
    }

    /// The `mono` theme.
    pub fn mono() -> Theme {
        Theme::parse("mono", BUILTIN[4].1, Tier::Ansi16).unwrap_or_else(|_| Theme {
            mono: true,
            ..Theme::fallback()
        })
    }

    /// Parses a theme file's text; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str, tier: Tier) -> Result<Theme, ThemeError> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Invalid {
            path: origin.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let c = |field: &str, v: &str| -> Result<Color, ThemeError> {
            parse_color(v)
                .map(|c| downgrade(c, tier))
                .ok_or_else(|| ThemeError::Invalid {
                    path: origin.to_string(),
                    message: format!(
                        "field `{field}`: `{v}` is not a colour (use #rrggbb, 0-255, or a name such as red)"
                    ),
                })
        };
        Ok(Theme {
            name: f.name.unwrap_or_else(|| origin.to_string()),
            mono: f.mono,
            text: c("colors.text", &f.colors.text)?,
            muted: c("colors.muted", &f.colors.muted)?,
            primary: c("colors.primary", &f.colors.primary)?,
            highlight: c("colors.highlight", &f.colors.highlight)?,
            selection: c("colors.selection", &f.colors.selection)?,
            border: c("colors.border", &f.colors.border)?,
            success: c("colors.success", &f.colors.success)?,
            warning: c("colors.warning", &f.colors.warning)?,
            failure: c("colors.failure", &f.colors.failure)?,
            phases: [
                c("phase.steady_state", &f.phase.steady_state)?,
                c("phase.hypothesis", &f.phase.hypothesis)?,
                c("phase.inject", &f.phase.inject)?,
                c("phase.observe", &f.phase.observe)?,
                c("phase.rollback", &f.phase.rollback)?,
            ],
            probe_pass: c("probe.pass", &f.probe.pass)?,
            probe_fail: c("probe.fail", &f.probe.fail)?,
            probe_skipped: c("probe.skipped", &f.probe.skipped)?,
            fault_window: c("probe.fault_window", &f.probe.fault_window)?,
        })
    }

    /// Loads a theme by name: `dir/NAME.toml` first (the user's themes), then the built-in ones.
    pub fn load(name: &str, dir: Option<&Path>, tier: Tier) -> Result<Theme, ThemeError> {
        if let Some(d) = dir {
            let p = d.join(format!("{name}.toml"));
            if p.is_file() {
                let text = std::fs::read_to_string(&p).map_err(|source| ThemeError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                return Theme::parse(&p.display().to_string(), &text, tier);
            }
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Theme::parse(&format!("themes/{n}.toml"), text, tier),
            None => Err(ThemeError::Unknown(name.to_string())),
        }
    }

    /// The theme to start with: `mono` when `NO_COLOR` is set, else `name`; a broken or unknown
    /// theme yields the default one and the warning to show.
    pub fn startup(
        name: &str,
        dir: Option<&Path>,
        tier: Tier,
        no_color: bool,
    ) -> (Theme, Option<String>) {
        if no_color {
            return (Theme::mono(), None);
        }
        match Theme::load(name, dir, tier) {
            Ok(t) => (t, None),
            Err(e) => {
                let t = Theme::load("dark", None, tier).unwrap_or_default();
                (t, Some(format!("{e}; using the dark theme")))
            }
        }
    }

    /// The colour of a phase.
    pub fn phase(&self, p: Phase) -> Color {
        self.phases[phase_index(p)]
    }

    /// Body text.
    pub fn text(&self) -> Style {
        Style::default().fg(self.text)
    }

    /// Secondary text.
    pub fn muted(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            Style::default().fg(self.muted)
        }
    }

    /// Titles and keys.
    pub fn primary(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(self.primary)
        }
    }

    /// The selected row: colour plus bold, so it stays visible without colour.
    pub fn selected(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::default()
                .fg(self.highlight)
                .bg(self.selection)
                .add_modifier(Modifier::BOLD)
        }
    }

    /// A border; focused ones stand out.
    pub fn border(&self, focused: bool) -> Style {
        match (self.mono, focused) {
            (true, true) => Style::default().add_modifier(Modifier::BOLD),
            (true, false) => Style::default(),
            (false, true) => Style::default().fg(self.primary),
            (false, false) => Style::default().fg(self.border),
        }
    }

    /// Good news.
    pub fn success(&self) -> Style {
        Style::default().fg(self.success)
    }

    /// Needs attention.
    pub fn warning(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(self.warning)
        }
    }

    /// Bad news.
    pub fn failure(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::default()
                .fg(self.failure)
                .add_modifier(Modifier::BOLD)
        }
    }

    /// The emergency banner: the failure colour as background.
    pub fn banner(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::default()
                .fg(Color::White)
                .bg(self.failure)
                .add_modifier(Modifier::BOLD)
        }
    }
}

/// Index of a phase in [`Theme::phases`].
pub fn phase_index(p: Phase) -> usize {
    match p {
        Phase::SteadyState => 0,
        Phase::Hypothesis => 1,
        Phase::Inject => 2,
        Phase::Observe => 3,
        Phase::Rollback => 4,
    }
}

/// Parses `#rrggbb`, a palette index, or a colour name.
pub fn parse_color(s: &str) -> Option<Color> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    if let Ok(i) = s.parse::<u8>() {
        return Some(Color::Indexed(i));
    }
    Some(
        match s.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "default" | "reset" => Color::Reset,
            "black" => Color::Black,
            "red" => Color::Red,
            "green" => Color::Green,
            "yellow" => Color::Yellow,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "cyan" => Color::Cyan,
            "gray" | "grey" => Color::Gray,
            "darkgray" | "darkgrey" => Color::DarkGray,
            "lightred" => Color::LightRed,
            "lightgreen" => Color::LightGreen,
            "lightyellow" => Color::LightYellow,
            "lightblue" => Color::LightBlue,
            "lightmagenta" => Color::LightMagenta,
            "lightcyan" => Color::LightCyan,
            "white" => Color::White,
            _ => return None,
        },
    )
}

/// The 16 basic colours with typical xterm values, for the nearest match.
const BASIC: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    let (r, g, b2) = (d(a.0, b.0), d(a.1, b.1), d(a.2, b.2));
    r * r * 3 + g * g * 4 + b2 * b2 * 2
}

/// The value of an xterm palette index as RGB.
fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => BASIC[i as usize].1,
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

/// The nearest colour the tier can show.
pub fn downgrade(c: Color, tier: Tier) -> Color {
    match (c, tier) {
        (_, Tier::TrueColor) => c,
        (Color::Rgb(r, g, b), Tier::Ansi256) => {
            // The nearest entry of the 6×6×6 cube or the grey ramp.
            let best = (16u8..=255)
                .min_by_key(|&i| dist(indexed_rgb(i), (r, g, b)))
                .unwrap_or(16);
            Color::Indexed(best)
        }
        (Color::Rgb(r, g, b), Tier::Ansi16) => nearest16((r, g, b)),
        (Color::Indexed(i), Tier::Ansi16) if i >= 16 => nearest16(indexed_rgb(i)),
        (Color::Indexed(i), _) if i < 16 => BASIC[i as usize].0,
        _ => c,
    }
}

fn nearest16(rgb: (u8, u8, u8)) -> Color {
    BASIC
        .iter()
        .min_by_key(|(_, v)| dist(*v, rgb))
        .map(|(c, _)| *c)
        .unwrap_or(Color::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_parses_at_every_tier() {
        for (name, text) in BUILTIN {
            for tier in [Tier::TrueColor, Tier::Ansi256, Tier::Ansi16] {
                let t = Theme::parse(name, text, tier).expect(name);
                assert_eq!(t.name, *name);
                if tier == Tier::Ansi16 {
                    for c in [t.text, t.failure, t.phases[2], t.probe_pass] {
                        assert!(
                            !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                            "{name}: {c:?} is not one of the 16 colours"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn truecolor_falls_back_to_the_nearest_palette_entry() {
        assert_eq!(
            downgrade(Color::Rgb(255, 0, 0), Tier::Ansi256),
            Color::Indexed(196)
        );
        assert_eq!(
            downgrade(Color::Rgb(250, 10, 10), Tier::Ansi16),
            Color::LightRed
        );
        assert_eq!(
            downgrade(Color::Rgb(10, 200, 10), Tier::Ansi16),
            Color::Green
        );
        assert_eq!(
            downgrade(Color::Indexed(196), Tier::Ansi16),
            Color::LightRed
        );
    }

    #[test]
    fn tier_is_read_from_colorterm_then_term() {
        assert_eq!(
            Tier::detect(Some("truecolor"), Some("xterm")),
            Tier::TrueColor
        );
        assert_eq!(Tier::detect(None, Some("screen-256color")), Tier::Ansi256);
        assert_eq!(Tier::detect(None, Some("vt100")), Tier::Ansi16);
        assert_eq!(Tier::detect(None, None), Tier::Ansi16);
    }

    #[test]
    fn a_broken_theme_names_the_field_and_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let bad = BUILTIN[0].1.replace("text = \"#d8dee9\"", "text = \"#zz\"");
        std::fs::write(dir.path().join("mine.toml"), bad).unwrap();
        let err = Theme::load("mine", Some(dir.path()), Tier::TrueColor).unwrap_err();
        assert!(err.to_string().contains("colors.text"), "{err}");
        let (t, warn) = Theme::startup("mine", Some(dir.path()), Tier::TrueColor, false);
        assert_eq!(t.name, "dark");
        assert!(warn.unwrap().contains("mine.toml"));
        std::fs::write(dir.path().join("syntax.toml"), "name = [").unwrap();
        let err = Theme::load("syntax", Some(dir.path()), Tier::TrueColor).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn no_color_selects_mono() {
        let (t, w) = Theme::startup("light", None, Tier::TrueColor, true);
        assert!(t.mono && w.is_none());
        assert!(t.selected().add_modifier.contains(Modifier::BOLD));
    }
}
