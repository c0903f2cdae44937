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
//! writes two, which MuPDF shows letter-spaced), replaces the placeholders of
//! shaped text with positioned glyphs, embeds font subsets, puts in
//! the QR image, sets the document information and id, and compresses the
//! streams. Fonts, settings and genpdf's font families are prepared once in
//! [`PdfRenderer::new`], so a render does only the work that depends on the
//! certificate (`benches/pdf.rs` measures it).
//!
//! # Languages
//!
//! The fixed texts come from a label set per language ([`LabelSet`]): English
//! is built in, Hindi, Tamil, Sinhala and Bengali are compiled in, and
//! [`PdfSettings::labels_dir`] adds more. A certificate prints the default
//! language ([`PdfSettings::language`]) or the one a caller asks for with
//! [`PdfRenderer::render_in`], with English beside it unless
//! [`PdfSettings::show_english`] is off. `docs/languages.md` in the repository
//! describes the file format and the fallback rule.
//!
//! # Fonts and their limits
//!
//! - **Windows-1252 text** (English, most Western European names) is set in
//!   the built-in Helvetica, measured with the bundled Liberation Sans, which
//!   has the same advance widths. Built-in fonts are not embedded: the viewer
//!   supplies Helvetica or a metric-compatible substitute, so the file is
//!   small but cannot be PDF/A.
//! - **Any other text** is shaped. It is split by the Unicode bidirectional
//!   algorithm, and each character gets the first font that covers it:
//!   Liberation Sans for Latin, Greek and Cyrillic, then
//!   [`PdfSettings::font_files`]. rustybuzz shapes it, and the file gets
//!   positioned glyphs of embedded font subsets. This covers Devanagari, Bengali, Tamil, Sinhala,
//!   Malayalam and Arabic script (right to left) with Debian's Noto fonts.
//! - **Characters that no font covers** are printed as the `.notdef` box of
//!   Liberation Sans. The render does not fail: the count is in
//!   [`RenderedPdf::uncovered_characters`], [`PdfRenderer::render`] logs it as
//!   one warning per certificate without the text or the certificate id, and
//!   the text layer keeps the characters, so copying or searching still finds
//!   the name.
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
mod image_flate;
mod labels;
mod page;
mod protect;
mod settings;
mod shape;
mod text;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use divoc_model::{Evidence, VaccinationCredential};
use divoc_qr::{CertificateQr, QUIET_ZONE_MODULES};

pub use chrono_tz::Tz;
pub use error::PdfError;
pub use labels::{ENGLISH, LabelSet};
pub use protect::{MAX_PASSWORD_BYTES, ProtectError, ProtectKeys, protect_pdf};
pub use settings::{DEBIAN_NOTO_FONTS, IdTypeLabels, Labels, PdfSettings};

use crate::finish::{FinishError, FinishInput, finish};
use crate::fonts::FontSet;
use crate::page::Limits;
use crate::shape::PieceCache;
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
    /// Glyphs printed as the `.notdef` box because no configured font covers
    /// the character, such as Devanagari letters when the Devanagari font is
    /// missing. Text extraction still returns the characters.
    pub uncovered_characters: usize,
}

/// The labels printed for one language.
#[derive(Debug)]
struct Language {
    /// The label set's texts, joined with English when English is shown beside them.
    labels: Labels,
    needs_review: bool,
}

/// Renders certificates. Build it once and share it between threads.
#[derive(Debug, Clone)]
pub struct PdfRenderer {
    settings: Arc<PdfSettings>,
    fonts: Arc<FontSet>,
    /// Printed labels by language code, English included.
    languages: Arc<BTreeMap<String, Language>>,
    /// Label texts of every language, shaped once.
    pieces: Arc<PieceCache>,
}

impl PdfRenderer {
    /// Checks the settings, reads the label sets and the fonts, and shapes
    /// the labels of every language.
    ///
    /// # Errors
    ///
    /// [`PdfError::InvalidSettings`] for a value out of range, such as a month
    /// list without 12 names, an unreadable or invalid label set file, or a
    /// default language without a label set. A missing script font is no
    /// error: it is logged, and its characters print as boxes.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::{PdfRenderer, PdfSettings};
    ///
    /// let settings = PdfSettings {
    ///     language: "hi".to_owned(),
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    /// assert_eq!(renderer.resolve_language(None), "hi");
    ///
    /// let unknown = PdfSettings {
    ///     language: "fr".to_owned(),
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// assert_eq!(
    ///     PdfRenderer::new(unknown).unwrap_err().to_string(),
    ///     "invalid PDF settings: `language` \"fr\" has no label set; known languages: bn, en, hi, si, ta"
    /// );
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn new(settings: PdfSettings) -> Result<Self, PdfError> {
        settings.validate()?;
        let mut sets = LabelSet::built_in()?;
        if let Some(directory) = &settings.labels_dir {
            sets.extend(LabelSet::read_dir(directory)?);
        }
        let mut languages = BTreeMap::new();
        languages.insert(
            ENGLISH.to_owned(),
            Language {
                labels: settings.labels.clone(),
                needs_review: false,
            },
        );
        // Later sets replace earlier ones, so files in `labels_dir` win.
        for set in sets {
            let labels = if settings.show_english && set.language != ENGLISH {
                labels::bilingual(&set.labels, &settings.labels)
            } else {
                set.labels
            };
            let needs_review = set.needs_review;
            languages.insert(
                set.language,
                Language {
                    labels,
                    needs_review,
                },
            );
        }
        if !languages.contains_key(&settings.language) {
            return Err(PdfError::InvalidSettings {
                field: "language".to_owned(),
                reason: format!(
                    "{:?} has no label set; known languages: {}",
                    settings.language,
                    languages.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        for (code, language) in &languages {
            if language.needs_review {
                tracing::info!(language = %code, "label set is marked as needing review by a native speaker");
            }
        }

        let fonts = Arc::new(FontSet::load(&settings.font_files)?);
        let texts = languages
            .values()
            .flat_map(|language| labels::texts(&language.labels));
        let pieces = Arc::new(PieceCache::build(&fonts, texts));
        tracing::debug!(
            languages = languages.len(),
            script_fonts = fonts.script_font_files().len(),
            shaped_label_pieces = pieces.len(),
            "PDF renderer ready"
        );
        Ok(PdfRenderer {
            settings: Arc::new(settings),
            fonts,
            languages: Arc::new(languages),
            pieces,
        })
    }

    /// Returns the settings this renderer was built with.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::{PdfRenderer, PdfSettings, Tz};
    ///
    /// let settings = PdfSettings {
    ///     time_zone: Tz::Asia__Kolkata,
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings.clone())?;
    /// assert_eq!(renderer.settings(), &settings);
    /// assert_eq!(renderer.settings().time_zone.name(), "Asia/Kolkata");
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn settings(&self) -> &PdfSettings {
        &self.settings
    }

    /// Returns the codes of the languages this renderer prints, in order.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::{PdfRenderer, PdfSettings};
    ///
    /// let settings = PdfSettings {
    ///     // No script fonts, so the example reads no files outside the crate.
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    /// // English and the label sets compiled into the crate.
    /// assert_eq!(renderer.languages(), ["bn", "en", "hi", "si", "ta"]);
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn languages(&self) -> Vec<&str> {
        self.languages.keys().map(String::as_str).collect()
    }

    /// Returns the labels printed for `language`, a code from
    /// [`PdfRenderer::languages`], or `None` for another code.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::{PdfRenderer, PdfSettings};
    ///
    /// let settings = PdfSettings {
    ///     // No script fonts, so the example reads no files outside the crate.
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings.clone())?;
    /// let hindi = renderer.labels("hi").unwrap();
    /// // English is printed beside the language unless `show_english` is off.
    /// assert_eq!(hindi.name, "लाभार्थी का नाम / Beneficiary Name");
    /// assert_eq!(renderer.labels("en").unwrap().name, "Beneficiary Name");
    /// assert!(renderer.labels("fr").is_none());
    ///
    /// let hindi_only = PdfRenderer::new(PdfSettings {
    ///     show_english: false,
    ///     ..settings
    /// })?;
    /// assert_eq!(hindi_only.labels("hi").unwrap().name, "लाभार्थी का नाम");
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn labels(&self, language: &str) -> Option<&Labels> {
        self.languages
            .get(language)
            .map(|language| &language.labels)
    }

    /// Returns the script font files that were read; a configured file that
    /// is missing or invalid is not listed.
    ///
    /// # Example
    ///
    /// ```
    /// use std::path::PathBuf;
    ///
    /// use divoc_pdf::{PdfRenderer, PdfSettings};
    ///
    /// let fonts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fonts");
    /// let bold = fonts.join("LiberationSans-Bold.ttf");
    /// let settings = PdfSettings {
    ///     // Any TrueType font serves for the example. The missing file is
    ///     // logged as a warning and skipped.
    ///     font_files: vec![bold.clone(), fonts.join("missing.ttf")],
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    /// assert_eq!(renderer.script_fonts(), [bold.display().to_string()]);
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn script_fonts(&self) -> Vec<String> {
        self.fonts.script_font_files()
    }

    /// Returns the language printed for a request for `requested`.
    ///
    /// The requested code is matched without regard to case, then by its
    /// primary subtag (`hi-IN` prints `hi`). No request, or a language without
    /// a label set, gives the default language [`PdfSettings::language`].
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::{PdfRenderer, PdfSettings};
    ///
    /// let settings = PdfSettings {
    ///     // No script fonts, so the example reads no files outside the crate.
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    /// assert_eq!(renderer.resolve_language(Some("hi")), "hi");
    /// assert_eq!(renderer.resolve_language(Some("HI-in")), "hi");
    /// assert_eq!(renderer.resolve_language(Some("fr")), "en");
    /// assert_eq!(renderer.resolve_language(None), "en");
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn resolve_language(&self, requested: Option<&str>) -> &str {
        requested
            .and_then(|code| labels::match_language(&self.languages, code))
            .unwrap_or(&self.settings.language)
    }

    /// Renders one certificate in `language`, resolved as by
    /// [`PdfRenderer::resolve_language`].
    ///
    /// Like [`PdfRenderer::render`], it logs one warning per certificate when
    /// characters are printed as boxes.
    ///
    /// # Errors
    ///
    /// See [`PdfRenderer::render_with_report`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_model::VaccinationCredential;
    /// # use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
    /// # use divoc_qr::{CertificateQr, QrOptions};
    /// # let signed = r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":1,"totalDoses":2}]}"#;
    /// # let credential = VaccinationCredential::parse("100000001", signed)?;
    /// # let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
    /// // `credential` and `qr` are built as in the crate example.
    /// let input = CertificateInput {
    ///     certificate_id: "100000001",
    ///     credential: &credential,
    ///     doses: &[],
    ///     qr: &qr,
    ///     updated_at: None,
    /// };
    /// let settings = PdfSettings {
    ///     // No script fonts, so the example reads no files outside the crate.
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    ///
    /// // Reads a text of the document information dictionary.
    /// fn info(pdf: &[u8], key: &[u8]) -> Result<String, lopdf::Error> {
    ///     let document = lopdf::Document::load_mem(pdf)?;
    ///     let info = document.trailer.get(b"Info")?.as_reference()?;
    ///     lopdf::decode_text_string(document.get_dictionary(info)?.get(key)?)
    /// }
    ///
    /// // `hi-IN` resolves to Hindi, which is printed with English beside it.
    /// let hindi = renderer.render_in(&input, Some("hi-IN"))?;
    /// assert_eq!(
    ///     info(&hindi, b"Title")?,
    ///     "टीकाकरण प्रमाणपत्र 100000001 / Vaccination Certificate 100000001"
    /// );
    /// let english = renderer.render_in(&input, None)?;
    /// assert_eq!(info(&english, b"Title")?, "Vaccination Certificate 100000001");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn render_in(
        &self,
        input: &CertificateInput<'_>,
        language: Option<&str>,
    ) -> Result<Vec<u8>, PdfError> {
        let rendered = self.render_with_report_in(input, language)?;
        log_uncovered(&rendered);
        Ok(rendered.bytes)
    }

    /// Renders one certificate in `language` and reports characters that no
    /// configured font covers.
    ///
    /// # Errors
    ///
    /// See [`PdfRenderer::render_with_report`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_model::VaccinationCredential;
    /// # use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
    /// # use divoc_qr::{CertificateQr, QrOptions};
    /// # let signed = r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":1,"totalDoses":2}]}"#;
    /// # let credential = VaccinationCredential::parse("100000001", signed)?;
    /// # let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
    /// // `credential` and `qr` are built as in the crate example.
    /// let input = CertificateInput {
    ///     certificate_id: "100000001",
    ///     credential: &credential,
    ///     doses: &[],
    ///     qr: &qr,
    ///     updated_at: None,
    /// };
    /// let settings = PdfSettings {
    ///     // No script fonts, so the example reads no files outside the crate.
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    ///
    /// let english = renderer.render_with_report_in(&input, Some("en"))?;
    /// assert_eq!(english.uncovered_characters, 0);
    /// // Without a Devanagari font, the Hindi labels are printed as boxes. Their
    /// // count depends on the label texts, so the example only checks it is not 0.
    /// let hindi = renderer.render_with_report_in(&input, Some("hi"))?;
    /// assert!(hindi.uncovered_characters > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn render_with_report_in(
        &self,
        input: &CertificateInput<'_>,
        language: Option<&str>,
    ) -> Result<RenderedPdf, PdfError> {
        let code = self.resolve_language(language);
        let labels = match self.languages.get(code) {
            Some(language) => &language.labels,
            None => &self.settings.labels,
        };
        let view = CertificateView::new(input, &self.settings, labels);
        match self.render_view(input, &view, labels, Limits::NORMAL) {
            Err(PdfError::PageOverflow { .. }) => {
                self.render_view(input, &view, labels, Limits::COMPACT)
            }
            result => result,
        }
    }

    /// Renders one certificate in the default language.
    ///
    /// Characters that no configured font covers are printed as boxes. Their
    /// number (never the text or the certificate id) is logged as one warning
    /// per certificate. Use [`PdfRenderer::render_with_report`] to read the
    /// number instead.
    ///
    /// # Errors
    ///
    /// See [`PdfRenderer::render_with_report`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_model::VaccinationCredential;
    /// # use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
    /// # use divoc_qr::{CertificateQr, QrOptions};
    /// # let signed = r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":1,"totalDoses":2}]}"#;
    /// # let credential = VaccinationCredential::parse("100000001", signed)?;
    /// # let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
    /// // `credential` and `qr` are built as in the crate example.
    /// let input = CertificateInput {
    ///     certificate_id: "100000001",
    ///     credential: &credential,
    ///     doses: &[],
    ///     qr: &qr,
    ///     updated_at: None,
    /// };
    /// let settings = PdfSettings {
    ///     // No script fonts, so the example reads no files outside the crate.
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    ///
    /// // Reads a text of the document information dictionary.
    /// fn info(pdf: &[u8], key: &[u8]) -> Result<String, lopdf::Error> {
    ///     let document = lopdf::Document::load_mem(pdf)?;
    ///     let info = document.trailer.get(b"Info")?.as_reference()?;
    ///     lopdf::decode_text_string(document.get_dictionary(info)?.get(key)?)
    /// }
    ///
    /// let pdf = renderer.render(&input)?;
    /// assert!(pdf.starts_with(b"%PDF-"));
    /// // Without `updated_at` the file is dated 1970-01-01.
    /// assert_eq!(info(&pdf, b"CreationDate")?, "D:19700101000000Z");
    ///
    /// let updated = CertificateInput {
    ///     updated_at: Some("2022-01-05T17:43:34Z".parse()?),
    ///     ..input
    /// };
    /// let pdf = renderer.render(&updated)?;
    /// assert_eq!(info(&pdf, b"CreationDate")?, "D:20220105174334Z");
    /// // The same input gives the same bytes.
    /// assert_eq!(renderer.render(&updated)?, pdf);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn render(&self, input: &CertificateInput<'_>) -> Result<Vec<u8>, PdfError> {
        self.render_in(input, None)
    }

    /// Renders one certificate in the default language and reports characters
    /// that no configured font covers.
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
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::VaccinationCredential;
    /// use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
    /// use divoc_qr::{CertificateQr, QrOptions};
    ///
    /// let signed = r#"{"credentialSubject":{"name":"कृष्ण क्षत्रिय"},"evidence":[{"dose":1,"totalDoses":2}]}"#;
    /// let credential = VaccinationCredential::parse("100000001", signed)?;
    /// let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
    /// let input = CertificateInput {
    ///     certificate_id: "100000001",
    ///     credential: &credential,
    ///     doses: &[],
    ///     qr: &qr,
    ///     updated_at: None,
    /// };
    /// let settings = PdfSettings {
    ///     // No script fonts, so the example reads no files outside the crate.
    ///     font_files: Vec::new(),
    ///     ..PdfSettings::default()
    /// };
    /// let renderer = PdfRenderer::new(settings)?;
    ///
    /// // No configured font covers Devanagari, so each of the 13 characters of
    /// // the name, the space excepted, is printed as a box.
    /// let rendered = renderer.render_with_report(&input)?;
    /// assert_eq!(rendered.uncovered_characters, 13);
    /// assert_eq!(renderer.render(&input)?, rendered.bytes);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn render_with_report(
        &self,
        input: &CertificateInput<'_>,
    ) -> Result<RenderedPdf, PdfError> {
        self.render_with_report_in(input, None)
    }

    fn render_view(
        &self,
        input: &CertificateInput<'_>,
        view: &CertificateView,
        labels: &Labels,
        limits: Limits,
    ) -> Result<RenderedPdf, PdfError> {
        let certificate_id = input.certificate_id;
        let layout_error = |error: genpdf::error::Error| PdfError::Layout {
            certificate_id: certificate_id.to_owned(),
            reason: error.to_string(),
        };
        let qr_width = qr_width_mm(input.qr, &self.settings);
        let (document, state) =
            page::build_document(view, labels, &self.fonts, &self.pieces, qr_width, limits)
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

/// Logs one warning for a certificate with characters printed as boxes.
fn log_uncovered(rendered: &RenderedPdf) {
    if rendered.uncovered_characters > 0 {
        // The certificate id is personal data, so the caller logs it if it must.
        tracing::warn!(
            uncovered_characters = rendered.uncovered_characters,
            "certificate text has characters that no configured font covers; they are printed as boxes"
        );
    }
}

/// Printed width of the QR code, quiet zone included: wide enough for
/// `qr_module_mm` per module and never below `qr_min_width_mm`.
fn qr_width_mm(qr: &CertificateQr, settings: &PdfSettings) -> f64 {
    let modules = f64::from(qr.size() + 2 * QUIET_ZONE_MODULES);
    (modules * settings.qr_module_mm).max(settings.qr_min_width_mm)
}
