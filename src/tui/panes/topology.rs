//! The topology tree: only the rows on screen are drawn, so 10,000 pods scroll like ten.

use super::{fit, frame};
use crate::tui::app::{App, Source};
use crate::tui::tree::{Health, RowKind};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the pane.
pub fn render(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let which = match app.source {
        Source::K8s => "Kubernetes",
        Source::Aws => "AWS",
    };
    let mut title = format!(" Topology · {which} ");
    if let Some(ns) = &app.namespace {
        title.push_str(&format!("· ns {ns} "));
    }
    if !app.filter.is_empty() {
        title.push_str(&format!("· /{} ", app.filter));
    }
    if !app.rows.is_empty() {
        title.push_str(&format!("· {}/{} ", app.topo_sel + 1, app.rows.len()));
    }
    let block = frame(title, focused, t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let h = usize::from(inner.height);
    let w = usize::from(inner.width);
    if app.rows.is_empty() {
        let msg = match (app.source, &app.k8s, &app.aws) {
            (Source::K8s, None, _) => "Waiting for the cluster's first listing…",
            (Source::Aws, _, None) => {
                "Waiting for the AWS account's first description… (t: Kubernetes)"
            }
            _ if !app.filter.is_empty() => "Nothing matches the filter (Esc in / clears it).",
            _ => "Nothing here.",
        };
        f.render_widget(Paragraph::new(msg).style(t.muted()), inner);
        return;
    }
    let lines: Vec<Line> = app
        .rows
        .iter()
        .enumerate()
        .skip(app.topo_offset)
        .take(h)
        .map(|(i, r)| {
            let selected = i == app.topo_sel;
            let marker = if selected { "▶" } else { " " };
            let fold = if r.expandable {
                if r.expanded { "▾ " } else { "▸ " }
            } else {
                "  "
            };
            let indent = "  ".repeat(usize::from(r.depth));
            let health = match r.health {
                Health::Good => t.success(),
                Health::Warn => t.warning(),
                Health::Bad => t.failure(),
                Health::Neutral => t.text(),
            };
            let name_style = match r.kind {
                RowKind::Root | RowKind::Namespace | RowKind::Group | RowKind::Vpc => {
                    t.primary().add_modifier(Modifier::BOLD)
                }
                _ => t.text(),
            };
            let fault = if r.fault { "✱" } else { "" };
            let head = format!("{marker}{indent}{fold}");
            let used = head.chars().count() + r.label.chars().count() + fault.chars().count() + 1;
            let mut spans = vec![
                Span::styled(head, if selected { t.selected() } else { t.muted() }),
                Span::styled(
                    fit(&r.label, w.saturating_sub(head_len(r.depth) + 2)),
                    if selected { t.selected() } else { name_style },
                ),
            ];
            if r.fault {
                spans.push(Span::styled(fault, t.failure()));
            }
            if used < w && !r.detail.is_empty() {
                spans.push(Span::raw(" "));
                spans.push(Span::styled(fit(&r.detail, w - used), health));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn head_len(depth: u16) -> usize {
    3 + 2 * usize::from(depth)
}
