//! The store file is never lost: a second process gets a clear error, damaged and future files are
//! left untouched.

mod common;
use chaosduck::store::{Store, StoreError};
use common::{Home, WEB, code, text, wait_until};
use std::time::Duration;

#[test]
fn a_second_process_gets_a_clear_error_and_the_file_is_intact() {
    let h = Home::new();
    h.write_world(1);
    let f = h.experiment(
        "long",
        &format!("{WEB}  duration: 20s\n  safety: {{blastRadius: 1}}\n"),
    );
    let mut first = h
        .cmd()
        .args(["run", f.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || h.markers().len() == 1),
        "first run never injected"
    );
    let o = h.run(&["list"]);
    assert_eq!(code(&o), 6, "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(&h.db().display().to_string())
            && t.contains("held by another chaosduck process"),
        "{t}"
    );
    assert!(t.contains("pid"), "the holder is named: {t}");
    // Stop the first through the control socket; then the file opens with the record in it.
    let o = h.run(&["stop"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let st = first.wait().unwrap();
    assert_eq!(st.code(), Some(3));
    let s = Store::open(&h.db()).unwrap();
    let recs = s.experiments().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].status.as_str(), "emergency_stopped");
}

#[test]
fn a_damaged_file_is_reported_and_left_byte_for_byte() {
    let h = Home::new();
    std::fs::create_dir_all(h.db().parent().unwrap()).unwrap();
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(h.db(), &garbage).unwrap();
    let o = h.run(&["list"]);
    assert_eq!(code(&o), 6, "{}", text(&o));
    assert!(text(&o).contains("left untouched"), "{}", text(&o));
    assert_eq!(std::fs::read(h.db()).unwrap(), garbage);
}

#[test]
fn a_future_schema_version_is_refused_untouched() {
    let h = Home::new();
    {
        let s = Store::open(&h.db()).unwrap();
        drop(s);
        let db = redb::Database::create(h.db()).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w
                .open_table(redb::TableDefinition::<&str, &[u8]>::new("meta"))
                .unwrap();
            t.insert("schema_version", 99u32.to_le_bytes().as_slice())
                .unwrap();
        }
        w.commit().unwrap();
    }
    let before = std::fs::read(h.db()).unwrap();
    match Store::open(&h.db()) {
        Err(StoreError::FutureVersion { found: 99, .. }) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a future file must not open"),
    }
    let o = h.run(&["list"]);
    assert_eq!(code(&o), 6);
    assert!(text(&o).contains("newer than this build"), "{}", text(&o));
    assert_eq!(std::fs::read(h.db()).unwrap(), before);
}

#[test]
fn samples_are_bounded_per_experiment() {
    let h = Home::new();
    let s = Store::open(&h.db()).unwrap();
    let sample = |i: i64| chaosduck::store::records::ProbeSample {
        probe: "p".into(),
        kind: "cmd".into(),
        mode: chaosduck::domain::ProbeMode::Continuous,
        phase: chaosduck::domain::Phase::Observe,
        at: i,
        passed: true,
        value: Some(i as f64),
        error: None,
        skipped: false,
    };
    let n = chaosduck::store::MAX_SAMPLES_PER_EXPERIMENT as i64;
    let batch: Vec<_> = (0..n + 50).map(sample).collect();
    s.append_samples("x", &batch).unwrap();
    let got = s.samples("x").unwrap();
    assert_eq!(got.len() as i64, n);
    assert_eq!(got[0].at, 50, "the oldest are dropped first");
}
