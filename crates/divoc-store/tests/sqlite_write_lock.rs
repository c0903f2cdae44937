//! An SQLite store whose write lock another connection holds for longer
//! than the busy timeout, as an import of a large export does: opening and
//! reading go on, and a second import waits for the lock instead of failing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::thread;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use divoc_store::{ImportSummary, RowCounts, Store, StoreOptions};

/// A busy timeout far shorter than the time the tests hold the write lock.
const SHORT_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

fn options() -> StoreOptions {
    StoreOptions {
        sqlite_busy_timeout: SHORT_BUSY_TIMEOUT,
        ..StoreOptions::default()
    }
}

fn export(beneficiary: &str, certificate_id: &str) -> String {
    let certificate = serde_json::json!({
        "credentialSubject": {"name": "Asha Rao"},
        "evidence": [{"dose": 1}],
    });
    serde_json::json!([{
        "preEnrollmentCode": beneficiary,
        "certificateId": certificate_id,
        "certificate": certificate.to_string(),
    }])
    .to_string()
}

/// Creates a store with one certificate of `BEN-1`, and returns its URL.
fn created_store(path: &Path) -> String {
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url, &options()).expect("store created");
    store
        .import_text(&export("BEN-1", "100000001"))
        .expect("first certificate imported");
    url
}

/// Opens a second connection to the file that holds the write lock in an
/// open transaction, as an import does until it commits.
fn hold_write_lock(path: &Path) -> SqliteConnection {
    let mut holder =
        SqliteConnection::establish(path.to_str().expect("UTF-8 path")).expect("connection");
    holder
        .batch_execute("BEGIN IMMEDIATE; DELETE FROM rate_limits;")
        .expect("write lock taken");
    holder
}

fn one_new_certificate() -> ImportSummary {
    ImportSummary {
        certificates: 1,
        revocations: 0,
        certificate_rows: RowCounts {
            inserted: 1,
            ..RowCounts::default()
        },
        revocation_rows: RowCounts::default(),
    }
}

#[test]
fn open_and_read_beside_writer() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("store.sqlite");
    let url = created_store(&path);
    let mut holder = hold_write_lock(&path);

    let store = Store::open(&url, &options()).expect("store opens beside the writer");
    let records = store
        .certificates_by_beneficiary("BEN-1")
        .expect("lookup beside the writer");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].certificate_id, "100000001");
    assert!(store.beneficiary_exists("BEN-1").expect("existence check"));

    holder.batch_execute("COMMIT").expect("write lock released");
}

#[test]
fn import_waits_for_writer() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("store.sqlite");
    let url = created_store(&path);
    let store = Store::open(&url, &options()).expect("store opens");
    let mut holder = hold_write_lock(&path);

    let importing = store.clone();
    let text_import = thread::spawn(move || importing.import_text(&export("BEN-2", "100000002")));
    let importing = store.clone();
    let streamed_import = thread::spawn(move || {
        let text = export("BEN-3", "100000003");
        importing.import_reader(text.as_bytes(), &mut |_| {})
    });

    // An import that waits cannot finish while the lock is held. One that
    // gave up after its busy timeout would have failed by now.
    thread::sleep(SHORT_BUSY_TIMEOUT * 10);
    assert!(!text_import.is_finished());
    assert!(!streamed_import.is_finished());
    holder.batch_execute("COMMIT").expect("write lock released");

    let text_summary = text_import.join().expect("import thread");
    assert_eq!(
        text_summary.expect("import after the writer"),
        one_new_certificate()
    );
    let streamed_summary = streamed_import.join().expect("import thread");
    assert_eq!(
        streamed_summary.expect("streamed import after the writer"),
        one_new_certificate()
    );
    for (beneficiary, certificate_id) in [("BEN-2", "100000002"), ("BEN-3", "100000003")] {
        let records = store
            .certificates_by_beneficiary(beneficiary)
            .expect("lookup");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].certificate_id, certificate_id);
    }
}
