//! Routes, request authentication, id checks and the request log.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, EntityTag, Header, HeaderValue, IfNoneMatch};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use percent_encoding::percent_decode_str;
use tokio::sync::Semaphore;

use divoc_store::AuditEvent;

use crate::auth::{AuthError, TokenVerifier};
use crate::cache::FileKind;
use crate::error::ApiError;
use crate::language::set_content_language;
use crate::principal::{Access, Principal};
use crate::server::RenderPool;
use crate::service::{
    CertificateService, Rendered, Scope, Selection, ServiceError, ServiceMetrics,
};

/// Shared state of every worker.
pub struct AppState {
    /// The pipeline.
    pub service: Arc<CertificateService>,
    /// Token checks.
    pub verifier: TokenVerifier,
    /// Runs the renders, as many at once as it has threads.
    pub render_pool: RenderPool,
    /// Bounds the store lookups of the file routes running at once, so that
    /// they take few threads of the blocking pool (the allocator keeps free
    /// memory per thread).
    pub lookup_permits: Arc<Semaphore>,
}

/// Largest form body, in bytes: the share link's download form and passcode
/// page. Their resources register it as [`crate::error::BodyLimit`] too.
pub const FORM_BODY_BYTES: usize = 16_384;

/// Registers the routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(
            web::QueryConfig::default()
                .error_handler(|error, request| query_error(&error, request).into()),
        )
        // Unreadable share-link forms. Without this, actix returns 400 in
        // plain text. Its other statuses, such as 413 and 415, stay as they
        // are, and `json_extractor_errors` gives them JSON bodies.
        .app_data(
            web::FormConfig::default()
                .limit(FORM_BODY_BYTES)
                .error_handler(|error, _| {
                    use actix_web::error::UrlencodedError;
                    if !matches!(
                        error,
                        UrlencodedError::Parse(_)
                            | UrlencodedError::Encoding
                            | UrlencodedError::Chunked
                    ) {
                        return error.into();
                    }
                    ApiError::InvalidParameter {
                        name: "form",
                        reason: error.to_string(),
                        value: String::new(),
                    }
                    .into()
                }),
        )
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

/// Returns a route for GET and HEAD. actix-web sends no body in a response
/// to HEAD. A route that writes an audit row for GET writes none for HEAD
/// (see [`is_head`]).
pub(crate) fn get_or_head() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// Tells whether `request` is a HEAD request, which sends no file and so
/// goes into no audit trail.
pub(crate) fn is_head(request: &HttpRequest) -> bool {
    request.method() == actix_web::http::Method::HEAD
}

/// Registers `GET /metrics`: counters of the render cache and the file routes
/// in the Prometheus text format. The route needs no token and shows no personal
/// data, and it is meant for an internal network.
pub fn configure_metrics(config: &mut web::ServiceConfig) {
    config.service(
        web::resource("/metrics")
            .route(get_or_head().to(metrics))
            .default_service(method_not_allowed("GET, HEAD")),
    );
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(prometheus_text(&state.service.metrics()))
}

/// Formats the counters as Prometheus text exposition format 0.0.4.
fn prometheus_text(metrics: &ServiceMetrics) -> String {
    let cache = &metrics.cache;
    let count = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
    let families = [
        (
            "divoc_render_cache_hits_total",
            "counter",
            "Files served from the render cache.",
            cache.hits,
        ),
        (
            "divoc_render_cache_misses_total",
            "counter",
            "Render cache lookups that found no file.",
            cache.misses,
        ),
        (
            "divoc_render_cache_entries",
            "gauge",
            "Files in the render cache.",
            count(cache.entries),
        ),
        (
            "divoc_render_cache_bytes",
            "gauge",
            "Bytes of the files in the render cache.",
            count(cache.bytes),
        ),
        (
            "divoc_render_cache_max_bytes",
            "gauge",
            "Limit on the bytes of the files in the render cache; 0 when disabled.",
            count(cache.max_bytes),
        ),
        (
            "divoc_renders_total",
            "counter",
            "PDF and QR PNG files rendered.",
            metrics.renders,
        ),
        (
            "divoc_not_modified_total",
            "counter",
            "304 responses to If-None-Match.",
            metrics.not_modified,
        ),
        (
            "divoc_audit_events_dropped_total",
            "counter",
            "Audit events dropped because the audit queue was full or closed.",
            metrics.audit_events_dropped,
        ),
        (
            "divoc_store_replica_failures_total",
            "counter",
            "Certificate lookups that ran on the primary because the read replica failed.",
            metrics.replica_failures,
        ),
    ];
    let mut text = String::new();
    for (name, kind, help, value) in families {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    text
}

/// Parses the query string into `T`. Routes with a bearer token call it after
/// the token check, so that a caller without a valid token gets 401 whatever
/// its query, and learns nothing about the parameters.
pub(crate) fn parse_query<T: serde::de::DeserializeOwned>(
    request: &HttpRequest,
) -> Result<T, ApiError> {
    web::Query::<T>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .map_err(|error| query_error(&error, request))
}

/// Returns the values of the query parameter `name`, in order, with names and
/// values percent-decoded as `web::Query` decodes them. A `name` without `=`
/// has an empty value.
pub(crate) fn query_values(request: &HttpRequest, name: &str) -> Result<Vec<String>, ApiError> {
    let pairs: Vec<(String, String)> = parse_query(request)?;
    Ok(pairs
        .into_iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value)
        .collect())
}

/// Returns the value of the query parameter `name` as sent, still
/// percent-encoded, when its percent-decoded bytes are not UTF-8. `web::Query`
/// replaces such bytes with U+FFFD, so a route that checks an id from the query
/// calls this to report the bytes that were sent instead of the replacements.
pub(crate) fn non_utf8_query_value(request: &HttpRequest, name: &str) -> Option<String> {
    request.query_string().split('&').find_map(|pair| {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded_name = percent_decode_str(&raw_name.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        let is_utf8 = percent_decode_str(raw_value).decode_utf8().is_ok();
        (decoded_name == name && !is_utf8).then(|| raw_value.to_owned())
    })
}

/// Builds the 400 of a query string that does not fit its route's parameters.
/// The value of an `authToken` parameter is left out of the echoed query.
fn query_error(error: &actix_web::error::QueryPayloadError, request: &HttpRequest) -> ApiError {
    let value = request
        .query_string()
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("authToken") => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    ApiError::InvalidParameter {
        name: "query string",
        reason: error.to_string(),
        value,
    }
}

async fn certificate_pdf(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let principal = authenticate(&request, &state).await?;
    // `?protect=dob` requests an encrypted PDF. Without it the route is unchanged.
    if crate::delivery::wants_protection(&request)? {
        return crate::delivery::protected_download(request, state, principal).await;
    }
    let language = crate::language::request_language(&state.service, &request)?;
    let mut response = by_beneficiary(
        request,
        state,
        principal,
        FileKind::Pdf,
        Some(language.clone()),
    )
    .await?;
    set_content_language(&mut response, &language);
    Ok(response)
}

async fn certificate_qr(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state).await?;
    reject_qr_protection(&request)?;
    by_beneficiary(request, state, principal, FileKind::QrPng, None).await
}

/// Rejects `protect` on a QR code route with 400: only PDFs can be encrypted.
fn reject_qr_protection(request: &HttpRequest) -> Result<(), ApiError> {
    if !query_values(request, "protect")?.is_empty() {
        return Err(ApiError::InvalidParameter {
            name: "protect",
            reason: "applies to PDFs only; a QR code cannot be encrypted".to_owned(),
            value: request.query_string().to_owned(),
        });
    }
    Ok(())
}

/// Serves the `kind` file of the latest certificate of the beneficiary in the
/// path to `principal`, a PDF in `language` when one is given.
async fn by_beneficiary(
    request: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    kind: FileKind,
    language: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let (scope, access) = beneficiary_scope(&principal)?;
    let beneficiary_id = beneficiary_id(&request)?;
    let id = beneficiary_id.clone();
    serve_file(
        &request,
        &state,
        &principal,
        access,
        &beneficiary_id,
        move |service| {
            let selection = service.select_by_beneficiary(kind, &id, &scope)?;
            Ok(match &language {
                Some(language) => service.in_language(selection, Some(language)),
                None => selection,
            })
        },
    )
    .await
}

async fn certificate_exists(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let principal = authenticate(&request, &state).await?;
    let is_qr = request
        .path()
        .starts_with("/certificate/api/certificateQRCode/");
    if is_qr {
        reject_qr_protection(&request)?;
    } else if crate::delivery::wants_protection(&request)? {
        // The encrypted PDF needs the date of birth of the chosen record, so
        // HEAD runs the GET route, whose body actix-web leaves out.
        return crate::delivery::protected_download(request, state, principal).await;
    }
    let (scope, _) = beneficiary_scope(&principal)?;
    let beneficiary_id = beneficiary_id(&request)?;
    let service = Arc::clone(&state.service);
    let id = beneficiary_id.clone();
    let found = web::block(move || service.exists(&id, &scope))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let content_type = if is_qr {
        "image/png"
    } else {
        "application/pdf"
    };
    // HEAD checks `language` as GET does and names the language GET would print.
    let language = match content_type {
        "application/pdf" => Some(crate::language::request_language(&state.service, &request)?),
        _ => None,
    };
    match map_service_error(found, &beneficiary_id)? {
        // The size of the file is not known without rendering it, so the response
        // has no Content-Length rather than a wrong one.
        true => {
            // Content-Disposition names the certificate id, which the index
            // check does not read, so it is left out with the ETag.
            let mut response = HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("private")))
                .insert_header((
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .body(actix_web::body::None::new());
            if let Some(language) = &language {
                set_content_language(&mut response, language);
            }
            Ok(response)
        }
        false => Err(ApiError::NotFound {
            source_id: beneficiary_id,
        }
        .into()),
    }
}

async fn no_route(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute {
        method: request.method().to_string(),
        path: request.path().to_owned(),
    })
}

/// A known route called with a method it does not serve: 405 with a JSON body.
pub(crate) fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move |request: HttpRequest| async move {
        Err::<HttpResponse, ApiError>(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allow,
        })
    })
}

/// Serves a rendered file. `select` runs on the blocking pool and chooses the
/// certificate. Then the response is 304 when `If-None-Match` matches the
/// file's ETag, else the file from the render cache or from a new render.
/// `requested_id` is the id from the request, echoed in a 404 body.
pub(crate) async fn serve_file<F>(
    request: &HttpRequest,
    state: &AppState,
    principal: &Principal,
    access: Access,
    requested_id: &str,
    select: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&CertificateService) -> Result<Selection, ServiceError> + Send + 'static,
{
    let permit = Arc::clone(&state.lookup_permits).acquire_owned().await;
    let service = Arc::clone(&state.service);
    let selection = web::block(move || {
        let _permit = permit;
        select(&service)
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    let selection = map_service_error(selection, requested_id)?;
    let etag = selection.key().etag();
    if none_match(request, &etag) {
        state.service.count_not_modified();
        return Ok(not_modified(etag));
    }
    let kind = selection.kind();
    let certificate_id = selection.certificate_id().to_owned();
    let file = match state.service.cached(&selection) {
        Some(file) => file,
        None => map_service_error(run_render(state, selection).await, requested_id)?,
    };
    record_served(state, request, principal, access, &certificate_id);
    Ok(file_response(file, kind, &certificate_id, etag))
}

/// Evaluates `If-None-Match` as RFC 9110 (section 13.1.2) defines it for GET:
/// true when the field is `*` or lists a tag equal to `etag` by weak comparison,
/// which ignores the `W/` prefix. actix-web skips the items of a list that
/// are not quoted tags.
fn none_match(request: &HttpRequest, etag: &EntityTag) -> bool {
    match IfNoneMatch::parse(request) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(etag)),
        Err(_) => false,
    }
}

/// 304 with the headers that the 200 response would carry for caching
/// (RFC 9110, section 15.4.5) and no body.
fn not_modified(etag: EntityTag) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header(header::ETag(etag))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("private")))
        .body(actix_web::body::None::new())
}

/// Renders the file of `selection` on the render pool, then stores it in the
/// cache from this worker thread.
pub(crate) async fn run_render(
    state: &AppState,
    selection: Selection,
) -> Result<Bytes, ServiceError> {
    let key = *selection.key();
    let certificate_id = selection.certificate_id().to_owned();
    let service = Arc::clone(&state.service);
    let result = state
        .render_pool
        .run(move || service.render(selection))
        .await;
    match result {
        Ok(Ok(Rendered::Cached(file))) => Ok(file),
        Ok(Ok(Rendered::New(bytes))) => Ok(state.service.keep(key, &bytes)),
        Ok(Err(error)) => Err(error),
        Err(error) => Err(ServiceError::Render {
            certificate_id,
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
            ApiError::Unavailable(crate::redact::store_error(&error))
        }
        ServiceError::Store(error) => ApiError::Internal(crate::redact::store_error(&error)),
        ServiceError::Render {
            certificate_id,
            message,
        } => ApiError::Render {
            certificate_id,
            message,
        },
    })
}

fn file_response(
    file: Bytes,
    kind: FileKind,
    certificate_id: &str,
    etag: EntityTag,
) -> HttpResponse {
    let disposition = format!(
        "inline; filename=\"certificate-{}.{}\"",
        safe_filename(certificate_id),
        kind.extension()
    );
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(kind.content_type()),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("private")))
        .insert_header(header::ETag(etag))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.insert_header((header::CONTENT_DISPOSITION, value));
    }
    response.body(file)
}

/// Keeps the characters of a certificate id that are safe in a quoted filename.
fn safe_filename(certificate_id: &str) -> String {
    certificate_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}

/// Verifies the request's `Authorization` header and returns the caller.
pub(crate) async fn authenticate(
    request: &HttpRequest,
    state: &AppState,
) -> Result<Principal, ApiError> {
    let mut values = request.headers().get_all(header::AUTHORIZATION);
    let header = values.next().map(HeaderValue::as_bytes);
    if values.next().is_some() {
        return Err(ApiError::Unauthorized(AuthError::Malformed(
            "more than one Authorization header",
        )));
    }
    Ok(with_fresh_keys(state, || state.verifier.authenticate(header)).await?)
}

/// Runs a token check. When the token needs a key that the JWKS URL may have
/// gained, the key set is fetched on the blocking pool and the check runs once
/// more. A slow key server then never holds up the worker's other requests.
pub(crate) async fn with_fresh_keys(
    state: &AppState,
    check: impl Fn() -> Result<Principal, AuthError>,
) -> Result<Principal, AuthError> {
    match check() {
        Err(AuthError::KeysOutdated) => {
            let verifier = state.verifier.clone();
            if let Err(error) = web::block(move || verifier.fetch_keys_if_due()).await {
                tracing::warn!(%error, "fetching the JWKS again could not run");
            }
            match check() {
                // The fetch could not run, so the key is still unknown.
                Err(AuthError::KeysOutdated) => Err(AuthError::Invalid(
                    "no configured key verifies this token".to_owned(),
                )),
                other => other,
            }
        }
        other => other,
    }
}

/// Decides whose certificates a lookup by beneficiary id may reach: anyone's with
/// a distribution or print role, else the citizen's own, by mobile number.
pub(crate) fn beneficiary_scope(principal: &Principal) -> Result<(Scope, Access), ApiError> {
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
    record_audit(
        &state.service,
        request,
        certificate_id,
        principal.subject.clone(),
        access.as_str(),
    );
}

/// Writes an audit row for a certificate that `request` served to `subject`
/// in `role`, unless the request is HEAD, which sends no file.
pub(crate) fn record_audit(
    service: &CertificateService,
    request: &HttpRequest,
    certificate_id: &str,
    subject: Option<String>,
    role: &str,
) {
    if is_head(request) {
        return;
    }
    let event = AuditEvent {
        served_at: chrono::Utc::now(),
        certificate_id: certificate_id.to_owned(),
        route: request
            .match_pattern()
            .unwrap_or_else(|| "(no route)".to_owned()),
        subject,
        role: role.to_owned(),
    };
    service.record_served(&event);
}

/// Reads the `{beneficiaryId}` segment from the raw path and checks it.
pub(crate) fn beneficiary_id(request: &HttpRequest) -> Result<String, ApiError> {
    last_path_id(request, "beneficiary id")
}

/// Reason of a 400 for an id whose percent-decoded bytes are not UTF-8.
pub(crate) const NOT_UTF8: &str = "percent-decoded bytes are not UTF-8";

/// Reads the last segment of the raw path, percent-decoded once, and checks it
/// with [`check_id`].
pub(crate) fn last_path_id(request: &HttpRequest, kind: &'static str) -> Result<String, ApiError> {
    let raw = request.path().rsplit('/').next().unwrap_or_default();
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::InvalidId {
            kind,
            reason: NOT_UTF8.to_owned(),
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
    let status = response.status().as_u16();
    let duration_ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0);
    // A load balancer checks every few seconds, so only a failed check is logged at info.
    if status == 200 && matches!(route.as_str(), "/healthz" | "/readyz") {
        tracing::debug!(target: "http", method = %method, route = %route, status, duration_ms, "request");
    } else {
        tracing::info!(target: "http", method = %method, route = %route, status, duration_ms, "request");
    }
    Ok(response)
}
