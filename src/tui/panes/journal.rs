//! The selected experiment's journal: every mutation and its undo, with its state, so an
//! operator sees exactly what is (or is not yet) undone.

use super::{fit, frame};
use crate::safety::journal::JournalState;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the pane.
pub fn render(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let entries = app
        .selected_experiment()
        .and_then(|e| app.detail.as_ref().filter(|d| d.id == e.id))
        .map(|d| d.journal.as_slice())
        .unwrap_or(&[]);
    let open = entries.iter().filter(|e| e.state.is_open()).count();
    let reverted = entries
        .iter()
        .filter(|e| e.state == JournalState::Reverted)
        .count();
    let failed = entries
        .iter()
        .filter(|e| e.state == JournalState::Failed)
        .count();
    let title = format!(" Journal · {open} open · {reverted} reverted · {failed} failed ");
    let block = frame(title, focused, t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if entries.is_empty() {
        f.render_widget(
            Paragraph::new("Nothing journaled: nothing was changed.").style(t.muted()),
            inner,
        );
        return;
    }
    let w = usize::from(inner.width);
    let mut lines = Vec::new();
    for e in entries {
        let style = match e.state {
            JournalState::Intent | JournalState::Applied => t.warning(),
            JournalState::Reverted => t.success(),
            JournalState::Failed => t.failure(),
        };
        let state = format!("{:?}", e.state).to_lowercase();
        lines.push(Line::from(vec![
            Span::styled(format!("#{:<3}", e.seq), t.muted()),
            Span::styled(format!("{state:<9}"), style),
            Span::styled(fit(&e.summary, w.saturating_sub(13)), t.text()),
        ]));
        let mut undo = format!("     undo: {}", e.undo.summary());
        if e.attempts > 1 {
            undo.push_str(&format!(" ({} attempts)", e.attempts));
        }
        if let Some(n) = &e.note {
            undo.push_str(&format!(" · {n}"));
        }
        lines.push(Line::from(Span::styled(fit(&undo, w), t.muted())));
        if let Some(err) = &e.error {
            lines.push(Line::from(Span::styled(
                fit(&format!("     error: {err}"), w),
                t.failure(),
            )));
        }
    }
    let scroll = app.scroll.get("journal").copied().unwrap_or(0);
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}
