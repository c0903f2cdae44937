//! Streaming imports larger than one batch, on SQLite and PostgreSQL.
//!
//! PostgreSQL tests need `DIVOC_TEST_POSTGRES_URL`, as described in
//! `tests/store.rs`; without it they pass after a notice, unless
//! `DIVOC_REQUIRE_POSTGRES=1`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::io::Cursor;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use divoc_model::ExportReader;
use divoc_store::schema::{certificates, revocations};
use divoc_store::{
    IMPORT_BATCH_ENTRIES, ImportOptions, ImportProgress, ImportSummary, RowCounts, Store,
    StoreError, StoreOptions,
};

/// Certificate rows as (id, beneficiary, certificate text) and revocation rows
/// as (revoked id, revocation id).
type Dump = (Vec<(String, String, String)>, Vec<(String, String)>);

/// A store on a fresh database. A PostgreSQL database is dropped on drop.
struct TestDb {
    store: Option<Store>,
    _directory: Option<tempfile::TempDir>,
    raw_url: String,
    postgres_admin: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Close the pool before dropping the database.
        self.store = None;
        if let Some((admin_url, name)) = &self.postgres_admin
            && let Ok(mut connection) = PgConnection::establish(admin_url)
        {
            let dropped = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut connection);
            if let Err(error) = dropped {
                eprintln!("could not drop test database {name}: {error}");
            }
        }
    }
}

impl TestDb {
    fn sqlite() -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("store.db").display().to_string();
        let store = Store::open(&format!("sqlite://{path}"), &StoreOptions::default())
            .expect("SQLite store opens");
        Self {
            store: Some(store),
            _directory: Some(directory),
            raw_url: path,
            postgres_admin: None,
        }
    }

    fn postgres(test: &str) -> Option<Self> {
        let admin_url = match std::env::var("DIVOC_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                assert!(
                    std::env::var("DIVOC_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "PostgreSQL test {test} cannot run: DIVOC_REQUIRE_POSTGRES=1 but \
                     DIVOC_TEST_POSTGRES_URL is not set"
                );
                eprintln!("skipping PostgreSQL test {test}: DIVOC_TEST_POSTGRES_URL is not set");
                return None;
            }
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "divoc_scale_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::establish(&admin_url).expect("admin connection");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url.as_str(), String::new()),
        };
        let base = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
        let url = format!("{base}/{name}{query}");
        let store = Store::open(&url, &StoreOptions::default()).expect("PostgreSQL store opens");
        Some(Self {
            store: Some(store),
            _directory: None,
            raw_url: url,
            postgres_admin: Some((admin_url, name)),
        })
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("open store")
    }

    /// Returns every row of both tables as tuples of key and some columns, ordered by key.
    fn dump(&self) -> Dump {
        macro_rules! dump_with {
            ($connection:expr) => {{
                let certificates = certificates::table
                    .order(certificates::certificate_id)
                    .select((
                        certificates::certificate_id,
                        certificates::pre_enrollment_code,
                        certificates::certificate,
                    ))
                    .load($connection)
                    .expect("certificates load");
                let revocations = revocations::table
                    .order(revocations::revoked_certificate_id)
                    .select((
                        revocations::revoked_certificate_id,
                        revocations::certificate_id,
                    ))
                    .load($connection)
                    .expect("revocations load");
                (certificates, revocations)
            }};
        }
        if self.postgres_admin.is_some() {
            let mut connection = PgConnection::establish(&self.raw_url).expect("connection");
            dump_with!(&mut connection)
        } else {
            let mut connection = SqliteConnection::establish(&self.raw_url).expect("connection");
            dump_with!(&mut connection)
        }
    }

    /// Streams `text` into the store and returns the result and every progress report.
    fn import(&self, text: String) -> (Result<ImportSummary, StoreError>, Vec<ImportProgress>) {
        self.import_with(text, &ImportOptions::default())
    }

    /// Streams `text` into the store as `options` set.
    fn import_with(
        &self,
        text: String,
        options: &ImportOptions,
    ) -> (Result<ImportSummary, StoreError>, Vec<ImportProgress>) {
        let mut reports = Vec::new();
        let result = self.store().import_reader_with(
            Cursor::new(text.into_bytes()),
            options,
            &mut |progress| reports.push(*progress),
        );
        (result, reports)
    }

    /// Returns (table, index name, definition) of every index of the three
    /// imported tables, ordered by table and name.
    fn indexes(&self) -> Vec<(String, String, String)> {
        #[derive(QueryableByName)]
        struct Index {
            #[diesel(sql_type = diesel::sql_types::Text)]
            table_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            definition: String,
        }
        let rows: Vec<Index> = if self.postgres_admin.is_some() {
            let mut connection = PgConnection::establish(&self.raw_url).expect("connection");
            // A primary key's index is listed like any unique index, so the
            // constraint type is added to its definition.
            diesel::sql_query(
                "SELECT tablename AS table_name, indexname AS name, \
                     indexdef || coalesce(' (constraint ' || ( \
                         SELECT contype::text FROM pg_constraint \
                         WHERE conindid = format('%I', indexname)::regclass) || ')', '') \
                     AS definition \
                 FROM pg_indexes \
                 WHERE tablename IN ('certificates', 'revocations', 'certificate_mobiles') \
                 ORDER BY tablename, indexname",
            )
            .load(&mut connection)
            .expect("index list")
        } else {
            let mut connection = SqliteConnection::establish(&self.raw_url).expect("connection");
            diesel::sql_query(
                "SELECT tbl_name AS table_name, name, coalesce(sql, '') AS definition \
                 FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name IN ('certificates', 'revocations', 'certificate_mobiles') \
                 ORDER BY tbl_name, name",
            )
            .load(&mut connection)
            .expect("index list")
        };
        rows.into_iter()
            .map(|row| (row.table_name, row.name, row.definition))
            .collect()
    }
}

/// Declares each listed function as a test on both backends.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let Some(db) = super::TestDb::postgres(stringify!($name)) else { return };
                    super::$name(&db);
                }
            )*
        }
    };
}

backend_tests!(
    bad_record_beyond_first_batch_writes_nothing,
    duplicate_across_batches_rejected,
    duplicate_within_batch_names_first,
    reimport_changes_nothing,
    progress_counts_each_batch,
    array_layout_streams_too,
    overlapping_import_counts_each_row_once,
    filled_store_import_reads_ahead,
    filled_store_import_on_one_connection,
    earlier_batch_error_reported_first,
    earlier_entry_error_in_same_batch,
    duplicate_of_waiting_batch_rejected,
    rejected_by_check_writes_nothing,
    repeated_revocation_counts_once,
    repeated_revocation_update_counts_once,
    revocation_stored_before_guards_empty_certificates,
    first_load_keeps_every_index,
    first_load_into_filled_store_rejected,
    first_load_revocation_of_other_beneficiary,
    first_load_duplicate_across_batches,
);

// ---------------------------------------------------------------------------
// Test data

fn certificate_id(index: usize) -> String {
    format!("C{index:08}")
}

/// Builds certificate line `index` for `beneficiary`. Two consecutive
/// indexes share a mobile number.
fn certificate_line(index: usize, beneficiary: &str) -> String {
    let id = certificate_id(index);
    let dose = 1 + index % 2;
    format!(
        r#"{{"preEnrollmentCode":"{beneficiary}","certificateId":"{id}","mobile":"9{:09}","name":"Asha Rao","certificate":"{{\"credentialSubject\":{{\"name\":\"Asha Rao\"}},\"evidence\":[{{\"dose\":{dose},\"totalDoses\":2,\"date\":\"2021-10-17T05:30:28.187Z\"}}]}}","osUpdatedAt":"2022-01-05T17:43:34.366Z"}}"#,
        index / 2
    )
}

fn revocation_line(index: usize) -> String {
    format!(
        r#"{{"preEnrollmentCode":"B{}","certificateId":"R{index:08}","dose":1,"previousCertificateId":"{}"}}"#,
        (index - 1) / 2,
        certificate_id(index - 1)
    )
}

/// `count` lines: certificates, with every 25th entry a revocation of the
/// certificate just before it.
fn export_lines(count: usize) -> Vec<String> {
    (1..=count)
        .map(|index| {
            if index % 25 == 0 {
                revocation_line(index)
            } else {
                certificate_line(index, &format!("B{}", index / 2))
            }
        })
        .collect()
}

fn joined(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn import_error(result: Result<ImportSummary, StoreError>) -> String {
    match result {
        Err(StoreError::Import(error)) => error.to_string(),
        other => panic!("expected an import error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Cases run on both backends

fn bad_record_beyond_first_batch_writes_nothing(db: &TestDb) {
    let (first, _) = db.import(joined(&export_lines(30)));
    assert_eq!(first.expect("first import").certificates, 29);
    let before = db.dump();

    let mut lines = export_lines(40_000);
    lines[30_000] = certificate_line(30_001, "B 15000");
    let (result, reports) = db.import(joined(&lines));
    assert_eq!(
        import_error(result),
        "record 30001 (certificateId C00030001): field `preEnrollmentCode` is invalid: \
         not a valid id: only A-Z, a-z, 0-9, '-', '_' and '.' are allowed"
    );
    // Three batches were written inside the transaction before the bad record.
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[2].entries, 3 * IMPORT_BATCH_ENTRIES);
    assert_eq!(db.dump(), before);
}

fn duplicate_across_batches_rejected(db: &TestDb) {
    let mut lines = export_lines(15_000);
    lines[11_999] = certificate_line(3, "B1");
    let (result, reports) = db.import(joined(&lines));
    assert_eq!(
        import_error(result),
        "record 12000 (certificateId C00000003): field `certificateId` is invalid: \
         duplicate of an earlier record; each certificate may appear once per file"
    );
    assert_eq!(reports.len(), 1);
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));
}

fn duplicate_within_batch_names_first(db: &TestDb) {
    let mut lines = export_lines(10);
    lines[6] = certificate_line(2, "B1");
    let (result, reports) = db.import(joined(&lines));
    assert_eq!(
        import_error(result),
        "record 7 (certificateId C00000002): field `certificateId` is invalid: \
         duplicate of record 2; each certificate may appear once per file"
    );
    assert!(reports.is_empty());
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));
}

fn reimport_changes_nothing(db: &TestDb) {
    let text = joined(&export_lines(25_000));
    let (first, _) = db.import(text.clone());
    let first = first.expect("first import");
    assert_eq!(first.certificates, 24_000);
    assert_eq!(first.revocations, 1_000);
    assert_eq!(
        first.certificate_rows,
        RowCounts {
            inserted: 24_000,
            updated: 0,
            unchanged: 0,
            older: 0,
        }
    );
    let after_first = db.dump();
    assert_eq!(after_first.0.len(), 24_000);
    assert_eq!(after_first.1.len(), 1_000);

    let (second, _) = db.import(text);
    let second = second.expect("second import");
    assert_eq!(
        second.certificate_rows,
        RowCounts {
            inserted: 0,
            updated: 0,
            unchanged: 24_000,
            older: 0,
        }
    );
    assert_eq!(
        second.revocation_rows,
        RowCounts {
            inserted: 0,
            updated: 0,
            unchanged: 1_000,
            older: 0,
        }
    );
    assert_eq!(db.dump(), after_first);
    let beneficiary = db
        .store()
        .certificates_by_beneficiary("B99")
        .expect("lookup");
    let ids: Vec<&str> = beneficiary
        .iter()
        .map(|record| record.certificate_id.as_str())
        .collect();
    // Entries 198 and 199 are B99's certificates, and entry 200 revokes 199.
    assert_eq!(ids, ["C00000198"]);
}

fn progress_counts_each_batch(db: &TestDb) {
    let (result, reports) = db.import(joined(&export_lines(25_000)));
    let summary = result.expect("import");
    assert_eq!(summary.certificates + summary.revocations, 25_000);
    assert_eq!(
        reports,
        [
            ImportProgress {
                entries: 10_000,
                certificates: 9_600,
                revocations: 400
            },
            ImportProgress {
                entries: 20_000,
                certificates: 19_200,
                revocations: 800
            },
            ImportProgress {
                entries: 25_000,
                certificates: 24_000,
                revocations: 1_000
            },
        ]
    );
}

fn array_layout_streams_too(db: &TestDb) {
    let lines = export_lines(60);
    let array = format!("[\n{}\n]\n", lines.join(",\n"));
    let (result, reports) = db.import(array);
    let summary = result.expect("import");
    assert_eq!(summary.certificates, 58);
    assert_eq!(summary.revocations, 2);
    assert_eq!(
        reports,
        [ImportProgress {
            entries: 60,
            certificates: 58,
            revocations: 2
        }]
    );

    // A JSON array is checked whole by parse_export, which names both positions.
    let mut repeated = export_lines(5);
    repeated[4] = certificate_line(1, "B0");
    let (result, _) = db.import(format!("[{}]", repeated.join(",")));
    assert_eq!(
        import_error(result),
        "record 5 (certificateId C00000001): field `certificateId` is invalid: \
         duplicate of record 1; each certificate may appear once per file"
    );
}

/// Imports a file that overlaps an earlier import. The stored rows are read
/// again, because the store is no longer empty.
fn overlapping_import_counts_each_row_once(db: &TestDb) {
    let lines = export_lines(24_000);
    let (first, _) = db.import(joined(&lines[..12_000]));
    assert_eq!(
        first.expect("first half").certificate_rows,
        RowCounts {
            inserted: 11_520,
            updated: 0,
            unchanged: 0,
            older: 0,
        }
    );
    let mut changed = lines.clone();
    changed[0] = changed[0].replace("Asha Rao", "Asha R.");
    let (second, _) = db.import(joined(&changed));
    assert_eq!(
        second.expect("whole file").certificate_rows,
        RowCounts {
            inserted: 11_520,
            updated: 1,
            unchanged: 11_519,
            older: 0,
        }
    );
    let (certificates, revocations) = db.dump();
    assert_eq!(certificates.len(), 23_040);
    assert_eq!(revocations.len(), 960);
    assert!(
        certificates[0].2.contains("Asha R."),
        "{:?}",
        certificates[0]
    );
}

/// Imports three batches into a store that contains the first 12,000 entries,
/// with a changed certificate in the first and second batch, and checks the
/// counts and rows. On PostgreSQL, the stored rows are read on a second
/// connection unless `single_connection` is set; SQLite ignores the option.
fn check_filled_store_import(db: &TestDb, single_connection: bool) {
    let options = ImportOptions {
        single_connection,
        ..ImportOptions::default()
    };
    let lines = export_lines(30_000);
    let (first, _) = db.import(joined(&lines[..12_000]));
    assert_eq!(
        first.expect("first import").certificate_rows.inserted,
        11_520
    );

    let mut changed = lines.clone();
    for position in [0, 10_000, 11_998] {
        changed[position] = changed[position].replace("Asha Rao", "Asha R.");
    }
    let (second, reports) = db.import_with(joined(&changed), &options);
    let second = second.expect("whole file");
    assert_eq!(
        second.certificate_rows,
        RowCounts {
            inserted: 17_280,
            updated: 3,
            unchanged: 11_517,
            older: 0,
        }
    );
    assert_eq!(
        second.revocation_rows,
        RowCounts {
            inserted: 720,
            updated: 0,
            unchanged: 480,
            older: 0,
        }
    );
    let entries: Vec<usize> = reports.iter().map(|report| report.entries).collect();
    assert_eq!(entries, [10_000, 20_000, 30_000]);
    let (certificates, revocations) = db.dump();
    assert_eq!(certificates.len(), 28_800);
    assert_eq!(revocations.len(), 1_200);
    let renamed: Vec<&str> = certificates
        .iter()
        .filter(|(_, _, credential)| credential.contains("Asha R."))
        .map(|(id, _, _)| id.as_str())
        .collect();
    assert_eq!(renamed, ["C00000001", "C00010001", "C00011999"]);
}

fn filled_store_import_reads_ahead(db: &TestDb) {
    check_filled_store_import(db, false);
}

fn filled_store_import_on_one_connection(db: &TestDb) {
    check_filled_store_import(db, true);
}

/// Imports a file with a certificate stored for another beneficiary at
/// record 5 and an invalid record at `invalid`, a position after it, and
/// checks that the error of record 5 is returned and nothing is written.
fn check_stored_conflict_reported_first(db: &TestDb, invalid: usize) {
    let (stored, _) = db.import(joined(&[certificate_line(5, "B-OTHER")]));
    assert_eq!(stored.expect("stored").certificates, 1);
    let before = db.dump();

    let mut lines = export_lines(25_000);
    lines[invalid - 1] = certificate_line(invalid, &format!("B {}", invalid / 2));
    let (result, reports) = db.import(joined(&lines));
    assert_eq!(
        import_error(result),
        "record 5 (certificateId C00000005): field `certificateId` is invalid: \
         C00000005 is stored for another beneficiary; a certificate belongs to one beneficiary"
    );
    assert!(reports.is_empty(), "{reports:?}");
    assert_eq!(db.dump(), before);
}

/// Puts the invalid record in the second batch. The first batch's error is
/// returned, although the second batch was read before the first was written.
fn earlier_batch_error_reported_first(db: &TestDb) {
    check_stored_conflict_reported_first(db, 19_001);
}

/// Puts the invalid record in the same batch. The entries before it are still
/// written and checked.
fn earlier_entry_error_in_same_batch(db: &TestDb) {
    check_stored_conflict_reported_first(db, 7_001);
}

/// Imports a certificate id repeated in the second batch into a filled store.
/// On PostgreSQL the first batch is still in memory then, waiting for
/// the stored rows of the second, so the error names its record. On SQLite it
/// is written, and the message names no earlier record.
fn duplicate_of_waiting_batch_rejected(db: &TestDb) {
    let (stored, _) = db.import(joined(&[certificate_line(999_999, "B-OTHER")]));
    assert_eq!(stored.expect("stored").certificates, 1);
    let before = db.dump();

    let mut lines = export_lines(15_000);
    lines[11_999] = certificate_line(3, "B1");
    let (result, _) = db.import(joined(&lines));
    let earlier = if db.postgres_admin.is_some() {
        "duplicate of record 3"
    } else {
        "duplicate of an earlier record"
    };
    assert_eq!(
        import_error(result),
        format!(
            "record 12000 (certificateId C00000003): field `certificateId` is invalid: \
             {earlier}; each certificate may appear once per file"
        )
    );
    assert_eq!(db.dump(), before);
}

/// Imports a file whose entry 15,001 a caller's check rejects. The check's
/// error is returned, and nothing of the file is written.
fn rejected_by_check_writes_nothing(db: &TestDb) {
    let (stored, _) = db.import(joined(&[certificate_line(999_999, "B-OTHER")]));
    assert_eq!(stored.expect("stored").certificates, 1);
    let before = db.dump();

    let check = |item: &divoc_model::ExportItem| {
        if item.position == 15_001 {
            return Err(divoc_model::ModelError::Export {
                reason: format!("record {} rejected by the check", item.position),
            });
        }
        Ok(())
    };
    let mut reports = Vec::new();
    let result = db.store().import_reader_checked(
        Cursor::new(joined(&export_lines(25_000)).into_bytes()),
        &ImportOptions::default(),
        &check,
        &mut |progress| reports.push(*progress),
    );
    assert_eq!(
        import_error(result),
        "invalid registry export: record 15001 rejected by the check"
    );
    assert_eq!(reports.len(), 1);
    assert_eq!(db.dump(), before);
}

/// Returns `revocation_line(index)` with another revocation id, so that it
/// revokes the same certificate with other values.
fn changed_revocation_line(index: usize) -> String {
    revocation_line(index).replace(&format!("R{index:08}"), &format!("R9{index:07}"))
}

/// Imports a file into an empty store in which revocations repeat in later
/// batches: entry 25 (revoking C00000024) again in the second and third
/// batch, and entry 50 (revoking C00000049) with another revocation id in the
/// second batch.
fn repeated_revocation_counts_once(db: &TestDb) {
    let mut lines = export_lines(25_000);
    lines.insert(12_000, revocation_line(25));
    lines.insert(15_000, changed_revocation_line(50));
    lines.insert(22_000, revocation_line(25));
    let (result, reports) = db.import(joined(&lines));
    let summary = result.expect("import");
    assert_eq!(summary.certificates, 24_000);
    assert_eq!(summary.revocations, 1_003);
    assert_eq!(
        summary.certificate_rows,
        RowCounts {
            inserted: 24_000,
            updated: 0,
            unchanged: 0,
            older: 0,
        }
    );
    assert_eq!(
        summary.revocation_rows,
        RowCounts {
            inserted: 1_000,
            updated: 0,
            unchanged: 0,
            older: 0,
        }
    );
    assert_eq!(reports.len(), 3);
    assert_eq!(
        reports[2],
        ImportProgress {
            entries: 25_003,
            certificates: 24_000,
            revocations: 1_003
        }
    );

    let (_, revocations) = db.dump();
    assert_eq!(revocations.len(), 1_000);
    let revoked = |id: &str| {
        revocations
            .iter()
            .find(|(revoked_id, _)| revoked_id == id)
            .map(|(_, revocation_id)| revocation_id.clone())
    };
    assert_eq!(revoked("C00000024").as_deref(), Some("R00000025"));
    // The later entry wins, as within one batch.
    assert_eq!(revoked("C00000049").as_deref(), Some("R90000050"));
}

/// Imports a file again with revocations that repeat in later batches: the
/// stored revocation of C00000024 unchanged in the second batch, and that of
/// C00000049 changed in the third. Each key counts once, and the changed one
/// moves from unchanged to updated.
fn repeated_revocation_update_counts_once(db: &TestDb) {
    let lines = export_lines(25_000);
    let (first, _) = db.import(joined(&lines));
    assert_eq!(
        first.expect("first import").revocation_rows,
        RowCounts {
            inserted: 1_000,
            updated: 0,
            unchanged: 0,
            older: 0,
        }
    );

    let mut repeated = lines;
    repeated.insert(12_000, revocation_line(25));
    repeated.insert(22_000, changed_revocation_line(50));
    let (second, _) = db.import(joined(&repeated));
    let second = second.expect("second import");
    assert_eq!(second.revocations, 1_002);
    assert_eq!(
        second.certificate_rows,
        RowCounts {
            inserted: 0,
            updated: 0,
            unchanged: 24_000,
            older: 0,
        }
    );
    assert_eq!(
        second.revocation_rows,
        RowCounts {
            inserted: 0,
            updated: 1,
            unchanged: 999,
            older: 0,
        }
    );
    let (_, revocations) = db.dump();
    assert_eq!(revocations.len(), 1_000);
    assert!(
        revocations.contains(&("C00000049".to_owned(), "R90000050".to_owned())),
        "C00000049 keeps the revocation of the later batch"
    );
}

/// With no certificate stored, an import skips reading stored certificates,
/// but still checks them against the stored revocations.
fn revocation_stored_before_guards_empty_certificates(db: &TestDb) {
    let revocation = r#"{"preEnrollmentCode":"B1","certificateId":"R1","dose":1,"previousCertificateId":"C00000007"}"#;
    let (first, _) = db.import(format!("{revocation}\n"));
    assert_eq!(first.expect("revocation import").revocations, 1);

    let mut lines = export_lines(12_000);
    lines[10_500] = certificate_line(7, "B2");
    lines[6] = certificate_line(10_501, "B5250");
    let (result, _) = db.import(joined(&lines));
    assert_eq!(
        import_error(result),
        "record 10501 (certificateId C00000007): field `certificateId` is invalid: \
         C00000007 is revoked by a record of another beneficiary"
    );
    assert_eq!(db.dump().0, Vec::new());
}

/// Options of `import --first-load`.
fn first_load() -> ImportOptions {
    ImportOptions {
        first_load: true,
        ..ImportOptions::default()
    }
}

/// Returns every index of the imported tables, as the migrations create them.
fn expected_indexes(db: &TestDb) -> Vec<(String, String, String)> {
    let indexes: &[(&str, &str, &str)] = if db.postgres_admin.is_some() {
        &[
            (
                "certificate_mobiles",
                "certificate_mobiles_pkey",
                "CREATE UNIQUE INDEX certificate_mobiles_pkey ON public.certificate_mobiles \
                 USING btree (mobile, pre_enrollment_code) (constraint p)",
            ),
            (
                "certificates",
                "certificates_certificate_id",
                "CREATE UNIQUE INDEX certificates_certificate_id ON public.certificates \
                 USING btree (certificate_id)",
            ),
            (
                "certificates",
                "certificates_pkey",
                "CREATE UNIQUE INDEX certificates_pkey ON public.certificates \
                 USING btree (pre_enrollment_code, certificate_id) (constraint p)",
            ),
            (
                "revocations",
                "revocations_pkey",
                "CREATE UNIQUE INDEX revocations_pkey ON public.revocations \
                 USING btree (pre_enrollment_code, revoked_certificate_id) (constraint p)",
            ),
            (
                "revocations",
                "revocations_revoked_certificate_id",
                "CREATE UNIQUE INDEX revocations_revoked_certificate_id ON public.revocations \
                 USING btree (revoked_certificate_id)",
            ),
        ]
    } else {
        // `revocations` and `certificate_mobiles` are WITHOUT ROWID tables,
        // whose primary keys are the tables themselves.
        &[
            (
                "certificates",
                "certificates_pre_enrollment_code",
                "CREATE UNIQUE INDEX certificates_pre_enrollment_code \
                 ON certificates (pre_enrollment_code, certificate_id)",
            ),
            ("certificates", "sqlite_autoindex_certificates_1", ""),
            (
                "revocations",
                "revocations_pre_enrollment_code",
                "CREATE UNIQUE INDEX revocations_pre_enrollment_code \
                 ON revocations (pre_enrollment_code, revoked_certificate_id)",
            ),
        ]
    };
    indexes
        .iter()
        .map(|(table, name, definition)| {
            (
                (*table).to_owned(),
                (*name).to_owned(),
                (*definition).to_owned(),
            )
        })
        .collect()
}

/// Checks that every index is there after a first load and after a failed one
/// (PostgreSQL drops and rebuilds them), and that lookups find the rows.
fn first_load_keeps_every_index(db: &TestDb) {
    assert_eq!(db.indexes(), expected_indexes(db));

    let mut lines = export_lines(25_000);
    lines[24_000] = certificate_line(24_001, "B 12000");
    let (failed, _) = db.import_with(joined(&lines), &first_load());
    assert!(matches!(failed, Err(StoreError::Import(_))), "{failed:?}");
    assert_eq!(db.indexes(), expected_indexes(db));
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));

    check_full_load(db, &first_load());
}

/// Imports `export_lines(25_000)` into the empty store as `options` set, and
/// checks the counts, the indexes and lookups by beneficiary and by mobile.
fn check_full_load(db: &TestDb, options: &ImportOptions) {
    let (loaded, reports) = db.import_with(joined(&export_lines(25_000)), options);
    let loaded = loaded.expect("import");
    assert_eq!(reports.len(), 3);
    assert_eq!(
        loaded.certificate_rows,
        RowCounts {
            inserted: 24_000,
            updated: 0,
            unchanged: 0,
            older: 0,
        }
    );
    assert_eq!(loaded.revocations, 1_000);
    assert_eq!(loaded.revocation_rows.inserted, 1_000);
    assert_eq!(db.indexes(), expected_indexes(db));

    let ids_of = |records: Vec<divoc_model::RegistryRecord>| -> Vec<String> {
        records
            .into_iter()
            .map(|record| record.certificate_id)
            .collect()
    };
    // Entries 198 and 199 are B99's certificates, and entry 200 revokes 199.
    let beneficiary = db.store().certificates_by_beneficiary("B99");
    assert_eq!(ids_of(beneficiary.expect("lookup")), ["C00000198"]);
    // Entries 22,002 and 22,003 are B11001's, after the first batch.
    let beneficiary = db.store().certificates_by_beneficiary("B11001");
    assert_eq!(
        ids_of(beneficiary.expect("lookup")),
        ["C00022002", "C00022003"]
    );
    // Entries 20,002 and 20,003 share a mobile number and a beneficiary.
    let by_mobile = db.store().certificates_by_mobile("9000010001");
    assert_eq!(
        ids_of(by_mobile.expect("lookup by mobile")),
        ["C00020002", "C00020003"]
    );
}

/// Checks that a first load writes only into a store without rows, and writes
/// nothing otherwise.
fn first_load_into_filled_store_rejected(db: &TestDb) {
    let revocation = r#"{"preEnrollmentCode":"B1","certificateId":"R1","dose":1,"previousCertificateId":"C00000007"}"#;
    let (first, _) = db.import(format!("{revocation}\n"));
    assert_eq!(first.expect("revocation import").revocations, 1);

    let (result, reports) = db.import_with(joined(&export_lines(30)), &first_load());
    match result {
        Err(error @ StoreError::NotEmpty { .. }) => assert!(
            error.to_string().ends_with(
                "is not empty: a first load writes only into a store without \
                     certificates, revocations or mobile numbers; nothing was written"
            ),
            "{error}"
        ),
        other => panic!("expected StoreError::NotEmpty, got {other:?}"),
    }
    assert!(reports.is_empty());
    let (certificates, revocations) = db.dump();
    assert_eq!(certificates, Vec::new());
    assert_eq!(revocations.len(), 1);
}

/// Checks that a revocation of another beneficiary's certificate fails a first
/// load, in either order of the two entries. The check runs at the end and names the
/// revocation without its position.
fn first_load_revocation_of_other_beneficiary(db: &TestDb) {
    let other = r#"{"preEnrollmentCode":"B9","certificateId":"R9","dose":1,"previousCertificateId":"C00000007"}"#;
    let expected = "revocation (certificateId R9): field `previousCertificateId` is invalid: \
                    C00000007 revokes a certificate of another beneficiary";

    // The revocation comes two batches after the certificate.
    let mut lines = export_lines(25_000);
    lines[24_999] = other.to_owned();
    let (result, reports) = db.import_with(joined(&lines), &first_load());
    assert_eq!(import_error(result), expected);
    assert_eq!(reports.len(), 3);
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));

    // Entries 7 and 24,001 swap places, and entry 1 is the revocation.
    let mut lines = export_lines(25_000);
    lines[0] = other.to_owned();
    lines[6] = certificate_line(24_001, "B12000");
    lines[24_000] = certificate_line(7, "B3");
    let (result, _) = db.import_with(joined(&lines), &first_load());
    assert_eq!(import_error(result), expected);
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));
    assert_eq!(db.indexes(), expected_indexes(db));
}

/// Checks that a certificate id repeated two batches later fails a first load,
/// as it fails any import, although PostgreSQL has no index on certificate ids then.
fn first_load_duplicate_across_batches(db: &TestDb) {
    let mut lines = export_lines(25_000);
    lines[21_999] = certificate_line(3, "B1");
    let (result, reports) = db.import_with(joined(&lines), &first_load());
    assert_eq!(
        import_error(result),
        "record 22000 (certificateId C00000003): field `certificateId` is invalid: \
         duplicate of an earlier record; each certificate may appear once per file"
    );
    assert_eq!(reports.len(), 2);
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));
    assert_eq!(db.indexes(), expected_indexes(db));
}

// ---------------------------------------------------------------------------
// Indexes built at the end of a large import into an empty store

/// Options that defer the index build after the first batch.
fn deferred_after_first_batch() -> ImportOptions {
    ImportOptions {
        defer_indexes_after: Some(IMPORT_BATCH_ENTRIES),
        ..ImportOptions::default()
    }
}

impl TestDb {
    /// Replaces the store's pool by one of a single connection, as
    /// `divoc-server import` opens it, so that the import may have the store
    /// to itself. On PostgreSQL it waits until the old pool's sessions have
    /// ended.
    fn dedicate(&mut self) {
        self.store = None;
        let url = match &self.postgres_admin {
            Some((admin_url, name)) => {
                let mut admin = PgConnection::establish(admin_url).expect("admin connection");
                wait_for_sessions(&mut admin, name, 0);
                self.raw_url.clone()
            }
            None => format!("sqlite://{}", self.raw_url),
        };
        let options = StoreOptions {
            max_connections: 1,
            ..StoreOptions::default()
        };
        self.store = Some(Store::open(&url, &options).expect("store opens"));
    }

    /// Returns the granted lock modes of other sessions on `certificates`.
    fn certificate_lock_modes(&self) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Mode {
            #[diesel(sql_type = diesel::sql_types::Text)]
            mode: String,
        }
        let mut connection = PgConnection::establish(&self.raw_url).expect("connection");
        diesel::sql_query(
            "SELECT mode FROM pg_locks \
             WHERE relation = 'certificates'::regclass AND granted \
             AND pid <> pg_backend_pid() ORDER BY mode",
        )
        .load::<Mode>(&mut connection)
        .expect("lock modes")
        .into_iter()
        .map(|row| row.mode)
        .collect()
    }
}

/// Waits up to 10 s until `count` client sessions are connected to database `name`.
fn wait_for_sessions(admin: &mut PgConnection, name: &str, count: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let sessions = count_sessions(
            admin,
            &format!("datname = '{name}' AND backend_type = 'client backend'"),
        );
        if sessions == count {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sessions} sessions on {name}, expected {count}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Returns the number of sessions in `pg_stat_activity` that match the SQL
/// `condition`.
fn count_sessions(admin: &mut PgConnection, condition: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Sessions {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        sessions: i64,
    }
    diesel::sql_query(format!(
        "SELECT count(*) AS sessions FROM pg_stat_activity WHERE {condition}"
    ))
    .get_result::<Sessions>(admin)
    .expect("session count")
    .sessions
}

/// Checks that an import into an empty store past the threshold stores every
/// row, as without the option, and ends with every index.
fn deferred_indexes_store_every_row(db: &mut TestDb) {
    db.dedicate();
    check_full_load(db, &deferred_after_first_batch());
}

#[test]
fn sqlite_deferred_indexes_store_every_row() {
    deferred_indexes_store_every_row(&mut TestDb::sqlite());
}

#[test]
fn postgres_deferred_indexes_store_every_row() {
    let Some(mut db) = TestDb::postgres("postgres_deferred_indexes_store_every_row") else {
        return;
    };
    deferred_indexes_store_every_row(&mut db);
}

/// Runs an import of 25,000 entries whose entry 24,999 revokes another
/// beneficiary's certificate, and returns its error and the lock modes that
/// the importer held on `certificates` during its second batch.
fn import_with_late_conflict(db: &TestDb) -> (String, Vec<String>) {
    let mut lines = export_lines(25_000);
    lines[24_998] =
        r#"{"preEnrollmentCode":"B9","certificateId":"R9","dose":1,"previousCertificateId":"C00000007"}"#
            .to_owned();
    let mut modes = Vec::new();
    let result = db.store().import_reader_with(
        Cursor::new(joined(&lines).into_bytes()),
        &deferred_after_first_batch(),
        &mut |progress| {
            if progress.entries == IMPORT_BATCH_ENTRIES * 2 {
                modes = db.certificate_lock_modes();
            }
        },
    );
    (import_error(result), modes)
}

/// Runs [`import_with_late_conflict`] and checks that the import kept its
/// indexes: it held only the lock that lets readers go on, and it rejected
/// the revocation in its batch, with its position.
fn check_indexes_kept(db: &TestDb) {
    let (error, modes) = import_with_late_conflict(db);
    assert_eq!(
        error,
        "record 24999 (certificateId R9): field `previousCertificateId` is invalid: \
         C00000007 revokes a certificate of another beneficiary"
    );
    assert_eq!(
        modes,
        [
            "AccessShareLock",
            "RowExclusiveLock",
            "ShareRowExclusiveLock"
        ]
    );
}

/// Checks that a PostgreSQL import that has the store to itself takes the
/// tables and checks the owners of revoked certificates at the end, and that
/// one beside another session keeps its indexes and checks each batch.
#[test]
fn postgres_deferral_only_when_alone() {
    let Some(mut db) = TestDb::postgres("postgres_deferral_only_when_alone") else {
        return;
    };
    db.dedicate();
    let (error, modes) = import_with_late_conflict(&db);
    assert_eq!(
        error,
        "revocation (certificateId R9): field `previousCertificateId` is invalid: \
         C00000007 revokes a certificate of another beneficiary"
    );
    assert_eq!(
        modes,
        [
            "AccessExclusiveLock",
            "AccessShareLock",
            "RowExclusiveLock",
            "ShareRowExclusiveLock"
        ]
    );
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));
    assert_eq!(db.indexes(), expected_indexes(&db));

    // Another session on the database keeps the import as it was.
    let mut other = PgConnection::establish(&db.raw_url).expect("other session");
    diesel::sql_query("SELECT 1")
        .execute(&mut other)
        .expect("other session works");
    check_indexes_kept(&db);
    assert_eq!(db.dump(), (Vec::new(), Vec::new()));
    drop(other);
}

/// Checks that an import as a role without the right to read other roles'
/// session details still counts their sessions, and keeps its indexes.
#[test]
fn postgres_deferral_sees_other_roles() {
    let Some(mut db) = TestDb::postgres("postgres_deferral_sees_other_roles") else {
        return;
    };
    let (admin_url, name) = db.postgres_admin.clone().expect("a PostgreSQL test");
    let role = format!("{name}_importer");
    let mut admin = PgConnection::establish(&admin_url).expect("admin connection");
    diesel::sql_query(format!("CREATE ROLE {role} LOGIN"))
        .execute(&mut admin)
        .expect("role created");
    let mut owner = PgConnection::establish(&db.raw_url).expect("connection");
    owner
        .batch_execute(&format!(
            "GRANT ALL ON SCHEMA public TO {role}; \
             GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"
        ))
        .expect("grants");

    // The owner's session stays open while the role imports.
    db.store = None;
    let (scheme, address) = db.raw_url.split_once("://").expect("a URL");
    let host = address.split_once('@').map_or(address, |(_, host)| host);
    let options = StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    };
    db.store = Some(Store::open(&format!("{scheme}://{role}@{host}"), &options).expect("store"));
    check_indexes_kept(&db);
    drop(owner);
    drop(db);
    diesel::sql_query(format!("DROP ROLE {role}"))
        .execute(&mut admin)
        .expect("role dropped");
}

// ---------------------------------------------------------------------------
// SQLite journal modes

/// Reads the file format bytes of an SQLite database header: 1 and 1 for a
/// rollback journal, 2 and 2 for write-ahead logging.
fn sqlite_format_bytes(path: &str) -> [u8; 2] {
    let header = std::fs::read(path).expect("database file");
    [header[18], header[19]]
}

/// Opens a store of one pooled connection on a new SQLite file, and returns
/// the folder (deleted on drop), the file's path and the store.
fn single_connection_sqlite() -> (tempfile::TempDir, String, Store) {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("store.db").display().to_string();
    let options = StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    };
    let store = Store::open(&format!("sqlite://{path}"), &options).expect("store opens");
    (directory, path, store)
}

fn certificate_count(connection: &mut SqliteConnection) -> i64 {
    certificates::table
        .count()
        .get_result(connection)
        .expect("certificate count")
}

fn sqlite_journal_mode(path: &str) -> String {
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mut connection = SqliteConnection::establish(path).expect("connection");
    diesel::sql_query("PRAGMA journal_mode")
        .get_result::<Mode>(&mut connection)
        .expect("journal mode")
        .journal_mode
}

/// A store of one connection imports with a rollback journal and returns to
/// WAL mode afterwards, after a failed import too.
#[test]
fn sqlite_single_connection_imports_with_rollback_journal() {
    let (_directory, path, store) = single_connection_sqlite();
    assert_eq!(sqlite_format_bytes(&path), [2, 2]);

    let mut during = Vec::new();
    let summary = store
        .import_reader(
            Cursor::new(joined(&export_lines(15_000)).into_bytes()),
            &mut |_| during.push(sqlite_format_bytes(&path)),
        )
        .expect("import");
    assert_eq!(summary.certificates, 14_400);
    assert_eq!(during, [[1, 1], [1, 1]]);
    assert_eq!(sqlite_format_bytes(&path), [2, 2]);
    assert_eq!(sqlite_journal_mode(&path), "wal");

    let mut lines = export_lines(25_000);
    lines[24_000] = certificate_line(24_001, "B 12000");
    let mut during = Vec::new();
    let result = store.import_reader(Cursor::new(joined(&lines).into_bytes()), &mut |_| {
        during.push(sqlite_format_bytes(&path))
    });
    assert!(matches!(result, Err(StoreError::Import(_))), "{result:?}");
    assert_eq!(during, [[1, 1], [1, 1]]);
    assert_eq!(sqlite_journal_mode(&path), "wal");
    let mut connection = SqliteConnection::establish(&path).expect("connection");
    assert_eq!(certificate_count(&mut connection), 14_400);
}

/// A store with a pool of several connections keeps WAL mode for its
/// imports, because another of its connections may open during the import.
#[test]
fn sqlite_pooled_store_imports_in_wal_mode() {
    let db = TestDb::sqlite();
    let mut during = Vec::new();
    let summary = db
        .store()
        .import_reader(
            Cursor::new(joined(&export_lines(15_000)).into_bytes()),
            &mut |_| during.push(sqlite_format_bytes(&db.raw_url)),
        )
        .expect("import");
    assert_eq!(summary.certificates, 14_400);
    assert_eq!(during, [[2, 2], [2, 2]]);
}

/// With another connection open, the import stays in WAL mode, and the other
/// connection reads the committed state while the import runs.
#[test]
fn sqlite_import_beside_reader_keeps_wal() {
    let (_directory, path, store) = single_connection_sqlite();
    let mut reader = SqliteConnection::establish(&path).expect("reader connection");
    assert_eq!(certificate_count(&mut reader), 0);

    let mut during = Vec::new();
    let summary = store
        .import_reader(
            Cursor::new(joined(&export_lines(15_000)).into_bytes()),
            &mut |_| during.push((sqlite_format_bytes(&path), certificate_count(&mut reader))),
        )
        .expect("import");
    assert_eq!(summary.certificates, 14_400);
    assert_eq!(during, [([2, 2], 0), ([2, 2], 0)]);
    assert_eq!(certificate_count(&mut reader), 14_400);
}

// ---------------------------------------------------------------------------
// PostgreSQL table locks

/// Two imports of the same file at once: the second waits for the first to
/// commit, then finds every row stored.
#[test]
fn postgres_concurrent_imports_wait_for_each_other() {
    let Some(db) = TestDb::postgres("postgres_concurrent_imports_wait_for_each_other") else {
        return;
    };
    let text = joined(&export_lines(20_000));
    let summaries: Vec<ImportSummary> = std::thread::scope(|scope| {
        let imports: Vec<_> = (0..2)
            .map(|_| {
                let text = text.clone();
                let db = &db;
                scope.spawn(move || db.import(text).0.expect("import"))
            })
            .collect();
        imports
            .into_iter()
            .map(|import| import.join().expect("import thread"))
            .collect()
    });
    let mut counts: Vec<RowCounts> = summaries
        .iter()
        .map(|summary| summary.certificate_rows)
        .collect();
    counts.sort_by_key(|counts| counts.inserted);
    assert_eq!(
        counts,
        [
            RowCounts {
                inserted: 0,
                updated: 0,
                unchanged: 19_200,
                older: 0,
            },
            RowCounts {
                inserted: 19_200,
                updated: 0,
                unchanged: 0,
                older: 0,
            },
        ]
    );
    assert_eq!(db.dump().0.len(), 19_200);
}

/// Application name of the session that [`lock_certificates_exclusively`] opens.
const EXCLUSIVE_WAITER: &str = "divoc-test-exclusive-waiter";

/// Takes ACCESS EXCLUSIVE on `certificates` in a new session, waiting as long
/// as it takes, and rolls back.
fn lock_certificates_exclusively(url: &str) {
    let mut connection = PgConnection::establish(url).expect("waiting session");
    connection
        .batch_execute(&format!(
            "SET application_name = '{EXCLUSIVE_WAITER}'; \
             BEGIN; LOCK TABLE certificates IN ACCESS EXCLUSIVE MODE; ROLLBACK"
        ))
        .expect("exclusive lock");
}

/// Waits until the session of [`lock_certificates_exclusively`] waits for its
/// lock, and returns `true`, or until `locker` has ended without waiting, and
/// returns `false`.
fn wait_for_exclusive_waiter(
    admin: &mut PgConnection,
    locker: &std::thread::ScopedJoinHandle<'_, ()>,
) -> bool {
    loop {
        let waiting = count_sessions(
            admin,
            &format!("application_name = '{EXCLUSIVE_WAITER}' AND wait_event_type = 'Lock'"),
        );
        if waiting > 0 {
            return true;
        }
        if locker.is_finished() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// An import into a filled store, while a session queues for ACCESS
/// EXCLUSIVE on `certificates` behind the import's lock before the first
/// batch is read. The import's second connection must not queue behind that
/// session, which waits for the import: the import commits every row, and
/// the session gets its lock afterwards.
#[test]
fn postgres_read_ahead_beside_exclusive_waiter() {
    let Some(db) = TestDb::postgres("postgres_read_ahead_beside_exclusive_waiter") else {
        return;
    };
    let lines = export_lines(15_000);
    let (first, _) = db.import(joined(&lines[..5_000]));
    assert_eq!(first.expect("first import").certificates, 4_800);
    let text = joined(&lines);
    let mut admin = PgConnection::establish(&db.raw_url).expect("admin session");

    let (result, waited) = std::thread::scope(|scope| {
        let mut locker = None;
        let mut waited = false;
        // The first entry is read after the import has locked its tables and
        // opened its second connection, and before that connection reads.
        let entries = ExportReader::new(text.as_bytes()).inspect(|_| {
            if locker.is_none() {
                let started = scope.spawn(|| lock_certificates_exclusively(&db.raw_url));
                waited = wait_for_exclusive_waiter(&mut admin, &started);
                locker = Some(started);
            }
        });
        let result = db.store().import_stream(entries, &mut |_| {});
        locker
            .expect("entries were read")
            .join()
            .expect("locking thread");
        (result, waited)
    });

    assert!(
        waited,
        "the session took its lock without waiting for the import"
    );
    let summary = result.expect("import beside a waiting session");
    assert_eq!(
        summary.certificate_rows,
        RowCounts {
            inserted: 9_600,
            updated: 0,
            unchanged: 4_800,
            older: 0,
        }
    );
    assert_eq!(db.dump().0.len(), 14_400);
}
