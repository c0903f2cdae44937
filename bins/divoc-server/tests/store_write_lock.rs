//! Commands that open an SQLite store while another connection holds its
//! write lock for longer than the 5 s busy timeout, as an import of a large
//! export does until it commits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Server, fixture};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

/// The warning that an import logs while it waits for another writer.
const WAITING: &str = "this import waits until that write transaction commits";

/// Opens a connection to the store that holds the write lock in an open
/// transaction.
fn hold_write_lock(path: &Path) -> SqliteConnection {
    let mut holder = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    holder
        .batch_execute("BEGIN IMMEDIATE; DELETE FROM rate_limits;")
        .unwrap();
    holder
}

#[test]
fn audit_and_import_beside_writer() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("store.sqlite");
    let url = format!("sqlite://{}", path.display());
    Server::import_samples(&url);
    let mut holder = hold_write_lock(&path);

    // `audit` only reads, and opening the store takes no write lock.
    let audit = Server::command(&url, &[])
        .args(["audit", "--certificate", "772014589", "--limit", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&audit.stderr);
    assert!(audit.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&audit.stdout), "");

    // A second import waits for the lock past the busy timeout, and logs a
    // warning that it waits.
    let mut import = Server::command(&url, &[])
        .arg("import")
        .arg(fixture("sample-records.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (sender, receiver) = mpsc::channel();
    let stderr = import.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains(WAITING) {
                let _ = sender.send(());
            }
            lines.push(line);
        }
        lines
    });
    // An import that waits ends only after the lock is released. A receive
    // error means that the import ended without the warning, or that it
    // logged none within 120 s.
    let warned = receiver.recv_timeout(Duration::from_secs(120));
    holder.batch_execute("COMMIT").unwrap();
    let status = import.wait().unwrap();
    let log = reader.join().unwrap().join("\n");
    assert!(warned.is_ok(), "{log}");
    assert!(status.success(), "{log}");

    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut import.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.contains(
            "19 certificates (0 new, 0 updated, 19 unchanged), \
             2 revocations (0 new, 0 updated, 2 unchanged)"
        ),
        "{stdout}"
    );
}
