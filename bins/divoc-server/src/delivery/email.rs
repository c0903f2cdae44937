//! `POST /certificate/api/email` queues an email with the certificate PDF
//! attached, and `GET /certificate/api/email/{id}` returns its delivery status
//! to the caller that queued it. The worker in `worker.rs` sends it.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use chrono::Utc;
use divoc_store::{NewEmail, OutboxEmail};
use lettre::Address;
use lettre::message::Mailbox;
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{
    EMAIL_LIMIT, check_certificate_id, check_citizen_rate, owned_latest_certificate,
    record_id_from_path, requester,
};
use super::protect::{dob_password, parse_protection};
use super::share::{parse_body, timestamp};
use super::{Delivery, DeliveryError, EMAIL_PATH};
use crate::body_deadline::read_body;
use crate::language::resolve_language;
use crate::routes::AppState;
use crate::settings::Protection;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailRequest {
    certificate_id: String,
    to: String,
    language: Option<String>,
    protect: Option<String>,
}

/// The fields of [`EmailRequest`], with what each must be.
const EMAIL_FIELDS: &[(&str, &str)] = &[
    ("certificateId", "a certificate id as a string"),
    ("to", "an email address as a string"),
    ("language", "a language code such as hi"),
    ("protect", "dob or none"),
];

/// `POST /certificate/api/email`: checks the request and queues the email; 202.
pub async fn queue(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let requester = requester(&request, &state).await?;
    let body = read_body(&request, payload, super::JSON_BODY_BYTES).await?;
    let body: EmailRequest = parse_body(&body, EMAIL_FIELDS)?;
    check_certificate_id(&body.certificate_id)?;
    let to = body.to.trim();
    check_recipient(to)?;
    // The language of the attachment; the subject and body are in English
    // when it has no email texts.
    let language = resolve_language(&state.service, body.language.as_deref())?;
    let protection = parse_protection(body.protect.as_deref(), delivery.protection)?;
    if delivery.smtp.is_none() {
        return Err(DeliveryError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "email_disabled",
            "email delivery is not configured on this server: set email.smtp_url \
             (DIVOC__EMAIL__SMTP_URL)",
        )
        .into());
    }
    check_citizen_rate(
        &delivery.store,
        &requester,
        EMAIL_LIMIT,
        delivery.email.rate_window_seconds,
        delivery.email.max_per_mobile,
    )
    .await?;
    let record = owned_latest_certificate(&state, &requester, &body.certificate_id).await?;
    if protection == Protection::Dob {
        // Rejected now rather than failing later in the worker.
        dob_password(&record)?;
    }

    let mut id_bytes = [0u8; 12];
    OsRng
        .try_fill_bytes(&mut id_bytes)
        .map_err(|error| DeliveryError::internal(format!("no random bytes: {error}")))?;
    let id: String = id_bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let store = delivery.store.clone();
    let email_id = id.clone();
    let to = to.to_owned();
    let stored_language = language.clone();
    let certificate_id = record.certificate_id.clone();
    let requester_key = requester.key.clone();
    let scope_mobile = requester.citizen_mobile.clone();
    web::block(move || {
        store.enqueue_email(&NewEmail {
            id: &email_id,
            certificate_id: &certificate_id,
            recipient: &to,
            language: &stored_language,
            protect: (protection == Protection::Dob).then_some("dob"),
            requester: &requester_key,
            created_at: Utc::now(),
            scope_mobile: scope_mobile.as_deref(),
        })
    })
    .await
    .map_err(|error| DeliveryError::internal(error.to_string()))?
    .map_err(|error| DeliveryError::store(&error))?;
    tracing::info!(email = %id, "email queued");
    Ok(HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(json!({
            "id": id,
            "status": "queued",
            "language": language,
            "statusUrl": format!("{EMAIL_PATH}/{id}"),
        })))
}

/// `GET /certificate/api/email/{id}`: the delivery status, for the caller that
/// queued the email; 404 for anyone else, and 400 for a malformed id.
pub async fn status(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
) -> Result<HttpResponse, actix_web::Error> {
    let requester = requester(&request, &state).await?;
    let id = record_id_from_path(&request, "email id")?;
    let not_found = |id: String| {
        DeliveryError::new(
            StatusCode::NOT_FOUND,
            "email_not_found",
            "no email with this id was queued by this token's subject",
        )
        .with_value(id)
    };
    let store = delivery.store.clone();
    let email_id = id.clone();
    let email = web::block(move || store.email(&email_id))
        .await
        .map_err(|error| DeliveryError::internal(error.to_string()))?
        .map_err(|error| DeliveryError::store(&error))?;
    match email {
        Some(email) if email.requester == requester.key => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(status_json(&email))),
        _ => Err(not_found(id).into()),
    }
}

fn status_json(email: &OutboxEmail) -> Value {
    json!({
        "id": email.id,
        "certificateId": email.certificate_id,
        "status": email.status.as_str(),
        "attempts": email.attempts,
        "lastError": email.last_error,
        "protected": email.protect.is_some(),
        "language": email.language,
        "createdAt": timestamp(email.created_at),
        "updatedAt": timestamp(email.updated_at),
    })
}

/// Checks `to` as the worker will read it: a bare address (no display name)
/// that lettre also reads as a mailbox. An address that passes only the
/// first check, such as `"a b"@example.org` or `a@[127.0.0.1]`, would be
/// queued and then fail at every attempt.
fn check_recipient(to: &str) -> Result<(), DeliveryError> {
    let bare = to.parse::<Address>().is_ok();
    let mailbox = to
        .parse::<Mailbox>()
        .is_ok_and(|mailbox| mailbox.name.is_none());
    if bare && mailbox {
        return Ok(());
    }
    Err(DeliveryError::invalid(
        "to",
        "not an email address that can be sent to: expected local-part@domain, \
         without a display name, quotes or an address literal",
        to,
    ))
}
