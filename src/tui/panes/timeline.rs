//! The phase timeline of the selected experiment: the five phases with start times and
//! durations, the current one marked, abort and emergency markers, and the verdict.

use super::{dur, frame, hms};
use crate::domain::{Status, VerdictKind};
use crate::tui::app::{App, PHASES};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the timeline.
pub fn render(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let Some(e) = app.selected_experiment() else {
        let b = frame(" Timeline ", focused, t);
        f.render_widget(Paragraph::new("").block(b), area);
        return;
    };
    let block = frame(format!(" Timeline · {} (UTC) ", e.name), focused, t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let events = app
        .detail
        .as_ref()
        .filter(|d| d.id == e.id)
        .map(|d| d.events.as_slice())
        .unwrap_or(&[]);
    let start_of = |p| events.iter().find(|ev| ev.phase == Some(p)).map(|ev| ev.at);
    let running = e.status == Status::Running;
    let mut lines = Vec::new();
    for (i, p) in PHASES.iter().enumerate() {
        let start = start_of(*p);
        let next = PHASES[i + 1..].iter().find_map(|q| start_of(*q));
        let current = running && e.phase == Some(*p);
        let colour = t.phase(*p);
        let (mark, end) = match (start, next) {
            (None, _) => ("·", None),
            (Some(_), Some(n)) => ("✓", Some(n)),
            (Some(_), None) if current => ("▶", Some(app.now_ms.max(start.unwrap_or(0)))),
            (Some(_), None) => ("✓", e.finished_at),
        };
        let mut name_style = ratatui::style::Style::default().fg(colour);
        if t.mono {
            name_style = ratatui::style::Style::default();
        }
        if current {
            name_style = name_style.add_modifier(Modifier::BOLD | Modifier::REVERSED);
        } else if start.is_none() {
            name_style = t.muted();
        }
        let mut spans = vec![
            Span::styled(
                format!(" {mark} "),
                if current { t.warning() } else { t.muted() },
            ),
            Span::styled(format!("{:<12}", p.as_str()), name_style),
        ];
        if let Some(s) = start {
            spans.push(Span::styled(format!(" {}", hms(s)), t.text()));
            if let Some(end) = end {
                spans.push(Span::styled(format!("  {:>8}", dur(end - s)), t.muted()));
            }
        } else {
            spans.push(Span::styled("  —", t.muted()));
        }
        lines.push(Line::from(spans));
    }
    match e.status {
        Status::EmergencyStopped => lines.push(Line::from(Span::styled(
            format!(
                " ■ EMERGENCY STOP: {}",
                e.abort_reason.as_deref().unwrap_or("")
            ),
            t.failure(),
        ))),
        Status::Aborted => lines.push(Line::from(Span::styled(
            format!(" ⚠ aborted: {}", e.abort_reason.as_deref().unwrap_or("")),
            t.warning(),
        ))),
        Status::Failed => lines.push(Line::from(Span::styled(
            format!(" ✗ failed: {}", e.error.as_deref().unwrap_or("")),
            t.failure(),
        ))),
        Status::RolledBack => lines.push(Line::from(Span::styled(
            " ↺ its process died; recovery rolled it back",
            t.warning(),
        ))),
        _ => {}
    }
    if let Some(v) = &e.verdict {
        let style = match v.kind {
            VerdictKind::Held => t.success(),
            VerdictKind::Violated => t.failure(),
            _ => t.warning(),
        };
        // A score next to a hypothesis that could not be judged would read as a result.
        let score = v
            .score
            .filter(|_| v.kind != VerdictKind::Inconclusive)
            .map(|s| format!(" · resilience {s}/100"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(" verdict: ", t.muted()),
            Span::styled(format!("hypothesis {}{score}", v.kind), style),
        ]));
    } else if running {
        lines.push(Line::from(Span::styled(
            format!(
                " running · {} rolls this one back · {} stops everything",
                app.keymap.key(crate::tui::keymap::Action::Rollback),
                crate::tui::keymap::EMERGENCY
            ),
            t.muted(),
        )));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
