//! Conversions between records and table rows.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use divoc_model::{ModelError, RegistryRecord, RevocationRecord};

use crate::StoreError;
use crate::credential::{CredentialText, MAX_CREDENTIAL_LEN, StoredCredential};
use crate::schema::{certificate_mobiles, certificates, revocations};

/// A certificate row as read back. `dose` is not part of a record, so it is not loaded.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = certificates)]
pub(crate) struct CertificateRow {
    certificate_id: String,
    pre_enrollment_code: String,
    mobile: Option<String>,
    name: Option<String>,
    contact: String,
    program_id: Option<String>,
    certificate: StoredCredential,
    meta: Option<String>,
    osid: Option<String>,
    os_created_at: Option<NaiveDateTime>,
    os_updated_at: Option<NaiveDateTime>,
}

impl CertificateRow {
    /// Rebuilds the record. The certificate text is returned as stored and is
    /// not parsed, so a caller sees even an unreadable credential.
    pub(crate) fn into_record(self) -> Result<RegistryRecord, StoreError> {
        let contact: Vec<String> =
            serde_json::from_str(&self.contact).map_err(|error| StoreError::Corrupt {
                certificate_id: self.certificate_id.clone(),
                column: "contact",
                reason: format!("not a JSON list of strings: {error}"),
            })?;
        let meta = match self.meta {
            Some(text) => {
                Some(
                    serde_json::from_str(&text).map_err(|error| StoreError::Corrupt {
                        certificate_id: self.certificate_id.clone(),
                        column: "meta",
                        reason: format!("not JSON: {error}"),
                    })?,
                )
            }
            None => None,
        };
        let certificate = self
            .certificate
            .into_text()
            .map_err(|reason| StoreError::Corrupt {
                certificate_id: self.certificate_id.clone(),
                column: "certificate",
                reason,
            })?;
        Ok(RegistryRecord {
            osid: self.osid,
            pre_enrollment_code: self.pre_enrollment_code,
            certificate_id: self.certificate_id,
            mobile: self.mobile,
            name: self.name,
            contact,
            program_id: self.program_id,
            certificate,
            meta,
            os_created_at: self.os_created_at.map(|time| time.and_utc()),
            os_updated_at: self.os_updated_at.map(|time| time.and_utc()),
        })
    }
}

/// A certificate row to write.
///
/// `None` is written as NULL, not as the column default, so that SQLite can
/// insert a whole batch with one multi-row statement.
#[derive(Debug, Insertable)]
#[diesel(table_name = certificates, treat_none_as_default_value = false)]
pub(crate) struct NewCertificate<'a> {
    pub(crate) certificate_id: &'a str,
    pre_enrollment_code: &'a str,
    mobile: Option<&'a str>,
    name: Option<&'a str>,
    contact: String,
    program_id: Option<&'a str>,
    certificate: CredentialText<'a>,
    meta: Option<String>,
    osid: Option<&'a str>,
    os_created_at: Option<NaiveDateTime>,
    os_updated_at: Option<NaiveDateTime>,
    dose: Option<i64>,
}

/// Number of columns in [`NewCertificate`], for sizing multi-row inserts.
pub(crate) const CERTIFICATE_COLUMNS: usize = 12;

impl<'a> NewCertificate<'a> {
    /// Builds the row of a record. `label` names the record in an error.
    ///
    /// `contact` and `meta` are stored as compact JSON text. Writing them with
    /// `serde_json::to_string` instead of `Value`'s `Display` gives the same
    /// text at a fraction of the cost, which shows in large imports.
    pub(crate) fn new(
        record: &'a RegistryRecord,
        dose: Option<u32>,
        label: &dyn Fn() -> String,
    ) -> Result<Self, ModelError> {
        // NOTE: serde_json without its `float_roundtrip` feature may read a
        // floating-point number in `meta` back one unit in the last place off.
        // PostgreSQL text cannot contain U+0000, so neither backend accepts it.
        let fields = [
            ("mobile", record.mobile.as_deref()),
            ("name", record.name.as_deref()),
            ("programId", record.program_id.as_deref()),
            ("certificate", Some(record.certificate.as_str())),
            ("osid", record.osid.as_deref()),
        ];
        for (field, value) in fields {
            if value.is_some_and(|value| value.contains('\0')) {
                return Err(ModelError::Record {
                    record: label(),
                    field: field.to_owned(),
                    reason: "contains a NUL character (U+0000), which the store cannot keep"
                        .to_owned(),
                });
            }
        }
        // Checked here, so that the error names the record. Without it an
        // SQLite import failed only when it compressed the credential.
        if record.certificate.len() > MAX_CREDENTIAL_LEN {
            return Err(ModelError::Record {
                record: label(),
                field: "certificate".to_owned(),
                reason: format!(
                    "is {} bytes long, more than the {MAX_CREDENTIAL_LEN} bytes that the store keeps",
                    record.certificate.len()
                ),
            });
        }
        let json = |field: &str, result: serde_json::Result<String>| {
            result.map_err(|error| ModelError::Record {
                record: label(),
                field: field.to_owned(),
                reason: format!("cannot be stored as JSON text: {error}"),
            })
        };
        Ok(Self {
            certificate_id: &record.certificate_id,
            pre_enrollment_code: &record.pre_enrollment_code,
            mobile: record.mobile.as_deref(),
            name: record.name.as_deref(),
            contact: json("contact", serde_json::to_string(&record.contact))?,
            program_id: record.program_id.as_deref(),
            certificate: CredentialText::new(&record.certificate),
            meta: match &record.meta {
                Some(meta) => Some(json("meta", serde_json::to_string(meta))?),
                None => None,
            },
            osid: record.osid.as_deref(),
            os_created_at: record.os_created_at.map(to_stored_time),
            os_updated_at: record.os_updated_at.map(to_stored_time),
            dose: dose.map(i64::from),
        })
    }
}

/// A certificate row with every column, as an import compares it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = certificates)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct StoredCertificate {
    certificate_id: String,
    pre_enrollment_code: String,
    mobile: Option<String>,
    name: Option<String>,
    contact: String,
    program_id: Option<String>,
    certificate: StoredCredential,
    meta: Option<String>,
    osid: Option<String>,
    os_created_at: Option<NaiveDateTime>,
    os_updated_at: Option<NaiveDateTime>,
    dose: Option<i64>,
}

impl StoredCertificate {
    pub(crate) fn key(&self) -> &str {
        &self.certificate_id
    }

    pub(crate) fn owner(&self) -> &str {
        &self.pre_enrollment_code
    }
}

impl<'a> NewCertificate<'a> {
    /// Returns the credential of the row.
    pub(crate) fn credential(&self) -> &CredentialText<'a> {
        &self.certificate
    }

    /// Returns the beneficiary id of the row.
    pub(crate) fn owner(&self) -> &str {
        self.pre_enrollment_code
    }

    /// Returns the row of the mobile-number table for this certificate, if it
    /// has a mobile number.
    pub(crate) fn mobile_row(&self) -> Option<NewCertificateMobile<'_>> {
        self.mobile
            .filter(|mobile| !mobile.trim().is_empty())
            .map(|mobile| NewCertificateMobile {
                mobile,
                pre_enrollment_code: self.pre_enrollment_code,
            })
    }

    /// Returns `true` when both rows have an `osUpdatedAt` and this one is
    /// earlier: the registry changed the certificate after the export that
    /// this row comes from, so writing it would undo that change.
    pub(crate) fn is_older_than(&self, stored: &StoredCertificate) -> bool {
        match (self.os_updated_at, stored.os_updated_at) {
            (Some(imported), Some(stored)) => imported < stored,
            _ => false,
        }
    }

    /// Returns `true` if writing this row would leave `stored` as it is.
    pub(crate) fn matches(&self, stored: &StoredCertificate) -> bool {
        self.certificate_id == stored.certificate_id
            && self.pre_enrollment_code == stored.pre_enrollment_code
            && self.mobile == stored.mobile.as_deref()
            && self.name == stored.name.as_deref()
            && self.contact == stored.contact
            && self.program_id == stored.program_id.as_deref()
            && stored.certificate.matches(&self.certificate)
            && self.meta == stored.meta
            && self.osid == stored.osid.as_deref()
            && self.os_created_at == stored.os_created_at
            && self.os_updated_at == stored.os_updated_at
            && self.dose == stored.dose
    }
}

/// A revocation row to write.
#[derive(Debug, Insertable)]
#[diesel(table_name = revocations, treat_none_as_default_value = false)]
pub(crate) struct NewRevocation<'a> {
    pub(crate) revoked_certificate_id: &'a str,
    pre_enrollment_code: &'a str,
    certificate_id: &'a str,
    dose: Option<i64>,
    previous_certificate_id: Option<&'a str>,
}

/// Number of columns in [`NewRevocation`], for sizing multi-row inserts.
pub(crate) const REVOCATION_COLUMNS: usize = 5;

impl<'a> NewRevocation<'a> {
    pub(crate) fn new(record: &'a RevocationRecord) -> Self {
        Self {
            revoked_certificate_id: record.revoked_certificate_id(),
            pre_enrollment_code: &record.pre_enrollment_code,
            certificate_id: &record.certificate_id,
            dose: record.dose.map(i64::from),
            previous_certificate_id: record.previous_certificate_id.as_deref(),
        }
    }
}

/// A revocation row with every column, as an import compares it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = revocations)]
pub(crate) struct StoredRevocation {
    revoked_certificate_id: String,
    pre_enrollment_code: String,
    certificate_id: String,
    dose: Option<i64>,
    previous_certificate_id: Option<String>,
}

impl StoredRevocation {
    pub(crate) fn key(&self) -> &str {
        &self.revoked_certificate_id
    }

    pub(crate) fn owner(&self) -> &str {
        &self.pre_enrollment_code
    }
}

impl NewRevocation<'_> {
    /// Returns the beneficiary id of the revocation record.
    pub(crate) fn owner(&self) -> &str {
        self.pre_enrollment_code
    }

    /// Returns `false`: a revocation record has no update time to compare.
    pub(crate) fn is_older_than(&self, _stored: &StoredRevocation) -> bool {
        false
    }

    /// Returns `true` if writing this row would leave `stored` as it is.
    pub(crate) fn matches(&self, stored: &StoredRevocation) -> bool {
        self.revoked_certificate_id == stored.revoked_certificate_id
            && self.pre_enrollment_code == stored.pre_enrollment_code
            && self.certificate_id == stored.certificate_id
            && self.dose == stored.dose
            && self.previous_certificate_id == stored.previous_certificate_id.as_deref()
    }
}

/// A row of `certificate_mobiles`: a beneficiary with a certificate registered
/// to this mobile number.
#[derive(Debug, Insertable, PartialEq, Eq, PartialOrd, Ord)]
#[diesel(table_name = certificate_mobiles, treat_none_as_default_value = false)]
pub(crate) struct NewCertificateMobile<'a> {
    pub(crate) mobile: &'a str,
    pub(crate) pre_enrollment_code: &'a str,
}

/// Number of columns in [`NewCertificateMobile`], for sizing multi-row inserts.
pub(crate) const CERTIFICATE_MOBILE_COLUMNS: usize = 2;

/// Converts a timestamp to the form both backends store: UTC without zone,
/// truncated to microseconds. That is PostgreSQL's precision, and SQLite would
/// keep nanoseconds.
pub(crate) fn to_stored_time(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc().trunc_subsecs(6)
}
