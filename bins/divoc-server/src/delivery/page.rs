//! `GET /s/{token}`: a small HTML page, embedded in the binary, with the QR
//! code and a PDF download. For a link with a passcode it first shows a form,
//! which posts the passcode back to the same path.
//!
//! The Content-Security-Policy allows nothing but same-origin images, `data:`
//! images, the one inline style block (by its SHA-256) and forms posting to
//! this origin. `Referrer-Policy: no-referrer` keeps the token out of other
//! sites' logs.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::share::{open_link, shared_file};
use super::{Delivery, DeliveryError};
use crate::cache::FileKind;
use crate::error::ApiError;
use crate::language::query_language;
use crate::routes::AppState;
use crate::routes::record_audit;
use crate::settings::Protection;

/// The page's only style. Images keep their natural size (up to the page
/// width), because a dense QR code scaled down no longer scans.
const STYLE: &str = "body{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#222}\
img{max-width:100%;height:auto;image-rendering:pixelated;display:block;margin:1rem 0}\
a,button{font-size:1.1rem}.error{color:#a00}";

#[derive(Deserialize)]
pub struct UnlockForm {
    passcode: Option<String>,
}

/// `GET /s/{token}`.
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
    path: web::Path<String>,
) -> HttpResponse {
    let token = path.into_inner();
    let language = match query_language(&request) {
        Ok(language) => language,
        Err(error) => return invalid_language_page(&error),
    };
    // Escaped because `&` starts a character reference in an HTML attribute.
    let language_query = escape(&language_query(language.as_deref()));
    match open_link(&state, &delivery, &token, None).await {
        Ok((link, record)) => {
            record_page_view(&state, &request, &record.certificate_id, &link.id);
            let body = format!(
                "<h1>Vaccination certificate</h1>\
                 <p>Certificate {id}</p>\
                 <img alt=\"QR code of the certificate\" src=\"/certificate/api/shared/{token}?format=qr\">\
                 <p><a href=\"/certificate/api/shared/{token}?format=pdf{language_query}\">Download the PDF</a></p>",
                id = escape(&record.certificate_id),
            );
            page(StatusCode::OK, &body)
        }
        Err(error) if error.code() == "passcode_required" => page(
            StatusCode::OK,
            &passcode_form(&token, language.as_deref(), None),
        ),
        Err(error) => error_page(&error),
    }
}

/// `POST /s/{token}` with the passcode form.
pub async fn unlock(
    request: HttpRequest,
    state: web::Data<AppState>,
    delivery: web::Data<Delivery>,
    path: web::Path<String>,
    form: web::Form<UnlockForm>,
) -> HttpResponse {
    let token = path.into_inner();
    let language = match query_language(&request) {
        Ok(language) => language,
        Err(error) => return invalid_language_page(&error),
    };
    let passcode = form.into_inner().passcode.unwrap_or_default();
    let (link, record) = match open_link(&state, &delivery, &token, Some(passcode.clone())).await {
        Ok(found) => found,
        Err(error) if matches!(error.code(), "passcode_invalid" | "passcode_required") => {
            return page(
                StatusCode::UNAUTHORIZED,
                &passcode_form(&token, language.as_deref(), Some("The passcode is wrong.")),
            );
        }
        Err(error) => return error_page(&error),
    };
    // A QR code has no language, so none is passed.
    let qr = match shared_file(
        &state,
        &link,
        &record,
        FileKind::QrPng,
        Protection::None,
        "",
    )
    .await
    {
        Ok(file) => file,
        Err(error) => return error_page(&error),
    };
    record_page_view(&state, &request, &record.certificate_id, &link.id);
    let body = format!(
        "<h1>Vaccination certificate</h1>\
         <p>Certificate {id}</p>\
         <img alt=\"QR code of the certificate\" src=\"data:image/png;base64,{qr}\">\
         <form method=\"post\" action=\"/certificate/api/shared/{token}\">\
         <input type=\"hidden\" name=\"passcode\" value=\"{passcode}\">\
         <input type=\"hidden\" name=\"format\" value=\"pdf\">{language_field}\
         <button type=\"submit\">Download the PDF</button></form>",
        id = escape(&record.certificate_id),
        qr = STANDARD.encode(&qr),
        passcode = escape(&passcode),
        language_field = language
            .map(|language| format!(
                "<input type=\"hidden\" name=\"language\" value=\"{}\">",
                escape(&language)
            ))
            .unwrap_or_default(),
    );
    page(StatusCode::OK, &body)
}

/// Returns `&language=CODE` for a requested language, else nothing. The code
/// passed [`query_language`], so it has only letters, digits, `-` and `_`.
fn language_query(language: Option<&str>) -> String {
    language
        .map(|language| format!("&language={language}"))
        .unwrap_or_default()
}

fn passcode_form(token: &str, language: Option<&str>, problem: Option<&str>) -> String {
    let problem = problem
        .map(|text| format!("<p class=\"error\">{}</p>", escape(text)))
        .unwrap_or_default();
    format!(
        "<h1>Vaccination certificate</h1>\
         <p>This link is protected by a passcode.</p>{problem}\
         <form method=\"post\" action=\"/s/{token}{query}\">\
         <label>Passcode <input name=\"passcode\" type=\"password\" autocomplete=\"off\" required></label> \
         <button type=\"submit\">Open</button></form>",
        query = language
            .map(|language| format!("?language={language}"))
            .unwrap_or_default(),
    )
}

fn error_page(error: &DeliveryError) -> HttpResponse {
    // Log and status as for the JSON routes, with an HTML body.
    let status = error.status_code();
    let _ = error.error_response();
    let text = match error.code() {
        "link_expired" => "This link has expired. Ask for a new one.",
        "link_revoked" => "This link was revoked.",
        "certificate_superseded" => "A newer certificate replaced this one. Ask for a new link.",
        "certificate_revoked" => "This certificate was revoked.",
        "passcode_locked" => "Too many wrong passcodes were tried. Ask for a new link.",
        "link_not_found" => "This link does not exist. Check that the whole link was copied.",
        _ => "The certificate cannot be shown now. Try again later.",
    };
    page(
        status,
        &format!("<h1>Vaccination certificate</h1><p class=\"error\">{text}</p>"),
    )
}

/// Returns the error page for a `language` parameter that is not a language
/// code, or is given twice.
fn invalid_language_page(error: &ApiError) -> HttpResponse {
    // Log and status as for the JSON routes, with an HTML body.
    let _ = error.error_response();
    page(
        error.status_code(),
        "<h1>Vaccination certificate</h1><p class=\"error\">The language in this link is \
         not valid. Check that the whole link was copied.</p>",
    )
}

/// The pages' Content-Security-Policy. It names the stylesheet by its hash,
/// computed once rather than for every page.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; img-src 'self' data:; style-src 'sha256-{}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        STANDARD.encode(Sha256::digest(STYLE.as_bytes()))
    )
});

fn page(status: StatusCode, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Vaccination certificate</title><style>{STYLE}</style></head><body>{body}</body></html>"
    );
    let policy = CONTENT_SECURITY_POLICY.as_str();
    let mut response = HttpResponse::build(status);
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    if let Ok(value) = HeaderValue::from_str(policy) {
        response.insert_header((header::CONTENT_SECURITY_POLICY, value));
    }
    response.body(Bytes::from(html))
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Writes the audit row of a share page that showed a certificate.
fn record_page_view(state: &AppState, request: &HttpRequest, certificate_id: &str, link_id: &str) {
    record_audit(
        &state.service,
        request,
        certificate_id,
        Some(format!("share-link:{link_id}")),
        "share-link-page",
    );
}
