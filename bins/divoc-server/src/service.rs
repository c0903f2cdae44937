//! The request pipeline without HTTP: store lookup, selection, cache key, then
//! QR and PDF. Everything here blocks, so handlers call it on the blocking pool
//! (`web::block`) or, for renders, on the render pool.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web::Bytes;
use divoc_model::{RegistryRecord, VaccinationCredential};
use divoc_pdf::{CertificateInput, PdfRenderer};
use divoc_qr::{CertificateQr, QrOptions};
use divoc_select::{Candidate, SelectError, latest, match_date_of_birth, previous_doses};
use divoc_store::{AuditEvent, Store, StoreError};

use crate::audit::AuditWriter;

use crate::cache::{CacheKey, CacheStats, FileKind, RenderCache, TemplateVersion};
use crate::redact::certificate_ref;

/// The certificate chosen for a file and the cache key of that file, before
/// anything is rendered.
#[derive(Debug)]
pub struct Selection {
    kind: FileKind,
    records: Vec<RegistryRecord>,
    /// The credential of each of `records`, in the same order, parsed once
    /// for the choice and kept for the render.
    credentials: Vec<VaccinationCredential>,
    certificate_id: String,
    key: CacheKey,
    /// Language of a PDF as resolved by the renderer; `None` prints the
    /// deployment's default language.
    // NOTE: `None` and `in_language(None)` print the same file under two
    // cache keys, so every PDF route calls `in_language`.
    language: Option<String>,
}

impl Selection {
    /// Returns the kind of file.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// Returns the `certificateId` of the chosen certificate.
    pub fn certificate_id(&self) -> &str {
        &self.certificate_id
    }

    /// Returns the key of the file in the render cache, from which its ETag comes.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// Returns the stored record of the chosen certificate.
    pub fn chosen_record(&self) -> Option<&RegistryRecord> {
        self.records
            .iter()
            .find(|record| record.certificate_id == self.certificate_id)
    }
}

/// The result of [`CertificateService::render`].
#[derive(Debug)]
pub enum Rendered {
    /// Another request stored the file in the cache meanwhile.
    Cached(Bytes),
    /// A new file, not yet in the cache.
    New(Vec<u8>),
}

/// Counters of the file routes, for the metrics route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceMetrics {
    /// The render cache.
    pub cache: CacheStats,
    /// PDF and QR renders done.
    pub renders: u64,
    /// 304 responses to `If-None-Match`.
    pub not_modified: u64,
    /// Audit events dropped because the audit queue was full.
    pub audit_events_dropped: u64,
    /// Store lookups that ran on the primary because the read replica failed.
    pub replica_failures: u64,
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
    /// Day of `date` in the configured zone, as the PDF prints it.
    pub local_date: Option<String>,
    /// Vaccine name.
    pub vaccine: Option<String>,
}

impl CertificateSummary {
    fn of(candidate: &Candidate<'_>, zone: chrono_tz::Tz) -> Self {
        let evidence = candidate.credential.evidence();
        let date = evidence.and_then(|e| e.date.clone());
        CertificateSummary {
            pre_enrollment_code: candidate.record.pre_enrollment_code.clone(),
            certificate_id: candidate.certificate_id().to_owned(),
            name: candidate.credential.credential_subject.name.clone(),
            dose: evidence.and_then(|e| e.dose),
            total_doses: evidence.and_then(|e| e.total_doses),
            local_date: local_date(date.as_deref(), zone),
            date,
            vaccine: evidence.and_then(|e| e.vaccine.clone()),
        }
    }
}

/// Returns the day of the vaccination time `date` in `zone` as `YYYY-MM-DD`,
/// the day the PDF prints, or `None` for a missing date or one that cannot
/// be read.
pub fn local_date(date: Option<&str>, zone: chrono_tz::Tz) -> Option<String> {
    let date = divoc_model::parse_vaccination_date(date?)?;
    Some(date.day_in(&zone).format("%Y-%m-%d").to_string())
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
    template: TemplateVersion,
    cache: RenderCache,
    audit: AuditWriter,
    renders: AtomicU64,
    not_modified: AtomicU64,
}

impl CertificateService {
    /// Returns the zone in which vaccination times are shown (`pdf.timezone`).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.renderer.settings().time_zone
    }

    /// Composes a service from its parts and computes the template version of
    /// its cache keys from the renderer settings.
    pub fn new(
        store: Store,
        renderer: PdfRenderer,
        qr_options: QrOptions,
        png_pixels_per_module: u32,
        cache: RenderCache,
        audit: AuditWriter,
    ) -> Self {
        let template =
            TemplateVersion::new(renderer.settings(), &qr_options, png_pixels_per_module)
                .with_languages(&renderer);
        CertificateService {
            store,
            renderer,
            qr_options,
            png_pixels_per_module,
            template,
            cache,
            audit,
            renders: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
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

    /// Chooses the latest certificate of a beneficiary that `scope` may reach,
    /// for a `kind` file. A PDF shows all of the beneficiary's reachable
    /// certificates in its doses table.
    pub fn select_by_beneficiary(
        &self,
        kind: FileKind,
        beneficiary_id: &str,
        scope: &Scope,
    ) -> Result<Selection, ServiceError> {
        let records = self.beneficiary_records(beneficiary_id, scope)?;
        self.select(kind, records)
    }

    /// Chooses one certificate, found by id among those registered to a mobile
    /// number, for a `kind` file. A PDF shows only this certificate's dose in its
    /// doses table, as DIVOC does.
    pub fn select_by_certificate(
        &self,
        kind: FileKind,
        mobile: &str,
        certificate_id: &str,
    ) -> Result<Selection, ServiceError> {
        let record = self
            .store
            .certificate_by_mobile_and_id(mobile, certificate_id)?;
        self.select(kind, record.into_iter().collect())
    }

    /// Picks the latest of `records` and computes the cache key of its file. A PDF
    /// is rendered from all of `records` (the doses table), a QR code only from
    /// the chosen one.
    fn select(
        &self,
        kind: FileKind,
        records: Vec<RegistryRecord>,
    ) -> Result<Selection, ServiceError> {
        let candidates = parse(&records)?;
        let chosen = latest(&candidates).ok_or(ServiceError::NotFound)?;
        let key = match kind {
            FileKind::Pdf => {
                let inputs: Vec<&RegistryRecord> = records.iter().collect();
                CacheKey::new(&self.template, kind, chosen.record, &inputs)
            }
            FileKind::QrPng => CacheKey::new(&self.template, kind, chosen.record, &[chosen.record]),
        };
        let certificate_id = chosen.certificate_id().to_owned();
        let credentials = candidates
            .into_iter()
            .map(|candidate| candidate.credential)
            .collect();
        Ok(Selection {
            kind,
            records,
            credentials,
            certificate_id,
            key,
            language: None,
        })
    }

    /// Returns the language printed for a request for `requested`:
    /// the request's language if it has a label set, else the default.
    pub fn resolve_language(&self, requested: Option<&str>) -> &str {
        self.renderer.resolve_language(requested)
    }

    /// Makes `selection` a PDF printed in `requested` (resolved as by
    /// [`CertificateService::resolve_language`]), with its own cache key.
    pub fn in_language(&self, mut selection: Selection, requested: Option<&str>) -> Selection {
        let language = self.renderer.resolve_language(requested).to_owned();
        selection.key = selection.key.in_language(&language);
        selection.language = Some(language);
        selection
    }

    /// Returns the file of `selection` from the cache, counting a hit or a miss.
    pub fn cached(&self, selection: &Selection) -> Option<Bytes> {
        self.cache.get(&selection.key)
    }

    /// Renders the file of `selection`, unless another request has stored it in
    /// the cache since `selection`'s cache lookup. Pass a new file to
    /// [`CertificateService::keep`].
    pub fn render(&self, selection: Selection) -> Result<Rendered, ServiceError> {
        if let Some(file) = self.cache.get_uncounted(&selection.key) {
            return Ok(Rendered::Cached(file));
        }
        let Selection {
            kind,
            records,
            credentials,
            language,
            ..
        } = selection;
        let candidates: Vec<Candidate<'_>> = records
            .iter()
            .zip(credentials)
            .map(|(record, mut credential)| {
                if kind == FileKind::Pdf {
                    cut_printed_text(record, &mut credential);
                }
                Candidate { record, credential }
            })
            .collect();
        // Selection is deterministic, so this picks the certificate that
        // `select` picked from the same records.
        let chosen = latest(&candidates).ok_or(ServiceError::NotFound)?;
        let bytes = match kind {
            FileKind::Pdf => self.render_pdf(chosen, &candidates, language.as_deref())?,
            FileKind::QrPng => self.render_qr_png(chosen)?,
        };
        self.renders.fetch_add(1, Ordering::Relaxed);
        Ok(Rendered::New(bytes))
    }

    /// Copies a new file into the cache under `key` and returns the copy.
    ///
    /// Call it on an HTTP worker thread, not on a render thread. The allocator
    /// keeps memory per thread, and a long-lived cache entry allocated by a
    /// render thread would keep part of that thread's render-sized memory in use.
    pub fn keep(&self, key: CacheKey, bytes: &[u8]) -> Bytes {
        let file = Bytes::copy_from_slice(bytes);
        self.cache.insert(key, file.clone());
        file
    }

    /// Renders the PDF of `chosen` in `language`, with all of `candidates` in
    /// the doses table.
    fn render_pdf(
        &self,
        chosen: &Candidate<'_>,
        candidates: &[Candidate<'_>],
        language: Option<&str>,
    ) -> Result<Vec<u8>, ServiceError> {
        let certificate_id = chosen.certificate_id();
        let qr = self.qr(chosen)?;
        let rows = previous_doses(candidates);
        let doses: Vec<&divoc_model::Evidence> = rows
            .iter()
            .filter_map(|row| row.credential.evidence())
            .collect();
        let input = CertificateInput {
            certificate_id,
            credential: &chosen.credential,
            doses: &doses,
            qr: &qr,
            updated_at: chosen.record.os_updated_at,
        };
        self.renderer
            .render_in(&input, language)
            .map_err(|error| render_error(certificate_id, error.to_string()))
    }

    /// Renders the QR PNG of `chosen`.
    fn render_qr_png(&self, chosen: &Candidate<'_>) -> Result<Vec<u8>, ServiceError> {
        self.qr(chosen)?
            .to_png(self.png_pixels_per_module)
            .map_err(|error| render_error(chosen.certificate_id(), error.to_string()))
    }

    /// Counts a 304 response.
    pub fn count_not_modified(&self) {
        self.not_modified.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns the counters of the file routes and the cache.
    pub fn metrics(&self) -> ServiceMetrics {
        ServiceMetrics {
            cache: self.cache.stats(),
            renders: self.renders.load(Ordering::Relaxed),
            not_modified: self.not_modified.load(Ordering::Relaxed),
            audit_events_dropped: self.audit.dropped(),
            replica_failures: self.store.replica_failures(),
        }
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
                summaries.push(CertificateSummary::of(chosen, self.time_zone()));
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
        self.audit.record(event.clone());
    }

    /// Writes the queued audit events and stops the audit writer. Events
    /// recorded afterwards are dropped and logged.
    pub fn close_audit(&self) {
        self.audit.close();
    }

    fn qr(&self, chosen: &Candidate<'_>) -> Result<CertificateQr, ServiceError> {
        CertificateQr::new(chosen.record.certificate.as_bytes(), &self.qr_options).map_err(
            |error| {
                let reason = crate::import_check::too_large_reason(&error, self.qr_options.form)
                    .unwrap_or_else(|| error.to_string());
                render_error(chosen.certificate_id(), reason)
            },
        )
    }
}

/// Cuts the printed text fields of a stored credential to the limits that
/// the import enforces (see [`VaccinationCredential::cut_printed_text`]). A
/// record imported before the limits, or written by other code, may exceed
/// them, and the PDF lays out every character of a field before it cuts it.
fn cut_printed_text(record: &RegistryRecord, credential: &mut VaccinationCredential) {
    let fields = credential.cut_printed_text();
    if fields > 0 {
        tracing::warn!(
            certificate.reference = %certificate_ref(&record.certificate_id),
            fields,
            "stored certificate has text fields over the import's length limits; \
             they were cut before rendering"
        );
    }
}

pub(crate) fn parse(records: &[RegistryRecord]) -> Result<Vec<Candidate<'_>>, ServiceError> {
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
