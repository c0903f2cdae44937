//! `POST /certificate/api/notify` with `{certificateId, channel: "sms"}`:
//! creates a share link and sends it by SMS to the mobile number the
//! certificate is registered to, through the `[sms]` gateway.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::access::{
    NOTIFY_LIMIT, check_certificate_id, check_citizen_rate, owned_latest_certificate, requester,
};
use super::messages::{fill, messages_or_english};
use super::share::{expiry_days, parse_body, share_url, store_link, timestamp};
use super::{Delivery, DeliveryError};
use crate::body_deadline::read_body;
use crate::language::resolve_language;
use crate::routes::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifyRequest {
    certificate_id: String,
    channel: String,
    language: Option<String>,
    expires_in_days: Option<i64>,
}

/// The fields of [`NotifyRequest`], with what each must be.
const NOTIFY_FIELDS: &[(&str, &str)] = &[
    ("certificateId", "a certificate id as a string"),
    ("channel", "sms"),
    ("language", "a language code such as hi"),
    ("expiresInDays", "a whole number of days"),
];

/// Sends the link and responds 200 once the gateway accepted the message.
pub async fn send(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let requester = requester(&request, &state).await?;
    let body = read_body(&request, payload, super::JSON_BODY_BYTES).await?;
    let body: NotifyRequest = parse_body(&body, NOTIFY_FIELDS)?;
    check_certificate_id(&body.certificate_id)?;
    if body.channel != "sms" {
        return Err(DeliveryError::invalid("channel", "expected sms", body.channel).into());
    }
    let language = resolve_language(&state.service, body.language.as_deref())?;
    let texts = messages_or_english(&language);
    // The link opens in the requested language; without one it follows the
    // deployment's default at the time it is opened.
    let link_language = body.language.is_some().then_some(language.as_str());
    let days = expiry_days(&delivery, body.expires_in_days)?;
    check_citizen_rate(
        &delivery.store,
        &requester,
        NOTIFY_LIMIT,
        delivery.notify.rate_window_seconds,
        delivery.notify.max_per_mobile,
    )
    .await?;
    let record = owned_latest_certificate(&state, &requester, &body.certificate_id).await?;
    let Some(mobile) = record
        .mobile
        .clone()
        .filter(|mobile| !mobile.trim().is_empty())
    else {
        return Err(DeliveryError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_mobile",
            "the certificate has no registered mobile number to send the link to",
        )
        .with_value(record.certificate_id.clone())
        .into());
    };
    let link = store_link(&delivery, &requester, &record, days, None).await?;
    let expires = link.expires_at.format("%Y-%m-%d %H:%M").to_string();
    let text = fill(
        texts.sms,
        &[
            ("url", &share_url(&delivery, &link.token, link_language)),
            ("expires", &expires),
        ],
    );
    // The SMS sender logs this reference. The share link's id ties the log
    // line to the link without any form of the mobile number, which an
    // unkeyed hash of ten digits would not hide.
    let reference = format!("share:{}", link.id);
    let sender = delivery.clone();
    let sent = web::block(move || sender.sms.send(&mobile, &text, &reference))
        .await
        .map_err(|error| DeliveryError::internal(error.to_string()))?;
    if let Err(error) = sent {
        return Err(DeliveryError::new(
            StatusCode::BAD_GATEWAY,
            "sms_failed",
            format!("the SMS gateway did not take the message: {error}"),
        )
        .with_field("shareId", json!(link.id))
        .into());
    }
    tracing::info!(link = %link.id, "share link sent by SMS");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(json!({
            "status": "sent",
            "channel": "sms",
            "shareId": link.id,
            "expiresAt": timestamp(link.expires_at),
        })))
}
