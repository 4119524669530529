//! Where each pane goes, as a pure function of the terminal size: side by side on large
//! terminals, one pane at a time with a tab bar below about 110×30 (so 80×24 stays readable).

use super::app::Pane;
use ratatui::layout::{Constraint, Layout, Rect};

/// Width and height from which every pane is shown at once.
pub const WIDE: (u16, u16) = (110, 30);

/// The areas of one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Areas {
    /// Title and tabs line.
    pub header: Rect,
    /// The emergency/rollback banner line (zero height when there is none).
    pub banner: Rect,
    /// The status line.
    pub status: Rect,
    /// One pane at a time (tabs), or every pane.
    pub tabs: bool,
    /// Panes and their areas (in tabs mode, only the focused one).
    pub panes: Vec<(Pane, Rect)>,
    /// Everything between header and status (modals centre on it).
    pub body: Rect,
}

/// Whether the terminal is large enough to show every pane.
pub fn is_wide(size: (u16, u16)) -> bool {
    size.0 >= WIDE.0 && size.1 >= WIDE.1
}

/// The layout of a frame.
pub fn areas(area: Rect, focus: Pane, banner: bool) -> Areas {
    let [header, banner_r, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let tabs = !is_wide((area.width, area.height));
    let panes = if tabs {
        vec![(focus, body)]
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(38), Constraint::Percentage(62)])
                .areas(body);
        let [exps, mid, ai] = Layout::vertical([
            Constraint::Length(16),
            Constraint::Fill(3),
            Constraint::Fill(2),
        ])
        .areas(right);
        let [probes, journal] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(mid);
        vec![
            (Pane::Topology, left),
            (Pane::Experiments, exps),
            (Pane::Probes, probes),
            (Pane::Journal, journal),
            (Pane::Ai, ai),
        ]
    };
    Areas {
        header,
        banner: banner_r,
        status,
        tabs,
        panes,
        body,
    }
}

/// How many tree rows the topology pane shows at this size (for keeping the selection visible).
pub fn topology_rows(size: (u16, u16), focus: Pane) -> usize {
    let a = areas(Rect::new(0, 0, size.0, size.1), focus, false);
    let h = a
        .panes
        .iter()
        .find(|(p, _)| *p == Pane::Topology)
        .map_or(a.body.height, |(_, r)| r.height);
    usize::from(h.saturating_sub(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_terminals_get_tabs_and_large_ones_every_pane() {
        let small = areas(Rect::new(0, 0, 80, 24), Pane::Probes, false);
        assert!(small.tabs);
        assert_eq!(small.panes.len(), 1);
        assert_eq!(small.panes[0].0, Pane::Probes);
        assert_eq!(small.panes[0].1.height, 22);
        let large = areas(Rect::new(0, 0, 200, 50), Pane::Probes, true);
        assert!(!large.tabs);
        assert_eq!(large.panes.len(), 5);
        assert_eq!(large.banner.height, 1);
        for (_, r) in &large.panes {
            assert!(r.width >= 20 && r.height >= 5, "{r:?}");
        }
    }
}
