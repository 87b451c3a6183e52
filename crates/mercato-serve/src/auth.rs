//! Credentials and scopes: API keys (stored as SHA-256 hashes, compared in constant time) and
//! JWT bearer tokens (HS256 secret, or RS*/ES* public keys from PEM files or a JWKS file).
//!
//! The auth file is TOML; relative key paths are read from the auth file's folder:
//!
//! ```toml
//! [[api_keys]]
//! name = "checkout"                 # optional, a label for operators
//! sha256 = "<64 hex digits>"        # sha256 of the key; the key itself is never stored
//! scopes = ["score", "recommend"]
//!
//! [jwt]
//! issuer = "https://auth.example.com/"
//! audience = "mercato"
//! algorithms = ["RS256", "ES256"]   # only these are accepted (never "none")
//! hs256_secret = "..."              # or hs256_secret_file = "secret.txt"
//! public_keys = ["rsa.pem", "ec.pem"]
//! jwks = "jwks.json"
//! leeway_seconds = 30               # clock skew allowed on exp / nbf (default 30)
//! ```
//!
//! Clients send an API key as `X-Api-Key: <key>` and a token as `Authorization: Bearer <jwt>`;
//! token scopes come from the `scope` claim (space-separated) or the `scopes` claim (a list).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// A permission a route asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `POST /v1/models/{name}/score`.
    Score,
    /// `POST /v1/models/{name}/recommend` and `/similar`.
    Recommend,
    /// `POST /v1/models/{name}/classify`.
    Classify,
    /// `GET /v1/models`.
    ModelsRead,
    /// `POST /v1/models/{name}/reload`.
    ModelsWrite,
}

impl Scope {
    /// The scope as written in the auth file and in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Score => "score",
            Scope::Recommend => "recommend",
            Scope::Classify => "classify",
            Scope::ModelsRead => "models:read",
            Scope::ModelsWrite => "models:write",
        }
    }

    fn parse(s: &str) -> Option<Scope> {
        [Scope::Score, Scope::Recommend, Scope::Classify, Scope::ModelsRead, Scope::ModelsWrite]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    #[serde(default)]
    api_keys: Vec<ApiKeyEntry>,
    jwt: Option<JwtEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyEntry {
    #[serde(default)]
    name: Option<String>,
    sha256: String,
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtEntry {
    issuer: Option<String>,
    audience: Option<String>,
    algorithms: Vec<String>,
    hs256_secret: Option<String>,
    hs256_secret_file: Option<PathBuf>,
    #[serde(default)]
    public_keys: Vec<PathBuf>,
    jwks: Option<PathBuf>,
    leeway_seconds: Option<u64>,
}

struct ApiKey {
    hash: [u8; 32],
    scopes: HashSet<Scope>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

fn family(a: Algorithm) -> Family {
    use Algorithm::*;
    match a {
        HS256 | HS384 | HS512 => Family::Hmac,
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Family::Rsa,
        ES256 | ES384 => Family::Ec,
        EdDSA => Family::Ed,
    }
}

struct JwtKey {
    family: Family,
    kid: Option<String>,
    key: DecodingKey,
}

struct Jwt {
    issuer: Option<String>,
    audience: Option<String>,
    algorithms: Vec<Algorithm>,
    keys: Vec<JwtKey>,
    leeway: u64,
}

/// Parsed credentials configuration; see the module docs for the file format.
pub struct Auth {
    keys: Vec<ApiKey>,
    jwt: Option<Jwt>,
}

/// Shows counts only: key hashes and secrets stay out of logs.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("api_keys", &self.keys.len())
            .field("jwt_keys", &self.jwt.as_ref().map_or(0, |j| j.keys.len()))
            .finish()
    }
}

fn scopes(list: &[String]) -> Result<HashSet<Scope>, String> {
    list.iter()
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                format!("unknown scope {s:?} (expected score, recommend, classify, models:read, models:write)")
            })
        })
        .collect()
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The hex SHA-256 of an API key, as the auth file stores it (`printf %s KEY | sha256sum`).
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Auth {
    /// Reads and validates an auth file.
    pub fn load(path: &Path) -> Result<Auth, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Auth::parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses an auth file's text; key paths are relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Auth, String> {
        let file: AuthFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let keys = file
            .api_keys
            .iter()
            .map(|k| {
                let label = k.name.as_deref().unwrap_or("api key");
                let hash = hex32(&k.sha256).ok_or_else(|| format!("{label}: sha256 must be 64 hex digits"))?;
                Ok(ApiKey { hash, scopes: scopes(&k.scopes)? })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let jwt = file.jwt.map(|j| Jwt::from_entry(j, base)).transpose()?;
        if keys.is_empty() && jwt.is_none() {
            return Err("no [[api_keys]] and no [jwt]: nobody could call the API".into());
        }
        Ok(Auth { keys, jwt })
    }

    /// Checks the request's credential and that it grants `scope`: 401 (with
    /// `WWW-Authenticate`) for a missing or invalid credential, 403 for a valid one without it.
    pub fn check(&self, headers: &HeaderMap, scope: Scope) -> Result<(), ApiError> {
        let granted = if let Some(key) = headers.get("x-api-key") {
            self.api_key_scopes(key.as_bytes()).ok_or_else(|| unauthorized("invalid_token", "unknown API key"))?
        } else if let Some(v) = headers.get(header::AUTHORIZATION) {
            let v = v.to_str().map_err(|_| unauthorized("invalid_request", "unreadable Authorization header"))?;
            let token = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .ok_or_else(|| unauthorized("invalid_request", "Authorization must be `Bearer <token>`"))?;
            let jwt =
                self.jwt.as_ref().ok_or_else(|| unauthorized("invalid_token", "bearer tokens are not accepted"))?;
            jwt.verify(token.trim())?
        } else {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "credentials required")
                .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"mercato\""));
        };
        if granted.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("the credential lacks the scope {:?}", scope.as_str()),
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                &format!("Bearer realm=\"mercato\", error=\"insufficient_scope\", scope=\"{}\"", scope.as_str()),
            ))
        }
    }

    /// The scopes of the key whose hash matches. Every stored hash is compared, in constant
    /// time each, so timing reveals neither which key matched nor how much of a hash did.
    fn api_key_scopes(&self, key: &[u8]) -> Option<HashSet<Scope>> {
        let h: [u8; 32] = Sha256::digest(key).into();
        let mut found = None;
        for (i, k) in self.keys.iter().enumerate() {
            if bool::from(k.hash.ct_eq(&h)) {
                found = Some(i);
            }
        }
        found.map(|i| self.keys[i].scopes.clone())
    }
}

fn unauthorized(error: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        .with_header(header::WWW_AUTHENTICATE, &format!("Bearer realm=\"mercato\", error=\"{error}\""))
}

impl Jwt {
    fn from_entry(j: JwtEntry, base: &Path) -> Result<Jwt, String> {
        let algorithms = j
            .algorithms
            .iter()
            .map(|a| a.parse::<Algorithm>().map_err(|_| format!("[jwt] unknown algorithm {a:?}")))
            .collect::<Result<Vec<_>, String>>()?;
        if algorithms.is_empty() {
            return Err("[jwt] algorithms must name at least one algorithm".into());
        }
        let read = |p: &PathBuf| std::fs::read(base.join(p)).map_err(|e| format!("{}: {e}", base.join(p).display()));
        let mut keys = Vec::new();
        let secret = match (&j.hs256_secret, &j.hs256_secret_file) {
            (Some(s), None) => Some(s.as_bytes().to_vec()),
            (None, Some(p)) => Some(read(p)?.trim_ascii().to_vec()),
            (None, None) => None,
            (Some(_), Some(_)) => return Err("[jwt] give hs256_secret or hs256_secret_file, not both".into()),
        };
        if let Some(s) = secret {
            if s.len() < 32 {
                return Err("[jwt] the HS256 secret must be at least 32 bytes".into());
            }
            keys.push(JwtKey { family: Family::Hmac, kid: None, key: DecodingKey::from_secret(&s) });
        }
        for p in &j.public_keys {
            let pem = read(p)?;
            let (family, key) = if let Ok(k) = DecodingKey::from_rsa_pem(&pem) {
                (Family::Rsa, k)
            } else if let Ok(k) = DecodingKey::from_ec_pem(&pem) {
                (Family::Ec, k)
            } else if let Ok(k) = DecodingKey::from_ed_pem(&pem) {
                (Family::Ed, k)
            } else {
                return Err(format!("{}: not an RSA, EC or Ed25519 public key in PEM", p.display()));
            };
            keys.push(JwtKey { family, kid: None, key });
        }
        if let Some(p) = &j.jwks {
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_slice(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?;
            for jwk in &set.keys {
                let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("{}: {e}", p.display()))?;
                let family = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Family::Rsa,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Family::Ec,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Family::Ed,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_) => Family::Hmac,
                };
                keys.push(JwtKey { family, kid: jwk.common.key_id.clone(), key });
            }
        }
        for a in &algorithms {
            if !keys.iter().any(|k| k.family == family(*a)) {
                return Err(format!("[jwt] algorithm {a:?} is accepted but no key of its kind is configured"));
            }
        }
        Ok(Jwt { issuer: j.issuer, audience: j.audience, algorithms, keys, leeway: j.leeway_seconds.unwrap_or(30) })
    }

    /// Verifies signature, algorithm, expiry, not-before, issuer and audience; returns the scopes.
    fn verify(&self, token: &str) -> Result<HashSet<Scope>, ApiError> {
        let bad = |m: String| unauthorized("invalid_token", &m);
        let head = jsonwebtoken::decode_header(token).map_err(|e| bad(format!("malformed token: {e}")))?;
        if !self.algorithms.contains(&head.alg) {
            return Err(bad(format!("algorithm {:?} is not accepted", head.alg)));
        }
        let mut v = Validation::new(head.alg);
        v.leeway = self.leeway;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        match &self.audience {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        if let Some(i) = &self.issuer {
            v.set_issuer(&[i]);
        }
        let fam = family(head.alg);
        let candidates = self
            .keys
            .iter()
            .filter(|k| k.family == fam && (head.kid.is_none() || k.kid.is_none() || k.kid == head.kid));
        let mut last = None;
        for k in candidates {
            match jsonwebtoken::decode::<serde_json::Value>(token, &k.key, &v) {
                Ok(data) => return Ok(token_scopes(&data.claims)),
                Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => last = Some(e),
                Err(e) => return Err(bad(format!("token rejected: {e}"))),
            }
        }
        Err(bad(match last {
            Some(e) => format!("token rejected: {e}"),
            None => "no key matches the token".into(),
        }))
    }
}

/// Scopes from `scope` ("a b c") or `scopes` (["a", "b"] or "a b"); unknown ones are ignored.
fn token_scopes(claims: &serde_json::Value) -> HashSet<Scope> {
    let mut out = HashSet::new();
    for name in ["scope", "scopes"] {
        match claims.get(name) {
            Some(serde_json::Value::String(s)) => out.extend(s.split_whitespace().filter_map(Scope::parse)),
            Some(serde_json::Value::Array(a)) => {
                out.extend(a.iter().filter_map(|v| v.as_str()).filter_map(Scope::parse))
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_by_hash_only_and_scopes_are_checked() {
        let text = format!("[[api_keys]]\nsha256 = \"{}\"\nscopes = [\"score\"]\n", hash_key("s3cret"));
        let auth = Auth::parse(&text, Path::new(".")).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(auth.check(&h, Scope::Score).unwrap_err().status, StatusCode::UNAUTHORIZED);
        h.insert("x-api-key", "s3cret".parse().unwrap());
        assert!(auth.check(&h, Scope::Score).is_ok());
        assert_eq!(auth.check(&h, Scope::ModelsWrite).unwrap_err().status, StatusCode::FORBIDDEN);
        h.insert("x-api-key", "s3cres".parse().unwrap());
        assert_eq!(auth.check(&h, Scope::Score).unwrap_err().status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        let base = Path::new(".");
        assert!(Auth::parse("", base).unwrap_err().contains("nobody"));
        assert!(Auth::parse("[[api_keys]]\nsha256 = \"ab\"\nscopes = []\n", base).unwrap_err().contains("64 hex"));
        let bad_scope = format!("[[api_keys]]\nsha256 = \"{}\"\nscopes = [\"admin\"]\n", hash_key("k"));
        assert!(Auth::parse(&bad_scope, base).unwrap_err().contains("admin"));
        let short = "[jwt]\nalgorithms = [\"HS256\"]\nhs256_secret = \"short\"\n";
        assert!(Auth::parse(short, base).unwrap_err().contains("32 bytes"));
        let keyless = "[jwt]\nalgorithms = [\"RS256\"]\nhs256_secret = \"0123456789abcdef0123456789abcdef\"\n";
        assert!(Auth::parse(keyless, base).unwrap_err().contains("RS256"));
    }
}
