//! Password protection of delivered PDFs, with the password rule `dob`: the
//! date of birth in the certificate as DDMMYYYY.
//!
//! The date is read as written in the credential (`YYYY-MM-DD`, with any time
//! after it ignored) and never converted through a time zone. The render cache
//! holds only unprotected files: every protected file is encrypted anew with a
//! random file key and owner password.

use actix_web::http::StatusCode;
use divoc_model::{RegistryRecord, VaccinationCredential, parse_calendar_date};
use divoc_pdf::{ProtectKeys, protect_pdf};
use rand_core::{OsRng, RngCore};

use super::DeliveryError;
use crate::settings::Protection;

/// Parses the `protect` parameter: `dob` or `none`; absent means `default`.
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
        .map_err(|error| DeliveryError::internal(format!("no random bytes: {error}")))?;
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
