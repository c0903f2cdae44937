//! Registry records and revocation records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dose::dose;
use crate::{ModelError, VaccinationCredential};

/// One `VaccinationCertificate` entity as DIVOC's registry returns it.
///
/// `certificate` is the signed credential as JSON text. It is kept byte for byte,
/// because the QR code must carry exactly what was signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryRecord {
    /// Registry entity id (a UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osid: Option<String>,
    /// The beneficiary id that certificates are looked up by.
    pub pre_enrollment_code: String,
    /// Unique id of this certificate; a correction gets a new one.
    pub certificate_id: String,
    /// Registered mobile number, digits only.
    #[serde(default)]
    pub mobile: Option<String>,
    /// Recipient name as given to the issuer.
    #[serde(default)]
    pub name: Option<String>,
    /// Contact URIs such as `tel:9691742639` and `mailto:a@example.org`.
    #[serde(default, deserialize_with = "contact_list")]
    pub contact: Vec<String>,
    /// Vaccination program id, possibly empty.
    #[serde(default)]
    pub program_id: Option<String>,
    /// The signed credential, as JSON text.
    pub certificate: String,
    /// Issuer metadata, passed through untouched (for example `previousCertificateId`).
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
    /// When the registry created the entity.
    #[serde(default)]
    pub os_created_at: Option<DateTime<Utc>>,
    /// When the registry last updated the entity; the later of two records of the
    /// same dose is the correction.
    #[serde(default)]
    pub os_updated_at: Option<DateTime<Utc>>,
}

/// One `RevokedCertificate` entity: a certificate that must no longer be served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationRecord {
    /// Beneficiary id of the revoked certificate.
    pub pre_enrollment_code: String,
    /// Certificate id written by the revoking service.
    pub certificate_id: String,
    /// Dose of the revoked certificate, where given.
    #[serde(default, deserialize_with = "dose")]
    pub dose: Option<u32>,
    /// Id of the revoked certificate when a correction replaced it.
    #[serde(default)]
    pub previous_certificate_id: Option<String>,
}

impl RegistryRecord {
    /// Parses the signed credential of this record.
    ///
    /// # Errors
    ///
    /// [`ModelError::Credential`] naming this record's `certificateId` and the failing field.
    pub fn credential(&self) -> Result<VaccinationCredential, ModelError> {
        VaccinationCredential::parse(&self.certificate_id, &self.certificate)
    }

    /// Checks what the service relies on: non-blank ids and a readable credential
    /// with at least one vaccination event. Returns the parsed credential.
    ///
    /// # Errors
    ///
    /// [`ModelError::Record`] for a blank id, [`ModelError::Credential`] for an
    /// unreadable credential. `label` describes the record in the message.
    pub fn validate(&self, label: &str) -> Result<VaccinationCredential, ModelError> {
        require_non_blank(label, "preEnrollmentCode", &self.pre_enrollment_code)?;
        require_non_blank(label, "certificateId", &self.certificate_id)?;
        let credential = self.credential()?;
        if credential.evidence.is_empty() {
            return Err(ModelError::Credential {
                certificate_id: self.certificate_id.clone(),
                path: "evidence".to_owned(),
                reason: "no vaccination event: the list is empty or missing".to_owned(),
            });
        }
        Ok(credential)
    }
}

impl RevocationRecord {
    /// Returns the id of the certificate this record revokes.
    ///
    /// DIVOC writes a correction as a revocation whose `previousCertificateId` is the
    /// replaced certificate, and its sibling service drops exactly those ids. When
    /// `previousCertificateId` is absent or blank, `certificateId` itself is revoked.
    pub fn revoked_certificate_id(&self) -> &str {
        match self.previous_certificate_id.as_deref() {
            Some(previous) if !previous.trim().is_empty() => previous,
            _ => &self.certificate_id,
        }
    }

    /// Checks that the ids are present.
    ///
    /// # Errors
    ///
    /// [`ModelError::Record`] for a blank `preEnrollmentCode` or `certificateId`.
    pub fn validate(&self, label: &str) -> Result<(), ModelError> {
        require_non_blank(label, "preEnrollmentCode", &self.pre_enrollment_code)?;
        require_non_blank(label, "certificateId", &self.certificate_id)
    }
}

fn require_non_blank(label: &str, field: &str, value: &str) -> Result<(), ModelError> {
    if value.trim().is_empty() {
        return Err(ModelError::Record {
            record: label.to_owned(),
            field: field.to_owned(),
            reason: "must not be empty".to_owned(),
        });
    }
    Ok(())
}

/// Accepts a list of contact URIs, a single URI string, or `null`.
fn contact_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Contact {
        List(Vec<String>),
        One(String),
    }
    Ok(match Option::<Contact>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Contact::List(list)) => list,
        Some(Contact::One(uri)) => vec![uri],
    })
}
