//! Watch streams: newline-delimited JSON events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR), resumed
//! from a resourceVersion out of the store's event log, with selector transitions turned into
//! ADDED/DELETED as a real API server does.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::resources::{Kind, Obj};
use super::selectors::{FieldQuery, LabelQuery};
use super::store::{EventType, Store, StoreEvent};

/// What a watch selects and how it behaves.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// The kind watched.
    pub kind: Kind,
    /// Namespace, or all.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelQuery,
    /// Field selector.
    pub fields: FieldQuery,
    /// Start after this resourceVersion; `None` (or 0) sends the current state first.
    pub resource_version: Option<u64>,
    /// Send BOOKMARK events.
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: current state, then a bookmark marking its end.
    pub send_initial_events: bool,
    /// End the stream after this long.
    pub timeout: Duration,
    /// Interval between bookmarks.
    pub bookmark_interval: Duration,
}

impl WatchRequest {
    fn selects(&self, o: &Obj) -> bool {
        if let Some(ns) = &self.namespace
            && o.namespace() != ns
        {
            return false;
        }
        self.labels.matches(o.meta().labels.as_ref()) && self.fields.matches(o)
    }

    /// Translates a store event into the event this watcher sees, if any.
    fn translate(&self, ev: &StoreEvent) -> Option<(&'static str, Arc<Obj>)> {
        if ev.obj.kind() != self.kind {
            return None;
        }
        let new = self.selects(&ev.obj);
        let old = ev.old.as_ref().is_some_and(|o| self.selects(o));
        match ev.etype {
            EventType::Added => new.then(|| ("ADDED", ev.obj.clone())),
            EventType::Deleted => (old || new).then(|| ("DELETED", ev.obj.clone())),
            EventType::Modified => match (old, new) {
                (true, true) => Some(("MODIFIED", ev.obj.clone())),
                (false, true) => Some(("ADDED", ev.obj.clone())),
                (true, false) => Some(("DELETED", ev.obj.clone())),
                (false, false) => None,
            },
        }
    }
}

fn line(etype: &str, object: Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": etype, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn bookmark(kind: Kind, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        json!({"kind": kind.info().kind, "apiVersion": kind.api_version(), "metadata": meta}),
    )
}

/// Starts a watch and returns the streaming body.
pub fn start(store: Arc<Store>, req: WatchRequest, shutdown: CancellationToken) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    // Under the read lock: take the initial state or backlog and subscribe, so no event is lost
    // or duplicated between the two.
    let (initial, mut live, mut last_rv, initial_end) = {
        let st = store.read();
        let live = st.subscribe();
        let from = req
            .resource_version
            .filter(|rv| *rv > 0 && !req.send_initial_events);
        match from {
            Some(rv) => match st.events_since(req.kind, rv) {
                Ok(evs) => {
                    let lines: Vec<Bytes> = evs
                        .iter()
                        .filter_map(|e| req.translate(e).map(|(t, o)| line(t, o.to_value())))
                        .collect();
                    (Ok(lines), live, st.rv(), false)
                }
                Err(e) => (Err(e), live, st.rv(), false),
            },
            None => {
                let lines: Vec<Bytes> = st
                    .iter(req.kind, req.namespace.as_deref())
                    .filter(|o| req.selects(o))
                    .map(|o| line("ADDED", o.to_value()))
                    .collect();
                (Ok(lines), live, st.rv(), req.send_initial_events)
            }
        }
    };
    tokio::spawn(async move {
        let lines = match initial {
            Ok(l) => l,
            Err(e) => {
                let _ = tx.send(line("ERROR", e.to_status())).await;
                return;
            }
        };
        for l in lines {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        if initial_end && tx.send(bookmark(req.kind, last_rv, true)).await.is_err() {
            return;
        }
        let deadline = tokio::time::sleep(req.timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(req.bookmark_interval.max(Duration::from_millis(10)));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.cancelled() => return,
                _ = tick.tick(), if req.bookmarks => {
                    if tx.send(bookmark(req.kind, last_rv, false)).await.is_err() {
                        return;
                    }
                }
                ev = live.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= last_rv {
                            continue;
                        }
                        last_rv = ev.rv;
                        if let Some((t, o)) = req.translate(&ev)
                            && tx.send(line(t, o.to_value())).await.is_err()
                        {
                            return;
                        }
                    }
                    // A watcher that cannot keep up is closed; the client resumes from its last
                    // resourceVersion, as after any watch timeout.
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(skipped = n, "watcher lagged; closing the stream");
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    Body::from_stream(stream)
}

/// Parses a resourceVersion query value ("" means unset).
pub fn parse_rv(s: Option<&str>) -> Result<Option<u64>, ApiError> {
    match s {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}"))),
    }
}
