//! HTTP error responses. Every error the service returns is JSON and is logged
//! once here, without personal data.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::AuthError;
use crate::redact::certificate_ref;

/// Maximum number of characters of a rejected value echoed in an error body.
const ECHO_LIMIT: usize = 64;

/// An error returned to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or invalid bearer token: 401.
    #[error("{0}")]
    Unauthorized(#[from] AuthError),
    /// A valid token without the role this route needs: 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A path parameter that cannot be an id: 400.
    #[error("invalid {kind}: {reason}")]
    InvalidId {
        /// Kind of id, such as `beneficiary id`.
        kind: &'static str,
        /// The rule it breaks.
        reason: String,
        /// The rejected value, decoded as far as possible.
        value: String,
    },
    /// A query parameter with an invalid value: 400.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The rule it breaks.
        reason: String,
        /// The rejected value.
        value: String,
    },
    /// Nothing to serve for this id: 404 with DIVOC's event object.
    #[error("certificate not found")]
    NotFound {
        /// The id from the request, echoed as DIVOC's `source`.
        source_id: String,
    },
    /// The store is unavailable: 503.
    #[error("certificate store unavailable: {0}")]
    Unavailable(String),
    /// A stored certificate could not be read or rendered: 500.
    #[error("certificate {certificate_id} could not be rendered: {message}")]
    Render {
        /// The certificate that failed.
        certificate_id: String,
        /// What failed.
        message: String,
    },
    /// Any other failure: 500.
    #[error("internal error: {0}")]
    Internal(String),
    /// A known route called with another method: 405.
    #[error("method {method} not allowed")]
    MethodNotAllowed {
        /// Request method.
        method: String,
        /// Methods the route serves, as in the `Allow` header.
        allow: &'static str,
    },
    /// No route matches: 404.
    #[error("no route for {method} {path}")]
    NoRoute {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::InvalidId { .. } | ApiError::InvalidParameter { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotFound { .. } | ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Render { .. } | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let body = match self {
            ApiError::Unauthorized(error) => {
                json!({"error": "unauthorized", "message": error.to_string()})
            }
            ApiError::Forbidden(reason) => {
                json!({"error": "forbidden", "message": format!("forbidden: {reason}")})
            }
            ApiError::InvalidId {
                kind,
                reason,
                value,
            } => json!({
                "error": "invalid_id",
                "message": format!("invalid {kind}: {reason}"),
                "value": truncate(value),
            }),
            ApiError::InvalidParameter {
                name,
                reason,
                value,
            } => json!({
                "error": "invalid_parameter",
                "message": format!("invalid {name}: {reason}"),
                "value": truncate(value),
            }),
            ApiError::NotFound { source_id } => json!({
                "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "source": source_id,
                "type": "internal-failed",
                "extra": "Certificate not found",
            }),
            ApiError::Unavailable(_) => json!({
                "error": "store_unavailable",
                "message": "the certificate store is not answering; retry later",
            }),
            ApiError::Render {
                certificate_id,
                message,
            } => json!({
                "error": "render_failed",
                "message": format!("certificate {certificate_id} could not be rendered: {message}"),
                "certificateId": certificate_id,
            }),
            ApiError::Internal(_) => {
                json!({"error": "internal", "message": "internal error; see the server log"})
            }
            ApiError::MethodNotAllowed { method, allow } => json!({
                "error": "method_not_allowed",
                "message": format!("method {method} is not allowed on this route; use {allow}"),
            }),
            ApiError::NoRoute { method, path } => json!({
                "error": "not_found",
                "message": format!("no route for {method} {}", truncate(path)),
            }),
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized(_) => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            _ => {}
        }
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        response.json(body)
    }
}

impl ApiError {
    /// Logs the error once, without ids or names: certificate ids appear only as a
    /// hash reference (see `redact`).
    fn log(&self) {
        match self {
            ApiError::Unauthorized(error) => {
                tracing::info!(reason = %error, "request rejected: not authenticated")
            }
            ApiError::Forbidden(reason) => {
                tracing::info!(reason = %reason, "request rejected: forbidden")
            }
            ApiError::InvalidId {
                kind,
                reason,
                value,
            } => {
                tracing::info!(kind, reason = %reason, length = value.len(), "request rejected: invalid id");
            }
            ApiError::InvalidParameter { name, reason, .. } => {
                // A reason may quote the request, such as a body that serde
                // could not read.
                let reason = divoc_model::redact_values(reason);
                tracing::info!(parameter = name, reason = %reason, "request rejected: invalid parameter");
            }
            ApiError::NotFound { .. } => tracing::info!("certificate not found"),
            ApiError::Unavailable(message) => {
                tracing::error!(error = %one_line(message), "certificate store unavailable")
            }
            ApiError::Render {
                certificate_id,
                message,
            } => tracing::error!(
                certificate.reference = %certificate_ref(certificate_id),
                error = %message,
                "certificate could not be rendered"
            ),
            ApiError::Internal(message) => {
                tracing::error!(error = %one_line(message), "internal error")
            }
            ApiError::NoRoute { method, .. } => tracing::info!(method = %method, "no route"),
            ApiError::MethodNotAllowed { method, .. } => {
                tracing::info!(method = %method, "method not allowed")
            }
        }
    }
}

/// Joins the lines of a message, such as libpq's multi-line errors, so that each
/// log entry stays on one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts an echoed value to [`ECHO_LIMIT`] characters, marking the cut with `…`.
pub fn truncate(value: &str) -> String {
    if value.chars().count() <= ECHO_LIMIT {
        return value.to_owned();
    }
    let mut shortened: String = value.chars().take(ECHO_LIMIT).collect();
    shortened.push('…');
    shortened
}

/// The largest body a route reads, in bytes, as its 413 response names it.
/// Registered with `app_data` on the resource, next to the extractor
/// configuration that sets the limit.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The body limit of `POST /certificate/api/print`, which `print.rs` sets with
/// its `PayloadConfig` (`MAX_BODY_BYTES`, 160 KiB) without a [`BodyLimit`].
/// The test `print_body_over_limit_names_limit` checks that the two agree.
// NOTE: print.rs could register `BodyLimit(MAX_BODY_BYTES)` on its resource;
// this copy and the match on the route pattern would then go.
const PRINT_BODY_BYTES: usize = 160 * 1024;

/// Returns the body limit of the route that handled `request`.
fn body_limit(request: &actix_web::HttpRequest) -> Option<usize> {
    if let Some(BodyLimit(limit)) = request.app_data::<BodyLimit>() {
        return Some(*limit);
    }
    (request.match_pattern().as_deref() == Some("/certificate/api/print"))
        .then_some(PRINT_BODY_BYTES)
}

/// Rewrites the plain-text error responses of actix-web's own extractors as
/// JSON error bodies, like every other error of the API. That covers 413, for a
/// body over a route's limit, and 415, for a content type the route does not
/// read. Responses that are already JSON are left alone.
pub fn json_extractor_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new()
        .handler(StatusCode::PAYLOAD_TOO_LARGE, |response| {
            let message = match body_limit(response.request()) {
                Some(limit) => format!("the request body is larger than {limit} bytes"),
                None => "the request body is larger than this route accepts".to_owned(),
            };
            Ok(json_error_body(response, "payload_too_large", &message))
        })
        .handler(StatusCode::UNSUPPORTED_MEDIA_TYPE, |response| {
            Ok(json_error_body(
                response,
                "unsupported_media_type",
                "the request's Content-Type is not one this route reads",
            ))
        })
}

fn json_error_body<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
    code: &str,
    message: &str,
) -> ErrorHandlerResponse<B> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return ErrorHandlerResponse::Response(response.map_into_left_body());
    }
    let content_type = response
        .request()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(truncate);
    let body = match content_type {
        Some(value) if code == "unsupported_media_type" => {
            json!({"error": code, "message": message, "value": value})
        }
        _ => json!({"error": code, "message": message}),
    };
    let (request, mut head) = response.into_parts();
    head.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let head = head.set_body(body.to_string()).map_into_boxed_body();
    ErrorHandlerResponse::Response(ServiceResponse::new(request, head).map_into_right_body())
}
