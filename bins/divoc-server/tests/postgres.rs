//! The service on PostgreSQL: serving, and 503 when the database goes away.
//!
//! Needs `DIVOC_TEST_POSTGRES_URL` (a role that may create databases); without
//! it the test prints a skip notice, unless `DIVOC_REQUIRE_POSTGRES=1`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::Server;
use diesel::{Connection, PgConnection, RunQueryDsl};

fn admin_url() -> Option<String> {
    match std::env::var("DIVOC_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            let required = std::env::var("DIVOC_REQUIRE_POSTGRES").is_ok_and(|value| value == "1");
            assert!(
                !required,
                "DIVOC_TEST_POSTGRES_URL is not set; start a cluster with scripts/pg-test-cluster.sh"
            );
            eprintln!("skipped: DIVOC_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Replaces the database name at the end of a PostgreSQL URL.
fn with_database(url: &str, database: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{database}")
}

/// Creates an empty database, replacing one of the same name, and returns an
/// admin connection and the database's URL. Its default collation is ICU's
/// "en-US", as on a server set up with a language's locale.
fn fresh_database(admin: &str, database: &str) -> (PgConnection, String) {
    let mut connection = PgConnection::establish(admin).unwrap();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {database}"))
        .execute(&mut connection)
        .unwrap();
    diesel::sql_query(format!(
        "CREATE DATABASE {database} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
    ))
    .execute(&mut connection)
    .unwrap();
    (connection, with_database(admin, database))
}

#[test]
fn postgres_serves_then_503() {
    let Some(admin) = admin_url() else { return };
    let database = format!("divoc_server_{}", std::process::id());
    let (mut connection, url) = fresh_database(&admin, &database);

    Server::import_samples(&url);
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start_on(
        folder,
        &url,
        &[("DIVOC__DATABASE__CONNECTION_TIMEOUT_SECONDS", "2")],
    );
    let response = server.get("/certificate/api/certificatePDF/BEN1002");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-disposition"),
        Some("inline; filename=\"certificate-772014589.pdf\"")
    );
    assert_eq!(
        server.get("/certificate/api/certificatePDF/BEN1009").status,
        404
    );

    // Remove the database under the running server: its connections are closed
    // and new ones fail.
    diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut connection)
        .unwrap();
    let response = server.get("/certificate/api/certificatePDF/BEN1002");
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("5"));
    assert_eq!(response.json()["error"], "store_unavailable");
    let log = server.log_text();
    assert!(log.contains("certificate store unavailable"), "{log}");
    assert!(!log.contains("secret"), "{log}");
}

/// Imports the samples again into the filled store, on two connections (the
/// default) and with `--single-connection`. Both find every record unchanged.
#[test]
fn postgres_reimport_both_connection_modes() {
    let Some(admin) = admin_url() else { return };
    let database = format!("divoc_reimport_{}", std::process::id());
    let (mut connection, url) = fresh_database(&admin, &database);
    Server::import_samples(&url);

    let samples = common::fixture("sample-records.json");
    for flags in [&[][..], &["--single-connection"][..]] {
        let output = Server::command(&url, &[])
            .arg("import")
            .args(flags)
            .arg(&samples)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{flags:?}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!(
                "{}: 19 certificates (0 new, 0 updated, 19 unchanged), \
                 2 revocations (0 new, 0 updated, 2 unchanged)\n",
                samples.display()
            ),
            "{flags:?}"
        );
        assert!(!stderr.contains("second connection"), "{flags:?}: {stderr}");
    }
    diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut connection)
        .unwrap();
}

/// Lookups through `database.replica_url` on a real hot standby, when
/// `DIVOC_TEST_POSTGRES_REPLICA_URL` names one of the test server.
#[test]
fn postgres_replica_serves_lookups() {
    let Some(admin) = admin_url() else { return };
    let Ok(replica_admin) = std::env::var("DIVOC_TEST_POSTGRES_REPLICA_URL") else {
        let required = std::env::var("DIVOC_REQUIRE_POSTGRES").is_ok_and(|value| value == "1");
        assert!(
            !required,
            "DIVOC_TEST_POSTGRES_REPLICA_URL is not set; start a standby with \
             scripts/pg-test-cluster.sh standby"
        );
        eprintln!("skipped: DIVOC_TEST_POSTGRES_REPLICA_URL is not set");
        return;
    };
    let database = format!("divoc_server_replica_{}", std::process::id());
    let (mut connection, url) = fresh_database(&admin, &database);
    let replica_url = with_database(&replica_admin, &database);
    Server::import_samples(&url);
    wait_for_standby(&replica_url);

    let folder = tempfile::tempdir().unwrap();
    let server = Server::start_on(
        folder,
        &url,
        &[
            ("DIVOC__DATABASE__REPLICA_URL", replica_url.as_str()),
            ("DIVOC__SERVER__METRICS", "true"),
        ],
    );
    assert_eq!(
        server.get("/certificate/api/certificatePDF/BEN1002").status,
        200
    );
    assert_eq!(
        server.get("/certificate/api/certificatePDF/BEN1009").status,
        404
    );

    let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
    assert!(
        metrics.contains("\ndivoc_store_replica_failures_total 0\n"),
        "{metrics}"
    );
    let log = server.log_text();
    assert!(log.contains(&format!("replica={replica_url}")), "{log}");

    drop(server);
    diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut connection)
        .unwrap();
}

/// Waits until the standby at `url` has replayed the sample import, for at
/// most 20 s. Before that, a lookup there fails or finds nothing and runs on
/// the primary.
fn wait_for_standby(url: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let replayed = PgConnection::establish(url)
            .ok()
            .and_then(|mut connection| {
                diesel::sql_query(
                    "SELECT 1 FROM certificates WHERE pre_enrollment_code = 'BEN1002'",
                )
                .execute(&mut connection)
                .ok()
            });
        if replayed.is_some_and(|rows| rows > 0) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the standby {url} did not receive the sample import within 20 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
