//! Chooses which of a beneficiary's DIVOC certificates to serve.
//!
//! A beneficiary accumulates records: one per dose, plus corrections, which are
//! new records with a later `osUpdatedAt`. This crate picks, without any I/O:
//!
//! * the latest certificate ([`latest`]): the highest dose, compared as a number;
//!   among records of that dose the latest `osUpdatedAt`, compared as an instant;
//!   then the tie-break below;
//! * the previous-doses table ([`previous_doses`]): one row per dose, highest
//!   first, each from that dose's latest record;
//! * the same two for other programs that group by another credential field, as
//!   DIVOC's v2 endpoint does with `groupBy` ([`GroupBy::Field`]);
//! * beneficiaries whose latest certificate carries a given date of birth
//!   ([`match_date_of_birth`]), for phone plus date-of-birth searches.
//!
//! # Ordering
//!
//! A missing dose ranks below every dose, and a missing `osUpdatedAt` below every
//! timestamp. When dose and `osUpdatedAt` are equal, the later `osCreatedAt` wins,
//! then the greater `certificateId`, compared first by length and then byte by byte,
//! so that numeric ids compare as numbers. DIVOC instead keeps whichever record its
//! registry returned first, which depends on the store; this order does not.
//!
//! # Example
//!
//! ```
//! use divoc_model::RegistryRecord;
//! use divoc_select::{Candidate, latest, previous_doses};
//!
//! fn record(id: &str, dose: &str, updated: &str) -> RegistryRecord {
//!     serde_json::from_value(serde_json::json!({
//!         "preEnrollmentCode": "BEN1",
//!         "certificateId": id,
//!         "osUpdatedAt": updated,
//!         "certificate": format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose},"totalDoses":2}}]}}"#),
//!     })).unwrap()
//! }
//!
//! let records = vec![
//!     record("100000001", "1", "2022-01-05T17:43:34.366Z"),
//!     record("100000002", "2", "2022-01-05T17:43:40.771Z"),
//!     // A correction of dose 1, issued after dose 2.
//!     record("100000003", "1", "2022-01-05T17:44:11.245Z"),
//! ];
//! let candidates = Candidate::parse_all(&records)?;
//!
//! assert_eq!(latest(&candidates).map(Candidate::certificate_id), Some("100000002"));
//! let rows: Vec<&str> = previous_doses(&candidates).into_iter().map(Candidate::certificate_id).collect();
//! assert_eq!(rows, ["100000002", "100000003"]);
//! # Ok::<(), divoc_select::SelectError>(())
//! ```

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use divoc_model::{ModelError, RegistryRecord, VaccinationCredential};
use serde_json::Value;

/// Errors from selection.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A stored certificate could not be read, so its dose is unknown and no
    /// choice between the records would be trustworthy.
    /// Its message leaves the cause to [`std::error::Error::source`], as a
    /// message that repeated it would show it twice in a chain of errors.
    #[error("a stored certificate cannot be read")]
    UnreadableCertificate {
        /// `certificateId` of the unreadable record.
        certificate_id: String,
        /// The parse error.
        #[source]
        source: ModelError,
    },
    /// A date of birth in a query is not a `YYYY-MM-DD` date.
    #[error("invalid date of birth {value:?}: expected YYYY-MM-DD")]
    InvalidDateOfBirth {
        /// The rejected text.
        value: String,
    },
}

/// A registry record together with its parsed credential.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    /// The stored record.
    pub record: &'a RegistryRecord,
    /// Its credential, parsed.
    pub credential: VaccinationCredential,
}

impl<'a> Candidate<'a> {
    /// Parses the credential of every record.
    ///
    /// # Errors
    ///
    /// [`SelectError::UnreadableCertificate`] for the first record whose
    /// credential cannot be read. One unreadable record fails the whole set,
    /// because skipping it could serve an older dose as the latest.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::RegistryRecord;
    /// use divoc_select::{Candidate, SelectError};
    ///
    /// let records: Vec<RegistryRecord> = serde_json::from_value(serde_json::json!([
    ///     {
    ///         "preEnrollmentCode": "BEN1",
    ///         "certificateId": "100000001",
    ///         "certificate": r#"{"credentialSubject":{},"evidence":[{"dose":1}]}"#,
    ///     },
    ///     {
    ///         "preEnrollmentCode": "BEN1",
    ///         "certificateId": "100000002",
    ///         "certificate": "not JSON",
    ///     },
    /// ]))
    /// .unwrap();
    ///
    /// let candidates = Candidate::parse_all(&records[..1])?;
    /// assert_eq!(candidates.len(), 1);
    ///
    /// let error = Candidate::parse_all(&records).unwrap_err();
    /// let SelectError::UnreadableCertificate { certificate_id, .. } = error else {
    ///     unreachable!()
    /// };
    /// assert_eq!(certificate_id, "100000002");
    /// # Ok::<(), SelectError>(())
    /// ```
    pub fn parse_all(records: &'a [RegistryRecord]) -> Result<Vec<Self>, SelectError> {
        records
            .iter()
            .map(|record| {
                record
                    .credential()
                    .map(|credential| Candidate { record, credential })
                    .map_err(|source| SelectError::UnreadableCertificate {
                        certificate_id: record.certificate_id.clone(),
                        source,
                    })
            })
            .collect()
    }

    /// Returns the record's `certificateId`.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::RegistryRecord;
    /// use divoc_select::Candidate;
    ///
    /// let records: Vec<RegistryRecord> = serde_json::from_value(serde_json::json!([
    ///     {
    ///         "preEnrollmentCode": "BEN1",
    ///         "certificateId": "100000002",
    ///         "certificate": r#"{"credentialSubject":{},"evidence":[{"dose":"2"}]}"#,
    ///     },
    ///     {
    ///         "preEnrollmentCode": "BEN1",
    ///         "certificateId": "100000003",
    ///         "certificate": r#"{"credentialSubject":{},"evidence":[]}"#,
    ///     },
    /// ]))
    /// .unwrap();
    /// let candidates = Candidate::parse_all(&records)?;
    ///
    /// assert_eq!(candidates[0].certificate_id(), "100000002");
    /// assert_eq!(candidates[0].dose(), Some(2));
    /// // A credential without a vaccination event has no dose.
    /// assert_eq!(candidates[1].dose(), None);
    /// # Ok::<(), divoc_select::SelectError>(())
    /// ```
    pub fn certificate_id(&self) -> &str {
        &self.record.certificate_id
    }

    /// Returns the dose of the credential's first vaccination event.
    ///
    /// See the example of [`Candidate::certificate_id`].
    pub fn dose(&self) -> Option<u32> {
        self.credential.dose()
    }
}

/// What separates one group of records from another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// The dose number of the first vaccination event (DIVOC's v1 rule).
    #[default]
    Dose,
    /// A named scalar field of the credential, found as DIVOC's v2 `groupBy` finds
    /// it; see [`find_field`]. Numeric values, and strings holding numbers, rank by
    /// value; other values rank below numbers and equal to each other.
    Field(String),
    /// No grouping: the latest `osUpdatedAt` wins whatever the dose.
    Nothing,
}

/// Rank of a record's group: missing, non-numeric, or a number.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum GroupRank {
    Missing,
    Other(String),
    Number(f64),
}

impl GroupRank {
    /// Ranks a finite number. `-0.0` becomes `0.0`, because `compare` orders
    /// by `f64::total_cmp`, which puts `-0.0` below `0.0`, while the two are
    /// one group.
    fn number(value: f64) -> Self {
        GroupRank::Number(if value == 0.0 { 0.0 } else { value })
    }

    fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (GroupRank::Number(a), GroupRank::Number(b)) => a.total_cmp(b),
            (GroupRank::Number(_), _) => Ordering::Greater,
            (_, GroupRank::Number(_)) => Ordering::Less,
            (GroupRank::Missing, GroupRank::Missing) => Ordering::Equal,
            (GroupRank::Missing, GroupRank::Other(_)) => Ordering::Less,
            (GroupRank::Other(_), GroupRank::Missing) => Ordering::Greater,
            (GroupRank::Other(_), GroupRank::Other(_)) => Ordering::Equal,
        }
    }

    /// Returns a key that is equal for ranks of the same group, for the
    /// one-row-per-group table. Equal numbers have equal bits, because
    /// [`GroupRank::number`] admits no `-0.0` and no NaN.
    fn group_key(&self) -> GroupKey<'_> {
        match self {
            GroupRank::Missing => GroupKey::Missing,
            GroupRank::Other(text) => GroupKey::Other(text),
            GroupRank::Number(value) => GroupKey::Number(value.to_bits()),
        }
    }
}

/// Identity of a group, see [`GroupRank::group_key`].
#[derive(PartialEq, Eq, Hash)]
enum GroupKey<'r> {
    Missing,
    Other(&'r str),
    Number(u64),
}

fn group_rank(candidate: &Candidate<'_>, group_by: &GroupBy) -> GroupRank {
    match group_by {
        GroupBy::Dose => candidate.dose().map_or(GroupRank::Missing, |dose| {
            GroupRank::number(f64::from(dose))
        }),
        GroupBy::Nothing => GroupRank::Missing,
        GroupBy::Field(name) => {
            let value = serde_json::from_str::<Value>(&candidate.record.certificate)
                .ok()
                .and_then(|root| find_field(&root, name).cloned());
            match value {
                None | Some(Value::Null) => GroupRank::Missing,
                Some(Value::Number(number)) => number
                    .as_f64()
                    .map_or(GroupRank::Missing, GroupRank::number),
                Some(Value::String(text)) => match text.trim().parse::<f64>() {
                    Ok(number) if number.is_finite() && !text.trim().is_empty() => {
                        GroupRank::number(number)
                    }
                    _ => GroupRank::Other(text),
                },
                Some(other) => GroupRank::Other(other.to_string()),
            }
        }
    }
}

/// Orders two records of the same group: later `osUpdatedAt`, then later
/// `osCreatedAt`, then the greater `certificateId` (by length, then bytes).
fn compare_within_group(a: &Candidate<'_>, b: &Candidate<'_>) -> Ordering {
    a.record
        .os_updated_at
        .cmp(&b.record.os_updated_at)
        .then_with(|| a.record.os_created_at.cmp(&b.record.os_created_at))
        .then_with(|| a.certificate_id().len().cmp(&b.certificate_id().len()))
        .then_with(|| a.certificate_id().cmp(b.certificate_id()))
}

/// Returns the certificate to serve: highest dose, then latest `osUpdatedAt`,
/// then the tie-break described in the crate docs. `None` for an empty slice.
///
/// # Example
///
/// ```
/// use divoc_model::RegistryRecord;
/// use divoc_select::{Candidate, latest};
///
/// fn record(id: &str, dose: u32, updated: &str) -> RegistryRecord {
///     serde_json::from_value(serde_json::json!({
///         "preEnrollmentCode": "BEN1",
///         "certificateId": id,
///         "osUpdatedAt": updated,
///         "certificate": format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#),
///     })).unwrap()
/// }
///
/// let records = [
///     record("100000010", 10, "2022-01-05T17:43:40.771Z"),
///     // A later record of a lower dose: the dose wins, compared as a number.
///     record("100000009", 9, "2022-01-05T17:44:11.245Z"),
/// ];
/// let candidates = Candidate::parse_all(&records)?;
/// assert_eq!(latest(&candidates).map(Candidate::certificate_id), Some("100000010"));
/// assert!(latest(&[]).is_none());
/// # Ok::<(), divoc_select::SelectError>(())
/// ```
pub fn latest<'c, 'a>(candidates: &'c [Candidate<'a>]) -> Option<&'c Candidate<'a>> {
    latest_grouped(candidates, &GroupBy::Dose)
}

/// Returns the latest certificate when records are grouped by `group_by`.
///
/// # Example
///
/// ```
/// use divoc_model::RegistryRecord;
/// use divoc_select::{Candidate, GroupBy, latest_grouped};
///
/// fn record(id: &str, dose: u32, updated: &str) -> RegistryRecord {
///     serde_json::from_value(serde_json::json!({
///         "preEnrollmentCode": "BEN1",
///         "certificateId": id,
///         "osUpdatedAt": updated,
///         "certificate": format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#),
///     })).unwrap()
/// }
///
/// let records = [
///     record("100000002", 2, "2022-01-05T17:43:40.771Z"),
///     record("100000003", 1, "2022-01-05T17:44:11.245Z"),
/// ];
/// let candidates = Candidate::parse_all(&records)?;
/// let by_dose = latest_grouped(&candidates, &GroupBy::Dose);
/// assert_eq!(by_dose.map(Candidate::certificate_id), Some("100000002"));
/// let by_update = latest_grouped(&candidates, &GroupBy::Nothing);
/// assert_eq!(by_update.map(Candidate::certificate_id), Some("100000003"));
/// # Ok::<(), divoc_select::SelectError>(())
/// ```
pub fn latest_grouped<'c, 'a>(
    candidates: &'c [Candidate<'a>],
    group_by: &GroupBy,
) -> Option<&'c Candidate<'a>> {
    pick_latest(candidates.iter(), group_by)
}

fn pick_latest<'c, 'a>(
    candidates: impl Iterator<Item = &'c Candidate<'a>>,
    group_by: &GroupBy,
) -> Option<&'c Candidate<'a>>
where
    'a: 'c,
{
    candidates
        .map(|candidate| (group_rank(candidate, group_by), candidate))
        .max_by(|(rank_a, a), (rank_b, b)| {
            rank_a
                .compare(rank_b)
                .then_with(|| compare_within_group(a, b))
        })
        .map(|(_, candidate)| candidate)
}

/// Returns the previous-doses table: one record per dose, highest dose first,
/// each the latest record of its dose. Records without a dose form one row, last.
///
/// # Example
///
/// ```
/// use divoc_model::RegistryRecord;
/// use divoc_select::{Candidate, previous_doses};
///
/// fn record(id: &str, evidence: &str, updated: &str) -> RegistryRecord {
///     serde_json::from_value(serde_json::json!({
///         "preEnrollmentCode": "BEN1",
///         "certificateId": id,
///         "osUpdatedAt": updated,
///         "certificate": format!(r#"{{"credentialSubject":{{}},"evidence":[{evidence}]}}"#),
///     })).unwrap()
/// }
///
/// let records = [
///     record("100000001", r#"{"dose":1}"#, "2022-01-05T17:43:34.366Z"),
///     record("100000002", r#"{"dose":2}"#, "2022-01-05T17:43:40.771Z"),
///     // A correction of dose 1, which replaces the first record in the table.
///     record("100000003", r#"{"dose":1}"#, "2022-01-05T17:44:11.245Z"),
///     record("100000004", r#"{}"#, "2022-01-05T17:45:00.000Z"),
/// ];
/// let candidates = Candidate::parse_all(&records)?;
///
/// let rows: Vec<&str> = previous_doses(&candidates)
///     .into_iter()
///     .map(Candidate::certificate_id)
///     .collect();
/// assert_eq!(rows, ["100000002", "100000003", "100000004"]);
/// # Ok::<(), divoc_select::SelectError>(())
/// ```
pub fn previous_doses<'c, 'a>(candidates: &'c [Candidate<'a>]) -> Vec<&'c Candidate<'a>> {
    latest_per_group(candidates, &GroupBy::Dose)
}

/// Returns one record per group, highest group first, each the latest of its group.
///
/// # Example
///
/// ```
/// use divoc_model::RegistryRecord;
/// use divoc_select::{Candidate, GroupBy, latest_per_group};
///
/// fn record(id: &str, batch: &str, updated: &str) -> RegistryRecord {
///     serde_json::from_value(serde_json::json!({
///         "preEnrollmentCode": "BEN1",
///         "certificateId": id,
///         "osUpdatedAt": updated,
///         "certificate": format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":1,"batch":"{batch}"}}]}}"#),
///     })).unwrap()
/// }
///
/// let records = [
///     record("100000001", "7", "2022-01-05T17:43:34.366Z"),
///     record("100000002", "12", "2022-01-05T17:43:40.771Z"),
///     record("100000003", "7", "2022-01-05T17:44:11.245Z"),
/// ];
/// let candidates = Candidate::parse_all(&records)?;
///
/// // Batches that hold numbers rank by value, so "12" comes before "7".
/// let by_batch = latest_per_group(&candidates, &GroupBy::Field("batch".to_owned()));
/// let ids: Vec<&str> = by_batch.into_iter().map(Candidate::certificate_id).collect();
/// assert_eq!(ids, ["100000002", "100000003"]);
///
/// // Without grouping, only the latest record remains.
/// let ungrouped = latest_per_group(&candidates, &GroupBy::Nothing);
/// let ids: Vec<&str> = ungrouped.into_iter().map(Candidate::certificate_id).collect();
/// assert_eq!(ids, ["100000003"]);
/// # Ok::<(), divoc_select::SelectError>(())
/// ```
pub fn latest_per_group<'c, 'a>(
    candidates: &'c [Candidate<'a>],
    group_by: &GroupBy,
) -> Vec<&'c Candidate<'a>> {
    let mut ranked = ranked(candidates, group_by);
    // Highest group first; within a group the latest record first.
    ranked.sort_by(|(rank_a, a), (rank_b, b)| {
        rank_b
            .compare(rank_a)
            .then_with(|| compare_within_group(b, a))
    });
    let mut seen = HashSet::new();
    ranked
        .iter()
        .filter(|(rank, _)| seen.insert(rank.group_key()))
        .map(|(_, candidate)| *candidate)
        .collect()
}

fn ranked<'c, 'a>(
    candidates: &'c [Candidate<'a>],
    group_by: &GroupBy,
) -> Vec<(GroupRank, &'c Candidate<'a>)> {
    candidates
        .iter()
        .map(|candidate| (group_rank(candidate, group_by), candidate))
        .collect()
}

/// Finds a scalar field by name anywhere in a credential, as DIVOC's v2
/// `getParamValue` does.
///
/// Keys are visited in document order, depth first. Within one object a scalar
/// whose key is `name` ends the scan of that object; a match inside a nested
/// object or list replaces any earlier match. So `dose` resolves to
/// `evidence[0].dose`, and `name` to the facility's name rather than the
/// person's, because the facility comes later in the document.
///
/// # Example
///
/// ```
/// use divoc_select::find_field;
/// use serde_json::json;
///
/// let credential = json!({
///     "credentialSubject": {"name": "Asha Rao"},
///     "evidence": [{"dose": 2, "facility": {"name": "Ward 7 Clinic"}}],
/// });
/// assert_eq!(find_field(&credential, "dose"), Some(&json!(2)));
/// assert_eq!(find_field(&credential, "name"), Some(&json!("Ward 7 Clinic")));
/// assert_eq!(find_field(&credential, "batch"), None);
/// ```
pub fn find_field<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    fn visit<'v>(value: &'v Value, name: &str, mut found: Option<&'v Value>) -> Option<&'v Value> {
        match value {
            Value::Object(fields) => {
                for (key, child) in fields {
                    if child.is_object() || child.is_array() || child.is_null() {
                        found = visit(child, name, found);
                    } else if key == name {
                        return Some(child);
                    }
                }
                found
            }
            Value::Array(items) => {
                for item in items {
                    found = visit(item, name, found);
                }
                found
            }
            _ => found,
        }
    }
    visit(value, name, None)
}

/// Parses a date of birth given in a query, `YYYY-MM-DD`.
///
/// # Errors
///
/// [`SelectError::InvalidDateOfBirth`] for any other text, including dates that
/// do not exist (`1990-02-30`).
///
/// # Example
///
/// ```
/// use chrono::NaiveDate;
/// use divoc_select::{SelectError, parse_date_of_birth};
///
/// assert_eq!(parse_date_of_birth(" 1987-04-21 ")?, NaiveDate::from_ymd_opt(1987, 4, 21).unwrap());
/// assert_eq!(
///     parse_date_of_birth("21/04/1987").unwrap_err().to_string(),
///     r#"invalid date of birth "21/04/1987": expected YYYY-MM-DD"#
/// );
/// # Ok::<(), SelectError>(())
/// ```
pub fn parse_date_of_birth(text: &str) -> Result<NaiveDate, SelectError> {
    let invalid = || SelectError::InvalidDateOfBirth {
        value: text.to_owned(),
    };
    // chrono's `%Y` also reads a signed year of fewer digits, such as
    // `+987-04-23`, so the layout is checked byte by byte first.
    let trimmed = text.trim();
    let well_formed = trimmed.len() == 10
        && trimmed
            .bytes()
            .enumerate()
            .all(|(index, byte)| match index {
                4 | 7 => byte == b'-',
                _ => byte.is_ascii_digit(),
            });
    if !well_formed {
        return Err(invalid());
    }
    NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").map_err(|_| invalid())
}

/// Returns, for each beneficiary among `candidates`, the latest certificate when
/// its date of birth equals `date_of_birth`; beneficiaries in order of first
/// appearance.
///
/// Dates compare as calendar dates. A credential without a date of birth (v1
/// credentials have none) never matches.
///
/// # Example
///
/// ```
/// use divoc_model::RegistryRecord;
/// use divoc_select::{Candidate, match_date_of_birth, parse_date_of_birth};
///
/// fn record(code: &str, id: &str, dose: u32, dob: &str) -> RegistryRecord {
///     serde_json::from_value(serde_json::json!({
///         "preEnrollmentCode": code,
///         "certificateId": id,
///         "certificate": format!(r#"{{"credentialSubject":{{"dob":"{dob}"}},"evidence":[{{"dose":{dose}}}]}}"#),
///     })).unwrap()
/// }
///
/// let records = [
///     record("BEN1", "100000001", 1, "1987-04-21"),
///     record("BEN2", "200000001", 1, "1990-02-03"),
///     record("BEN3", "300000001", 1, "1987-04-21"),
///     // BEN3's latest certificate corrects the date of birth, so BEN3 no longer matches.
///     record("BEN3", "300000002", 2, "1978-04-21"),
/// ];
/// let candidates = Candidate::parse_all(&records)?;
///
/// let matches = match_date_of_birth(&candidates, parse_date_of_birth("1987-04-21")?);
/// let ids: Vec<&str> = matches.into_iter().map(Candidate::certificate_id).collect();
/// assert_eq!(ids, ["100000001"]);
/// # Ok::<(), divoc_select::SelectError>(())
/// ```
pub fn match_date_of_birth<'c, 'a>(
    candidates: &'c [Candidate<'a>],
    date_of_birth: NaiveDate,
) -> Vec<&'c Candidate<'a>> {
    // Each beneficiary's records, beneficiaries in order of first appearance.
    let mut positions: HashMap<&str, usize> = HashMap::new();
    let mut beneficiaries: Vec<Vec<&'c Candidate<'a>>> = Vec::new();
    for candidate in candidates {
        let code = candidate.record.pre_enrollment_code.as_str();
        let position = *positions.entry(code).or_insert_with(|| {
            beneficiaries.push(Vec::new());
            beneficiaries.len() - 1
        });
        if let Some(records) = beneficiaries.get_mut(position) {
            records.push(candidate);
        }
    }
    beneficiaries
        .into_iter()
        .filter_map(|records| pick_latest(records.into_iter(), &GroupBy::Dose))
        .filter(|candidate| {
            candidate.credential.credential_subject.date_of_birth() == Some(date_of_birth)
        })
        .collect()
}
