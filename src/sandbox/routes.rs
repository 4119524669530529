//! HTTP routing of the Kubernetes REST API: paths, verbs, query parameters and bodies, mapped onto
//! the store. Every failure is answered as a `Status` object.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::discovery;
use super::error::{ApiError, success_status};
use super::patch::{merge_patch, strategic_merge_patch};
use super::resources::{Kind, Obj};
use super::selectors::{FieldQuery, LabelQuery};
use super::store::{Key, State as StoreState, Store};
use super::table;
use super::watch::{self, WatchRequest, parse_rv};

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct Ctx {
    /// The object store.
    pub store: Arc<Store>,
    /// Interval between watch bookmarks.
    pub bookmark_interval: Duration,
    /// Cancelled when the sandbox stops (ends watches and exec sessions).
    pub shutdown: CancellationToken,
}

/// The API router.
pub fn router(ctx: Ctx) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async { axum::Json(discovery::version()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route(
            "/api",
            get(|| async { axum::Json(discovery::core_versions()) }),
        )
        .route(
            "/apis",
            get(|| async { axum::Json(discovery::group_list()) }),
        )
        .route("/api/{*rest}", any(api))
        .route("/apis/{*rest}", any(api))
        .fallback(
            |req: Request| async move { ApiError::no_route(req.uri().path()).into_response() },
        )
        .with_state(ctx)
}

/// Query parameters, kept as pairs (exec repeats `command`).
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Result<Query, ApiError> {
        match q {
            None => Ok(Query::default()),
            Some(q) => serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .map(Query)
                .map_err(|e| ApiError::bad_request(format!("invalid query: {e}"))),
        }
    }
    /// First value of `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    /// All values of `k`.
    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1"))
    }
    fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid {k}: {v:?}"))),
        }
    }
}

/// What a request path names.
#[derive(Debug, Clone)]
pub struct Target {
    /// The kind.
    pub kind: Kind,
    /// Namespace from the path.
    pub ns: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Subresource.
    pub sub: Option<String>,
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn obj_response(code: StatusCode, o: &Obj) -> Response {
    json_response(code, &o.to_value())
}

async fn api(State(ctx): State<Ctx>, req: Request) -> Response {
    match handle(ctx, req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(code = e.code, reason = e.reason, message = %e.message, "api error");
            e.into_response()
        }
    }
}

fn parse_target(group: &str, version: &str, rest: &[&str], path: &str) -> Result<Target, ApiError> {
    let find = |plural: &str| {
        Kind::from_path(group, version, plural).ok_or_else(|| ApiError::no_route(path))
    };
    let s = |x: &&str| x.to_string();
    match rest {
        [plural] => Ok(Target {
            kind: find(plural)?,
            ns: None,
            name: None,
            sub: None,
        }),
        ["namespaces", ns, plural]
            if Kind::from_path(group, version, plural).is_some_and(|k| k.info().namespaced) =>
        {
            Ok(Target {
                kind: find(plural)?,
                ns: Some(s(ns)),
                name: None,
                sub: None,
            })
        }
        ["namespaces", ns, plural, name] => Ok(Target {
            kind: find(plural)?,
            ns: Some(s(ns)),
            name: Some(s(name)),
            sub: None,
        }),
        ["namespaces", ns, plural, name, sub] => Ok(Target {
            kind: find(plural)?,
            ns: Some(s(ns)),
            name: Some(s(name)),
            sub: Some(s(sub)),
        }),
        [plural, name] => Ok(Target {
            kind: find(plural)?,
            ns: None,
            name: Some(s(name)),
            sub: None,
        }),
        [plural, name, sub] => Ok(Target {
            kind: find(plural)?,
            ns: None,
            name: Some(s(name)),
            sub: Some(s(sub)),
        }),
        _ => Err(ApiError::no_route(path)),
    }
}

async fn handle(ctx: Ctx, req: Request) -> Result<Response, ApiError> {
    let path = req.uri().path().to_string();
    let q = Query::parse(req.uri().query())?;
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis", g] => {
            return discovery::group(g)
                .map(|d| json_response(StatusCode::OK, &d))
                .ok_or_else(|| ApiError::no_route(&path));
        }
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(ApiError::no_route(&path)),
    };
    if rest.is_empty() {
        return discovery::resource_list(group, version)
            .map(|d| json_response(StatusCode::OK, &d))
            .ok_or_else(|| ApiError::no_route(&path));
    }
    let t = parse_target(group, version, rest, &path)?;
    let info = t.kind.info();
    if info.namespaced && t.name.is_some() && t.ns.is_none() {
        return Err(ApiError::no_route(&path));
    }
    if !info.namespaced && t.ns.is_some() {
        return Err(ApiError::no_route(&path));
    }
    if let Some(sub) = t.sub.as_deref() {
        let allowed = info.subresources.contains(&sub) || (t.kind == Kind::Pod && sub == "log");
        if !allowed {
            return Err(ApiError::no_route(&path));
        }
    }
    if t.sub.as_deref() == Some("exec") {
        return Ok(super::exec::handle(ctx, req, t, q).await);
    }
    if q.get("dryRun").is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::bad_request(
            "dryRun is not supported by the ChaosDuck sandbox",
        ));
    }
    let method = req.method().clone();
    let headers = req.headers().clone();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = axum::body::to_bytes(req.into_body(), 32 * 1024 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read body: {e}")))?;
    match (&method, t.name.is_some(), t.sub.as_deref()) {
        (&Method::GET, false, _) => {
            if q.flag("watch") {
                watch_collection(&ctx, &t, &q)
            } else {
                list(&ctx.store, &t, &q, table::wants_table(accept.as_deref()))
            }
        }
        (&Method::POST, false, _) => create(&ctx.store, &t, &headers, &body),
        (&Method::DELETE, false, _) => delete_collection(&ctx.store, &t, &q, &body),
        (&Method::GET, true, None) if table::wants_table(accept.as_deref()) => {
            let st = ctx.store.read();
            let o = st.get_or_404(t.kind, ns_of(&t), name_of(&t))?;
            let meta = json!({"resourceVersion": st.rv().to_string()});
            Ok(json_response(
                StatusCode::OK,
                &table::table(t.kind, std::iter::once(&*o), meta),
            ))
        }
        (&Method::GET, true, None | Some("status") | Some("ephemeralcontainers")) => {
            let st = ctx.store.read();
            let o = st.get_or_404(t.kind, ns_of(&t), name_of(&t))?;
            Ok(obj_response(StatusCode::OK, &o))
        }
        (&Method::GET, true, Some("log")) => {
            let st = ctx.store.read();
            st.get_or_404(t.kind, ns_of(&t), name_of(&t))?;
            Ok((
                StatusCode::OK,
                "simulated container in the ChaosDuck sandbox: no logs\n",
            )
                .into_response())
        }
        (&Method::GET, true, Some("scale")) => {
            let st = ctx.store.read();
            let o = st.get_or_404(t.kind, ns_of(&t), name_of(&t))?;
            Ok(json_response(StatusCode::OK, &scale_of(&o)))
        }
        (&Method::PUT, true, sub) => put(&ctx.store, &t, sub, &headers, &body),
        (&Method::PATCH, true, sub) => patch(&ctx.store, &t, sub, &headers, &body),
        (&Method::DELETE, true, None) => delete(&ctx.store, &t, &q, &body),
        (&Method::POST, true, Some("eviction")) => evict(&ctx.store, &t, &body),
        _ => Err(ApiError::method_not_allowed(format!(
            "{method} is not supported on {path}"
        ))),
    }
}

fn ns_of(t: &Target) -> &str {
    t.ns.as_deref().unwrap_or("")
}

fn name_of(t: &Target) -> &str {
    t.name.as_deref().unwrap_or("")
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("cannot decode request body as JSON: {e}")))
}

fn check_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if ct.starts_with("application/json") || ct.starts_with("*/*") || ct.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unsupported_media(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json (got {ct})"
        )))
    }
}

/// Decodes a body as an object of the target kind, checking kind and namespace.
fn decode_obj(t: &Target, v: Value) -> Result<Obj, ApiError> {
    let info = t.kind.info();
    if let Some(k) = v.get("kind").and_then(Value::as_str)
        && k != info.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the body ({k}) does not match the path ({})",
            info.kind
        )));
    }
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut v = v;
    let Some(fields) = v.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "the body must be a JSON object (a {})",
            info.kind
        )));
    };
    fields
        .entry("apiVersion")
        .or_insert_with(|| json!(t.kind.api_version()));
    fields.entry("kind").or_insert_with(|| json!(info.kind));
    let mut o = Obj::from_value(t.kind, v)
        .map_err(|e| ApiError::invalid(info.kind, &name, e.to_string()))?;
    if info.namespaced {
        let ns = ns_of(t);
        let m = o.meta_mut();
        match m.namespace.as_deref() {
            None | Some("") => m.namespace = Some(ns.to_string()),
            Some(x) if x != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(o)
}

fn list_kind_name(kind: Kind) -> String {
    format!("{}List", kind.info().kind)
}

fn encode_continue(rv: u64, key: &Key) -> String {
    let raw = format!("{rv}\u{1}{}\u{1}{}", key.0, key.1);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(s: &str) -> Result<(u64, Key), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid");
    if !s.len().is_multiple_of(2) {
        return Err(bad());
    }
    // Work on bytes: the token is client input and may hold any UTF-8.
    let bytes: Option<Vec<u8>> = s
        .as_bytes()
        .chunks(2)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let raw = String::from_utf8(bytes.ok_or_else(bad)?).map_err(|_| bad())?;
    let mut it = raw.split('\u{1}');
    let rv = it.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    let ns = it.next().ok_or_else(bad)?.to_string();
    let name = it.next().ok_or_else(bad)?.to_string();
    Ok((rv, (ns, name)))
}

/// Lists objects: selectors, limit/continue. Continuation reads the current state after the last
/// key (not a snapshot); a token older than the event log's horizon is a 410.
fn list(store: &Store, t: &Target, q: &Query, as_table: bool) -> Result<Response, ApiError> {
    let labels = LabelQuery::parse(q.get("labelSelector").unwrap_or(""))?;
    let fields = FieldQuery::parse(t.kind, q.get("fieldSelector").unwrap_or(""))?;
    let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let st = store.read();
    let after = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let (rv, key) = decode_continue(c)?;
            if rv < st.compacted() {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            Some(key)
        }
        None => None,
    };
    let rv = st.rv();
    let sel = Selection {
        labels: &labels,
        fields: &fields,
        limit,
        as_table,
    };
    let value = list_value(&st, t, &sel, after.as_ref(), rv);
    Ok(json_response(StatusCode::OK, &value))
}

/// What a list selects and how it answers.
struct Selection<'a> {
    labels: &'a LabelQuery,
    fields: &'a FieldQuery,
    limit: Option<usize>,
    as_table: bool,
}

fn list_value(
    st: &StoreState,
    t: &Target,
    sel: &Selection<'_>,
    after: Option<&Key>,
    rv: u64,
) -> Value {
    let Selection {
        labels,
        fields,
        limit,
        as_table,
    } = *sel;
    let mut items = Vec::new();
    let mut objs: Vec<&Obj> = Vec::new();
    let mut last: Option<&Key> = None;
    let mut more = false;
    let mut remaining = 0usize;
    for (k, o) in st.iter_after(t.kind, t.ns.as_deref(), after) {
        if !(labels.matches(o.meta().labels.as_ref()) && fields.matches(o)) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            more = true;
            remaining += 1;
            continue;
        }
        if as_table {
            objs.push(o);
            items.push(Value::Null);
        } else {
            items.push(o.to_value());
        }
        last = Some(k);
    }
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if more && let Some(k) = last {
        meta["continue"] = json!(encode_continue(rv, k));
        meta["remainingItemCount"] = json!(remaining);
    }
    if as_table {
        return table::table(t.kind, objs.into_iter(), meta);
    }
    json!({"kind": list_kind_name(t.kind), "apiVersion": t.kind.api_version(), "metadata": meta, "items": items})
}

fn watch_collection(ctx: &Ctx, t: &Target, q: &Query) -> Result<Response, ApiError> {
    let req = WatchRequest {
        kind: t.kind,
        namespace: t.ns.clone(),
        labels: LabelQuery::parse(q.get("labelSelector").unwrap_or(""))?,
        fields: FieldQuery::parse(t.kind, q.get("fieldSelector").unwrap_or(""))?,
        resource_version: parse_rv(q.get("resourceVersion"))?,
        bookmarks: q.flag("allowWatchBookmarks"),
        send_initial_events: q.flag("sendInitialEvents"),
        timeout: Duration::from_secs(
            q.int("timeoutSeconds")?
                .filter(|s| *s > 0)
                .unwrap_or(1800)
                .min(86_400) as u64,
        ),
        bookmark_interval: ctx.bookmark_interval,
    };
    let body = watch::start(ctx.store.clone(), req, ctx.shutdown.clone());
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

fn create(
    store: &Store,
    t: &Target,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    check_json(headers)?;
    let o = decode_obj(t, parse_body(body)?)?;
    let created = store.with(|st| st.create(o))?;
    Ok(obj_response(StatusCode::CREATED, &created))
}

fn put(
    store: &Store,
    t: &Target,
    sub: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    check_json(headers)?;
    let v = parse_body(body)?;
    if sub == Some("scale") {
        let replicas = v
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        return set_scale(store, t, replicas);
    }
    let mut o = decode_obj(t, v)?;
    if o.name() != name_of(t) {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    if !t.kind.info().namespaced {
        o.meta_mut().namespace = None;
    }
    let updated = match sub {
        None => store.with(|st| st.update(o, false))?,
        Some("status") => store.with(|st| st.update(o, true))?,
        Some("ephemeralcontainers") => store.with(|st| update_ephemeral(st, t, o))?,
        Some(other) => {
            return Err(ApiError::method_not_allowed(format!(
                "PUT is not supported on {other}"
            )));
        }
    };
    Ok(obj_response(StatusCode::OK, &updated))
}

/// Applies a JSON patch (RFC 6902) for the operations add, remove, replace and test.
fn json_patch(target: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let Value::Array(ops) = ops else {
        return Err(ApiError::bad_request(
            "json patch must be an array of operations",
        ));
    };
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        let (parent, last) = match path.rsplit_once('/') {
            Some((p, l)) => (p, l.replace("~1", "/").replace("~0", "~")),
            None => {
                return Err(ApiError::invalid(
                    "patch",
                    "",
                    format!("invalid path {path:?}"),
                ));
            }
        };
        match kind {
            "test" => {
                if target.pointer(path) != Some(&value) {
                    return Err(ApiError::invalid(
                        "patch",
                        "",
                        format!("test failed at {path}"),
                    ));
                }
            }
            "add" | "replace" | "remove" => {
                let p = target.pointer_mut(parent).ok_or_else(|| {
                    ApiError::invalid("patch", "", format!("path {parent:?} does not exist"))
                })?;
                match p {
                    Value::Object(m) => {
                        if (kind == "remove" || kind == "replace") && m.remove(&last).is_none() {
                            return Err(ApiError::invalid(
                                "patch",
                                "",
                                format!("path {path:?} does not exist"),
                            ));
                        }
                        if kind != "remove" {
                            m.insert(last, value);
                        }
                    }
                    Value::Array(a) => {
                        let idx = if last == "-" {
                            a.len()
                        } else {
                            last.parse::<usize>().map_err(|_| {
                                ApiError::invalid("patch", "", format!("bad index in {path:?}"))
                            })?
                        };
                        match kind {
                            "add" if idx <= a.len() => a.insert(idx, value),
                            "replace" if idx < a.len() => a[idx] = value,
                            "remove" if idx < a.len() => {
                                a.remove(idx);
                            }
                            _ => {
                                return Err(ApiError::invalid(
                                    "patch",
                                    "",
                                    format!("index out of range in {path:?}"),
                                ));
                            }
                        }
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            "patch",
                            "",
                            format!("path {parent:?} is not a container"),
                        ));
                    }
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "json patch operation {other:?} is not supported by the sandbox"
                )));
            }
        }
    }
    Ok(())
}

fn patch(
    store: &Store,
    t: &Target,
    sub: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let p = parse_body(body)?;
    let info = t.kind.info();
    let name = name_of(t).to_string();
    store.with(|st| {
        let cur = st.get_or_404(t.kind, ns_of(t), &name)?;
        let mut v = if sub == Some("scale") { scale_of(&cur) } else { cur.to_value() };
        if ct.starts_with("application/merge-patch+json") {
            merge_patch(&mut v, &p);
        } else if ct.starts_with("application/strategic-merge-patch+json") {
            strategic_merge_patch(&mut v, &p)?;
        } else if ct.starts_with("application/json-patch+json") {
            json_patch(&mut v, &p)?;
        } else {
            return Err(ApiError::unsupported_media(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {ct:?}; server-side apply is not supported by the sandbox)"
            )));
        }
        if sub == Some("scale") {
            let replicas = v.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
            let o = scale_into(st, t, replicas)?;
            return Ok(json_response(StatusCode::OK, &scale_of(&o)));
        }
        // Name, namespace and kind cannot be patched. A patch may replace the whole object or
        // its metadata with something else; that is refused, not indexed into.
        let not_object = |what: &str| {
            ApiError::invalid(info.kind, &name, format!("the patch makes {what} something other than a JSON object"))
        };
        let fields = v.as_object_mut().ok_or_else(|| not_object("the object"))?;
        let meta = fields.entry("metadata").or_insert(Value::Null);
        if meta.is_null() {
            *meta = json!({});
        }
        let meta = meta.as_object_mut().ok_or_else(|| not_object("metadata"))?;
        meta.insert("name".into(), json!(name));
        if info.namespaced {
            meta.insert("namespace".into(), json!(ns_of(t)));
        }
        fields.insert("kind".into(), json!(info.kind));
        fields.insert("apiVersion".into(), json!(t.kind.api_version()));
        let o = Obj::from_value(t.kind, v).map_err(|e| ApiError::invalid(info.kind, &name, e.to_string()))?;
        let updated = match sub {
            None => st.update(o, false)?,
            Some("status") => st.update(o, true)?,
            Some("ephemeralcontainers") => update_ephemeral(st, t, o)?,
            Some(other) => return Err(ApiError::method_not_allowed(format!("PATCH is not supported on {other}"))),
        };
        Ok(obj_response(StatusCode::OK, &updated))
    })
}

/// The ephemeralcontainers subresource: only `spec.ephemeralContainers` changes, and existing
/// entries may be neither removed nor changed.
fn update_ephemeral(st: &mut StoreState, t: &Target, new: Obj) -> Result<Arc<Obj>, ApiError> {
    let name = name_of(t).to_string();
    let cur = st.get_or_404(Kind::Pod, ns_of(t), &name)?;
    let (Obj::Pod(newp), Some(curp)) = (&new, cur.as_pod()) else {
        return Err(ApiError::bad_request(
            "ephemeralcontainers is a subresource of pods",
        ));
    };
    if let Some(rv) = newp.metadata.resource_version.as_deref()
        && !rv.is_empty()
        && Some(rv) != curp.metadata.resource_version.as_deref()
    {
        return Err(ApiError::conflict("", "pods", &name));
    }
    let old_list = curp
        .spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.clone())
        .unwrap_or_default();
    let new_list = newp
        .spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.clone())
        .unwrap_or_default();
    for o in &old_list {
        match new_list.iter().find(|n| n.name == o.name) {
            None => {
                return Err(ApiError::invalid(
                    "Pod",
                    &name,
                    format!(
                        "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"{}\" may not be removed",
                        o.name
                    ),
                ));
            }
            Some(n) if n != o => {
                return Err(ApiError::invalid(
                    "Pod",
                    &name,
                    format!(
                        "spec.ephemeralContainers[{}]: Forbidden: existing ephemeral containers may not be changed",
                        o.name
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let mut candidate = (*cur).clone();
    if let Obj::Pod(p) = &mut candidate
        && let Some(s) = p.spec.as_mut()
    {
        s.ephemeral_containers = if new_list.is_empty() {
            None
        } else {
            Some(new_list)
        };
    }
    super::validation::validate(&candidate)?;
    st.mutate(Kind::Pod, ns_of(t), &name, |o| *o = candidate)
        .ok_or_else(|| ApiError::not_found("", "pods", &name))
}

fn scale_of(o: &Obj) -> Value {
    let (replicas, status, selector) = match o {
        Obj::Deployment(d) => (
            d.spec.as_ref().and_then(|s| s.replicas),
            d.status.as_ref().and_then(|s| s.replicas),
            d.spec.as_ref().map(|s| &s.selector),
        ),
        Obj::ReplicaSet(r) => (
            r.spec.as_ref().and_then(|s| s.replicas),
            r.status.as_ref().map(|s| s.replicas),
            r.spec.as_ref().map(|s| &s.selector),
        ),
        Obj::StatefulSet(s) => (
            s.spec.as_ref().and_then(|x| x.replicas),
            s.status.as_ref().map(|x| x.replicas),
            s.spec.as_ref().map(|x| &x.selector),
        ),
        _ => (None, None, None),
    };
    let sel = selector
        .and_then(|s| s.match_labels.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": o.name(),
            "namespace": o.namespace(),
            "uid": o.meta().uid,
            "resourceVersion": o.meta().resource_version,
        },
        "spec": {"replicas": replicas.unwrap_or(0)},
        "status": {"replicas": status.unwrap_or(0), "selector": sel},
    })
}

fn scale_into(st: &mut StoreState, t: &Target, replicas: i64) -> Result<Arc<Obj>, ApiError> {
    if !(0..=100_000).contains(&replicas) {
        return Err(ApiError::invalid(
            "Scale",
            name_of(t),
            "spec.replicas: Invalid value: must be between 0 and 100000",
        ));
    }
    let r = Some(replicas as i32);
    st.get_or_404(t.kind, ns_of(t), name_of(t))?;
    st.mutate(t.kind, ns_of(t), name_of(t), |o| match o {
        Obj::Deployment(d) => {
            if let Some(s) = d.spec.as_mut() {
                s.replicas = r;
            }
        }
        Obj::ReplicaSet(x) => {
            if let Some(s) = x.spec.as_mut() {
                s.replicas = r;
            }
        }
        Obj::StatefulSet(x) => {
            if let Some(s) = x.spec.as_mut() {
                s.replicas = r;
            }
        }
        _ => {}
    })
    .ok_or_else(|| ApiError::not_found(t.kind.info().group, t.kind.info().plural, name_of(t)))
}

fn set_scale(store: &Store, t: &Target, replicas: i64) -> Result<Response, ApiError> {
    let o = store.with(|st| scale_into(st, t, replicas))?;
    Ok(json_response(StatusCode::OK, &scale_of(&o)))
}

/// Grace period, precondition uid and precondition resourceVersion.
type DeleteOptions = (Option<i64>, Option<String>, Option<String>);

/// Grace period and preconditions from query and DeleteOptions body.
fn delete_options(q: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let mut grace = q.int("gracePeriodSeconds")?;
    let mut uid = None;
    let mut rv = None;
    if !body.is_empty() {
        let v: Value = parse_body(body)?;
        if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
            grace = Some(g);
        }
        uid = v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from);
        rv = v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from);
    }
    Ok((grace, uid, rv))
}

fn delete(store: &Store, t: &Target, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
    let (grace, uid, rv) = delete_options(q, body)?;
    let o = store.with(|st| {
        st.delete(
            t.kind,
            ns_of(t),
            name_of(t),
            grace,
            uid.as_deref(),
            rv.as_deref(),
        )
    })?;
    Ok(obj_response(StatusCode::OK, &o))
}

fn delete_collection(
    store: &Store,
    t: &Target,
    q: &Query,
    body: &[u8],
) -> Result<Response, ApiError> {
    let labels = LabelQuery::parse(q.get("labelSelector").unwrap_or(""))?;
    let fields = FieldQuery::parse(t.kind, q.get("fieldSelector").unwrap_or(""))?;
    let (grace, _, _) = delete_options(q, body)?;
    let value = store.with(|st| {
        let victims: Vec<(String, String)> = st
            .iter(t.kind, t.ns.as_deref())
            .filter(|o| labels.matches(o.meta().labels.as_ref()) && fields.matches(o))
            .map(|o| (o.namespace().to_string(), o.name().to_string()))
            .collect();
        let mut items = Vec::new();
        for (ns, name) in victims {
            if let Ok(o) = st.delete(t.kind, &ns, &name, grace, None, None) {
                items.push(o.to_value());
            }
        }
        json!({"kind": list_kind_name(t.kind), "apiVersion": t.kind.api_version(), "metadata": {"resourceVersion": st.rv().to_string()}, "items": items})
    });
    Ok(json_response(StatusCode::OK, &value))
}

/// Eviction: checked against the PodDisruptionBudgets selecting the pod (429 when it would break
/// one), then a graceful delete with the eviction's delete options.
fn evict(store: &Store, t: &Target, body: &[u8]) -> Result<Response, ApiError> {
    let v = parse_body(body)?;
    if let Some(n) = v.pointer("/metadata/name").and_then(Value::as_str)
        && n != name_of(t)
    {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let grace = v
        .pointer("/deleteOptions/gracePeriodSeconds")
        .and_then(Value::as_i64);
    let uid = v
        .pointer("/deleteOptions/preconditions/uid")
        .and_then(Value::as_str);
    store.with(|st| {
        let pod = st.get_or_404(Kind::Pod, ns_of(t), name_of(t))?;
        if let Some(p) = pod.as_pod()
            && p.metadata.deletion_timestamp.is_none()
        {
            super::disruption::check_eviction(st, p)?;
        }
        st.delete(Kind::Pod, ns_of(t), name_of(t), grace, uid, None)
    })?;
    Ok(json_response(StatusCode::CREATED, &success_status(None)))
}
