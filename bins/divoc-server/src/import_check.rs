//! The `import` command's reading of an export: parsing, and the QR capacity
//! check of each certificate, on a second thread, so that both overlap with
//! the store's writing.
//!
//! The QR check lives here and not in divoc-store, because the store has no
//! notion of QR codes: only the server turns a stored credential into one, in
//! the payload form of its `qr.payload` setting.
//!
//! NOTE: [`import_reader_checked`] repeats the thread set-up of
//! `Store::import_reader_with`, because that takes no check of its own for
//! each entry. A hook there would let both share it.

use std::io::BufRead;
use std::sync::mpsc;
use std::thread;

use divoc_model::{ExportEntry, ExportItem, ExportReader, ModelError};
use divoc_qr::{PayloadForm, QrError};
use divoc_store::{
    IMPORT_BATCH_ENTRIES, ImportOptions, ImportProgress, ImportSummary, Store, StoreError,
};

/// Entries that the parsing thread sends at a time.
const PARSED_CHUNK_ENTRIES: usize = 512;
/// Chunks that may wait in the channel: two batches' worth, as in
/// `Store::import_reader`, so the parser keeps working while a batch is written.
const PARSED_CHUNKS_QUEUED: usize = 2 * IMPORT_BATCH_ENTRIES / PARSED_CHUNK_ENTRIES;

/// Imports an export like `Store::import_reader_with`, and also rejects a
/// certificate whose signed credential does not fit in a QR code in `form`.
/// Such a certificate was accepted before and failed on every download.
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
    thread::scope(|scope| {
        let (sender, receiver) =
            mpsc::sync_channel::<Vec<Result<ExportItem, ModelError>>>(PARSED_CHUNKS_QUEUED);
        thread::Builder::new()
            .name("export-parser".to_owned())
            .spawn_scoped(scope, move || parse_and_check(reader, form, &sender))
            .map_err(|error| {
                StoreError::Import(ModelError::Export {
                    reason: format!("starting the parsing thread failed: {error}"),
                })
            })?;
        // Dropping the receiver when the import ends, also after an error,
        // makes the parsing thread's next send fail, so it stops.
        store.import_stream_with(receiver.into_iter().flatten(), options, progress)
    })
}

/// Parses entries, checks the QR capacity of each certificate, and sends
/// them in chunks until the input ends, an entry is invalid or the receiver
/// is gone.
fn parse_and_check<R: BufRead>(
    reader: R,
    form: PayloadForm,
    sender: &mpsc::SyncSender<Vec<Result<ExportItem, ModelError>>>,
) {
    let mut chunk = Vec::with_capacity(PARSED_CHUNK_ENTRIES);
    for entry in ExportReader::new(reader) {
        let entry = entry.and_then(|item| check_qr_capacity(item, form));
        let failed = entry.is_err();
        chunk.push(entry);
        if chunk.len() == PARSED_CHUNK_ENTRIES || failed {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(PARSED_CHUNK_ENTRIES));
            if sender.send(full).is_err() || failed {
                return;
            }
        }
    }
    if !chunk.is_empty() {
        // A closed receiver means the import has already ended.
        let _ = sender.send(chunk);
    }
}

/// Returns `item` unless it is a certificate whose signed credential does not
/// fit in a QR code in `form`.
///
/// # Errors
///
/// [`ModelError::Record`] for the `certificate` field, with the payload size
/// and the capacity.
fn check_qr_capacity(item: ExportItem, form: PayloadForm) -> Result<ExportItem, ModelError> {
    let ExportEntry::Certificate { record, .. } = &item.entry else {
        return Ok(item);
    };
    match divoc_qr::check_qr_capacity(record.certificate.as_bytes(), form) {
        Ok(_) => Ok(item),
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
    let setting = match form {
        PayloadForm::DivocExpanded => "divoc",
        PayloadForm::Raw => "raw",
    };
    match error {
        QrError::PayloadTooLarge {
            payload_bytes,
            capacity_bytes,
            ..
        } => format!(
            "the signed credential does not fit in a QR code: its zipped QR payload \
             (qr.payload = \"{setting}\") is {payload_bytes} bytes, and a QR code holds \
             at most {capacity_bytes}"
        ),
        other => format!("the signed credential cannot be put in a QR code: {other}"),
    }
}
