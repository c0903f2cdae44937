//! The error type of this crate.

/// Errors from parsing registry records, credentials and registry exports.
///
/// Every variant names the record it concerns, so that an operator can find the
/// offending entry in a file of millions.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The signed credential in a record's `certificate` field could not be read.
    #[error("certificate {certificate_id}: credential field `{path}` is invalid: {reason}")]
    Credential {
        /// `certificateId` of the record that holds the credential.
        certificate_id: String,
        /// Path of the failing field inside the credential, such as `evidence[0].dose`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field of a registry record or revocation record is missing or invalid.
    #[error("{record}: field `{field}` is invalid: {reason}")]
    Record {
        /// The record, described by its position in the export and its `certificateId` where known.
        record: String,
        /// Field name as it appears in the registry JSON.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A registry export is not in any of the accepted layouts.
    #[error("invalid registry export: {reason}")]
    Export {
        /// What is wrong with the file.
        reason: String,
    },
}
