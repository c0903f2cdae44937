//! HTTP handlers of the citizen login and their error responses.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use divoc_store::StoreError;
use serde_json::{Value, json};

use super::OtpService;
use super::keys::CitizenClaims;
use super::pepper::{generate_code, is_code_format};
use crate::body_deadline::{BodyError, read_body};
use crate::error::truncate;

/// Largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 4096;

/// Seconds a client is asked to wait when the store or the SMS queue is busy.
const BUSY_RETRY_SECONDS: u64 = 5;

/// The one message for a wrong, expired, used or unknown code, so that a
/// response never reveals which of these it was.
const INVALID_CODE_MESSAGE: &str = "the code is wrong, expired or already used; request a new code";

/// Rate limit that rejected a request.
#[derive(Debug, Clone, Copy)]
pub(super) enum LimitScope {
    Mobile,
    Address,
}

/// An error of the citizen login routes, returned as JSON.
#[derive(Debug, thiserror::Error)]
pub(super) enum OtpApiError {
    /// A body that is not the expected JSON: 400.
    #[error("invalid request: {message}")]
    BadRequest {
        message: String,
        /// The rejected value, when one field was wrong.
        value: Option<String>,
    },
    /// A body larger than [`MAX_BODY_BYTES`]: 413.
    #[error("request body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// A body that did not arrive in time: 408.
    #[error(transparent)]
    Body(BodyError),
    /// A wrong, expired, used or unknown code: 401.
    #[error("invalid code")]
    InvalidCode,
    /// Too many code requests in the current window: 429.
    #[error("rate limit reached")]
    RateLimited {
        scope: LimitScope,
        retry_after_seconds: u64,
    },
    /// The SMS queue is full: 503.
    #[error("SMS queue full")]
    QueueFull,
    /// The store is unavailable: 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Any other failure: 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for OtpApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            OtpApiError::Unavailable(crate::redact::store_error(&error))
        } else {
            OtpApiError::Internal(crate::redact::store_error(&error))
        }
    }
}

impl ResponseError for OtpApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            OtpApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            OtpApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            OtpApiError::Body(error) => error.status_code(),
            OtpApiError::InvalidCode => StatusCode::UNAUTHORIZED,
            OtpApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            OtpApiError::QueueFull | OtpApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            OtpApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let body = match self {
            OtpApiError::Body(error) => return error.error_response(),
            OtpApiError::BadRequest { message, value } => {
                let mut body = json!({"error": "invalid_request", "message": message});
                if let Some(value) = value {
                    body["value"] = Value::String(truncate(value));
                }
                body
            }
            OtpApiError::TooLarge => json!({
                "error": "payload_too_large",
                "message": format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            }),
            OtpApiError::InvalidCode => {
                json!({"error": "invalid_code", "message": INVALID_CODE_MESSAGE})
            }
            OtpApiError::RateLimited {
                scope,
                retry_after_seconds,
            } => {
                let from = match scope {
                    LimitScope::Mobile => "for this mobile number",
                    LimitScope::Address => "from this address",
                };
                json!({
                    "error": "rate_limited",
                    "message": format!(
                        "too many code requests {from}; retry after {retry_after_seconds} seconds"
                    ),
                    "retryAfterSeconds": retry_after_seconds,
                })
            }
            OtpApiError::QueueFull => json!({
                "error": "sms_queue_full",
                "message": "too many codes are waiting to be sent; retry later",
            }),
            OtpApiError::Unavailable(_) => json!({
                "error": "store_unavailable",
                "message": "the certificate store is unavailable; retry later",
            }),
            OtpApiError::Internal(_) => {
                json!({"error": "internal", "message": "internal error; see the server log"})
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        match self {
            OtpApiError::RateLimited {
                retry_after_seconds,
                ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            OtpApiError::QueueFull | OtpApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, BUSY_RETRY_SECONDS.to_string()));
            }
            _ => {}
        }
        response.json(body)
    }
}

impl OtpApiError {
    /// Logs the error without the mobile number, the code or the rejected value.
    fn log(&self) {
        match self {
            OtpApiError::BadRequest { message, .. } => {
                // The message may quote the body, such as a key given twice.
                let reason = divoc_model::redact_values(message);
                tracing::info!(reason = %reason, "citizen login request rejected: invalid request")
            }
            OtpApiError::TooLarge => {
                tracing::info!("citizen login request rejected: body too large")
            }
            // Logged by its own response.
            OtpApiError::Body(_) => {}
            OtpApiError::InvalidCode => {
                tracing::info!("citizen login rejected: wrong, expired or used code")
            }
            OtpApiError::RateLimited {
                scope,
                retry_after_seconds,
            } => tracing::info!(
                scope = ?scope,
                retry_after_seconds,
                "code request rejected: rate limit reached"
            ),
            OtpApiError::QueueFull => {
                tracing::error!("code request rejected: the SMS queue is full")
            }
            OtpApiError::Unavailable(message) => {
                tracing::error!(error = %message, "certificate store unavailable")
            }
            OtpApiError::Internal(message) => {
                tracing::error!(error = %message, "citizen login failed")
            }
        }
    }
}

/// `POST /certificate/api/citizen/otp`: issues a code for a mobile number.
///
/// Returns the same 202 whether or not any certificate is registered to the
/// number, since both paths store a challenge and queue a job. The worker that
/// takes the job sends the SMS only for a registered number.
pub(super) async fn request_code(
    request: HttpRequest,
    payload: web::Payload,
    otp: web::Data<OtpService>,
) -> Result<HttpResponse, OtpApiError> {
    let body = read_json(&request, payload).await?;
    let mobile = mobile_field(&body)?;
    // NOTE: behind a reverse proxy every request has the proxy's address, so
    // the per-address limit applies to all clients together. X-Forwarded-For is
    // not read, because any client can set it.
    let address = request.peer_addr().map(|peer| peer.ip());
    let service = otp.clone();
    let issue_mobile = mobile.clone();
    let code = web::block(move || service.issue_code(&issue_mobile, address))
        .await
        .map_err(|error| OtpApiError::Internal(error.to_string()))??;
    let reference = otp.pepper.mobile_reference(&mobile);
    otp.dispatcher
        .enqueue(mobile, code, reference)
        .map_err(|_| OtpApiError::QueueFull)?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(json!({"status": "sent", "expiresInSeconds": otp.limits.code_ttl.as_secs()})))
}

/// `POST /certificate/api/citizen/token`: exchanges a mobile number and its code
/// for a citizen token.
pub(super) async fn exchange_code(
    request: HttpRequest,
    payload: web::Payload,
    otp: web::Data<OtpService>,
) -> Result<HttpResponse, OtpApiError> {
    let body = read_json(&request, payload).await?;
    let mobile = mobile_field(&body)?;
    let code = code_field(&body)?;
    let service = otp.clone();
    let token = web::block(move || service.exchange_code(&mobile, &code))
        .await
        .map_err(|error| OtpApiError::Internal(error.to_string()))??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(json!({
            "token": token,
            "tokenType": "Bearer",
            "expiresIn": otp.limits.token_ttl.as_secs(),
        })))
}

/// `GET /.well-known/jwks.json`: the public key that verifies citizen tokens.
pub(super) async fn jwks(otp: web::Data<OtpService>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .json(json!({"keys": [otp.signer.public_jwk()]}))
}

impl OtpService {
    /// Counts the request against both rate limits, then stores a new challenge
    /// and returns its code. Runs on the blocking pool.
    fn issue_code(&self, mobile: &str, address: Option<IpAddr>) -> Result<String, OtpApiError> {
        let now = Utc::now();
        let window = self.limits.rate_window;
        let address_bucket = match address {
            Some(address) => format!("otp:ip:{}", self.pepper.address_reference(address)),
            None => "otp:ip:unknown".to_owned(),
        };
        let count = self.store.count_rate_hit(&address_bucket, now, window)?;
        if count.hits > self.limits.max_requests_per_ip {
            return Err(OtpApiError::RateLimited {
                scope: LimitScope::Address,
                retry_after_seconds: seconds_left(count.window_start, window, now),
            });
        }
        let mobile_bucket = format!("otp:mobile:{}", self.pepper.mobile_reference(mobile));
        let count = self.store.count_rate_hit(&mobile_bucket, now, window)?;
        if count.hits > self.limits.max_codes_per_mobile {
            return Err(OtpApiError::RateLimited {
                scope: LimitScope::Mobile,
                retry_after_seconds: seconds_left(count.window_start, window, now),
            });
        }
        let code = generate_code().map_err(|error| {
            OtpApiError::Internal(format!("the random number generator failed: {error}"))
        })?;
        let code_hash = self.pepper.code_hash(mobile, &code);
        let expires_at = now + chrono_duration(self.limits.code_ttl);
        self.store
            .save_otp_challenge(mobile, &code_hash, now, expires_at)?;
        Ok(code)
    }

    /// Checks a code and signs a token when it matches. Runs on the blocking pool.
    fn exchange_code(&self, mobile: &str, code: &str) -> Result<String, OtpApiError> {
        let now = Utc::now();
        let stored_hash = self
            .store
            .claim_otp_attempt(mobile, now, self.limits.max_attempts)?
            .ok_or(OtpApiError::InvalidCode)?;
        if !self.pepper.code_matches(mobile, code, &stored_hash) {
            return Err(OtpApiError::InvalidCode);
        }
        if !self.store.consume_otp_challenge(mobile, &stored_hash)? {
            return Err(OtpApiError::InvalidCode);
        }
        let subject = format!("citizen:{}", self.pepper.mobile_reference(mobile));
        let issued_at = now.timestamp();
        let token_ttl = i64::try_from(self.limits.token_ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = CitizenClaims {
            iss: &self.issuer,
            sub: &subject,
            preferred_username: mobile,
            iat: issued_at,
            exp: issued_at.saturating_add(token_ttl),
        };
        let token = self.signer.sign(&claims).map_err(|error| {
            OtpApiError::Internal(format!("cannot sign a citizen token: {error}"))
        })?;
        tracing::info!(subject = %subject, "citizen token issued");
        Ok(token)
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`] and parses it as JSON, whatever
/// its `Content-Type`. A key given twice in one object is rejected.
async fn read_json(request: &HttpRequest, payload: web::Payload) -> Result<Value, OtpApiError> {
    let bytes = match read_body(request, payload, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge { .. }) => return Err(OtpApiError::TooLarge),
        Err(BodyError::Unreadable(error)) => {
            return Err(OtpApiError::BadRequest {
                message: format!("failed to read the request body: {error}"),
                value: None,
            });
        }
        Err(error) => return Err(OtpApiError::Body(error)),
    };
    let body = serde_json::from_slice(&bytes).map_err(|error| OtpApiError::BadRequest {
        message: format!("the body is not JSON: {error}"),
        value: None,
    })?;
    crate::json_body::check_unique_keys(&bytes).map_err(|message| OtpApiError::BadRequest {
        message,
        value: None,
    })?;
    Ok(body)
}

/// Reads `mobile`: 10 to 15 ASCII digits after an optional `+`, kept exactly as
/// sent, because certificates are found by the number exactly as registered.
fn mobile_field(body: &Value) -> Result<String, OtpApiError> {
    let value = string_field(body, "mobile", "a string of 10 to 15 digits")?;
    let digits = value.strip_prefix('+').unwrap_or(value);
    let valid = (10..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(OtpApiError::BadRequest {
            message: "invalid mobile number: expected 10 to 15 digits after an optional '+'"
                .to_owned(),
            value: Some(value.to_owned()),
        });
    }
    Ok(value.to_owned())
}

/// Reads `otp`: a string of 6 digits.
fn code_field(body: &Value) -> Result<String, OtpApiError> {
    let value = string_field(body, "otp", "a string of 6 digits")?;
    if !is_code_format(value) {
        return Err(OtpApiError::BadRequest {
            message: "invalid otp: expected a string of 6 digits".to_owned(),
            value: Some(value.to_owned()),
        });
    }
    Ok(value.to_owned())
}

fn string_field<'a>(body: &'a Value, name: &str, expected: &str) -> Result<&'a str, OtpApiError> {
    let Value::Object(fields) = body else {
        return Err(OtpApiError::BadRequest {
            message: "expected a JSON object".to_owned(),
            value: None,
        });
    };
    match fields.get(name) {
        Some(Value::String(value)) => Ok(value),
        Some(other) => Err(OtpApiError::BadRequest {
            message: format!("invalid {name}: expected {expected}"),
            value: Some(other.to_string()),
        }),
        None => Err(OtpApiError::BadRequest {
            message: format!("missing field {name:?}: expected {expected}"),
            value: None,
        }),
    }
}

/// Whole seconds until the window that started at `window_start` ends, at least 1.
fn seconds_left(window_start: DateTime<Utc>, window: Duration, now: DateTime<Utc>) -> u64 {
    let ends = window_start + chrono_duration(window);
    let left = (ends - now).num_milliseconds();
    let seconds = (left.max(0) as u64).div_ceil(1000);
    seconds.max(1)
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn mobile_field_cases() {
        for valid in ["9000000001", "+919000000001", "123456789012345"] {
            let body = json!({"mobile": valid});
            assert_eq!(mobile_field(&body).unwrap(), valid);
        }
        for invalid in [
            "900000000",
            "1234567890123456",
            "+",
            "90000 00001",
            "++9000000001",
            "",
        ] {
            let body = json!({"mobile": invalid});
            assert!(mobile_field(&body).is_err(), "{invalid:?}");
        }
        assert!(mobile_field(&json!({"mobile": 9000000001_u64})).is_err());
        assert!(mobile_field(&json!({})).is_err());
        assert!(mobile_field(&json!(["9000000001"])).is_err());
    }

    #[test]
    fn seconds_left_rounds_up() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let window = Duration::from_secs(900);
        let now = start + chrono::Duration::milliseconds(100);
        assert_eq!(seconds_left(start, window, now), 900);
        let late = start + chrono::Duration::seconds(905);
        assert_eq!(seconds_left(start, window, late), 1);
    }
}
