//! The modals: help, command line, filter, prompt box, editor, form, file picker, dry-run
//! preview, confirmation and quit.

use super::app::{App, Modal};
use super::keymap::EMERGENCY;
use super::panes::{fit, frame};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn shell<'a>(f: &mut Frame, area: Rect, title: impl Into<Line<'a>>, app: &App) -> Rect {
    f.render_widget(Clear, area);
    let b = frame(title, true, &app.theme);
    let inner = b.inner(area);
    f.render_widget(b, area);
    inner
}

/// Draws the modal, if any, over `body`.
pub fn render(app: &App, f: &mut Frame, body: Rect) {
    let t = &app.theme;
    let Some(m) = &app.modal else { return };
    let stop_hint = Line::from(Span::styled(
        format!("{EMERGENCY} emergency stop works here too"),
        t.muted(),
    ));
    match m {
        Modal::Help => {
            let area = centered(body, 90, body.height);
            let inner = shell(
                f,
                area,
                " Keys (set in [keys] of config.toml by action name) ",
                app,
            );
            let lines: Vec<Line> = app
                .keymap
                .help()
                .into_iter()
                .enumerate()
                .map(|(i, (k, name, what))| {
                    Line::from(vec![
                        Span::styled(
                            format!("{k:<14}"),
                            if i == 0 { t.failure() } else { t.primary() },
                        ),
                        Span::styled(format!("{name:<18}"), t.muted()),
                        Span::styled(what, t.text()),
                    ])
                })
                .collect();
            f.render_widget(Paragraph::new(lines), inner);
        }
        Modal::Command(input) | Modal::Filter(input) => {
            let prefix = if matches!(m, Modal::Command(_)) {
                ":"
            } else {
                "/"
            };
            let area = Rect::new(
                body.x,
                body.y + body.height.saturating_sub(3),
                body.width,
                3.min(body.height),
            );
            let inner = shell(f, area, format!(" {prefix} "), app);
            f.render_widget(input, inner);
        }
        Modal::Prompt {
            input,
            busy,
            message,
        } => {
            let area = centered(body, 90, 12);
            let inner = shell(
                f,
                area,
                " Describe the experiment (Enter: make it · Esc: close) ",
                app,
            );
            let [text, msg, hint] = Layout::vertical([
                Constraint::Length(3),
                Constraint::Fill(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            f.render_widget(input, text);
            let m = if *busy {
                Paragraph::new(
                    "thinking… the result is shown as an editable experiment, then a dry run",
                )
                .style(t.muted())
            } else if let Some(m) = message {
                Paragraph::new(m.as_str())
                    .style(t.warning())
                    .wrap(Wrap { trim: true })
            } else {
                Paragraph::new("English or Korean: counts, percentages, durations, latency, loss, namespaces, selectors, instance ids…").style(t.muted()).wrap(Wrap { trim: true })
            };
            f.render_widget(m, msg);
            f.render_widget(Paragraph::new(stop_hint), hint);
        }
        Modal::Editor {
            text,
            source,
            errors,
            note,
        } => {
            let area = centered(body, 100, body.height);
            let title = format!(
                " {} · F5/Ctrl-T dry run · Esc close ",
                source.as_deref().unwrap_or("experiment")
            );
            let inner = shell(f, area, title, app);
            let note_h = note.as_ref().map_or(0, |n| {
                (n.chars().count() as u16 / inner.width.max(1) + 1).min(4)
            });
            let err_h = (errors.len() as u16).min(6);
            let [n, e, body_r] = Layout::vertical([
                Constraint::Length(note_h),
                Constraint::Length(err_h),
                Constraint::Fill(1),
            ])
            .areas(inner);
            if let Some(note) = note {
                f.render_widget(
                    Paragraph::new(note.as_str())
                        .style(t.primary())
                        .wrap(Wrap { trim: true }),
                    n,
                );
            }
            let el: Vec<Line> = errors
                .iter()
                .map(|x| Line::from(Span::styled(x.clone(), t.failure())))
                .collect();
            f.render_widget(Paragraph::new(el), e);
            f.render_widget(text, body_r);
        }
        Modal::Form(form) => super::form_view::render(app, form, f, body),
        Modal::Picker { files, sel } => {
            let area = centered(body, 70, 20);
            let inner = shell(f, area, " Open an experiment (Enter · Esc) ", app);
            let lines: Vec<Line> = match files {
                None => vec![Line::from(Span::styled("listing experiments/…", t.muted()))],
                Some(v) if v.is_empty() => vec![Line::from(Span::styled(
                    "No *.yaml in ./experiments or the config folder's experiments/; use :run FILE",
                    t.muted(),
                ))],
                Some(v) => {
                    let h = usize::from(inner.height);
                    let off = sel.saturating_sub(h.saturating_sub(1));
                    v.iter()
                        .enumerate()
                        .skip(off)
                        .take(h)
                        .map(|(i, p)| {
                            let s = i == *sel;
                            Line::from(Span::styled(
                                format!("{}{}", if s { "▶ " } else { "  " }, p.display()),
                                if s { t.selected() } else { t.text() },
                            ))
                        })
                        .collect()
                }
            };
            f.render_widget(Paragraph::new(lines), inner);
        }
        Modal::Suggestions { list, sel } => {
            let area = centered(body, 110, body.height.saturating_sub(2));
            let title = match list {
                Some(l) => format!(" Suggestions · by {} · Enter edit · Esc ", l.engine),
                None => " Suggestions ".to_string(),
            };
            let inner = shell(f, area, title, app);
            let mut lines = Vec::new();
            match list {
                None => lines.push(Line::from(Span::styled("asking the engine…", t.muted()))),
                Some(l) => {
                    if !l.trends.is_empty() {
                        lines.push(Line::from(Span::styled(
                            "resilience trend (documented score):",
                            t.primary(),
                        )));
                        for tr in &l.trends {
                            lines.push(Line::from(Span::styled(format!("  {tr}"), t.text())));
                        }
                    }
                    if l.items.is_empty() {
                        lines.push(Line::from(Span::styled(
                            "nothing to suggest here: every fault kind was tried",
                            t.muted(),
                        )));
                    }
                    for (i, (why, yaml)) in l.items.iter().enumerate() {
                        let s = i == *sel;
                        let name = yaml
                            .lines()
                            .find_map(|x| x.trim().strip_prefix("name: "))
                            .unwrap_or("experiment");
                        lines.push(Line::from(vec![
                            Span::styled(if s { "▶ " } else { "  " }, t.primary()),
                            Span::styled(
                                name.to_string(),
                                if s { t.selected() } else { t.primary() },
                            ),
                        ]));
                        lines.push(Line::from(Span::styled(format!("    {why}"), t.muted())));
                    }
                }
            }
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
        Modal::Planning(what) => {
            let area = centered(body, 60, 3);
            let inner = shell(f, area, " Working ", app);
            f.render_widget(
                Paragraph::new(format!("{what}… (Esc to close)")).style(t.muted()),
                inner,
            );
        }
        Modal::Preview { ready, scroll } => {
            let area = centered(body, 110, body.height);
            let title = format!(
                " Dry run · {} · nothing has been changed ",
                ready.doc.metadata.name
            );
            let inner = shell(f, area, title, app);
            let p = &ready.preview;
            let mut lines = vec![
                Line::from(vec![
                    Span::styled("fault   ", t.muted()),
                    Span::styled(ready.doc.fault_kind().as_str(), t.primary()),
                    Span::styled(format!("  for {}", ready.doc.spec.duration), t.text()),
                    Span::styled(format!("  engine {}", p.plan.engine), t.muted()),
                ]),
                Line::from(vec![
                    Span::styled("context ", t.muted()),
                    Span::styled(app.context.clone(), t.text()),
                    Span::styled(
                        format!(
                            "  targets {} of {} eligible ({} matched)",
                            p.plan.targets.len(),
                            p.plan.eligible,
                            p.plan.matched
                        ),
                        t.text(),
                    ),
                ]),
                Line::from(Span::styled("targets:", t.primary())),
            ];
            for tg in &p.plan.targets {
                lines.push(Line::from(Span::styled(format!("  • {tg}"), t.text())));
            }
            lines.push(Line::from(Span::styled(
                "steps and their undo (rollback runs last-first):",
                t.primary(),
            )));
            for (i, s) in p.plan.steps.iter().enumerate() {
                lines.push(Line::from(Span::styled(
                    format!("  {}. {}", i + 1, s.summary),
                    t.text(),
                )));
                lines.push(Line::from(Span::styled(
                    format!("     undo: {}", s.undo.summary()),
                    t.muted(),
                )));
            }
            for n in &p.plan.notes {
                lines.push(Line::from(Span::styled(
                    format!("  note: {n}"),
                    t.warning(),
                )));
            }
            if let Some(h) = &ready.doc.spec.hypothesis {
                lines.push(Line::from(vec![
                    Span::styled("hypothesis: ", t.primary()),
                    Span::styled(h.clone(), t.text()),
                ]));
            }
            for n in &ready.notes {
                lines.push(Line::from(Span::styled(format!("  note: {n}"), t.muted())));
            }
            if let Some(r) = &ready.review {
                lines.push(Line::from(vec![
                    Span::styled("steady-state review [offline]: ", t.primary()),
                    Span::styled(
                        r.summary.clone(),
                        if r.proceed { t.text() } else { t.failure() },
                    ),
                ]));
                for fnd in &r.findings {
                    let style = match fnd.severity {
                        crate::ai::review::FindingSeverity::Critical => t.failure(),
                        crate::ai::review::FindingSeverity::Warning => t.warning(),
                        crate::ai::review::FindingSeverity::Info => t.muted(),
                    };
                    lines.push(Line::from(vec![
                        Span::styled(format!("  {:<8} ", fnd.severity), style),
                        Span::styled(format!("{}: {}", fnd.subject, fnd.message), t.text()),
                    ]));
                }
            }
            lines.push(Line::from(Span::styled("guardrails:", t.primary())));
            for g in &p.guardrails {
                lines.push(Line::from(vec![
                    Span::styled(
                        if g.passed { "  ✓ " } else { "  ✗ " },
                        if g.passed { t.success() } else { t.failure() },
                    ),
                    Span::styled(format!("{:<20}", g.rule), t.text()),
                    Span::styled(
                        g.message.clone(),
                        if g.passed { t.muted() } else { t.failure() },
                    ),
                ]));
            }
            let refused: Vec<_> = p.guardrails.iter().filter(|g| !g.passed).collect();
            let action = if app.read_only {
                Line::from(Span::styled(
                    "read-only mode: this can be previewed, not run · e edit · Esc close",
                    t.warning(),
                ))
            } else if refused.iter().any(|g| g.rule != "protected-namespace") {
                Line::from(Span::styled(
                    "REFUSED by a guardrail: nothing will run · e edit · Esc close",
                    t.failure(),
                ))
            } else {
                Line::from(Span::styled(
                    "Enter/y: continue to confirmation · e: edit · Esc/n: cancel",
                    t.primary(),
                ))
            };
            let [body_r, foot] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll, 0)),
                body_r,
            );
            f.render_widget(Paragraph::new(action), foot);
        }
        Modal::Confirm {
            ready,
            needs_ns,
            input,
            error,
        } => {
            let area = centered(body, 80, 9);
            let inner = shell(f, area, " Confirm the run ", app);
            let n = ready.preview.plan.targets.len();
            let limit = ready.doc.spec.safety.blast_radius.map_or_else(
                || "the default blast radius".to_string(),
                |b| format!("blast radius {b}"),
            );
            let mut lines = vec![
                Line::from(vec![
                    Span::styled("Run ", t.text()),
                    Span::styled(ready.doc.fault_kind().as_str(), t.primary()),
                    Span::styled(format!(" on context {} — ", app.context), t.text()),
                    Span::styled(format!("{n} target(s), {limit}"), t.warning()),
                ]),
                Line::from(Span::styled(
                    format!(
                        "for {}; every change is journaled and rolled back.",
                        ready.doc.spec.duration
                    ),
                    t.muted(),
                )),
            ];
            let [top, field, foot] = Layout::vertical([
                Constraint::Length(3),
                Constraint::Length(1),
                Constraint::Fill(1),
            ])
            .areas(inner);
            match needs_ns {
                Some(ns) => {
                    lines.push(Line::from(Span::styled(
                        format!("Namespace {ns} is protected: type its name and press Enter."),
                        t.warning(),
                    )));
                    f.render_widget(Paragraph::new(lines), top);
                    f.render_widget(input, field);
                }
                None => {
                    lines.push(Line::from(Span::styled(
                        "y: run now · n/Esc: cancel",
                        t.primary(),
                    )));
                    f.render_widget(Paragraph::new(lines), top);
                }
            }
            if let Some(e) = error {
                f.render_widget(Paragraph::new(e.as_str()).style(t.failure()), foot);
            }
        }
        Modal::QuitConfirm => {
            let area = centered(body, 70, 5);
            let inner = shell(f, area, " Quit ", app);
            f.render_widget(
                Paragraph::new(vec![
                    Line::from(Span::styled(
                        fit(
                            &format!(
                                "{} fault(s) are active; quitting rolls every one back first.",
                                app.open_faults.max(app.live.len())
                            ),
                            66,
                        ),
                        t.warning(),
                    )),
                    Line::from(Span::styled(
                        "y: roll back and quit · any other key: stay",
                        t.primary(),
                    )),
                ]),
                inner,
            );
        }
    }
}
