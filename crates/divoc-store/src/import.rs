//! Writing registry exports into the store.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::upsert::excluded;
use divoc_model::{ExportEntry, ExportItem, ModelError, parse_export};

use crate::rows::{
    CERTIFICATE_COLUMNS, NewCertificate, NewRevocation, REVOCATION_COLUMNS, StoredCertificate,
    StoredRevocation,
};
use crate::schema::{certificates, revocations};
use crate::{Store, StoreError};

/// Maximum bound parameters per multi-row INSERT. The bundled SQLite allows
/// 32,766 (its `SQLITE_MAX_VARIABLE_NUMBER` default) and PostgreSQL 65,535.
const MAX_BOUND_PARAMETERS: usize = 12_000;

/// Row counts of one table after an import. Each distinct key counts once, so
/// the three numbers add up to the distinct keys of the import, not to its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Rows whose key was not stored before.
    pub inserted: usize,
    /// Stored rows that the import changed.
    pub updated: usize,
    /// Stored rows that already contained exactly the imported values.
    pub unchanged: usize,
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
enum ImportFailure {
    Invalid(ModelError),
    Query(&'static str, diesel::result::Error),
}

impl From<diesel::result::Error> for ImportFailure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Query("import transaction", error)
    }
}

/// Writes one table's rows with multi-row upserts and returns the counts.
///
/// The stored rows of each chunk are read first. Rows that already hold the
/// imported values are skipped, so a repeated import writes nothing, and the
/// rest are upserted. (diesel 2.4 cannot put a `WHERE` on the `DO UPDATE` of a
/// multi-row SQLite upsert, which would otherwise do the comparison in SQL.)
///
/// `$rows` must be sorted by key, so that concurrent PostgreSQL imports of
/// overlapping files lock their rows in the same order, which avoids deadlocks
/// between them.
macro_rules! upsert_rows {
    (
        $connection:ident,
        $rows:expr,
        $columns:expr,
        $table:ident,
        $key:ident,
        $stored:ty,
        $changes:expr,
        $operation:expr
    ) => {{
        let mut counts = RowCounts::default();
        for chunk in $rows.chunks(MAX_BOUND_PARAMETERS / $columns) {
            let keys: Vec<&str> = chunk.iter().map(|row| row.$key).collect();
            let stored: Vec<$stored> = $table::table
                .filter($table::$key.eq_any(&keys))
                .select(<$stored>::as_select())
                .load($connection)
                .map_err(|error| ImportFailure::Query($operation, error))?;
            let stored: HashMap<&str, &$stored> =
                stored.iter().map(|row| (row.key(), row)).collect();

            let mut changed = Vec::with_capacity(chunk.len());
            for row in chunk {
                match stored.get(row.$key) {
                    None => counts.inserted += 1,
                    Some(stored) if row.matches(stored) => {
                        counts.unchanged += 1;
                        continue;
                    }
                    Some(_) => counts.updated += 1,
                }
                changed.push(row);
            }
            if changed.is_empty() {
                continue;
            }
            diesel::insert_into($table::table)
                .values(changed)
                .on_conflict($table::$key)
                .do_update()
                .set($changes)
                .execute($connection)
                .map_err(|error| ImportFailure::Query($operation, error))?;
        }
        counts
    }};
}

/// Validates and writes all items on one connection, inside the caller's transaction.
macro_rules! write_items {
    ($connection:ident, $items:expr) => {{
        let mut summary = ImportSummary::default();

        let certificate_rows = certificate_rows($items, &mut summary)?;
        summary.certificate_rows = upsert_rows!(
            $connection,
            certificate_rows,
            CERTIFICATE_COLUMNS,
            certificates,
            certificate_id,
            StoredCertificate,
            (
                certificates::pre_enrollment_code.eq(excluded(certificates::pre_enrollment_code)),
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
            "certificate import"
        );

        // Revocations are validated after the certificates were written. An
        // invalid one rolls back the whole transaction, certificates included.
        let revocation_rows = revocation_rows($items, &mut summary)?;
        summary.revocation_rows = upsert_rows!(
            $connection,
            revocation_rows,
            REVOCATION_COLUMNS,
            revocations,
            revoked_certificate_id,
            StoredRevocation,
            (
                revocations::pre_enrollment_code.eq(excluded(revocations::pre_enrollment_code)),
                revocations::certificate_id.eq(excluded(revocations::certificate_id)),
                revocations::dose.eq(excluded(revocations::dose)),
                revocations::previous_certificate_id
                    .eq(excluded(revocations::previous_certificate_id)),
            ),
            "revocation import"
        );
        Ok::<ImportSummary, ImportFailure>(summary)
    }};
}

impl Store {
    /// Writes validated export entries in one transaction.
    ///
    /// Certificates are keyed by `certificateId` and revocations by the id they
    /// revoke. An entry whose key is already stored replaces the stored row. A
    /// row that already contains the same values is not written again, so importing
    /// the same file twice changes nothing. When a key occurs twice in `items`,
    /// the later entry wins. Timestamps are stored truncated to microseconds.
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
    /// * [`StoreError::Unavailable`] or [`StoreError::Query`] when a statement fails.
    pub fn import(&self, items: &[ExportItem]) -> Result<ImportSummary, StoreError> {
        let result = match &self.backend {
            crate::backend::Backend::Sqlite(pool) => {
                let mut connection = pool
                    .get()
                    .map_err(|error| crate::backend::pool_error(&self.target, &error))?;
                // IMMEDIATE takes the write lock before the first read, so that
                // busy_timeout applies. A deferred transaction that reads and then
                // writes fails at once when another connection wrote in between.
                connection.immediate_transaction(|connection| write_items!(connection, items))
            }
            crate::backend::Backend::Postgres(pool) => {
                let mut connection = pool
                    .get()
                    .map_err(|error| crate::backend::pool_error(&self.target, &error))?;
                connection.transaction(|connection| write_items!(connection, items))
            }
        };
        let summary = result.map_err(|failure| match failure {
            ImportFailure::Invalid(error) => StoreError::Import(error),
            ImportFailure::Query(operation, error) => self.query_error(operation, error),
        })?;
        tracing::info!(
            backend = self.backend_name(),
            certificates = summary.certificates,
            revocations = summary.revocations,
            certificates_inserted = summary.certificate_rows.inserted,
            certificates_updated = summary.certificate_rows.updated,
            revocations_inserted = summary.revocation_rows.inserted,
            revocations_updated = summary.revocation_rows.updated,
            "import committed"
        );
        Ok(summary)
    }

    /// Parses a registry export with [`parse_export`] and writes it with [`Store::import`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Import`] naming the first invalid entry, in which case nothing
    /// is written, or any error of [`Store::import`].
    pub fn import_text(&self, text: &str) -> Result<ImportSummary, StoreError> {
        let items = parse_export(text)?;
        self.import(&items)
    }
}

/// Validates the certificate entries and returns their rows sorted by key, the
/// last entry of each key winning.
fn certificate_rows<'a>(
    items: &'a [ExportItem],
    summary: &mut ImportSummary,
) -> Result<Vec<NewCertificate<'a>>, ImportFailure> {
    let mut rows = BTreeMap::new();
    for item in items {
        let ExportEntry::Certificate { record, dose } = &item.entry else {
            continue;
        };
        let label = record_label(item.position, &record.certificate_id);
        require_non_blank(&label, "preEnrollmentCode", &record.pre_enrollment_code)?;
        require_non_blank(&label, "certificateId", &record.certificate_id)?;
        summary.certificates += 1;
        rows.insert(
            record.certificate_id.as_str(),
            NewCertificate::new(record, *dose),
        );
    }
    Ok(rows.into_values().collect())
}

/// Validates the revocation entries and returns their rows sorted by key, the
/// last entry of each key winning.
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
        rows.insert(record.revoked_certificate_id(), NewRevocation::new(record));
    }
    Ok(rows.into_values().collect())
}

/// Describes an entry the way `parse_export` does in its errors.
fn record_label(position: usize, certificate_id: &str) -> String {
    if certificate_id.trim().is_empty() {
        format!("record {position} (no certificateId)")
    } else {
        format!("record {position} (certificateId {certificate_id})")
    }
}

fn require_non_blank(label: &str, field: &str, value: &str) -> Result<(), ImportFailure> {
    if value.trim().is_empty() {
        return Err(ImportFailure::Invalid(ModelError::Record {
            record: label.to_owned(),
            field: field.to_owned(),
            reason: "must not be empty".to_owned(),
        }));
    }
    Ok(())
}
