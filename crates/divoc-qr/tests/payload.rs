//! Zip layout, payload expansion and payload decoding, without QR decoding.

// Helper functions outside #[test] are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Cursor, Write};

use divoc_qr::{
    MAX_CERTIFICATE_BYTES, PayloadForm, QrError, decode_payload, encode_payload, expand_bytes,
    unexpand_bytes, zip_certificate,
};

/// Reads a little-endian u16 at `offset`.
fn le16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([bytes[offset], bytes[offset + 1]])
}

/// Reads a little-endian u32 at `offset`.
fn le32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

/// Bitwise CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zip uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32_check_value() {
    // The standard check value of CRC-32 for the ASCII digits 1 to 9.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn zip_is_deterministic() {
    let certificate = common::certificate_2kb();
    let first = zip_certificate(&certificate).unwrap();
    let second = zip_certificate(&certificate).unwrap();
    assert_eq!(first, second);
}

#[test]
fn zip_local_header_layout() {
    let certificate = common::certificate_2kb();
    let zipped = zip_certificate(&certificate).unwrap();

    assert_eq!(&zipped[0..4], b"PK\x03\x04");
    assert_eq!(
        le16(&zipped, 4),
        20,
        "version needed to extract: 2.0 (DEFLATE)"
    );
    assert_eq!(le16(&zipped, 6), 0, "general-purpose flags");
    assert_eq!(le16(&zipped, 6) & 0x0008, 0, "data descriptor flag (bit 3)");
    assert_eq!(le16(&zipped, 8), 8, "compression method DEFLATE");
    assert_eq!(le16(&zipped, 10), 0, "DOS time 00:00:00");
    assert_eq!(le16(&zipped, 12), 0x0021, "DOS date 1980-01-01");
    assert_eq!(le32(&zipped, 14), crc32(&certificate));
    assert_eq!(le32(&zipped, 22), 1971, "uncompressed size");
    assert_eq!(le16(&zipped, 26), 16, "file name length");
    assert_eq!(le16(&zipped, 28), 0, "extra field length");
    assert_eq!(&zipped[30..46], b"certificate.json");

    // The central directory starts right after the compressed data, so no
    // data descriptor sits between them.
    let compressed_size = le32(&zipped, 18) as usize;
    let central = 46 + compressed_size;
    assert_eq!(&zipped[central..central + 4], b"PK\x01\x02");
    assert_eq!(le16(&zipped, central + 8), 0, "central flags");
    assert_eq!(le16(&zipped, central + 10), 8, "central method");
    assert_eq!(le32(&zipped, central + 16), crc32(&certificate));
    assert_eq!(le32(&zipped, central + 20) as usize, compressed_size);
    assert_eq!(le32(&zipped, central + 24), 1971);
    assert_eq!(le16(&zipped, central + 28), 16, "central name length");
    assert_eq!(le16(&zipped, central + 30), 0, "central extra length");
    assert_eq!(le16(&zipped, central + 32), 0, "entry comment length");
    assert_eq!(le32(&zipped, central + 42), 0, "local header offset");
    assert_eq!(&zipped[central + 46..central + 62], b"certificate.json");

    // The end-of-central-directory record closes the file, without comment.
    let end = central + 62;
    assert_eq!(zipped.len(), end + 22);
    assert_eq!(&zipped[end..end + 4], b"PK\x05\x06");
    assert_eq!(le16(&zipped, end + 8), 1, "entries on this disk");
    assert_eq!(le16(&zipped, end + 10), 1, "entries in total");
    assert_eq!(le32(&zipped, end + 12), 62, "central directory size");
    assert_eq!(le32(&zipped, end + 16) as usize, central);
    assert_eq!(le16(&zipped, end + 20), 0, "archive comment length");
}

#[test]
fn zip_small_certificate_golden_bytes() {
    // Pins the exact archive, so a change in the zip writer or in zlib-rs
    // that would change every QR code fails here.
    let zipped = zip_certificate(br#"{"a":1}"#).unwrap();
    let expected: &[u8] = &[
        0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0xAF,
        0xAC, 0x1B, 0x56, 0x09, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
        0x63, 0x65, 0x72, 0x74, 0x69, 0x66, 0x69, 0x63, 0x61, 0x74, 0x65, 0x2E, 0x6A, 0x73, 0x6F,
        0x6E, 0xAB, 0x56, 0x4A, 0x54, 0xB2, 0x32, 0xAC, 0x05, 0x00, 0x50, 0x4B, 0x01, 0x02, 0x14,
        0x03, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0xAF, 0xAC, 0x1B, 0x56,
        0x09, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xA4, 0x81, 0x00, 0x00, 0x00, 0x00, 0x63, 0x65, 0x72, 0x74,
        0x69, 0x66, 0x69, 0x63, 0x61, 0x74, 0x65, 0x2E, 0x6A, 0x73, 0x6F, 0x6E, 0x50, 0x4B, 0x05,
        0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x3E, 0x00, 0x00, 0x00, 0x37, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(zipped, expected);
}

/// Zips `certificate` with the `zip` crate's writer and the options that
/// [`zip_certificate`] documents, for comparison.
fn zip_crate_archive(certificate: &[u8]) -> Vec<u8> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::DEFAULT)
        .large_file(false);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("certificate.json", options).unwrap();
    writer.write_all(certificate).unwrap();
    writer.finish().unwrap().into_inner()
}

#[test]
fn zip_matches_zip_crate_writer() {
    // Bytes that DEFLATE cannot shrink, from a fixed linear congruential sequence.
    let mut state = 12_345_u32;
    let noise: Vec<u8> = (0..70_000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            state.to_be_bytes()[1]
        })
        .collect();
    // Longer than the 32 KiB window, in several DEFLATE blocks.
    let repeated = common::certificate_2kb().repeat(600);
    let cases: [(&str, Vec<u8>); 5] = [
        ("2 KB certificate", common::certificate_2kb()),
        ("one byte", b"x".to_vec()),
        ("incompressible", noise),
        ("1.2 MB of repeats", repeated),
        ("2 KB certificate again", common::certificate_2kb()),
    ];
    for (case, certificate) in cases {
        assert_eq!(
            zip_certificate(&certificate).unwrap(),
            zip_crate_archive(&certificate),
            "{case}"
        );
    }
}

#[test]
fn zip_content_round_trips_through_zip_reader() {
    let certificate = common::certificate_2kb();
    let zipped = zip_certificate(&certificate).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(&zipped)).unwrap();
    assert_eq!(archive.len(), 1);
    let mut entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "certificate.json");
    assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
    let mut content = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
    assert_eq!(content, certificate);
}

#[test]
fn zip_rejects_empty_certificate() {
    let error = zip_certificate(b"").unwrap_err();
    assert!(matches!(error, QrError::EmptyCertificate), "{error:?}");
}

#[test]
fn zip_rejects_oversized_certificate() {
    let certificate = vec![b' '; MAX_CERTIFICATE_BYTES + 1];
    let error = zip_certificate(&certificate).unwrap_err();
    assert!(
        matches!(
            error,
            QrError::CertificateTooLarge {
                size: 4_194_305,
                max: 4_194_304
            }
        ),
        "{error:?}"
    );
}

#[test]
fn expand_maps_each_byte_range() {
    assert_eq!(expand_bytes(&[0x00, 0x41, 0x7F]), [0x00, 0x41, 0x7F]);
    assert_eq!(expand_bytes(&[0x80]), [0xC2, 0x80]);
    assert_eq!(expand_bytes(&[0xBF]), [0xC2, 0xBF]);
    assert_eq!(expand_bytes(&[0xC0]), [0xC3, 0x80]);
    assert_eq!(expand_bytes(&[0xFF]), [0xC3, 0xBF]);
    assert_eq!(expand_bytes(b"PK\x03\x04\xE9"), b"PK\x03\x04\xC3\xA9");
}

#[test]
fn expand_matches_utf8_of_latin1_chars() {
    let all_bytes: Vec<u8> = (0..=255).collect();
    let as_string: String = all_bytes.iter().map(|&byte| char::from(byte)).collect();
    let expanded = expand_bytes(&all_bytes);
    assert_eq!(expanded, as_string.as_bytes());
    assert_eq!(expanded.len(), 384);
    assert_eq!(unexpand_bytes(&expanded), Some(all_bytes));
}

#[test]
fn unexpand_rejects_non_latin1_utf8() {
    assert_eq!(unexpand_bytes(b"abc"), Some(b"abc".to_vec()));
    assert_eq!(unexpand_bytes(&[0xC2]), None, "truncated sequence");
    assert_eq!(unexpand_bytes(&[0xC2, 0x41]), None, "missing continuation");
    assert_eq!(unexpand_bytes(&[0xC1, 0xBF]), None, "overlong form");
    assert_eq!(unexpand_bytes(&[0xC4, 0x80]), None, "U+0100");
    assert_eq!(unexpand_bytes(&[0xE2, 0x82, 0xAC]), None, "euro sign");
    assert_eq!(unexpand_bytes(&[0x80]), None, "lone continuation");
}

#[test]
fn encode_payload_lengths_for_fixture() {
    let certificate = common::certificate_2kb();
    let raw = encode_payload(&certificate, PayloadForm::Raw).unwrap();
    let expanded = encode_payload(&certificate, PayloadForm::DivocExpanded).unwrap();
    assert_eq!(raw, zip_certificate(&certificate).unwrap());
    assert_eq!(raw.len(), 1221);
    assert_eq!(expanded.len(), 1803);
    assert_eq!(expanded, expand_bytes(&raw));
}

#[test]
fn decode_accepts_both_forms() {
    let certificate = common::certificate_2kb();
    for form in [PayloadForm::DivocExpanded, PayloadForm::Raw] {
        let payload = encode_payload(&certificate, form).unwrap();
        assert_eq!(decode_payload(&payload).unwrap(), certificate, "{form:?}");
    }
}

#[test]
fn decode_rejects_garbage() {
    for garbage in [&b""[..], b"hello", b"PK", b"\xFF\xFE\x00", b"PK\x05\x06"] {
        let error = decode_payload(garbage).unwrap_err();
        assert!(
            matches!(error, QrError::NotAZipPayload),
            "{garbage:?}: {error:?}"
        );
    }
}

#[test]
fn decode_garbage_message() {
    let error = decode_payload(b"hello").unwrap_err();
    assert_eq!(
        error.to_string(),
        "QR payload is not a DIVOC certificate zip: it starts neither with the zip signature 50 4B 03 04 nor decodes as UTF-8 expanded bytes that do"
    );
}

#[test]
fn decode_rejects_truncated_zip() {
    let certificate = common::certificate_2kb();
    let zipped = zip_certificate(&certificate).unwrap();
    let error = decode_payload(&zipped[..zipped.len() - 30]).unwrap_err();
    assert!(matches!(error, QrError::InvalidZip(_)), "{error:?}");

    let error = decode_payload(b"PK\x03\x04 not a zip at all").unwrap_err();
    assert!(matches!(error, QrError::InvalidZip(_)), "{error:?}");
}

#[test]
fn decode_rejects_missing_entry() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .start_file("other.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(b"{}").unwrap();
    let zipped = writer.finish().unwrap().into_inner();

    for payload in [expand_bytes(&zipped), zipped] {
        let error = decode_payload(&payload).unwrap_err();
        assert!(
            matches!(error, QrError::CertificateEntryMissing),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "QR payload zip has no entry named certificate.json"
        );
    }
}

#[test]
fn decode_rejects_crc_mismatch() {
    let certificate = common::certificate_2kb();
    let mut zipped = zip_certificate(&certificate).unwrap();
    // Change the CRC-32 in the local header and the central directory alike,
    // so the archive structure stays valid and only the content check fails.
    let central = 46 + le32(&zipped, 18) as usize;
    zipped[14] ^= 0x01;
    zipped[central + 16] ^= 0x01;

    let error = decode_payload(&zipped).unwrap_err();
    assert!(
        matches!(error, QrError::CertificateEntryUnreadable(_)),
        "{error:?}"
    );
}

/// Builds a zip with one STORED entry by hand, with all fields that the zip
/// crate would set to high bytes (such as Unix permissions) left at zero.
fn stored_zip(name: &[u8], content: &[u8]) -> Vec<u8> {
    let crc = crc32(content);
    let size = u32::try_from(content.len()).unwrap();
    let name_len = u16::try_from(name.len()).unwrap();

    let mut zip = Vec::new();
    zip.extend_from_slice(b"PK\x03\x04");
    zip.extend_from_slice(&10_u16.to_le_bytes()); // version needed: 1.0
    zip.extend_from_slice(&0_u16.to_le_bytes()); // flags
    zip.extend_from_slice(&0_u16.to_le_bytes()); // method: STORED
    zip.extend_from_slice(&0_u16.to_le_bytes()); // time
    zip.extend_from_slice(&0x0021_u16.to_le_bytes()); // date 1980-01-01
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&0_u16.to_le_bytes()); // extra length
    zip.extend_from_slice(name);
    zip.extend_from_slice(content);

    let central = u32::try_from(zip.len()).unwrap();
    zip.extend_from_slice(b"PK\x01\x02");
    zip.extend_from_slice(&10_u16.to_le_bytes()); // version made by
    zip.extend_from_slice(&10_u16.to_le_bytes()); // version needed
    zip.extend_from_slice(&0_u16.to_le_bytes()); // flags
    zip.extend_from_slice(&0_u16.to_le_bytes()); // method
    zip.extend_from_slice(&0_u16.to_le_bytes()); // time
    zip.extend_from_slice(&0x0021_u16.to_le_bytes()); // date
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
    zip.extend_from_slice(&0_u32.to_le_bytes()); // local header offset
    zip.extend_from_slice(name);
    let central_size = u32::try_from(zip.len()).unwrap() - central;

    zip.extend_from_slice(b"PK\x05\x06");
    zip.extend_from_slice(&[0; 4]); // disk numbers
    zip.extend_from_slice(&1_u16.to_le_bytes());
    zip.extend_from_slice(&1_u16.to_le_bytes());
    zip.extend_from_slice(&central_size.to_le_bytes());
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&0_u16.to_le_bytes()); // comment length
    zip
}

#[test]
fn decode_ascii_only_raw_zip() {
    // A raw zip without bytes of 0x80 or more reads the same in both forms.
    let zipped = (0..1000)
        .map(|counter| {
            stored_zip(
                b"certificate.json",
                format!(r#"{{"n":{counter}}}"#).as_bytes(),
            )
        })
        .find(|zipped| zipped.iter().all(|&byte| byte < 0x80))
        .expect("an ASCII-only zip among 1000 candidates");
    assert_eq!(expand_bytes(&zipped), zipped);

    let certificate = decode_payload(&zipped).unwrap();
    assert!(certificate.starts_with(br#"{"n":"#));
    assert_eq!(certificate.len(), zipped.len() - 30 - 16 - 46 - 16 - 22);
}

#[test]
fn decode_raw_zip_that_is_valid_expanded_utf8() {
    // A STORED certificate containing "©" (UTF-8 C2 A9) whose CRC-32 bytes
    // are all below 0x80: the whole raw zip is then valid UTF-8 with only
    // characters up to U+00FF. Un-expanding it drops the C2 byte, so that
    // reading fails and the raw reading must take over.
    let zipped = (0..1000)
        .map(|counter| {
            let content = format!(r#"{{"issuer":"© Example {counter}"}}"#);
            stored_zip(b"certificate.json", content.as_bytes())
        })
        .find(|zipped| unexpand_bytes(zipped).is_some())
        .expect("a UTF-8 compatible zip among 1000 candidates");
    let unexpanded = unexpand_bytes(&zipped).unwrap();
    assert_eq!(unexpanded.len(), zipped.len() - 1);
    assert!(unexpanded.starts_with(b"PK\x03\x04"));

    let certificate = decode_payload(&zipped).unwrap();
    let text = String::from_utf8(certificate).unwrap();
    assert!(text.starts_with(r#"{"issuer":"© Example "#), "{text}");
    assert!(text.ends_with(r#""}"#), "{text}");
}

#[test]
fn decode_rejects_oversized_entry() {
    // A DEFLATE-compressed run of spaces one byte over the limit.
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("certificate.json", options).unwrap();
    writer
        .write_all(&vec![b' '; MAX_CERTIFICATE_BYTES + 1])
        .unwrap();
    let zipped = writer.finish().unwrap().into_inner();

    let error = decode_payload(&zipped).unwrap_err();
    assert!(
        matches!(
            error,
            QrError::DecodedCertificateTooLarge {
                declared: 4_194_305,
                max: 4_194_304
            }
        ),
        "{error:?}"
    );
}
