//! The request pipeline without HTTP: store lookup, selection, QR and PDF.
//! Everything here blocks, so handlers call it through `web::block`.

use divoc_pdf::{CertificateInput, PdfRenderer};
use divoc_qr::{CertificateQr, QrOptions};
use divoc_select::{Candidate, SelectError, latest, previous_doses};
use divoc_store::{Store, StoreError};

/// A rendered file and the certificate it shows.
#[derive(Debug)]
pub struct Rendered {
    /// File contents.
    pub bytes: Vec<u8>,
    /// `certificateId` of the certificate served.
    pub certificate_id: String,
}

/// Why a certificate could not be served.
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

    /// Renders the PDF of a beneficiary's latest certificate.
    pub fn pdf(&self, beneficiary_id: &str) -> Result<Rendered, ServiceError> {
        let records = self.store.certificates_by_beneficiary(beneficiary_id)?;
        let candidates = parse(&records)?;
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
    pub fn qr_png(&self, beneficiary_id: &str) -> Result<Rendered, ServiceError> {
        let records = self.store.certificates_by_beneficiary(beneficiary_id)?;
        let candidates = parse(&records)?;
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

    /// Tells whether a beneficiary has a certificate, without loading any.
    pub fn exists(&self, beneficiary_id: &str) -> Result<bool, ServiceError> {
        Ok(self.store.beneficiary_exists(beneficiary_id)?)
    }

    fn qr(&self, chosen: &Candidate<'_>) -> Result<CertificateQr, ServiceError> {
        CertificateQr::new(chosen.record.certificate.as_bytes(), &self.qr_options)
            .map_err(|error| render_error(chosen.certificate_id(), error.to_string()))
    }
}

fn parse(records: &[divoc_model::RegistryRecord]) -> Result<Vec<Candidate<'_>>, ServiceError> {
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
