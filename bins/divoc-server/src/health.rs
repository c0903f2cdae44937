//! Health routes for load balancers and orchestrators: `GET /healthz` (the
//! process serves requests) and `GET /readyz` (the store runs a statement
//! too). Both need no token and show no personal data.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::routes::{AppState, get_or_head, method_not_allowed};

/// Registers `/healthz` and `/readyz`, for GET and HEAD.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/healthz")
                .route(get_or_head().to(live))
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/readyz")
                .route(get_or_head().to(ready))
                .default_service(method_not_allowed("GET, HEAD")),
        );
}

/// Returns 200 while the process accepts and serves requests.
async fn live() -> HttpResponse {
    status_response(HttpResponse::Ok(), serde_json::json!({"status": "ok"}))
}

/// Returns 200 when the store gives a connection and runs a statement, and
/// its SQLite file is still the one it opened, and 503 otherwise. The reason goes to the
/// log, not to the caller, because it names the store's URL or file.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let service = Arc::clone(&state.service);
    let checked = web::block(move || service.store().health_check()).await;
    let reason = match checked {
        Ok(Ok(())) => {
            return status_response(HttpResponse::Ok(), serde_json::json!({"status": "ready"}));
        }
        Ok(Err(error)) => error.to_string(),
        Err(error) => format!("the health check could not run: {error}"),
    };
    tracing::warn!(%reason, "readiness check failed");
    let mut unavailable = HttpResponse::ServiceUnavailable();
    unavailable.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
    status_response(
        unavailable,
        serde_json::json!({
            "status": "unavailable",
            "error": "store_unavailable",
            "message": "the certificate store failed its health check; the server log has the reason",
        }),
    )
}

fn status_response(
    mut builder: actix_web::HttpResponseBuilder,
    body: serde_json::Value,
) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}
