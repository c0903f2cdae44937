//! Password protection of a finished PDF: AES-256 encryption with the standard
//! security handler of PDF 2.0 (`/V 5`, `/R 6`), written by lopdf.
//!
//! Readers that support PDF 2.0 encryption open the file with the user password,
//! such as poppler (`pdftotext -upw`) and MuPDF (`mutool draw -p`). The owner
//! password unlocks the same content and is never shown to a recipient, so
//! callers pass a random one.
//!
//! PDF 2.0 prepares a password with SASLprep (RFC 4013) before hashing it, and
//! lopdf 0.47 does so, but poppler 22.12 and MuPDF 1.21 hash the bytes as
//! typed. Passwords that SASLprep changes or prohibits are therefore rejected,
//! so the password a caller passes is the one that opens the file in each.

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
    /// A password contains characters that SASLprep (RFC 4013) changes or
    /// prohibits. Readers that skip SASLprep, such as poppler and MuPDF, would
    /// not open the file with a changed password. The message leaves out the
    /// password.
    #[error("invalid {which} password: {reason}")]
    InvalidPasswordCharacters {
        /// `user` or `owner`.
        which: &'static str,
        /// The SASLprep rule that the password breaks, and what to use instead.
        reason: &'static str,
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
/// - [`ProtectError::InvalidPassword`] for an empty password or one longer
///   than [`MAX_PASSWORD_BYTES`].
/// - [`ProtectError::InvalidPasswordCharacters`] for a password that SASLprep
///   changes, such as one with a no-break space or a decomposed accent, or
///   prohibits, such as one with a control character.
/// - [`ProtectError::AlreadyEncrypted`] for an encrypted input.
/// - [`ProtectError::Pdf`] for a PDF that lopdf cannot read or write.
///
/// # Example
///
/// ```
/// use divoc_pdf::{ProtectError, ProtectKeys, protect_pdf};
/// # use divoc_model::VaccinationCredential;
/// # use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
/// # use divoc_qr::{CertificateQr, QrOptions};
/// # let signed = r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":1}]}"#;
/// # let credential = VaccinationCredential::parse("100000001", signed)?;
/// # let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
/// # let input = CertificateInput {
/// #     certificate_id: "100000001",
/// #     credential: &credential,
/// #     doses: &[],
/// #     qr: &qr,
/// #     updated_at: None,
/// # };
/// # let pdf = PdfRenderer::new(PdfSettings::default())?.render(&input)?;
///
/// let keys = ProtectKeys {
///     user_password: "03021990",
///     // Take both from a secure random source, new for every file.
///     owner_password: "3f9a0c77d2e14b68a5c0",
///     file_key: [0x5A; 32],
/// };
/// let protected = protect_pdf(&pdf, &keys)?;
/// assert!(protected.starts_with(b"%PDF-"));
///
/// // SASLprep would turn the no-break space into a plain space.
/// let keys = ProtectKeys {
///     user_password: "asha\u{A0}rao",
///     ..keys
/// };
/// assert!(matches!(
///     protect_pdf(&pdf, &keys),
///     Err(ProtectError::InvalidPasswordCharacters { which: "user", .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    let reason = match stringprep::saslprep(password) {
        Ok(prepared) if prepared == password => return Ok(()),
        Ok(_) => {
            "SASLprep (RFC 4013) changes it, so poppler and MuPDF, which skip that step, \
             would not open the file with it; use the password in Unicode NFKC form, \
             without soft hyphens, zero-width characters or spaces other than U+0020"
        }
        Err(_) => {
            "it contains a character that SASLprep (RFC 4013) prohibits, such as a \
             control character, a private-use character, or right-to-left letters mixed \
             with left-to-right ones"
        }
    };
    Err(ProtectError::InvalidPasswordCharacters { which, reason })
}
