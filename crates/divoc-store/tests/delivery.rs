//! Share links and the email outbox, on SQLite and (with
//! `DIVOC_TEST_POSTGRES_URL`) on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use divoc_store::{EmailStatus, NewEmail, NewShareLink, Store, StoreOptions};

/// A store on a fresh database; a PostgreSQL database is dropped afterwards.
struct TestStore {
    store: Option<Store>,
    _directory: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        self.store = None;
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

impl TestStore {
    fn get(&self) -> &Store {
        self.store.as_ref().unwrap()
    }
}

fn options() -> StoreOptions {
    StoreOptions {
        max_connections: 8,
        connection_timeout: Duration::from_secs(30),
        sqlite_busy_timeout: Duration::from_secs(30),
        replica_url: None,
        ..StoreOptions::default()
    }
}

fn sqlite() -> TestStore {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("store.db").display());
    TestStore {
        store: Some(Store::open(&url, &options()).unwrap()),
        _directory: Some(directory),
        postgres: None,
    }
}

fn postgres(test: &str) -> Option<TestStore> {
    let Some(admin_url) = std::env::var("DIVOC_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
    else {
        assert!(
            std::env::var("DIVOC_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "DIVOC_REQUIRE_POSTGRES=1 but DIVOC_TEST_POSTGRES_URL is not set"
        );
        eprintln!("skipping PostgreSQL test {test}: DIVOC_TEST_POSTGRES_URL is not set");
        return None;
    };
    let name = format!("divoc_delivery_{}_{test}", std::process::id());
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let base = admin_url.split('?').next().unwrap_or(&admin_url);
    let base = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
    let url = format!("{base}/{name}");
    Some(TestStore {
        store: Some(Store::open(&url, &options()).unwrap()),
        _directory: None,
        postgres: Some((admin_url, name)),
    })
}

/// Declares each function as a test on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $name() { super::$name(&super::sqlite()); })*
        }
        mod postgres_backend {
            $(#[test] fn $name() {
                if let Some(store) = super::postgres(stringify!($name)) { super::$name(&store); }
            })*
        }
    };
}

on_both_backends!(
    share_link_round_trip,
    passcode_attempts_capped,
    outbox_claims_in_due_order,
    outbox_lease_lapses,
    outbox_claims_each_row_once,
    certificate_by_id_hides_revoked,
    certificate_by_beneficiary_and_id_cases,
);

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn link<'a>(id: &'a str, creator: &'a str, passcode_hash: Option<&'a str>) -> NewShareLink<'a> {
    NewShareLink {
        id,
        token_hash: id,
        certificate_id: "100000001",
        pre_enrollment_code: "BEN-1",
        creator,
        passcode_hash,
        created_at: at(0),
        expires_at: at(3600),
        scope_mobile: None,
    }
}

fn share_link_round_trip(test: &TestStore) {
    let store = test.get();
    store
        .create_share_link(&link("link-a", "alice", None))
        .unwrap();
    store
        .create_share_link(&link("link-b", "bob", None))
        .unwrap();
    let found = store.share_link_by_token_hash("link-a").unwrap().unwrap();
    assert_eq!(found.id, "link-a");
    assert_eq!(found.creator, "alice");
    assert_eq!(found.scope_mobile, None);
    assert_eq!(found.expires_at.and_utc(), at(3600));
    assert!(found.is_live(at(3599)));
    assert!(!found.is_live(at(3600)));
    assert!(store.share_link_by_token_hash("missing").unwrap().is_none());

    let alice = store.share_links_by_creator("alice", 10).unwrap();
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0].id, "link-a");

    assert!(
        store
            .revoke_share_link("link-a", "bob", at(10))
            .unwrap()
            .is_none()
    );
    let revoked = store
        .revoke_share_link("link-a", "alice", at(10))
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at.map(|time| time.and_utc()), Some(at(10)));
    let again = store
        .revoke_share_link("link-a", "alice", at(20))
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at.map(|time| time.and_utc()), Some(at(10)));
    assert!(!again.is_live(at(11)));
    assert!(
        store
            .create_share_link(&link("link-a", "alice", None))
            .is_err()
    );
}

fn passcode_attempts_capped(test: &TestStore) {
    let store = test.get();
    store
        .create_share_link(&link("locked", "alice", Some("$hash")))
        .unwrap();
    store
        .create_share_link(&link("open", "alice", None))
        .unwrap();
    for _ in 0..5 {
        assert_eq!(
            store
                .claim_share_passcode_attempt("locked", 5)
                .unwrap()
                .as_deref(),
            Some("$hash")
        );
    }
    assert!(
        store
            .claim_share_passcode_attempt("locked", 5)
            .unwrap()
            .is_none()
    );
    store.release_share_passcode_attempt("locked").unwrap();
    assert!(
        store
            .claim_share_passcode_attempt("locked", 5)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .share_link_by_token_hash("locked")
            .unwrap()
            .unwrap()
            .failed_attempts,
        5
    );
    assert!(
        store
            .claim_share_passcode_attempt("open", 5)
            .unwrap()
            .is_none()
    );
}

fn email<'a>(id: &'a str, created_at: DateTime<Utc>) -> NewEmail<'a> {
    NewEmail {
        id,
        certificate_id: "100000001",
        recipient: "a@example.test",
        language: "en",
        protect: None,
        requester: "alice",
        created_at,
        scope_mobile: Some("9000000001"),
    }
}

fn outbox_claims_in_due_order(test: &TestStore) {
    let store = test.get();
    store.enqueue_email(&email("second", at(5))).unwrap();
    store.enqueue_email(&email("first", at(1))).unwrap();
    assert!(store.claim_due_email(at(0), at(300)).unwrap().is_none());

    let claimed = store.claim_due_email(at(10), at(310)).unwrap().unwrap();
    assert_eq!(claimed.id, "first");
    assert_eq!(claimed.status, EmailStatus::Sending);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.scope_mobile.as_deref(), Some("9000000001"));
    assert_eq!(claimed.next_attempt_at, at(310));
    assert_eq!(
        store.claim_due_email(at(10), at(310)).unwrap().unwrap().id,
        "second"
    );
    assert!(store.claim_due_email(at(10), at(310)).unwrap().is_none());

    assert!(
        store
            .finish_email_attempt(
                "first",
                1,
                EmailStatus::Queued,
                at(11),
                Some(at(60)),
                Some("refused")
            )
            .unwrap()
    );
    assert!(
        store
            .finish_email_attempt("second", 1, EmailStatus::Sent, at(11), None, None)
            .unwrap()
    );
    assert!(
        !store
            .finish_email_attempt("second", 1, EmailStatus::Failed, at(12), None, None)
            .unwrap()
    );
    let first = store.email("first").unwrap().unwrap();
    assert_eq!(first.status, EmailStatus::Queued);
    assert_eq!(first.last_error.as_deref(), Some("refused"));
    assert!(store.claim_due_email(at(59), at(400)).unwrap().is_none());
    let retried = store.claim_due_email(at(60), at(400)).unwrap().unwrap();
    assert_eq!(retried.id, "first");
    assert_eq!(retried.attempts, 2);
    assert_eq!(
        store.email("second").unwrap().unwrap().status,
        EmailStatus::Sent
    );
    assert!(store.email("missing").unwrap().is_none());
}

fn outbox_lease_lapses(test: &TestStore) {
    let store = test.get();
    store.enqueue_email(&email("stuck", at(0))).unwrap();
    assert_eq!(
        store
            .claim_due_email(at(1), at(301))
            .unwrap()
            .unwrap()
            .attempts,
        1
    );
    assert!(store.claim_due_email(at(300), at(600)).unwrap().is_none());
    let reclaimed = store.claim_due_email(at(301), at(601)).unwrap().unwrap();
    assert_eq!(reclaimed.id, "stuck");
    assert_eq!(reclaimed.attempts, 2);

    // The first attempt ends after the second claim: its result is dropped.
    assert!(
        !store
            .finish_email_attempt("stuck", 1, EmailStatus::Failed, at(302), None, Some("550"))
            .unwrap()
    );
    let stuck = store.email("stuck").unwrap().unwrap();
    assert_eq!(stuck.status, EmailStatus::Sending);
    assert_eq!(stuck.last_error, None);
    assert!(
        store
            .finish_email_attempt("stuck", 2, EmailStatus::Sent, at(303), None, None)
            .unwrap()
    );
    assert_eq!(
        store.email("stuck").unwrap().unwrap().status,
        EmailStatus::Sent
    );
}

fn outbox_claims_each_row_once(test: &TestStore) {
    let store = test.get();
    let ids: Vec<String> = (0..40).map(|index| format!("email-{index:02}")).collect();
    for id in &ids {
        store.enqueue_email(&email(id, at(0))).unwrap();
    }
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            let claimed = Arc::clone(&claimed);
            std::thread::spawn(move || {
                while let Some(email) = store.claim_due_email(at(1), at(301)).unwrap() {
                    claimed.lock().unwrap().push(email.id);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    assert_eq!(claimed.len(), ids.len());
    let unique: BTreeSet<String> = claimed.into_iter().collect();
    assert_eq!(unique, ids.into_iter().collect::<BTreeSet<_>>());
}

/// Two beneficiaries with one certificate each; BEN-2's certificate is revoked.
const TWO_BENEFICIARIES_ONE_REVOKED: &str = r#"[
    {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001",
     "certificate": "{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"},
    {"preEnrollmentCode": "BEN-2", "certificateId": "100000002", "mobile": "9000000002",
     "certificate": "{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"},
    {"preEnrollmentCode": "BEN-2", "certificateId": "100000003", "previousCertificateId": "100000002"}
]"#;

fn certificate_by_id_hides_revoked(test: &TestStore) {
    let store = test.get();
    store.import_text(TWO_BENEFICIARIES_ONE_REVOKED).unwrap();
    let found = store.certificate_by_id("100000001").unwrap().unwrap();
    assert_eq!(found.pre_enrollment_code, "BEN-1");
    assert!(store.certificate_by_id("100000002").unwrap().is_none());
    assert!(store.certificate_by_id("999999999").unwrap().is_none());
}

fn certificate_by_beneficiary_and_id_cases(test: &TestStore) {
    let store = test.get();
    store.import_text(TWO_BENEFICIARIES_ONE_REVOKED).unwrap();

    let found = store
        .certificate_by_beneficiary_and_id("BEN-1", "100000001")
        .unwrap()
        .unwrap();
    assert_eq!(found.pre_enrollment_code, "BEN-1");
    assert_eq!(found.certificate_id, "100000001");
    // Another beneficiary's certificate is not found through this one's id.
    let other = store.certificate_by_beneficiary_and_id("BEN-2", "100000001");
    assert!(other.unwrap().is_none());
    // A revoked certificate is hidden.
    let revoked = store.certificate_by_beneficiary_and_id("BEN-2", "100000002");
    assert!(revoked.unwrap().is_none());
    let unknown = store.certificate_by_beneficiary_and_id("BEN-1", "999999999");
    assert!(unknown.unwrap().is_none());
}
