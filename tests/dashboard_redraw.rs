//! A change must reach the screen even when another message arrives before the next frame: the
//! UI loop draws at most every 66 ms and applies queued messages first, so a message that
//! changes nothing must not clear what an earlier one marked for drawing.

use chaosduck::tui::app::{App, Modal};
use chaosduck::tui::keymap::Keymap;
use chaosduck::tui::msg::Msg;
use chaosduck::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[test]
fn a_clock_tick_after_a_key_keeps_the_key_s_change_marked_for_drawing() {
    let mut app = App::new(
        Theme::default(),
        Keymap::default(),
        false,
        "ctx".into(),
        "AWS not configured".into(),
    );
    app.dirty = false;
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    assert!(matches!(app.modal, Some(Modal::Help)));
    assert!(app.dirty, "opening the help is a change to draw");
    // Idle: nothing runs, so the tick itself changes nothing on screen.
    app.update(Msg::Tick);
    assert!(
        app.dirty,
        "the tick cleared the flag: the help would stay undrawn until the next message"
    );
}
