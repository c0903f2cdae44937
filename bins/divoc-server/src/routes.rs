//! Routes, request authentication, id checks and the request log.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use percent_encoding::percent_decode_str;
use tokio::sync::Semaphore;

use divoc_store::AuditEvent;

use crate::auth::{AuthError, TokenVerifier};
use crate::error::ApiError;
use crate::principal::{Access, Principal};
use crate::service::{CertificateService, Rendered, Scope, ServiceError};

/// Shared state of every worker.
pub struct AppState {
    /// The pipeline.
    pub service: Arc<CertificateService>,
    /// Token checks.
    pub verifier: TokenVerifier,
    /// Bounds the renders running at once.
    pub render_permits: Arc<Semaphore>,
}

/// Registers the routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            ApiError::InvalidParameter {
                name: "query string",
                reason: error.to_string(),
                value: String::new(),
            }
            .into()
        }))
        .service(
            web::resource("/certificate/api/certificatePDF/{beneficiaryId}")
                .route(web::get().to(certificate_pdf))
                .route(web::head().to(certificate_exists))
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/certificate/api/certificateQRCode/{beneficiaryId}")
                .route(web::get().to(certificate_qr))
                .route(web::head().to(certificate_exists))
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .configure(crate::citizen::configure)
        .default_service(web::to(no_route));
}

async fn certificate_pdf(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state)?;
    let (scope, access) = beneficiary_scope(&principal)?;
    let beneficiary_id = beneficiary_id(&request)?;
    let rendered = run_render(&state, beneficiary_id.clone(), move |service, id| {
        service.pdf(id, &scope)
    })
    .await;
    let rendered = map_service_error(rendered, &beneficiary_id)?;
    record_served(
        &state,
        &request,
        &principal,
        access,
        &rendered.certificate_id,
    );
    Ok(file_response(rendered, "application/pdf", "pdf"))
}

async fn certificate_qr(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state)?;
    let (scope, access) = beneficiary_scope(&principal)?;
    let beneficiary_id = beneficiary_id(&request)?;
    let rendered = run_render(&state, beneficiary_id.clone(), move |service, id| {
        service.qr_png(id, &scope)
    })
    .await;
    let rendered = map_service_error(rendered, &beneficiary_id)?;
    record_served(
        &state,
        &request,
        &principal,
        access,
        &rendered.certificate_id,
    );
    Ok(file_response(rendered, "image/png", "png"))
}

async fn certificate_exists(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state)?;
    let (scope, _) = beneficiary_scope(&principal)?;
    let beneficiary_id = beneficiary_id(&request)?;
    let service = Arc::clone(&state.service);
    let id = beneficiary_id.clone();
    let found = web::block(move || service.exists(&id, &scope))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let content_type = if request
        .path()
        .starts_with("/certificate/api/certificateQRCode/")
    {
        "image/png"
    } else {
        "application/pdf"
    };
    match map_service_error(found, &beneficiary_id)? {
        // The size of the file is not known without rendering it, so the response
        // has no Content-Length rather than a wrong one.
        true => Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("private")))
            .body(actix_web::body::None::new())),
        false => Err(ApiError::NotFound {
            source_id: beneficiary_id,
        }),
    }
}

async fn no_route(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute {
        method: request.method().to_string(),
        path: request.path().to_owned(),
    })
}

/// Runs a render on the blocking pool once a render permit is free.
/// A known route called with a method it does not serve: 405 with a JSON body.
pub(crate) fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move |request: HttpRequest| async move {
        Err::<HttpResponse, ApiError>(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allow,
        })
    })
}

pub(crate) async fn run_render<F>(
    state: &AppState,
    beneficiary_id: String,
    render: F,
) -> Result<Rendered, ServiceError>
where
    F: FnOnce(&CertificateService, &str) -> Result<Rendered, ServiceError> + Send + 'static,
{
    let permit = Arc::clone(&state.render_permits).acquire_owned().await;
    let service = Arc::clone(&state.service);
    let result = web::block(move || {
        let _permit = permit;
        render(&service, &beneficiary_id)
    })
    .await;
    match result {
        Ok(rendered) => rendered,
        Err(error) => Err(ServiceError::Render {
            certificate_id: String::new(),
            message: error.to_string(),
        }),
    }
}

pub(crate) fn map_service_error<T>(
    result: Result<T, ServiceError>,
    beneficiary_id: &str,
) -> Result<T, ApiError> {
    result.map_err(|error| match error {
        ServiceError::NotFound => ApiError::NotFound {
            source_id: beneficiary_id.to_owned(),
        },
        ServiceError::Store(error) if error.is_unavailable() => {
            ApiError::Unavailable(error.to_string())
        }
        ServiceError::Store(error) => ApiError::Internal(error.to_string()),
        ServiceError::Render {
            certificate_id,
            message,
        } => ApiError::Render {
            certificate_id,
            message,
        },
    })
}

pub(crate) fn file_response(
    rendered: Rendered,
    content_type: &'static str,
    extension: &str,
) -> HttpResponse {
    let disposition = format!(
        "inline; filename=\"certificate-{}.{extension}\"",
        safe_filename(&rendered.certificate_id)
    );
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("private")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.insert_header((header::CONTENT_DISPOSITION, value));
    }
    response.body(rendered.bytes)
}

/// Keeps the characters of a certificate id that are safe in a quoted filename.
fn safe_filename(certificate_id: &str) -> String {
    certificate_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}

pub(crate) fn authenticate(request: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let mut values = request.headers().get_all(header::AUTHORIZATION);
    let header = values.next().map(HeaderValue::as_bytes);
    if values.next().is_some() {
        return Err(ApiError::Unauthorized(AuthError::Malformed(
            "more than one Authorization header",
        )));
    }
    Ok(state.verifier.authenticate(header)?)
}

/// Decides whose certificates a lookup by beneficiary id may reach: anyone's with
/// a distribution or print role, else the citizen's own, by mobile number.
fn beneficiary_scope(principal: &Principal) -> Result<(Scope, Access), ApiError> {
    if principal.distribution {
        return Ok((Scope::Anyone, Access::Distribution));
    }
    if principal.print {
        return Ok((Scope::Anyone, Access::Print));
    }
    match &principal.mobile {
        Some(mobile) => Ok((Scope::Mobile(mobile.clone()), Access::Citizen)),
        None => Err(ApiError::Forbidden(
            "the token has no distribution or print role and no mobile number".to_owned(),
        )),
    }
}

/// Writes the audit row of a certificate served.
pub(crate) fn record_served(
    state: &AppState,
    request: &HttpRequest,
    principal: &Principal,
    access: Access,
    certificate_id: &str,
) {
    let event = AuditEvent {
        served_at: chrono::Utc::now(),
        certificate_id: certificate_id.to_owned(),
        route: request
            .match_pattern()
            .unwrap_or_else(|| "(no route)".to_owned()),
        subject: principal.subject.clone(),
        role: access.as_str().to_owned(),
    };
    state.service.record_served(&event);
}

/// Reads the `{beneficiaryId}` segment from the raw path and checks it.
fn beneficiary_id(request: &HttpRequest) -> Result<String, ApiError> {
    last_path_id(request, "beneficiary id")
}

/// Reads the last segment of the raw path, percent-decoded once, and checks it
/// with [`check_id`].
pub(crate) fn last_path_id(request: &HttpRequest, kind: &'static str) -> Result<String, ApiError> {
    let raw = request.path().rsplit('/').next().unwrap_or_default();
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::InvalidId {
            kind,
            reason: "percent-decoded bytes are not UTF-8".to_owned(),
            value: raw.to_owned(),
        })?
        .into_owned();
    check_id(kind, decoded)
}

/// Checks an id with the rule that imports follow too ([`divoc_model::check_id`]).
pub(crate) fn check_id(kind: &'static str, id: String) -> Result<String, ApiError> {
    match divoc_model::check_id(&id) {
        Ok(()) => Ok(id),
        Err(rule) => Err(ApiError::InvalidId {
            kind,
            reason: rule.to_owned(),
            value: id,
        }),
    }
}

/// Logs one line per request: method, route pattern (never the path, which contains
/// ids), status and duration.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(no route)".to_owned());
    tracing::info!(
        target: "http",
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    Ok(response)
}
