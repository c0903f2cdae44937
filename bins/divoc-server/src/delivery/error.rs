//! Error responses of the delivery routes: JSON with a code, a message and,
//! where one value was wrong, that value. Logged once without personal data.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use divoc_store::StoreError;
use serde_json::{Map, Value, json};

use crate::error::{one_line, truncate};

/// An error of a delivery route. Boxed, so that results stay small.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", .0.code, .0.message)]
pub struct DeliveryError(Box<Detail>);

/// The content of a [`DeliveryError`].
#[derive(Debug)]
struct Detail {
    status: StatusCode,
    /// Stable machine-readable code, such as `link_expired`.
    code: &'static str,
    message: String,
    /// The rejected value, echoed to the caller only (never logged).
    value: Option<String>,
    /// Further fields of the body, such as `attemptsLeft`.
    extra: Map<String, Value>,
    /// `Retry-After` in seconds, for 429 and 503.
    retry_after: Option<u64>,
    /// Cause of a server error, for the log only.
    log_detail: Option<String>,
}

impl DeliveryError {
    /// Creates an error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        DeliveryError(Box::new(Detail {
            status,
            code,
            message: message.into(),
            value: None,
            extra: Map::new(),
            retry_after: None,
            log_detail: None,
        }))
    }

    /// Creates a 400 for one invalid field.
    pub fn invalid(name: &str, reason: &str, value: impl Into<String>) -> Self {
        DeliveryError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("invalid {name}: {reason}"),
        )
        .with_value(value)
    }

    /// Creates a 404 for a certificate that does not exist, is revoked, or is not the caller's.
    pub fn certificate_not_found(certificate_id: &str) -> Self {
        DeliveryError::new(
            StatusCode::NOT_FOUND,
            "certificate_not_found",
            "no certificate with this id that the token may reach",
        )
        .with_value(certificate_id)
    }

    /// Creates a 403 with a reason.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        DeliveryError::new(StatusCode::FORBIDDEN, "forbidden", reason)
    }

    /// Creates a 503 for an unavailable store, else a 500.
    pub fn store(error: &StoreError) -> Self {
        if error.is_unavailable() {
            DeliveryError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the certificate store is not answering; retry later",
            )
            .with_retry_after(5)
            .with_log_detail(crate::redact::store_error(error))
        } else {
            DeliveryError::internal(crate::redact::store_error(error))
        }
    }

    /// Creates a 500. `detail` goes to the log only.
    pub fn internal(detail: impl Into<String>) -> Self {
        DeliveryError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
        .with_log_detail(detail.into())
    }

    /// Adds the rejected value to the body.
    pub fn with_value(mut self, value: impl Into<String>) -> Self {
        self.0.value = Some(value.into());
        self
    }

    /// Adds a field to the body.
    pub fn with_field(mut self, name: &str, value: Value) -> Self {
        self.0.extra.insert(name.to_owned(), value);
        self
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.0.retry_after = Some(seconds);
        self
    }

    fn with_log_detail(mut self, detail: String) -> Self {
        self.0.log_detail = Some(one_line(&detail));
        self
    }

    /// Returns the code, such as `link_expired`.
    pub fn code(&self) -> &'static str {
        self.0.code
    }
}

impl ResponseError for DeliveryError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.0.status.is_server_error() {
            tracing::error!(
                status = self.0.status.as_u16(),
                code = self.0.code,
                error = %self.0.log_detail.as_deref().unwrap_or(&self.0.message),
                "delivery request failed"
            );
        } else {
            tracing::info!(
                status = self.0.status.as_u16(),
                code = self.0.code,
                "delivery request rejected"
            );
        }
        let mut body = json!({"error": self.0.code, "message": self.0.message});
        if let (Some(value), Some(object)) = (&self.0.value, body.as_object_mut()) {
            object.insert("value".to_owned(), Value::String(truncate(value)));
        }
        if let Some(object) = body.as_object_mut() {
            object.extend(self.0.extra.clone());
        }
        let mut response = HttpResponse::build(self.0.status);
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(seconds) = self.0.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.insert_header((header::RETRY_AFTER, value));
        }
        if self.0.status == StatusCode::UNAUTHORIZED && self.0.code == "unauthorized" {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(body)
    }
}
