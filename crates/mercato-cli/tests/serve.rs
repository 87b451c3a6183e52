//! End-to-end tests of `mercato serve`: the real binary on a free loopback port, driven by a
//! minimal HTTP/1.1 client. Each route is compared with the library on the same model file;
//! every auth and bad-input case is checked with its status code; reloads (route and SIGHUP)
//! run under concurrent requests with zero failures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mercato::data::{DuplicatePolicy, ExternalId, Interactions};
use mercato::fraud::{AnyDetector, Detector, IsolationForestParams, ProbaMethod};
use mercato::persist::Persist;
use mercato::recommend::{Als, Filter, Recommender};
use serde_json::{json, Value};

const FEATURES: [&str; 3] = ["amount", "hour", "velocity"];

/// Training rows for the detector: a dense cluster and a few far points.
fn rows(n: usize, shift: f64) -> ndarray::Array2<f64> {
    ndarray::Array2::from_shape_fn((n, 3), |(i, j)| {
        let base = ((i * 37 + j * 11) % 97) as f64 / 97.0 + shift;
        if i % 50 == 0 {
            base * 20.0
        } else {
            base
        }
    })
}

fn detector(seed: u64, shift: f64) -> AnyDetector {
    let mut d: AnyDetector =
        IsolationForestParams::default().n_estimators(50).seed(seed).fit(&rows(300, shift).view()).unwrap().into();
    d.set_feature_names(Some(FEATURES.iter().map(|s| s.to_string()).collect())).unwrap();
    d
}

/// Users are strings ("u0".."u29"), items integers (100..139): ids as the model stores them.
fn als() -> Als {
    let mut triples = Vec::new();
    for u in 0..30usize {
        for j in 0..6usize {
            triples.push((format!("u{u}"), 100 + ((u * 7 + j * 3) % 40) as i64, 1.0 + (j % 3) as f32));
        }
    }
    let data = Interactions::from_triples(triples, DuplicatePolicy::Sum).unwrap();
    Als::params().factors(8).iterations(5).seed(7).num_threads(Some(1)).fit(&data).unwrap()
}

fn write_models(dir: &Path) -> (AnyDetector, Als) {
    let (d, a) = (detector(1, 0.0), als());
    d.save(dir.join("fraud.mercato")).unwrap();
    a.save(dir.join("als.mercato")).unwrap();
    (d, a)
}

struct Server {
    child: Child,
    addr: String,
    stderr: PathBuf,
}

impl Server {
    fn start(models: &Path, extra: &[&str]) -> Server {
        let stderr = models.parent().unwrap().join(format!("stderr-{}.log", std::process::id() ^ rand_suffix()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mercato"))
            .args(["serve", "--addr", "127.0.0.1:0", "--threads", "2", "--models"])
            .arg(models)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .or_else(|| line.trim().strip_prefix("listening on https://"))
            .unwrap_or_else(|| panic!("no listening line: {line:?}; stderr: {}", read(&stderr)))
            .to_string();
        Server { child, addr, stderr }
    }

    fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        request(&self.addr, method, path, headers, body)
    }

    fn post(&self, path: &str, body: &Value) -> Resp {
        self.req("POST", path, &[("content-type", "application/json")], body.to_string().as_bytes())
    }

    fn get(&self, path: &str) -> Resp {
        self.req("GET", path, &[], b"")
    }

    fn hup(&self) {
        let ok = Command::new("kill").args(["-HUP", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u32 {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst) as u32 * 7919
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Asserts the status and the JSON error shape; returns the error code.
    fn error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "{v}");
        v["error"]["code"].as_str().unwrap().to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    let chunked = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
    if !chunked {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if chunked {
        out.extend(format!("{:x}\r\n", body.len()).as_bytes());
        out.extend(body);
        out.extend(b"\r\n0\r\n\r\n");
    } else {
        out.extend(body);
    }
    // the server may answer (413) and close before reading everything: keep its answer
    let _ = s.write_all(&out);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no HTTP response: {:?}", String::from_utf8_lossy(&raw));
    });
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Resp { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 4 + size..];
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn id_of(v: &Value) -> ExternalId {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn score_matches_the_library_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let (det, _) = write_models(&models);
    let s = Server::start(&models, &[]);
    let x = rows(40, 0.3);
    let want = det.score(&x.view()).unwrap();
    let rows_json: Vec<Vec<f64>> = x.outer_iter().map(|r| r.to_vec()).collect();

    let r = s.post("/v1/models/fraud/score", &json!({"rows": rows_json, "explain": 2}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let got = f64s(&v["scores"]);
    assert_eq!(
        got.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
    );
    let (t, cal) = (det.threshold().unwrap(), det.calibration().unwrap());
    for (i, &w) in want.iter().enumerate() {
        assert_eq!(v["flagged"][i].as_bool().unwrap(), w > t);
        assert_eq!(v["risk"][i].as_f64().unwrap(), cal.proba(w, ProbaMethod::Linear));
        let why = det.explain(x.row(i).as_slice().unwrap()).unwrap();
        let top: Vec<(String, f64)> = why.top(2).iter().map(|&(j, c)| (FEATURES[j].to_string(), c)).collect();
        let served: Vec<(String, f64)> = v["explanations"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["feature"].as_str().unwrap().to_string(), e["contribution"].as_f64().unwrap()))
            .collect();
        assert_eq!(served, top);
    }
    assert!(v["flagged"].as_array().unwrap().iter().any(|f| f.as_bool().unwrap()), "the far rows are flagged");

    // one row (score_one) and the same row by feature names, in another key order
    let row = x.row(3).to_vec();
    let one = s.post("/v1/models/fraud/score", &json!({"rows": [row]})).json();
    assert_eq!(one["scores"][0].as_f64().unwrap().to_bits(), want[3].to_bits());
    let inst = json!({"instances": [{"velocity": row[2], "amount": row[0], "hour": row[1]}]});
    let by_name = s.post("/v1/models/fraud/score", &inst).json();
    assert_eq!(by_name["scores"][0].as_f64().unwrap().to_bits(), want[3].to_bits());
    assert!(by_name.get("explanations").is_none());

    // /v1/models describes both models; /healthz, /readyz and /metrics answer
    let listed = s.get("/v1/models").json();
    let names: Vec<&str> = listed["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["als", "fraud"]);
    assert_eq!(listed["models"][1]["features"], json!(FEATURES));
    assert_eq!(listed["models"][1]["kind"], "fraud.iforest");
    assert_eq!(listed["models"][0]["users"], 30);
    assert_eq!(listed["models"][1]["checksum"].as_str().unwrap().len(), 64);
    assert_eq!(s.get("/healthz").status, 200);
    assert_eq!(s.get("/readyz").json()["models"], 2);
    let m = String::from_utf8(s.get("/metrics").body).unwrap();
    assert!(m.contains("mercato_requests_total{model=\"fraud\",route=\"score\",status=\"200\"} 3"), "{m}");
    assert!(m.contains("mercato_request_duration_seconds_bucket{model=\"fraud\",route=\"score\""), "{m}");
    assert!(m.contains("mercato_model_version{model=\"als\"} 1"), "{m}");
    assert!(m.contains("mercato_in_flight_requests 1"), "the scrape itself is in flight: {m}");
    assert!(s.get("/healthz").header("x-request-id").is_some_and(|id| id.len() == 36));
}

#[test]
fn recommend_and_similar_match_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let (_, a) = write_models(&models);
    let s = Server::start(&models, &[]);
    let ids = a.ids().unwrap();
    let served = |v: &Value| -> Vec<(ExternalId, u32)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| (id_of(&e["item"]), (e["score"].as_f64().unwrap() as f32).to_bits()))
            .collect()
    };
    let lib = |user: &str, n: usize, f: &Filter| -> Vec<(ExternalId, u32)> {
        let u = ids.users.index(&user.into()).unwrap();
        a.recommend(u, n, f).unwrap().items.iter().map(|&(i, sc)| (ids.items.id(i).clone(), sc.to_bits())).collect()
    };
    let item = |i: i64| ids.items.index(&ExternalId::Int(i)).unwrap();

    let v = s.post("/v1/models/als/recommend", &json!({"user": "u3", "n": 5})).json();
    assert_eq!(served(&v["items"]), lib("u3", 5, &Filter::new().exclude_seen(true)));
    assert_eq!(v["user"], "u3");
    let v = s.post("/v1/models/als/recommend", &json!({"user": "u3", "n": 5, "exclude_seen": false})).json();
    assert_eq!(served(&v["items"]), lib("u3", 5, &Filter::new()));
    let body = json!({"user": "u4", "n": 4, "allow": [100, 101, 102, 103, 104, 105, 106], "deny": [101]});
    let v = s.post("/v1/models/als/recommend", &body).json();
    let f = Filter::new().exclude_seen(true).allow((100..107).map(item)).deny([item(101)]);
    assert_eq!(served(&v["items"]), lib("u4", 4, &f));
    // a huge n is capped by the catalogue, not allocated
    let v = s.post("/v1/models/als/recommend", &json!({"user": "u5", "n": 1u64 << 60, "exclude_seen": false})).json();
    assert_eq!(v["items"].as_array().unwrap().len(), 40);

    // batch form: one result per user, each equal to the single form
    let v = s.post("/v1/models/als/recommend", &json!({"users": ["u1", "u2", "u9"], "n": 3})).json();
    for (k, u) in ["u1", "u2", "u9"].iter().enumerate() {
        assert_eq!(v["results"][k]["user"], *u);
        assert_eq!(served(&v["results"][k]["items"]), lib(u, 3, &Filter::new().exclude_seen(true)));
    }

    // similar: the item itself left out, as `mercato similar`
    let v = s.post("/v1/models/als/similar", &json!({"item": 105, "n": 3})).json();
    let want: Vec<(ExternalId, u32)> = a
        .similar_items(item(105), 4)
        .unwrap()
        .into_iter()
        .filter(|&(j, _)| j != item(105))
        .take(3)
        .map(|(j, sc)| (ids.items.id(j).clone(), sc.to_bits()))
        .collect();
    let got: Vec<(ExternalId, u32)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (id_of(&e["item"]), (e["similarity"].as_f64().unwrap() as f32).to_bits()))
        .collect();
    assert_eq!(got, want);
}

const SECRET: &str = "an-hs256-test-secret-of-32-bytes-or-more";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn token(alg: Algorithm, key: &EncodingKey, claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
}

fn claims(scope: &str) -> Value {
    json!({"sub": "svc", "iss": "https://auth.test/", "aud": "mercato", "exp": now() + 300, "scope": scope})
}

fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/serve")
}

fn hash(key: &str) -> String {
    mercato_serve::hash_key(key)
}

fn auth_file(dir: &Path, keys: &[(&str, &str)]) -> PathBuf {
    let mut text = String::new();
    for (key, scopes) in keys {
        let list: Vec<String> = scopes.split_whitespace().map(|s| format!("{s:?}")).collect();
        text.push_str(&format!("[[api_keys]]\nsha256 = \"{}\"\nscopes = [{}]\n\n", hash(key), list.join(", ")));
    }
    let k = keys_dir();
    text.push_str(&format!(
        "[jwt]\nissuer = \"https://auth.test/\"\naudience = \"mercato\"\nalgorithms = [\"HS256\", \"RS256\", \"ES256\"]\n\
         hs256_secret = \"{SECRET}\"\npublic_keys = [{:?}, {:?}]\nleeway_seconds = 5\n",
        k.join("rsa_public.pem"),
        k.join("ec_public.pem")
    ));
    let p = dir.join("auth.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn every_auth_case_has_its_status_code() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    let auth =
        auth_file(dir.path(), &[("scorer-key", "score"), ("admin-key", "score recommend models:read models:write")]);
    let s = Server::start(&models, &["--auth", auth.to_str().unwrap()]);
    let body = json!({"rows": [[0.1, 0.2, 0.3]]}).to_string();
    let call = |hs: &[(&str, &str)]| s.req("POST", "/v1/models/fraud/score", hs, body.as_bytes());
    let bearer = |t: &str| format!("Bearer {t}");
    let hs = EncodingKey::from_secret(SECRET.as_bytes());

    // no credential: 401 with a challenge
    let r = call(&[]);
    assert_eq!(r.error(401), "unauthorized");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    // API keys: known with the scope, unknown, known without the scope
    assert_eq!(call(&[("x-api-key", "scorer-key")]).status, 200);
    assert_eq!(call(&[("x-api-key", "wrong-key")]).error(401), "unauthorized");
    let r = s.req("POST", "/v1/models/fraud/reload", &[("x-api-key", "scorer-key")], b"");
    assert_eq!(r.error(403), "insufficient_scope");
    assert!(r.header("www-authenticate").unwrap().contains("scope=\"models:write\""));
    assert_eq!(s.req("GET", "/v1/models", &[("x-api-key", "scorer-key")], b"").status, 403);
    assert_eq!(s.req("GET", "/v1/models", &[("x-api-key", "admin-key")], b"").status, 200);

    // JWTs: valid HS256, RS256, ES256
    let ok = token(Algorithm::HS256, &hs, claims("score"));
    assert_eq!(call(&[("authorization", &bearer(&ok))]).status, 200);
    let rsa = EncodingKey::from_rsa_pem(&std::fs::read(keys_dir().join("rsa_private.pem")).unwrap()).unwrap();
    let ec = EncodingKey::from_ec_pem(&std::fs::read(keys_dir().join("ec_private.pem")).unwrap()).unwrap();
    assert_eq!(call(&[("authorization", &bearer(&token(Algorithm::RS256, &rsa, claims("score"))))]).status, 200);
    let scopes_list = json!({"iss": "https://auth.test/", "aud": "mercato", "exp": now() + 60, "scopes": ["score"]});
    assert_eq!(call(&[("authorization", &bearer(&token(Algorithm::ES256, &ec, scopes_list)))]).status, 200);
    // bad signature (another secret), a tampered payload
    let forged =
        token(Algorithm::HS256, &EncodingKey::from_secret(b"another-secret-another-secret-xx"), claims("score"));
    assert_eq!(call(&[("authorization", &bearer(&forged))]).status, 401);
    let mut parts: Vec<String> = ok.split('.').map(String::from).collect();
    parts[1] = token(Algorithm::HS256, &hs, claims("score models:write")).split('.').nth(1).unwrap().to_string();
    assert_eq!(call(&[("authorization", &bearer(&parts.join(".")))]).status, 401);
    // expired (beyond the 5 s leeway), not yet valid, wrong audience, wrong issuer
    let mut c = claims("score");
    c["exp"] = json!(now() - 60);
    assert_eq!(call(&[("authorization", &bearer(&token(Algorithm::HS256, &hs, c)))]).status, 401);
    let mut c = claims("score");
    c["nbf"] = json!(now() + 120);
    assert_eq!(call(&[("authorization", &bearer(&token(Algorithm::HS256, &hs, c)))]).status, 401);
    let mut c = claims("score");
    c["aud"] = json!("someone-else");
    assert_eq!(call(&[("authorization", &bearer(&token(Algorithm::HS256, &hs, c)))]).status, 401);
    let mut c = claims("score");
    c["iss"] = json!("https://evil.test/");
    assert_eq!(call(&[("authorization", &bearer(&token(Algorithm::HS256, &hs, c)))]).status, 401);
    // no expiry at all, an algorithm not accepted, an unsigned token, garbage
    let mut c = claims("score");
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(call(&[("authorization", &bearer(&token(Algorithm::HS256, &hs, c)))]).status, 401);
    let hs512 = token(Algorithm::HS512, &hs, claims("score"));
    assert_eq!(call(&[("authorization", &bearer(&hs512))]).status, 401);
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", ok.split('.').nth(1).unwrap());
    assert_eq!(call(&[("authorization", &bearer(&unsigned))]).status, 401);
    assert_eq!(call(&[("authorization", "Bearer not.a.jwt")]).status, 401);
    assert_eq!(call(&[("authorization", "Basic dXNlcjpwYXNz")]).status, 401);
    // a valid token lacking the scope: 403
    let r = s.req(
        "POST",
        "/v1/models/als/recommend",
        &[("authorization", &bearer(&ok))],
        json!({"user": "u1"}).to_string().as_bytes(),
    );
    assert_eq!(r.error(403), "insufficient_scope");
    // health and metrics stay open
    assert_eq!(s.get("/healthz").status, 200);
    assert_eq!(s.get("/metrics").status, 200);

    // revoking a key: remove it from the file and send SIGHUP
    auth_file(dir.path(), &[("admin-key", "score recommend models:read models:write")]);
    s.hup();
    let t = Instant::now();
    while call(&[("x-api-key", "scorer-key")]).status != 401 {
        assert!(t.elapsed() < Duration::from_secs(10), "the revoked key still works after SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(call(&[("x-api-key", "admin-key")]).status, 200);
}

#[test]
fn every_bad_input_is_a_4xx_with_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    let s = Server::start(&models, &["--body-limit", "4096"]);
    let raw = |path: &str, body: &str| s.req("POST", path, &[("content-type", "application/json")], body.as_bytes());
    let score = "/v1/models/fraud/score";
    let rec = "/v1/models/als/recommend";

    assert_eq!(raw(score, "{\"rows\": [[1, 2, 3]").error(400), "malformed_json");
    assert_eq!(raw(score, "").error(400), "malformed_json");
    assert_eq!(raw(score, "[[1, 2, 3]]").error(422), "invalid_request");
    assert_eq!(raw(score, r#"{"rows": [[1, 2]]}"#).error(422), "shape_mismatch");
    assert_eq!(raw(score, r#"{"rows": [[1, 2, 3], [1, 2, 3, 4]]}"#).error(422), "shape_mismatch");
    assert_eq!(raw(score, r#"{"rows": [[1, "x", 3]]}"#).error(422), "invalid_request");
    assert_eq!(raw(score, r#"{"rows": [[1, null, 3]]}"#).error(422), "invalid_request");
    assert_eq!(raw(score, r#"{"rows": [[1, 1e999, 3]]}"#).error(400), "malformed_json"); // out of f64 range
    assert_eq!(raw(score, r#"{"rows": [[1, 2, 3]], "colour": 1}"#).error(422), "invalid_request");
    assert_eq!(raw(score, r#"{}"#).error(422), "invalid_request");
    assert_eq!(raw(score, r#"{"instances": [{"amount": 1, "hour": 2}]}"#).error(422), "shape_mismatch");
    assert_eq!(raw(score, r#"{"instances": [{"amount": 1, "hour": 2, "velocty": 3}]}"#).error(422), "unknown_feature");
    assert_eq!(
        raw(score, r#"{"instances": [{"amount": 1, "hour": "2", "velocity": 3}]}"#).error(422),
        "invalid_request"
    );
    assert_eq!(raw(rec, r#"{"user": "nobody"}"#).error(422), "unknown_id");
    assert_eq!(raw(rec, r#"{"user": 3}"#).error(422), "unknown_id"); // ids are strings in this model
    assert_eq!(raw(rec, r#"{"user": "u1", "allow": [999]}"#).error(422), "unknown_id");
    assert_eq!(raw(rec, r#"{"users": ["u1", "nobody"]}"#).error(422), "unknown_id");
    assert_eq!(raw(rec, r#"{"user": "u1", "n": 0}"#).error(422), "invalid_request");
    assert_eq!(raw(rec, r#"{"user": "u1", "n": -1}"#).error(422), "invalid_request");
    assert_eq!(raw(rec, r#"{"user": "u1", "users": ["u2"]}"#).error(422), "invalid_request");
    assert_eq!(raw("/v1/models/als/similar", r#"{"item": "105"}"#).error(422), "unknown_id");
    assert_eq!(raw("/v1/models/nope/score", r#"{"rows": [[1, 2, 3]]}"#).error(404), "model_not_found");
    assert_eq!(raw("/v1/models/nope/reload", "").error(404), "model_not_found");
    assert_eq!(raw("/v1/models/..%2Fetc/reload", "").error(404), "model_not_found");
    assert_eq!(raw("/v1/models/als/score", r#"{"rows": [[1, 2, 3]]}"#).error(400), "wrong_model_kind");
    assert_eq!(raw("/v1/models/fraud/recommend", r#"{"user": "u1"}"#).error(400), "wrong_model_kind");
    assert_eq!(raw("/v1/nothing", "").error(404), "not_found");
    let r = s.get(score);
    assert_eq!(r.error(405), "method_not_allowed");
    // over the body limit: declared length, and chunked with no length
    let big = format!("{{\"rows\": [{}[1, 2, 3]]}}", "[1, 2, 3], ".repeat(500));
    assert_eq!(raw(score, &big).error(413), "payload_too_large");
    let r = s.req("POST", score, &[("transfer-encoding", "chunked")], big.as_bytes());
    assert_eq!(r.error(413), "payload_too_large");
    // random bytes
    let noise: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert_eq!(s.req("POST", score, &[], &noise).error(400), "malformed_json");
    // and the server still serves
    assert_eq!(raw(score, r#"{"rows": [[1, 2, 3]]}"#).status, 200);
    let m = String::from_utf8(s.get("/metrics").body).unwrap();
    assert!(m.contains("model=\"_none\",route=\"score\",status=\"404\""), "unknown names are not labels: {m}");
    assert!(!m.contains("model=\"nope\""));
}

#[test]
fn reloads_under_concurrent_requests_fail_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    let (a, b) = (detector(1, 0.0), detector(2, 0.5));
    let (a_bytes, b_bytes) = (a.to_bytes().unwrap(), b.to_bytes().unwrap());
    let row = [0.4, 0.5, 0.6];
    let want = [a.score_one(&row).unwrap().to_bits(), b.score_one(&row).unwrap().to_bits()];
    let s = Arc::new(Server::start(&models, &[]));
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (s, stop, ok, failed) = (s.clone(), stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = s.post("/v1/models/fraud/score", &json!({"rows": [row]}));
                    let bits = (r.status == 200).then(|| r.json()["scores"][0].as_f64().unwrap().to_bits());
                    match bits {
                        // every answer comes whole from one version of the model
                        Some(b) if want.contains(&b) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let swap = |bytes: &[u8]| {
        let tmp = dir.path().join("next.mercato");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, models.join("fraud.mercato")).unwrap();
    };
    for i in 0..12 {
        swap(if i % 2 == 0 { &b_bytes } else { &a_bytes });
        if i % 3 == 2 {
            s.hup();
        } else {
            let r = s.req("POST", "/v1/models/fraud/reload", &[], b"");
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    // a bad file on disk: the reload is refused and the old version keeps serving
    std::fs::write(models.join("fraud.mercato"), b"not a model").unwrap();
    assert_eq!(s.req("POST", "/v1/models/fraud/reload", &[], b"").error(409), "reload_failed");
    std::thread::sleep(Duration::from_millis(60));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{failed} failed of {}", ok + failed);
    assert!(ok > 20, "only {ok} requests ran");
    let v = s.get("/v1/models").json()["models"][1]["version"].as_u64().unwrap();
    assert!(v >= 9, "8 route reloads + SIGHUPs, got version {v}");
}

#[test]
fn sighup_picks_up_new_and_removed_files() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    let s = Server::start(&models, &[]);
    detector(3, 0.0).save(models.join("fraud-v2.mercato")).unwrap();
    std::fs::remove_file(models.join("als.mercato")).unwrap();
    s.hup();
    let t = Instant::now();
    loop {
        let v = s.get("/v1/models").json();
        let names: Vec<&str> = v["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
        if names == ["fraud", "fraud-v2"] {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "SIGHUP did not reload: {names:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.post("/v1/models/fraud-v2/score", &json!({"rows": [[1, 2, 3]]})).status, 200);
    assert_eq!(s.post("/v1/models/als/recommend", &json!({"user": "u1"})).error(404), "model_not_found");
    assert!(read(&s.stderr).contains("SIGHUP: reloaded fraud, fraud-v2"), "{}", read(&s.stderr));
}

#[test]
fn overload_is_refused_with_503_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    let s = Arc::new(Server::start(&models, &["--max-concurrency", "1"]));
    // large batches keep the one slot busy for a while
    let big = json!({"rows": vec![[0.4, 0.5, 0.6]; 20_000], "explain": 3});
    let results: Vec<(u16, Option<String>)> = (0..12)
        .map(|_| {
            let (s, big) = (s.clone(), big.clone());
            std::thread::spawn(move || {
                let r = s.post("/v1/models/fraud/score", &big);
                (r.status, r.header("retry-after").map(String::from))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(results.iter().all(|(st, _)| *st == 200 || *st == 503), "{results:?}");
    assert!(results.iter().any(|(st, _)| *st == 200), "{results:?}");
    assert!(results.iter().any(|(st, ra)| *st == 503 && ra.as_deref() == Some("1")), "{results:?}");
    assert_eq!(s.get("/healthz").status, 200, "probes are outside the limit");
}

#[test]
fn unauthenticated_public_binds_are_refused_and_tls_works() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    let out = Command::new(env!("CARGO_BIN_EXE_mercato"))
        .args(["serve", "--addr", "0.0.0.0:0", "--models"])
        .arg(&models)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure"));
    let s = Server::start(&models, &["--insecure"]);
    assert!(read(&s.stderr).contains("no auth (loopback only)"));
    drop(s);

    let k = keys_dir();
    let s = Server::start(
        &models,
        &["--tls-cert", k.join("tls_cert.pem").to_str().unwrap(), "--tls-key", k.join("tls_key.pem").to_str().unwrap()],
    );
    let out = Command::new("curl")
        .args(["-sS", "--cacert", k.join("tls_cert.pem").to_str().unwrap()])
        .arg(format!("https://{}/healthz", s.addr))
        .output()
        .expect("curl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"], "ok");
}

/// The fenced ```sh block that follows `marker` in the README.
fn readme_block(readme: &str, after: &str) -> Vec<String> {
    let start = readme.find(after).unwrap_or_else(|| panic!("README lacks {after:?}"));
    let rest = &readme[start..];
    let open = rest.find("```sh\n").unwrap() + 6;
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].replace("\\\n", " ").lines().map(String::from).collect()
}

#[test]
fn readme_serve_examples_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("datasets"), dir.path().join("datasets")).unwrap();
    // the training commands of the section, as written (`mercato` is the binary under test)
    let setup: Vec<String> =
        readme_block(&readme, "## Serve").into_iter().filter(|l| !l.contains("mercato serve")).collect();
    assert!(setup.iter().any(|l| l.contains("mercato train detector")), "{setup:?}");
    let script = format!("set -e\nmercato() {{ \"$BIN\" \"$@\"; }}\n{}", setup.join("\n"));
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("BIN", env!("CARGO_BIN_EXE_mercato"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = Server::start(&dir.path().join("models"), &[]);
    let curls: Vec<String> =
        readme_block(&readme, "<!-- serve-examples").into_iter().filter(|l| l.starts_with("curl ")).collect();
    assert!(curls.len() >= 8, "{curls:?}");
    for line in curls {
        let cmd = line.replace("127.0.0.1:8080", &s.addr).replacen("curl -s ", "curl -sS --fail-with-body ", 1);
        let out = Command::new("bash").arg("-c").arg(&cmd).output().unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{line}\n{body}\n{}", String::from_utf8_lossy(&out.stderr));
        if line.contains("/metrics") {
            assert!(body.contains("mercato_requests_total"), "{body}");
        } else {
            let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{line}: {e}: {body}"));
            assert!(v.get("error").is_none(), "{line}: {v}");
        }
    }
}

#[cfg(feature = "torch")]
#[test]
fn classify_matches_the_library_and_refuses_bad_images() {
    use base64::Engine;
    use mercato::vision::{load_image_files, ImageClassifier};

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    std::fs::copy(repo.join("models/fashion_cnn.mercato"), models.join("cnn.mercato")).unwrap();
    let mut pictures: Vec<PathBuf> = ["bag", "sneaker"]
        .iter()
        .map(|c| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(repo.join("datasets/sample_images").join(c))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            files.remove(0)
        })
        .collect();
    pictures.sort();
    let lib = ImageClassifier::load(models.join("cnn.mercato")).unwrap();
    let expected = lib.predict_proba(&load_image_files(&pictures, lib.input_size(), lib.channels()).unwrap()).unwrap();
    let s = Server::start(&models, &[]);

    // one raw PNG body
    let png = std::fs::read(&pictures[0]).unwrap();
    let v = s.req("POST", "/v1/models/cnn/classify?top_k=3", &[("content-type", "image/png")], &png).json();
    let top = v["results"][0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let row = expected.row(0);
    let best = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
    assert_eq!(v["results"][0]["label"], lib.class_names()[best]);
    assert!((top[0]["probability"].as_f64().unwrap() - row[best] as f64).abs() < 1e-6, "{v}");

    // a JSON batch of base64 images gives one result per image, in order
    let encoded: Vec<String> =
        pictures.iter().map(|p| base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).unwrap())).collect();
    let v = s.post("/v1/models/cnn/classify", &json!({"images": encoded, "top_k": 1})).json();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (r, result) in results.iter().enumerate() {
        let row = expected.row(r);
        let best = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(result["label"], lib.class_names()[best]);
    }

    // bad input: 4xx with a JSON error, never a 5xx
    let raw = |path: &str, ct: &str, body: &[u8]| s.req("POST", path, &[("content-type", ct)], body);
    assert_eq!(raw("/v1/models/cnn/classify", "image/png", b"not a png").error(422), "bad_image");
    assert_eq!(raw("/v1/models/cnn/classify", "image/png", &png[..png.len() / 3]).error(422), "bad_image");
    assert_eq!(raw("/v1/models/cnn/classify?top_k=0", "image/png", &png).error(422), "invalid_request");
    assert_eq!(raw("/v1/models/cnn/classify?k=2", "image/png", &png).error(422), "invalid_request");
    assert_eq!(s.post("/v1/models/cnn/classify", &json!({"images": ["%%%"]})).error(422), "invalid_request");
    assert_eq!(s.post("/v1/models/cnn/classify", &json!({"images": []})).error(422), "invalid_request");
    assert_eq!(raw("/v1/models/fraud/classify", "image/png", &png).error(400), "wrong_model_kind");
    assert_eq!(s.post("/v1/models/cnn/score", &json!({"rows": [[1, 2, 3]]})).error(400), "wrong_model_kind");
    let listed = s.get("/v1/models").json();
    let cnn = listed["models"].as_array().unwrap().iter().find(|m| m["name"] == "cnn").unwrap().clone();
    assert_eq!(cnn["classes"].as_array().unwrap().len(), lib.num_classes());
}

#[cfg(feature = "torch")]
#[test]
fn recommend_sequence_matches_the_library() {
    use mercato::data::ExternalId;
    use mercato::recommend::sequential::{Sequences, SequentialParams};

    // Users walk the cycle 100 -> ... -> 105 with alternating view/buy events.
    let (mut users, mut items, mut times, mut events) = (vec![], vec![], vec![], vec![]);
    for u in 0..20usize {
        for t in 0..10usize {
            users.push(ExternalId::from(format!("u{u}")));
            items.push(ExternalId::from(100 + ((u + t) % 6) as i64));
            times.push(t as i64);
            events.push(ExternalId::from(if t % 2 == 0 { "view" } else { "buy" }));
        }
    }
    let data = Sequences::from_events(&users, &items, &times, &[("event", &events)]).unwrap();
    let model = SequentialParams::sasrec()
        .factors(16)
        .layers(1)
        .max_len(8)
        .epochs(20)
        .learning_rate(5e-3)
        .patience(None)
        .device("cpu".parse().unwrap())
        .fit(&data)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    model.save(models.join("seq.mercato")).unwrap();
    let s = Server::start(&models, &[]);

    let session = [ExternalId::from(103), ExternalId::from(104)];
    let ctx = vec![vec![ExternalId::from("view"), ExternalId::from("buy")]];
    let expected = model.recommend_sequence(&session, &ctx, 3, true).unwrap();
    let v = s
        .post(
            "/v1/models/seq/recommend_sequence",
            &json!({"items": [103, 104], "context": {"event": ["view", "buy"]}, "n": 3}),
        )
        .json();
    let got: Vec<i64> = v["items"].as_array().unwrap().iter().map(|i| i["item"].as_i64().unwrap()).collect();
    let want: Vec<i64> = expected.items.iter().map(|(i, _)| i.as_int().unwrap()).collect();
    assert_eq!(got, want, "{v}");
    assert_eq!(v["fallback"], false);
    // Training users are served by the recommend route like any recommender.
    let v = s.post("/v1/models/seq/recommend", &json!({"user": "u3", "n": 2, "exclude_seen": false})).json();
    assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");
    // Bad requests are 4xx with a JSON error.
    let missing = s.post("/v1/models/seq/recommend_sequence", &json!({"items": [103]}));
    assert_eq!(missing.error(422), "invalid_input");
    let extra = json!({"items": [103], "context": {"event": ["view"], "hour": [3]}});
    assert_eq!(s.post("/v1/models/seq/recommend_sequence", &extra).error(422), "invalid_input");
    assert_eq!(s.post("/v1/models/als/recommend_sequence", &json!({"items": [1]})).error(422), "invalid_input");
    assert_eq!(s.post("/v1/models/fraud/recommend_sequence", &json!({"items": [1]})).error(400), "wrong_model_kind");
}

#[test]
fn hybrid_cold_start_routes_match_the_library() {
    use mercato::recommend::hybrid::{Features, HybridMF, HybridMFParams};

    // Two taste groups; users and items carry their group as a named feature.
    let events: Vec<(String, i64, f32)> = (0..40u32)
        .flat_map(|u| {
            (0..30i64)
                .filter(move |i| i % 2 == i64::from(u % 2) && (i64::from(u) + i) % 3 != 0)
                .map(move |i| (format!("u{u}"), 100 + i, 1.0))
        })
        .collect();
    let data = Interactions::from_triples(events, DuplicatePolicy::Error).unwrap();
    let user_group = |r: usize| data.users().id(r).as_str().unwrap()[1..].parse::<usize>().unwrap() % 2;
    let item_group = |r: usize| data.items().id(r).as_int().unwrap() as usize % 2;
    let users = Features::from_rows(2, (0..data.n_users()).map(|r| vec![(user_group(r), 1.0)])).unwrap();
    let items = Features::from_rows(2, (0..data.n_items()).map(|r| vec![(item_group(r), 1.0)])).unwrap();
    let mut model: HybridMF =
        HybridMFParams::default().factors(8).epochs(20).seed(4).fit(&data, Some(&users), Some(&items)).unwrap();
    let names = vec!["group=even".to_string(), "group=odd".to_string()];
    model.set_feature_names(names.clone(), names).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    model.save(models.join("hybrid.mercato")).unwrap();
    let s = Server::start(&models, &[]);
    let ids =
        |v: &Value| -> Vec<ExternalId> { v["items"].as_array().unwrap().iter().map(|i| id_of(&i["item"])).collect() };

    // a new user by features
    let want = model.recommend_from_features(&[("group=odd", 1.0)], 4, &Filter::new()).unwrap();
    let v = s.post("/v1/models/hybrid/recommend", &json!({"user_features": {"group=odd": 1.0}, "n": 4})).json();
    assert_eq!(ids(&v), want.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(), "{v}");
    assert_eq!(v["fallback"], false);
    // a new item by features: training items like it
    let want = model.similar_to_features(&[("group=even", 2.0)], 3).unwrap();
    let v = s.post("/v1/models/hybrid/similar", &json!({"item_features": {"group=even": 2.0}, "n": 3})).json();
    assert_eq!(ids(&v), want.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(), "{v}");
    // new items ranked for a known user, with the library's scores
    let new = json!({"user": "u1", "items": [
        {"id": "sku-even", "features": {"group=even": 1.0}},
        {"id": "sku-odd", "features": {"group=odd": 1.0}},
        {"id": 7, "features": {}}]});
    let v = s.post("/v1/models/hybrid/rank_new_items", &new).json();
    let rows = vec![vec![("group=even", 1.0)], vec![("group=odd", 1.0)], vec![]];
    let want = model.rank_new_items(&"u1".into(), &rows, 3).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["items"][0]["item"], "sku-odd", "{v}");
    for (got, (i, score)) in v["items"].as_array().unwrap().iter().zip(&want) {
        assert_eq!(id_of(&got["item"]), id_of(&new["items"][*i]["id"]));
        assert_eq!(got["score"].as_f64().unwrap() as f32, *score);
    }
    let v = s.post("/v1/models/hybrid/rank_new_items", &json!({"user": "u1", "items": new["items"], "n": 1})).json();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // known users and items are still served as before
    let v = s.post("/v1/models/hybrid/similar", &json!({"item": 101, "n": 2})).json();
    assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");

    // bad requests: 4xx with a JSON error (invalid_request: not this route's request;
    // invalid_input: data the model cannot use; unknown_id: a name it never saw)
    let post = |path: &str, body: Value| s.post(&format!("/v1/models/{path}"), &body);
    assert_eq!(post("hybrid/recommend", json!({"user_features": {"group=teal": 1.0}})).error(422), "unknown_id");
    assert_eq!(post("hybrid/recommend", json!({"user_features": {"group=odd": -1.0}})).error(422), "invalid_input");
    assert_eq!(post("hybrid/recommend", json!({"user": "u1", "user_features": {}})).error(422), "invalid_request");
    assert_eq!(post("hybrid/recommend", json!({"user_features": {"group=odd": "x"}})).error(422), "invalid_request");
    assert_eq!(post("hybrid/similar", json!({"n": 2})).error(422), "invalid_request");
    // past f32 is not a number this route reads; within it, but overflowing a score, is bad data
    assert_eq!(post("hybrid/similar", json!({"item_features": {"group=odd": 1e39}})).error(400), "malformed_json");
    assert_eq!(post("hybrid/similar", json!({"item_features": {"group=odd": 3.4e38}})).error(422), "invalid_input");
    let twice = json!({"user": "u1", "items": [{"id": 1, "features": {}}, {"id": 1, "features": {}}]});
    assert_eq!(post("hybrid/rank_new_items", twice).error(422), "invalid_request");
    let nobody = json!({"user": "nobody", "items": [{"id": 1, "features": {}}]});
    assert_eq!(post("hybrid/rank_new_items", nobody).error(422), "unknown_id");
    assert_eq!(post("hybrid/rank_new_items", json!({"user": "u1", "items": []})).error(422), "invalid_input");
    let zero = json!({"user": "u1", "items": [{"id": 1, "features": {}}], "n": 0});
    assert_eq!(post("hybrid/rank_new_items", zero).error(422), "invalid_request");
    // models without features say so; detectors are the wrong kind
    assert_eq!(post("als/recommend", json!({"user_features": {"a": 1.0}})).error(422), "invalid_input");
    let one = json!({"user": "u1", "items": [{"id": 1, "features": {}}]});
    assert_eq!(post("als/rank_new_items", one.clone()).error(422), "invalid_input");
    assert_eq!(post("fraud/rank_new_items", one).error(400), "wrong_model_kind");
}

#[test]
fn content_model_is_served_by_item_and_by_session() {
    use mercato::data::IdMap;
    use mercato::recommend::hybrid::ItemContentParams;
    use mercato::recommend::Rows;

    // Twelve products: three categories, two brands; ids are SKUs, features are named.
    let names: Vec<String> =
        ["category=shoes", "category=bags", "category=hats", "brand=acme", "brand=zenith"].map(String::from).to_vec();
    let triplets: Vec<(usize, usize, f32)> = (0..12).flat_map(|i| [(i, i % 3, 1.0), (i, 3 + i % 2, 1.0)]).collect();
    let mut model = ItemContentParams::default().fit(&Rows::from_triplets(12, 5, &triplets).unwrap()).unwrap();
    let sku = |i: usize| ExternalId::from(format!("sku-{i}").as_str());
    model.set_item_ids(IdMap::from_ids((0..12).map(sku)).unwrap()).unwrap();
    model.set_feature_names(names).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_models(&models);
    model.save(models.join("content.mercato")).unwrap();
    let s = Server::start(&models, &[]);
    let ids =
        |v: &Value| -> Vec<ExternalId> { v["items"].as_array().unwrap().iter().map(|i| id_of(&i["item"])).collect() };
    let scores = |v: &Value| -> Vec<f32> {
        v["items"].as_array().unwrap().iter().map(|i| i["similarity"].as_f64().unwrap() as f32).collect()
    };

    // similar to a catalogue item: the library's list without the item itself
    let want: Vec<(ExternalId, f32)> =
        model.similar_items_ids(&sku(0), 4).unwrap().into_iter().filter(|(i, _)| *i != sku(0)).take(3).collect();
    let v = s.post("/v1/models/content/similar", &json!({"item": "sku-0", "n": 3})).json();
    assert_eq!(ids(&v), want.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(), "{v}");
    assert_eq!(scores(&v), want.iter().map(|p| p.1).collect::<Vec<_>>());
    // a new product by named features
    let want = model.similar_to_named_features(&[("category=hats", 1.0), ("brand=zenith", 1.0)], 2).unwrap();
    let body = json!({"item_features": {"category=hats": 1.0, "brand=zenith": 1.0}, "n": 2});
    let v = s.post("/v1/models/content/similar", &body).json();
    assert_eq!(ids(&v), want.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(), "{v}");
    // a visitor's viewed items: more like them, without them
    let viewed = [sku(1), sku(4)];
    let want = model.recommend_from_items(&viewed, 3, &Filter::new().exclude_seen(true)).unwrap();
    let v = s.post("/v1/models/content/recommend_sequence", &json!({"items": ["sku-1", "sku-4"], "n": 3})).json();
    assert_eq!(ids(&v), want.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(), "{v}");
    assert!(ids(&v).iter().all(|i| !viewed.contains(i)));
    assert_eq!(v["fallback"], false);
    // the model list shows it as a recommender without users
    let v = s.get("/v1/models").json();
    let listed = v["models"].as_array().unwrap().iter().find(|m| m["name"] == "content").unwrap().clone();
    assert_eq!(
        (listed["kind"].as_str(), listed["users"].as_u64(), listed["items"].as_u64()),
        (Some("recommend.item_content"), Some(0), Some(12))
    );

    // bad requests: 4xx with a JSON error
    let post = |path: &str, body: Value| s.post(&format!("/v1/models/{path}"), &body);
    assert_eq!(post("content/recommend", json!({"user": "u1"})).error(422), "invalid_input");
    assert_eq!(post("content/recommend", json!({"user_features": {"a": 1.0}})).error(422), "invalid_input");
    assert_eq!(post("content/similar", json!({"item": "sku-99"})).error(422), "unknown_id");
    assert_eq!(post("content/similar", json!({"item_features": {"colour=red": 1.0}})).error(422), "unknown_id");
    assert_eq!(post("content/recommend_sequence", json!({"items": ["sku-99"]})).error(422), "unknown_id");
    let ctx = json!({"items": ["sku-1"], "context": {"event": ["view"]}});
    assert_eq!(post("content/recommend_sequence", ctx).error(422), "invalid_input");
    let one = json!({"user": "u1", "items": [{"id": 1, "features": {}}]});
    assert_eq!(post("content/rank_new_items", one).error(422), "invalid_input");
}
