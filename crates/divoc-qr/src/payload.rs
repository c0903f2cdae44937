//! The bytes inside the QR symbol: a one-entry zip archive, optionally expanded to UTF-8.

use std::cell::RefCell;
use std::io::{Cursor, Read};

use zip::ZipArchive;

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
const DEFLATE_LEVEL: i32 = 9;

/// DEFLATE window of the zip entry, as a power of two: 32 KiB, the largest.
const DEFLATE_WINDOW_BITS: u8 = 15;

/// "Version needed to extract" of the entry: 2.0, the first with DEFLATE.
const ZIP_VERSION_NEEDED: u16 = 20;

/// "Version made by": Unix (3) in the high byte, format version 2.0 in the low one.
const ZIP_VERSION_MADE_BY: u16 = 0x0314;

/// Compression method 8: DEFLATE.
const ZIP_METHOD_DEFLATE: u16 = 8;

/// MS-DOS date of 1980-01-01, the earliest a zip entry can carry: day 1 in
/// bits 0 to 4, month 1 in bits 5 to 8, and 0 years after 1980 above them.
const ZIP_DOS_DATE_1980_01_01: u16 = (1 << 5) | 1;

/// External attributes of the entry: a regular file with mode 0644, in the
/// high 16 bits as Unix zip tools write it.
const ZIP_EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// Signature of a central directory file header.
const ZIP_CENTRAL_HEADER_SIGNATURE: [u8; 4] = *b"PK\x01\x02";

/// Signature of the end of central directory record.
const ZIP_END_SIGNATURE: [u8; 4] = *b"PK\x05\x06";

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
/// always gives the same bytes. These are the bytes that the `zip` crate
/// writes with these options, which a test checks.
///
/// NOTE: the DEFLATE stream comes from zlib-rs. Another DEFLATE encoder or
/// version may pick other matches, so the bytes are stable only while the
/// dependency versions are.
///
/// # Errors
///
/// [`QrError::EmptyCertificate`] for an empty input,
/// [`QrError::CertificateTooLarge`] above [`MAX_CERTIFICATE_BYTES`], and
/// [`QrError::ZipWrite`] if the compression fails.
///
/// # Example
///
/// ```
/// use divoc_qr::{ZIP_LOCAL_HEADER_SIGNATURE, decode_payload, zip_certificate};
///
/// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
/// let zipped = zip_certificate(certificate)?;
/// assert!(zipped.starts_with(&ZIP_LOCAL_HEADER_SIGNATURE));
/// assert_eq!(zip_certificate(certificate)?, zipped);
/// assert_eq!(decode_payload(&zipped)?, certificate);
/// # Ok::<(), divoc_qr::QrError>(())
/// ```
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

    let compressed = deflate(certificate)?;
    let crc = zlib_rs::crc32::crc32(0, certificate);
    // The input is at most MAX_CERTIFICATE_BYTES, so both sizes fit in 32
    // bits. The checked conversion only rules out a silent truncation.
    let compressed_size = zip_u32(compressed.len())?;
    let size = zip_u32(certificate.len())?;
    let name = CERTIFICATE_ENTRY_NAME.as_bytes();
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);

    let mut zip = Vec::with_capacity(compressed.len() + 2 * name.len() + 100);
    zip.extend_from_slice(&ZIP_LOCAL_HEADER_SIGNATURE);
    put_u16(&mut zip, ZIP_VERSION_NEEDED);
    put_entry_fields(&mut zip, crc, compressed_size, size, name_len);
    put_u16(&mut zip, 0); // extra field length
    zip.extend_from_slice(name);
    zip.extend_from_slice(&compressed);

    let central_offset = zip_u32(zip.len())?;
    zip.extend_from_slice(&ZIP_CENTRAL_HEADER_SIGNATURE);
    put_u16(&mut zip, ZIP_VERSION_MADE_BY);
    put_u16(&mut zip, ZIP_VERSION_NEEDED);
    put_entry_fields(&mut zip, crc, compressed_size, size, name_len);
    put_u16(&mut zip, 0); // extra field length
    put_u16(&mut zip, 0); // comment length
    put_u16(&mut zip, 0); // disk number
    put_u16(&mut zip, 0); // internal attributes
    put_u32(&mut zip, ZIP_EXTERNAL_ATTRIBUTES);
    put_u32(&mut zip, 0); // offset of the local header
    zip.extend_from_slice(name);
    let central_size = zip_u32(zip.len())?.saturating_sub(central_offset);

    zip.extend_from_slice(&ZIP_END_SIGNATURE);
    put_u16(&mut zip, 0); // this disk
    put_u16(&mut zip, 0); // disk of the central directory
    put_u16(&mut zip, 1); // entries on this disk
    put_u16(&mut zip, 1); // entries in all
    put_u32(&mut zip, central_size);
    put_u32(&mut zip, central_offset);
    put_u16(&mut zip, 0); // comment length
    Ok(zip)
}

/// Appends the fields that the local and the central header share, from
/// "general purpose flags" to "file name length".
fn put_entry_fields(zip: &mut Vec<u8>, crc: u32, compressed_size: u32, size: u32, name_len: u16) {
    put_u16(zip, 0); // flags: no data descriptor, no encryption, ASCII name
    put_u16(zip, ZIP_METHOD_DEFLATE);
    put_u16(zip, 0); // time 00:00:00
    put_u16(zip, ZIP_DOS_DATE_1980_01_01);
    put_u32(zip, crc);
    put_u32(zip, compressed_size);
    put_u32(zip, size);
    put_u16(zip, name_len);
}

fn put_u16(zip: &mut Vec<u8>, value: u16) {
    zip.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(zip: &mut Vec<u8>, value: u32) {
    zip.extend_from_slice(&value.to_le_bytes());
}

/// Converts a size or offset to the 32 bits of a zip field.
fn zip_u32(value: usize) -> Result<u32, QrError> {
    u32::try_from(value)
        .map_err(|_| zip_write_error(format!("{value} bytes do not fit in a 32-bit zip field")))
}

fn zip_write_error(message: String) -> QrError {
    QrError::ZipWrite(zip::result::ZipError::Io(std::io::Error::other(message)))
}

thread_local! {
    /// One DEFLATE compressor per thread, reset between certificates, because
    /// a new one allocates and clears its window and hash tables (roughly
    /// 300 KB, an estimate). Reusing it cut zipping the 2 KB test certificate
    /// from 32 to 24 µs.
    static DEFLATE: RefCell<zlib_rs::Deflate> = RefCell::new(new_deflate());
}

fn new_deflate() -> zlib_rs::Deflate {
    zlib_rs::Deflate::new(DEFLATE_LEVEL, false, DEFLATE_WINDOW_BITS)
}

/// Compresses `data` into a raw DEFLATE stream, without zlib header.
fn deflate(data: &[u8]) -> Result<Vec<u8>, QrError> {
    DEFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut deflate) => deflate_with(&mut deflate, data),
        // Not reached: nothing zips while a certificate is being zipped.
        Err(_) => deflate_with(&mut new_deflate(), data),
    })
}

fn deflate_with(deflate: &mut zlib_rs::Deflate, data: &[u8]) -> Result<Vec<u8>, QrError> {
    deflate.reset();
    // The bound holds for any input, so one call writes the whole stream.
    let mut output = vec![0; zlib_rs::compress_bound(data.len())];
    let status = deflate
        .compress(data, &mut output, zlib_rs::DeflateFlush::Finish)
        .map_err(|error| zip_write_error(format!("DEFLATE failed: {}", error.as_str())))?;
    if status != zlib_rs::Status::StreamEnd {
        return Err(zip_write_error(
            "DEFLATE failed: the output bound was too small".to_owned(),
        ));
    }
    let written = usize::try_from(deflate.total_out()).unwrap_or(usize::MAX);
    output.truncate(written);
    Ok(output)
}

/// Zips a certificate and converts the archive to the given payload form.
///
/// The result is exactly the byte sequence that goes into the QR byte-mode
/// segment.
///
/// # Errors
///
/// The errors of [`zip_certificate`].
///
/// # Example
///
/// ```
/// use divoc_qr::{
///     PayloadForm, ZIP_LOCAL_HEADER_SIGNATURE, encode_payload, expand_bytes, zip_certificate,
/// };
///
/// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
/// let raw = encode_payload(certificate, PayloadForm::Raw)?;
/// assert_eq!(raw, zip_certificate(certificate)?);
/// assert!(raw.starts_with(&ZIP_LOCAL_HEADER_SIGNATURE));
///
/// let expanded = encode_payload(certificate, PayloadForm::DivocExpanded)?;
/// assert_eq!(expanded, expand_bytes(&raw));
/// # Ok::<(), divoc_qr::QrError>(())
/// ```
pub fn encode_payload(certificate: &[u8], form: PayloadForm) -> Result<Vec<u8>, QrError> {
    let zipped = zip_certificate(certificate)?;
    Ok(match form {
        PayloadForm::Raw => zipped,
        PayloadForm::DivocExpanded => expand_bytes(&zipped),
    })
}

/// Encodes each byte as the UTF-8 form of the code point with the same value.
///
/// # Example
///
/// ```
/// use divoc_qr::{expand_bytes, unexpand_bytes};
///
/// let zip_start = [0x50, 0x4B, 0x03, 0x04, 0xE9];
/// assert_eq!(expand_bytes(&zip_start), [0x50, 0x4B, 0x03, 0x04, 0xC3, 0xA9]);
/// assert_eq!(unexpand_bytes(&expand_bytes(&zip_start)), Some(zip_start.to_vec()));
/// // U+0100 is two bytes of UTF-8 but above U+00FF, so no zip byte gives it.
/// assert_eq!(unexpand_bytes("\u{100}".as_bytes()), None);
/// ```
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
///
/// # Example
///
/// ```
/// use divoc_qr::unexpand_bytes;
///
/// assert_eq!(unexpand_bytes(&[0x50, 0x4B, 0xC3, 0xA9]), Some(vec![0x50, 0x4B, 0xE9]));
/// // An overlong encoding of 0x69.
/// assert_eq!(unexpand_bytes(&[0xC1, 0xA9]), None);
/// // A lead byte without its continuation byte.
/// assert_eq!(unexpand_bytes(&[0x50, 0xC3]), None);
/// ```
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
///
/// # Example
///
/// ```
/// use divoc_qr::{PayloadForm, QrError, decode_payload, encode_payload};
///
/// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
/// for form in [PayloadForm::DivocExpanded, PayloadForm::Raw] {
///     let scanned = encode_payload(certificate, form)?;
///     assert_eq!(decode_payload(&scanned)?, certificate);
/// }
/// assert!(matches!(decode_payload(b"HC1:6BF"), Err(QrError::NotAZipPayload)));
/// # Ok::<(), QrError>(())
/// ```
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
