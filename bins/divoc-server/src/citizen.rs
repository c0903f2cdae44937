//! Routes for citizens (their own certificates, by certificate id) and for
//! facility staff (search by mobile number and date of birth).

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::cache::FileKind;
use crate::error::ApiError;
use crate::language::{request_language, set_content_language};
use crate::principal::{Access, Principal};
use crate::routes::{
    AppState, NOT_UTF8, authenticate, check_id, get_or_head, last_path_id, map_service_error,
    method_not_allowed, non_utf8_query_value, parse_query, query_values, serve_file,
    with_fresh_keys,
};

/// Registers the citizen and facility routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/certificate/api/certificatePDF")
                .route(get_or_head().to(pdf_by_query))
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/certificate/api/certificate/QRCode/{certificateId}")
                .route(
                    get_or_head().to(|request, state, query: web::Query<AuthTokenQuery>| {
                        file_by_auth_token(request, state, query, FileKind::QrPng)
                    }),
                )
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/certificate/api/certificate/{certificateId}")
                .route(
                    get_or_head().to(|request, state, query: web::Query<AuthTokenQuery>| {
                        file_by_auth_token(request, state, query, FileKind::Pdf)
                    }),
                )
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/certificate/api/citizen/certificates")
                .route(get_or_head().to(list_certificates))
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/certificate/api/beneficiaries")
                .route(get_or_head().to(search))
                .default_service(method_not_allowed("GET, HEAD")),
        );
}

#[derive(Deserialize)]
struct CertificateQuery {
    #[serde(rename = "certificateId")]
    certificate_id: Option<String>,
}

#[derive(Deserialize)]
struct AuthTokenQuery {
    #[serde(rename = "authToken")]
    auth_token: Option<String>,
}

#[derive(Deserialize)]
struct SearchQuery {
    phoneno: Option<String>,
    dob: Option<String>,
}

/// `GET /certificate/api/certificatePDF?certificateId=X` with a citizen's bearer token.
async fn pdf_by_query(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state).await?;
    let mobile = citizen_mobile(&principal)?;
    let query: CertificateQuery = parse_query(&request)?;
    let Some(certificate_id) = query.certificate_id else {
        return Err(ApiError::InvalidId {
            kind: "certificate id",
            reason: "the certificateId query parameter is missing".to_owned(),
            value: String::new(),
        });
    };
    if let Some(sent) = non_utf8_query_value(&request, "certificateId") {
        return Err(ApiError::InvalidId {
            kind: "certificate id",
            reason: NOT_UTF8.to_owned(),
            value: sent,
        });
    }
    let certificate_id = check_id("certificate id", certificate_id)?;
    serve_by_certificate(
        &request,
        &state,
        &principal,
        mobile,
        certificate_id,
        FileKind::Pdf,
    )
    .await
}

/// `GET /certificate/api/certificate/{certificateId}?authToken=JWT` (PDF) and
/// `GET /certificate/api/certificate/QRCode/{certificateId}?authToken=JWT`.
async fn file_by_auth_token(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<AuthTokenQuery>,
    kind: FileKind,
) -> Result<HttpResponse, ApiError> {
    let principal = token_from_query_or_header(&request, &state, query.into_inner()).await?;
    let mobile = citizen_mobile(&principal)?;
    let certificate_id = last_path_id(&request, "certificate id")?;
    serve_by_certificate(&request, &state, &principal, mobile, certificate_id, kind).await
}

/// `GET /certificate/api/citizen/certificates`: the caller's beneficiaries.
async fn list_certificates(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state).await?;
    let mobile = citizen_mobile(&principal)?;
    let service = Arc::clone(&state.service);
    let summaries = web::block(move || service.citizen_summaries(&mobile))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let summaries = map_service_error(summaries, "")?;
    Ok(json_response(
        &serde_json::json!({ "certificates": summaries }),
    ))
}

/// `GET /certificate/api/beneficiaries?phoneno=P&dob=YYYY-MM-DD`, print role only.
async fn search(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state).await?;
    if !principal.print {
        return Err(ApiError::Forbidden(
            "searching beneficiaries needs a print role".to_owned(),
        ));
    }
    let SearchQuery { phoneno, dob } = parse_query(&request)?;
    let mobile = check_phone(phoneno.unwrap_or_default())?;
    let date_of_birth = check_date_of_birth(dob.unwrap_or_default())?;
    let service = Arc::clone(&state.service);
    let matches =
        web::block(move || service.search_by_mobile_and_birth_date(&mobile, date_of_birth))
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?;
    let matches = map_service_error(matches, "")?;
    Ok(json_response(&matches))
}

/// Serves the `kind` file of one of the citizen's own certificates, a PDF in
/// the language of the `language` query parameter.
async fn serve_by_certificate(
    request: &HttpRequest,
    state: &AppState,
    principal: &Principal,
    mobile: String,
    certificate_id: String,
    kind: FileKind,
) -> Result<HttpResponse, ApiError> {
    reject_protection(request)?;
    let language = match kind {
        FileKind::Pdf => Some(request_language(&state.service, request)?),
        FileKind::QrPng => None,
    };
    let id = certificate_id.clone();
    let printed = language.clone();
    let mut response = serve_file(
        request,
        state,
        principal,
        Access::Citizen,
        &certificate_id,
        move |service| {
            let selection = service.select_by_certificate(kind, &mobile, &id)?;
            Ok(match &printed {
                Some(language) => service.in_language(selection, Some(language)),
                None => selection,
            })
        },
    )
    .await?;
    if let Some(language) = &language {
        set_content_language(&mut response, language);
    }
    Ok(response)
}

/// Rejects `protect` with 400. These routes serve the unencrypted file only,
/// and a client that requested an encrypted PDF must not get a plain one.
fn reject_protection(request: &HttpRequest) -> Result<(), ApiError> {
    let values = query_values(request, "protect")?;
    if values.is_empty() {
        return Ok(());
    }
    Err(ApiError::InvalidParameter {
        name: "protect",
        reason: "the routes by certificate id serve unencrypted files only; for an \
                 encrypted PDF, request /certificate/api/certificatePDF/{beneficiaryId}?protect=dob \
                 or a share link with protect=dob"
            .to_owned(),
        value: values.join(", "),
    })
}

/// Verifies `?authToken=` when present (DIVOC's citizen portal sends it), else
/// the `Authorization` header.
async fn token_from_query_or_header(
    request: &HttpRequest,
    state: &AppState,
    query: AuthTokenQuery,
) -> Result<Principal, ApiError> {
    match query.auth_token {
        Some(token) => {
            Ok(with_fresh_keys(state, || state.verifier.authenticate_token(&token)).await?)
        }
        None => authenticate(request, state).await,
    }
}

/// Returns the citizen's mobile number, or 403 for tokens with a role or without
/// a mobile number: these routes serve only the caller's own certificates.
fn citizen_mobile(principal: &Principal) -> Result<String, ApiError> {
    if !principal.is_citizen() {
        return Err(ApiError::Forbidden(
            "citizen routes need a citizen token, not one with a distribution or print role"
                .to_owned(),
        ));
    }
    principal
        .mobile
        .clone()
        .ok_or_else(|| ApiError::Forbidden("the token has no mobile number".to_owned()))
}

/// Checks a phone number: 6 to 15 digits, optionally after `+`.
fn check_phone(phone: String) -> Result<String, ApiError> {
    let digits = phone.strip_prefix('+').unwrap_or(&phone);
    let valid = (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if valid {
        Ok(phone)
    } else {
        Err(ApiError::InvalidParameter {
            name: "phoneno",
            reason: "expected 6 to 15 digits, optionally after '+'".to_owned(),
            value: phone,
        })
    }
}

/// Checks a date of birth: a real date as `YYYY-MM-DD`, exactly, without
/// whitespace around it, as `phoneno` has none.
fn check_date_of_birth(dob: String) -> Result<chrono::NaiveDate, ApiError> {
    let parsed = if dob.trim() == dob {
        divoc_select::parse_date_of_birth(&dob).ok()
    } else {
        None
    };
    parsed.ok_or_else(|| ApiError::InvalidParameter {
        name: "dob",
        reason: "expected a date of birth as YYYY-MM-DD".to_owned(),
        value: dob,
    })
}

fn json_response(body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        .json(body)
}
