//! Length limits of the credential text fields that a certificate prints.
//!
//! The PDF shrinks a long value to 7 points, wraps it and cuts it with an
//! ellipsis after a few lines, but it measures and wraps the whole text first.
//! A 400,000-character name took about 15 s to render in a debug build. The
//! limits below are above what the layout of `divoc-pdf` can show of a field,
//! so no certificate that prints in full reaches them. The widths in their
//! comments are estimates for Latin text at 7 points, about 1.2 mm a character
//! on average. The value column of the beneficiary table is 63 to 86 mm wide,
//! depending on the width of the QR code beside it.

use serde_json::Value;

use crate::{ModelError, VaccinationCredential};

/// Maximum characters of `credentialSubject.name`.
///
/// The name gets at most 6 lines of the beneficiary table, which hold about
/// 300 to 420 average characters. The layout is sized for names of 200.
pub const MAX_NAME_CHARS: usize = 500;

/// Maximum characters of each part of `credentialSubject.address`.
///
/// The parts are joined into one value of at most 5 lines, which hold about
/// 250 to 350 average characters for the whole address.
pub const MAX_ADDRESS_PART_CHARS: usize = 500;

/// Maximum characters of any other printed text: the subject's age, gender,
/// sex, id and `refId`, the issuer id, and the vaccine, manufacturer, ICD-11
/// code, prophylaxis, batch, vaccinator, facility name, facility district and
/// facility country of the first vaccination event.
///
/// Such a value gets at most 2 lines, which hold about 100 to 140 average
/// characters.
pub const MAX_PRINTED_VALUE_CHARS: usize = 200;

impl VaccinationCredential {
    /// Cuts every printed text field that is longer than its limit to the
    /// limit, at a character boundary. Returns the number of fields cut.
    ///
    /// [`crate::RegistryRecord::validate`] rejects such fields, but a store
    /// may hold records written before the limits or by other code. A
    /// renderer calls this before it lays out the page, so that no field costs
    /// more time than the page can show.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::{MAX_NAME_CHARS, VaccinationCredential};
    ///
    /// let long_name = "ā".repeat(600);
    /// let text = format!(r#"{{"credentialSubject":{{"name":"{long_name}","gender":"Female"}}}}"#);
    /// let mut credential = VaccinationCredential::parse("100000001", &text)?;
    ///
    /// assert_eq!(credential.cut_printed_text(), 1);
    /// let name = credential.credential_subject.name.as_deref().unwrap_or_default();
    /// assert_eq!(name.chars().count(), MAX_NAME_CHARS);
    /// assert_eq!(credential.cut_printed_text(), 0);
    /// # Ok::<(), divoc_model::ModelError>(())
    /// ```
    pub fn cut_printed_text(&mut self) -> usize {
        let mut cut = 0;
        self.visit_printed_text(&mut |_, text, max| {
            if let Some((end, _)) = text.char_indices().nth(max) {
                text.truncate(end);
                cut += 1;
            }
        });
        cut
    }

    /// Checks every printed text field against its limit.
    ///
    /// # Errors
    ///
    /// [`ModelError::Credential`] naming `certificate_id`, the first field
    /// that is too long, its length and the limit.
    pub(crate) fn check_printed_text(&mut self, certificate_id: &str) -> Result<(), ModelError> {
        let mut failure = None;
        self.visit_printed_text(&mut |path, text, max| {
            // A text of at most `max` bytes has at most `max` characters.
            if failure.is_some() || text.len() <= max {
                return;
            }
            let chars = text.chars().count();
            if chars > max {
                failure = Some(ModelError::Credential {
                    certificate_id: certificate_id.to_owned(),
                    path: path.to_owned(),
                    reason: format!(
                        "{chars} characters, more than the maximum of {max} for a printed text field"
                    ),
                });
            }
        });
        failure.map_or(Ok(()), Err)
    }

    /// Calls `visit` with the path, text and limit of every printed text
    /// field that is present, in the order of the credential.
    fn visit_printed_text(&mut self, visit: &mut dyn FnMut(&'static str, &mut String, usize)) {
        let mut fields = |max: usize, texts: &mut [(&'static str, Option<&mut String>)]| {
            for (path, text) in texts {
                if let Some(text) = text {
                    visit(path, text, max);
                }
            }
        };

        let subject = &mut self.credential_subject;
        fields(
            MAX_NAME_CHARS,
            &mut [("credentialSubject.name", subject.name.as_mut())],
        );
        fields(
            MAX_PRINTED_VALUE_CHARS,
            &mut [
                ("credentialSubject.age", subject.age.as_mut()),
                ("credentialSubject.gender", subject.gender.as_mut()),
                ("credentialSubject.sex", subject.sex.as_mut()),
                ("credentialSubject.id", subject.id.as_mut()),
                ("credentialSubject.refId", subject.ref_id.as_mut()),
            ],
        );
        if let Some(address) = &mut subject.address {
            fields(
                MAX_ADDRESS_PART_CHARS,
                &mut [
                    (
                        "credentialSubject.address.streetAddress",
                        address.street_address.as_mut(),
                    ),
                    (
                        "credentialSubject.address.streetAddress2",
                        address.street_address2.as_mut(),
                    ),
                    (
                        "credentialSubject.address.district",
                        address.district.as_mut(),
                    ),
                    ("credentialSubject.address.city", address.city.as_mut()),
                    (
                        "credentialSubject.address.addressRegion",
                        address.address_region.as_mut(),
                    ),
                    (
                        "credentialSubject.address.addressCountry",
                        address.address_country.as_mut(),
                    ),
                    (
                        "credentialSubject.address.postalCode",
                        address.postal_code.as_mut(),
                    ),
                ],
            );
        }

        // The PDF prints the issuer id, from a string or an object's `id`,
        // unless the deployment sets its own issuer name.
        let issuer = match &mut self.issuer {
            Some(Value::String(id)) => Some(("issuer", id)),
            Some(Value::Object(object)) => match object.get_mut("id") {
                Some(Value::String(id)) => Some(("issuer.id", id)),
                _ => None,
            },
            _ => None,
        };
        if let Some((path, id)) = issuer {
            fields(MAX_PRINTED_VALUE_CHARS, &mut [(path, Some(id))]);
        }

        // Only the first vaccination event is printed.
        let Some(evidence) = self.evidence.first_mut() else {
            return;
        };
        let verifier = evidence.verifier.as_mut();
        let (facility_name, facility_address) = match evidence.facility.as_mut() {
            Some(facility) => (facility.name.as_mut(), facility.address.as_mut()),
            None => (None, None),
        };
        let (district, country) = match facility_address {
            Some(address) => (address.district.as_mut(), address.address_country.as_mut()),
            None => (None, None),
        };
        fields(
            MAX_PRINTED_VALUE_CHARS,
            &mut [
                ("evidence[0].vaccine", evidence.vaccine.as_mut()),
                ("evidence[0].manufacturer", evidence.manufacturer.as_mut()),
                ("evidence[0].icd11Code", evidence.icd11_code.as_mut()),
                ("evidence[0].prophylaxis", evidence.prophylaxis.as_mut()),
                ("evidence[0].batch", evidence.batch.as_mut()),
                (
                    "evidence[0].verifier.name",
                    verifier.and_then(|verifier| verifier.name.as_mut()),
                ),
                ("evidence[0].facility.name", facility_name),
                ("evidence[0].facility.address.district", district),
                ("evidence[0].facility.address.addressCountry", country),
            ],
        );
    }
}
