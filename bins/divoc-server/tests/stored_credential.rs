//! Certificate routes over a store whose compressed credential is damaged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::Server;

const PDF: &str = "/certificate/api/certificatePDF";
const QR: &str = "/certificate/api/certificateQRCode";

/// Imports the samples, replaces the stored credential of certificate
/// 772014589 (the latest of BEN1002) with the SQL expression `value`, and
/// starts the server on `port`.
fn start_with_damaged_credential(value: &str, port: u16) -> Server {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("divoc.sqlite");
    let url = format!("sqlite://{}", path.display());
    Server::import_samples(&url);
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let changed = diesel::sql_query(format!(
        "UPDATE certificates SET certificate = {value} WHERE certificate_id = '772014589'"
    ))
    .execute(&mut connection)
    .unwrap();
    assert_eq!(changed, 1);
    drop(connection);
    let bind = format!("127.0.0.1:{port}");
    Server::start_on(folder, &url, &[("DIVOC__SERVER__BIND", bind.as_str())])
}

/// Each damaged value gets a JSON 500 on both routes, the log does not name
/// the beneficiary, and other beneficiaries are still served.
#[test]
fn damaged_credential_gets_json_500() {
    let values = [
        "x'00'",
        "x'ff00000000'",
        "x'0100000000'",
        "CAST(x'01ffffffff' || substr(certificate, 6) AS BLOB)",
        "substr(certificate, 1, length(certificate) - 4)",
    ];
    for (offset, value) in (0_u16..).zip(values) {
        let server = start_with_damaged_credential(value, 56_110 + offset);
        for route in [PDF, QR] {
            let response = server.get(&format!("{route}/BEN1002"));
            assert_eq!(response.status, 500, "{value} on {route}");
            assert_eq!(
                response.header("content-type"),
                Some("application/json"),
                "{value} on {route}"
            );
            let body = response.json();
            assert_eq!(body["error"], "internal", "{value} on {route}: {body}");
        }
        assert_eq!(server.get(&format!("{PDF}/BEN1001")).status, 200, "{value}");
        let log = server.wait_for_log("internal error");
        assert!(log.contains("is corrupt"), "{value}:\n{log}");
        assert!(
            !log.contains("BEN1002"),
            "{value}: log contains BEN1002:\n{log}"
        );
        // The log names the certificate by the first 12 hex digits of the
        // SHA-256 of its id, not by the id.
        assert!(
            !log.contains("772014589"),
            "{value}: log contains the certificate id:\n{log}"
        );
        assert!(
            log.contains("stored certificate fa0947d527b5 is corrupt: column `certificate`: "),
            "{value}:\n{log}"
        );
    }
}
