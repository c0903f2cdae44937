//! Share link routes: create, list and revoke links, and serve what a link
//! holder may fetch.
//!
//! A token is 256 random bits in base64url (43 characters). The store keeps
//! its SHA-256 only. A passcode travels in the `X-Share-Passcode` header or a
//! POST form field, never in the URL, so it stays out of access logs, and is
//! stored as an Argon2id hash.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng as SaltRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use divoc_model::RegistryRecord;
use divoc_store::{NewShareLink, ShareLink};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{
    Requester, SHARE_LIMIT, check_certificate_id, check_citizen_rate, check_latest, creator_scope,
    hex_sha256, owned_latest_certificate, record_id_from_path, render_file, requester,
    service_error,
};
use super::protect::{dob_password, encrypt, parse_protection};
use super::{Delivery, DeliveryError};
use crate::body_deadline::read_body;
use crate::cache::FileKind;
use crate::language::{resolve_language, set_content_language};
use crate::routes::AppState;
use crate::service::{CertificateService, ServiceError};
use crate::settings::Protection;

/// Header that carries a link's passcode.
pub const PASSCODE_HEADER: &str = "X-Share-Passcode";
/// Length of a token in base64url characters (256 bits).
const TOKEN_CHARS: usize = 43;
/// Shortest and longest passcode, in characters.
const PASSCODE_CHARS: std::ops::RangeInclusive<usize> = 4..=64;
/// Links returned by the listing, newest first.
const LIST_LIMIT: i64 = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    certificate_id: String,
    expires_in_days: Option<i64>,
    passcode: Option<String>,
    language: Option<String>,
}

/// The fields of [`CreateRequest`], with what each must be.
const CREATE_FIELDS: &[(&str, &str)] = &[
    ("certificateId", "a certificate id as a string"),
    ("expiresInDays", "a whole number of days"),
    ("passcode", "a string of 4 to 64 characters"),
    ("language", "a language code such as hi"),
];

/// A link that was just created, with its token.
pub struct CreatedLink {
    /// Public id.
    pub id: String,
    /// The token, shown once.
    pub token: String,
    /// Expiry time.
    pub expires_at: DateTime<Utc>,
}

/// `POST /certificate/api/share`: creates a link to a certificate that the
/// caller may hand on.
pub async fn create(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let requester = requester(&request, &state).await?;
    let body = read_body(&request, payload, super::JSON_BODY_BYTES).await?;
    let body: CreateRequest = parse_body(&body, CREATE_FIELDS)?;
    check_certificate_id(&body.certificate_id)?;
    let days = expiry_days(&delivery, body.expires_in_days)?;
    let language = match body.language.as_deref() {
        Some(requested) => Some(resolve_language(&state.service, Some(requested))?),
        None => None,
    };
    if let Some(passcode) = &body.passcode {
        check_new_passcode(passcode)?;
    }
    check_citizen_rate(
        &delivery.store,
        &requester,
        SHARE_LIMIT,
        delivery.share.rate_window_seconds,
        delivery.share.max_per_mobile,
    )
    .await?;
    let record = owned_latest_certificate(&state, &requester, &body.certificate_id).await?;
    let created = store_link(&delivery, &requester, &record, days, body.passcode).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(json!({
            "id": created.id,
            "url": share_url(&delivery, &created.token, language.as_deref()),
            "token": created.token,
            "language": language,
            "expiresAt": timestamp(created.expires_at),
            "certificateId": record.certificate_id,
        })))
}

/// Creates and stores a link for `record`; the passcode, if any, is hashed
/// on the blocking pool.
pub async fn store_link(
    delivery: &Delivery,
    requester: &Requester,
    record: &RegistryRecord,
    days: u32,
    passcode: Option<String>,
) -> Result<CreatedLink, DeliveryError> {
    let mut token_bytes = [0u8; 32];
    let mut id_bytes = [0u8; 12];
    OsRng
        .try_fill_bytes(&mut token_bytes)
        .and_then(|()| OsRng.try_fill_bytes(&mut id_bytes))
        .map_err(|error| DeliveryError::internal(format!("no random bytes: {error}")))?;
    let token = URL_SAFE_NO_PAD.encode(token_bytes);
    let id: String = id_bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let now = Utc::now();
    let expires_at = now + chrono::Duration::days(i64::from(days));

    let store = delivery.store.clone();
    let token_hash = hex_sha256(token.as_bytes());
    let certificate_id = record.certificate_id.clone();
    let beneficiary = record.pre_enrollment_code.clone();
    let creator = requester.key.clone();
    let scope_mobile = requester.citizen_mobile.clone();
    let link_id = id.clone();
    web::block(move || {
        let passcode_hash = match passcode {
            Some(passcode) => Some(hash_passcode(&passcode)?),
            None => None,
        };
        store
            .create_share_link(&NewShareLink {
                id: &link_id,
                token_hash: &token_hash,
                certificate_id: &certificate_id,
                pre_enrollment_code: &beneficiary,
                creator: &creator,
                passcode_hash: passcode_hash.as_deref(),
                created_at: now,
                expires_at,
                scope_mobile: scope_mobile.as_deref(),
            })
            .map_err(|error| DeliveryError::store(&error))
    })
    .await
    .map_err(|error| DeliveryError::internal(error.to_string()))??;
    tracing::info!(link = %id, "share link created");
    Ok(CreatedLink {
        id,
        token,
        expires_at,
    })
}

/// `GET /certificate/api/share`: the caller's links, newest first.
pub async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
) -> Result<HttpResponse, actix_web::Error> {
    let requester = requester(&request, &state).await?;
    let store = delivery.store.clone();
    let service = std::sync::Arc::clone(&state.service);
    let (links, latest) = web::block(move || {
        let links = store
            .share_links_by_creator(&requester.key, LIST_LIMIT)
            .map_err(|error| DeliveryError::store(&error))?;
        let latest = latest_certificates(&service, &links)?;
        Ok::<_, DeliveryError>((links, latest))
    })
    .await
    .map_err(|error| DeliveryError::internal(error.to_string()))??;
    let now = Utc::now();
    let max_attempts = delivery.share.max_passcode_attempts;
    let links: Vec<Value> = links
        .iter()
        .map(|link| {
            let state = LinkState {
                latest: latest.get(&latest_key(link)).map(Option::as_deref),
                max_attempts,
            };
            link_json(link, now, &state)
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(json!({ "links": links })))
}

/// `DELETE /certificate/api/share/{id}`: revokes one of the caller's links.
pub async fn revoke(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
) -> Result<HttpResponse, actix_web::Error> {
    let requester = requester(&request, &state).await?;
    let id = record_id_from_path(&request, "share link id")?;
    let store = delivery.store.clone();
    let link_id = id.clone();
    let link = web::block(move || store.revoke_share_link(&link_id, &requester.key, Utc::now()))
        .await
        .map_err(|error| DeliveryError::internal(error.to_string()))?
        .map_err(|error| DeliveryError::store(&error))?;
    let Some(link) = link else {
        return Err(DeliveryError::new(
            StatusCode::NOT_FOUND,
            "link_not_found",
            "no share link with this id was created by this token's subject",
        )
        .with_value(id)
        .into());
    };
    tracing::info!(link = %link.id, "share link revoked");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(link_json(&link, Utc::now(), &LinkState::default())))
}

/// Looks up the latest certificate id of each beneficiary that `links` point
/// to, within each link's creator scope: `None` when no certificate is left
/// to serve.
fn latest_certificates(
    service: &CertificateService,
    links: &[ShareLink],
) -> Result<HashMap<LatestKey, Option<String>>, DeliveryError> {
    let mut latest = HashMap::new();
    for link in links {
        let key = latest_key(link);
        if latest.contains_key(&key) {
            continue;
        }
        let scope = creator_scope(link.scope_mobile.as_deref());
        let id = match service.select_by_beneficiary(FileKind::QrPng, &key.0, &scope) {
            Ok(selection) => Some(selection.certificate_id().to_owned()),
            Err(ServiceError::NotFound) => None,
            Err(error) => return Err(service_error(&error)),
        };
        latest.insert(key, id);
    }
    Ok(latest)
}

/// A beneficiary id and the mobile number of a citizen's link, which limits
/// the doses that the link's latest certificate is chosen from.
type LatestKey = (String, Option<String>);

fn latest_key(link: &ShareLink) -> LatestKey {
    (link.pre_enrollment_code.clone(), link.scope_mobile.clone())
}

/// Facts about a link that its row lacks, looked up for a listing.
#[derive(Default)]
struct LinkState<'a> {
    /// The beneficiary's latest certificate id: `Some(None)` when none is left,
    /// `None` when it was not looked up.
    latest: Option<Option<&'a str>>,
    /// Wrong passcodes after which the link is locked; 0 when not known.
    max_attempts: u32,
}

#[derive(Deserialize, Default)]
pub struct SharedQuery {
    format: Option<String>,
    protect: Option<String>,
    language: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SharedForm {
    passcode: Option<String>,
    format: Option<String>,
    protect: Option<String>,
    language: Option<String>,
}

/// `GET /certificate/api/shared/{token}?format=pdf|qr|json&protect=dob|none&language=hi`,
/// with the passcode, if any, in `X-Share-Passcode`.
pub async fn shared_get(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
    path: web::Path<String>,
    query: web::Query<SharedQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    // With a repeated header, which value counts is ambiguous: a proxy may
    // read another one than this server. It is rejected before the link is
    // read, so it counts no attempt.
    let header_count = request.headers().get_all(PASSCODE_HEADER).count();
    if header_count > 1 {
        return Err(DeliveryError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("invalid {PASSCODE_HEADER} header: given {header_count} times; send it once"),
        )
        .into());
    }
    // Raw UTF-8 bytes, as curl sends `-H 'X-Share-Passcode: pässwörd'`:
    // `HeaderValue::to_str` accepts visible ASCII only.
    let passcode = match request.headers().get(PASSCODE_HEADER) {
        None => None,
        Some(value) => match std::str::from_utf8(value.as_bytes()) {
            Ok(text) => Some(text.to_owned()),
            Err(_) => {
                return Err(DeliveryError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    format!("invalid {PASSCODE_HEADER} header: not UTF-8 text"),
                )
                .into());
            }
        },
    };
    serve_shared(
        &request,
        &state,
        &delivery,
        &path,
        passcode,
        query.into_inner(),
    )
    .await
}

/// `POST /certificate/api/shared/{token}` with a form of `passcode`, `format`,
/// `protect` and `language`, as the page sends it.
pub async fn shared_post(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
    path: web::Path<String>,
    form: web::Form<SharedForm>,
) -> Result<HttpResponse, actix_web::Error> {
    let form = form.into_inner();
    let options = SharedQuery {
        format: form.format,
        protect: form.protect,
        language: form.language,
    };
    serve_shared(&request, &state, &delivery, &path, form.passcode, options).await
}

async fn serve_shared(
    request: &HttpRequest,
    state: &AppState,
    delivery: &Delivery,
    token: &str,
    passcode: Option<String>,
    options: SharedQuery,
) -> Result<HttpResponse, actix_web::Error> {
    let kind = match options.format.as_deref().unwrap_or("pdf") {
        "pdf" => Some(FileKind::Pdf),
        "qr" => Some(FileKind::QrPng),
        "json" => None,
        other => {
            return Err(DeliveryError::invalid("format", "expected pdf, qr or json", other).into());
        }
    };
    let protection = parse_protection(options.protect.as_deref(), delivery.protection)?;
    // `protection.default` applies to PDFs only, but a request that names
    // `dob` for a QR code or the credential must not get it unencrypted.
    if kind != Some(FileKind::Pdf) && options.protect.as_deref() == Some("dob") {
        return Err(DeliveryError::invalid(
            "protect",
            "applies to format=pdf only; a QR code or a JSON credential cannot be encrypted",
            "dob",
        )
        .into());
    }
    let language = resolve_language(&state.service, options.language.as_deref())?;
    let (link, record) = open_link(state, delivery, token, passcode).await?;
    let response = match kind {
        None => {
            let credential: Value = serde_json::from_str(&record.certificate)
                .map_err(|error| DeliveryError::internal(error.to_string()))?;
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .json(json!({
                    "certificateId": record.certificate_id,
                    "expiresAt": timestamp(link.expires_at.and_utc()),
                    "certificate": credential,
                }))
        }
        Some(kind) => {
            let file = shared_file(state, &link, &record, kind, protection, &language).await?;
            let mut response = file_response(file, kind, &record.certificate_id);
            if kind == FileKind::Pdf {
                set_content_language(&mut response, &language);
            }
            response
        }
    };
    crate::routes::record_audit(
        &state.service,
        request,
        &record.certificate_id,
        Some(format!("share-link:{}", link.id)),
        "share-link",
    );
    Ok(response)
}

/// Renders the file that `link` serves, a PDF in `language` and encrypted
/// when `protection` is `Dob`. A citizen's link shows what the citizen's own
/// download shows.
pub async fn shared_file(
    state: &AppState,
    link: &ShareLink,
    record: &RegistryRecord,
    kind: FileKind,
    protection: Protection,
    language: &str,
) -> Result<Bytes, DeliveryError> {
    let file = render_file(
        state,
        kind,
        creator_scope(link.scope_mobile.as_deref()),
        &record.pre_enrollment_code,
        &record.certificate_id,
        language,
    )
    .await?;
    if kind != FileKind::Pdf || protection == Protection::None {
        return Ok(file);
    }
    let password = dob_password(record)?;
    web::block(move || encrypt(&file, &password).map(Bytes::from))
        .await
        .map_err(|error| DeliveryError::internal(error.to_string()))?
}

/// Finds the link of `token` and checks, in this order, that it exists, is not
/// revoked, has not expired, that its certificate is neither revoked nor
/// superseded, and the passcode. Returns the link and its certificate.
pub async fn open_link(
    state: &AppState,
    delivery: &Delivery,
    token: &str,
    passcode: Option<String>,
) -> Result<(ShareLink, RegistryRecord), DeliveryError> {
    let not_found = || {
        DeliveryError::new(
            StatusCode::NOT_FOUND,
            "link_not_found",
            "no share link has this token; check that the whole link was copied",
        )
    };
    if token.len() != TOKEN_CHARS
        || !token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        return Err(not_found());
    }
    let token_hash = hex_sha256(token.as_bytes());
    let service = std::sync::Arc::clone(&state.service);
    let max_attempts = delivery.share.max_passcode_attempts;
    web::block(move || {
        let store = service.store();
        let link = store
            .share_link_by_token_hash(&token_hash)
            .map_err(|error| DeliveryError::store(&error))?
            .ok_or_else(not_found)?;
        if link.revoked_at.is_some() {
            return Err(DeliveryError::new(
                StatusCode::GONE,
                "link_revoked",
                "the creator revoked this share link",
            ));
        }
        if !link.is_live(Utc::now()) {
            return Err(DeliveryError::new(
                StatusCode::GONE,
                "link_expired",
                "this share link has expired; ask for a new one",
            )
            .with_field("expiredAt", json!(timestamp(link.expires_at.and_utc()))));
        }
        // The passcode is checked before the certificate's state, because that
        // error names the certificate and shows whether its owner's number changed.
        if link.passcode_hash.is_some() {
            check_passcode(store, &link, passcode.as_deref(), max_attempts)?;
        }
        let record = store
            .certificate_by_beneficiary_and_id(&link.pre_enrollment_code, &link.certificate_id)
            .map_err(|error| DeliveryError::store(&error))?
            .ok_or_else(|| service_error(&crate::service::ServiceError::NotFound))?;
        check_latest(
            &service,
            &record,
            &creator_scope(link.scope_mobile.as_deref()),
        )?;
        Ok((link, record))
    })
    .await
    .map_err(|error| DeliveryError::internal(error.to_string()))?
}

/// Checks the passcode of a new link: its length, and that the
/// `X-Share-Passcode` header can carry it. HTTP drops spaces and tabs at
/// either end of a header value and allows no line break inside one. Such a
/// passcode could be sent only through the page's form.
fn check_new_passcode(passcode: &str) -> Result<(), DeliveryError> {
    let length = passcode.chars().count();
    if !PASSCODE_CHARS.contains(&length) {
        return Err(DeliveryError::invalid(
            "passcode",
            "must be 4 to 64 characters",
            format!("({length} characters)"),
        ));
    }
    let padded = passcode.starts_with(' ') || passcode.ends_with(' ');
    if padded || passcode.chars().any(char::is_control) {
        return Err(DeliveryError::invalid(
            "passcode",
            "must not start or end with a space or contain control characters such as \
             a tab or line break, because the X-Share-Passcode header cannot carry them",
            "(not shown)",
        ));
    }
    Ok(())
}

fn check_passcode(
    store: &divoc_store::Store,
    link: &ShareLink,
    passcode: Option<&str>,
    max_attempts: u32,
) -> Result<(), DeliveryError> {
    let Some(passcode) = passcode.filter(|passcode| !passcode.is_empty()) else {
        return Err(DeliveryError::new(
            StatusCode::UNAUTHORIZED,
            "passcode_required",
            format!("this share link needs its passcode in the {PASSCODE_HEADER} header"),
        ));
    };
    let stored = store
        .claim_share_passcode_attempt(&link.id, max_attempts)
        .map_err(|error| DeliveryError::store(&error))?
        .ok_or_else(|| {
            DeliveryError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "passcode_locked",
                format!(
                    "{max_attempts} wrong passcodes were tried, so this link accepts none; \
                     ask for a new link"
                ),
            )
        })?;
    if passcode_matches(passcode, &stored) {
        store
            .release_share_passcode_attempt(&link.id)
            .map_err(|error| DeliveryError::store(&error))?;
        return Ok(());
    }
    let used = u32::try_from(link.failed_attempts)
        .unwrap_or(0)
        .saturating_add(1);
    tracing::info!(link = %link.id, attempt = used, "wrong share link passcode");
    Err(DeliveryError::new(
        StatusCode::UNAUTHORIZED,
        "passcode_invalid",
        "the passcode is wrong",
    )
    .with_field("attemptsLeft", json!(max_attempts.saturating_sub(used))))
}

fn hash_passcode(passcode: &str) -> Result<String, DeliveryError> {
    let salt = SaltString::generate(&mut SaltRng);
    Argon2::default()
        .hash_password(passcode.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| DeliveryError::internal(format!("passcode hashing failed: {error}")))
}

fn passcode_matches(passcode: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(passcode.as_bytes(), &hash)
            .is_ok(),
        Err(error) => {
            tracing::error!(%error, "stored share link passcode hash is unreadable");
            false
        }
    }
}

/// Checks `expiresInDays`: 1 to `share.max_days`, default `share.default_days`.
pub fn expiry_days(delivery: &Delivery, requested: Option<i64>) -> Result<u32, DeliveryError> {
    let Some(days) = requested else {
        return Ok(delivery.share.default_days);
    };
    let max = delivery.share.max_days;
    match u32::try_from(days) {
        Ok(days) if (1..=max).contains(&days) => Ok(days),
        _ => Err(DeliveryError::invalid(
            "expiresInDays",
            &format!("must be a whole number from 1 to {max}"),
            days.to_string(),
        )),
    }
}

/// Returns the page URL of a token. A `language` is added as a query
/// parameter, which the page passes on to its PDF link, so it is the link's
/// default language.
// NOTE: the language travels in the URL because the share_links table has no
// language column; a holder may still pick another one with `?language=`.
pub fn share_url(delivery: &Delivery, token: &str, language: Option<&str>) -> String {
    match language {
        Some(language) => format!("{}/s/{token}?language={language}", delivery.public_url()),
        None => format!("{}/s/{token}", delivery.public_url()),
    }
}

fn link_json(link: &ShareLink, now: DateTime<Utc>, state: &LinkState<'_>) -> Value {
    let locked = state.max_attempts > 0
        && link.passcode_hash.is_some()
        && u32::try_from(link.failed_attempts).unwrap_or(0) >= state.max_attempts;
    let status = if link.revoked_at.is_some() {
        "revoked"
    } else if !link.is_live(now) {
        "expired"
    } else if state.latest == Some(None) {
        "certificate_revoked"
    } else if matches!(state.latest, Some(Some(latest)) if latest != link.certificate_id) {
        "certificate_superseded"
    } else if locked {
        "locked"
    } else {
        "active"
    };
    json!({
        "id": link.id,
        "certificateId": link.certificate_id,
        "createdAt": timestamp(link.created_at.and_utc()),
        "expiresAt": timestamp(link.expires_at.and_utc()),
        "revokedAt": link.revoked_at.map(|time| timestamp(time.and_utc())),
        "status": status,
        "passcodeRequired": link.passcode_hash.is_some(),
        "failedPasscodeAttempts": link.failed_attempts,
    })
}

/// Formats a time as RFC 3339 UTC with seconds.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a JSON request body, or 400 naming the problem. `fields` lists
/// each field with what it must be, for the messages.
pub fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    fields: &[(&str, &str)],
) -> Result<T, DeliveryError> {
    crate::json_body::from_json_fields(body, fields).map_err(|error| {
        DeliveryError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the request body is not the expected JSON object: {error}"),
        )
    })
}

fn file_response(file: Bytes, kind: FileKind, certificate_id: &str) -> HttpResponse {
    let name: String = certificate_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    let disposition = match kind {
        FileKind::Pdf => format!("attachment; filename=\"certificate-{name}.pdf\""),
        FileKind::QrPng => format!("inline; filename=\"certificate-{name}.png\""),
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(kind.content_type()),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.insert_header((header::CONTENT_DISPOSITION, value));
    }
    response.body(file)
}
