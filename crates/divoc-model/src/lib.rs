//! Types for DIVOC's vaccination certificate registry.
//!
//! DIVOC stores each signed certificate as a registry record whose `certificate`
//! field holds the signed W3C credential as JSON text. This crate reads those
//! records ([`RegistryRecord`]), revocations ([`RevocationRecord`]), whole registry
//! exports ([`parse_export`]) and the credential itself ([`VaccinationCredential`]).
//! It does no I/O of its own: [`ExportReader`] reads from a reader that the caller opens.
//!
//! Dose counts are accepted as numbers or numeric strings (`"10"`), and an empty
//! value means unknown. Unknown fields are ignored. Errors name the record and the
//! failing field.
//!
//! # Example
//!
//! ```
//! use divoc_model::{ExportEntry, parse_export};
//!
//! let export = r#"[{
//!     "preEnrollmentCode": "BEN-1",
//!     "certificateId": "100000001",
//!     "mobile": "9000000001",
//!     "osUpdatedAt": "2022-01-05T17:43:34.366Z",
//!     "certificate": "{\"credentialSubject\":{\"name\":\"Asha Rao\",\"dob\":\"1990-02-03\"},\"evidence\":[{\"dose\":\"2\",\"totalDoses\":2,\"date\":\"2021-10-17T05:30:28.187Z\"}]}"
//! }]"#;
//!
//! let items = parse_export(export)?;
//! let ExportEntry::Certificate { record, dose } = &items[0].entry else { unreachable!() };
//! assert_eq!(*dose, Some(2));
//!
//! let credential = record.credential()?;
//! assert_eq!(credential.credential_subject.name.as_deref(), Some("Asha Rao"));
//! assert_eq!(credential.credential_subject.date_of_birth().map(|d| d.to_string()).as_deref(), Some("1990-02-03"));
//! # Ok::<(), divoc_model::ModelError>(())
//! ```

mod credential;
mod dose;
mod error;
mod export;
mod ids;
mod printed;
mod record;
mod shape;
mod stream;

pub use credential::{
    Address, ContextVersion, CredentialSubject, Evidence, Facility, Proof, VaccinationCredential,
    VaccinationDate, Verifier, parse_calendar_date, parse_vaccination_date,
};
pub use dose::redact_values;
pub use error::ModelError;
pub use export::{CERTIFICATE_ENTITY, ExportEntry, ExportItem, REVOCATION_ENTITY, parse_export};
pub use ids::{MAX_ID_BYTES, check_id};
pub use printed::{MAX_ADDRESS_PART_CHARS, MAX_NAME_CHARS, MAX_PRINTED_VALUE_CHARS};
pub use record::{RegistryRecord, RevocationRecord};
pub use stream::{ExportReader, MAX_LINE_BYTES};
