//! One file per pane; each renders from `&App` only.

pub mod ai;
pub mod experiments;
pub mod journal;
pub mod probes;
pub mod status;
pub mod timeline;
pub mod topology;

use super::theme::Theme;
use ratatui::text::Line;
use ratatui::widgets::Block;

/// A pane's frame: bordered, its title, the focused one highlighted.
pub fn frame<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .title(title)
        .border_style(theme.border(focused))
        .title_style(if focused {
            theme.primary()
        } else {
            theme.text()
        })
}

/// `HH:MM:SS` (UTC) of a unix-ms instant.
pub fn hms(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// `MM-DD HH:MM` (UTC) of a unix-ms instant.
pub fn stamp(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    // 2026-11-26T02:14:05Z → 11-26 02:14
    s.get(5..16).map_or(s.clone(), |x| x.replace('T', " "))
}

/// A duration in ms for people: `850ms`, `12.3s`, `4m05s`.
pub fn dur(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// Cuts a string to `w` characters, with an ellipsis.
pub fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}
