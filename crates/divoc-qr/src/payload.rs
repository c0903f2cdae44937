//! The bytes inside the QR symbol: a one-entry zip archive, optionally expanded to UTF-8.

use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::error::QrError;

/// Name of the single zip entry that contains the certificate.
pub const CERTIFICATE_ENTRY_NAME: &str = "certificate.json";

/// Signature that starts every zip local file header.
pub const ZIP_LOCAL_HEADER_SIGNATURE: [u8; 4] = *b"PK\x03\x04";

/// Maximum certificate size accepted by [`zip_certificate`] and returned by [`decode_payload`].
///
/// A version 40 QR code stores at most 2953 bytes, and DEFLATE expands each
/// compressed byte to at most about 1032 bytes, so no certificate above
/// roughly 3.05 MB can ever fit. The limit also stops zip bombs in
/// [`decode_payload`] from allocating more than this.
pub const MAX_CERTIFICATE_BYTES: usize = 4 * 1024 * 1024;

/// DEFLATE level for the zip entry. Level 9 gives the smallest stream and so
/// the smallest QR version. DIVOC's certificate_api (certificate_controller.js)
/// leaves JSZip at its default level, and readers do not depend on the level.
const DEFLATE_LEVEL: i64 = 9;

/// Encoding of the zip bytes in the QR byte-mode segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadForm {
    /// Each zip byte `b` is written as the UTF-8 encoding of the code point
    /// U+00`b`: bytes below 0x80 stay as they are, and every other byte
    /// becomes two bytes (0xC2 or 0xC3 followed by a continuation byte).
    ///
    /// DIVOC's certificate_api produces this form, because it passes the zip
    /// as a JavaScript binary string (JSZip `type: "string"`) to node-qrcode,
    /// which writes strings as UTF-8. DIVOC's verifier apps expect it.
    #[default]
    DivocExpanded,
    /// The zip bytes unchanged. The symbol is smaller, but DIVOC's deployed
    /// verifier apps do not read it.
    Raw,
}

/// Zips a certificate into a one-entry archive whose entry is `certificate.json`.
///
/// The entry is DEFLATE-compressed (level 9), dated 1980-01-01 00:00:00 (the
/// DOS epoch) and written without data descriptor, extra fields or comments,
/// so its sizes and CRC-32 are in the local header and the same certificate
/// always gives the same bytes.
///
/// NOTE: the DEFLATE stream comes from the `zip` crate's flate2 backend
/// (zlib-rs in this workspace). Another backend or version may pick other
/// matches, so the bytes are stable only while the dependency versions are.
///
/// # Errors
///
/// [`QrError::EmptyCertificate`] for an empty input,
/// [`QrError::CertificateTooLarge`] above [`MAX_CERTIFICATE_BYTES`], and
/// [`QrError::ZipWrite`] if the zip writer fails.
pub fn zip_certificate(certificate: &[u8]) -> Result<Vec<u8>, QrError> {
    if certificate.is_empty() {
        return Err(QrError::EmptyCertificate);
    }
    if certificate.len() > MAX_CERTIFICATE_BYTES {
        return Err(QrError::CertificateTooLarge {
            size: certificate.len(),
            max: MAX_CERTIFICATE_BYTES,
        });
    }

    // The time is set explicitly: with the zip crate's `time` feature, which
    // another crate in the build could enable, the default would be "now".
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(DateTime::DEFAULT)
        .large_file(false);

    // A seekable writer lets the zip crate patch the sizes and CRC-32 into the
    // local header instead of writing a data descriptor after the data.
    let buffer = Cursor::new(Vec::with_capacity(certificate.len() / 2 + 256));
    let mut writer = ZipWriter::new(buffer);
    writer
        .start_file(CERTIFICATE_ENTRY_NAME, options)
        .map_err(QrError::ZipWrite)?;
    writer
        .write_all(certificate)
        .map_err(|error| QrError::ZipWrite(error.into()))?;
    let buffer = writer.finish().map_err(QrError::ZipWrite)?;
    Ok(buffer.into_inner())
}

/// Zips a certificate and converts the archive to the given payload form.
///
/// The result is exactly the byte sequence that goes into the QR byte-mode
/// segment.
///
/// # Errors
///
/// The errors of [`zip_certificate`].
pub fn encode_payload(certificate: &[u8], form: PayloadForm) -> Result<Vec<u8>, QrError> {
    let zipped = zip_certificate(certificate)?;
    Ok(match form {
        PayloadForm::Raw => zipped,
        PayloadForm::DivocExpanded => expand_bytes(&zipped),
    })
}

/// Encodes each byte as the UTF-8 form of the code point with the same value.
pub fn expand_bytes(bytes: &[u8]) -> Vec<u8> {
    let high_bytes = bytes.iter().filter(|&&byte| byte >= 0x80).count();
    let mut expanded = Vec::with_capacity(bytes.len() + high_bytes);
    for &byte in bytes {
        if byte < 0x80 {
            expanded.push(byte);
        } else {
            // Two-byte UTF-8: 110000xx 10xxxxxx for code points 0x80..=0xFF.
            expanded.push(0xC0 | (byte >> 6));
            expanded.push(0x80 | (byte & 0x3F));
        }
    }
    expanded
}

/// Reverses [`expand_bytes`].
///
/// Returns `None` unless `expanded` is valid UTF-8 whose characters are all
/// at most U+00FF. Overlong encodings (lead bytes 0xC0 and 0xC1) are invalid
/// UTF-8 and so also return `None`.
pub fn unexpand_bytes(expanded: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(expanded.len());
    let mut iter = expanded.iter();
    while let Some(&byte) = iter.next() {
        match byte {
            0x00..=0x7F => bytes.push(byte),
            0xC2 | 0xC3 => {
                let continuation = *iter.next()?;
                if continuation & 0xC0 != 0x80 {
                    return None;
                }
                bytes.push(((byte & 0x03) << 6) | (continuation & 0x3F));
            }
            _ => return None,
        }
    }
    Some(bytes)
}

/// Extracts the certificate from the bytes read out of a QR code.
///
/// Both payload forms are accepted. The bytes are read as the expanded form
/// when they are valid UTF-8 with all characters at most U+00FF and the
/// un-expanded result starts with the zip signature `PK\x03\x04`. Otherwise,
/// or if that archive cannot be read, bytes that themselves start with the
/// signature are read as a raw zip.
///
/// The two forms overlap only where a raw zip happens to be valid expanded
/// UTF-8. A zip without bytes of 0x80 or more is the same in both forms, so
/// the result is the same. In any other raw zip that passes as UTF-8,
/// un-expanding shortens the archive, so its offsets no longer match and
/// reading fails, which is why the raw reading is tried next. If both
/// readings fail, the error of the expanded reading is returned.
///
/// The returned bytes are the exact content of the `certificate.json` entry,
/// checked against its CRC-32. Other entries are ignored.
///
/// # Errors
///
/// [`QrError::NotAZipPayload`] if neither form starts with the zip signature,
/// [`QrError::InvalidZip`] for an unreadable archive,
/// [`QrError::CertificateEntryMissing`] without a `certificate.json` entry,
/// [`QrError::CertificateEntryUnreadable`] on a corrupt entry, and
/// [`QrError::DecodedCertificateTooLarge`] above [`MAX_CERTIFICATE_BYTES`].
pub fn decode_payload(qr_bytes: &[u8]) -> Result<Vec<u8>, QrError> {
    let unexpanded =
        unexpand_bytes(qr_bytes).filter(|bytes| bytes.starts_with(&ZIP_LOCAL_HEADER_SIGNATURE));
    let raw_is_zip = qr_bytes.starts_with(&ZIP_LOCAL_HEADER_SIGNATURE);

    match unexpanded {
        Some(zipped) => match read_certificate_entry(&zipped) {
            Ok(certificate) => Ok(certificate),
            // Equal lengths mean no byte was expanded, so the raw reading
            // would read the very same archive again.
            Err(error) if !raw_is_zip || zipped.len() == qr_bytes.len() => Err(error),
            Err(error) => read_certificate_entry(qr_bytes).map_err(|_| error),
        },
        None if raw_is_zip => read_certificate_entry(qr_bytes),
        None => Err(QrError::NotAZipPayload),
    }
}

/// Reads the `certificate.json` entry of a zip archive.
fn read_certificate_entry(zipped: &[u8]) -> Result<Vec<u8>, QrError> {
    let mut archive = ZipArchive::new(Cursor::new(zipped)).map_err(QrError::InvalidZip)?;
    let entry = match archive.by_name(CERTIFICATE_ENTRY_NAME) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(QrError::CertificateEntryMissing);
        }
        Err(error) => return Err(QrError::InvalidZip(error)),
    };

    let declared = entry.size();
    let too_large = |declared: u64| QrError::DecodedCertificateTooLarge {
        declared,
        max: MAX_CERTIFICATE_BYTES,
    };
    let max = u64::try_from(MAX_CERTIFICATE_BYTES).unwrap_or(u64::MAX);
    if declared > max {
        return Err(too_large(declared));
    }

    // The declared size is only a claim, so the read is capped as well: one
    // byte over the limit proves the entry is too large.
    let capacity = usize::try_from(declared).unwrap_or(MAX_CERTIFICATE_BYTES);
    let mut certificate = Vec::with_capacity(capacity);
    entry
        .take(max + 1)
        .read_to_end(&mut certificate)
        .map_err(QrError::CertificateEntryUnreadable)?;
    if certificate.len() > MAX_CERTIFICATE_BYTES {
        return Err(too_large(certificate.len() as u64));
    }
    Ok(certificate)
}
