//! Password protection of delivered PDFs, with the password rule `dob`: the
//! date of birth in the certificate as DDMMYYYY.
//!
//! The date is read as written in the credential (`YYYY-MM-DD`, with any time
//! after it ignored) and never converted through a time zone. The render cache
//! holds only unprotected files: every protected file is encrypted anew with a
//! random file key and owner password.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use divoc_model::{RegistryRecord, VaccinationCredential, parse_calendar_date};
use divoc_pdf::{ProtectKeys, protect_pdf};
use rand_core::{OsRng, RngCore};

use super::DeliveryError;
use crate::cache::FileKind;
use crate::language::{request_language, set_content_language};
use crate::principal::Principal;
use crate::routes::{
    AppState, beneficiary_id, beneficiary_scope, map_service_error, query_values, record_served,
    run_render,
};
use crate::service::ServiceError;
use crate::settings::Protection;

/// Parses the `protect` parameter: `dob` or `none`, and `default` when absent.
pub fn parse_protection(
    value: Option<&str>,
    default: Protection,
) -> Result<Protection, DeliveryError> {
    match value {
        None => Ok(default),
        Some("dob") => Ok(Protection::Dob),
        Some("none") => Ok(Protection::None),
        Some(other) => Err(DeliveryError::invalid(
            "protect",
            "expected dob or none",
            other,
        )),
    }
}

/// Returns the `dob` password of a certificate: its date of birth as DDMMYYYY,
/// or 422 when the credential has no date of birth in `YYYY-MM-DD` form.
pub fn dob_password(record: &RegistryRecord) -> Result<String, DeliveryError> {
    let credential = VaccinationCredential::parse(&record.certificate_id, &record.certificate)
        .map_err(|error| DeliveryError::internal(error.to_string()))?;
    let written = credential.credential_subject.dob.as_deref().unwrap_or("");
    let date = parse_calendar_date(written).ok_or_else(|| {
        DeliveryError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "dob_missing",
            "the certificate has no date of birth in YYYY-MM-DD form, so protect=dob cannot \
             make a password; request the PDF with protect=none",
        )
        .with_value(record.certificate_id.clone())
    })?;
    Ok(date.format("%d%m%Y").to_string())
}

/// Encrypts `pdf` with AES-256 so that `password` opens it.
pub fn encrypt(pdf: &[u8], password: &str) -> Result<Vec<u8>, DeliveryError> {
    let mut file_key = [0u8; 32];
    let mut owner_secret = [0u8; 24];
    OsRng
        .try_fill_bytes(&mut file_key)
        .and_then(|()| OsRng.try_fill_bytes(&mut owner_secret))
        .map_err(|error| {
            DeliveryError::internal(format!(
                "the operating system returned no random bytes: {error}"
            ))
        })?;
    let owner_password: String = owner_secret
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let keys = ProtectKeys {
        user_password: password,
        owner_password: &owner_password,
        file_key,
    };
    protect_pdf(pdf, &keys).map_err(|error| DeliveryError::internal(error.to_string()))
}

/// Returns true when the query string has `protect=dob`, false for
/// `protect=none` or no `protect`, and 400 for any other value. Names and
/// values are percent-decoded as for every other parameter, so
/// `prot%65ct=dob` requests protection too.
pub fn wants_protection(request: &HttpRequest) -> Result<bool, actix_web::Error> {
    let values = query_values(request, "protect")?;
    if values.len() > 1 {
        // Which of two values wins would differ between parsers, so neither does.
        return Err(DeliveryError::invalid(
            "protect",
            "given more than once; give it once",
            request.query_string().to_owned(),
        )
        .into());
    }
    Ok(parse_protection(values.first().map(String::as_str), Protection::None)? == Protection::Dob)
}

/// Serves `GET /certificate/api/certificatePDF/{beneficiaryId}?protect=dob`:
/// the same certificate, language and access rules as without `protect`, encrypted with
/// the `dob` password. The response has no `ETag` because each encryption
/// gives other bytes, and it is never stored in the render cache.
pub async fn protected_download(
    request: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, actix_web::Error> {
    let (scope, access) = beneficiary_scope(&principal)?;
    let beneficiary = beneficiary_id(&request)?;
    let language = request_language(&state.service, &request)?;

    let service = Arc::clone(&state.service);
    let id = beneficiary.clone();
    let printed = language.clone();
    let found = web::block(move || {
        let selection = service.select_by_beneficiary(FileKind::Pdf, &id, &scope)?;
        let selection = service.in_language(selection, Some(&printed));
        // The selection read the beneficiary's records already, so the chosen
        // one needs no second lookup.
        let record = selection.chosen_record().cloned();
        Ok::<_, ServiceError>((selection, record))
    })
    .await
    .map_err(|error| DeliveryError::internal(error.to_string()))?;
    let (selection, record) = map_service_error(found, &beneficiary)?;
    let record = record.ok_or_else(|| {
        DeliveryError::internal(
            "the chosen certificate is missing from the records it was chosen from",
        )
    })?;
    let password = dob_password(&record)?;

    let file = match state.service.cached(&selection) {
        Some(file) => file,
        None => map_service_error(run_render(&state, selection).await, &beneficiary)?,
    };
    let protected = web::block(move || encrypt(&file, &password))
        .await
        .map_err(|error| DeliveryError::internal(error.to_string()))??;
    record_served(&state, &request, &principal, access, &record.certificate_id);

    let name: String = record
        .certificate_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    let mut response = HttpResponse::Ok();
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/pdf"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if let Ok(value) =
        HeaderValue::from_str(&format!("inline; filename=\"certificate-{name}.pdf\""))
    {
        response.insert_header((header::CONTENT_DISPOSITION, value));
    }
    let mut response = response.body(Bytes::from(protected));
    set_content_language(&mut response, &language);
    Ok(response)
}
