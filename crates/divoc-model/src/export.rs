//! Reading registry exports: the files that `divoc-server import` loads.

use serde_json::Value;

use crate::dose::{json_kind, redact_values};
use crate::{ModelError, RegistryRecord, RevocationRecord, VaccinationCredential};

/// Registry entity type of vaccination certificates.
pub const CERTIFICATE_ENTITY: &str = "VaccinationCertificate";
/// Registry entity type of revocations.
pub const REVOCATION_ENTITY: &str = "RevokedCertificate";

/// One validated entry of a registry export.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "certificates are almost every entry of an export, so boxing them would only add allocations"
)]
pub enum ExportEntry {
    /// A certificate, with its credential already parsed once for validation.
    Certificate {
        /// The record as read.
        record: RegistryRecord,
        /// Dose of its first vaccination event, for indexing.
        dose: Option<u32>,
    },
    /// A revocation.
    Revocation(RevocationRecord),
}

/// An [`ExportEntry`] and where it stood in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportItem {
    /// 1-based position among the entries of the file.
    pub position: usize,
    /// The entry.
    pub entry: ExportEntry,
}

/// Parses and validates a whole registry export.
///
/// Accepted layouts, detected from the content:
///
/// * a JSON array of entities;
/// * the registry's search response, `{"result": {"VaccinationCertificate": [...],
///   "RevokedCertificate": [...]}}`, with any other envelope fields;
/// * one JSON entity per line (blank lines are skipped).
///
/// Outside the envelope, an entity with a `certificate` field is a certificate
/// record and one with `previousCertificateId` but no `certificate` is a revocation.
///
/// Every entry is validated before this returns, so a caller that writes the
/// result never writes half a file.
///
/// # Errors
///
/// The first invalid entry, named by position and `certificateId`, or
/// [`ModelError::Export`] when the file has none of the layouts above.
///
/// # Example
///
/// ```
/// use divoc_model::{ExportEntry, parse_export};
///
/// // One entity per line: a certificate, then a revocation of an earlier one.
/// let export = concat!(
///     r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000003","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"}"#,
///     "\n",
///     r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000003","previousCertificateId":"100000001"}"#,
/// );
/// let items = parse_export(export)?;
/// assert_eq!(items.len(), 2);
/// let ExportEntry::Certificate { record, dose } = &items[0].entry else { unreachable!() };
/// assert_eq!((record.certificate_id.as_str(), *dose), ("100000003", Some(1)));
/// let ExportEntry::Revocation(revocation) = &items[1].entry else { unreachable!() };
/// assert_eq!(items[1].position, 2);
/// assert_eq!(revocation.revoked_certificate_id(), "100000001");
///
/// // The registry's search response names the entity type of each list.
/// let envelope = r#"{"result":{"RevokedCertificate":[{"preEnrollmentCode":"BEN-1","certificateId":"100000001"}]}}"#;
/// let items = parse_export(envelope)?;
/// assert!(matches!(&items[0].entry, ExportEntry::Revocation(_)));
///
/// assert_eq!(
///     parse_export(r#"{"result":{"Beneficiary":[]}}"#).unwrap_err().to_string(),
///     "invalid registry export: unsupported entity type \"Beneficiary\"; \
///      expected VaccinationCertificate or RevokedCertificate"
/// );
/// # Ok::<(), divoc_model::ModelError>(())
/// ```
pub fn parse_export(text: &str) -> Result<Vec<ExportItem>, ModelError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let values = if trimmed.starts_with('[') {
        let values: Vec<Value> =
            serde_json::from_str(trimmed).map_err(|error| ModelError::Export {
                reason: format!(
                    "the JSON array could not be read: {}",
                    redact_values(&error.to_string())
                ),
            })?;
        values.into_iter().map(|value| (None, value)).collect()
    } else {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(object)) if object.contains_key("result") => {
                envelope_entities(object)?
            }
            Ok(value) => vec![(None, value)],
            Err(_) => json_lines(trimmed)?,
        }
    };
    let items: Vec<ExportItem> = values
        .into_iter()
        .enumerate()
        .map(|(index, (entity, value))| parse_entry(index + 1, entity, value))
        .collect::<Result<_, _>>()?;
    reject_duplicate_certificates(&items)?;
    Ok(items)
}

/// Rejects a file that holds two certificate records with one `certificateId`,
/// because only one of them could be stored and nothing says which is right.
pub(crate) fn reject_duplicate_certificates(items: &[ExportItem]) -> Result<(), ModelError> {
    let mut first_positions: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::new();
    for item in items {
        if let ExportEntry::Certificate { record, .. } = &item.entry
            && let Some(first) = first_positions.insert(&record.certificate_id, item.position)
        {
            return Err(ModelError::Record {
                record: format!(
                    "record {} (certificateId {})",
                    item.position, record.certificate_id
                ),
                field: "certificateId".to_owned(),
                reason: format!(
                    "duplicate of record {first}; each certificate may appear once per file"
                ),
            });
        }
    }
    Ok(())
}

/// Entities of a registry search response, each with its entity type.
fn envelope_entities(
    mut object: serde_json::Map<String, Value>,
) -> Result<Vec<(Option<&'static str>, Value)>, ModelError> {
    let result = object.remove("result").unwrap_or(Value::Null);
    let Value::Object(lists) = result else {
        return Err(ModelError::Export {
            reason: "`result` must be an object of entity lists, such as {\"VaccinationCertificate\": [...]}".to_owned(),
        });
    };
    let mut entities = Vec::new();
    for (entity, list) in lists {
        let kind = match entity.as_str() {
            CERTIFICATE_ENTITY => CERTIFICATE_ENTITY,
            REVOCATION_ENTITY => REVOCATION_ENTITY,
            other => {
                return Err(ModelError::Export {
                    reason: format!(
                        "unsupported entity type {other:?}; expected {CERTIFICATE_ENTITY} or {REVOCATION_ENTITY}"
                    ),
                });
            }
        };
        let Value::Array(items) = list else {
            return Err(ModelError::Export {
                reason: format!("`result.{entity}` must be a list"),
            });
        };
        entities.extend(items.into_iter().map(|item| (Some(kind), item)));
    }
    Ok(entities)
}

fn json_lines(text: &str) -> Result<Vec<(Option<&'static str>, Value)>, ModelError> {
    let mut values = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|error| ModelError::Export {
            reason: format!(
                "line {} is not a JSON object: {}",
                index + 1,
                redact_values(&error.to_string())
            ),
        })?;
        values.push((None, value));
    }
    Ok(values)
}

pub(crate) fn parse_entry(
    position: usize,
    entity: Option<&str>,
    value: Value,
) -> Result<ExportItem, ModelError> {
    let certificate_id = value
        .get("certificateId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let label = match &certificate_id {
        Some(id) => format!("record {position} (certificateId {id})"),
        None => format!("record {position} (no certificateId)"),
    };
    if !value.is_object() {
        return Err(ModelError::Record {
            record: label,
            field: "(root)".to_owned(),
            reason: format!("expected a JSON object, found {}", json_kind(&value)),
        });
    }
    let is_revocation = match entity {
        Some(kind) => kind == REVOCATION_ENTITY,
        None => value.get("certificate").is_none() && value.get("previousCertificateId").is_some(),
    };
    let entry = if is_revocation {
        let revocation: RevocationRecord = from_value(&label, value)?;
        revocation.validate(&label)?;
        ExportEntry::Revocation(revocation)
    } else {
        let record: RegistryRecord = from_value(&label, value)?;
        let credential: VaccinationCredential = record
            .validate(&label)
            .map_err(|error| relabel(&label, error))?;
        let dose = credential.dose();
        ExportEntry::Certificate { record, dose }
    };
    Ok(ExportItem { position, entry })
}

fn from_value<T: serde::de::DeserializeOwned>(label: &str, value: Value) -> Result<T, ModelError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        ModelError::Record {
            record: label.to_owned(),
            field: if field == "." {
                "(root)".to_owned()
            } else {
                field
            },
            reason: redact_values(&error.into_inner().to_string()),
        }
    })
}

/// Adds the record's position to a credential error, which by itself only names the id.
fn relabel(label: &str, error: ModelError) -> ModelError {
    match error {
        ModelError::Credential { path, reason, .. } => ModelError::Record {
            record: label.to_owned(),
            field: format!("certificate: {path}"),
            reason,
        },
        other => other,
    }
}
