//! The analysis pane: the AI's (or the offline engine's) analysis of the selected experiment,
//! streamed as it arrives, always saying which engine wrote it; before any analysis, the
//! recorded verdict and probe summary.

use super::{frame, stamp};
use crate::tui::app::App;
use crate::tui::keymap::Action;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// Draws the pane.
pub fn render(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let Some(e) = app.selected_experiment() else {
        let b = frame(" Analysis ", focused, t);
        f.render_widget(Paragraph::new("").block(b), area);
        return;
    };
    let mut lines: Vec<Line> = Vec::new();
    let title;
    if let Some(text) = app.ai_stream.get(&e.id) {
        title = " Analysis · streaming… ".to_string();
        if text.is_empty() {
            lines.push(Line::from(Span::styled("asking the engine…", t.muted())));
        }
        lines.extend(
            text.lines()
                .map(|l| Line::from(Span::styled(l.to_string(), t.text()))),
        );
    } else if let Some(a) = app
        .detail
        .as_ref()
        .filter(|d| d.id == e.id)
        .and_then(|d| d.analyses.last())
    {
        title = format!(" Analysis · by {} · {} ", a.engine, stamp(a.at));
        lines.extend(a.text.lines().map(|l| {
            let style = if l.starts_with('#') {
                t.primary()
            } else {
                t.text()
            };
            Line::from(Span::styled(
                l.trim_start_matches('#').trim_start().to_string(),
                style,
            ))
        }));
    } else {
        title = " Analysis · recorded verdict ".to_string();
        if let Some(err) = app.ai_error.get(&e.id) {
            lines.push(Line::from(Span::styled(
                format!("analysis failed: {err}"),
                t.failure(),
            )));
        }
        if let Some(h) = &e.doc.spec.hypothesis {
            lines.push(Line::from(vec![
                Span::styled("hypothesis: ", t.muted()),
                Span::styled(h.clone(), t.text()),
            ]));
        }
        match &e.verdict {
            Some(v) => {
                lines.push(Line::from(Span::styled(
                    format!(
                        "{}{}",
                        v.kind,
                        v.score
                            .filter(|_| v.kind != crate::domain::VerdictKind::Inconclusive)
                            .map(|s| format!(" · resilience {s}/100"))
                            .unwrap_or_default()
                    ),
                    t.primary(),
                )));
                for r in &v.reasons {
                    lines.push(Line::from(Span::styled(format!("- {r}"), t.text())));
                }
                for p in &v.probes {
                    lines.push(Line::from(Span::styled(
                        format!(
                            "  {}: {}/{} passed{}",
                            p.name,
                            p.passed,
                            p.samples,
                            p.pass_rate
                                .map(|r| format!(" ({:.0}%)", r * 100.0))
                                .unwrap_or_default()
                        ),
                        t.muted(),
                    )));
                }
                lines.push(Line::from(Span::styled(
                    format!(
                        "{} for an analysis (offline engine when no API key is set)",
                        app.keymap.key(Action::Analyze)
                    ),
                    t.muted(),
                )));
            }
            None => lines.push(Line::from(Span::styled(
                format!("{} — the verdict comes when the run ends.", e.status),
                t.muted(),
            ))),
        }
    }
    let block = frame(title, focused, t);
    let scroll = app.scroll.get("ai").copied().unwrap_or(0);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
