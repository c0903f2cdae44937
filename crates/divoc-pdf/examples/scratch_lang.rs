#![allow(missing_docs, clippy::unwrap_used)]
use divoc_model::{Evidence, VaccinationCredential};
use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
use divoc_qr::{CertificateQr, QrOptions};
const CREDENTIAL: &str = include_str!("../tests/data/credential-v2.json");
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let renderer = PdfRenderer::new(PdfSettings::default()).unwrap();
    let qr = CertificateQr::new(CREDENTIAL.as_bytes(), &QrOptions::default()).unwrap();
    let mut credential = VaccinationCredential::parse("731904562", CREDENTIAL).unwrap();
    credential.credential_subject.name = Some(args[2].clone());
    let doses: Vec<&Evidence> = credential.evidence.iter().collect();
    let input = CertificateInput {
        certificate_id: "731904562",
        credential: &credential,
        doses: &doses,
        qr: &qr,
        updated_at: None,
    };
    let r = renderer
        .render_with_report_in(&input, Some(&args[3]))
        .unwrap();
    eprintln!(
        "uncovered {} size {}",
        r.uncovered_characters,
        r.bytes.len()
    );
    std::fs::write(&args[1], r.bytes).unwrap();
}
