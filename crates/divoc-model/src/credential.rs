//! Typed view of the signed vaccination credential stored in a record.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::dose::{dose, lenient_string, redact_values};

/// The W3C verifiable credential that DIVOC signs for a vaccination.
///
/// Only the fields the distribution service reads are typed. Unknown fields are
/// ignored, so credentials from newer or customised signers still parse. This view
/// is for reading: the signed text in [`crate::RegistryRecord::certificate`] is the
/// only form that may be handed on, because re-serialising would break the proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaccinationCredential {
    /// JSON-LD contexts; entries may be URLs or inline context objects.
    #[serde(rename = "@context", default)]
    pub context: Vec<serde_json::Value>,
    /// Credential types, such as `VerifiableCredential` and `ProofOfVaccinationCredential`.
    #[serde(rename = "type", default)]
    pub types: Vec<String>,
    /// The vaccinated person.
    pub credential_subject: CredentialSubject,
    /// Issuer: a URL string, or an object with an `id`.
    #[serde(default)]
    pub issuer: Option<serde_json::Value>,
    /// Issuance timestamp as written by the signer.
    #[serde(default)]
    pub issuance_date: Option<String>,
    /// Vaccination events; DIVOC writes exactly one.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// The signature block.
    #[serde(default)]
    pub proof: Option<Proof>,
}

/// Which DIVOC vaccination context a credential declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextVersion {
    /// `…/credentials/vaccination/v1`: no date of birth in the subject.
    V1,
    /// `…/credentials/vaccination/v2`: adds `dob`, `icd11Code` and `prophylaxis`.
    V2,
    /// No recognised vaccination context.
    Unknown,
}

/// The person a credential is about. All values are strings in DIVOC's templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSubject {
    /// Identity URI such as `did:india:872550100V` or `did:aadhaar:123456789012`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The beneficiary reference id (the pre-enrollment code).
    #[serde(default, deserialize_with = "lenient_string")]
    pub ref_id: Option<String>,
    /// Full name as the person writes it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// Gender, as written.
    #[serde(default, deserialize_with = "lenient_string")]
    pub gender: Option<String>,
    /// Sex, used by some deployments instead of `gender`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub sex: Option<String>,
    /// Age in years at vaccination, as written (a string, or a number in some exports).
    #[serde(default, deserialize_with = "lenient_string")]
    pub age: Option<String>,
    /// Nationality, as written.
    #[serde(default, deserialize_with = "lenient_string")]
    pub nationality: Option<String>,
    /// Date of birth as written; see [`CredentialSubject::date_of_birth`].
    #[serde(default, deserialize_with = "lenient_string")]
    pub dob: Option<String>,
    /// Residential address.
    #[serde(default)]
    pub address: Option<Address>,
}

/// A postal address as DIVOC writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// First address line.
    #[serde(default, deserialize_with = "lenient_string")]
    pub street_address: Option<String>,
    /// Second address line.
    #[serde(default, deserialize_with = "lenient_string")]
    pub street_address2: Option<String>,
    /// District.
    #[serde(default, deserialize_with = "lenient_string")]
    pub district: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "lenient_string")]
    pub city: Option<String>,
    /// State or region.
    #[serde(default, deserialize_with = "lenient_string")]
    pub address_region: Option<String>,
    /// Country, usually ISO 3166 alpha-3 such as `IND`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub address_country: Option<String>,
    /// Postal code.
    #[serde(default, deserialize_with = "lenient_string")]
    pub postal_code: Option<String>,
}

/// One vaccination event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// Certificate URL.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// Certificate id as written in the evidence; may differ from the record's.
    #[serde(default, deserialize_with = "lenient_string")]
    pub certificate_id: Option<String>,
    /// Vaccine batch or lot.
    #[serde(default, deserialize_with = "lenient_string")]
    pub batch: Option<String>,
    /// Vaccine name, such as `Covishield`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub vaccine: Option<String>,
    /// Manufacturer.
    #[serde(default, deserialize_with = "lenient_string")]
    pub manufacturer: Option<String>,
    /// ICD-11 code of the vaccine (v2 credentials).
    #[serde(default, deserialize_with = "lenient_string")]
    pub icd11_code: Option<String>,
    /// Prophylaxis term (v2 credentials).
    #[serde(default, deserialize_with = "lenient_string")]
    pub prophylaxis: Option<String>,
    /// Vaccination time as written; see [`Evidence::vaccination_date`].
    #[serde(default, deserialize_with = "lenient_string")]
    pub date: Option<String>,
    /// First day of protection, `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub effective_start: Option<String>,
    /// Last day of protection, `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub effective_until: Option<String>,
    /// Dose number; `None` when empty or absent.
    #[serde(default, deserialize_with = "dose")]
    pub dose: Option<u32>,
    /// Doses in the primary schedule; `None` when empty or absent.
    #[serde(default, deserialize_with = "dose")]
    pub total_doses: Option<u32>,
    /// The person who vaccinated.
    #[serde(default)]
    pub verifier: Option<Verifier>,
    /// Where the vaccination took place.
    #[serde(default)]
    pub facility: Option<Facility>,
}

/// The vaccinator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verifier {
    /// Vaccinator's name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
}

/// The vaccination facility.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facility {
    /// Facility name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// Facility address.
    #[serde(default)]
    pub address: Option<Address>,
}

/// The credential's signature block. The service never checks it; verifiers do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proof {
    /// Signature suite, such as `RsaSignature2018` or `Ed25519Signature2018`.
    #[serde(rename = "type", default)]
    pub proof_type: Option<String>,
    /// Signing time.
    #[serde(default)]
    pub created: Option<String>,
    /// Key reference.
    #[serde(default)]
    pub verification_method: Option<String>,
    /// Proof purpose, normally `assertionMethod`.
    #[serde(default)]
    pub proof_purpose: Option<String>,
    /// Detached JWS.
    #[serde(default)]
    pub jws: Option<String>,
}

/// When a vaccination took place.
///
/// A timestamp is an instant and is shown in the deployment's time zone. A date
/// without a time is a calendar date and is shown as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaccinationDate {
    /// A point in time.
    Instant(DateTime<Utc>),
    /// A calendar date with no time of day.
    Date(NaiveDate),
}

impl VaccinationDate {
    /// Returns the calendar day of the vaccination in `zone`: an instant is
    /// converted into the zone, and a calendar date is kept as written.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{FixedOffset, NaiveDate};
    /// use divoc_model::parse_vaccination_date;
    ///
    /// let india = FixedOffset::east_opt(5 * 3600 + 1800).expect("valid offset");
    /// let late = parse_vaccination_date("2021-10-17T22:00:00Z").expect("a timestamp");
    /// assert_eq!(late.day_in(&india), NaiveDate::from_ymd_opt(2021, 10, 18).expect("a date"));
    /// let day = parse_vaccination_date("2021-10-17").expect("a date");
    /// assert_eq!(day.day_in(&india), NaiveDate::from_ymd_opt(2021, 10, 17).expect("a date"));
    /// ```
    pub fn day_in<Z: chrono::TimeZone>(&self, zone: &Z) -> NaiveDate {
        match self {
            VaccinationDate::Instant(instant) => instant.with_timezone(zone).date_naive(),
            VaccinationDate::Date(day) => *day,
        }
    }
}

impl VaccinationCredential {
    /// Parses a credential from the signed JSON text of a record.
    ///
    /// `certificate_id` only labels errors. A failure names the path of the
    /// failing field, for example `evidence[0].dose`.
    ///
    /// # Errors
    ///
    /// [`ModelError::Credential`] when the text is not JSON or a typed field has
    /// the wrong shape.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::{ModelError, VaccinationCredential};
    ///
    /// let credential = VaccinationCredential::parse(
    ///     "100000001",
    ///     r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":"1","totalDoses":2}]}"#,
    /// )?;
    /// assert_eq!(credential.evidence[0].total_doses, Some(2));
    ///
    /// // The message names the failing field but hides its value, which may be
    /// // personal data.
    /// let error = VaccinationCredential::parse(
    ///     "100000001",
    ///     r#"{"credentialSubject":{},"evidence":[{"dose":"two"}]}"#,
    /// )
    /// .unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "certificate 100000001: credential field `evidence[0].dose` is invalid: \
    ///      expected a whole number of doses, found \"…\" at line 1 column 50"
    /// );
    ///
    /// // Text after the credential is rejected, at the root of the document.
    /// let trailing = r#"{"credentialSubject":{}} {}"#;
    /// let error = VaccinationCredential::parse("100000001", trailing).unwrap_err();
    /// let ModelError::Credential { path, .. } = error else { unreachable!() };
    /// assert_eq!(path, "(root)");
    /// # Ok::<(), ModelError>(())
    /// ```
    pub fn parse(certificate_id: &str, text: &str) -> Result<Self, ModelError> {
        // Tracking the path slows every parse down, so it is done only to
        // describe a failure. Whatever the plain parse accepts, the tracked
        // one accepts too, with the same result.
        if let Ok(credential) = serde_json::from_str(text) {
            return Ok(credential);
        }
        let invalid = |path: String, error: serde_json::Error| ModelError::Credential {
            certificate_id: certificate_id.to_owned(),
            path: if path == "." {
                "(root)".to_owned()
            } else {
                path
            },
            reason: redact_values(&error.to_string()),
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let credential = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| invalid(error.path().to_string(), error.into_inner()))?;
        // Text after the credential, which the plain parse rejected.
        deserializer
            .end()
            .map_err(|error| invalid(".".to_owned(), error))?;
        Ok(credential)
    }

    /// Returns the first vaccination event, which is the one DIVOC reads.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::VaccinationCredential;
    ///
    /// let credential = VaccinationCredential::parse(
    ///     "100000001",
    ///     r#"{"credentialSubject":{},"evidence":[{"vaccine":"COVISHIELD"},{"vaccine":"COVAXIN"}]}"#,
    /// )?;
    /// let first = credential.evidence().and_then(|event| event.vaccine.as_deref());
    /// assert_eq!(first, Some("COVISHIELD"));
    ///
    /// let text = r#"{"credentialSubject":{}}"#;
    /// let without_events = VaccinationCredential::parse("100000001", text)?;
    /// assert!(without_events.evidence().is_none());
    /// # Ok::<(), divoc_model::ModelError>(())
    /// ```
    pub fn evidence(&self) -> Option<&Evidence> {
        self.evidence.first()
    }

    /// Returns the dose number of the first vaccination event.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::VaccinationCredential;
    ///
    /// let dose = |evidence: &str| {
    ///     let text = format!(r#"{{"credentialSubject":{{}},"evidence":{evidence}}}"#);
    ///     VaccinationCredential::parse("100000001", &text).map(|credential| credential.dose())
    /// };
    /// assert_eq!(dose(r#"[{"dose":2}]"#)?, Some(2));
    /// // Numeric strings are accepted, and an empty value means unknown.
    /// assert_eq!(dose(r#"[{"dose":"10"}]"#)?, Some(10));
    /// assert_eq!(dose(r#"[{"dose":""}]"#)?, None);
    /// assert_eq!(dose("[]")?, None);
    /// # Ok::<(), divoc_model::ModelError>(())
    /// ```
    pub fn dose(&self) -> Option<u32> {
        self.evidence().and_then(|evidence| evidence.dose)
    }

    /// Returns which DIVOC vaccination context the credential declares.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::{ContextVersion, VaccinationCredential};
    ///
    /// let version = |contexts: &str| {
    ///     let text = format!(r#"{{"@context":{contexts},"credentialSubject":{{}}}}"#);
    ///     let credential = VaccinationCredential::parse("100000001", &text)?;
    ///     Ok::<_, divoc_model::ModelError>(credential.context_version())
    /// };
    /// let w3c = "https://www.w3.org/2018/credentials/v1";
    /// let v1 = format!(r#"["{w3c}", "https://cowin.gov.in/credentials/vaccination/v1"]"#);
    /// assert_eq!(version(&v1)?, ContextVersion::V1);
    /// // A trailing slash is accepted.
    /// let v2 = r#"["https://example.org/credentials/vaccination/v2/"]"#;
    /// assert_eq!(version(v2)?, ContextVersion::V2);
    /// assert_eq!(version(&format!(r#"["{w3c}"]"#))?, ContextVersion::Unknown);
    /// # Ok::<(), divoc_model::ModelError>(())
    /// ```
    pub fn context_version(&self) -> ContextVersion {
        for context in &self.context {
            if let Some(url) = context.as_str() {
                let url = url.trim_end_matches('/');
                if url.ends_with("/credentials/vaccination/v1") {
                    return ContextVersion::V1;
                }
                if url.ends_with("/credentials/vaccination/v2") {
                    return ContextVersion::V2;
                }
            }
        }
        ContextVersion::Unknown
    }

    /// Returns the issuer id, whether the issuer is written as a string or as an object.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::VaccinationCredential;
    ///
    /// let issuer = |issuer: &str| {
    ///     let text = format!(r#"{{"issuer":{issuer},"credentialSubject":{{}}}}"#);
    ///     VaccinationCredential::parse("100000001", &text)
    ///         .map(|credential| credential.issuer_id().map(str::to_owned))
    /// };
    /// assert_eq!(issuer(r#""https://cowin.gov.in/""#)?.as_deref(), Some("https://cowin.gov.in/"));
    /// assert_eq!(
    ///     issuer(r#"{"id":"https://cowin.gov.in/","name":"CoWIN"}"#)?.as_deref(),
    ///     Some("https://cowin.gov.in/")
    /// );
    /// assert_eq!(issuer("null")?, None);
    /// # Ok::<(), divoc_model::ModelError>(())
    /// ```
    pub fn issuer_id(&self) -> Option<&str> {
        match self.issuer.as_ref()? {
            serde_json::Value::String(id) => Some(id),
            serde_json::Value::Object(fields) => fields.get("id").and_then(|id| id.as_str()),
            _ => None,
        }
    }
}

impl CredentialSubject {
    /// Returns the gender, or the sex where a deployment writes that instead.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::CredentialSubject;
    ///
    /// let subject = CredentialSubject {
    ///     gender: Some(" ".to_owned()),
    ///     sex: Some("Female".to_owned()),
    ///     ..CredentialSubject::default()
    /// };
    /// // A blank gender counts as missing.
    /// assert_eq!(subject.gender_or_sex(), Some("Female"));
    /// assert_eq!(CredentialSubject::default().gender_or_sex(), None);
    /// ```
    pub fn gender_or_sex(&self) -> Option<&str> {
        non_empty(self.gender.as_deref()).or_else(|| non_empty(self.sex.as_deref()))
    }

    /// Returns the date of birth as a calendar date.
    ///
    /// Accepts `YYYY-MM-DD`, optionally followed by a time (`1987-04-21T00:00:00Z`),
    /// in which case only the written date is taken: a date of birth never passes
    /// through a time-zone conversion.
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use divoc_model::CredentialSubject;
    ///
    /// let born = |dob: &str| {
    ///     let subject = CredentialSubject {
    ///         dob: Some(dob.to_owned()),
    ///         ..CredentialSubject::default()
    ///     };
    ///     subject.date_of_birth()
    /// };
    /// let april_21 = NaiveDate::from_ymd_opt(1987, 4, 21);
    /// assert_eq!(born("1987-04-21"), april_21);
    /// // In UTC this is 1987-04-22, but the written date is kept.
    /// assert_eq!(born("1987-04-21T23:30:00-05:00"), april_21);
    /// assert_eq!(born("21/04/1987"), None);
    /// ```
    pub fn date_of_birth(&self) -> Option<NaiveDate> {
        parse_calendar_date(self.dob.as_deref()?)
    }
}

impl Evidence {
    /// Returns the vaccination time.
    ///
    /// RFC 3339 timestamps keep their offset. A timestamp without an offset is
    /// read as UTC, which is what DIVOC's services did on their UTC hosts. A bare
    /// `YYYY-MM-DD` is a calendar date.
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeZone, Utc};
    /// use divoc_model::{Evidence, VaccinationDate};
    ///
    /// let event = Evidence {
    ///     date: Some("2021-10-18T03:30:00+05:30".to_owned()),
    ///     ..Evidence::default()
    /// };
    /// let instant = Utc.with_ymd_and_hms(2021, 10, 17, 22, 0, 0).unwrap();
    /// assert_eq!(event.vaccination_date(), Some(VaccinationDate::Instant(instant)));
    ///
    /// let event = Evidence {
    ///     date: Some("2021-10-18".to_owned()),
    ///     ..Evidence::default()
    /// };
    /// let day = NaiveDate::from_ymd_opt(2021, 10, 18).unwrap();
    /// assert_eq!(event.vaccination_date(), Some(VaccinationDate::Date(day)));
    /// assert_eq!(Evidence::default().vaccination_date(), None);
    /// ```
    pub fn vaccination_date(&self) -> Option<VaccinationDate> {
        parse_vaccination_date(self.date.as_deref()?)
    }
}

/// Parses a vaccination time written as RFC 3339, as a zone-less timestamp, or as a date.
///
/// # Example
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use divoc_model::{VaccinationDate, parse_vaccination_date};
///
/// let instant = Utc.with_ymd_and_hms(2021, 10, 17, 10, 30, 0).unwrap();
/// assert_eq!(
///     parse_vaccination_date("2021-10-17T16:00:00+05:30"),
///     Some(VaccinationDate::Instant(instant))
/// );
/// // A timestamp without an offset is read as UTC.
/// assert_eq!(
///     parse_vaccination_date("2021-10-17 10:30:00"),
///     Some(VaccinationDate::Instant(instant))
/// );
/// let day = NaiveDate::from_ymd_opt(2021, 10, 17).unwrap();
/// assert_eq!(parse_vaccination_date("2021-10-17"), Some(VaccinationDate::Date(day)));
/// assert_eq!(parse_vaccination_date("17/10/2021"), None);
/// ```
pub fn parse_vaccination_date(text: &str) -> Option<VaccinationDate> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(VaccinationDate::Instant(instant.with_timezone(&Utc)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(VaccinationDate::Instant(naive.and_utc()));
        }
    }
    // chrono's parser reads its format string on every call, so the usual
    // layout is tried first.
    iso_date(text)
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .map(VaccinationDate::Date)
}

/// Parses the `YYYY-MM-DD` at the start of `text`, ignoring any time that follows.
///
/// # Example
///
/// ```
/// use chrono::NaiveDate;
/// use divoc_model::parse_calendar_date;
///
/// let april_21 = NaiveDate::from_ymd_opt(1987, 4, 21);
/// assert_eq!(parse_calendar_date("1987-04-21"), april_21);
/// assert_eq!(parse_calendar_date("1987-04-21T23:30:00-05:00"), april_21);
/// assert_eq!(parse_calendar_date("1987-4-21"), None);
/// assert_eq!(parse_calendar_date("1987-02-30"), None);
/// ```
pub fn parse_calendar_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let date_part = text.get(..10)?;
    let rest = text.get(10..)?;
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return None;
    }
    iso_date(date_part)
}

/// Parses `YYYY-MM-DD` with ASCII digits and nothing else. chrono's
/// `%Y-%m-%d` also takes a sign and fewer digits, as in `-999-1-01`.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes.get(range)?.iter().try_fold(0_u32, |value, byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dob_with_time_keeps_written_date() {
        let subject = CredentialSubject {
            dob: Some("1987-04-21T23:30:00-05:00".to_owned()),
            ..CredentialSubject::default()
        };
        assert_eq!(
            subject.date_of_birth(),
            NaiveDate::from_ymd_opt(1987, 4, 21)
        );
    }

    #[test]
    fn dob_rejects_other_layouts() {
        assert_eq!(parse_calendar_date("04/21/1987"), None);
        assert_eq!(parse_calendar_date("1987-04-21x"), None);
        assert_eq!(parse_calendar_date(""), None);
    }

    #[test]
    fn text_after_the_credential_is_rejected() {
        let error = VaccinationCredential::parse("100000001", r#"{"credentialSubject":{}} x"#);
        assert_eq!(
            error.map_err(|error| error.to_string()),
            Err(
                "certificate 100000001: credential field `(root)` is invalid: \
                 trailing characters at line 1 column 26"
                    .to_owned()
            )
        );
        assert!(VaccinationCredential::parse("100000001", r#" {"credentialSubject":{}} "#).is_ok());
    }

    #[test]
    fn calendar_dates_take_one_layout() {
        let day = |year, month, day| NaiveDate::from_ymd_opt(year, month, day);
        let cases = [
            ("2021-02-28", day(2021, 2, 28)),
            ("2020-02-29", day(2020, 2, 29)),
            ("2021-02-29", None),
            ("0000-01-01", day(0, 1, 1)),
            ("9999-12-31", day(9999, 12, 31)),
            ("2021-00-10", None),
            ("2021-13-01", None),
            ("2021-12-00", None),
            ("2021-12-32", None),
            ("2021-1-01", None),
            ("2021- 1-01", None),
            ("+987-04-23", None),
            ("-999-01-01", None),
            ("20210101", None),
            ("2021/01/01", None),
            ("\u{0662}021-01-01", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_calendar_date(text), expected, "{text}");
        }
        assert_eq!(
            parse_calendar_date(" 1987-04-21T23:30:00Z"),
            day(1987, 4, 21)
        );
    }

    #[test]
    fn vaccination_dates_also_take_chrono_layouts() {
        let date = |text| match parse_vaccination_date(text) {
            Some(VaccinationDate::Date(day)) => Some(day),
            _ => None,
        };
        assert_eq!(date("2021-10-17"), NaiveDate::from_ymd_opt(2021, 10, 17));
        assert_eq!(date("2021-1-7"), NaiveDate::from_ymd_opt(2021, 1, 7));
        assert_eq!(date("2021-02-30"), None);
    }

    #[test]
    fn vaccination_date_layouts() {
        let instant = parse_vaccination_date("2021-10-17T05:30:28.187+05:30");
        let expected = DateTime::parse_from_rfc3339("2021-10-17T00:00:28.187Z").map(|d| d.to_utc());
        assert_eq!(instant, expected.ok().map(VaccinationDate::Instant));
        let zoneless = parse_vaccination_date("2021-10-17T05:30:28");
        let expected = DateTime::parse_from_rfc3339("2021-10-17T05:30:28Z").map(|d| d.to_utc());
        assert_eq!(zoneless, expected.ok().map(VaccinationDate::Instant));
        assert_eq!(
            parse_vaccination_date("2021-10-17"),
            NaiveDate::from_ymd_opt(2021, 10, 17).map(VaccinationDate::Date)
        );
        assert_eq!(parse_vaccination_date("yesterday"), None);
    }
}
