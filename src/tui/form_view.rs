//! Draws the experiment form.

use super::app::App;
use super::dialogs::centered;
use super::form::FormState;
use super::panes::frame;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

/// Draws the form over `body`.
pub fn render(app: &App, form: &FormState, f: &mut Frame, body: Rect) {
    let t = &app.theme;
    let errs = form.fields.iter().filter(|f| f.error.is_some()).count();
    let h = (form.fields.len() + errs + form.errors.len() + 2) as u16;
    let area = centered(body, 84, h);
    f.render_widget(Clear, area);
    let b = frame(
        " New experiment · ↑↓ field · ←→ choice · Enter dry run · F2 YAML · Esc ",
        true,
        t,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mut lines = Vec::new();
    for (i, fl) in form.fields.iter().enumerate() {
        let sel = i == form.sel;
        let value = if fl.choices.is_empty() {
            format!("{}{}", fl.value, if sel { "▏" } else { "" })
        } else {
            format!("◀ {} ▶", fl.value)
        };
        lines.push(Line::from(vec![
            Span::styled(if sel { "▶ " } else { "  " }, t.primary()),
            Span::styled(
                format!("{:<20}", fl.label),
                if sel { t.selected() } else { t.muted() },
            ),
            Span::styled(value, if sel { t.selected() } else { t.text() }),
        ]));
        if let Some(e) = &fl.error {
            lines.push(Line::from(Span::styled(format!("    {e}"), t.failure())));
        }
    }
    for e in &form.errors {
        lines.push(Line::from(Span::styled(e.clone(), t.failure())));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
