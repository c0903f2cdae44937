//! The `import` command's QR capacity check of each certificate, which runs on
//! the store's parsing thread (see `Store::import_reader_checked`).
//!
//! The check lives here and not in divoc-store, because the store has no
//! notion of QR codes: only the server turns a stored credential into one, in
//! the payload form of its `qr.payload` setting.

use std::io::BufRead;

use divoc_model::{ExportEntry, ExportItem, ModelError};
use divoc_qr::{PayloadForm, QrError};
use divoc_store::{ImportOptions, ImportProgress, ImportSummary, Store, StoreError};

/// Imports an export like `Store::import_reader_with`, and also rejects a
/// certificate whose signed credential does not fit in a QR code in `form`.
/// Without the check, such a certificate is imported and every download of it
/// fails.
///
/// # Errors
///
/// As for `Store::import_reader_with`. A certificate that does not fit is
/// [`StoreError::Import`] naming the record, the payload size and the
/// capacity, and nothing of the export is written.
pub fn import_reader_checked<R: BufRead + Send>(
    store: &Store,
    reader: R,
    options: &ImportOptions,
    form: PayloadForm,
    progress: &mut dyn FnMut(&ImportProgress),
) -> Result<ImportSummary, StoreError> {
    let check = |item: &ExportItem| check_qr_capacity(item, form);
    store.import_reader_checked(reader, options, &check, progress)
}

/// Checks that `item`, when it is a certificate, has a signed credential that
/// fits in a QR code in `form`.
///
/// # Errors
///
/// [`ModelError::Record`] for the `certificate` field, with the payload size
/// and the capacity.
fn check_qr_capacity(item: &ExportItem, form: PayloadForm) -> Result<(), ModelError> {
    let ExportEntry::Certificate { record, .. } = &item.entry else {
        return Ok(());
    };
    match divoc_qr::check_qr_capacity(record.certificate.as_bytes(), form) {
        Ok(_) => Ok(()),
        Err(error) => Err(ModelError::Record {
            // As divoc-model labels a record in its errors.
            record: format!(
                "record {} (certificateId {})",
                item.position, record.certificate_id
            ),
            field: "certificate".to_owned(),
            reason: capacity_reason(&error, form),
        }),
    }
}

/// Describes why a certificate does not fit in a QR code.
fn capacity_reason(error: &QrError, form: PayloadForm) -> String {
    too_large_reason(error, form)
        .unwrap_or_else(|| format!("the signed credential cannot be put in a QR code: {error}"))
}

/// Describes a payload too large for a QR code, naming the `qr.payload`
/// setting that chose its form; `None` for other errors.
pub(crate) fn too_large_reason(error: &QrError, form: PayloadForm) -> Option<String> {
    let setting = match form {
        PayloadForm::DivocExpanded => "divoc",
        PayloadForm::Raw => "raw",
    };
    match error {
        QrError::PayloadTooLarge {
            payload_bytes,
            capacity_bytes,
            ..
        } => Some(format!(
            "the signed credential does not fit in a QR code: its zipped QR payload \
             (qr.payload = \"{setting}\") is {payload_bytes} bytes, and a QR code holds \
             at most {capacity_bytes}"
        )),
        _ => None,
    }
}
