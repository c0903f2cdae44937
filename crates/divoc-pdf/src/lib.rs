//! One-page A4 PDF vaccination certificates, laid out like DIVOC's default
//! certificate template.
//!
//! The page carries:
//!
//! - a title by dose state, such as "Provisional Certificate for COVID-19
//!   Vaccination" with "(Dose 1 of 2)" under it, "Final …", "Booster Dose …",
//!   or a neutral "Certificate for …" when the dose or total is unknown;
//! - the certificate id, the issuer and the QR code of the signed credential;
//! - a beneficiary table: name, age, gender, masked identity document,
//!   reference id and address;
//! - the vaccination details of the latest dose and a table of the doses received;
//! - a footer.
//!
//! Any value may be missing, and rows without a value are left out. Long
//! values wrap, shrink to 7 points and, past their line limit, end in an
//! ellipsis. If the page still overflows, it is laid out again in a compact
//! form (see [`PdfRenderer::render_with_report`]), so a certificate is one page.
//!
//! # How a page is made
//!
//! [genpdf] 0.2 lays out the page and [lopdf] 0.47 finishes the file. The
//! finishing pass rewrites text to one byte per character (printpdf 0.3
//! writes two, which MuPDF shows letter-spaced), embeds font subsets, puts in
//! the QR image, sets the document information and id, and compresses the
//! streams. Fonts, settings and genpdf's font families are prepared once in
//! [`PdfRenderer::new`], so a render does only the work that depends on the
//! certificate (`benches/pdf.rs` measures it).
//!
//! # Fonts and their limits
//!
//! - **Windows-1252 text** (English, most Western European names) is set in
//!   the built-in Helvetica, measured with the bundled Liberation Sans, which
//!   has the same advance widths. Built-in fonts are not embedded: the viewer
//!   supplies Helvetica or a metric-compatible substitute, so the file is
//!   small but cannot be PDF/A.
//! - **Any other text** (ł, ő, ș, ễ, Greek, Cyrillic) is laid out with the
//!   metrics of Liberation Sans and printed with a subset of Liberation Sans
//!   Regular or Bold embedded in the file. A text block with one such
//!   character is embedded whole, so it keeps one typeface.
//! - **Characters that Liberation Sans lacks** (Devanagari, Tamil, CJK) are
//!   printed as its `.notdef` box. The render does not fail: the count is in
//!   [`RenderedPdf::uncovered_characters`], [`PdfRenderer::render`] logs it as
//!   a warning without the text or the certificate id, and the text layer keeps the characters, so
//!   copying or searching still finds the name.
//! - **No shaping.** Glyphs are placed one per character: scripts that need
//!   shaping (Indic, Arabic) would be wrong even with a font that covers them,
//!   right-to-left text is not reordered, and combining marks get no
//!   positioning. Each embedded line is one run handed to the font code, so a
//!   shaper can take over there later.
//!
//! # QR code
//!
//! The QR code is a 1-bit image with 4 pixels per module and
//! `/Interpolate false`. Its printed width, quiet zone included, is
//! [`PdfSettings::qr_module_mm`] per module (0.43 mm by default, 2.5 pixels
//! at 150 dpi) and at least [`PdfSettings::qr_min_width_mm`] (35 mm).
//!
//! # Determinism
//!
//! The same input and settings give the same bytes: the creation and
//! modification dates come from [`CertificateInput::updated_at`] (1970-01-01
//! when `None`), and the file id is a SHA-256 hash of the content. Dates are
//! never taken from the host's time zone: a vaccination timestamp is shown in
//! [`PdfSettings::time_zone`], and calendar dates (a vaccination date without
//! time, validity dates, dates of birth) are printed as written.
//!
//! # Example
//!
//! ```
//! use divoc_model::{Evidence, VaccinationCredential};
//! use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
//! use divoc_qr::{CertificateQr, QrOptions};
//!
//! // The credential exactly as signed, because the QR code carries these bytes.
//! let signed = r#"{"credentialSubject":{"name":"Asha Rao","gender":"Female","dob":"1990-02-03",
//!     "id":"did:in.gov.uidai.aadhaar:123456789012"},
//!     "evidence":[{"vaccine":"COVISHIELD","date":"2021-10-17T22:00:00Z","dose":1,"totalDoses":2}]}"#;
//! let credential = VaccinationCredential::parse("100000001", signed)?;
//! let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
//!
//! let settings = PdfSettings {
//!     time_zone: "Asia/Kolkata".parse()?,
//!     issuer_name: Some("Ministry of Health".to_owned()),
//!     ..PdfSettings::default()
//! };
//! let renderer = PdfRenderer::new(settings)?;
//!
//! let doses: Vec<&Evidence> = credential.evidence.iter().collect();
//! let input = CertificateInput {
//!     certificate_id: "100000001",
//!     credential: &credential,
//!     doses: &doses,
//!     qr: &qr,
//!     updated_at: None,
//! };
//! let rendered = renderer.render_with_report(&input)?;
//! assert!(rendered.bytes.starts_with(b"%PDF-"));
//! assert_eq!(rendered.uncovered_characters, 0);
//! // Same input, same bytes.
//! assert_eq!(renderer.render(&input)?, rendered.bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [genpdf]: https://docs.rs/genpdf/0.2.0
//! [lopdf]: https://docs.rs/lopdf/0.47.0

pub mod bulk;
mod content;
mod elements;
mod embed;
mod error;
mod finish;
mod fonts;
mod format;
mod page;
mod protect;
mod settings;
mod text;
mod view;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use divoc_model::{Evidence, VaccinationCredential};
use divoc_qr::{CertificateQr, QUIET_ZONE_MODULES};

pub use chrono_tz::Tz;
pub use error::PdfError;
pub use protect::{MAX_PASSWORD_BYTES, ProtectError, ProtectKeys, protect_pdf};
pub use settings::{IdTypeLabels, Labels, PdfSettings};

use crate::finish::{FinishError, FinishInput, finish};
use crate::fonts::FontSet;
use crate::page::Limits;
use crate::view::CertificateView;

/// The data of one certificate to render.
#[derive(Debug, Clone, Copy)]
pub struct CertificateInput<'a> {
    /// The record's `certificateId`, printed on the page and named in errors.
    pub certificate_id: &'a str,
    /// The latest certificate's credential.
    pub credential: &'a VaccinationCredential,
    /// Rows of the doses table, highest dose first. At most eight are printed
    /// (six in the compact layout), and a note under the table counts the rest.
    pub doses: &'a [&'a Evidence],
    /// The QR code of the signed credential.
    pub qr: &'a CertificateQr,
    /// The record's `osUpdatedAt`, used as the file's creation date so that
    /// the same record always gives the same bytes. `None` gives 1970-01-01.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A rendered certificate and what could not be printed as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPdf {
    /// The PDF file.
    pub bytes: Vec<u8>,
    /// Characters printed as the `.notdef` box because no bundled font has a
    /// glyph for them, such as Devanagari or Tamil letters. Text extraction
    /// still returns them.
    pub uncovered_characters: usize,
}

/// Renders certificates. Build it once and share it between threads.
#[derive(Debug, Clone)]
pub struct PdfRenderer {
    settings: Arc<PdfSettings>,
    fonts: Arc<FontSet>,
}

impl PdfRenderer {
    /// Checks the settings and parses the bundled fonts.
    ///
    /// # Errors
    ///
    /// [`PdfError::InvalidSettings`] for a value out of range, such as a month
    /// list without 12 names.
    pub fn new(settings: PdfSettings) -> Result<Self, PdfError> {
        settings.validate()?;
        Ok(PdfRenderer {
            settings: Arc::new(settings),
            fonts: Arc::new(FontSet::load()?),
        })
    }

    /// Returns the settings this renderer was built with.
    pub fn settings(&self) -> &PdfSettings {
        &self.settings
    }

    /// Renders one certificate.
    ///
    /// Characters that no bundled font covers are printed as boxes. Their
    /// number (never the text) is logged as a warning with the certificate id.
    /// Use [`PdfRenderer::render_with_report`] to read the number instead.
    ///
    /// # Errors
    ///
    /// See [`PdfRenderer::render_with_report`].
    pub fn render(&self, input: &CertificateInput<'_>) -> Result<Vec<u8>, PdfError> {
        let rendered = self.render_with_report(input)?;
        if rendered.uncovered_characters > 0 {
            // The certificate id is personal data, so the caller logs it if it must.
            tracing::warn!(
                uncovered_characters = rendered.uncovered_characters,
                "certificate text has characters that no bundled font covers; they are printed as boxes"
            );
        }
        Ok(rendered.bytes)
    }

    /// Renders one certificate and reports characters that no bundled font covers.
    ///
    /// The layout gives long values room to wrap. Only if the result would need
    /// a second page is the certificate laid out again in a compact form that
    /// cuts the longest values short with an ellipsis and lists six doses.
    ///
    /// # Errors
    ///
    /// [`PdfError::Layout`] when genpdf fails, [`PdfError::PageOverflow`] if even
    /// the compact form needs a second page, [`PdfError::Finish`] when the lopdf
    /// pass fails. Each names the certificate id.
    pub fn render_with_report(
        &self,
        input: &CertificateInput<'_>,
    ) -> Result<RenderedPdf, PdfError> {
        let view = CertificateView::new(input, &self.settings);
        match self.render_view(input, &view, Limits::NORMAL) {
            Err(PdfError::PageOverflow { .. }) => self.render_view(input, &view, Limits::COMPACT),
            result => result,
        }
    }

    fn render_view(
        &self,
        input: &CertificateInput<'_>,
        view: &CertificateView,
        limits: Limits,
    ) -> Result<RenderedPdf, PdfError> {
        let certificate_id = input.certificate_id;
        let layout_error = |error: genpdf::error::Error| PdfError::Layout {
            certificate_id: certificate_id.to_owned(),
            reason: error.to_string(),
        };
        let qr_width = qr_width_mm(input.qr, &self.settings);
        let (document, state) =
            page::build_document(view, &self.settings.labels, &self.fonts, qr_width, limits)
                .map_err(layout_error)?;
        let mut raw = Vec::with_capacity(64 * 1024);
        document.render(&mut raw).map_err(layout_error)?;
        let runs = state.runs.take();

        let finish_input = FinishInput {
            document_title: &view.document_title,
            fonts: &self.fonts,
            runs: &runs,
            qr: input.qr,
            date: input.updated_at.unwrap_or(DateTime::UNIX_EPOCH),
        };
        let finished = finish(&raw, &finish_input).map_err(|error| match error {
            FinishError::Pages(pages) => PdfError::PageOverflow {
                certificate_id: certificate_id.to_owned(),
                pages,
            },
            FinishError::Pdf(reason) => PdfError::Finish {
                certificate_id: certificate_id.to_owned(),
                reason,
            },
        })?;
        Ok(RenderedPdf {
            bytes: finished.bytes,
            uncovered_characters: finished.uncovered_characters,
        })
    }
}

/// Printed width of the QR code, quiet zone included: wide enough for
/// `qr_module_mm` per module and never below `qr_min_width_mm`.
fn qr_width_mm(qr: &CertificateQr, settings: &PdfSettings) -> f64 {
    let modules = f64::from(qr.size() + 2 * QUIET_ZONE_MODULES);
    (modules * settings.qr_module_mm).max(settings.qr_min_width_mm)
}
