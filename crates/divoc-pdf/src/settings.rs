//! Settings that do not change between certificates: texts, time zone, issuer.

use std::path::PathBuf;

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PdfError;

/// Every fixed text printed on the certificate. The default is English.
///
/// Texts may contain placeholders in braces that are filled per certificate:
/// `{program}` (the program name), `{dose}`, `{total}` (total doses of the
/// primary schedule), `{booster}` (dose number minus total) and
/// `{certificate_id}`. A text outside Windows-1252 (for example Hindi) is
/// shaped and embedded like a name outside Windows-1252: see the crate
/// documentation for what that covers. Label sets of other languages are read
/// as [`crate::LabelSet`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Labels {
    /// PDF document title (document information, not printed). Placeholder: `{certificate_id}`.
    pub document_title: String,
    /// Title when the dose is above the total doses.
    pub title_booster: String,
    /// Title when the dose equals the total doses.
    pub title_final: String,
    /// Title when the dose is below the total doses.
    pub title_provisional: String,
    /// Title when the dose or the total doses are unknown.
    pub title_unknown: String,
    /// Line under the booster title, or empty for none.
    pub subtitle_booster: String,
    /// Line under the final title, or empty for none.
    pub subtitle_final: String,
    /// Line under the provisional title, or empty for none.
    pub subtitle_provisional: String,
    /// Line under the neutral title when the dose is known, or empty for none.
    pub subtitle_unknown: String,
    /// Heading of the beneficiary table.
    pub beneficiary_heading: String,
    /// Heading of the vaccination table.
    pub vaccination_heading: String,
    /// Heading of the doses table.
    pub doses_heading: String,
    /// Beneficiary name.
    pub name: String,
    /// Age in years.
    pub age: String,
    /// Gender, or sex where the credential has `sex` instead.
    pub gender: String,
    /// The masked identity document.
    pub identity: String,
    /// Beneficiary reference id (`credentialSubject.refId`).
    pub beneficiary_id: String,
    /// Residential address.
    pub address: String,
    /// Vaccine name.
    pub vaccine: String,
    /// ICD-11 code and prophylaxis.
    pub vaccine_type: String,
    /// Vaccine manufacturer.
    pub manufacturer: String,
    /// Dose type of this certificate, such as "Primary Dose 2".
    pub dose: String,
    /// Date of this dose.
    pub vaccination_date: String,
    /// Vaccine batch.
    pub batch: String,
    /// Vaccinator (`evidence.verifier.name`).
    pub vaccinated_by: String,
    /// Facility name and district.
    pub vaccinated_at: String,
    /// First day of protection (`evidence.effectiveStart`).
    pub valid_from: String,
    /// Last day of protection (`evidence.effectiveUntil`).
    pub valid_until: String,
    /// Doses table column: date.
    pub column_date: String,
    /// Doses table column: dose type.
    pub column_dose_type: String,
    /// Doses table column: vaccine name.
    pub column_vaccine: String,
    /// Doses table column: vaccine type.
    pub column_vaccine_type: String,
    /// Doses table column: batch.
    pub column_batch: String,
    /// Doses table column: country.
    pub column_country: String,
    /// Note under a doses table that was cut short. Placeholder: `{count}`.
    pub doses_omitted: String,
    /// Dose type when the dose is within the primary schedule. Placeholder: `{dose}`.
    pub dose_type_primary: String,
    /// Dose type when the dose is above the total doses. Placeholder: `{booster}`.
    pub dose_type_booster: String,
    /// Dose type when the total doses are unknown. Placeholder: `{dose}`.
    pub dose_type_unknown: String,
    /// Label of the certificate id.
    pub certificate_id: String,
    /// Label of the issuer.
    pub issuer: String,
    /// Caption under the QR code.
    pub qr_caption: String,
    /// Footer lines at the bottom of the page.
    pub footer: Vec<String>,
    /// Table cell text for a missing value.
    pub not_available: String,
    /// Month abbreviations for dates: exactly 12, January first.
    pub months: Vec<String>,
    /// Names of identity document types.
    pub id_types: IdTypeLabels,
}

/// Placeholders of the titles and subtitles of a known dose and total.
const DOSE_AND_TOTAL: &[&str] = &["program", "dose", "total"];

impl Labels {
    /// Checks that every text uses only the placeholders that are filled in
    /// for it, such as `{program}`, `{dose}` and `{total}` in `title_final`.
    /// Braces have no escape, so every `{` must open a known placeholder and
    /// every `}` must close one. Any other brace would be printed as written.
    ///
    /// # Errors
    ///
    /// [`PdfError::InvalidSettings`] for the first text with an unknown,
    /// unclosed or unopened placeholder. Its `field` is the key, such as
    /// `labels.title_final`, `labels.footer[1]` or `labels.id_types.pan`, and
    /// its `reason` names the placeholder and the ones the key takes.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::{Labels, PdfError};
    ///
    /// assert!(Labels::default().check_placeholders().is_ok());
    ///
    /// let labels = Labels {
    ///     title_final: "{nope} {program".to_owned(),
    ///     ..Labels::default()
    /// };
    /// let error = labels.check_placeholders().unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "invalid PDF settings: `labels.title_final` has the unknown placeholder {nope}; \
    ///      it takes {program}, {dose} and {total}"
    /// );
    /// # Ok::<(), PdfError>(())
    /// ```
    pub fn check_placeholders(&self) -> Result<(), PdfError> {
        for (key, text, allowed) in self.placeholder_rules() {
            check_text_placeholders(text, allowed).map_err(|reason| PdfError::InvalidSettings {
                field: format!("labels.{key}"),
                reason,
            })?;
        }
        Ok(())
    }

    /// Returns each text with its key and the placeholders filled in for it.
    fn placeholder_rules(&self) -> Vec<(String, &str, &'static [&'static str])> {
        fn rule<'t>(
            key: &str,
            text: &'t str,
            allowed: &'static [&'static str],
        ) -> (String, &'t str, &'static [&'static str]) {
            (key.to_owned(), text, allowed)
        }
        let mut rules = vec![
            rule(
                "document_title",
                &self.document_title,
                &["certificate_id"][..],
            ),
            rule(
                "title_booster",
                &self.title_booster,
                &["program", "dose", "total", "booster"],
            ),
            rule("title_final", &self.title_final, DOSE_AND_TOTAL),
            rule("title_provisional", &self.title_provisional, DOSE_AND_TOTAL),
            // Also printed when the dose is unknown, so `{dose}` is not filled in.
            rule("title_unknown", &self.title_unknown, &["program"]),
            rule(
                "subtitle_booster",
                &self.subtitle_booster,
                &["program", "dose", "total", "booster"],
            ),
            rule("subtitle_final", &self.subtitle_final, DOSE_AND_TOTAL),
            rule(
                "subtitle_provisional",
                &self.subtitle_provisional,
                DOSE_AND_TOTAL,
            ),
            rule(
                "subtitle_unknown",
                &self.subtitle_unknown,
                &["program", "dose"],
            ),
            rule("doses_omitted", &self.doses_omitted, &["count"]),
            rule("dose_type_primary", &self.dose_type_primary, &["dose"]),
            rule(
                "dose_type_booster",
                &self.dose_type_booster,
                &["dose", "booster"],
            ),
            rule("dose_type_unknown", &self.dose_type_unknown, &["dose"]),
        ];
        let plain = [
            ("beneficiary_heading", &self.beneficiary_heading),
            ("vaccination_heading", &self.vaccination_heading),
            ("doses_heading", &self.doses_heading),
            ("name", &self.name),
            ("age", &self.age),
            ("gender", &self.gender),
            ("identity", &self.identity),
            ("beneficiary_id", &self.beneficiary_id),
            ("address", &self.address),
            ("vaccine", &self.vaccine),
            ("vaccine_type", &self.vaccine_type),
            ("manufacturer", &self.manufacturer),
            ("dose", &self.dose),
            ("vaccination_date", &self.vaccination_date),
            ("batch", &self.batch),
            ("vaccinated_by", &self.vaccinated_by),
            ("vaccinated_at", &self.vaccinated_at),
            ("valid_from", &self.valid_from),
            ("valid_until", &self.valid_until),
            ("column_date", &self.column_date),
            ("column_dose_type", &self.column_dose_type),
            ("column_vaccine", &self.column_vaccine),
            ("column_vaccine_type", &self.column_vaccine_type),
            ("column_batch", &self.column_batch),
            ("column_country", &self.column_country),
            ("certificate_id", &self.certificate_id),
            ("issuer", &self.issuer),
            ("qr_caption", &self.qr_caption),
            ("not_available", &self.not_available),
        ];
        rules.extend(plain.map(|(key, text)| rule(key, text, &[])));
        let ids = &self.id_types;
        let id_types = [
            ("aadhaar", &ids.aadhaar),
            ("driving_license", &ids.driving_license),
            ("mnrega", &ids.mnrega),
            ("pan", &ids.pan),
            ("passbook", &ids.passbook),
            ("passport", &ids.passport),
            ("pension", &ids.pension),
            ("voter", &ids.voter),
        ];
        rules.extend(id_types.map(|(key, text)| rule(&format!("id_types.{key}"), text, &[])));
        for (index, line) in self.footer.iter().enumerate() {
            rules.push(rule(&format!("footer[{index}]"), line, &[]));
        }
        for (index, month) in self.months.iter().enumerate() {
            rules.push(rule(&format!("months[{index}]"), month, &[]));
        }
        rules
    }
}

/// Returns what is wrong with the first brace of `text` that does not form
/// one of the `allowed` placeholders.
fn check_text_placeholders(text: &str, allowed: &[&str]) -> Result<(), String> {
    let takes = match allowed {
        [] => "it takes no placeholders".to_owned(),
        [only] => format!("it takes only {{{only}}}"),
        [first @ .., last] => format!(
            "it takes {} and {{{last}}}",
            first
                .iter()
                .map(|name| format!("{{{name}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut rest = text;
    while let Some(position) = rest.find(['{', '}']) {
        let after = &rest[position + 1..];
        if rest[position..].starts_with('}') {
            return Err(format!(
                "has a }} that closes no placeholder: {text:?}; {takes}"
            ));
        }
        let end = after.find(['{', '}']);
        match end {
            Some(end) if after[end..].starts_with('}') => {
                let name = &after[..end];
                if !allowed.contains(&name) {
                    return Err(format!("has the unknown placeholder {{{name}}}; {takes}"));
                }
                rest = &after[end + 1..];
            }
            _ => {
                let unclosed = &rest[position..position + 1 + end.unwrap_or(after.len())];
                return Err(format!(
                    "has the unclosed placeholder {:?}; {takes}",
                    unclosed.trim_end()
                ));
            }
        }
    }
    Ok(())
}

/// Names of the identity document types that DIVOC recognises in `credentialSubject.id`.
///
/// The id `did:in.gov.uidai.aadhaar:123456789012` is printed as
/// `<aadhaar> # XXXX XXXX XXXX 9012`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdTypeLabels {
    /// Ids containing `aadhaar`.
    pub aadhaar: String,
    /// Ids containing `Driving`.
    pub driving_license: String,
    /// Ids containing `MNREGA`.
    pub mnrega: String,
    /// Ids containing `PAN`.
    pub pan: String,
    /// Ids containing `Passbooks`.
    pub passbook: String,
    /// Ids containing `Passport`.
    pub passport: String,
    /// Ids containing `Pension`.
    pub pension: String,
    /// Ids containing `Voter`.
    pub voter: String,
}

impl Default for Labels {
    fn default() -> Self {
        let text = str::to_owned;
        Labels {
            document_title: text("Vaccination Certificate {certificate_id}"),
            title_booster: text("Booster Dose Certificate for {program} Vaccination"),
            title_final: text("Final Certificate for {program} Vaccination"),
            title_provisional: text("Provisional Certificate for {program} Vaccination"),
            title_unknown: text("Certificate for {program} Vaccination"),
            subtitle_booster: text("(Booster Dose {booster})"),
            subtitle_final: String::new(),
            subtitle_provisional: text("(Dose {dose} of {total})"),
            subtitle_unknown: text("(Dose {dose})"),
            beneficiary_heading: text("Beneficiary Details"),
            vaccination_heading: text("Vaccination Details"),
            doses_heading: text("Doses Received"),
            name: text("Beneficiary Name"),
            age: text("Age"),
            gender: text("Gender"),
            identity: text("ID Verified"),
            beneficiary_id: text("Beneficiary Reference ID"),
            address: text("Residing at"),
            vaccine: text("Vaccine Name"),
            vaccine_type: text("Vaccine Type"),
            manufacturer: text("Manufacturer"),
            dose: text("Dose Type"),
            vaccination_date: text("Date of Dose"),
            batch: text("Vaccine Batch"),
            vaccinated_by: text("Vaccinated By"),
            vaccinated_at: text("Vaccinated At"),
            valid_from: text("Valid From"),
            valid_until: text("Valid Until"),
            column_date: text("Date of Vaccination"),
            column_dose_type: text("Dose Type"),
            column_vaccine: text("Vaccine Name"),
            column_vaccine_type: text("Vaccine Type"),
            column_batch: text("Vaccine Batch"),
            column_country: text("Country of Vaccination"),
            doses_omitted: text("{count} earlier doses are not listed."),
            dose_type_primary: text("Primary Dose {dose}"),
            dose_type_booster: text("Booster Dose {booster}"),
            dose_type_unknown: text("Dose {dose}"),
            certificate_id: text("Certificate ID"),
            issuer: text("Issued by"),
            qr_caption: text("Scan the QR code to verify this certificate"),
            footer: vec![
                text(
                    "This certificate is digitally signed. The QR code holds the signed credential.",
                ),
                text("Verify it with a DIVOC verifier app before relying on it."),
            ],
            not_available: text("\u{2013}"),
            months: [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ]
            .map(str::to_owned)
            .to_vec(),
            id_types: IdTypeLabels::default(),
        }
    }
}

impl Default for IdTypeLabels {
    fn default() -> Self {
        IdTypeLabels {
            aadhaar: "Aadhaar".to_owned(),
            driving_license: "Driver\u{2019}s License".to_owned(),
            mnrega: "MNREGA Job Card".to_owned(),
            pan: "PAN Card".to_owned(),
            passbook: "Passbook".to_owned(),
            passport: "Passport".to_owned(),
            pension: "Pension Document".to_owned(),
            voter: "Voter ID".to_owned(),
        }
    }
}

/// Settings of a [`crate::PdfRenderer`].
///
/// Deserializable, so a server can read it from its configuration file. A
/// missing field takes its default, and `time_zone` is an IANA name such as
/// `"Asia/Kolkata"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdfSettings {
    /// Fixed texts in English, the built-in language `en`.
    pub labels: Labels,
    /// Language printed when a request names none or one without a label
    /// set: `en` or the code of a label set. Default `en`.
    pub language: String,
    /// Whether a certificate in another language prints English beside it,
    /// as "local / English" in each label. Default `true`.
    pub show_english: bool,
    /// Folder of label set files (`*.toml`) that add languages or replace the
    /// compiled-in ones. Default `None`.
    pub labels_dir: Option<PathBuf>,
    /// Script fonts (TrueType or OpenType files) for text that Liberation
    /// Sans does not cover, tried in this order after it. A missing file is
    /// logged and skipped. Default: the Noto fonts of Debian's
    /// `fonts-noto-core` listed in [`DEBIAN_NOTO_FONTS`].
    pub font_files: Vec<PathBuf>,
    /// Zone in which vaccination timestamps are shown as dates. Calendar dates
    /// (a vaccination date without a time, dates of birth, validity dates) are
    /// printed as written and never pass through it. Default UTC.
    #[serde(
        serialize_with = "serialize_zone",
        deserialize_with = "deserialize_zone"
    )]
    pub time_zone: Tz,
    /// Issuer printed on the certificate. When `None`, the credential's issuer id is printed.
    pub issuer_name: Option<String>,
    /// Program name for the `{program}` placeholder. Default `COVID-19`.
    pub program_name: String,
    /// Smallest printed width of the QR code, quiet zone included, in
    /// millimetres: 35 to 90, default 35.
    pub qr_min_width_mm: f64,
    /// Smallest printed size of one QR module in millimetres: 0.43 to 0.48,
    /// default 0.43. Larger symbols get a wider QR code. 0.43 mm is 2.54 pixels
    /// at 150 dpi, and zbarimg reads the sample certificate's version 36 symbol
    /// from pages that poppler and MuPDF render at 150 dpi.
    pub qr_module_mm: f64,
}

/// Script fonts of Debian's `fonts-noto-core` package (bookworm), regular and
/// bold: Devanagari, Bengali, Tamil, Sinhala, Malayalam and Arabic script.
/// Noto Naskh is used for Arabic script because its text extracts as
/// written; Nastaliq fonts position glyphs in ways extraction tools misread.
pub const DEBIAN_NOTO_FONTS: [&str; 12] = [
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansBengali-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansBengali-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansTamil-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansTamil-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansSinhala-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansSinhala-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansMalayalam-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansMalayalam-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Bold.ttf",
];

impl Default for PdfSettings {
    fn default() -> Self {
        PdfSettings {
            labels: Labels::default(),
            language: crate::labels::ENGLISH.to_owned(),
            show_english: true,
            labels_dir: None,
            font_files: DEBIAN_NOTO_FONTS.iter().map(PathBuf::from).collect(),
            time_zone: Tz::UTC,
            issuer_name: None,
            program_name: "COVID-19".to_owned(),
            qr_min_width_mm: 35.0,
            qr_module_mm: 0.43,
        }
    }
}

/// Narrowest QR code allowed.
const QR_MIN_WIDTH_MM: f64 = 35.0;
/// Widest QR code that leaves room for the title and beneficiary table beside it.
const QR_MAX_WIDTH_MM: f64 = 90.0;
/// Smallest module allowed: 2.5 pixels at 150 dpi are 0.4233 mm.
const QR_MIN_MODULE_MM: f64 = 0.43;

/// Largest module size: a version 40 symbol (177 modules and 8 of quiet zone)
/// then stays within [`QR_MAX_WIDTH_MM`].
const QR_MAX_MODULE_MM: f64 = 0.48;

impl PdfSettings {
    /// Checks the values that the types do not constrain.
    pub(crate) fn validate(&self) -> Result<(), PdfError> {
        let invalid = |field: &str, reason: String| PdfError::InvalidSettings {
            field: field.to_owned(),
            reason,
        };
        self.labels.check_placeholders()?;
        if self.labels.months.len() != 12 {
            return Err(invalid(
                "labels.months",
                format!(
                    "must list 12 month names, found {}",
                    self.labels.months.len()
                ),
            ));
        }
        if !(self.qr_min_width_mm.is_finite()
            && (QR_MIN_WIDTH_MM..=QR_MAX_WIDTH_MM).contains(&self.qr_min_width_mm))
        {
            return Err(invalid(
                "qr_min_width_mm",
                format!(
                    "must be between {QR_MIN_WIDTH_MM} and {QR_MAX_WIDTH_MM} mm, found {}",
                    self.qr_min_width_mm
                ),
            ));
        }
        if !(self.qr_module_mm.is_finite()
            && (QR_MIN_MODULE_MM..=QR_MAX_MODULE_MM).contains(&self.qr_module_mm))
        {
            return Err(invalid(
                "qr_module_mm",
                format!(
                    "must be between {QR_MIN_MODULE_MM} and {QR_MAX_MODULE_MM} mm, found {}",
                    self.qr_module_mm
                ),
            ));
        }
        Ok(())
    }
}

fn serialize_zone<S: Serializer>(zone: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(zone.name())
}

fn deserialize_zone<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse::<Tz>().map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone {name:?}; expected an IANA name such as \"Asia/Kolkata\" or \"UTC\""
        ))
    })
}
