//! Symbol parameters, error correction fallback and renderings, checked
//! without a QR decoder.

// Helper functions outside #[test] are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use divoc_qr::{
    CertificateQr, ErrorCorrection, MAX_PIXELS_PER_MODULE, MaskSelection, PayloadForm,
    QUIET_ZONE_MODULES, QrError, QrOptions,
};

fn raw_options(min_error_correction: ErrorCorrection) -> QrOptions {
    QrOptions {
        form: PayloadForm::Raw,
        min_error_correction,
        ..QrOptions::default()
    }
}

#[test]
fn default_options() {
    let options = QrOptions::default();
    assert_eq!(options.form, PayloadForm::DivocExpanded);
    assert_eq!(options.min_error_correction, ErrorCorrection::Medium);
    assert!(options.boost_error_correction);
    assert_eq!(options.mask, MaskSelection::Fixed(2));
    assert_eq!(QUIET_ZONE_MODULES, 4);
}

#[test]
fn fixture_symbol_parameters() {
    let certificate = common::certificate_2kb();

    let expanded = CertificateQr::new(&certificate, &QrOptions::default()).unwrap();
    assert_eq!(expanded.version(), 35);
    assert_eq!(expanded.size(), 157);
    assert_eq!(expanded.size_with_quiet_zone(), 165);
    assert_eq!(expanded.error_correction(), ErrorCorrection::Medium);
    assert_eq!(expanded.mask(), 2);
    assert_eq!(expanded.payload_len(), 1803);
    assert_eq!(expanded.payload_form(), PayloadForm::DivocExpanded);

    let raw = CertificateQr::new(&certificate, &raw_options(ErrorCorrection::Medium)).unwrap();
    assert_eq!(raw.version(), 29);
    assert_eq!(raw.size(), 133);
    assert_eq!(raw.error_correction(), ErrorCorrection::Medium);
    assert_eq!(raw.payload_len(), 1221);
}

#[test]
fn same_certificate_same_symbol() {
    let certificate = common::certificate_2kb();
    let first = CertificateQr::new(&certificate, &QrOptions::default()).unwrap();
    let second = CertificateQr::new(&certificate, &QrOptions::default()).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.to_png(2).unwrap(), second.to_png(2).unwrap());
}

#[test]
fn fixed_masks_are_used() {
    let certificate = common::certificate_2kb();
    for mask in 0..=7 {
        let options = QrOptions {
            mask: MaskSelection::Fixed(mask),
            ..QrOptions::default()
        };
        let qr = CertificateQr::new(&certificate, &options).unwrap();
        assert_eq!(qr.mask(), mask);
        assert_eq!(qr.version(), 35);
    }
}

#[test]
fn automatic_mask_for_fixture() {
    let options = QrOptions {
        mask: MaskSelection::Automatic,
        ..QrOptions::default()
    };
    let qr = CertificateQr::new(&common::certificate_2kb(), &options).unwrap();
    assert_eq!(qr.mask(), 0);
    assert_eq!(qr.version(), 35);
}

#[test]
fn invalid_mask_rejected() {
    let options = QrOptions {
        mask: MaskSelection::Fixed(8),
        ..QrOptions::default()
    };
    let error = CertificateQr::new(b"{}", &options).unwrap_err();
    assert!(matches!(error, QrError::InvalidMask(8)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "invalid QR mask 8: expected a mask number from 0 to 7"
    );

    let error = CertificateQr::from_payload(b"PK", &options).unwrap_err();
    assert!(matches!(error, QrError::InvalidMask(8)), "{error:?}");
}

#[test]
fn version_40_capacity_per_level() {
    for (level, capacity) in [
        (ErrorCorrection::Low, 2953),
        (ErrorCorrection::Medium, 2331),
        (ErrorCorrection::Quartile, 1663),
        (ErrorCorrection::High, 1273),
    ] {
        assert_eq!(level.max_payload_bytes(), capacity, "{level:?}");

        let options = QrOptions {
            boost_error_correction: false,
            ..raw_options(level)
        };
        let fits = CertificateQr::from_payload(&vec![0x5A; capacity], &options).unwrap();
        assert_eq!(fits.version(), 40, "{level:?}");
        assert_eq!(fits.error_correction(), level);
    }
}

#[test]
fn one_byte_over_capacity_uses_lower_level() {
    // The lower level fits the payload in a smaller version than 40.
    for (level, capacity, lower, version) in [
        (ErrorCorrection::Medium, 2331, ErrorCorrection::Low, 36),
        (ErrorCorrection::Quartile, 1663, ErrorCorrection::Medium, 34),
        (ErrorCorrection::High, 1273, ErrorCorrection::Quartile, 35),
    ] {
        let options = QrOptions {
            boost_error_correction: false,
            ..raw_options(level)
        };
        let qr = CertificateQr::from_payload(&vec![0x5A; capacity + 1], &options).unwrap();
        assert_eq!(qr.error_correction(), lower, "{level:?}");
        assert_eq!(qr.version(), version, "{level:?}");
    }
}

#[test]
fn medium_overflow_falls_back_to_low() {
    let options = raw_options(ErrorCorrection::Medium);
    let qr = CertificateQr::from_payload(&vec![0xA5; 2400], &options).unwrap();
    assert_eq!(qr.error_correction(), ErrorCorrection::Low);
    assert_eq!(qr.version(), 36);
}

#[test]
fn high_falls_back_one_level_at_a_time() {
    let options = QrOptions {
        boost_error_correction: false,
        ..raw_options(ErrorCorrection::High)
    };
    for (payload_len, level, version) in [
        (1300, ErrorCorrection::Quartile, 36),
        (2000, ErrorCorrection::Medium, 38),
        (2900, ErrorCorrection::Low, 40),
    ] {
        let qr = CertificateQr::from_payload(&vec![1; payload_len], &options).unwrap();
        assert_eq!(qr.error_correction(), level, "{payload_len} bytes");
        assert_eq!(qr.version(), version, "{payload_len} bytes");
    }
}

#[test]
fn payload_too_large_for_any_level() {
    let options = raw_options(ErrorCorrection::Medium);
    let error = CertificateQr::from_payload(&vec![0; 2954], &options).unwrap_err();
    assert!(
        matches!(
            error,
            QrError::PayloadTooLarge {
                payload_bytes: 2954,
                capacity_bytes: 2953,
                form: PayloadForm::Raw,
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "QR payload of 2954 bytes (Raw form) does not fit in a QR code: the capacity is 2953 bytes (version 40, error correction Low); shorten the certificate"
    );
}

/// Builds a JSON certificate whose `jws` value has `chars` pseudo-random
/// base64url characters, which DEFLATE cannot shrink below 6 bits each.
fn incompressible_certificate(chars: usize) -> Vec<u8> {
    const BASE64URL: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut state: u64 = 7;
    let mut certificate = br#"{"proof":{"jws":""#.to_vec();
    for _ in 0..chars {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        certificate.push(BASE64URL[(state >> 58) as usize]);
    }
    certificate.extend_from_slice(br#""}}"#);
    certificate
}

#[test]
fn certificate_fallback_to_low() {
    let certificate = incompressible_certificate(2400);
    let qr = CertificateQr::new(&certificate, &QrOptions::default()).unwrap();
    assert_eq!(qr.payload_len(), 2918);
    assert_eq!(qr.version(), 40);
    assert_eq!(qr.error_correction(), ErrorCorrection::Low);
}

#[test]
fn certificate_too_large_reports_sizes() {
    let certificate = incompressible_certificate(4000);
    let error = CertificateQr::new(&certificate, &QrOptions::default()).unwrap_err();
    let QrError::PayloadTooLarge {
        payload_bytes,
        capacity_bytes,
        form,
    } = error
    else {
        panic!("expected PayloadTooLarge, got {error:?}");
    };
    assert_eq!(payload_bytes, 4750);
    assert_eq!(capacity_bytes, 2953);
    assert_eq!(form, PayloadForm::DivocExpanded);
}

#[test]
fn boost_raises_level_within_version() {
    // Version 1 stores 14 bytes at M, 11 at Q and 7 at H. Version 2 stores
    // 26 at M and 20 at Q.
    let plain = QrOptions {
        boost_error_correction: false,
        ..raw_options(ErrorCorrection::Medium)
    };
    let boosted = raw_options(ErrorCorrection::Medium);
    for (payload_len, version, level) in [
        (7, 1, ErrorCorrection::High),
        (11, 1, ErrorCorrection::Quartile),
        (14, 1, ErrorCorrection::Medium),
        (20, 2, ErrorCorrection::Quartile),
    ] {
        let payload = vec![b'x'; payload_len];
        let unboosted = CertificateQr::from_payload(&payload, &plain).unwrap();
        assert_eq!(unboosted.error_correction(), ErrorCorrection::Medium);
        assert_eq!(unboosted.version(), version, "{payload_len} bytes");

        let qr = CertificateQr::from_payload(&payload, &boosted).unwrap();
        assert_eq!(qr.error_correction(), level, "{payload_len} bytes");
        assert_eq!(qr.version(), version, "{payload_len} bytes");
    }
}

#[test]
fn is_dark_outside_symbol_is_light() {
    let qr = CertificateQr::new(&common::certificate_2kb(), &QrOptions::default()).unwrap();
    let size = i32::try_from(qr.size()).unwrap();
    // Finder pattern corners are dark.
    assert!(qr.is_dark(0, 0));
    assert!(qr.is_dark(size - 1, 0));
    assert!(qr.is_dark(0, size - 1));
    // Quiet zone and beyond are light.
    for (x, y) in [
        (-1, 0),
        (0, -1),
        (size, 0),
        (0, size),
        (-4, -4),
        (i32::MAX, i32::MIN),
    ] {
        assert!(!qr.is_dark(x, y), "({x}, {y})");
    }
}

/// Width, height, bit depth and color type from the IHDR chunk of a PNG.
fn png_ihdr(png_bytes: &[u8]) -> (u32, u32, u8, u8) {
    assert_eq!(&png_bytes[0..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png_bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(png_bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png_bytes[20..24].try_into().unwrap());
    (width, height, png_bytes[24], png_bytes[25])
}

#[test]
fn png_header_is_1bit_grayscale() {
    let qr = CertificateQr::new(&common::certificate_2kb(), &QrOptions::default()).unwrap();
    assert_eq!(qr.version(), 35);
    for (pixels_per_module, side) in [(1, 165), (2, 330), (4, 660)] {
        let png_bytes = qr.to_png(pixels_per_module).unwrap();
        let (width, height, bit_depth, color_type) = png_ihdr(&png_bytes);
        assert_eq!(width, side);
        assert_eq!(height, side);
        assert_eq!(bit_depth, 1);
        assert_eq!(color_type, 0, "grayscale");
    }
}

#[test]
fn png_pixels_match_modules() {
    let qr = CertificateQr::new(&common::certificate_2kb(), &QrOptions::default()).unwrap();
    let scale = 3;
    let image = common::decode_png_gray(&qr.to_png(scale).unwrap());
    assert_eq!(image.width, 165 * scale);
    let side = image.width as usize;
    for y in 0..side {
        for x in 0..side {
            let module_x = i32::try_from(x / scale as usize).unwrap() - 4;
            let module_y = i32::try_from(y / scale as usize).unwrap() - 4;
            let expected = if qr.is_dark(module_x, module_y) {
                0
            } else {
                255
            };
            assert_eq!(image.pixels[y * side + x], expected, "pixel ({x}, {y})");
        }
    }
}

#[test]
fn png_rejects_invalid_scale() {
    let qr = CertificateQr::new(b"{}", &QrOptions::default()).unwrap();
    for value in [0, MAX_PIXELS_PER_MODULE + 1, u32::MAX] {
        let error = qr.to_png(value).unwrap_err();
        assert!(
            matches!(error, QrError::InvalidPixelsPerModule { value: v, max: 32 } if v == value),
            "{error:?}"
        );
    }
    assert_eq!(
        qr.to_png(0).unwrap_err().to_string(),
        "invalid pixels per module 0: expected 1 to 32"
    );
    let largest = qr.to_png(MAX_PIXELS_PER_MODULE).unwrap();
    let side = (qr.size() + 8) * 32;
    assert_eq!(png_ihdr(&largest).0, side);
}

#[test]
fn luma_matches_modules() {
    let qr = CertificateQr::new(&common::certificate_2kb(), &QrOptions::default()).unwrap();
    let (side, pixels) = qr.to_luma(2);
    assert_eq!(side, 330);
    assert_eq!(pixels.len(), 330 * 330);
    let side = side as usize;
    for y in 0..side {
        for x in 0..side {
            let module_x = i32::try_from(x / 2).unwrap() - 4;
            let module_y = i32::try_from(y / 2).unwrap() - 4;
            let expected = if qr.is_dark(module_x, module_y) {
                0
            } else {
                255
            };
            assert_eq!(pixels[y * side + x], expected, "pixel ({x}, {y})");
        }
    }
}

#[test]
fn luma_clamps_scale() {
    let qr = CertificateQr::new(b"{}", &QrOptions::default()).unwrap();
    let modules = qr.size() + 8;
    let (side, pixels) = qr.to_luma(0);
    assert_eq!(side, modules);
    assert_eq!(pixels.len(), (modules * modules) as usize);
    let (side, _) = qr.to_luma(1000);
    assert_eq!(side, modules * 32);
}

#[test]
fn svg_view_box_and_size() {
    let qr = CertificateQr::new(&common::certificate_2kb(), &QrOptions::default()).unwrap();
    let svg = qr.to_svg(2);
    assert!(
        svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#),
        "{svg}"
    );
    assert!(svg.contains(r#"viewBox="0 0 165 165""#));
    assert!(svg.contains(r#"width="330" height="330""#));
    assert!(svg.contains(r#"shape-rendering="crispEdges""#));
    assert!(svg.contains(r##"<rect width="165" height="165" fill="#fff"/>"##));
    assert_eq!(svg.matches("<path").count(), 1);
    assert!(svg.ends_with("\"/></svg>"));

    let clamped = qr.to_svg(0);
    assert!(clamped.contains(r#"width="165" height="165""#));
}

/// Fills a module matrix (with quiet zone) from the SVG path data, which
/// consists of `M{x} {y}h{len}v1h-{len}z` subpaths.
fn svg_path_modules(svg: &str, side: usize) -> Vec<bool> {
    let start = svg.find(" d=\"").unwrap() + 4;
    let end = start + svg[start..].find('"').unwrap();
    let mut modules = vec![false; side * side];
    for subpath in svg[start..end].split('z').filter(|part| !part.is_empty()) {
        let rest = subpath.strip_prefix('M').unwrap();
        let (x, rest) = rest.split_once(' ').unwrap();
        let (y, rest) = rest.split_once('h').unwrap();
        let (len, rest) = rest.split_once("v1h-").unwrap();
        assert_eq!(len, rest, "run closes with the same length");
        let (x, y, len): (usize, usize, usize) =
            (x.parse().unwrap(), y.parse().unwrap(), len.parse().unwrap());
        for column in x..x + len {
            assert!(
                !modules[y * side + column],
                "module ({column}, {y}) drawn twice"
            );
            modules[y * side + column] = true;
        }
    }
    modules
}

#[test]
fn svg_path_covers_dark_modules() {
    let qr = CertificateQr::new(&common::certificate_2kb(), &QrOptions::default()).unwrap();
    let side = qr.size_with_quiet_zone() as usize;
    let modules = svg_path_modules(&qr.to_svg(2), side);
    for y in 0..side {
        for x in 0..side {
            let module_x = i32::try_from(x).unwrap() - 4;
            let module_y = i32::try_from(y).unwrap() - 4;
            assert_eq!(
                modules[y * side + x],
                qr.is_dark(module_x, module_y),
                "module ({module_x}, {module_y})"
            );
        }
    }
}
