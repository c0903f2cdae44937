//! Round trips through a real QR decoder: render, scan with rqrr, decode the payload.

// Helper functions outside #[test] are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use divoc_qr::{
    CertificateQr, MaskSelection, PayloadForm, QrOptions, decode_payload, expand_bytes,
    unexpand_bytes,
};

/// `PK\x03\x04` followed by every byte value 0x00 to 0xFF, twice, the second
/// time in reverse order.
fn all_byte_values() -> Vec<u8> {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend(0..=255_u8);
    bytes.extend((0..=255_u8).rev());
    bytes
}

#[test]
fn all_byte_values_round_trip_expanded() {
    let original = all_byte_values();
    let expanded = expand_bytes(&original);
    assert_eq!(expanded.len(), 4 + 384 * 2);

    let qr = CertificateQr::from_payload(&expanded, &QrOptions::default()).unwrap();
    let scan = common::rqrr_scan_png(&qr.to_png(2).unwrap()).unwrap();
    assert_eq!(scan.bytes, expanded);
    assert_eq!(unexpand_bytes(&scan.bytes), Some(original));
}

#[test]
fn all_byte_values_round_trip_raw() {
    let original = all_byte_values();
    let options = QrOptions {
        form: PayloadForm::Raw,
        ..QrOptions::default()
    };
    let qr = CertificateQr::from_payload(&original, &options).unwrap();
    let scan = common::rqrr_scan_png(&qr.to_png(2).unwrap()).unwrap();
    assert_eq!(scan.bytes, original);
}

// NOTE: rqrr 0.11 does not find every symbol at 1 pixel per module. In
// examples/mask_survey.rs it read 140 of 160 expanded-form certificate
// variants at mask 2 and 126 at mask 3. This fixture reads at all three
// scales, and `one_ppm_grid_decodes` checks the 1 ppm pixels without relying
// on rqrr's image detection.
#[test]
fn fixture_round_trip_both_forms_and_scales() {
    let certificate = common::certificate_2kb();
    for form in [PayloadForm::DivocExpanded, PayloadForm::Raw] {
        let options = QrOptions {
            form,
            ..QrOptions::default()
        };
        let qr = CertificateQr::new(&certificate, &options).unwrap();
        for pixels_per_module in [1, 2, 4] {
            let png_bytes = qr.to_png(pixels_per_module).unwrap();
            let scan = common::rqrr_scan_png(&png_bytes)
                .unwrap_or_else(|error| panic!("{form:?} at {pixels_per_module} ppm: {error}"));
            assert_eq!(scan.version, usize::from(qr.version()));
            assert_eq!(scan.mask, u16::from(qr.mask()));
            assert_eq!(
                decode_payload(&scan.bytes).unwrap(),
                certificate,
                "{form:?} at {pixels_per_module} ppm"
            );
        }
    }
}

#[test]
fn fixture_expanded_scan_is_expanded_zip() {
    let certificate = common::certificate_2kb();
    let qr = CertificateQr::new(&certificate, &QrOptions::default()).unwrap();
    let scan = common::rqrr_scan_png(&qr.to_png(2).unwrap()).unwrap();
    let zipped = divoc_qr::zip_certificate(&certificate).unwrap();
    assert_eq!(scan.bytes, expand_bytes(&zipped));
    assert!(std::str::from_utf8(&scan.bytes).is_ok());
}

#[test]
fn every_fixed_mask_decodes() {
    let certificate = common::certificate_2kb();
    for mask in 0..=7 {
        let options = QrOptions {
            mask: MaskSelection::Fixed(mask),
            ..QrOptions::default()
        };
        let qr = CertificateQr::new(&certificate, &options).unwrap();
        let scan = common::rqrr_scan_png(&qr.to_png(2).unwrap())
            .unwrap_or_else(|error| panic!("mask {mask}: {error}"));
        assert_eq!(scan.mask, u16::from(mask));
        assert_eq!(
            decode_payload(&scan.bytes).unwrap(),
            certificate,
            "mask {mask}"
        );
    }
}

#[test]
fn luma_round_trip() {
    let certificate = common::certificate_2kb();
    let qr = CertificateQr::new(&certificate, &QrOptions::default()).unwrap();
    let (side, pixels) = qr.to_luma(2);
    let scan = common::rqrr_scan_gray(side, side, &pixels).unwrap();
    assert_eq!(decode_payload(&scan.bytes).unwrap(), certificate);
}

#[test]
fn one_ppm_grid_decodes() {
    // Reads the module grid straight off the 1 ppm PNG (one pixel per module
    // after the 4-pixel quiet zone) and hands it to rqrr's decoder.
    let certificate = common::certificate_2kb();
    for form in [PayloadForm::DivocExpanded, PayloadForm::Raw] {
        let options = QrOptions {
            form,
            ..QrOptions::default()
        };
        let qr = CertificateQr::new(&certificate, &options).unwrap();
        let image = common::decode_png_gray(&qr.to_png(1).unwrap());
        let size = qr.size() as usize;
        let width = image.width as usize;
        assert_eq!(width, size + 8);

        let grid =
            rqrr::SimpleGrid::from_func(size, |x, y| image.pixels[(y + 4) * width + (x + 4)] == 0);
        let mut bytes = Vec::new();
        let meta = rqrr::Grid::new(grid).decode_to(&mut bytes).unwrap();
        assert_eq!(meta.version.0, usize::from(qr.version()), "{form:?}");
        assert_eq!(decode_payload(&bytes).unwrap(), certificate, "{form:?}");
    }
}
