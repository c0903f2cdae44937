//! Label sets: the fixed texts of the certificate in one language, read from
//! TOML files (the format is in `docs/languages.md`).
//!
//! English is built in as [`Labels::default`]. Label sets for Hindi, Tamil,
//! Sinhala and Bengali ship in the crate's `labels/` folder and are compiled
//! in, and a deployment may add or replace languages with files in
//! [`crate::PdfSettings::labels_dir`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::PdfError;
use crate::settings::{IdTypeLabels, Labels};

/// Code of the built-in language.
pub const ENGLISH: &str = "en";

/// Label set files compiled into the crate.
const BUILT_IN: [(&str, &str); 4] = [
    ("labels/hi.toml", include_str!("../labels/hi.toml")),
    ("labels/ta.toml", include_str!("../labels/ta.toml")),
    ("labels/si.toml", include_str!("../labels/si.toml")),
    ("labels/bn.toml", include_str!("../labels/bn.toml")),
];

/// The fixed texts of the certificate in one language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSet {
    /// Language code: a lowercase ISO 639 code such as `hi`, optionally with
    /// a region or script subtag (`pa-arab`).
    pub language: String,
    /// Name of the language in that language, such as "हिन्दी".
    pub name: String,
    /// Whether a native speaker still has to review the texts.
    #[serde(default)]
    pub needs_review: bool,
    /// The texts. A text missing from the file is printed in English.
    pub labels: Labels,
}

impl LabelSet {
    /// Parses a label set file. `source` names the file in errors.
    ///
    /// # Errors
    ///
    /// [`PdfError::InvalidSettings`] for invalid TOML, an unknown field, an
    /// invalid language code, a month list without 12 names, or a text with
    /// a placeholder that its key does not take (see
    /// [`Labels::check_placeholders`]).
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::LabelSet;
    ///
    /// let text = r#"
    /// language = "nl"
    /// name = "Nederlands"
    ///
    /// [labels]
    /// name = "Naam"
    /// "#;
    /// let set = LabelSet::parse("nl.toml", text)?;
    /// assert_eq!(set.language, "nl");
    /// assert_eq!(set.labels.name, "Naam");
    /// // A text missing from the file is printed in English.
    /// assert_eq!(set.labels.age, "Age");
    /// assert!(!set.needs_review);
    ///
    /// let error = LabelSet::parse("nl.toml", &text.replace("\"nl\"", "\"NL\"")).unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "invalid PDF settings: `label set nl.toml` has invalid language code \"NL\"; \
    ///      expected lowercase letters such as \"hi\" or \"pa-arab\""
    /// );
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn parse(source: &str, text: &str) -> Result<Self, PdfError> {
        let invalid = |reason: String| PdfError::InvalidSettings {
            field: format!("label set {source}"),
            reason,
        };
        let set: LabelSet = toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
        if !is_language_code(&set.language) {
            return Err(invalid(format!(
                "has invalid language code {:?}; expected lowercase letters such as \"hi\" or \"pa-arab\"",
                set.language
            )));
        }
        if set.labels.months.len() != 12 {
            return Err(invalid(format!(
                "must list 12 month names, found {}",
                set.labels.months.len()
            )));
        }
        set.labels
            .check_placeholders()
            .map_err(|error| match error {
                PdfError::InvalidSettings { field, reason } => {
                    invalid(format!("key {field} {reason}"))
                }
                other => other,
            })?;
        Ok(set)
    }

    /// Returns the label sets compiled into the crate, English excluded.
    ///
    /// # Errors
    ///
    /// [`PdfError::InvalidSettings`] if a compiled-in file is invalid, which
    /// the crate's tests rule out.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::LabelSet;
    ///
    /// let sets = LabelSet::built_in()?;
    /// let codes: Vec<&str> = sets.iter().map(|set| set.language.as_str()).collect();
    /// assert_eq!(codes, ["hi", "ta", "si", "bn"]);
    /// assert_eq!(sets[0].name, "हिन्दी");
    /// assert_eq!(sets[0].labels.name, "लाभार्थी का नाम");
    /// # Ok::<(), divoc_pdf::PdfError>(())
    /// ```
    pub fn built_in() -> Result<Vec<LabelSet>, PdfError> {
        BUILT_IN
            .iter()
            .map(|(source, text)| LabelSet::parse(source, text))
            .collect()
    }

    /// Reads every `*.toml` file in `directory`, in file name order.
    ///
    /// # Errors
    ///
    /// [`PdfError::InvalidSettings`] naming the folder or file that could not
    /// be read or parsed, or the two files that set the same language.
    ///
    /// # Example
    ///
    /// ```
    /// use std::path::Path;
    ///
    /// use divoc_pdf::{LabelSet, PdfError};
    ///
    /// // The crate's own label set files.
    /// let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("labels");
    /// let sets = LabelSet::read_dir(&directory)?;
    /// let codes: Vec<&str> = sets.iter().map(|set| set.language.as_str()).collect();
    /// assert_eq!(codes, ["bn", "hi", "si", "ta"]);
    ///
    /// let missing = LabelSet::read_dir(&directory.join("missing"));
    /// assert!(matches!(missing, Err(PdfError::InvalidSettings { field, .. }) if field == "labels_dir"));
    /// # Ok::<(), PdfError>(())
    /// ```
    pub fn read_dir(directory: &Path) -> Result<Vec<LabelSet>, PdfError> {
        let invalid = |reason: String| PdfError::InvalidSettings {
            field: "labels_dir".to_owned(),
            reason,
        };
        let entries = std::fs::read_dir(directory).map_err(|error| {
            invalid(format!(
                "{} could not be read: {error}",
                directory.display()
            ))
        })?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|error| {
                    invalid(format!(
                        "{} could not be read: {error}",
                        directory.display()
                    ))
                })?
                .path();
            if path
                .extension()
                .is_some_and(|extension| extension == "toml")
            {
                paths.push(path);
            }
        }
        paths.sort();
        let mut sets = Vec::with_capacity(paths.len());
        // The file that set each language, to name both files of a duplicate.
        let mut sources: BTreeMap<String, &Path> = BTreeMap::new();
        for path in &paths {
            let text = std::fs::read_to_string(path).map_err(|error| {
                invalid(format!("{} could not be read: {error}", path.display()))
            })?;
            let set = LabelSet::parse(&path.display().to_string(), &text)?;
            if let Some(first) = sources.insert(set.language.clone(), path) {
                return Err(invalid(format!(
                    "{} and {} both set language {:?}; keep one file per language",
                    first.display(),
                    path.display(),
                    set.language
                )));
            }
            sets.push(set);
        }
        Ok(sets)
    }
}

/// Returns whether `code` looks like a BCP 47 language tag in lowercase:
/// 2 or 3 letters, then subtags of 2 to 8 letters or digits.
fn is_language_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|byte| byte.is_ascii_lowercase())
        && parts.all(|part| {
            (2..=8).contains(&part.len())
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        })
}

/// Finds the language to print for a request: the requested code itself, else
/// its primary subtag (`hi-IN` gives `hi`), else `None`. Matching ignores case.
pub(crate) fn match_language<'a, T>(
    languages: &'a BTreeMap<String, T>,
    requested: &str,
) -> Option<&'a str> {
    let requested = requested.trim().to_ascii_lowercase().replace('_', "-");
    if let Some((code, _)) = languages.get_key_value(&requested) {
        return Some(code);
    }
    let primary = requested.split('-').next().unwrap_or("");
    languages
        .get_key_value(primary)
        .map(|(code, _)| code.as_str())
}

/// Joins a local text and its English text as one bilingual text, such as
/// "नाम / Name". A text equal in both, or empty in either, is printed once.
fn join(local: &str, english: &str) -> String {
    if local == english || english.is_empty() {
        local.to_owned()
    } else if local.is_empty() {
        english.to_owned()
    } else {
        format!("{local} / {english}")
    }
}

/// Builds the labels of a certificate that shows `local` and English.
///
/// Every text is joined as "local / English". Month names, the missing-value
/// mark and the footer stay in the local language only, except that each
/// footer line is followed by its English line while the footer has room.
pub(crate) fn bilingual(local: &Labels, english: &Labels) -> Labels {
    let footer = local
        .footer
        .iter()
        .zip(&english.footer)
        .map(|(local, english)| join(local, english))
        .collect();
    Labels {
        document_title: join(&local.document_title, &english.document_title),
        title_booster: join(&local.title_booster, &english.title_booster),
        title_final: join(&local.title_final, &english.title_final),
        title_provisional: join(&local.title_provisional, &english.title_provisional),
        title_unknown: join(&local.title_unknown, &english.title_unknown),
        subtitle_booster: join(&local.subtitle_booster, &english.subtitle_booster),
        subtitle_final: join(&local.subtitle_final, &english.subtitle_final),
        subtitle_provisional: join(&local.subtitle_provisional, &english.subtitle_provisional),
        subtitle_unknown: join(&local.subtitle_unknown, &english.subtitle_unknown),
        beneficiary_heading: join(&local.beneficiary_heading, &english.beneficiary_heading),
        vaccination_heading: join(&local.vaccination_heading, &english.vaccination_heading),
        doses_heading: join(&local.doses_heading, &english.doses_heading),
        name: join(&local.name, &english.name),
        age: join(&local.age, &english.age),
        gender: join(&local.gender, &english.gender),
        identity: join(&local.identity, &english.identity),
        beneficiary_id: join(&local.beneficiary_id, &english.beneficiary_id),
        address: join(&local.address, &english.address),
        vaccine: join(&local.vaccine, &english.vaccine),
        vaccine_type: join(&local.vaccine_type, &english.vaccine_type),
        manufacturer: join(&local.manufacturer, &english.manufacturer),
        dose: join(&local.dose, &english.dose),
        vaccination_date: join(&local.vaccination_date, &english.vaccination_date),
        batch: join(&local.batch, &english.batch),
        vaccinated_by: join(&local.vaccinated_by, &english.vaccinated_by),
        vaccinated_at: join(&local.vaccinated_at, &english.vaccinated_at),
        valid_from: join(&local.valid_from, &english.valid_from),
        valid_until: join(&local.valid_until, &english.valid_until),
        column_date: join(&local.column_date, &english.column_date),
        column_dose_type: join(&local.column_dose_type, &english.column_dose_type),
        column_vaccine: join(&local.column_vaccine, &english.column_vaccine),
        column_vaccine_type: join(&local.column_vaccine_type, &english.column_vaccine_type),
        column_batch: join(&local.column_batch, &english.column_batch),
        column_country: join(&local.column_country, &english.column_country),
        doses_omitted: join(&local.doses_omitted, &english.doses_omitted),
        dose_type_primary: join(&local.dose_type_primary, &english.dose_type_primary),
        dose_type_booster: join(&local.dose_type_booster, &english.dose_type_booster),
        dose_type_unknown: join(&local.dose_type_unknown, &english.dose_type_unknown),
        certificate_id: join(&local.certificate_id, &english.certificate_id),
        issuer: join(&local.issuer, &english.issuer),
        qr_caption: join(&local.qr_caption, &english.qr_caption),
        footer,
        not_available: local.not_available.clone(),
        months: local.months.clone(),
        id_types: IdTypeLabels {
            aadhaar: join(&local.id_types.aadhaar, &english.id_types.aadhaar),
            driving_license: join(
                &local.id_types.driving_license,
                &english.id_types.driving_license,
            ),
            mnrega: join(&local.id_types.mnrega, &english.id_types.mnrega),
            pan: join(&local.id_types.pan, &english.id_types.pan),
            passbook: join(&local.id_types.passbook, &english.id_types.passbook),
            passport: join(&local.id_types.passport, &english.id_types.passport),
            pension: join(&local.id_types.pension, &english.id_types.pension),
            voter: join(&local.id_types.voter, &english.id_types.voter),
        },
    }
}

/// Returns every text of `labels`, for shaping them ahead of time.
pub(crate) fn texts(labels: &Labels) -> Vec<&str> {
    let ids = &labels.id_types;
    let mut texts = vec![
        labels.title_booster.as_str(),
        &labels.title_final,
        &labels.title_provisional,
        &labels.title_unknown,
        &labels.subtitle_booster,
        &labels.subtitle_final,
        &labels.subtitle_provisional,
        &labels.subtitle_unknown,
        &labels.beneficiary_heading,
        &labels.vaccination_heading,
        &labels.doses_heading,
        &labels.name,
        &labels.age,
        &labels.gender,
        &labels.identity,
        &labels.beneficiary_id,
        &labels.address,
        &labels.vaccine,
        &labels.vaccine_type,
        &labels.manufacturer,
        &labels.dose,
        &labels.vaccination_date,
        &labels.batch,
        &labels.vaccinated_by,
        &labels.vaccinated_at,
        &labels.valid_from,
        &labels.valid_until,
        &labels.column_date,
        &labels.column_dose_type,
        &labels.column_vaccine,
        &labels.column_vaccine_type,
        &labels.column_batch,
        &labels.column_country,
        &labels.doses_omitted,
        &labels.dose_type_primary,
        &labels.dose_type_booster,
        &labels.dose_type_unknown,
        &labels.certificate_id,
        &labels.issuer,
        &labels.qr_caption,
        &labels.not_available,
        &ids.aadhaar,
        &ids.driving_license,
        &ids.mnrega,
        &ids.pan,
        &ids.passbook,
        &ids.passport,
        &ids.pension,
        &ids.voter,
    ];
    texts.extend(labels.footer.iter().map(String::as_str));
    texts.extend(labels.months.iter().map(String::as_str));
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_sets_parse() {
        let sets = LabelSet::built_in().unwrap();
        let codes: Vec<&str> = sets.iter().map(|set| set.language.as_str()).collect();
        assert_eq!(codes, ["hi", "ta", "si", "bn"]);
        for set in &sets {
            assert_ne!(set.labels.name, Labels::default().name, "{}", set.language);
            assert_ne!(set.labels.title_final, Labels::default().title_final);
        }
    }

    #[test]
    fn language_codes() {
        for code in ["hi", "ta", "pa-arab", "en-in", "kok"] {
            assert!(is_language_code(code), "{code}");
        }
        for code in ["", "h", "HI", "hindi", "hi_IN", "hi-", "../x"] {
            assert!(!is_language_code(code), "{code}");
        }
    }

    #[test]
    fn matches_primary_subtag() {
        let languages = BTreeMap::from([("en".to_owned(), ()), ("hi".to_owned(), ())]);
        assert_eq!(match_language(&languages, "hi"), Some("hi"));
        assert_eq!(match_language(&languages, "HI-in"), Some("hi"));
        assert_eq!(match_language(&languages, "hi_IN"), Some("hi"));
        assert_eq!(match_language(&languages, "fr"), None);
        assert_eq!(match_language(&languages, ""), None);
    }

    #[test]
    fn joins_bilingual_texts() {
        assert_eq!(join("नाम", "Name"), "नाम / Name");
        assert_eq!(join("Name", "Name"), "Name");
        assert_eq!(join("", "Name"), "Name");
        let english = Labels::default();
        let joined = bilingual(&english, &english);
        assert_eq!(joined, english);
    }

    /// Returns the label set file of `language` with `title_final`.
    fn label_file(language: &str, title_final: &str) -> String {
        format!(
            "language = \"{language}\"\nname = \"X\"\n[labels]\ntitle_final = {title_final:?}\n"
        )
    }

    #[test]
    fn duplicate_language_rejected() {
        let directory = tempfile::tempdir().unwrap();
        let first = directory.path().join("ml.toml");
        let second = directory.path().join("ml-copy.toml");
        std::fs::write(&first, label_file("ml", "{program}")).unwrap();
        std::fs::write(&second, label_file("ml", "{program}")).unwrap();
        let error = LabelSet::read_dir(directory.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "invalid PDF settings: `labels_dir` {} and {} both set language \"ml\"; \
                 keep one file per language",
                second.display(),
                first.display()
            )
        );
    }

    #[test]
    fn replacing_built_in_language_accepted() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("hi.toml"), label_file("hi", "X")).unwrap();
        let sets = LabelSet::read_dir(directory.path()).unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].labels.title_final, "X");
    }

    #[test]
    fn bad_placeholders_rejected() {
        let takes = "it takes {program}, {dose} and {total}";
        let cases = [
            (
                "{nope} {program",
                format!("has the unknown placeholder {{nope}}; {takes}"),
            ),
            (
                "{program} {program",
                format!("has the unclosed placeholder \"{{program\"; {takes}"),
            ),
            (
                "{pro{program}",
                format!("has the unclosed placeholder \"{{pro\"; {takes}"),
            ),
            (
                "{program}} Final",
                format!("has a }} that closes no placeholder: \"{{program}}}} Final\"; {takes}"),
            ),
            (
                "{booster} Final",
                format!("has the unknown placeholder {{booster}}; {takes}"),
            ),
            (
                "{} Final",
                format!("has the unknown placeholder {{}}; {takes}"),
            ),
        ];
        for (title, reason) in cases {
            let error = LabelSet::parse("ml.toml", &label_file("ml", title))
                .unwrap_err()
                .to_string();
            assert_eq!(
                error,
                format!(
                    "invalid PDF settings: `label set ml.toml` key labels.title_final {reason}"
                ),
                "{title}"
            );
        }
    }

    #[test]
    fn placeholder_in_plain_text_rejected() {
        let text = "language = \"ml\"\nname = \"X\"\n[labels]\nfooter = [\"a\", \"{count}\"]\n";
        let error = LabelSet::parse("ml.toml", text).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid PDF settings: `label set ml.toml` key labels.footer[1] has the unknown \
             placeholder {count}; it takes no placeholders"
        );
        let text = "language = \"ml\"\nname = \"X\"\n[labels]\ndose_type_primary = \"D {total}\"\n";
        let error = LabelSet::parse("ml.toml", text).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid PDF settings: `label set ml.toml` key labels.dose_type_primary has the \
             unknown placeholder {total}; it takes only {dose}"
        );
    }

    #[test]
    fn rejects_unknown_field() {
        let text = "language = \"xx\"\nname = \"X\"\n[labels]\nnmae = \"typo\"\n";
        let error = LabelSet::parse("xx.toml", text).unwrap_err().to_string();
        assert!(error.contains("label set xx.toml"), "{error}");
        assert!(error.contains("nmae"), "{error}");
    }
}
