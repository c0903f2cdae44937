//! Registry records and revocation records.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Deserializer, Serialize, de};

use crate::dose::dose;
use crate::{
    ModelError, VaccinationCredential, check_id, parse_calendar_date, parse_vaccination_date,
};

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
    #[serde(default, deserialize_with = "registry_time")]
    pub os_created_at: Option<DateTime<Utc>>,
    /// When the registry last updated the entity; the later of two records of the
    /// same dose is the correction.
    #[serde(default, deserialize_with = "registry_time")]
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
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::{ModelError, RegistryRecord};
    ///
    /// let record: RegistryRecord = serde_json::from_str(r#"{
    ///     "preEnrollmentCode": "BEN-1",
    ///     "certificateId": "100000001",
    ///     "certificate": "{\"credentialSubject\":{\"name\":\"Asha Rao\"},\"evidence\":[{\"dose\":\"2\"}]}"
    /// }"#)?;
    /// let credential = record.credential()?;
    /// assert_eq!(credential.credential_subject.name.as_deref(), Some("Asha Rao"));
    /// assert_eq!(credential.dose(), Some(2));
    ///
    /// let broken = RegistryRecord {
    ///     certificate: r#"{"credentialSubject":{},"evidence":[{"dose":true}]}"#.to_owned(),
    ///     ..record
    /// };
    /// let Err(ModelError::Credential { certificate_id, path, .. }) = broken.credential() else {
    ///     unreachable!()
    /// };
    /// assert_eq!(certificate_id, "100000001");
    /// assert_eq!(path, "evidence[0].dose");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credential(&self) -> Result<VaccinationCredential, ModelError> {
        VaccinationCredential::parse(&self.certificate_id, &self.certificate)
    }

    /// Checks what the service relies on: ids that follow [`check_id`], and a
    /// readable credential with at least one vaccination event whose dates parse
    /// (the vaccination time, `effectiveStart`, `effectiveUntil` and the date of
    /// birth, where present), and printed text fields within their limits
    /// ([`crate::MAX_NAME_CHARS`] and the others). Returns the parsed credential.
    ///
    /// # Errors
    ///
    /// [`ModelError::Record`] for an invalid id, [`ModelError::Credential`] for an
    /// unreadable credential or date, or a printed text field that is too long. `label` describes the record in the message.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::RegistryRecord;
    ///
    /// let record: RegistryRecord = serde_json::from_str(r#"{
    ///     "preEnrollmentCode": "BEN-1",
    ///     "certificateId": "100000001",
    ///     "certificate": "{\"credentialSubject\":{\"dob\":\"1990-02-03\"},\"evidence\":[{\"dose\":1}]}"
    /// }"#)?;
    /// assert_eq!(record.validate("record 1")?.dose(), Some(1));
    ///
    /// let bad_id = RegistryRecord {
    ///     pre_enrollment_code: "BEN/1".to_owned(),
    ///     ..record.clone()
    /// };
    /// assert_eq!(
    ///     bad_id.validate("record 1").unwrap_err().to_string(),
    ///     "record 1: field `preEnrollmentCode` is invalid: not a valid id: \
    ///      only A-Z, a-z, 0-9, '-', '_' and '.' are allowed"
    /// );
    ///
    /// let bad_date = RegistryRecord {
    ///     certificate: r#"{"credentialSubject":{"dob":"03/02/1990"},"evidence":[{"dose":1}]}"#.to_owned(),
    ///     ..record
    /// };
    /// assert_eq!(
    ///     bad_date.validate("record 1").unwrap_err().to_string(),
    ///     "certificate 100000001: credential field `credentialSubject.dob` is invalid: \
    ///      not a YYYY-MM-DD date"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate(&self, label: &str) -> Result<VaccinationCredential, ModelError> {
        require_id(label, "preEnrollmentCode", &self.pre_enrollment_code)?;
        require_id(label, "certificateId", &self.certificate_id)?;
        let mut credential = self.credential()?;
        let invalid = |path: &str, reason: &str| ModelError::Credential {
            certificate_id: self.certificate_id.clone(),
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(evidence) = credential.evidence.first() else {
            return Err(invalid(
                "evidence",
                "no vaccination event: the list is empty or missing",
            ));
        };
        if let Some(date) = non_blank(evidence.date.as_deref())
            && parse_vaccination_date(date).is_none()
        {
            return Err(invalid(
                "evidence[0].date",
                "not an RFC 3339 timestamp, a timestamp without offset or a YYYY-MM-DD date",
            ));
        }
        let calendar_dates = [
            (
                "evidence[0].effectiveStart",
                evidence.effective_start.as_deref(),
            ),
            (
                "evidence[0].effectiveUntil",
                evidence.effective_until.as_deref(),
            ),
            (
                "credentialSubject.dob",
                credential.credential_subject.dob.as_deref(),
            ),
        ];
        for (path, value) in calendar_dates {
            if let Some(date) = non_blank(value)
                && parse_calendar_date(date).is_none()
            {
                return Err(invalid(path, "not a YYYY-MM-DD date"));
            }
        }
        credential.check_printed_text(&self.certificate_id)?;
        Ok(credential)
    }
}

impl RevocationRecord {
    /// Returns the id of the certificate this record revokes.
    ///
    /// DIVOC writes a correction as a revocation whose `previousCertificateId` is the
    /// replaced certificate, and its sibling service drops exactly those ids. When
    /// `previousCertificateId` is absent or blank, `certificateId` itself is revoked.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::RevocationRecord;
    ///
    /// let correction: RevocationRecord = serde_json::from_str(r#"{
    ///     "preEnrollmentCode": "BEN-1",
    ///     "certificateId": "100000003",
    ///     "previousCertificateId": "100000001"
    /// }"#)?;
    /// assert_eq!(correction.revoked_certificate_id(), "100000001");
    /// assert_eq!(correction.revoked_certificate_field(), "previousCertificateId");
    ///
    /// let revocation = RevocationRecord {
    ///     previous_certificate_id: Some(" ".to_owned()),
    ///     ..correction
    /// };
    /// assert_eq!(revocation.revoked_certificate_id(), "100000003");
    /// assert_eq!(revocation.revoked_certificate_field(), "certificateId");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn revoked_certificate_id(&self) -> &str {
        self.previous_id().unwrap_or(&self.certificate_id)
    }

    /// Names the field that [`RevocationRecord::revoked_certificate_id`] reads:
    /// `previousCertificateId`, or `certificateId` when that is absent or blank.
    ///
    /// See the example of [`RevocationRecord::revoked_certificate_id`].
    pub fn revoked_certificate_field(&self) -> &'static str {
        match self.previous_id() {
            Some(_) => "previousCertificateId",
            None => "certificateId",
        }
    }

    /// Returns `previousCertificateId` unless it is absent or blank.
    fn previous_id(&self) -> Option<&str> {
        self.previous_certificate_id
            .as_deref()
            .filter(|previous| !previous.trim().is_empty())
    }

    /// Checks the ids with [`check_id`]: `preEnrollmentCode`, `certificateId`
    /// and, unless it is absent or blank, `previousCertificateId`.
    ///
    /// # Errors
    ///
    /// [`ModelError::Record`] naming the first invalid id field.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::RevocationRecord;
    ///
    /// let revocation: RevocationRecord = serde_json::from_str(r#"{
    ///     "preEnrollmentCode": "BEN-1",
    ///     "certificateId": "100000003",
    ///     "previousCertificateId": "../100000001"
    /// }"#)?;
    /// assert_eq!(
    ///     revocation.validate("record 2").unwrap_err().to_string(),
    ///     "record 2: field `previousCertificateId` is invalid: not a valid id: contains `..`"
    /// );
    ///
    /// // A blank previousCertificateId is not checked.
    /// let revocation = RevocationRecord {
    ///     previous_certificate_id: Some(String::new()),
    ///     ..revocation
    /// };
    /// assert!(revocation.validate("record 2").is_ok());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn validate(&self, label: &str) -> Result<(), ModelError> {
        require_id(label, "preEnrollmentCode", &self.pre_enrollment_code)?;
        require_id(label, "certificateId", &self.certificate_id)?;
        match self.previous_id() {
            Some(previous) => require_id(label, "previousCertificateId", previous),
            None => Ok(()),
        }
    }
}

/// Checks an id with [`check_id`], so that everything imported can be served.
fn require_id(label: &str, field: &str, value: &str) -> Result<(), ModelError> {
    check_id(value).map_err(|rule| ModelError::Record {
        record: label.to_owned(),
        field: field.to_owned(),
        reason: format!("not a valid id: {rule}"),
    })
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.filter(|text| !text.trim().is_empty())
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

/// Reads `osCreatedAt` and `osUpdatedAt` as chrono's own deserializer does:
/// RFC 3339, or chrono's relaxed form of it. Strict RFC 3339, which
/// registries write, is tried first, because chrono parses it with a
/// dedicated function and the relaxed form with its general format parser.
fn registry_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct RegistryTime(DateTime<Utc>);
    impl<'de> Deserialize<'de> for RegistryTime {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_str(TimeVisitor)
        }
    }
    struct TimeVisitor;
    impl de::Visitor<'_> for TimeVisitor {
        type Value = RegistryTime;
        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            // The text of chrono's own visitor, so that error messages are unchanged.
            formatter.write_str("an RFC 3339 formatted date and time string")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<RegistryTime, E> {
            let instant = match DateTime::parse_from_rfc3339(text) {
                Ok(instant) => instant,
                Err(_) => text.parse::<DateTime<FixedOffset>>().map_err(E::custom)?,
            };
            Ok(RegistryTime(instant.to_utc()))
        }
    }
    Option::<RegistryTime>::deserialize(deserializer).map(|time| time.map(|RegistryTime(at)| at))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The same field read by chrono's own deserializer.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ChronoTime {
        #[serde(default)]
        os_updated_at: Option<DateTime<Utc>>,
    }

    #[test]
    fn registry_times_read_as_chrono_reads_them() {
        for value in [
            r#""2021-04-18T11:32:54.000Z""#,
            r#""2021-04-18T11:32:54Z""#,
            r#""2021-04-18t11:32:54z""#,
            r#""2021-04-18T11:32:54.123456789+05:30""#,
            r#""2021-04-18 11:32:54.000Z""#,
            r#""2021-04-18T11:32:54 UTC""#,
            r#""2021-04-18T11:32:54Z ""#,
            r#""2021-4-18T11:32:54Z""#,
            r#""2016-12-31T23:59:60Z""#,
            r#""+12021-04-18T11:32:54Z""#,
            r#""2021-04-18""#,
            r#""2021-04-31T11:32:54Z""#,
            r#""""#,
            "null",
            "5",
            "[]",
        ] {
            let text = format!(
                r#"{{"preEnrollmentCode":"B","certificateId":"1","certificate":"{{}}","osUpdatedAt":{value}}}"#
            );
            let ours = serde_json::from_str::<RegistryRecord>(&text)
                .map(|record| record.os_updated_at)
                .map_err(|error| error.to_string());
            let chrono = serde_json::from_str::<ChronoTime>(&text)
                .map(|time| time.os_updated_at)
                .map_err(|error| error.to_string());
            assert_eq!(ours, chrono, "{value}");
        }
    }
}
