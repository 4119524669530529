//! The header (title, tabs), the emergency banner and the status bar.

use super::{dur, fit};
use crate::tui::app::{App, Pane};
use crate::tui::keymap::{Action, EMERGENCY};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The title line; in tabs mode, the tabs with their number keys.
pub fn header(app: &App, f: &mut Frame, area: Rect, tabs: bool) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(
        " ChaosDuck ",
        t.primary().add_modifier(ratatui::style::Modifier::BOLD),
    )];
    if tabs {
        for (i, p) in Pane::ALL.iter().enumerate() {
            let s = format!(" {}:{} ", i + 1, p.title());
            spans.push(if *p == app.focus {
                Span::styled(format!("[{}]", s.trim()), t.selected())
            } else {
                Span::styled(s, t.muted())
            });
        }
    } else {
        spans.push(Span::styled(
            format!(
                " {} help · {} pane · {} new · {} prompt · {} open",
                app.keymap.key(Action::Help),
                app.keymap.key(Action::FocusNext),
                app.keymap.key(Action::NewExperiment),
                app.keymap.key(Action::Prompt),
                app.keymap.key(Action::OpenFile),
            ),
            t.muted(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Whether the banner line is shown.
pub fn has_banner(app: &App) -> bool {
    app.stopping.is_some() || app.quitting.is_some() || app.latched.is_some()
}

/// The banner: emergency stop in progress, rollback before exit, or the latch.
pub fn banner(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let text = if let Some(s) = &app.stopping {
        format!(
            " ■ EMERGENCY STOP — rolling back every fault: {} reverted, {} failed, {} open · {}",
            s.reverted,
            s.failed,
            app.open_faults,
            dur(app.now_ms - s.since)
        )
    } else if let Some(why) = &app.quitting {
        format!(
            " ■ {why}: rolling back {} active fault(s) before exit…",
            app.open_faults
        )
    } else if let Some(l) = &app.latched {
        format!(" ■ EMERGENCY STOP LATCHED ({l}) — no new runs until :reset")
    } else {
        return;
    };
    let w = usize::from(area.width);
    let line = format!("{:<w$}", fit(&text, w));
    f.render_widget(Paragraph::new(line).style(t.banner()), area);
}

/// The status bar: context, AWS, active faults, the stop key, read-only, and the last note.
pub fn status_bar(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(format!(" ⎈ {} ", app.context), t.text()),
        Span::styled(format!("☁ {} ", app.aws_label), t.muted()),
        Span::styled(
            format!("faults {} ", app.open_faults),
            if app.open_faults > 0 {
                t.warning()
            } else {
                t.muted()
            },
        ),
        Span::styled(format!(" {EMERGENCY} STOP "), t.banner()),
    ];
    if app.read_only {
        spans.push(Span::styled(
            " READ-ONLY ",
            t.warning().add_modifier(ratatui::style::Modifier::BOLD),
        ));
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let rest = usize::from(area.width).saturating_sub(used + 1);
    let note = match (&app.toast, app.warnings.first()) {
        (Some((n, _)), _) => Span::styled(format!(" {}", fit(n, rest)), t.text()),
        (None, Some(w)) => Span::styled(format!(" {}", fit(w, rest)), t.warning()),
        (None, None) => Span::styled(
            format!(
                " {}",
                fit(
                    &format!(
                        "{} help · {} quit",
                        app.keymap.key(Action::Help),
                        app.keymap.key(Action::Quit)
                    ),
                    rest
                )
            ),
            t.muted(),
        ),
    };
    spans.push(note);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
