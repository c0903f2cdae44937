//! QR codes for DIVOC vaccination certificates.
//!
//! This crate turns a signed certificate (the JSON text exactly as signed)
//! into the QR code printed on the certificate, in the format that DIVOC's
//! deployed verifier apps read. It renders the code as PNG or SVG, exposes
//! the module matrix for other renderers such as a PDF writer, and decodes
//! QR payloads back into the certificate.
//!
//! # Payload format
//!
//! The QR code contains a single byte-mode segment, without ECI header, whose
//! bytes are built in two steps:
//!
//! 1. The certificate is stored in a zip archive with exactly one entry,
//!    `certificate.json`, compressed with DEFLATE. Its sizes and CRC-32 are
//!    in the local header (no data descriptor), there are no extra fields or
//!    comments, and the entry date is fixed at 1980-01-01 00:00:00, so one
//!    certificate always gives the same archive and the same QR code
//!    ([`zip_certificate`]).
//! 2. In the default [`PayloadForm::DivocExpanded`] form, every archive byte
//!    is replaced by the UTF-8 encoding of the Unicode code point with that
//!    value: bytes below 0x80 stay, the others become two bytes. DIVOC's Node
//!    service produces this form because it hands the archive to its QR
//!    library as a binary string, which that library encodes as UTF-8, and
//!    the verifier apps undo it after scanning. [`PayloadForm::Raw`] keeps
//!    the archive bytes unchanged, for smaller symbols that only readers of
//!    this crate's [`decode_payload`] understand.
//!
//! # Choices
//!
//! - **Error correction.** [`QrOptions::min_error_correction`] defaults to
//!   level M and the smallest version that fits is used. A payload too large
//!   for version 40 at M falls back to level L, and one too large for L
//!   returns [`QrError::PayloadTooLarge`] with both sizes. Where the chosen
//!   version has room to spare, the level is raised for free
//!   ([`QrOptions::boost_error_correction`]).
//! - **Mask.** A fixed mask, [`DEFAULT_MASK`] (mask 2), is the default.
//!   Scoring all eight masks took about 4.5 ms per 2 KB certificate against
//!   0.22 ms for one, and it does not buy robustness here: for expanded-form
//!   certificates the penalty rules mostly pick mask 0, which zbarimg failed
//!   to read at low resolution in a survey where mask 2 read well (see
//!   [`DEFAULT_MASK`]). [`MaskSelection::Automatic`] is still available.
//! - **Rendering.** Every rendering has a quiet zone of
//!   [`QUIET_ZONE_MODULES`] light modules, and the scale is a whole number of
//!   pixels per module, 1 to [`MAX_PIXELS_PER_MODULE`] (2 in DIVOC).
//!
//! # Example
//!
//! ```
//! use divoc_qr::{
//!     CertificateQr, PayloadForm, QUIET_ZONE_MODULES, QrOptions, decode_payload, encode_payload,
//! };
//!
//! let certificate = r#"{"credentialSubject":{"name":"Test Person"},"proof":{"jws":"eyJhbGciOiJQUzI1NiJ9..c2ln"}}"#;
//!
//! let qr = CertificateQr::new(certificate.as_bytes(), &QrOptions::default())?;
//! let png: Vec<u8> = qr.to_png(2)?;
//! assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
//! let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
//! assert_eq!(width, (qr.size() + 2 * QUIET_ZONE_MODULES) * 2);
//!
//! // Other renderers, such as a PDF writer, read the module matrix.
//! let top_left_finder_corner = qr.is_dark(0, 0);
//! assert!(top_left_finder_corner);
//!
//! // A QR reader returns the segment bytes, and decode_payload turns them
//! // back into the certificate.
//! let scanned = encode_payload(certificate.as_bytes(), PayloadForm::DivocExpanded)?;
//! assert_eq!(decode_payload(&scanned)?, certificate.as_bytes());
//! # Ok::<(), divoc_qr::QrError>(())
//! ```

mod error;
mod payload;
mod render;
mod symbol;

pub use error::QrError;
pub use payload::{
    CERTIFICATE_ENTRY_NAME, MAX_CERTIFICATE_BYTES, PayloadForm, ZIP_LOCAL_HEADER_SIGNATURE,
    decode_payload, encode_payload, expand_bytes, unexpand_bytes, zip_certificate,
};
pub use render::{DEFAULT_PIXELS_PER_MODULE, MAX_PIXELS_PER_MODULE};
pub use symbol::{
    CertificateQr, DEFAULT_MASK, ErrorCorrection, MaskSelection, QUIET_ZONE_MODULES, QrOptions,
    check_qr_capacity,
};
