//! The HTTP routes and the layers around them.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mercato::data::ExternalId;
use mercato::fraud::{Detector, ProbaMethod};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tower::ServiceBuilder;

use crate::auth::Scope;
use crate::error::{code_for, ApiError};
use crate::model::{IdFilter, Model, ServedDetector};
use crate::registry::{LoadError, Loaded};
use crate::ServeState;

/// Rows (users) above which a request is computed on the blocking pool rather than inline
/// on an I/O worker: one row costs microseconds, a large batch milliseconds.
const INLINE_MAX: usize = 64;

/// The router with every route and layer, limits from `state.limits`; mount it in an axum
/// app or serve it with [`serve`](crate::serve).
pub fn router(state: ServeState) -> Router {
    let limits = state.limits.clone();
    let api = Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{name}/score", post(score))
        .route("/v1/models/{name}/recommend", post(recommend))
        .route("/v1/models/{name}/similar", post(similar))
        .route("/v1/models/{name}/rank_new_items", post(rank_new_items))
        .route("/v1/models/{name}/recommend_sequence", post(recommend_sequence))
        .route("/v1/models/{name}/reload", post(reload))
        .route("/v1/models/{name}/classify", post(classify))
        .layer(
            ServiceBuilder::new()
                // a full server answers 503 at once rather than queueing without bound
                .layer(axum::error_handling::HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(limits.max_concurrency),
        )
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, limits.timeout))
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limits.body_limit));
    let request_id = header::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(middleware::map_response(json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(request_id.clone()))
        .layer(tower_http::request_id::SetRequestIdLayer::new(request_id, tower_http::request_id::MakeRequestUuid))
        .with_state(state)
}

async fn overloaded(_: tower::BoxError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "the server is at its concurrency limit; retry shortly",
    )
    .with_header(header::RETRY_AFTER, "1")
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("internal error (a bug: the request was not completed)").into_response()
}

/// Gives error responses made outside the handlers (body limit, timeout, unmatched method)
/// the JSON error shape of the handlers' own.
async fn json_errors(r: Response) -> Response {
    let status = r.status();
    let is_json = r.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return r;
    }
    let (mut parts, _) = r.into_parts();
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut out = ApiError::new(status, code_for(status), message).into_response();
    for k in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW] {
        if let Some(v) = parts.headers.remove(&k) {
            out.headers_mut().insert(k, v);
        }
    }
    out
}

/// Counts in-flight requests and, per model and route, requests by status and latency.
async fn track(State(s): State<ServeState>, req: Request, next: Next) -> Response {
    let (model, route) = labels(&s, req.uri().path());
    let t = Instant::now();
    s.metrics.in_flight.inc();
    // decremented on drop, so a cancelled request (client gone) is not counted forever
    let _in_flight = InFlight(&s.metrics.in_flight);
    let r = next.run(req).await;
    s.metrics.requests.with_label_values(&[model.as_str(), route, r.status().as_str()]).inc();
    s.metrics.latency.with_label_values(&[model.as_str(), route]).observe(t.elapsed().as_secs_f64());
    r
}

struct InFlight<'a>(&'a prometheus::IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Bounded metric labels: a loaded model's name or `_none`, a known route or `other`.
fn labels(s: &ServeState, path: &str) -> (String, &'static str) {
    const ROUTES: [&str; 8] =
        ["score", "recommend", "similar", "recommend_sequence", "rank_new_items", "reload", "classify", "healthz"];
    match path.trim_start_matches('/').split('/').collect::<Vec<_>>().as_slice() {
        ["v1", "models", name, route] => {
            let model = if s.registry.contains(name) { name.to_string() } else { "_none".to_string() };
            (model, ROUTES.into_iter().find(|r| r == route).unwrap_or("other"))
        }
        ["v1", "models"] => ("_none".into(), "models"),
        ["healthz"] => ("_none".into(), "healthz"),
        ["readyz"] => ("_none".into(), "readyz"),
        ["metrics"] => ("_none".into(), "metrics"),
        _ => ("_none".into(), "other"),
    }
}

async fn readyz(State(s): State<ServeState>) -> Response {
    let n = s.registry.all().len();
    if n > 0 {
        Json(json!({"status": "ready", "models": n})).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "no model is loaded").into_response()
    }
}

async fn metrics(State(s): State<ServeState>) -> Response {
    let mut r = s.metrics.render().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

fn authorize(s: &ServeState, headers: &HeaderMap, scope: Scope) -> Result<(), ApiError> {
    match s.auth.load().as_ref() {
        Some(auth) => auth.check(headers, scope),
        None => Ok(()),
    }
}

/// Parses a JSON body: 413 when over the limit, 400 for malformed JSON, 422 for JSON that
/// is not this route's request (a wrong type, a missing or unknown field).
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        let status = e.status();
        ApiError::new(status, code_for(status), e.body_text())
    })?;
    serde_json::from_slice(&body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::invalid(e.to_string()),
        _ => ApiError::malformed(e.to_string()),
    })
}

fn model(s: &ServeState, name: &str) -> Result<Arc<Loaded>, ApiError> {
    s.registry.get(name).ok_or_else(|| ApiError::model_not_found(name))
}

/// The model a route serves, after the route's checks in order: the caller holds `scope`,
/// the model exists, and it is of a kind that has `route` (`has`).
fn model_for(
    s: &ServeState,
    headers: &HeaderMap,
    name: &str,
    scope: Scope,
    route: &str,
    has: fn(&Model) -> bool,
) -> Result<Arc<Loaded>, ApiError> {
    authorize(s, headers, scope)?;
    let m = model(s, name)?;
    if !has(&m.model) {
        return Err(ApiError::wrong_kind(name, &m.kind, route));
    }
    Ok(m)
}

fn is_detector(m: &Model) -> bool {
    matches!(m, Model::Detector(_))
}

fn is_recommender(m: &Model) -> bool {
    matches!(m, Model::Recommender(_))
}

/// Runs CPU-heavy work off the I/O workers when it is large.
async fn compute<T: Send + 'static>(
    big: bool,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if big {
        tokio::task::spawn_blocking(f).await.map_err(|_| ApiError::internal("the computation failed"))?
    } else {
        f()
    }
}

async fn list_models(State(s): State<ServeState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&s, &headers, Scope::ModelsRead)?;
    let models: Vec<Value> = s.registry.all().iter().map(|m| describe(m)).collect();
    Ok(Json(json!({ "models": models })))
}

fn describe(m: &Loaded) -> Value {
    let mut v = json!({
        "name": m.name, "kind": m.kind, "version": m.version, "checksum": m.checksum, "loaded_at": m.loaded_at,
    });
    match &m.model {
        Model::Detector(d) => v["features"] = json!(d.feature_names),
        Model::Recommender(r) => {
            v["users"] = json!(r.n_users());
            v["items"] = json!(r.n_items());
        }
        #[cfg(feature = "torch")]
        Model::Classifier(c) => {
            v["classes"] = json!(c.class_names());
            v["input"] = json!({"channels": c.channels(), "size": c.input_size()});
        }
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreRequest {
    rows: Option<Vec<Vec<f64>>>,
    instances: Option<Vec<serde_json::Map<String, Value>>>,
    #[serde(default)]
    explain: usize,
}

/// The rows of a score request as one row-major buffer, checked against the model's width.
fn score_rows(d: &ServedDetector, req: ScoreRequest) -> Result<(Vec<f64>, usize), ApiError> {
    let width = d.feature_names.len();
    match (req.rows, req.instances) {
        (Some(rows), None) => {
            let mut x = Vec::with_capacity(rows.len() * width);
            for (r, row) in rows.iter().enumerate() {
                if row.len() != width {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "shape_mismatch",
                        format!(
                            "row {r} has {} values; the model takes {width} ({})",
                            row.len(),
                            d.feature_names.join(", ")
                        ),
                    ));
                }
                x.extend_from_slice(row);
            }
            Ok((x, rows.len()))
        }
        (None, Some(instances)) => {
            let mut x = vec![0.0; instances.len() * width];
            for (r, inst) in instances.iter().enumerate() {
                let row = &mut x[r * width..(r + 1) * width];
                for (name, value) in inst {
                    let j = *d.columns.get(name).ok_or_else(|| {
                        ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "unknown_feature",
                            format!(
                                "instance {r}: unknown feature {name:?} (the model takes {})",
                                d.feature_names.join(", ")
                            ),
                        )
                    })?;
                    row[j] = value
                        .as_f64()
                        .ok_or_else(|| ApiError::invalid(format!("instance {r}: feature {name:?} is not a number")))?;
                }
                if inst.len() != width {
                    let missing: Vec<&str> =
                        d.feature_names.iter().filter(|f| !inst.contains_key(*f)).map(String::as_str).collect();
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "shape_mismatch",
                        format!("instance {r} lacks {}", missing.join(", ")),
                    ));
                }
            }
            Ok((x, instances.len()))
        }
        _ => Err(ApiError::invalid("give exactly one of \"rows\" and \"instances\"")),
    }
}

async fn score(
    State(s): State<ServeState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let m = model_for(&s, &headers, &name, Scope::Score, "score", is_detector)?;
    let req: ScoreRequest = parse(body)?;
    compute(
        req.rows.as_ref().map_or(0, Vec::len) + req.instances.as_ref().map_or(0, Vec::len) > INLINE_MAX,
        move || {
            let Model::Detector(d) = &m.model else { unreachable!("checked above") };
            let k = req.explain.min(d.feature_names.len());
            let (x, n) = score_rows(d, req)?;
            let width = d.feature_names.len();
            let det = &d.detector;
            // one row through score_one (no batch set-up); both equal the batch scores bit for bit
            let scores: Vec<f64> = if n == 1 {
                vec![det.score_one(&x)?]
            } else {
                let view =
                    ndarray::ArrayView2::from_shape((n, width), &x).map_err(|e| ApiError::internal(e.to_string()))?;
                det.score(&view)?.to_vec()
            };
            let threshold = det.threshold()?;
            let calibration = det.calibration()?;
            let risk: Vec<f64> = scores.iter().map(|&v| calibration.proba(v, ProbaMethod::Linear)).collect();
            let flagged: Vec<bool> = scores.iter().map(|&v| v > threshold).collect();
            let mut out =
                json!({"model": m.name, "version": m.version, "scores": scores, "risk": risk, "flagged": flagged});
            if k > 0 {
                let mut all = Vec::with_capacity(n);
                for r in 0..n {
                    let why = det.explain(&x[r * width..(r + 1) * width])?;
                    let top: Vec<Value> = why
                        .top(k)
                        .iter()
                        .map(|&(j, c)| json!({"feature": d.feature_names[j], "contribution": c}))
                        .collect();
                    all.push(Value::Array(top));
                }
                out["explanations"] = Value::Array(all);
            }
            Ok(Json(out))
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendRequest {
    user: Option<ExternalId>,
    users: Option<Vec<ExternalId>>,
    /// A new user by named features (hybrid models): `{"country=FR": 1.0}`.
    user_features: Option<Weights>,
    #[serde(default = "ten")]
    n: usize,
    #[serde(default = "yes")]
    exclude_seen: bool,
    allow: Option<Vec<ExternalId>>,
    #[serde(default)]
    deny: Vec<ExternalId>,
}

/// Named feature weights of one new user or item, as a JSON object.
type Weights = std::collections::BTreeMap<String, f32>;

/// The weights as the library takes them, borrowing the names.
fn named(w: &Weights) -> Vec<(&str, f32)> {
    w.iter().map(|(name, &weight)| (name.as_str(), weight)).collect()
}

fn ten() -> usize {
    10
}

fn yes() -> bool {
    true
}

fn check_n(n: usize) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::invalid("n must be at least 1"));
    }
    Ok(())
}

fn items_json(items: &[(ExternalId, f32)], what: &str) -> Value {
    Value::Array(items.iter().map(|(id, v)| json!({"item": id, what: v})).collect())
}

async fn recommend(
    State(s): State<ServeState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let m = model_for(&s, &headers, &name, Scope::Recommend, "recommend", is_recommender)?;
    let req: RecommendRequest = parse(body)?;
    check_n(req.n)?;
    let max_batch = s.limits.max_batch;
    let n_users = req.users.as_ref().map_or(1, Vec::len);
    if n_users > max_batch {
        return Err(ApiError::invalid(format!("{n_users} users in one request; the limit is {max_batch}")));
    }
    compute(n_users > 1, move || {
        let Model::Recommender(r) = &m.model else { unreachable!("checked above") };
        // no list is longer than the catalogue, so a huge `n` costs nothing more
        let n = req.n.min(r.n_items().max(1));
        let filter = IdFilter { exclude_seen: req.exclude_seen, allow: req.allow, deny: req.deny };
        let one = |user: &ExternalId| -> Result<Value, ApiError> {
            let recs = r.recommend_ids(user, n, &filter)?;
            Ok(json!({"user": user, "items": items_json(&recs.items, "score"), "fallback": recs.fallback}))
        };
        match (&req.user, &req.users, req.user_features) {
            (Some(u), None, None) => {
                let mut v = one(u)?;
                v["model"] = json!(m.name);
                v["version"] = json!(m.version);
                Ok(Json(v))
            }
            (None, Some(users), None) => {
                let results = users.iter().map(one).collect::<Result<Vec<_>, _>>()?;
                Ok(Json(json!({"model": m.name, "version": m.version, "results": results})))
            }
            (None, None, Some(features)) => {
                let recs = r.recommend_features(&named(&features), n, &filter)?;
                Ok(Json(json!({
                    "model": m.name,
                    "version": m.version,
                    "user_features": features,
                    "items": items_json(&recs.items, "score"),
                    "fallback": recs.fallback,
                })))
            }
            _ => Err(ApiError::invalid("give exactly one of \"user\", \"users\" and \"user_features\"")),
        }
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceRequest {
    items: Vec<ExternalId>,
    #[serde(default)]
    context: std::collections::BTreeMap<String, Vec<ExternalId>>,
    #[serde(default = "ten")]
    n: usize,
    #[serde(default = "yes")]
    exclude_seen: bool,
}

/// Next items for a live session: `{"items": [...], "context": {"event": [...]}, "n": 10}`
/// (sequential models: SASRec, GRU4Rec).
async fn recommend_sequence(
    State(s): State<ServeState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let m = model_for(&s, &headers, &name, Scope::Recommend, "recommend_sequence", is_recommender)?;
    let req: SequenceRequest = parse(body)?;
    check_n(req.n)?;
    let max_batch = s.limits.max_batch;
    if req.items.len() > max_batch {
        return Err(ApiError::invalid(format!("{} items in one session; the limit is {max_batch}", req.items.len())));
    }
    compute(true, move || {
        let Model::Recommender(r) = &m.model else { unreachable!("checked above") };
        let n = req.n.min(r.n_items().max(1));
        let context: Vec<(String, Vec<ExternalId>)> = req.context.into_iter().collect();
        let recs = r.recommend_sequence_ids(&req.items, &context, n, req.exclude_seen)?;
        Ok(Json(json!({
            "model": m.name,
            "version": m.version,
            "items": items_json(&recs.items, "score"),
            "fallback": recs.fallback,
        })))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimilarRequest {
    item: Option<ExternalId>,
    /// A new item by named features (hybrid models).
    item_features: Option<Weights>,
    #[serde(default = "ten")]
    n: usize,
}

async fn similar(
    State(s): State<ServeState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let m = model_for(&s, &headers, &name, Scope::Recommend, "similar", is_recommender)?;
    let Model::Recommender(r) = &m.model else { unreachable!("checked above") };
    let req: SimilarRequest = parse(body)?;
    check_n(req.n)?;
    let n = req.n.min(r.n_items().max(1));
    let (key, echo, found) = match (req.item, req.item_features) {
        (Some(item), None) => ("item", json!(item), r.similar_items_ids(&item, n)?),
        (None, Some(features)) => {
            let found = r.similar_to_features(&named(&features), n)?;
            ("item_features", json!(features), found)
        }
        _ => return Err(ApiError::invalid("give exactly one of \"item\" and \"item_features\"")),
    };
    Ok(Json(json!({"model": m.name, "version": m.version, key: echo, "items": items_json(&found, "similarity")})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItem {
    id: ExternalId,
    features: Weights,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RankNewItemsRequest {
    user: ExternalId,
    items: Vec<NewItem>,
    /// How many to return (default: all of them, ranked).
    n: Option<usize>,
}

/// New items, known only by their features, ranked for a training user (hybrid models):
/// `{"user": "u1", "items": [{"id": "sku-9", "features": {"category=shoes": 1.0}}], "n": 5}`.
async fn rank_new_items(
    State(s): State<ServeState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let m = model_for(&s, &headers, &name, Scope::Recommend, "rank_new_items", is_recommender)?;
    let req: RankNewItemsRequest = parse(body)?;
    let n = req.n.unwrap_or(req.items.len().max(1));
    check_n(n)?;
    let max_batch = s.limits.max_batch;
    if req.items.len() > max_batch {
        return Err(ApiError::invalid(format!(
            "{} new items in one request; the limit is {max_batch}",
            req.items.len()
        )));
    }
    let mut ids = std::collections::HashSet::with_capacity(req.items.len());
    if let Some(dup) = req.items.iter().find(|it| !ids.insert(&it.id)) {
        return Err(ApiError::invalid(format!("new item {} is given twice", dup.id)));
    }
    compute(req.items.len() > INLINE_MAX, move || {
        let Model::Recommender(r) = &m.model else { unreachable!("checked above") };
        let rows: Vec<Vec<(&str, f32)>> = req.items.iter().map(|it| named(&it.features)).collect();
        let ranked: Vec<(ExternalId, f32)> = r
            .rank_new_items(&req.user, &rows, n)?
            .into_iter()
            .map(|(position, score)| (req.items[position].id.clone(), score))
            .collect();
        Ok(Json(
            json!({"model": m.name, "version": m.version, "user": req.user, "items": items_json(&ranked, "score")}),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyRequest {
    /// Base64-encoded PNG or JPEG files.
    images: Vec<String>,
    #[serde(default = "five")]
    top_k: usize,
}

fn five() -> usize {
    5
}

/// The `top_k` query parameter of a raw-image request (the only one it takes).
fn top_k_query(uri: &axum::http::Uri) -> Result<Option<usize>, ApiError> {
    let Some(q) = uri.query() else { return Ok(None) };
    let mut top_k = None;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("top_k", v)) => {
                top_k = Some(v.parse().map_err(|_| ApiError::invalid(format!("top_k must be an integer, got {v:?}")))?)
            }
            _ => return Err(ApiError::invalid(format!("unknown query parameter {pair:?} (only top_k)"))),
        }
    }
    Ok(top_k)
}

/// Classifies product images: one raw PNG/JPEG body (`Content-Type: image/png`, `image/jpeg`
/// or `application/octet-stream`; `?top_k=` in the query), or JSON `{"images": [base64...],
/// "top_k": 5}`. Answers each image's label and its `top_k` classes with probabilities.
async fn classify(
    State(s): State<ServeState>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&s, &headers, Scope::Classify)?;
    let m = model(&s, &name)?;
    let query_top_k = top_k_query(&uri)?;
    let json_body = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let (images, top_k): (Vec<Vec<u8>>, usize) = if json_body {
        let req: ClassifyRequest = parse(body)?;
        if query_top_k.is_some() {
            return Err(ApiError::invalid("give top_k in the JSON body"));
        }
        let decoded = req
            .images
            .iter()
            .enumerate()
            .map(|(i, b)| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|e| ApiError::invalid(format!("image {i} is not base64: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        (decoded, req.top_k)
    } else {
        let body = body.map_err(|e| {
            let status = e.status();
            ApiError::new(status, code_for(status), e.body_text())
        })?;
        (vec![body.to_vec()], query_top_k.unwrap_or(5))
    };
    if images.is_empty() {
        return Err(ApiError::invalid("no image in the request"));
    }
    if images.len() > s.limits.max_batch {
        return Err(ApiError::invalid(format!(
            "{} images in one request; the limit is {}",
            images.len(),
            s.limits.max_batch
        )));
    }
    if top_k == 0 {
        return Err(ApiError::invalid("top_k must be at least 1"));
    }
    classify_images(m, images, top_k).await
}

#[cfg(feature = "torch")]
async fn classify_images(m: Arc<Loaded>, images: Vec<Vec<u8>>, top_k: usize) -> Result<Json<Value>, ApiError> {
    if !matches!(m.model, Model::Classifier(_)) {
        return Err(ApiError::wrong_kind(&m.name, &m.kind, "classify"));
    }
    compute(true, move || {
        let Model::Classifier(c) = &m.model else { unreachable!("checked above") };
        let (size, channels) = (c.input_size(), c.channels());
        let mut pixels = Vec::with_capacity(images.len() * channels * size * size);
        for (i, bytes) in images.iter().enumerate() {
            let one = mercato::vision::decode_image_bytes(bytes, size, channels)
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_image", format!("image {i}: {e}")))?;
            pixels.extend(one);
        }
        let batch = ndarray::Array4::from_shape_vec((images.len(), channels, size, size), pixels)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let proba = c.predict_proba(&batch)?;
        let names = c.class_names();
        let results: Vec<Value> = proba
            .rows()
            .into_iter()
            .map(|row| {
                let mut order: Vec<usize> = (0..row.len()).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                let top: Vec<Value> =
                    order.iter().take(top_k).map(|&k| json!({"label": names[k], "probability": row[k]})).collect();
                json!({"label": names[order[0]], "top": top})
            })
            .collect();
        Ok(Json(json!({"model": m.name, "version": m.version, "results": results})))
    })
    .await
}

/// Without libtorch no classifier file loads, so no model can answer this route.
#[cfg(not(feature = "torch"))]
async fn classify_images(m: Arc<Loaded>, _: Vec<Vec<u8>>, _: usize) -> Result<Json<Value>, ApiError> {
    Err(ApiError::wrong_kind(&m.name, &m.kind, "classify"))
}

async fn reload(
    State(s): State<ServeState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&s, &headers, Scope::ModelsWrite)?;
    let s2 = s.clone();
    let loaded = tokio::task::spawn_blocking(move || s2.registry.reload_one(&name, &s2.metrics))
        .await
        .map_err(|_| ApiError::internal("the reload failed"))?
        .map_err(|e| match e {
            LoadError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "model_not_found", m),
            // the operator's file is bad, not the request: the old version keeps serving
            LoadError::Invalid(m) => ApiError::new(StatusCode::CONFLICT, "reload_failed", m),
        })?;
    Ok(Json(describe(&loaded)))
}
