//! The one error shape of every route: `{"error": {"code": "...", "message": "..."}}` with a
//! status code chosen by cause, so clients can branch on `code` without parsing messages.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `"shape_mismatch"`.
    pub code: &'static str,
    /// Human-readable detail.
    pub message: String,
    /// Extra headers (`WWW-Authenticate`, `Retry-After`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with no extra headers.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), headers: Vec::new() }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// 400: the body is not JSON.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    }

    /// 422: JSON, but not the request this route reads.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    /// 404: no model of that name.
    pub fn model_not_found(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "model_not_found", format!("no model named {name:?}"))
    }

    /// 400: the model exists but does not serve this route (e.g. `score` on a recommender).
    pub fn wrong_kind(name: &str, kind: &str, route: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "wrong_model_kind",
            format!("model {name:?} is a {kind} model: it has no {route} route"),
        )
    }

    /// 500 for the server's own faults (never for anything a request contains).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<mercato::Error> for ApiError {
    /// Library errors raised while serving a request are about the request's data (the
    /// models were validated at load time), so they map to 4xx by cause.
    fn from(e: mercato::Error) -> Self {
        use mercato::Error as E;
        let (status, code) = match &e {
            E::ShapeMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "shape_mismatch"),
            E::UnknownId { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_id"),
            E::InvalidInput(_) | E::Parse { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            E::NotFitted(_) => (StatusCode::UNPROCESSABLE_ENTITY, "not_fitted"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut r = (self.status, axum::Json(body)).into_response();
        for (k, v) in self.headers {
            r.headers_mut().insert(k, v);
        }
        r
    }
}

/// The code for an error status produced outside a handler (the body limit, the timeout, a
/// caught panic, an unmatched route), for [`json_errors`](crate::routes).
pub(crate) fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => "timeout",
        StatusCode::SERVICE_UNAVAILABLE => "overloaded",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}
