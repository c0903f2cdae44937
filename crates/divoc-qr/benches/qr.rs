//! Benchmarks for building certificate QR codes from the 2 KB test certificate.
//!
//! Run with `cargo bench -p divoc-qr`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use divoc_qr::{CertificateQr, MaskSelection, PayloadForm, QrOptions, zip_certificate};

const CERTIFICATE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/certificate_2kb.json"
);

fn bench_qr(criterion: &mut Criterion) {
    let certificate = match std::fs::read(CERTIFICATE_PATH) {
        Ok(certificate) => certificate,
        Err(error) => {
            eprintln!("cannot read {CERTIFICATE_PATH}: {error}");
            return;
        }
    };
    let default_options = QrOptions::default();
    let automatic_mask = QrOptions {
        mask: MaskSelection::Automatic,
        ..QrOptions::default()
    };
    let raw_form = QrOptions {
        form: PayloadForm::Raw,
        ..QrOptions::default()
    };

    // Every operation is checked once here, so the timed closures below can
    // return their Result without unwrapping it.
    let qr = match CertificateQr::new(&certificate, &default_options) {
        Ok(qr) => qr,
        Err(error) => {
            eprintln!("cannot build the QR code: {error}");
            return;
        }
    };
    if let Err(error) = qr.to_png(2) {
        eprintln!("cannot render the PNG: {error}");
        return;
    }

    criterion.bench_function("zip_certificate", |bencher| {
        bencher.iter(|| zip_certificate(black_box(&certificate)));
    });

    criterion.bench_function("qr_build", |bencher| {
        bencher.iter(|| CertificateQr::new(black_box(&certificate), &default_options));
    });

    criterion.bench_function("qr_build_png_ppm2", |bencher| {
        bencher.iter(|| {
            CertificateQr::new(black_box(&certificate), &default_options).map(|qr| qr.to_png(2))
        });
    });

    criterion.bench_function("qr_build_svg_ppm2", |bencher| {
        bencher.iter(|| {
            CertificateQr::new(black_box(&certificate), &default_options).map(|qr| qr.to_svg(2))
        });
    });

    criterion.bench_function("qr_build_png_raw", |bencher| {
        bencher
            .iter(|| CertificateQr::new(black_box(&certificate), &raw_form).map(|qr| qr.to_png(2)));
    });

    criterion.bench_function("qr_build_automatic_mask", |bencher| {
        bencher.iter(|| CertificateQr::new(black_box(&certificate), &automatic_mask));
    });

    criterion.bench_function("png_only_ppm2", |bencher| {
        bencher.iter(|| black_box(&qr).to_png(2));
    });
    criterion.bench_function("svg_only_ppm2", |bencher| {
        bencher.iter(|| black_box(&qr).to_svg(2));
    });
}

criterion_group!(benches, bench_qr);
criterion_main!(benches);
