//! A deadline for receiving request bodies.
//!
//! actix-web sends 408 to a client whose request line and headers do not
//! arrive within 5 seconds, but sets no limit on the body. A client that sent
//! the headers and part of a body held its connection, and a file descriptor,
//! for as long as it liked, with no token. Here every request body gets
//! `server.body_timeout_seconds` from the moment its headers were read; a body
//! that has not arrived by then gets 408 `request_timeout`.
//!
//! [`enforce`] reads the body of most requests before their route runs. The
//! routes that need a bearer token and read a body (share links, email and
//! SMS) read it themselves with [`read_body`] after the token check, so that a
//! client without a valid token gets 401 at once, whatever its body.
//!
//! A body that is not read to its end stays with the response until it is sent.
//! actix-web then closes the connection: without this, it would go on reading
//! (draining) the rest of a chunked body, for as long as the client sends it.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use actix_web::body::{BodyStream, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;
use tokio::time::{Instant, timeout_at};

/// Maximum bytes of a body that [`enforce`] reads before the route runs. It
/// is above the limit of every route that it reads for, so that a route still
/// finds a larger body over its own limit and returns 413.
const PRE_READ_LIMIT: usize = 262_144;

/// Paths whose `POST` routes need a bearer token and read their body
/// themselves, with [`read_body`], after the token check.
const READ_AFTER_TOKEN: [&str; 3] = [
    crate::delivery::SHARE_PATH,
    crate::delivery::EMAIL_PATH,
    crate::delivery::NOTIFY_PATH,
];

/// When the body of a request must have arrived. In the request's extensions.
#[derive(Clone, Copy)]
struct Deadline {
    at: Instant,
    timeout: Duration,
}

/// A body that a route reads itself with [`read_body`]. In the request's
/// extensions until then.
struct PendingBody(BodyStream<Payload>);

/// Request bodies that were not read to their end. They go with the response,
/// which keeps them until it has been sent.
#[derive(Default)]
struct UnreadBody(#[allow(dead_code, reason = "only kept alive")] Vec<BodyStream<Payload>>);

/// Keeps `body` in `extensions` with the other unread bodies.
fn keep_unread(extensions: &mut actix_web::dev::Extensions, body: BodyStream<Payload>) {
    if let Some(unread) = extensions.get_mut::<UnreadBody>() {
        unread.0.push(body);
    } else {
        extensions.insert(UnreadBody(vec![body]));
    }
}

/// An error reading a body.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than the route's limit: 413.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The route's limit in bytes.
        limit: usize,
    },
    /// The body did not arrive in time: 408.
    #[error("the request body did not arrive within {} of the headers", seconds(*.timeout))]
    TimedOut {
        /// `server.body_timeout_seconds`.
        timeout: Duration,
        /// Bytes that had arrived, for the log.
        received: usize,
    },
    /// The body could not be read, such as a broken chunked encoding: 400.
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
}

/// `1 second`, `10 seconds`.
fn seconds(duration: Duration) -> String {
    match duration.as_secs() {
        1 => "1 second".to_owned(),
        seconds => format!("{seconds} seconds"),
    }
}

impl ResponseError for BodyError {
    fn status_code(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            BodyError::Unreadable(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            BodyError::TooLarge { limit } => {
                tracing::info!(limit, "request rejected: body too large");
                "payload_too_large"
            }
            BodyError::TimedOut { timeout, received } => {
                tracing::info!(
                    timeout_seconds = timeout.as_secs(),
                    received_bytes = received,
                    "request rejected: the request body did not arrive in time"
                );
                "request_timeout"
            }
            BodyError::Unreadable(reason) => {
                tracing::info!(reason = %reason, "request rejected: unreadable body");
                "invalid_body"
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if matches!(self, BodyError::TimedOut { .. }) {
            response.insert_header((header::CONNECTION, HeaderValue::from_static("close")));
        }
        response.json(json!({"error": code, "message": self.to_string()}))
    }
}

/// Middleware: gives the body of each request `timeout` to arrive. Reads it
/// before the route runs, except on the routes of [`READ_AFTER_TOKEN`].
pub async fn enforce(
    timeout: Duration,
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<KeepingUnread>, actix_web::Error> {
    if matches!(request.parts().1, Payload::None) {
        let response = next.call(request).await?;
        return Ok(with_unread(response, UnreadBody::default()));
    }
    let deadline = Deadline {
        at: Instant::now() + timeout,
        timeout,
    };
    request.extensions_mut().insert(deadline);
    let body = BodyStream::new(request.take_payload());
    let reads_after_token = request.method() == actix_web::http::Method::POST
        && READ_AFTER_TOKEN.contains(&request.match_info().as_str());
    if reads_after_token {
        request.extensions_mut().insert(PendingBody(body));
    } else if let Some((response, unread)) = read_before_route(&mut request, body, deadline).await {
        return Ok(with_unread(request.into_response(response), unread));
    }
    let response = next.call(request).await?;
    // Whatever was not read stays with the response until it is sent.
    let unread = {
        let mut extensions = response.request().extensions_mut();
        let mut unread = extensions.remove::<UnreadBody>().unwrap_or_default();
        if let Some(PendingBody(body)) = extensions.remove::<PendingBody>() {
            unread.0.push(body);
        }
        unread
    };
    Ok(with_unread(response, unread))
}

/// Adds the unread bodies to the response, which keeps them until it has been
/// sent.
///
/// actix-web decides whether to close the connection, or to read (drain) the
/// rest of a chunked body for the next request, after the last byte of the
/// response. It closes it only when the body is still held then, and the
/// response's own body is the one thing held that long.
fn with_unread(
    response: ServiceResponse<impl MessageBody + 'static>,
    unread: UnreadBody,
) -> ServiceResponse<KeepingUnread> {
    response
        .map_into_boxed_body()
        .map_body(|_, body| KeepingUnread { body, unread })
}

/// A response body that keeps the unread request bodies until it is dropped.
pub struct KeepingUnread {
    body: BoxBody,
    unread: UnreadBody,
}

impl MessageBody for KeepingUnread {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> actix_web::body::BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(context)
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        if !self.unread.0.is_empty() {
            return Err(self);
        }
        let unread = self.unread;
        self.body
            .try_into_bytes()
            .map_err(|body| KeepingUnread { body, unread })
    }
}

/// Reads up to [`PRE_READ_LIMIT`] bytes of the body and gives them to the
/// route as its body. Returns the response, and the body, when the body
/// cannot be given.
async fn read_before_route(
    request: &mut ServiceRequest,
    mut body: BodyStream<Payload>,
    deadline: Deadline,
) -> Option<(HttpResponse, UnreadBody)> {
    // A route compares the declared length with its limit before it reads,
    // so the body is not read at all.
    if declared_length(request.request()).is_some_and(|length| length > PRE_READ_LIMIT) {
        keep_unread(&mut request.extensions_mut(), body);
        return None;
    }
    match read(&mut body, PRE_READ_LIMIT, deadline).await {
        Ok(Read::Complete(bytes)) => {
            request.set_payload(Payload::from(bytes));
            None
        }
        Ok(Read::OverLimit(bytes)) => {
            // The route gets more than its limit and returns 413.
            request.set_payload(Payload::from(bytes));
            keep_unread(&mut request.extensions_mut(), body);
            None
        }
        Err(error) => Some((error.error_response(), UnreadBody(vec![body]))),
    }
}

/// Reads the body of a request, at most `limit` bytes, by the request's
/// deadline. On the routes of [`READ_AFTER_TOKEN`] this is the first read of
/// the body. On other routes [`enforce`] has read it already, into `payload`.
///
/// # Errors
///
/// [`BodyError::TooLarge`] when the body, or the length it declares, is over
/// `limit`; [`BodyError::TimedOut`] after the deadline; and
/// [`BodyError::Unreadable`] for a broken body.
pub async fn read_body(
    request: &HttpRequest,
    payload: actix_web::web::Payload,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if declared_length(request).is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let pending = request.extensions_mut().remove::<PendingBody>();
    let mut body = match pending {
        Some(PendingBody(body)) => body,
        None => BodyStream::new(payload.into_inner()),
    };
    let deadline = request
        .extensions()
        .get::<Deadline>()
        .copied()
        .unwrap_or_else(|| Deadline {
            at: Instant::now() + DEFAULT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        });
    let result = read(&mut body, limit, deadline).await;
    if !matches!(result, Ok(Read::Complete(_))) {
        keep_unread(&mut request.extensions_mut(), body);
    }
    match result? {
        Read::Complete(bytes) => Ok(bytes),
        Read::OverLimit(_) => Err(BodyError::TooLarge { limit }),
    }
}

/// The body timeout when the middleware did not set one (`server.body_timeout_seconds`'s default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Result of [`read`].
enum Read {
    /// The whole body.
    Complete(Bytes),
    /// The first bytes of a body over the limit: one more than the limit, or a
    /// little more.
    OverLimit(Bytes),
}

/// Reads `body` until its end, until it has more than `limit` bytes, or until
/// the deadline.
async fn read(
    body: &mut BodyStream<Payload>,
    limit: usize,
    deadline: Deadline,
) -> Result<Read, BodyError> {
    let mut bytes = BytesMut::new();
    loop {
        let chunk = match timeout_at(deadline.at, next_chunk(body)).await {
            Ok(chunk) => chunk,
            Err(_) => {
                return Err(BodyError::TimedOut {
                    timeout: deadline.timeout,
                    received: bytes.len(),
                });
            }
        };
        match chunk {
            None => return Ok(Read::Complete(bytes.freeze())),
            Some(Ok(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > limit {
                    return Ok(Read::OverLimit(bytes.freeze()));
                }
            }
            Some(Err(error)) => return Err(BodyError::Unreadable(error.to_string())),
        }
    }
}

async fn next_chunk(body: &mut BodyStream<Payload>) -> Option<Result<Bytes, PayloadError>> {
    poll_fn(|context| Pin::new(&mut *body).poll_next(context)).await
}

/// Returns the `Content-Length` of a request, when it has a readable one.
fn declared_length(request: &HttpRequest) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::BodyError;

    #[test]
    fn timeout_message_names_seconds() {
        let message = |seconds| {
            BodyError::TimedOut {
                timeout: Duration::from_secs(seconds),
                received: 0,
            }
            .to_string()
        };
        assert_eq!(
            message(10),
            "the request body did not arrive within 10 seconds of the headers"
        );
        assert_eq!(
            message(1),
            "the request body did not arrive within 1 second of the headers"
        );
        assert_eq!(
            BodyError::TooLarge { limit: 4096 }.to_string(),
            "the request body is larger than 4096 bytes"
        );
    }
}
