//! The experiment list (name, fault, target, status, started) over the selected one's phase
//! timeline.

use super::{fit, frame, stamp, timeline};
use crate::domain::Status;
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The colour of a status.
pub fn status_style(t: &Theme, s: Status) -> Style {
    match s {
        Status::Completed => t.success(),
        Status::Running | Status::Pending => t.warning(),
        Status::Aborted | Status::RolledBack => t.warning(),
        Status::Failed | Status::EmergencyStopped => t.failure(),
    }
}

/// Draws the pane.
pub fn render(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let [list_area, tl_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(9)]).areas(area);
    let title = format!(" Experiments · {} ", app.experiments.len());
    let block = frame(title, focused, t);
    let inner = block.inner(list_area);
    f.render_widget(block, list_area);
    let h = usize::from(inner.height);
    let w = usize::from(inner.width);
    if app.experiments.is_empty() {
        let hint = format!(
            "No experiments yet. Select a target and press {} for the form, {} to describe one, {} to open a file.",
            app.keymap.key(crate::tui::keymap::Action::NewExperiment),
            app.keymap.key(crate::tui::keymap::Action::Prompt),
            app.keymap.key(crate::tui::keymap::Action::OpenFile),
        );
        f.render_widget(
            Paragraph::new(hint)
                .style(t.muted())
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
    } else {
        let offset = app.exp_sel.saturating_sub(h.saturating_sub(1));
        let name_w = w.saturating_sub(52).clamp(8, 40);
        let lines: Vec<Line> = app
            .experiments
            .iter()
            .enumerate()
            .skip(offset)
            .take(h)
            .map(|(i, e)| {
                let sel = i == app.exp_sel;
                let live = app.live.contains(&e.id);
                let status = match (e.status, e.phase) {
                    (Status::Running, Some(p)) => p.to_string(),
                    (s, _) => s.to_string(),
                };
                let base = if sel { t.selected() } else { t.text() };
                Line::from(vec![
                    Span::styled(if sel { "▶" } else { " " }, base),
                    Span::styled(if live { "● " } else { "  " }, t.warning()),
                    Span::styled(format!("{:<name_w$} ", fit(&e.name, name_w)), base),
                    Span::styled(format!("{:<17} ", e.fault.as_str()), t.muted()),
                    Span::styled(
                        format!("{:<17} ", fit(&status, 17)),
                        status_style(t, e.status),
                    ),
                    Span::styled(stamp(e.started_at.unwrap_or(e.created_at)), t.muted()),
                    Span::styled(
                        format!(" {}", fit(&e.target, w.saturating_sub(name_w + 55))),
                        t.muted(),
                    ),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }
    timeline::render(app, f, tl_area, focused);
}
