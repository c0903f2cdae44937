//! Renders a certificate PDF from a signed credential file.
//!
//! ```text
//! cargo run -p divoc-pdf --example render_certificate -- CREDENTIAL.json OUTPUT.pdf [CERTIFICATE_ID]
//! ```
//!
//! The credential is the JSON text of a record's `certificate` field. The
//! certificate id defaults to `evidence[0].certificateId`. Dates are shown in
//! the zone named by the `DIVOC_TIME_ZONE` environment variable (default UTC).

use std::error::Error;

use divoc_model::{Evidence, VaccinationCredential};
use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
use divoc_qr::{CertificateQr, QrOptions};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(credential_path), Some(output_path)) = (args.next(), args.next()) else {
        return Err("usage: render_certificate CREDENTIAL.json OUTPUT.pdf [CERTIFICATE_ID]".into());
    };
    let text = std::fs::read_to_string(&credential_path)?;
    let credential = VaccinationCredential::parse("(command line)", &text)?;
    let certificate_id = args
        .next()
        .or_else(|| {
            credential
                .evidence()
                .and_then(|evidence| evidence.certificate_id.clone())
        })
        .unwrap_or_default();

    let mut settings = PdfSettings::default();
    if let Ok(zone) = std::env::var("DIVOC_TIME_ZONE") {
        settings.time_zone = zone
            .parse()
            .map_err(|_| format!("unknown time zone {zone:?}"))?;
    }
    let renderer = PdfRenderer::new(settings)?;
    let qr = CertificateQr::new(text.as_bytes(), &QrOptions::default())?;
    let doses: Vec<&Evidence> = credential.evidence().into_iter().collect();
    let input = CertificateInput {
        certificate_id: &certificate_id,
        credential: &credential,
        doses: &doses,
        qr: &qr,
        updated_at: None,
    };
    let rendered = renderer.render_with_report(&input)?;
    std::fs::write(&output_path, &rendered.bytes)?;
    eprintln!(
        "wrote {output_path}: {} bytes, QR version {}, {} characters without a glyph",
        rendered.bytes.len(),
        qr.version(),
        rendered.uncovered_characters
    );
    Ok(())
}
