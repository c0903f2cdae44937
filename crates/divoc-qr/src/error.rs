//! The error type of this crate.

use crate::payload::PayloadForm;

/// Errors from building, rendering and decoding certificate QR codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The certificate to encode has no bytes.
    #[error("certificate is empty: pass the signed certificate JSON")]
    EmptyCertificate,

    /// The certificate is larger than any QR code can hold, even after compression.
    #[error(
        "certificate of {size} bytes is too large: at most {max} bytes are accepted, because no QR code can hold more even after DEFLATE compression"
    )]
    CertificateTooLarge {
        /// Size of the rejected certificate in bytes.
        size: usize,
        /// Maximum accepted size in bytes.
        max: usize,
    },

    /// Writing the zip archive failed.
    #[error("failed to write the certificate zip archive: {0}")]
    ZipWrite(#[source] zip::result::ZipError),

    /// The payload does not fit in a QR code at any accepted error correction level.
    #[error(
        "QR payload of {payload_bytes} bytes ({form:?} form) does not fit in a QR code: the capacity is {capacity_bytes} bytes (version 40, error correction Low); shorten the certificate"
    )]
    PayloadTooLarge {
        /// Size of the payload in bytes, after zipping and, for the expanded form, expansion.
        payload_bytes: usize,
        /// Maximum byte-mode payload of a version 40 symbol at the lowest level tried.
        capacity_bytes: usize,
        /// The payload form that was requested.
        form: PayloadForm,
    },

    /// A fixed mask number outside 0..=7 was requested.
    #[error("invalid QR mask {0}: expected a mask number from 0 to 7")]
    InvalidMask(u8),

    /// The requested scale is 0 or above [`crate::MAX_PIXELS_PER_MODULE`].
    #[error("invalid pixels per module {value}: expected 1 to {max}")]
    InvalidPixelsPerModule {
        /// The rejected value.
        value: u32,
        /// Maximum accepted value.
        max: u32,
    },

    /// The PNG encoder failed.
    #[error("failed to encode the QR code as PNG: {0}")]
    PngEncoding(#[source] png::EncodingError),

    /// The decoded QR bytes are neither a raw zip nor an expanded zip.
    #[error(
        "QR payload is not a DIVOC certificate zip: it starts neither with the zip signature 50 4B 03 04 nor decodes as UTF-8 expanded bytes that do"
    )]
    NotAZipPayload,

    /// The payload starts like a zip archive but cannot be read as one.
    #[error("QR payload is not a valid zip archive: {0}")]
    InvalidZip(#[source] zip::result::ZipError),

    /// The zip archive has no `certificate.json` entry.
    #[error("QR payload zip has no entry named certificate.json")]
    CertificateEntryMissing,

    /// Reading the `certificate.json` entry failed, for example on a CRC-32 mismatch.
    #[error("failed to read certificate.json from the QR payload zip: {0}")]
    CertificateEntryUnreadable(#[source] std::io::Error),

    /// The `certificate.json` entry is larger than the decoder accepts.
    #[error(
        "certificate.json in the QR payload zip is larger than the maximum of {max} bytes (declared {declared} bytes)"
    )]
    DecodedCertificateTooLarge {
        /// Uncompressed size declared in the zip, or the number of bytes read before stopping.
        declared: u64,
        /// Maximum accepted size in bytes.
        max: usize,
    },
}
