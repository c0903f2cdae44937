//! The printed values of one certificate, formatted from the credential.

use divoc_model::Evidence;

use crate::CertificateInput;
use crate::format::{
    DoseState, Title, age_in_years, certificate_title, dose_type, fill, format_calendar_text,
    format_identity, format_vaccination_text, join_address, non_blank, vaccination_day,
    vaccine_type,
};
use crate::settings::{Labels, PdfSettings};

/// How much room a field's value may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// The beneficiary name: printed larger, and may take the most lines.
    Name,
    /// An address: may take more lines than other values.
    Address,
    /// Any other value.
    Plain,
}

/// A label and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) label: String,
    pub(crate) value: String,
    pub(crate) kind: FieldKind,
}

/// Everything printed on the page, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateView {
    pub(crate) document_title: String,
    pub(crate) title: Title,
    pub(crate) certificate_id: String,
    pub(crate) issuer: Option<String>,
    /// Beneficiary fields. The name is always present, other missing values are left out.
    pub(crate) beneficiary: Vec<Field>,
    /// Vaccination fields of the latest dose, without missing values.
    pub(crate) vaccination: Vec<Field>,
    /// Doses table rows: date, dose type, vaccine, vaccine type, batch, country.
    pub(crate) doses: Vec<[String; 6]>,
}

impl CertificateView {
    /// Formats the values of `input` with the texts of `labels`.
    pub(crate) fn new(
        input: &CertificateInput<'_>,
        settings: &PdfSettings,
        labels: &Labels,
    ) -> Self {
        let months = labels.months.as_slice();
        let zone = settings.time_zone;
        let subject = &input.credential.credential_subject;
        let evidence = input.credential.evidence();

        let state = DoseState::new(
            evidence.and_then(|evidence| evidence.dose),
            evidence.and_then(|evidence| evidence.total_doses),
        );
        let title = certificate_title(state, labels, &settings.program_name);

        let mut beneficiary = Vec::new();
        let name = non_blank(subject.name.as_deref()).unwrap_or(&labels.not_available);
        beneficiary.push(Field {
            label: labels.name.clone(),
            value: name.to_owned(),
            kind: FieldKind::Name,
        });
        let vaccination_day = evidence
            .and_then(Evidence::vaccination_date)
            .map(|date| vaccination_day(date, zone));
        let age = match non_blank(subject.age.as_deref()) {
            Some(age) => Some(age.to_owned()),
            None => subject
                .date_of_birth()
                .zip(vaccination_day)
                .and_then(|(birth, day)| age_in_years(birth, day))
                .map(|years| years.to_string()),
        };
        push(&mut beneficiary, &labels.age, age);
        push(
            &mut beneficiary,
            &labels.gender,
            subject.gender_or_sex().map(str::to_owned),
        );
        let identity = subject
            .id
            .as_deref()
            .and_then(|id| format_identity(id, &labels.id_types));
        push(&mut beneficiary, &labels.identity, identity);
        push(
            &mut beneficiary,
            &labels.beneficiary_id,
            owned(subject.ref_id.as_deref()),
        );
        if let Some(address) = subject.address.as_ref().and_then(join_address) {
            beneficiary.push(Field {
                label: labels.address.clone(),
                value: address,
                kind: FieldKind::Address,
            });
        }

        let mut vaccination = Vec::new();
        if let Some(evidence) = evidence {
            push(
                &mut vaccination,
                &labels.vaccine,
                owned(evidence.vaccine.as_deref()),
            );
            push(
                &mut vaccination,
                &labels.vaccine_type,
                vaccine_type(
                    evidence.icd11_code.as_deref(),
                    evidence.prophylaxis.as_deref(),
                ),
            );
            push(
                &mut vaccination,
                &labels.manufacturer,
                owned(evidence.manufacturer.as_deref()),
            );
            push(
                &mut vaccination,
                &labels.dose,
                dose_type(evidence.dose, evidence.total_doses, labels),
            );
            push(
                &mut vaccination,
                &labels.vaccination_date,
                format_vaccination_text(evidence.date.as_deref(), zone, months),
            );
            push(
                &mut vaccination,
                &labels.batch,
                owned(evidence.batch.as_deref()),
            );
            let verifier = evidence
                .verifier
                .as_ref()
                .and_then(|verifier| verifier.name.as_deref());
            push(&mut vaccination, &labels.vaccinated_by, owned(verifier));
            push(
                &mut vaccination,
                &labels.vaccinated_at,
                facility_text(evidence),
            );
            push(
                &mut vaccination,
                &labels.valid_from,
                format_calendar_text(evidence.effective_start.as_deref(), months),
            );
            push(
                &mut vaccination,
                &labels.valid_until,
                format_calendar_text(evidence.effective_until.as_deref(), months),
            );
        }

        let missing = || labels.not_available.clone();
        let doses = input
            .doses
            .iter()
            .map(|dose| {
                let country = dose
                    .facility
                    .as_ref()
                    .and_then(|facility| facility.address.as_ref())
                    .and_then(|address| owned(address.address_country.as_deref()));
                [
                    format_vaccination_text(dose.date.as_deref(), zone, months)
                        .unwrap_or_else(missing),
                    dose_type(dose.dose, dose.total_doses, labels).unwrap_or_else(missing),
                    owned(dose.vaccine.as_deref()).unwrap_or_else(missing),
                    vaccine_type(dose.icd11_code.as_deref(), dose.prophylaxis.as_deref())
                        .unwrap_or_else(missing),
                    owned(dose.batch.as_deref()).unwrap_or_else(missing),
                    country.unwrap_or_else(missing),
                ]
            })
            .collect();

        let issuer =
            owned(settings.issuer_name.as_deref()).or_else(|| owned(input.credential.issuer_id()));
        CertificateView {
            document_title: fill(
                &labels.document_title,
                &[("certificate_id", input.certificate_id)],
            ),
            title,
            certificate_id: input.certificate_id.to_owned(),
            issuer,
            beneficiary,
            vaccination,
            doses,
        }
    }
}

/// Facility name and district, as DIVOC prints them: nothing without a name.
fn facility_text(evidence: &Evidence) -> Option<String> {
    let facility = evidence.facility.as_ref()?;
    let name = non_blank(facility.name.as_deref())?;
    let district = facility
        .address
        .as_ref()
        .and_then(|address| non_blank(address.district.as_deref()));
    Some(match district {
        Some(district) if !district.eq_ignore_ascii_case(name) => format!("{name}, {district}"),
        _ => name.to_owned(),
    })
}

fn owned(text: Option<&str>) -> Option<String> {
    non_blank(text).map(str::to_owned)
}

fn push(fields: &mut Vec<Field>, label: &str, value: Option<String>) {
    if let Some(value) = value {
        fields.push(Field {
            label: label.to_owned(),
            value,
            kind: FieldKind::Plain,
        });
    }
}

#[cfg(test)]
mod tests {
    use divoc_model::VaccinationCredential;
    use divoc_qr::{CertificateQr, QrOptions};

    use super::*;

    fn view_of(text: &str, zone: &str) -> CertificateView {
        let credential = VaccinationCredential::parse("1", text).unwrap();
        let qr = CertificateQr::new(text.as_bytes(), &QrOptions::default()).unwrap();
        let input = CertificateInput {
            certificate_id: "1",
            credential: &credential,
            doses: &[],
            qr: &qr,
            updated_at: None,
        };
        let settings = PdfSettings {
            time_zone: zone.parse().unwrap(),
            ..PdfSettings::default()
        };
        CertificateView::new(&input, &settings, &settings.labels)
    }

    fn value<'a>(fields: &'a [Field], label: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|field| field.label == label)
            .map(|field| field.value.as_str())
    }

    #[test]
    fn age_from_birth_at_local_vaccination_day() {
        // 22:00 UTC on the day before the birthday is the birthday in Kolkata.
        let text = r#"{"credentialSubject":{"name":"A","dob":"1980-10-18"},
            "evidence":[{"date":"2021-10-17T22:00:00Z"}]}"#;
        assert_eq!(
            value(&view_of(text, "Asia/Kolkata").beneficiary, "Age"),
            Some("41")
        );
        assert_eq!(value(&view_of(text, "UTC").beneficiary, "Age"), Some("40"));
    }

    #[test]
    fn written_age_wins_over_birth() {
        let written = r#"{"credentialSubject":{"age":"35","dob":"1980-10-18"},
            "evidence":[{"date":"2021-10-17"}]}"#;
        assert_eq!(
            value(&view_of(written, "UTC").beneficiary, "Age"),
            Some("35")
        );
        let without_date = r#"{"credentialSubject":{"dob":"1980-10-18"},"evidence":[{}]}"#;
        assert_eq!(
            value(&view_of(without_date, "UTC").beneficiary, "Age"),
            None
        );
    }

    #[test]
    fn sex_facility_and_issuer() {
        let text = r#"{"credentialSubject":{"sex":"F"},"issuer":{"id":"https://divoc.example/"},
            "evidence":[{"facility":{"name":"PHC Laren","address":{"district":"Laren"}},
            "icd11Code":"XM9QW8"}]}"#;
        let view = view_of(text, "UTC");
        assert_eq!(value(&view.beneficiary, "Gender"), Some("F"));
        // No `credentialSubject.id`: no identity row (DIVOC fails the request).
        assert_eq!(value(&view.beneficiary, "ID Verified"), None);
        assert_eq!(
            value(&view.beneficiary, "Beneficiary Name"),
            Some("\u{2013}")
        );
        assert_eq!(
            value(&view.vaccination, "Vaccinated At"),
            Some("PHC Laren, Laren")
        );
        assert_eq!(value(&view.vaccination, "Vaccine Type"), Some("XM9QW8"));
        assert_eq!(view.issuer.as_deref(), Some("https://divoc.example/"));
        assert_eq!(view.document_title, "Vaccination Certificate 1");
    }
}
