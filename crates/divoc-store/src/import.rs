//! Writing registry exports into the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc;
use std::thread;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::upsert::excluded;
use divoc_model::{ExportEntry, ExportItem, ModelError, parse_export};

use crate::bulk::WriteNewRows;
use crate::first_load::{
    ImportOptions, IndexStatements, POSTGRES_DEFER_INDEXES_AFTER, SQLITE_DEFER_INDEXES_AFTER,
    build_certificate_indexes, check_revoked_certificate_owners, drop_certificate_indexes,
    require_empty_store, take_tables_when_alone,
};
use crate::lookahead::StoredCertificateReader;
use crate::rows::{
    CERTIFICATE_COLUMNS, NewCertificate, NewRevocation, REVOCATION_COLUMNS, StoredCertificate,
    StoredRevocation,
};
use crate::schema::{certificates, revocations};
use crate::stream::{CountedKeys, ImportProgress, RowChange, SeenCertificateIds};
use crate::{Store, StoreError};

/// Maximum bound parameters per multi-row INSERT on SQLite. The bundled SQLite
/// allows 32,766 (its `SQLITE_MAX_VARIABLE_NUMBER` default).
pub(crate) const SQLITE_MAX_BOUND_PARAMETERS: usize = 32_000;
/// Maximum bound parameters per multi-row INSERT on PostgreSQL, whose protocol
/// allows 65,535.
pub(crate) const POSTGRES_MAX_BOUND_PARAMETERS: usize = 65_000;

/// Row counts of one table after an import. Each distinct key counts once, so
/// the four numbers add up to the distinct keys of the import, not to its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Rows whose key was not stored before.
    pub inserted: usize,
    /// Stored rows that the import changed.
    pub updated: usize,
    /// Stored rows that already contained exactly the imported values.
    pub unchanged: usize,
    /// Stored certificates left as they were because their `osUpdatedAt` is
    /// later than the imported record's, as when an older export is imported
    /// again. Always 0 for revocations, which have no update time.
    pub older: usize,
}

/// The result of a committed import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Certificate entries in the import, duplicates included.
    pub certificates: usize,
    /// Revocation entries in the import, duplicates included.
    pub revocations: usize,
    /// Effect on the `certificates` table.
    pub certificate_rows: RowCounts,
    /// Effect on the `revocations` table.
    pub revocation_rows: RowCounts,
}

/// Cause of a rolled-back import transaction.
pub(crate) enum ImportFailure {
    Invalid(ModelError),
    /// A first load found rows stored.
    NotEmpty,
    Query(&'static str, diesel::result::Error),
}

impl From<diesel::result::Error> for ImportFailure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Query("import transaction", error)
    }
}

/// Writes one table's rows and adds them to `$counts`, the [`RowCounts`] of
/// the whole import, through `$counted_keys` (a [`CountedKeys`]).
///
/// On SQLite, `$insert_absent` inserts each chunk first, skipping stored keys,
/// and returns the keys it inserted, so only the skipped rows are read back.
/// Once most rows so far were stored already, the stored rows of each chunk
/// are read first instead, as on PostgreSQL.
/// On PostgreSQL it returns `None`, and the stored rows of each chunk are read
/// first, unless `$all_new` is `true` because none is stored. They are taken
/// from `$preloaded`, an `Option<&mut HashMap<String, $stored>>` by key, when
/// it is `Some`: the rows that a [`StoredCertificateReader`] read. Rows that
/// already contain the imported values are skipped, so a repeated import
/// writes nothing. New rows go to `$write_new`
/// (see [`WriteNewRows`]), and changed rows are upserted with multi-row
/// statements.
/// (diesel 2.4 cannot put a `WHERE` on the `DO UPDATE` of a multi-row SQLite
/// upsert, which would otherwise do the comparison in SQL.)
///
/// `$rows` must be sorted by key, so that rows are written in the same order
/// whatever the order of the file.
macro_rules! upsert_rows {
    (
        $connection:ident,
        $rows:expr,
        $columns:expr,
        $table:ident,
        $key:ident,
        $stored:ty,
        $changes:expr,
        $operation:expr,
        $max_parameters:expr,
        $owner_conflict:expr,
        $write_new:expr,
        $insert_absent:expr,
        $all_new:expr,
        $preloaded:expr,
        $counts:expr,
        $counted_keys:expr
    ) => {{
        let counts: &mut RowCounts = $counts;
        let mut preloaded: Option<&mut HashMap<String, $stored>> = $preloaded;
        let counted_keys: &mut CountedKeys = $counted_keys;
        for chunk in $rows.chunks($max_parameters / $columns) {
            // Once most rows of the import were stored already, as when a
            // registry sends its whole export again, each chunk's stored rows
            // are read first. Otherwise an SQLite insert would compress every
            // credential only to skip its row.
            let mostly_stored = counts.updated + counts.unchanged + counts.older > counts.inserted;
            let inserted = if $all_new || mostly_stored {
                None
            } else {
                let rows: Vec<_> = chunk.iter().collect();
                ($insert_absent)($connection, rows.as_slice())
                    .map_err(|error| ImportFailure::Query($operation, error))?
            };
            // The rows left to compare with the stored ones: the whole chunk,
            // or the rows that the insert skipped because their key is stored.
            let pending: Vec<_> = match &inserted {
                Some(keys) => {
                    for key in keys {
                        counted_keys.count(counts, key, RowChange::Inserted);
                    }
                    let keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
                    chunk
                        .iter()
                        .filter(|row| !keys.contains(row.$key))
                        .collect()
                }
                None => chunk.iter().collect(),
            };
            if pending.is_empty() {
                continue;
            }
            let keys: Vec<&str> = pending.iter().map(|row| row.$key).collect();
            let stored: Vec<$stored> = if $all_new {
                Vec::new()
            } else if let Some(preloaded) = preloaded.as_deref_mut() {
                keys.iter()
                    .filter_map(|key| preloaded.remove(*key))
                    .collect()
            } else {
                $table::table
                    .filter($table::$key.eq_any(&keys))
                    .select(<$stored>::as_select())
                    .load($connection)
                    .map_err(|error| ImportFailure::Query($operation, error))?
            };
            let stored: HashMap<&str, &$stored> =
                stored.iter().map(|row| (row.key(), row)).collect();

            let mut new = Vec::with_capacity(pending.len());
            let mut changed = Vec::new();
            for row in pending {
                match stored.get(row.$key) {
                    Some(stored) if stored.owner() != row.owner() => {
                        return Err(ImportFailure::Invalid(($owner_conflict)(row.$key)));
                    }
                    None => {
                        counted_keys.count(counts, row.$key, RowChange::Inserted);
                        new.push(row);
                    }
                    Some(stored) if row.matches(stored) => {
                        counted_keys.count(counts, row.$key, RowChange::Unchanged);
                    }
                    Some(stored) if row.is_older_than(stored) => {
                        counted_keys.count(counts, row.$key, RowChange::Older);
                    }
                    Some(_) => {
                        counted_keys.count(counts, row.$key, RowChange::Updated);
                        changed.push(row);
                    }
                }
            }
            if !new.is_empty() {
                ($write_new)($connection, new.as_slice())
                    .map_err(|error| ImportFailure::Query($operation, error))?;
            }
            if changed.is_empty() {
                continue;
            }
            diesel::insert_into($table::table)
                .values(changed)
                .on_conflict(($table::pre_enrollment_code, $table::$key))
                .do_update()
                .set($changes)
                .execute($connection)
                .map_err(|error| ImportFailure::Query($operation, error))?;
        }
    }};
}

/// Checks that no stored row of `$table` names one of `$rows`' ids for another
/// beneficiary. Lookups match a revocation to its certificate by beneficiary id
/// and certificate id together, so that a distributed database finds both on
/// one node. A certificate and its revocation under two beneficiary ids would
/// leave the revoked certificate served, so the import rejects them.
macro_rules! check_owners {
    (
        $connection:ident,
        $rows:expr,
        $row_id:ident,
        $table:ident,
        $table_id:ident,
        $items:expr,
        $kind:expr,
        $reason:expr,
        $max_parameters:expr
    ) => {{
        for chunk in $rows.chunks($max_parameters) {
            let ids: Vec<&str> = chunk.iter().map(|row| row.$row_id).collect();
            let stored: HashMap<String, String> = $table::table
                .filter($table::$table_id.eq_any(&ids))
                .select(($table::$table_id, $table::pre_enrollment_code))
                .load::<(String, String)>($connection)
                .map_err(|error| ImportFailure::Query("beneficiary id check", error))?
                .into_iter()
                .collect();
            for row in chunk {
                if let Some(owner) = stored.get(row.$row_id)
                    && owner != row.owner()
                {
                    return Err(ImportFailure::Invalid(owner_conflict(
                        $items,
                        $kind,
                        row.$row_id,
                        $reason,
                    )));
                }
            }
        }
    }};
}

/// Adds the `certificate_mobiles` rows of certificates with a mobile number.
/// Rows already stored are left as they are.
///
/// The rows of a batch are sorted, and a repeated row is written once. A
/// beneficiary's certificates usually share a number and stand close together
/// in an export, so many repeats fall into one batch. (In an export of
/// `divoc-server generate`, 9.7 million certificates gave 4.2 million distinct
/// rows.)
macro_rules! write_mobile_rows {
    ($connection:ident, $rows:expr) => {{
        let mut mobile_rows: Vec<_> = $rows
            .iter()
            .filter_map(NewCertificate::mobile_row)
            .collect();
        mobile_rows.sort_unstable();
        mobile_rows.dedup();
        $connection
            .add_mobile_rows(&mobile_rows)
            .map_err(|error| ImportFailure::Query("mobile number import", error))?;
    }};
}

/// Validates and writes all items on one connection, inside the caller's
/// transaction, with at most `$max_parameters` bound parameters per statement,
/// and adds their counts to `$summary`, the [`ImportSummary`] of the whole
/// import. `$revocation_keys` is the [`CountedKeys`] of revocations.
/// `$new_certificates` is `true` when the caller has established that none of
/// the certificates is stored, so their stored rows are not read.
/// `$defer_owner_checks` is `true` when the caller checks the beneficiary ids
/// of revocations and certificates once at the end instead, with
/// [`crate::first_load::check_revoked_certificate_owners`].
/// `$stored_certificates` is an `Option<&mut HashMap<String, StoredCertificate>>`
/// of stored certificates already read for these items, or `None` to read
/// them here.
macro_rules! write_items {
    (
        $connection:ident,
        $items:expr,
        $max_parameters:expr,
        $new_certificates:expr,
        $defer_owner_checks:expr,
        $stored_certificates:expr,
        $summary:expr,
        $revocation_keys:expr
    ) => {{
        let summary: &mut ImportSummary = $summary;

        let certificate_rows = certificate_rows($items, summary)?;
        // A certificate id occurs in one batch only: a streaming import
        // rejects a repeated one.
        let mut certificate_keys = CountedKeys::within_batch();
        upsert_rows!(
            $connection,
            certificate_rows,
            CERTIFICATE_COLUMNS,
            certificates,
            certificate_id,
            StoredCertificate,
            (
                certificates::mobile.eq(excluded(certificates::mobile)),
                certificates::name.eq(excluded(certificates::name)),
                certificates::contact.eq(excluded(certificates::contact)),
                certificates::program_id.eq(excluded(certificates::program_id)),
                certificates::certificate.eq(excluded(certificates::certificate)),
                certificates::meta.eq(excluded(certificates::meta)),
                certificates::osid.eq(excluded(certificates::osid)),
                certificates::os_created_at.eq(excluded(certificates::os_created_at)),
                certificates::os_updated_at.eq(excluded(certificates::os_updated_at)),
                certificates::dose.eq(excluded(certificates::dose)),
            ),
            "certificate import",
            $max_parameters,
            |id: &str| owner_conflict(
                $items,
                EntryKind::Certificate,
                id,
                "is stored for another beneficiary; a certificate belongs to one beneficiary"
            ),
            |connection: &mut _, rows: &[&NewCertificate<'_>]| {
                WriteNewRows::insert_new_certificates(connection, rows)
            },
            |connection: &mut _, rows: &[&NewCertificate<'_>]| {
                WriteNewRows::insert_absent_certificates(connection, rows)
            },
            $new_certificates,
            $stored_certificates,
            &mut summary.certificate_rows,
            &mut certificate_keys
        );
        if !$defer_owner_checks {
            check_owners!(
                $connection,
                certificate_rows,
                certificate_id,
                revocations,
                revoked_certificate_id,
                $items,
                EntryKind::Certificate,
                "is revoked by a record of another beneficiary",
                $max_parameters
            );
        }
        write_mobile_rows!($connection, certificate_rows);

        // Revocations are validated after the certificates were written. An
        // invalid one rolls back the whole transaction, certificates included.
        let revocation_rows = revocation_rows($items, summary)?;
        if !$defer_owner_checks {
            check_owners!(
                $connection,
                revocation_rows,
                revoked_certificate_id,
                certificates,
                certificate_id,
                $items,
                EntryKind::Revocation,
                REVOKES_OTHER_BENEFICIARY,
                $max_parameters
            );
        }
        upsert_rows!(
            $connection,
            revocation_rows,
            REVOCATION_COLUMNS,
            revocations,
            revoked_certificate_id,
            StoredRevocation,
            (
                revocations::certificate_id.eq(excluded(revocations::certificate_id)),
                revocations::dose.eq(excluded(revocations::dose)),
                revocations::previous_certificate_id
                    .eq(excluded(revocations::previous_certificate_id)),
            ),
            "revocation import",
            $max_parameters,
            |id: &str| owner_conflict(
                $items,
                EntryKind::Revocation,
                id,
                REVOKED_BY_OTHER_BENEFICIARY
            ),
            |connection: &mut _, rows: &[&NewRevocation<'_>]| {
                WriteNewRows::insert_new_revocations(connection, rows)
            },
            |connection: &mut _, rows: &[&NewRevocation<'_>]| {
                WriteNewRows::insert_absent_revocations(connection, rows)
            },
            false,
            None,
            &mut summary.revocation_rows,
            $revocation_keys
        );
        Ok::<(), ImportFailure>(())
    }};
}

impl Store {
    /// Writes validated export entries in one transaction.
    ///
    /// Certificates are keyed by `certificateId` and revocations by the id they
    /// revoke. An entry whose key is already stored replaces the stored row,
    /// unless both have an `osUpdatedAt` and the stored one is later. Then the
    /// stored row stays and counts in [`RowCounts::older`], so that importing
    /// an older export again does not undo the registry's later changes. A
    /// row that already contains the same values is not written again, so importing
    /// the same file twice changes nothing. When a key occurs twice in `items`
    /// for one beneficiary, the later entry wins. Timestamps are stored
    /// truncated to microseconds.
    ///
    /// Blank ids are checked again here, because `items` need not come from
    /// [`parse_export`]. The credential is not parsed again: `dose` is taken as given.
    ///
    /// # Errors
    ///
    /// Nothing is written when any of these occurs:
    ///
    /// * [`StoreError::Import`] for an entry with a blank `preEnrollmentCode` or
    ///   `certificateId`, naming its position and `certificateId`;
    /// * [`StoreError::Import`] for a certificate whose id is stored or given in
    ///   `items` for another beneficiary, a revocation of another beneficiary's
    ///   certificate, a certificate that another beneficiary's revocation names,
    ///   or a revoked id that revocations of two beneficiaries name;
    /// * [`StoreError::Unavailable`] or [`StoreError::Query`] when a statement fails.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::parse_export;
    /// use divoc_store::{ImportSummary, RowCounts, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let record = |updated: &str, name: &str| {
    ///     serde_json::json!({
    ///         "preEnrollmentCode": "BEN-1",
    ///         "certificateId": "100000001",
    ///         "osUpdatedAt": updated,
    ///         "certificate": format!(r#"{{"credentialSubject":{{"name":"{name}"}},"evidence":[{{"dose":1}}]}}"#),
    ///     })
    /// };
    /// let newer = parse_export(&format!("[{}]", record("2022-01-05T17:44:11Z", "Asha Rao")))?;
    /// let older = parse_export(&format!("[{}]", record("2022-01-05T17:43:34Z", "Asha R")))?;
    ///
    /// let summary = store.import(&newer)?;
    /// assert_eq!(summary.certificate_rows.inserted, 1);
    /// // The same entries again change nothing.
    /// assert_eq!(store.import(&newer)?.certificate_rows.unchanged, 1);
    /// // An older version of a stored record does not replace it.
    /// assert_eq!(
    ///     store.import(&older)?,
    ///     ImportSummary {
    ///         certificates: 1,
    ///         revocations: 0,
    ///         certificate_rows: RowCounts { older: 1, ..RowCounts::default() },
    ///         revocation_rows: RowCounts::default(),
    ///     }
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import(&self, items: &[ExportItem]) -> Result<ImportSummary, StoreError> {
        let result = match &self.backend {
            crate::backend::Backend::Sqlite(pool) => {
                let mut connection = pool
                    .get()
                    .map_err(|error| crate::backend::pool_error(&self.target, &error))?;
                // IMMEDIATE takes the write lock before the first read, so that
                // the wait for other writers applies. A deferred transaction that
                // reads and then writes fails at once when another connection
                // wrote in between.
                crate::backend::write_transaction_after_other_writers(
                    &mut connection,
                    self.sqlite_busy_timeout,
                    |connection| {
                        let mut summary = ImportSummary::default();
                        write_items!(
                            connection,
                            items,
                            SQLITE_MAX_BOUND_PARAMETERS,
                            false,
                            false,
                            None,
                            &mut summary,
                            &mut CountedKeys::within_batch()
                        )?;
                        Ok(summary)
                    },
                )
            }
            crate::backend::Backend::Postgres(pool, _) => {
                let mut connection = pool
                    .get()
                    .map_err(|error| crate::backend::pool_error(&self.target, &error))?;
                connection.transaction(|connection| {
                    plan_for_import(connection, SHARE_ROW_EXCLUSIVE)?;
                    let mut summary = ImportSummary::default();
                    write_items!(
                        connection,
                        items,
                        POSTGRES_MAX_BOUND_PARAMETERS,
                        false,
                        false,
                        None,
                        &mut summary,
                        &mut CountedKeys::within_batch()
                    )?;
                    finish_mobile_rows(connection)?;
                    Ok(summary)
                })
            }
        };
        let summary = result.map_err(|failure| self.import_error(failure))?;
        log_summary(self.backend_name(), &summary);
        Ok(summary)
    }

    pub(crate) fn import_error(&self, failure: ImportFailure) -> StoreError {
        match failure {
            ImportFailure::Invalid(error) => StoreError::Import(error),
            ImportFailure::NotEmpty => StoreError::NotEmpty {
                target: self.target.to_string(),
            },
            ImportFailure::Query(operation, error) => self.query_error(operation, error),
        }
    }

    /// Parses a registry export with [`parse_export`] and writes it with [`Store::import`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Import`] naming the first invalid entry, in which case nothing
    /// is written, or any error of [`Store::import`].
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::{Store, StoreError, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let export = r#"[
    ///     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001",
    ///      "certificate": "{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"},
    ///     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002",
    ///      "previousCertificateId": "100000001"}
    /// ]"#;
    /// let summary = store.import_text(export)?;
    /// assert_eq!((summary.certificates, summary.revocations), (1, 1));
    /// assert_eq!(summary.revocation_rows.inserted, 1);
    ///
    /// // An invalid entry fails the whole import, and nothing is written.
    /// let invalid = r#"[
    ///     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001",
    ///      "certificate": "{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"},
    ///     {"preEnrollmentCode": "BEN-2", "certificateId": "200000002", "certificate": "{}"}
    /// ]"#;
    /// assert!(matches!(store.import_text(invalid), Err(StoreError::Import(_))));
    /// assert!(!store.beneficiary_exists("BEN-2")?);
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn import_text(&self, text: &str) -> Result<ImportSummary, StoreError> {
        let items = parse_export(text)?;
        self.import(&items)
    }
}

/// Logs the counts of a committed import. Ids and values stay out of the log.
pub(crate) fn log_summary(backend: &'static str, summary: &ImportSummary) {
    tracing::info!(
        backend,
        certificates = summary.certificates,
        revocations = summary.revocations,
        certificates_inserted = summary.certificate_rows.inserted,
        certificates_updated = summary.certificate_rows.updated,
        certificates_unchanged = summary.certificate_rows.unchanged,
        certificates_older = summary.certificate_rows.older,
        revocations_inserted = summary.revocation_rows.inserted,
        revocations_updated = summary.revocation_rows.updated,
        revocations_unchanged = summary.revocation_rows.unchanged,
        "import committed"
    );
}

impl RowCounts {
    /// Counts one more row.
    pub(crate) fn add_one(&mut self, change: RowChange) {
        match change {
            RowChange::Inserted => self.inserted += 1,
            RowChange::Updated => self.updated += 1,
            RowChange::Unchanged => self.unchanged += 1,
            RowChange::Older => self.older += 1,
        }
    }
}

/// Validates the certificate entries and returns their rows sorted by key, the
/// last entry of each key winning. Two entries of one key for different
/// beneficiaries are an error, whichever comes first.
fn certificate_rows<'a>(
    items: &'a [ExportItem],
    summary: &mut ImportSummary,
) -> Result<Vec<NewCertificate<'a>>, ImportFailure> {
    let mut rows = BTreeMap::new();
    for item in items {
        let ExportEntry::Certificate { record, dose } = &item.entry else {
            continue;
        };
        // The label is formatted only for an error.
        let label = || record_label(item.position, &record.certificate_id);
        require_non_blank(&label, "preEnrollmentCode", &record.pre_enrollment_code)?;
        require_non_blank(&label, "certificateId", &record.certificate_id)?;
        summary.certificates += 1;
        let row = NewCertificate::new(record, *dose, &label).map_err(ImportFailure::Invalid)?;
        if let Some(earlier) = rows.insert(record.certificate_id.as_str(), row)
            && earlier.owner() != record.pre_enrollment_code
        {
            return Err(ImportFailure::Invalid(ModelError::Record {
                record: label(),
                field: "certificateId".to_owned(),
                reason: format!(
                    "{} is given for another beneficiary in an earlier record; a certificate \
                     belongs to one beneficiary",
                    record.certificate_id
                ),
            }));
        }
    }
    Ok(rows.into_values().collect())
}

/// Validates the revocation entries and returns their rows sorted by key, the
/// last entry of each key winning. Two entries of one revoked id for
/// different beneficiaries are an error, whichever comes first.
fn revocation_rows<'a>(
    items: &'a [ExportItem],
    summary: &mut ImportSummary,
) -> Result<Vec<NewRevocation<'a>>, ImportFailure> {
    let mut rows = BTreeMap::new();
    for item in items {
        let ExportEntry::Revocation(record) = &item.entry else {
            continue;
        };
        record
            .validate(&record_label(item.position, &record.certificate_id))
            .map_err(ImportFailure::Invalid)?;
        summary.revocations += 1;
        let revoked = record.revoked_certificate_id();
        if let Some(earlier) = rows.insert(revoked, NewRevocation::new(record))
            && earlier.owner() != record.pre_enrollment_code
        {
            return Err(ImportFailure::Invalid(ModelError::Record {
                record: record_label(item.position, &record.certificate_id),
                field: record.revoked_certificate_field().to_owned(),
                reason: format!("{revoked} {REVOKED_BY_OTHER_BENEFICIARY}"),
            }));
        }
    }
    Ok(rows.into_values().collect())
}

/// Describes an entry the way `parse_export` does in its errors.
pub(crate) fn record_label(position: usize, certificate_id: &str) -> String {
    if certificate_id.trim().is_empty() {
        format!("record {position} (no certificateId)")
    } else {
        format!("record {position} (certificateId {certificate_id})")
    }
}

fn require_non_blank(
    label: &dyn Fn() -> String,
    field: &str,
    value: &str,
) -> Result<(), ImportFailure> {
    if value.trim().is_empty() {
        return Err(ImportFailure::Invalid(ModelError::Record {
            record: label(),
            field: field.to_owned(),
            reason: "must not be empty".to_owned(),
        }));
    }
    Ok(())
}

/// Entries written per batch of a streaming import. Each batch is a few
/// multi-row statements inside the file's transaction; at about 2.5 KB per
/// record, a batch needs some 30 MB of memory.
pub const IMPORT_BATCH_ENTRIES: usize = 10_000;

/// SQLite page cache of the importing connection, in KiB (`PRAGMA cache_size`
/// takes a negative value as KiB). The default of 2 MB makes index updates
/// read pages from disk again and again once the indexes outgrow it.
const SQLITE_IMPORT_CACHE_KIB: u32 = 262_144;

/// SQLite page cache of an import that has passed
/// [`SQLITE_LARGE_IMPORT_AFTER`] records, in KiB.
///
/// Certificate ids and mobile numbers arrive in random order, so every row
/// goes to a random page of the certificate id index and of
/// `certificate_mobiles`. Once those indexes outgrow the cache, SQLite writes
/// a changed page out, reads it back for a later row and writes it again. At
/// 10 million records, the import took 253.6 s with 256 MiB throughout, 214.4
/// to 224.0 s with 1 GiB from the start, and 225.8 and 235.2 s with this
/// growth, with half the kernel time. The peak RSS rose from 1.2 to 2.0 GB.
/// 2 GiB gave 220.7 s. At 1 million records, 1 GiB made no difference but
/// filled up with table pages (peak RSS 0.47 to 1.27 GB), which is why the
/// cache grows only later.
const SQLITE_LARGE_IMPORT_CACHE_KIB: u32 = 1_048_576;

/// Records of an SQLite import after which its page cache grows to
/// [`SQLITE_LARGE_IMPORT_CACHE_KIB`].
const SQLITE_LARGE_IMPORT_AFTER: usize = 2_000_000;

/// Reads entries, rejects repeated certificate ids and writes them in batches,
/// inside the caller's transaction.
///
/// `$reader` is an `Option<&StoredCertificateReader>`. With a reader, the ids
/// of each batch go to it as soon as the batch is read, and the batch is
/// written after the next one has been read, with the stored rows that the
/// reader returned. So the reader's query for one batch runs while the
/// connection writes the batch before it.
///
/// An entry that fails to read ends the stream, but the entries before it are
/// still written, those of its own batch included. So a conflict with the
/// stored rows in an earlier entry is the error returned, wherever the batch
/// boundaries fall, with or without a reader.
macro_rules! stream_items {
    (
        $connection:ident,
        $entries:expr,
        $progress:expr,
        $max_parameters:expr,
        $discard:expr,
        $fresh:expr,
        $defer_owner_checks:expr,
        $reader:expr,
        $after_batch:expr
    ) => {{
        // Into a store without certificates, every certificate of the stream is
        // new: a repeated id is rejected before it is written, and the caller
        // keeps other writers out until the commit. The stored rows need not
        // be read then.
        let fresh: bool = $fresh;
        let reader: Option<&crate::lookahead::StoredCertificateReader> = $reader;
        let mut total = ImportSummary::default();
        let mut counts = ImportProgress::default();
        let mut seen = SeenCertificateIds::new();
        let mut revocation_keys = CountedKeys::across_batches();
        let mut batch: Vec<ExportItem> = Vec::with_capacity(IMPORT_BATCH_ENTRIES);
        // Batches read but not yet written: at most one waits for the next
        // when there is a reader. The flag marks the entries before a failed
        // one, which are written for their checks but not reported.
        let mut waiting: std::collections::VecDeque<(Vec<ExportItem>, bool)> =
            std::collections::VecDeque::with_capacity(3);
        let mut entries = $entries.into_iter();
        let mut failure: Option<ImportFailure> = None;
        loop {
            let mut ended = false;
            while batch.len() < IMPORT_BATCH_ENTRIES {
                let Some(entry) = entries.next() else {
                    ended = true;
                    break;
                };
                let item = match entry {
                    Ok(item) => item,
                    Err(error) => {
                        failure = Some(ImportFailure::Invalid(error));
                        ended = true;
                        break;
                    }
                };
                if let ExportEntry::Certificate { record, .. } = &item.entry {
                    let id = record.certificate_id.as_str();
                    if !seen.insert(id) {
                        // A hash seen before: either a true duplicate or two ids
                        // with one hash. Earlier batches are already written,
                        // except one waiting for the next. A true duplicate
                        // ends the import and two ids rarely share a hash, so
                        // the batches in memory are searched in order.
                        let in_memory = waiting
                            .iter()
                            .map(|(items, _)| items)
                            .chain(std::iter::once(&batch))
                            .flatten()
                            .find_map(|earlier| match &earlier.entry {
                                ExportEntry::Certificate { record, .. }
                                    if record.certificate_id == id =>
                                {
                                    Some(earlier.position)
                                }
                                _ => None,
                            });
                        let earlier = match in_memory {
                            Some(position) => Some(Some(position)),
                            None => certificates::table
                                .find(id)
                                .select(certificates::certificate_id)
                                .first::<String>($connection)
                                .optional()
                                .map_err(|error| {
                                    ImportFailure::Query("duplicate certificate id check", error)
                                })?
                                .map(|_| None),
                        };
                        if let Some(earlier) = earlier {
                            failure = Some(ImportFailure::Invalid(duplicate_certificate(
                                item.position,
                                id,
                                earlier,
                            )));
                            ended = true;
                            break;
                        }
                    }
                }
                batch.push(item);
            }
            if !batch.is_empty() {
                if let Some(reader) = reader {
                    reader.request(certificate_ids(&batch));
                }
                let read = std::mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH_ENTRIES));
                waiting.push_back((read, failure.is_some()));
            }
            // With a reader, the last batch read waits until the next one is
            // read, unless the stream has ended.
            let keep = usize::from(reader.is_some() && !ended);
            while waiting.len() > keep {
                let Some((items, before_failure)) = waiting.pop_front() else {
                    break;
                };
                let mut stored = match reader {
                    Some(reader) => Some(
                        reader
                            .receive()
                            .map_err(|error| ImportFailure::Query("certificate import", error))?,
                    ),
                    None => None,
                };
                write_items!(
                    $connection,
                    items.as_slice(),
                    $max_parameters,
                    fresh,
                    $defer_owner_checks,
                    stored.as_mut(),
                    &mut total,
                    &mut revocation_keys
                )?;
                if before_failure {
                    ($discard)(items);
                    continue;
                }
                counts.entries += items.len();
                counts.certificates = total.certificates;
                counts.revocations = total.revocations;
                ($progress)(&counts);
                ($after_batch)($connection, counts.entries)?;
                ($discard)(items);
            }
            if ended {
                break;
            }
        }
        match failure {
            Some(failure) => Err(failure),
            None => Ok::<ImportSummary, ImportFailure>(total),
        }
    }};
}

/// Returns the certificate ids of `items`, for [`StoredCertificateReader::request`].
fn certificate_ids(items: &[ExportItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| match &item.entry {
            ExportEntry::Certificate { record, .. } => Some(record.certificate_id.clone()),
            ExportEntry::Revocation(_) => None,
        })
        .collect()
}

impl Store {
    /// Writes a stream of validated export entries in one transaction, in
    /// batches of [`IMPORT_BATCH_ENTRIES`], and calls `progress` after each batch.
    ///
    /// Rows are written as by [`Store::import`], with these differences:
    ///
    /// * a `certificateId` that occurs twice in the stream is rejected, as
    ///   [`parse_export`] rejects it in a whole file;
    /// * memory contains one batch (two on PostgreSQL into a filled store,
    ///   see below), SQLite's page cache (256 MiB, then 1 GiB
    ///   once the import passes 2 million records), an 8-byte hash of each
    ///   certificate id seen (about 150 MB for 10 million ids, hash-set
    ///   overhead included) and each
    ///   revoked certificate id seen, never the whole stream. The revoked ids
    ///   grew the resident memory by 65 to 77 bytes each (100,000 to 1
    ///   million 10-digit ids, glibc's malloc). That is an estimated 20 MB
    ///   for 10 million records, of which `divoc-server generate` makes 3 %
    ///   revocations;
    /// * into a store without certificates, the stored rows are not read
    ///   first, because every certificate of the stream is new.
    ///
    /// On SQLite, when the store was opened with `max_connections` 1 and its
    /// connection is the only one open on the file, the import runs with a
    /// rollback journal instead of the write-ahead log and switches back
    /// afterwards. That writes each new page once instead of twice. While it
    /// lasts, other processes cannot open the file: they fail at once with
    /// "database is locked". On PostgreSQL, an import locks the three imported tables against other
    /// writers (readers go on), so a second import waits for the first.
    /// Into a store that has certificates, it reads the stored certificates
    /// of each batch on a second connection while it writes the batch before,
    /// unless [`ImportOptions::single_connection`] is set.
    /// An import into a store without certificates may also lock out
    /// readers and build the indexes at the end, as
    /// [`ImportOptions::defer_indexes_after`] describes.
    ///
    /// The row counts of the summary count each key once, also a revocation
    /// that repeats in several batches. Such a revocation, when it was stored
    /// before the import, counts as updated if any batch changed its row, even
    /// when a later batch restored the stored values. [`Store::import`] counts
    /// such a revocation as unchanged.
    ///
    /// A PostgreSQL import that wrote 100,000 rows or more runs ANALYZE on
    /// both tables before it commits, so lookups are planned with statistics
    /// at once.
    ///
    /// # Errors
    ///
    /// Nothing is written when any of these occurs:
    ///
    /// * [`StoreError::Import`] for the first invalid entry or error of `entries`,
    ///   or for a repeated `certificateId`, naming its position. A repeat within
    ///   one batch names the first position too.
    /// * [`StoreError::Unavailable`] or [`StoreError::Query`] when a statement fails.
    ///
    /// NOTE: two different ids can share a 64-bit hash. When that happens and
    /// the later id is already stored from an earlier import, the later one is
    /// rejected as a duplicate. The hash is keyed randomly per import, so
    /// importing the file again succeeds. For a re-import of 10 million stored
    /// ids the chance is about n²/2⁶⁵, or 3 in a million.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::ExportReader;
    /// use divoc_store::{Store, StoreError, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let export = concat!(
    ///     r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000001","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"}"#,
    ///     "\n",
    ///     r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000002","previousCertificateId":"100000001"}"#,
    ///     "\n",
    /// );
    /// let mut written = 0;
    /// let summary = store.import_stream(ExportReader::new(export.as_bytes()), &mut |progress| {
    ///     written = progress.entries;
    /// })?;
    /// assert_eq!(written, 2);
    /// assert_eq!((summary.certificates, summary.revocations), (1, 1));
    /// // The certificate is stored, but revoked.
    /// assert!(store.certificate_by_id("100000001")?.is_none());
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn import_stream<I>(
        &self,
        entries: I,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary, StoreError>
    where
        I: IntoIterator<Item = Result<ExportItem, ModelError>>,
    {
        self.import_stream_with(entries, &ImportOptions::default(), progress)
    }

    /// Writes a stream of entries like [`Store::import_stream`], as `options`
    /// set. See [`ImportOptions::first_load`] for what a first load changes.
    ///
    /// # Errors
    ///
    /// As for [`Store::import_stream`], and [`StoreError::NotEmpty`] for a
    /// first load into a store that has rows.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::parse_export;
    /// use divoc_store::{ImportOptions, Store, StoreError, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let export = r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000001","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"}"#;
    /// let first_load = ImportOptions {
    ///     first_load: true,
    ///     ..ImportOptions::default()
    /// };
    /// // Any iterator of parsed entries serves, not only an `ExportReader`.
    /// let entries = || parse_export(export).map(|items| items.into_iter().map(Ok));
    /// store.import_stream_with(entries()?, &first_load, &mut |_| {})?;
    ///
    /// // A first load needs an empty store.
    /// let again = store.import_stream_with(entries()?, &first_load, &mut |_| {});
    /// assert!(matches!(again, Err(StoreError::NotEmpty { .. })));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn import_stream_with<I>(
        &self,
        entries: I,
        options: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<ImportSummary, StoreError>
    where
        I: IntoIterator<Item = Result<ExportItem, ModelError>>,
    {
        thread::scope(|scope| {
            // Written batches are freed on a second thread. Freeing the many
            // small allocations of 10,000 parsed records took a quarter of the
            // writing thread's time.
            let (spent, spent_batches) = mpsc::sync_channel::<Vec<ExportItem>>(1);
            let spent = thread::Builder::new()
                .name("import-free".to_owned())
                .spawn_scoped(scope, move || spent_batches.into_iter().for_each(drop))
                .ok()
                .map(|_| spent);
            // When the thread could not start, or has ended, the batch is
            // freed here. `spent` is dropped when this closure returns, which
            // ends the thread.
            let discard = |batch: Vec<ExportItem>| {
                if let Some(spent) = &spent {
                    let _ = spent.send(batch);
                }
            };
            self.import_stream_on_backend(entries, options, progress, discard)
        })
    }

    fn import_stream_on_backend<I>(
        &self,
        entries: I,
        options: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
        discard: impl Fn(Vec<ExportItem>),
    ) -> Result<ImportSummary, StoreError>
    where
        I: IntoIterator<Item = Result<ExportItem, ModelError>>,
    {
        let result = match &self.backend {
            crate::backend::Backend::Sqlite(pool) => {
                let mut connection = pool
                    .get()
                    .map_err(|error| crate::backend::pool_error(&self.target, &error))?;
                set_sqlite_cache(&mut connection, SQLITE_IMPORT_CACHE_KIB, true)
                    .map_err(|error| self.query_error("import settings", error))?;
                // Only a store of one connection is dedicated to the import.
                // In a larger pool, other connections may open at any time.
                let rollback_journal =
                    pool.max_size() == 1 && enter_rollback_journal(&mut connection);
                // IMMEDIATE for the same reason as in `import`.
                let result = crate::backend::write_transaction_after_other_writers(
                    &mut connection,
                    self.sqlite_busy_timeout,
                    |connection| {
                        let first_load = options.first_load;
                        if first_load {
                            require_empty_store(connection)?;
                        }
                        let fresh = has_no_certificates(connection)?;
                        let mut deferral = IndexDeferral::new(
                            fresh && rollback_journal,
                            options
                                .defer_indexes_after
                                .unwrap_or(SQLITE_DEFER_INDEXES_AFTER),
                        );
                        let mut cache = CacheGrowth::default();
                        let summary = stream_items!(
                            connection,
                            entries,
                            progress,
                            SQLITE_MAX_BOUND_PARAMETERS,
                            discard,
                            fresh,
                            first_load,
                            None,
                            |connection: &mut diesel::SqliteConnection, entries: usize| {
                                cache.after_batch(connection, entries)?;
                                deferral.after_batch(connection, entries)
                            }
                        )?;
                        deferral.finish(connection)?;
                        if first_load {
                            check_revoked_certificate_owners(connection)?;
                        }
                        Ok(summary)
                    },
                );
                if rollback_journal {
                    leave_rollback_journal(&mut connection);
                }
                if let Err(error) =
                    // The connection returns to the pool, with the pool's cache size.
                    set_sqlite_cache(&mut connection, self.sqlite_cache_kib, false)
                {
                    tracing::warn!(%error, "restoring the SQLite page cache size after an import failed");
                }
                result
            }
            crate::backend::Backend::Postgres(pool, url) => {
                let mut connection = pool
                    .get()
                    .map_err(|error| crate::backend::pool_error(&self.target, &error))?;
                connection.transaction(|connection| {
                    let first_load = options.first_load;
                    if first_load {
                        plan_for_import(connection, "ACCESS EXCLUSIVE")?;
                        require_empty_store(connection)?;
                    } else {
                        plan_for_import(connection, SHARE_ROW_EXCLUSIVE)?;
                    }
                    let fresh = has_no_certificates(connection)?;
                    let deferred = if first_load {
                        Some(drop_certificate_indexes(connection)?)
                    } else {
                        None
                    };
                    // Only a store of one connection is dedicated to the
                    // import: a larger pool would hold other sessions.
                    let mut deferral = PostgresIndexDeferral::new(
                        !first_load && fresh && pool.max_size() == 1,
                        options
                            .defer_indexes_after
                            .unwrap_or(POSTGRES_DEFER_INDEXES_AFTER),
                    );
                    let owner_checks_deferred = std::cell::Cell::new(first_load);
                    let summary = thread::scope(|scope| {
                        // Into a filled store, the stored rows of the next
                        // batch are read on a second connection. The tables
                        // are locked by now.
                        let reader = if fresh || options.single_connection {
                            None
                        } else {
                            StoredCertificateReader::start(scope, url)
                        };
                        stream_items!(
                            connection,
                            entries,
                            progress,
                            POSTGRES_MAX_BOUND_PARAMETERS,
                            discard,
                            fresh,
                            owner_checks_deferred.get(),
                            reader.as_ref(),
                            |connection: &mut diesel::PgConnection, entries: usize| {
                                if deferral.after_batch(connection, entries)? {
                                    owner_checks_deferred.set(true);
                                }
                                Ok::<(), ImportFailure>(())
                            }
                        )
                    })?;
                    finish_mobile_rows(connection)?;
                    if let Some(statements) = deferred.or(deferral.dropped) {
                        build_certificate_indexes(connection, &statements)?;
                        check_revoked_certificate_owners(connection)?;
                    }
                    analyze_large_import(connection, &summary);
                    Ok(summary)
                })
            }
        };
        let summary = result.map_err(|failure| self.import_error(failure))?;
        log_summary(self.backend_name(), &summary);
        Ok(summary)
    }
}

/// Returns `true` when the store has no certificate.
fn has_no_certificates<C>(connection: &mut C) -> Result<bool, ImportFailure>
where
    C: diesel::Connection,
    for<'a> diesel::dsl::Limit<diesel::dsl::Select<certificates::table, certificates::certificate_id>>:
        diesel::query_dsl::LoadQuery<'a, C, String>,
{
    certificates::table
        .select(certificates::certificate_id)
        .first::<String>(connection)
        .optional()
        .map(|found| found.is_none())
        .map_err(|error| ImportFailure::Query("import settings", error))
}

/// Writes the mobile rows that the import staged (see
/// [`WriteNewRows::finish_mobile_rows`]) and logs how long that took.
fn finish_mobile_rows(connection: &mut impl WriteNewRows) -> Result<(), ImportFailure> {
    let started = std::time::Instant::now();
    let added = connection
        .finish_mobile_rows()
        .map_err(|error| ImportFailure::Query("mobile number import", error))?;
    if added > 0 {
        tracing::info!(
            rows = added,
            seconds = started.elapsed().as_secs_f64(),
            "staged mobile numbers written"
        );
    }
    Ok(())
}

/// The growth of an SQLite import's page cache to
/// [`SQLITE_LARGE_IMPORT_CACHE_KIB`] once the import passes
/// [`SQLITE_LARGE_IMPORT_AFTER`] records.
#[derive(Default)]
struct CacheGrowth {
    grown: bool,
}

impl CacheGrowth {
    fn after_batch(
        &mut self,
        connection: &mut diesel::SqliteConnection,
        entries: usize,
    ) -> Result<(), ImportFailure> {
        if !self.grown && entries >= SQLITE_LARGE_IMPORT_AFTER {
            set_sqlite_cache(connection, SQLITE_LARGE_IMPORT_CACHE_KIB, true)
                .map_err(|error| ImportFailure::Query("import settings", error))?;
            self.grown = true;
        }
        Ok(())
    }
}

/// The secondary indexes of `certificates` during a first load into an empty
/// SQLite store with a rollback journal: dropped once the import passes
/// [`ImportOptions::defer_indexes_after`] entries, and created again before
/// it commits.
struct IndexDeferral {
    allowed: bool,
    after: usize,
    /// The statements that create the dropped indexes, once they are dropped.
    dropped: Option<Vec<String>>,
}

impl IndexDeferral {
    fn new(allowed: bool, after: usize) -> Self {
        Self {
            allowed,
            after,
            dropped: None,
        }
    }

    fn after_batch(
        &mut self,
        connection: &mut diesel::SqliteConnection,
        entries: usize,
    ) -> Result<(), ImportFailure> {
        if self.allowed && self.dropped.is_none() && entries >= self.after {
            self.dropped = Some(defer_sqlite_indexes(connection)?);
        }
        Ok(())
    }

    fn finish(self, connection: &mut diesel::SqliteConnection) -> Result<(), ImportFailure> {
        match self.dropped {
            Some(statements) => restore_sqlite_indexes(connection, &statements),
            None => Ok(()),
        }
    }
}

/// The indexes of `certificates` during an import into an empty PostgreSQL
/// store: once the import passes [`ImportOptions::defer_indexes_after`]
/// entries and has the store to itself, they are dropped, and the import
/// goes on as a first load (see [`take_tables_when_alone`]).
struct PostgresIndexDeferral {
    /// Whether the switch is still to be tried.
    pending: bool,
    after: usize,
    /// The statements that create the dropped indexes, once they are dropped.
    dropped: Option<Vec<IndexStatements>>,
}

impl PostgresIndexDeferral {
    fn new(allowed: bool, after: usize) -> Self {
        Self {
            pending: allowed,
            after,
            dropped: None,
        }
    }

    /// Tries the switch once the import has written `entries`, and returns
    /// whether the indexes are dropped now, so that the ownership checks of
    /// the later batches wait for the end.
    fn after_batch(
        &mut self,
        connection: &mut diesel::PgConnection,
        entries: usize,
    ) -> Result<bool, ImportFailure> {
        if self.pending && entries >= self.after {
            self.pending = false;
            if take_tables_when_alone(connection) {
                self.dropped = Some(drop_certificate_indexes(connection)?);
            }
        }
        Ok(self.dropped.is_some())
    }
}

/// Drops the secondary indexes of `certificates` and returns the statements
/// that create them again. Building an index once from the loaded rows (one
/// sort) costs less than millions of inserts at random places into a large
/// index. Nothing reads these indexes during the import: the stored rows are
/// not read, the ownership checks use the certificate id, and no other
/// connection has the file open.
///
/// NOTE: the build sorts in memory, because an import keeps SQLite's
/// temporary files in memory. At 10 million records the importer's peak RSS
/// rose from 645 to 876 MiB.
fn defer_sqlite_indexes(
    connection: &mut diesel::SqliteConnection,
) -> Result<Vec<String>, ImportFailure> {
    #[derive(QueryableByName)]
    struct Index {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let failed = |error| ImportFailure::Query("deferring the index build", error);
    // Indexes without SQL are the ones SQLite made for a primary key or a
    // UNIQUE column; they cannot be dropped.
    let indexes: Vec<Index> = diesel::sql_query(
        "SELECT name, sql FROM sqlite_master \
         WHERE type = 'index' AND tbl_name = 'certificates' AND sql IS NOT NULL",
    )
    .load(connection)
    .map_err(failed)?;
    for index in &indexes {
        diesel::sql_query(format!(
            "DROP INDEX \"{}\"",
            index.name.replace('"', "\"\"")
        ))
        .execute(connection)
        .map_err(failed)?;
    }
    tracing::info!(
        indexes = indexes.len(),
        "first load into an empty store: indexes are built at the end"
    );
    Ok(indexes.into_iter().map(|index| index.sql).collect())
}

/// Creates the indexes that [`defer_sqlite_indexes`] dropped, inside the
/// import's transaction, so that the commit has them or nothing.
///
/// SQLite sorts the keys of each build with helper threads (`PRAGMA
/// threads`), one per core up to [`SQLITE_INDEX_BUILD_THREADS`]. The
/// import's parsing thread is idle by then. At 10 million records the
/// `sqlite3` shell built the index in 22 s with 2 threads and 26 s without.
fn restore_sqlite_indexes(
    connection: &mut diesel::SqliteConnection,
    statements: &[String],
) -> Result<(), ImportFailure> {
    let threads = thread::available_parallelism()
        .map_or(1, usize::from)
        .min(SQLITE_INDEX_BUILD_THREADS);
    let built = connection
        .batch_execute(&format!("PRAGMA threads = {threads}"))
        .and_then(|()| {
            statements.iter().try_for_each(|statement| {
                diesel::sql_query(statement).execute(connection).map(drop)
            })
        });
    // The connection goes back to the pool, whose queries sort on their own
    // thread, whether or not the builds succeeded.
    let reset = connection.batch_execute("PRAGMA threads = 0");
    built
        .and(reset)
        .map_err(|error| ImportFailure::Query("building the deferred index", error))?;
    tracing::info!(
        indexes = statements.len(),
        threads,
        "deferred indexes built"
    );
    Ok(())
}

/// Limit on the helper threads that SQLite sorts with in a deferred index build.
const SQLITE_INDEX_BUILD_THREADS: usize = 4;

/// The lock of an import that lets readers go on.
const SHARE_ROW_EXCLUSIVE: &str = "SHARE ROW EXCLUSIVE";

/// Prepares a PostgreSQL import transaction: locks the imported tables
/// against other writers and sets the planner up, with sequential scans and
/// JIT compilation off.
///
/// The lock (SHARE ROW EXCLUSIVE) lets readers, and so the server, go on, and
/// makes a second import wait for the first to commit. Without it, two imports
/// of overlapping files could deadlock, and an import into an empty store
/// could not skip reading stored rows.
///
/// Every read of an import looks up one batch of keys with `= ANY($1)`. On a
/// table that has grown inside the transaction, the planner's statistics still
/// describe it as small. So it chose a sequential scan that compared each row
/// with each of up to 10,000 bound ids, because PostgreSQL hashes such a list
/// only when it is a literal, not a parameter. `perf` showed most of the
/// server's time in `texteq`. With sequential scans off, each id is an index
/// probe.
///
/// With sequential scans off, a statement that must still scan a table, such
/// as the merge from the staging table of mobile numbers, is costed above 10
/// billion. PostgreSQL then compiled it to machine code (JIT, where it is built
/// with LLVM), which took longer than running it. When the merge still ran in
/// every batch, turning JIT off took a 1 million record import from 23.6 s to
/// 20.8 s.
///
/// A first load takes ACCESS EXCLUSIVE instead, which also stops readers until
/// the commit (see [`crate::first_load`]).
fn plan_for_import(
    connection: &mut diesel::PgConnection,
    lock_mode: &str,
) -> Result<(), ImportFailure> {
    use diesel::connection::SimpleConnection;
    let lock =
        format!("LOCK TABLE certificates, revocations, certificate_mobiles IN {lock_mode} MODE");
    // The first try does not wait (inside a savepoint, because its error would
    // end the transaction), so that a wait behind another import is logged.
    let locked = connection
        .transaction(|connection| connection.batch_execute(&format!("{lock} NOWAIT")))
        .is_ok();
    if !locked {
        tracing::info!("another transaction is using the tables; waiting for it to end");
    }
    let lock = if locked { "" } else { lock.as_str() };
    connection
        .batch_execute(&format!(
            "{lock}; SET LOCAL enable_seqscan = off; SET LOCAL jit = off"
        ))
        .map_err(|error| ImportFailure::Query("import settings", error))?;
    crate::bulk::stage_mobile_rows(connection)
        .map_err(|error| ImportFailure::Query("import settings", error))
}

/// Rows that a PostgreSQL import must write before it refreshes the planner
/// statistics itself.
const POSTGRES_ANALYZE_AFTER_ROWS: usize = 100_000;

/// Runs ANALYZE at the end of an import that wrote many rows, inside its
/// transaction. Without statistics, as on a table filled by one large import
/// before autovacuum reaches it, PostgreSQL 15 estimated some 290,000 rows per
/// beneficiary on a 10 million row table. It planned a lookup as a merge join
/// over all revocations, which took about 100 ms instead of under 1 ms.
///
/// Run after the commit, ANALYZE waited for the next import's table lock.
/// Inside the transaction, the import's own lock covers it, and the statistics
/// are committed with the rows. It runs in a savepoint, so a failure is only
/// logged and the import still commits.
fn analyze_large_import(connection: &mut diesel::PgConnection, summary: &ImportSummary) {
    let written = summary.certificate_rows.inserted
        + summary.certificate_rows.updated
        + summary.revocation_rows.inserted
        + summary.revocation_rows.updated;
    if written < POSTGRES_ANALYZE_AFTER_ROWS {
        return;
    }
    let analyzed = connection.transaction(|connection| {
        diesel::sql_query("ANALYZE certificates, revocations").execute(connection)
    });
    match analyzed {
        Ok(_) => tracing::info!(
            rows_written = written,
            "planner statistics refreshed in the import"
        ),
        Err(error) => tracing::warn!(
            %error,
            "ANALYZE in the import failed; lookups may be slow until autovacuum analyzes the tables"
        ),
    }
}

/// Switches an SQLite connection from write-ahead logging to a rollback
/// journal for an import, and returns whether it did.
///
/// In WAL mode every page of an import is written twice: to the log, then back
/// into the database when the commit checkpoints. A rollback journal keeps
/// only the old content of pages that already existed. So an import into a new
/// or small database writes each page once. At 1 million records that took
/// about 30 % less time. It also needs half the disk, because the log of a
/// 10 million record import would grow to the database's size, about 22 GB.
///
/// The caller tries it only for a store of one connection, and SQLite makes
/// the switch only when no other connection has the file open, such as a
/// running server's. Otherwise the import stays in WAL mode, where
/// readers go on reading beside it. While the rollback journal is in use, no
/// other process can open the store: SQLite returns "database is locked" at
/// once, without waiting for `busy_timeout`, because opening switches the
/// file to WAL.
fn enter_rollback_journal(connection: &mut diesel::SqliteConnection) -> bool {
    match set_journal_mode(connection, "DELETE") {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => {
            tracing::info!(
                "no other connection to the database: importing with a rollback journal"
            );
            true
        }
        Ok(_) => false,
        // Another connection has the file open: the usual case beside a
        // running server, and the import goes on in WAL mode.
        Err(error) if crate::error::is_sqlite_locked(&error) => {
            tracing::info!("another connection has the database open: importing in WAL mode");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "switching to a rollback journal for the import failed");
            false
        }
    }
}

/// Returns the connection to WAL mode after [`enter_rollback_journal`]. A
/// failure is only logged: every new connection of a store switches the file
/// to WAL when it opens.
fn leave_rollback_journal(connection: &mut diesel::SqliteConnection) {
    match set_journal_mode(connection, "WAL") {
        Ok(mode) if mode.eq_ignore_ascii_case("wal") => {}
        Ok(mode) => tracing::warn!(mode, "the database stayed out of WAL mode after the import"),
        Err(error) => tracing::warn!(%error, "returning to WAL mode after the import failed"),
    }
}

/// Sets `PRAGMA journal_mode` and returns the mode SQLite reports afterwards.
fn set_journal_mode(
    connection: &mut diesel::SqliteConnection,
    mode: &str,
) -> diesel::QueryResult<String> {
    #[derive(QueryableByName)]
    struct JournalMode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    diesel::sql_query(format!("PRAGMA journal_mode = {mode}"))
        .get_result::<JournalMode>(connection)
        .map(|row| row.journal_mode)
}

/// Sets the page cache size and where SQLite keeps statement journals: in
/// memory during an import (`temp_store = MEMORY`), because every multi-row
/// upsert writes one, and back to the default file afterwards.
fn set_sqlite_cache(
    connection: &mut diesel::SqliteConnection,
    cache_kib: u32,
    importing: bool,
) -> diesel::QueryResult<()> {
    let temp_store = if importing { "MEMORY" } else { "DEFAULT" };
    // A negative cache_size counts KiB rather than pages.
    connection.batch_execute(&format!(
        "PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = {temp_store};"
    ))
}

/// Error reason for a revocation whose certificate is stored for another beneficiary.
pub(crate) const REVOKES_OTHER_BENEFICIARY: &str = "revokes a certificate of another beneficiary";

/// Error reason for a revocation of an id that a record of another
/// beneficiary revokes too.
const REVOKED_BY_OTHER_BENEFICIARY: &str = "is already revoked by a record of another beneficiary";

/// The kind of entry an ownership error is about.
#[derive(Debug, Clone, Copy)]
enum EntryKind {
    Certificate,
    Revocation,
}

/// Describes an entry whose id is stored for another beneficiary. `id` is a
/// certificate id (`kind` Certificate) or the certificate id that a revocation
/// revokes (`kind` Revocation). The last such entry is named, because it is the
/// one that would be written.
fn owner_conflict(items: &[ExportItem], kind: EntryKind, id: &str, reason: &str) -> ModelError {
    let entry = items.iter().rev().find(|item| match (&item.entry, kind) {
        (ExportEntry::Certificate { record, .. }, EntryKind::Certificate) => {
            record.certificate_id == id
        }
        (ExportEntry::Revocation(record), EntryKind::Revocation) => {
            record.revoked_certificate_id() == id
        }
        _ => false,
    });
    let (record, field) = match entry {
        Some(item) => match &item.entry {
            ExportEntry::Certificate { record, .. } => (
                record_label(item.position, &record.certificate_id),
                "certificateId",
            ),
            ExportEntry::Revocation(record) => (
                record_label(item.position, &record.certificate_id),
                record.revoked_certificate_field(),
            ),
        },
        None => (format!("certificateId {id}"), "certificateId"),
    };
    ModelError::Record {
        record,
        field: field.to_owned(),
        reason: format!("{id} {reason}"),
    }
}

fn duplicate_certificate(position: usize, id: &str, earlier: Option<usize>) -> ModelError {
    let reason = match earlier {
        Some(first) => {
            format!("duplicate of record {first}; each certificate may appear once per file")
        }
        None => {
            "duplicate of an earlier record; each certificate may appear once per file".to_owned()
        }
    };
    ModelError::Record {
        record: record_label(position, id),
        field: "certificateId".to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;

    fn index_names(connection: &mut SqliteConnection) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates' \
             ORDER BY name",
        )
        .load::<Name>(connection)
        .expect("index names")
        .into_iter()
        .map(|row| row.name)
        .collect()
    }

    /// Opens an in-memory store and returns it with its only connection.
    fn memory_connection() -> (
        Store,
        diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<SqliteConnection>>,
    ) {
        let store = Store::open(":memory:", &crate::StoreOptions::default()).expect("store opens");
        let crate::backend::Backend::Sqlite(pool) = &store.backend else {
            panic!("expected an SQLite store");
        };
        let connection = pool.get().expect("pooled connection");
        (store, connection)
    }

    #[test]
    fn cache_grows_after_large_import() {
        let (_store, mut connection) = memory_connection();
        let cache_size = |connection: &mut SqliteConnection| {
            diesel::sql_query("PRAGMA cache_size")
                .get_result::<CacheSize>(connection)
                .expect("cache size")
                .cache_size
        };
        set_sqlite_cache(&mut connection, SQLITE_IMPORT_CACHE_KIB, true).expect("import cache");
        assert_eq!(cache_size(&mut connection), -262_144);

        let mut cache = CacheGrowth::default();
        cache
            .after_batch(&mut connection, SQLITE_LARGE_IMPORT_AFTER - 1)
            .unwrap_or_else(|_| panic!("after a batch"));
        assert_eq!(cache_size(&mut connection), -262_144);
        cache
            .after_batch(&mut connection, SQLITE_LARGE_IMPORT_AFTER)
            .unwrap_or_else(|_| panic!("after a batch"));
        assert_eq!(cache_size(&mut connection), -1_048_576);
    }

    #[derive(QueryableByName)]
    struct CacheSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cache_size: i64,
    }

    #[test]
    fn deferred_index_is_dropped_then_rebuilt() {
        let (_store, mut connection) = memory_connection();
        let all = vec![
            "certificates_pre_enrollment_code".to_owned(),
            "sqlite_autoindex_certificates_1".to_owned(),
        ];
        assert_eq!(index_names(&mut connection), all);

        let mut deferral = IndexDeferral::new(true, SQLITE_DEFER_INDEXES_AFTER);
        deferral
            .after_batch(&mut connection, SQLITE_DEFER_INDEXES_AFTER - 1)
            .unwrap_or_else(|_| panic!("after a batch"));
        assert_eq!(index_names(&mut connection), all);
        deferral
            .after_batch(&mut connection, SQLITE_DEFER_INDEXES_AFTER)
            .unwrap_or_else(|_| panic!("after a batch"));
        assert_eq!(
            index_names(&mut connection),
            ["sqlite_autoindex_certificates_1"]
        );

        // The rebuilt unique index still rejects a repeated key.
        connection
            .batch_execute(
                "INSERT INTO certificates (certificate_id, pre_enrollment_code, certificate) \
                 VALUES ('C1', 'B1', '{}')",
            )
            .expect("insert");
        deferral
            .finish(&mut connection)
            .unwrap_or_else(|_| panic!("index rebuilt"));
        assert_eq!(index_names(&mut connection), all);
        // The build sorted with helper threads, which the pooled connection
        // no longer uses.
        let threads = diesel::sql_query("PRAGMA threads")
            .get_result::<Threads>(&mut connection)
            .expect("threads")
            .threads;
        assert_eq!(threads, 0);
        let sql: String = diesel::sql_query(
            "SELECT sql FROM sqlite_master WHERE name = 'certificates_pre_enrollment_code'",
        )
        .get_result::<IndexSql>(&mut connection)
        .expect("index SQL")
        .sql;
        assert!(sql.starts_with("CREATE UNIQUE INDEX"), "{sql}");
    }

    #[test]
    fn deferral_not_allowed_keeps_indexes() {
        let (_store, mut connection) = memory_connection();
        let mut deferral = IndexDeferral::new(false, SQLITE_DEFER_INDEXES_AFTER);
        deferral
            .after_batch(&mut connection, SQLITE_DEFER_INDEXES_AFTER * 2)
            .unwrap_or_else(|_| panic!("after a batch"));
        assert_eq!(index_names(&mut connection).len(), 2);
    }

    #[derive(QueryableByName)]
    struct Threads {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        threads: i64,
    }

    #[derive(QueryableByName)]
    struct IndexSql {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
}
