//! Certificate store for DIVOC registry exports, on SQLite or PostgreSQL.
//!
//! The store keeps two certificate tables, created by embedded migrations when a [`Store`]
//! opens:
//!
//! * `certificates`: one row per [`RegistryRecord`], keyed by `certificateId`.
//!   The signed credential is stored byte for byte, because the QR code must
//!   carry exactly what was signed. Contact URIs and `meta` are stored as JSON
//!   text, timestamps as UTC truncated to microseconds, and the credential's dose
//!   in its own column.
//! * `revocations`: one row per [`RevocationRecord`], keyed by the id it revokes
//!   ([`RevocationRecord::revoked_certificate_id`]: `previousCertificateId`, or
//!   `certificateId` when that is blank).
//!
//! Further tables keep the server's state: one-time passwords and rate limits,
//! the audit trail, share links ([`ShareLink`]) and the email outbox
//! ([`OutboxEmail`]).
//!
//! # Backends
//!
//! [`Store::open`] chooses the backend from the URL scheme: `postgres://` and
//! `postgresql://` for PostgreSQL, and `sqlite://PATH`, `sqlite:PATH`, a plain
//! file path or `:memory:` for the bundled SQLite. Connections are pooled with
//! r2d2; see [`StoreOptions`]. SQLite connections run in WAL mode with a busy
//! timeout, so readers and one writer work side by side.
//!
//! # Imports
//!
//! [`Store::import`] writes a whole registry export in one transaction: when any
//! entry is invalid or a statement fails, nothing is written. Entries are
//! upserted by key, and importing the same file again changes nothing.
//! [`Store::import_reader`] and [`Store::import_stream`] do the same for exports
//! of any size: they write in batches inside one transaction and hold one batch
//! in memory, plus an 8-byte hash per certificate id for the duplicate check
//! and each revoked certificate id, so that a revocation repeated in two
//! batches counts once in the summary.
//!
//! # Revocations
//!
//! No lookup ever returns a revoked certificate. Revocations are applied when
//! a query runs, not when data is imported, so a revocation hides its certificate
//! whichever of the two was imported first.
//!
//! # Reading
//!
//! Lookups return records in certificate-id order. The store does not parse
//! credentials when reading: a stored certificate text that is not a valid
//! credential is returned as it is, and parsing it is the caller's job.
//!
//! # Example
//!
//! ```
//! use divoc_store::{Store, StoreOptions};
//!
//! let directory = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", directory.path().join("certificates.db").display());
//! let store = Store::open(&url, &StoreOptions::default())?;
//!
//! let export = r#"[{
//!     "preEnrollmentCode": "BEN-1",
//!     "certificateId": "100000001",
//!     "mobile": "9000000001",
//!     "certificate": "{\"credentialSubject\":{\"name\":\"Asha Rao\"},\"evidence\":[{\"dose\":1}]}"
//! }]"#;
//! let summary = store.import_text(export)?;
//! assert_eq!(summary.certificates, 1);
//!
//! let records = store.certificates_by_beneficiary("BEN-1")?;
//! assert_eq!(records.len(), 1);
//! assert_eq!(records[0].certificate_id, "100000001");
//! assert!(store.beneficiary_exists("BEN-1")?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`RegistryRecord`]: divoc_model::RegistryRecord
//! [`RevocationRecord`]: divoc_model::RevocationRecord
//! [`RevocationRecord::revoked_certificate_id`]: divoc_model::RevocationRecord::revoked_certificate_id

mod audit;
mod backend;
mod bulk;
mod credential;
mod error;
mod file_check;
mod first_load;
mod import;
mod lookahead;
mod options;
mod otp;
mod outbox;
mod pool_log;
mod rows;
pub mod schema;
mod share;
mod store;
mod stream;
mod url;

pub use audit::{AuditEvent, AuditQuery};
pub use credential::Credential;
pub use error::StoreError;
pub use first_load::{ImportOptions, POSTGRES_DEFER_INDEXES_AFTER, SQLITE_DEFER_INDEXES_AFTER};
pub use import::{IMPORT_BATCH_ENTRIES, ImportSummary, RowCounts};
pub use options::StoreOptions;
pub use otp::{OtpChallenge, OtpPurge, RateCount};
pub use outbox::{EmailStatus, NewEmail, OutboxEmail};
pub use share::{NewShareLink, ShareLink};
pub use store::Store;
pub use stream::ImportProgress;
pub use url::{is_in_memory, redact_url, sqlite_file};
