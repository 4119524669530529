//! Rendering: a pure function of the state.

use super::app::{App, Pane};
use super::layout;
use super::panes::{ai, experiments, journal, probes, status, topology};
use ratatui::Frame;

/// Draws the whole frame.
pub fn render(app: &App, f: &mut Frame) {
    let a = layout::areas(f.area(), app.focus, status::has_banner(app));
    status::header(app, f, a.header, a.tabs);
    status::banner(app, f, a.banner);
    for (pane, area) in &a.panes {
        let focused = *pane == app.focus;
        match pane {
            Pane::Topology => topology::render(app, f, *area, focused),
            Pane::Experiments => experiments::render(app, f, *area, focused),
            Pane::Probes => probes::render(app, f, *area, focused),
            Pane::Journal => journal::render(app, f, *area, focused),
            Pane::Ai => ai::render(app, f, *area, focused),
        }
    }
    status::status_bar(app, f, a.status);
    super::dialogs::render(app, f, a.body);
}
