//! Render time of one certificate. Run with `cargo bench -p divoc-pdf`.
//!
//! The QR code is built once outside the measured loop, as the server builds
//! it before rendering. The cases with Devanagari need Debian's
//! `fonts-noto-core`; without it they measure boxes instead of shaped text.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use divoc_model::{Evidence, VaccinationCredential};
use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
use divoc_qr::{CertificateQr, QrOptions};

const CREDENTIAL: &str = include_str!("../tests/data/credential-v2.json");

fn bench_render(criterion: &mut Criterion) {
    let settings = PdfSettings {
        time_zone: "Asia/Kolkata".parse().unwrap(),
        ..PdfSettings::default()
    };
    let renderer = PdfRenderer::new(settings).unwrap();
    let qr = CertificateQr::new(CREDENTIAL.as_bytes(), &QrOptions::default()).unwrap();
    let base = VaccinationCredential::parse("731904562", CREDENTIAL).unwrap();
    let mut first = base.evidence[0].clone();
    first.dose = Some(1);
    first.date = Some("2021-07-02T09:10:00.000Z".to_owned());

    let cases = [
        ("render_latin1", None, "en"),
        (
            "render_latin_extended",
            Some("Łukasz Wróbel-Żądło Nguyễn Thị Ánh"),
            "en",
        ),
        ("render_devanagari", Some("सुरेश कुमार देशपांडे"), "en"),
        // Hindi labels beside English ones, and a Devanagari name.
        ("render_hindi", Some("सुरेश कुमार देशपांडे"), "hi"),
    ];
    for (name, replacement, language) in cases {
        let mut credential = base.clone();
        if let Some(replacement) = replacement {
            credential.credential_subject.name = Some(replacement.to_owned());
        }
        let doses: [&Evidence; 2] = [&credential.evidence[0], &first];
        let input = CertificateInput {
            certificate_id: "731904562",
            credential: &credential,
            doses: &doses,
            qr: &qr,
            updated_at: None,
        };
        let size = renderer.render_in(&input, Some(language)).unwrap().len();
        eprintln!("{name}: {size} bytes");
        criterion.bench_function(name, |bencher| {
            bencher.iter(|| {
                renderer
                    .render_in(black_box(&input), Some(language))
                    .unwrap()
            })
        });
    }
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
