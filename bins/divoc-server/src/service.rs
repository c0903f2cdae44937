//! The request pipeline without HTTP: store lookup, selection, QR and PDF.
//! Everything here blocks, so handlers call it through `web::block`.

use divoc_model::RegistryRecord;
use divoc_pdf::{CertificateInput, PdfRenderer};
use divoc_qr::{CertificateQr, QrOptions};
use divoc_select::{Candidate, SelectError, latest, match_date_of_birth, previous_doses};
use divoc_store::{AuditEvent, Store, StoreError};

/// A rendered file and the certificate it shows.
#[derive(Debug)]
pub struct Rendered {
    /// File contents.
    pub bytes: Vec<u8>,
    /// `certificateId` of the certificate served.
    pub certificate_id: String,
}

/// Failure to serve a certificate.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The beneficiary has no certificate that may be served.
    #[error("no certificate")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored certificate could not be read or turned into a QR code or PDF.
    #[error("certificate {certificate_id}: {message}")]
    Render {
        /// The failing certificate.
        certificate_id: String,
        /// What failed.
        message: String,
    },
}

/// A beneficiary's latest certificate, as listed to a citizen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    /// Beneficiary id.
    pub pre_enrollment_code: String,
    /// `certificateId` of the latest certificate.
    pub certificate_id: String,
    /// Name in the credential.
    pub name: Option<String>,
    /// Dose number.
    pub dose: Option<u32>,
    /// Doses in the primary schedule.
    pub total_doses: Option<u32>,
    /// Vaccination date as written in the credential.
    pub date: Option<String>,
    /// Vaccine name.
    pub vaccine: Option<String>,
}

impl CertificateSummary {
    fn of(candidate: &Candidate<'_>) -> Self {
        let evidence = candidate.credential.evidence();
        CertificateSummary {
            pre_enrollment_code: candidate.record.pre_enrollment_code.clone(),
            certificate_id: candidate.certificate_id().to_owned(),
            name: candidate.credential.credential_subject.name.clone(),
            dose: evidence.and_then(|e| e.dose),
            total_doses: evidence.and_then(|e| e.total_doses),
            date: evidence.and_then(|e| e.date.clone()),
            vaccine: evidence.and_then(|e| e.vaccine.clone()),
        }
    }
}

/// One result of a facility search, in DIVOC's layout (keys in this order;
/// missing values are left out).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeneficiaryMatch {
    /// Beneficiary id.
    pub pre_enrollment_code: String,
    /// Name in the latest credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Gender in the latest credential, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Date of birth in the latest credential, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dob: Option<String>,
}

impl BeneficiaryMatch {
    fn of(candidate: &Candidate<'_>) -> Self {
        let subject = &candidate.credential.credential_subject;
        BeneficiaryMatch {
            pre_enrollment_code: candidate.record.pre_enrollment_code.clone(),
            name: subject.name.clone(),
            gender: subject.gender.clone(),
            dob: subject.dob.clone(),
        }
    }
}

/// Whose certificates a request may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Any beneficiary's (distribution and print roles).
    Anyone,
    /// Only certificates registered to this mobile number (citizens).
    Mobile(String),
}

impl Scope {
    /// Drops the records this scope may not see.
    fn filter(&self, records: &mut Vec<RegistryRecord>) {
        if let Scope::Mobile(mobile) = self {
            records.retain(|record| record.mobile.as_deref() == Some(mobile.as_str()));
        }
    }
}

/// Serves certificates from a store.
pub struct CertificateService {
    store: Store,
    renderer: PdfRenderer,
    qr_options: QrOptions,
    png_pixels_per_module: u32,
}

impl CertificateService {
    /// Composes a service from its parts.
    pub fn new(
        store: Store,
        renderer: PdfRenderer,
        qr_options: QrOptions,
        png_pixels_per_module: u32,
    ) -> Self {
        CertificateService {
            store,
            renderer,
            qr_options,
            png_pixels_per_module,
        }
    }

    /// Returns the store, for health checks.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Loads a beneficiary's certificates that `scope` may reach.
    fn beneficiary_records(
        &self,
        beneficiary_id: &str,
        scope: &Scope,
    ) -> Result<Vec<RegistryRecord>, ServiceError> {
        let mut records = self.store.certificates_by_beneficiary(beneficiary_id)?;
        scope.filter(&mut records);
        Ok(records)
    }

    /// Renders the PDF of a beneficiary's latest certificate.
    pub fn pdf(&self, beneficiary_id: &str, scope: &Scope) -> Result<Rendered, ServiceError> {
        let records = self.beneficiary_records(beneficiary_id, scope)?;
        self.pdf_of(&records)
    }

    /// Renders the PDF of one certificate, found by id among those registered to a mobile number.
    pub fn pdf_by_certificate(
        &self,
        mobile: &str,
        certificate_id: &str,
    ) -> Result<Rendered, ServiceError> {
        let record = self
            .store
            .certificate_by_mobile_and_id(mobile, certificate_id)?;
        self.pdf_of(&record.into_iter().collect::<Vec<_>>())
    }

    /// Renders the QR PNG of one certificate, found by id among those registered to a mobile number.
    pub fn qr_png_by_certificate(
        &self,
        mobile: &str,
        certificate_id: &str,
    ) -> Result<Rendered, ServiceError> {
        let record = self
            .store
            .certificate_by_mobile_and_id(mobile, certificate_id)?;
        self.qr_png_of(&record.into_iter().collect::<Vec<_>>())
    }

    /// Renders the PDF of the latest of `records`, with all of them in the doses table.
    fn pdf_of(&self, records: &[RegistryRecord]) -> Result<Rendered, ServiceError> {
        let candidates = parse(records)?;
        let chosen = latest(&candidates).ok_or(ServiceError::NotFound)?;
        let certificate_id = chosen.certificate_id().to_owned();
        let qr = self.qr(chosen)?;
        let rows = previous_doses(&candidates);
        let doses: Vec<&divoc_model::Evidence> = rows
            .iter()
            .filter_map(|row| row.credential.evidence())
            .collect();
        let input = CertificateInput {
            certificate_id: &certificate_id,
            credential: &chosen.credential,
            doses: &doses,
            qr: &qr,
            updated_at: chosen.record.os_updated_at,
        };
        let bytes = self
            .renderer
            .render(&input)
            .map_err(|error| render_error(&certificate_id, error.to_string()))?;
        Ok(Rendered {
            bytes,
            certificate_id,
        })
    }

    /// Renders the QR PNG of a beneficiary's latest certificate.
    pub fn qr_png(&self, beneficiary_id: &str, scope: &Scope) -> Result<Rendered, ServiceError> {
        let records = self.beneficiary_records(beneficiary_id, scope)?;
        self.qr_png_of(&records)
    }

    /// Renders the QR PNG of the latest of `records`.
    fn qr_png_of(&self, records: &[RegistryRecord]) -> Result<Rendered, ServiceError> {
        let candidates = parse(records)?;
        let chosen = latest(&candidates).ok_or(ServiceError::NotFound)?;
        let certificate_id = chosen.certificate_id().to_owned();
        let bytes = self
            .qr(chosen)?
            .to_png(self.png_pixels_per_module)
            .map_err(|error| render_error(&certificate_id, error.to_string()))?;
        Ok(Rendered {
            bytes,
            certificate_id,
        })
    }

    /// Tells whether a beneficiary has a certificate that `scope` may reach. For
    /// [`Scope::Anyone`] no certificate is loaded: the check reads indexes only.
    pub fn exists(&self, beneficiary_id: &str, scope: &Scope) -> Result<bool, ServiceError> {
        match scope {
            Scope::Anyone => Ok(self.store.beneficiary_exists(beneficiary_id)?),
            Scope::Mobile(_) => Ok(!self.beneficiary_records(beneficiary_id, scope)?.is_empty()),
        }
    }

    /// Lists the beneficiaries registered to a mobile number, each with a summary
    /// of its latest certificate, ordered by beneficiary id.
    pub fn citizen_summaries(&self, mobile: &str) -> Result<Vec<CertificateSummary>, ServiceError> {
        let records = self.store.certificates_by_mobile(mobile)?;
        let candidates = parse(&records)?;
        let mut beneficiaries: Vec<&str> = candidates
            .iter()
            .map(|candidate| candidate.record.pre_enrollment_code.as_str())
            .collect();
        beneficiaries.sort_unstable();
        beneficiaries.dedup();
        let mut summaries = Vec::new();
        for beneficiary in beneficiaries {
            let own: Vec<Candidate<'_>> = candidates
                .iter()
                .filter(|candidate| candidate.record.pre_enrollment_code == beneficiary)
                .cloned()
                .collect();
            if let Some(chosen) = latest(&own) {
                summaries.push(CertificateSummary::of(chosen));
            }
        }
        Ok(summaries)
    }

    /// Finds the beneficiaries registered to `mobile` whose latest certificate
    /// carries `date_of_birth`, in order of beneficiary id.
    pub fn search_by_mobile_and_birth_date(
        &self,
        mobile: &str,
        date_of_birth: chrono::NaiveDate,
    ) -> Result<Vec<BeneficiaryMatch>, ServiceError> {
        let records = self.store.certificates_by_mobile(mobile)?;
        let candidates = parse(&records)?;
        let mut matches: Vec<BeneficiaryMatch> = match_date_of_birth(&candidates, date_of_birth)
            .into_iter()
            .map(BeneficiaryMatch::of)
            .collect();
        matches.sort_by(|a, b| a.pre_enrollment_code.cmp(&b.pre_enrollment_code));
        Ok(matches)
    }

    /// Records a certificate served in the audit trail. A failure is logged and
    /// does not fail the request, whose response is already built.
    pub fn record_served(&self, event: &AuditEvent) {
        if let Err(error) = self.store.record_served(event) {
            tracing::error!(%error, route = %event.route, "audit record could not be written");
        }
    }

    fn qr(&self, chosen: &Candidate<'_>) -> Result<CertificateQr, ServiceError> {
        CertificateQr::new(chosen.record.certificate.as_bytes(), &self.qr_options)
            .map_err(|error| render_error(chosen.certificate_id(), error.to_string()))
    }
}

fn parse(records: &[RegistryRecord]) -> Result<Vec<Candidate<'_>>, ServiceError> {
    Candidate::parse_all(records).map_err(|error| match error {
        SelectError::UnreadableCertificate {
            certificate_id,
            source,
        } => render_error(
            &certificate_id,
            format!("the stored certificate cannot be read: {source}"),
        ),
        other => ServiceError::Render {
            certificate_id: String::new(),
            message: other.to_string(),
        },
    })
}

fn render_error(certificate_id: &str, message: String) -> ServiceError {
    ServiceError::Render {
        certificate_id: certificate_id.to_owned(),
        message,
    }
}
