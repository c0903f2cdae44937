//! Helpers of the streaming import: the duplicate-id set, the keys counted in
//! earlier batches, progress counts and parsing on a second thread.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::io::BufRead;
use std::sync::mpsc;
use std::thread;

use divoc_model::{ExportItem, ExportReader, ModelError};

use crate::{ImportOptions, ImportSummary, RowCounts, Store, StoreError};

/// Entries that the parsing thread sends at a time.
const PARSED_CHUNK_ENTRIES: usize = 512;
/// Chunks that may wait in the channel: two batches' worth, so the parser
/// keeps working while a batch is written. With the batch being written, this
/// bounds what the two threads hold together, about three batches.
const PARSED_CHUNKS_QUEUED: usize = 2 * crate::IMPORT_BATCH_ENTRIES / PARSED_CHUNK_ENTRIES;

/// Counts of a streaming import so far, reported after each written batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Entries read and written, certificates and revocations together.
    pub entries: usize,
    /// Certificate entries among them.
    pub certificates: usize,
    /// Revocation entries among them.
    pub revocations: usize,
}

/// 64-bit hashes of the certificate ids seen so far in one import.
///
/// The hash is SipHash with random keys ([`RandomState`]), so which ids
/// collide differs from one import to the next.
pub(crate) struct SeenCertificateIds {
    hashes: HashSet<u64, BuildHasherDefault<PassThroughHasher>>,
    keys: RandomState,
}

impl SeenCertificateIds {
    pub(crate) fn new() -> Self {
        Self {
            hashes: HashSet::default(),
            keys: RandomState::new(),
        }
    }

    /// Adds an id. Returns `false` when its hash was seen before.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        self.hashes.insert(self.keys.hash_one(id))
    }
}

/// The field of [`RowCounts`] that one row counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowChange {
    Inserted,
    Updated,
    Unchanged,
    /// Not written, because the stored row was updated later.
    Older,
}

/// The keys that earlier batches of one import counted, so that a key that
/// occurs again in a later batch is counted once.
///
/// A streaming import rejects a repeated certificate id, but a revocation key
/// may occur in several batches of one file. Its later entry then finds the
/// row that the earlier batch wrote, and would count again as updated or
/// unchanged. The set contains each revoked certificate id of the import.
pub(crate) struct CountedKeys {
    /// Each key counted so far, with how it was counted. `None` counts every
    /// row, for keys that occur in one batch only.
    keys: Option<HashMap<Box<str>, RowChange>>,
}

impl CountedKeys {
    /// Counts every row: for keys that occur in one batch only, such as
    /// certificate ids, or the rows of an import written in one batch.
    pub(crate) fn within_batch() -> Self {
        Self { keys: None }
    }

    /// Counts each key once over all batches of one import.
    pub(crate) fn across_batches() -> Self {
        Self {
            keys: Some(HashMap::new()),
        }
    }

    /// Adds one row of the current batch to `counts`, unless an earlier batch
    /// counted its key. A key counted as unchanged moves to updated when a
    /// later batch changes its row. `counts` must be the same running total
    /// in every call of one import.
    ///
    /// NOTE: a later batch that restores the values stored before the import
    /// leaves the key counted as updated, while [`crate::Store::import`] of
    /// the whole file would count it unchanged. Telling the two apart would
    /// need the stored row of each key kept from before the import.
    pub(crate) fn count(&mut self, counts: &mut RowCounts, key: &str, change: RowChange) {
        let Some(keys) = &mut self.keys else {
            counts.add_one(change);
            return;
        };
        match keys.get_mut(key) {
            None => {
                keys.insert(key.into(), change);
                counts.add_one(change);
            }
            Some(earlier) => {
                if *earlier == RowChange::Unchanged && change == RowChange::Updated {
                    counts.unchanged -= 1;
                    counts.updated += 1;
                    *earlier = RowChange::Updated;
                }
            }
        }
    }
}

/// Uses a `u64` that is already a random hash as its own hash, so the set does
/// not hash it a second time.
#[derive(Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl Store {
    /// Reads a registry export with [`ExportReader`] on a second thread and
    /// writes it with [`Store::import_stream`], so parsing and writing overlap.
    ///
    /// JSON lines are streamed with bounded memory. A JSON array or registry
    /// search response is one JSON document and is read whole (see
    /// [`ExportReader`]).
    ///
    /// # Errors
    ///
    /// As for [`Store::import_stream`]. A read error of `reader` is an invalid
    /// export ([`StoreError::Import`]), and nothing is written.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::{Store, StoreError, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let export = concat!(
    ///     r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000001","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"}"#,
    ///     "\n",
    ///     r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000002","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":2}]}"}"#,
    ///     "\n",
    /// );
    /// // Any `BufRead` serves, such as a `BufReader` over an opened file.
    /// let summary = store.import_reader(export.as_bytes(), &mut |_| {})?;
    /// assert_eq!(summary.certificate_rows.inserted, 2);
    ///
    /// // A certificate id repeated in the file fails the import.
    /// let repeated = format!("{export}{export}");
    /// let error = store.import_reader(repeated.as_bytes(), &mut |_| {}).unwrap_err();
    /// assert!(matches!(error, StoreError::Import(_)));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn import_reader<R: BufRead + Send>(
        &self,
        reader: R,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary, StoreError> {
        self.import_reader_with(reader, &ImportOptions::default(), progress)
    }

    /// Reads and writes a registry export like [`Store::import_reader`], as
    /// `options` set.
    ///
    /// # Errors
    ///
    /// As for [`Store::import_stream_with`].
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::{ImportOptions, Store, StoreError, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let export = r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000001","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"}"#;
    /// let first_load = ImportOptions {
    ///     first_load: true,
    ///     ..ImportOptions::default()
    /// };
    /// let summary = store.import_reader_with(export.as_bytes(), &first_load, &mut |_| {})?;
    /// assert_eq!(summary.certificate_rows.inserted, 1);
    /// let again = store.import_reader_with(export.as_bytes(), &first_load, &mut |_| {});
    /// assert!(matches!(again, Err(StoreError::NotEmpty { .. })));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn import_reader_with<R: BufRead + Send>(
        &self,
        reader: R,
        options: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary, StoreError> {
        self.import_reader_checked(reader, options, &|_| Ok(()), progress)
    }

    /// Reads and writes a registry export like [`Store::import_reader_with`],
    /// and runs `check` on each valid entry on the parsing thread, before the
    /// entry reaches the store. An entry that `check` rejects ends the import
    /// like an invalid one.
    ///
    /// The check suits what the store cannot know, such as whether a
    /// credential fits in the QR code that a caller prints from it.
    ///
    /// ```
    /// use divoc_model::{ExportEntry, ModelError};
    /// use divoc_store::{ImportOptions, Store, StoreError, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let export = r#"{"preEnrollmentCode":"B1","certificateId":"C1","certificate":"{}"}"#;
    /// let no_test_ids = |item: &divoc_model::ExportItem| match &item.entry {
    ///     ExportEntry::Certificate { record, .. } if record.certificate_id.starts_with('C') => {
    ///         Err(ModelError::Export {
    ///             reason: format!("record {}: test id", item.position),
    ///         })
    ///     }
    ///     _ => Ok(()),
    /// };
    /// let result =
    ///     store.import_reader_checked(export.as_bytes(), &ImportOptions::default(), &no_test_ids, &mut |_| {});
    /// assert!(matches!(result, Err(StoreError::Import(_))));
    /// # Ok::<(), StoreError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`Store::import_stream_with`], and [`StoreError::Import`] with
    /// the error of `check`.
    pub fn import_reader_checked<R: BufRead + Send>(
        &self,
        reader: R,
        options: &ImportOptions,
        check: &(dyn Fn(&ExportItem) -> Result<(), ModelError> + Sync),
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary, StoreError> {
        thread::scope(|scope| {
            let (sender, receiver) =
                mpsc::sync_channel::<Vec<Result<ExportItem, ModelError>>>(PARSED_CHUNKS_QUEUED);
            thread::Builder::new()
                .name("export-parser".to_owned())
                .spawn_scoped(scope, move || parse_into(reader, check, &sender))
                .map_err(|error| {
                    StoreError::Import(ModelError::Export {
                        reason: format!("starting the parsing thread failed: {error}"),
                    })
                })?;
            // Dropping the receiver when the import ends, also after an error,
            // makes the parsing thread's next send fail, so it stops.
            self.import_stream_with(receiver.into_iter().flatten(), options, progress)
        })
    }
}

/// Parses entries, runs `check` on each valid one, and sends them in chunks
/// until the input ends, an entry is invalid or the receiver is gone.
fn parse_into<R: BufRead>(
    reader: R,
    check: &(dyn Fn(&ExportItem) -> Result<(), ModelError> + Sync),
    sender: &mpsc::SyncSender<Vec<Result<ExportItem, ModelError>>>,
) {
    let mut chunk = Vec::with_capacity(PARSED_CHUNK_ENTRIES);
    for entry in ExportReader::new(reader) {
        let entry = entry.and_then(|item| check(&item).map(|()| item));
        let failed = entry.is_err();
        chunk.push(entry);
        if chunk.len() == PARSED_CHUNK_ENTRIES || failed {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(PARSED_CHUNK_ENTRIES));
            // The import ends at the first invalid entry, so parsing stops too.
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
