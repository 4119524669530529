//! One sparkline per probe: latest value, threshold, pass/fail colouring, and the fault window
//! (INJECT and OBSERVE) marked under the samples it covers.

use super::{fit, frame};
use crate::domain::{Phase, ProbeSpec};
use crate::store::records::ProbeSample;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// What a probe must see to pass, in a few words.
pub fn threshold(p: &ProbeSpec) -> String {
    if let Some(k) = &p.k8s {
        if let Some(n) = k.min_ready {
            return format!("≥{n} ready");
        }
        if let Some(ph) = &k.phase {
            return format!("phase {ph}");
        }
        return "all ready".into();
    }
    if let Some(h) = &p.http {
        let mut s = match &h.expect_status {
            Some(st) => format!(
                "status {}",
                serde_json::to_string(st)
                    .unwrap_or_default()
                    .trim_matches('"')
            ),
            None => "2xx".into(),
        };
        if let Some(l) = &h.max_latency {
            s.push_str(&format!(", ≤{l}"));
        }
        return s;
    }
    if p.tcp.is_some() {
        return "connects".into();
    }
    if let Some(c) = &p.cmd {
        return format!("exit {}", c.expect_exit_code.unwrap_or(0));
    }
    if let Some(q) = &p.prometheus {
        return format!("{} {}", q.comparator, q.threshold);
    }
    if let Some(a) = &p.aws {
        return a
            .state
            .clone()
            .or_else(|| a.writer.clone())
            .unwrap_or_else(|| "healthy".into());
    }
    String::new()
}

/// The sparkline of some samples: one cell per sample, scaled between their min and max.
pub fn bars(samples: &[&ProbeSample]) -> Vec<(char, bool, bool)> {
    let vals: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.value)
        .filter(|v| v.is_finite())
        .collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    samples
        .iter()
        .map(|s| {
            let c = match s.value.filter(|v| v.is_finite()) {
                None => BARS[0],
                Some(_) if hi <= lo => BARS[4],
                Some(v) => {
                    let i = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                    BARS[i.min(7)]
                }
            };
            let window = matches!(s.phase, Phase::Inject | Phase::Observe);
            (c, s.passed && !s.skipped, window)
        })
        .collect()
}

/// Draws the pane.
pub fn render(app: &App, f: &mut Frame, area: Rect, focused: bool) {
    let t = &app.theme;
    let block = frame(" Probes ", focused, t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(e) = app.selected_experiment() else {
        f.render_widget(
            Paragraph::new("Select an experiment to see its probes.").style(t.muted()),
            inner,
        );
        return;
    };
    let samples = app
        .detail
        .as_ref()
        .filter(|d| d.id == e.id)
        .map(|d| d.samples.as_slice())
        .unwrap_or(&[]);
    if e.doc.spec.probes.is_empty() {
        f.render_widget(
            Paragraph::new("This experiment has no probes: its hypothesis cannot be judged.")
                .style(t.muted()),
            inner,
        );
        return;
    }
    let w = usize::from(inner.width);
    let mut lines = Vec::new();
    for spec in &e.doc.spec.probes {
        let mine: Vec<&ProbeSample> = samples.iter().filter(|s| s.probe == spec.name).collect();
        let passed = mine.iter().filter(|s| s.passed && !s.skipped).count();
        let latest = mine.last();
        let (mark, style) = match latest {
            None => ("…", t.muted()),
            Some(s) if s.skipped => ("–", t.muted()),
            Some(s) if s.passed => ("✓", t.success()),
            Some(_) => ("✗", t.failure()),
        };
        let value = latest
            .and_then(|s| s.value)
            .map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} "), style),
            Span::styled(fit(&spec.name, 24), t.primary()),
            Span::styled(format!(" {} ", spec.mode), t.muted()),
            Span::styled(format!("now {value}"), style),
            Span::styled(format!("  want {}", threshold(spec)), t.muted()),
            Span::styled(format!("  {passed}/{} ok", mine.len()), t.muted()),
        ]));
        let tail = &mine[mine.len().saturating_sub(w.saturating_sub(1))..];
        let b = bars(tail);
        let spark: Vec<Span> = b
            .iter()
            .map(|(c, ok, _)| {
                Span::styled(
                    c.to_string(),
                    if *ok {
                        ratatui::style::Style::default().fg(t.probe_pass)
                    } else {
                        ratatui::style::Style::default().fg(t.probe_fail)
                    },
                )
            })
            .collect();
        let window: String = b
            .iter()
            .map(|(_, _, w)| if *w { '▔' } else { ' ' })
            .collect();
        lines.push(Line::from(spark));
        if b.iter().any(|(_, _, w)| *w) {
            lines.push(Line::from(Span::styled(
                window,
                ratatui::style::Style::default().fg(t.fault_window),
            )));
        } else {
            lines.push(Line::from(""));
        }
    }
    let scroll = app.scroll.get("probes").copied().unwrap_or(0);
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}
