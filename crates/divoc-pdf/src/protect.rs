//! Password protection of a finished PDF: AES-256 encryption with the standard
//! security handler of PDF 2.0 (`/V 5`, `/R 6`), written by lopdf.
//!
//! Readers that support PDF 2.0 encryption open the file with the user password,
//! such as poppler (`pdftotext -upw`) and MuPDF (`mutool draw -p`). The owner
//! password unlocks the same content and is never shown to a recipient, so
//! callers pass a random one.

use std::collections::BTreeMap;
use std::sync::Arc;

use lopdf::encryption::crypt_filters::{Aes256CryptFilter, CryptFilter};
use lopdf::{Document, EncryptionState, EncryptionVersion, Permissions};

/// Maximum password length in bytes. lopdf 0.47 truncates longer R6 passwords
/// to this length, so a longer one would not be what opens the file.
pub const MAX_PASSWORD_BYTES: usize = 127;

/// Failure to protect a PDF.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    /// A password is empty or longer than [`MAX_PASSWORD_BYTES`].
    #[error("invalid {which} password: must be 1 to {MAX_PASSWORD_BYTES} bytes, got {length}")]
    InvalidPassword {
        /// `user` or `owner`.
        which: &'static str,
        /// Its length in bytes.
        length: usize,
    },
    /// The input is already encrypted.
    #[error("the PDF is already encrypted")]
    AlreadyEncrypted,
    /// lopdf could not read, encrypt or write the document.
    #[error("PDF encryption failed: {0}")]
    Pdf(#[from] lopdf::Error),
    /// lopdf rejected the encryption parameters.
    #[error("PDF encryption parameters rejected: {0}")]
    Parameters(String),
}

/// Secrets of one protected file, chosen by the caller.
pub struct ProtectKeys<'a> {
    /// Password that opens the file.
    pub user_password: &'a str,
    /// Password with full rights. Pass a random one and do not store it.
    pub owner_password: &'a str,
    /// Random 256-bit file encryption key, new for every file.
    pub file_key: [u8; 32],
}

/// Encrypts `pdf` with AES-256 (PDF 2.0 standard security handler, revision 6).
/// Printing and copying stay allowed once the file is open.
///
/// # Errors
///
/// [`ProtectError`] for an invalid password, an encrypted input, or a PDF that
/// lopdf cannot read or write.
pub fn protect_pdf(pdf: &[u8], keys: &ProtectKeys<'_>) -> Result<Vec<u8>, ProtectError> {
    check_password("user", keys.user_password)?;
    check_password("owner", keys.owner_password)?;
    let mut document = Document::load_mem(pdf)?;
    if document.is_encrypted() {
        return Err(ProtectError::AlreadyEncrypted);
    }
    let filter: Arc<dyn CryptFilter> = Arc::new(Aes256CryptFilter);
    let version = EncryptionVersion::V5 {
        encrypt_metadata: true,
        crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), filter)]),
        file_encryption_key: &keys.file_key,
        stream_filter: b"StdCF".to_vec(),
        string_filter: b"StdCF".to_vec(),
        owner_password: keys.owner_password,
        user_password: keys.user_password,
        permissions: Permissions::PRINTABLE
            | Permissions::PRINTABLE_IN_HIGH_QUALITY
            | Permissions::COPYABLE
            | Permissions::COPYABLE_FOR_ACCESSIBILITY,
    };
    let state = EncryptionState::try_from(version)
        .map_err(|error| ProtectError::Parameters(error.to_string()))?;
    document.encrypt(&state)?;
    let mut out = Vec::with_capacity(pdf.len() + 1024);
    document
        .save_to(&mut out)
        .map_err(|error| ProtectError::Pdf(lopdf::Error::IO(error)))?;
    Ok(out)
}

fn check_password(which: &'static str, password: &str) -> Result<(), ProtectError> {
    let length = password.len();
    if length == 0 || length > MAX_PASSWORD_BYTES {
        return Err(ProtectError::InvalidPassword { which, length });
    }
    Ok(())
}
