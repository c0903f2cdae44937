//! Access rules of the delivery routes (which caller may hand on which
//! certificate), rendering of its files, audit rows and rate limits.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use divoc_model::RegistryRecord;
use divoc_store::Store;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::DeliveryError;
use crate::cache::FileKind;
use crate::principal::Principal;
use crate::routes::{AppState, NOT_UTF8, authenticate, run_render};
use crate::service::{CertificateService, Rendered, Scope, Selection, ServiceError};

/// The caller of a delivery route.
#[derive(Debug, Clone)]
pub struct Requester {
    /// Owner key of the links and emails this caller creates: the token's
    /// `sub`, or `mobile:<number>` for a citizen token without one.
    pub key: String,
    /// The citizen's mobile number; `None` for a distribution role.
    pub citizen_mobile: Option<String>,
}

/// Authenticates the request and checks that the token may hand certificates
/// on: a distribution role with a `sub`, or a citizen token with a mobile number.
pub async fn requester(
    request: &HttpRequest,
    state: &AppState,
) -> Result<Requester, actix_web::Error> {
    let principal = authenticate(request, state).await?;
    Ok(requester_of(&principal)?)
}

fn requester_of(principal: &Principal) -> Result<Requester, DeliveryError> {
    if principal.distribution {
        let subject = principal.subject.clone().ok_or_else(|| {
            DeliveryError::forbidden(
                "the token has no sub claim, which share links and emails need to know their creator",
            )
        })?;
        return Ok(Requester {
            key: subject,
            citizen_mobile: None,
        });
    }
    if principal.print {
        return Err(DeliveryError::forbidden(
            "the print role may not share, email or send certificates",
        ));
    }
    let mobile = principal.mobile.clone().ok_or_else(|| {
        DeliveryError::forbidden("the token has no distribution role and no mobile number")
    })?;
    Ok(Requester {
        key: principal
            .subject
            .clone()
            .unwrap_or_else(|| format!("mobile:{mobile}")),
        citizen_mobile: Some(mobile),
    })
}

/// Reads the `{id}` of a share link or an email from the last path segment,
/// percent-decoded once. Both ids are 24 hex digits. A malformed id is 400
/// `invalid_id` with the value, as on the routes by beneficiary id, so that
/// 404 means only that no link or email of the caller has this id.
pub fn record_id_from_path(
    request: &HttpRequest,
    kind: &'static str,
) -> Result<String, DeliveryError> {
    let raw = request.path().rsplit('/').next().unwrap_or_default();
    let invalid = |reason: &str, value: &str| {
        DeliveryError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("invalid {kind}: {reason}"),
        )
        .with_value(value)
    };
    let id = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| invalid(NOT_UTF8, raw))?;
    if id.len() != 24 || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(invalid("expected 24 hex digits", &id));
    }
    Ok(id.into_owned())
}

/// Checks a certificate id from a request body.
pub fn check_certificate_id(id: &str) -> Result<(), DeliveryError> {
    divoc_model::check_id(id).map_err(|rule| DeliveryError::invalid("certificateId", rule, id))
}

/// Loads a certificate that the requester may hand on: it exists, is not
/// revoked, belongs to the citizen (for citizen tokens) and is the latest of
/// its beneficiary. Runs on the blocking pool.
pub async fn owned_latest_certificate(
    state: &AppState,
    requester: &Requester,
    certificate_id: &str,
) -> Result<RegistryRecord, DeliveryError> {
    let service = Arc::clone(&state.service);
    let id = certificate_id.to_owned();
    let mobile = requester.citizen_mobile.clone();
    web::block(move || {
        let record = service
            .store()
            .certificate_by_id(&id)
            .map_err(|error| DeliveryError::store(&error))?
            .ok_or_else(|| DeliveryError::certificate_not_found(&id))?;
        if let Some(mobile) = &mobile
            && record.mobile.as_deref() != Some(mobile.as_str())
        {
            return Err(DeliveryError::certificate_not_found(&id));
        }
        check_latest(&service, &record, &creator_scope(mobile.as_deref()))?;
        Ok(record)
    })
    .await
    .map_err(|error| DeliveryError::internal(error.to_string()))?
}

/// Returns 410 unless `record` is the latest certificate of its beneficiary
/// within `scope`, the creator scope of a link or an email. For a citizen,
/// that is among the doses registered to the citizen's mobile number, which
/// must include `record`.
pub fn check_latest(
    service: &CertificateService,
    record: &RegistryRecord,
    scope: &Scope,
) -> Result<(), DeliveryError> {
    if let Scope::Mobile(mobile) = scope
        && record.mobile.as_deref() != Some(mobile.as_str())
    {
        return Err(DeliveryError::new(
            StatusCode::GONE,
            "certificate_moved",
            "the certificate is no longer registered to the mobile number that handed it on; \
             ask its owner for a new link",
        )
        .with_value(&record.certificate_id));
    }
    let latest = service
        .select_by_beneficiary(FileKind::QrPng, &record.pre_enrollment_code, scope)
        .map_err(|error| service_error(&error))?;
    if latest.certificate_id() != record.certificate_id {
        return Err(superseded(&record.certificate_id));
    }
    Ok(())
}

/// 410 for a certificate that a newer one of its beneficiary replaced.
pub fn superseded(certificate_id: &str) -> DeliveryError {
    DeliveryError::new(
        StatusCode::GONE,
        "certificate_superseded",
        "a newer certificate of the beneficiary replaced this one; share the newer one",
    )
    .with_value(certificate_id)
}

/// Maps a pipeline error.
pub fn service_error(error: &ServiceError) -> DeliveryError {
    match error {
        ServiceError::NotFound => DeliveryError::new(
            StatusCode::GONE,
            "certificate_revoked",
            "the certificate was revoked or removed",
        ),
        ServiceError::Store(error) => DeliveryError::store(error),
        ServiceError::Render { .. } => DeliveryError::internal(error.to_string()),
    }
}

/// Returns the scope of what a link or an email shows, as the creator's own
/// download shows it: the doses registered to the citizen's mobile number,
/// or every dose of the beneficiary for a distribution role.
pub fn creator_scope(scope_mobile: Option<&str>) -> Scope {
    scope_mobile.map_or(Scope::Anyone, |mobile| Scope::Mobile(mobile.to_owned()))
}

/// Renders (or takes from the cache) the `kind` file of the latest certificate
/// of `beneficiary` within `scope`, which must still be `certificate_id`, a
/// PDF in `language` (a code that [`crate::language::resolve_language`]
/// returned). The bytes are those of
/// `/certificate/api/certificatePDF/{beneficiaryId}?language=` and
/// `/certificate/api/certificateQRCode/{beneficiaryId}` for the same scope.
pub async fn render_file(
    state: &AppState,
    kind: FileKind,
    scope: Scope,
    beneficiary: &str,
    certificate_id: &str,
    language: &str,
) -> Result<Bytes, DeliveryError> {
    let service = Arc::clone(&state.service);
    let beneficiary = beneficiary.to_owned();
    let language = language.to_owned();
    let selection = web::block(move || {
        let selection = service.select_by_beneficiary(kind, &beneficiary, &scope)?;
        Ok(in_language(&service, selection, &language))
    })
    .await
    .map_err(|error| DeliveryError::internal(error.to_string()))?
    .map_err(|error| service_error(&error))?;
    if selection.certificate_id() != certificate_id {
        return Err(superseded(certificate_id));
    }
    if let Some(file) = state.service.cached(&selection) {
        return Ok(file);
    }
    run_render(state, selection)
        .await
        .map_err(|error| service_error(&error))
}

/// Renders the PDF in `language` within `scope` on the calling thread, for
/// the email worker.
pub fn render_pdf_blocking(
    service: &CertificateService,
    scope: &Scope,
    record: &RegistryRecord,
    language: &str,
) -> Result<Bytes, DeliveryError> {
    let selection = service
        .select_by_beneficiary(FileKind::Pdf, &record.pre_enrollment_code, scope)
        .map_err(|error| service_error(&error))?;
    let selection = in_language(service, selection, language);
    if selection.certificate_id() != record.certificate_id {
        return Err(superseded(&record.certificate_id));
    }
    if let Some(file) = service.cached(&selection) {
        return Ok(file);
    }
    let key = *selection.key();
    match service.render(selection) {
        Ok(Rendered::Cached(file)) => Ok(file),
        Ok(Rendered::New(bytes)) => Ok(service.keep(key, &bytes)),
        Err(error) => Err(service_error(&error)),
    }
}

/// Sets the language of a PDF selection; a QR code has none.
fn in_language(service: &CertificateService, selection: Selection, language: &str) -> Selection {
    match selection.kind() {
        FileKind::Pdf => service.in_language(selection, Some(language)),
        FileKind::QrPng => selection,
    }
}

/// Name of the citizen limit on emails, which begins its rate-limit buckets' names.
pub const EMAIL_LIMIT: &str = "email";
/// Name of the citizen limit on share links.
pub const SHARE_LIMIT: &str = "share";
/// Name of the citizen limit on SMS with a link.
pub const NOTIFY_LIMIT: &str = "notify";

/// Returns the prefix of the rate-limit bucket names of the limit `purpose`,
/// such as `email:`, by which the store purges them.
pub fn bucket_prefix(purpose: &str) -> String {
    format!("{purpose}:")
}

/// Counts a citizen request in the store's fixed-window counter `purpose` for
/// the citizen's mobile number, and returns 429 when `max` is exceeded.
/// Distribution roles are not limited.
pub async fn check_citizen_rate(
    store: &Store,
    requester: &Requester,
    purpose: &'static str,
    window_seconds: u64,
    max: u32,
) -> Result<(), DeliveryError> {
    let Some(mobile) = &requester.citizen_mobile else {
        return Ok(());
    };
    let bucket = format!(
        "{}mobile:{}",
        bucket_prefix(purpose),
        hex_sha256(mobile.as_bytes())
    );
    let window = Duration::from_secs(window_seconds.max(1));
    let store = store.clone();
    let count = web::block(move || store.count_rate_hit(&bucket, chrono::Utc::now(), window))
        .await
        .map_err(|error| DeliveryError::internal(error.to_string()))?
        .map_err(|error| DeliveryError::store(&error))?;
    if count.hits > max {
        let ends = count.window_start + chrono::Duration::seconds(window_seconds as i64);
        let retry = (ends - chrono::Utc::now()).num_seconds().max(1);
        return Err(DeliveryError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("at most {max} requests per {window_seconds} seconds for one mobile number; retry later"),
        )
        .with_retry_after(u64::try_from(retry).unwrap_or(1)));
    }
    Ok(())
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
