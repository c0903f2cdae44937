//! Email delivery over real SMTP: an SMTP server (mailin-embedded) on loopback
//! receives the messages, and the test parses the MIME message and compares
//! the attachment with the download route's bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;
mod delivery_common;
mod smtp_common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{Server, have_tool};
use delivery_common::{
    audit_rows, citizen, distribution, get_as, move_third_dose, post_json, print_role, run_tool,
};
use smtp_common::{attachment_of, smtp_env, start_smtp};

const EMAIL: &str = "/certificate/api/email";

/// Polls the email status until it leaves `queued` and `sending`. The wait is
/// bounded only to end a hung test, and asserts nothing about time.
fn wait_for_outcome(server: &Server, authorization: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = get_as(server, &format!("{EMAIL}/{id}"), authorization).json();
        let state = status["status"].as_str().unwrap().to_owned();
        if state != "queued" && state != "sending" {
            return status;
        }
        assert!(Instant::now() < deadline, "email still {state}: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn email_attachment_matches_download() {
    let (port, received) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
    ]);
    let partner = distribution("partner-1");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&partner),
        &json!({"certificateId": "772014589", "to": "asha@example.test"}),
    );
    assert_eq!(
        queued.status,
        202,
        "{}",
        String::from_utf8_lossy(&queued.body)
    );
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(queued.json()["statusUrl"], format!("{EMAIL}/{id}"));
    let outcome = wait_for_outcome(&server, &partner, &id);
    assert_eq!(outcome["status"], "sent", "{outcome}");
    assert_eq!(outcome["attempts"], 1);

    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let (subject, to, attachment, body) = attachment_of(&messages[0]);
    assert_eq!(subject, "Your vaccination certificate 772014589");
    assert_eq!(to, "asha@example.test");
    assert!(
        body.starts_with("Your vaccination certificate 772014589 is attached"),
        "{body}"
    );
    let download = server.get("/certificate/api/certificatePDF/BEN1002");
    assert_eq!(download.status, 200);
    assert_eq!(attachment, download.body);

    let other = get_as(
        &server,
        &format!("{EMAIL}/{id}"),
        &distribution("partner-2"),
    );
    assert_eq!(other.status, 404);
    let print = get_as(&server, &format!("{EMAIL}/{id}"), &print_role());
    assert_eq!(print.status, 403);
    let no_token = server.request("GET", &format!("{EMAIL}/{id}"), &[]);
    assert_eq!(no_token.status, 401);
    assert!(!server.log_text().contains("asha@example.test"));
}

#[test]
fn citizen_email_shows_only_own_doses() {
    let (port, received) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
    ]);
    move_third_dose(&server);
    let owner = citizen("9222222222");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&owner),
        &json!({"certificateId": "772014589", "to": "asha@example.test"}),
    );
    assert_eq!(queued.status, 202);
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&server, &owner, &id);
    assert_eq!(outcome["status"], "sent", "{outcome}");

    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let (_, _, attachment, _) = attachment_of(&messages[0]);
    let own = get_as(&server, "/certificate/api/certificatePDF/BEN1002", &owner);
    assert_eq!(own.status, 200);
    assert_eq!(attachment, own.body);
    let everything = server.get("/certificate/api/certificatePDF/BEN1002");
    assert_ne!(attachment, everything.body);
}

#[test]
fn email_attachment_in_requested_language() {
    let (port, received) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
    ]);
    let owner = citizen("9000000001");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&owner),
        &json!({"certificateId": "772014589", "to": "asha@example.test", "language": "hi-IN"}),
    );
    assert_eq!(
        queued.status,
        202,
        "{}",
        String::from_utf8_lossy(&queued.body)
    );
    assert_eq!(queued.json()["language"], "hi");
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&server, &owner, &id);
    assert_eq!(outcome["status"], "sent", "{outcome}");
    assert_eq!(outcome["language"], "hi");

    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let (subject, _, attachment, _) = attachment_of(&messages[0]);
    assert_eq!(subject, "आपका टीकाकरण प्रमाणपत्र 772014589");
    let hindi = server.get("/certificate/api/certificatePDF/BEN1002?language=hi");
    assert_eq!(hindi.header("content-language"), Some("hi"));
    assert!(
        attachment == hindi.body,
        "attachment differs from the Hindi download"
    );
    // The sent email has an audit row, as a download does. The audit writer
    // stores rows in the background, so the check waits for the row.
    let deadline = Instant::now() + Duration::from_secs(60);
    let emailed = loop {
        let rows: Vec<Value> = audit_rows(&server, "772014589")
            .into_iter()
            .filter(|row| row["role"] == "email")
            .collect();
        if !rows.is_empty() || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(emailed.len(), 1, "{emailed:?}");
    assert_eq!(emailed[0]["route"], EMAIL);
    assert_eq!(emailed[0]["subject"], format!("email:{id}"));
    let english = server.get("/certificate/api/certificatePDF/BEN1002");
    assert!(attachment != english.body);
    if have_tool("pdftotext", "poppler-utils") {
        let file = server.folder.path().join("attachment.pdf");
        std::fs::write(&file, &attachment).unwrap();
        let (opened, text) = run_tool("pdftotext", &["-enc", "UTF-8", file.to_str().unwrap(), "-"]);
        assert!(opened);
        assert!(
            text.contains("लाभार्थी का विवरण / Beneficiary Details"),
            "{text}"
        );
    }
}

#[test]
fn email_unknown_language_falls_back() {
    let (port, received) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
    ]);
    let partner = distribution("partner-1");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&partner),
        &json!({"certificateId": "772014589", "to": "asha@example.test", "language": "fr"}),
    );
    assert_eq!(queued.status, 202);
    assert_eq!(queued.json()["language"], "en");
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&server, &partner, &id);
    assert_eq!(outcome["status"], "sent", "{outcome}");
    let messages = received.lock().unwrap().clone();
    let (subject, _, attachment, _) = attachment_of(&messages[0]);
    assert_eq!(subject, "Your vaccination certificate 772014589");
    let english = server.get("/certificate/api/certificatePDF/BEN1002");
    assert!(attachment == english.body);
}

#[test]
fn email_protected_with_dob_in_hindi() {
    let (port, received) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
    ]);
    let owner = citizen("9000000003");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&owner),
        &json!({"certificateId": "680325917", "to": "ravi@example.test", "protect": "dob", "language": "hi"}),
    );
    assert_eq!(
        queued.status,
        202,
        "{}",
        String::from_utf8_lossy(&queued.body)
    );
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&server, &owner, &id);
    assert_eq!(outcome["status"], "sent", "{outcome}");
    assert_eq!(outcome["protected"], true);
    let messages = received.lock().unwrap().clone();
    let (subject, _, attachment, _) = attachment_of(&messages[0]);
    assert_eq!(subject, "आपका टीकाकरण प्रमाणपत्र 680325917");
    assert!(attachment.starts_with(b"%PDF-"));
    if have_tool("pdftotext", "poppler-utils") {
        let file = server.folder.path().join("attachment.pdf");
        std::fs::write(&file, &attachment).unwrap();
        let path = file.to_str().unwrap();
        assert!(!run_tool("pdftotext", &[path, "-"]).0);
        let (opened, text) = run_tool("pdftotext", &["-upw", "30071983", path, "-"]);
        assert!(opened);
        assert!(text.contains("680325917"), "{text}");
    }
}

#[test]
fn email_rejects_wrong_callers() {
    let (port, _received) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__MAX_PER_MOBILE", "2"),
    ]);
    let body = json!({"certificateId": "772014589", "to": "asha@example.test"});
    assert_eq!(post_json(&server, EMAIL, None, &body).status, 401);
    assert_eq!(
        post_json(&server, EMAIL, Some(&print_role()), &body).status,
        403
    );
    let other = post_json(&server, EMAIL, Some(&citizen("9000000003")), &body);
    assert_eq!(other.status, 404);
    assert_eq!(other.json()["error"], "certificate_not_found");
    let superseded = post_json(
        &server,
        EMAIL,
        Some(&distribution("p")),
        &json!({"certificateId": "231907446", "to": "a@example.test"}),
    );
    assert_eq!(superseded.status, 410);
    let revoked = post_json(
        &server,
        EMAIL,
        Some(&distribution("p")),
        &json!({"certificateId": "739046182", "to": "a@example.test"}),
    );
    assert_eq!(revoked.status, 404);
    let bad_address = post_json(
        &server,
        EMAIL,
        Some(&distribution("p")),
        &json!({"certificateId": "772014589", "to": "not an address"}),
    );
    assert_eq!(bad_address.status, 400);
    assert_eq!(bad_address.json()["value"], "not an address");
    // Addresses that parse as such but that the worker could never send to.
    for to in [
        "\"a b\"@example.test",
        "a@[127.0.0.1]",
        "Asha <asha@example.test>",
    ] {
        let unsendable = post_json(
            &server,
            EMAIL,
            Some(&distribution("p")),
            &json!({"certificateId": "772014589", "to": to}),
        );
        assert_eq!(unsendable.status, 400, "{to}");
        assert_eq!(unsendable.json()["value"], to);
        assert_eq!(
            unsendable.json()["message"],
            "invalid to: not an email address that can be sent to: expected \
             local-part@domain, without a display name, quotes or an address literal",
            "{to}"
        );
    }
    let no_dob = post_json(
        &server,
        EMAIL,
        Some(&distribution("p")),
        &json!({"certificateId": "367059124", "to": "a@example.test", "protect": "dob"}),
    );
    assert_eq!(no_dob.status, 422);
    assert_eq!(no_dob.json()["error"], "dob_missing");
    let language = post_json(
        &server,
        EMAIL,
        Some(&distribution("p")),
        &json!({"certificateId": "772014589", "to": "a@example.test", "language": "hi<x>"}),
    );
    assert_eq!(language.status, 400);
    assert_eq!(language.json()["value"], "hi<x>");

    let own = citizen("9000000001");
    assert_eq!(post_json(&server, EMAIL, Some(&own), &body).status, 202);
    assert_eq!(post_json(&server, EMAIL, Some(&own), &body).status, 202);
    let limited = post_json(&server, EMAIL, Some(&own), &body);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"], "rate_limited");
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        server
            .request("GET", &format!("{EMAIL}/000000000000000000000000"), &[])
            .status,
        401
    );
}

#[test]
fn email_disabled_without_smtp_url() {
    let server = Server::start(&[]);
    let refused = post_json(
        &server,
        EMAIL,
        Some(&distribution("p")),
        &json!({"certificateId": "772014589", "to": "a@example.test"}),
    );
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json()["error"], "email_disabled");
}

#[test]
fn email_retries_then_fails() {
    // A port with no listener: every attempt fails to connect.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
        ("DIVOC__EMAIL__BACKOFF_SECONDS", "1"),
        ("DIVOC__EMAIL__MAX_ATTEMPTS", "2"),
    ]);
    let partner = distribution("partner-1");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&partner),
        &json!({"certificateId": "772014589", "to": "a@example.test"}),
    );
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&server, &partner, &id);
    assert_eq!(outcome["status"], "failed", "{outcome}");
    assert_eq!(outcome["attempts"], 2);
    assert!(
        outcome["lastError"]
            .as_str()
            .unwrap()
            .contains("SMTP delivery failed"),
        "{outcome}"
    );
    assert!(server.log_text().contains("email attempt failed; retrying"));
}

#[test]
fn email_survives_restart() {
    // Queued while the SMTP server is down, sent by the next server process.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut first = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__BACKOFF_SECONDS", "3600"),
    ]);
    let partner = distribution("partner-1");
    let queued = post_json(
        &first,
        EMAIL,
        Some(&partner),
        &json!({"certificateId": "772014589", "to": "a@example.test"}),
    );
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    first.terminate();
    let folder = std::mem::replace(&mut first.folder, tempfile::tempdir().unwrap());
    let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
    delivery_common::execute_sql_at(
        &url,
        "UPDATE email_outbox SET next_attempt_at = '2020-01-01 00:00:00'",
    );

    let (port, received) = start_smtp(None);
    let second = Server::start_on(
        folder,
        &url,
        &[
            ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
            ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
        ],
    );
    let outcome = wait_for_outcome(&second, &partner, &id);
    assert_eq!(outcome["status"], "sent", "{outcome}");
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[test]
fn email_over_starttls_with_private_ca() {
    if !have_tool("openssl", "openssl") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let path = |name: &str| folder.path().join(name).display().to_string();
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Test CA",
        "-keyout",
        &path("ca.key"),
        "-out",
        &path("ca.pem"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &path("server.key"),
        "-out",
        &path("server.csr"),
    ]);
    std::fs::write(
        path("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path("server.csr"),
        "-CA",
        &path("ca.pem"),
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &path("ext.cnf"),
        "-out",
        &path("server.pem"),
    ]);

    let (port, received) = start_smtp(Some((
        Path::new(&path("server.pem")),
        Path::new(&path("server.key")),
    )));
    let server = Server::start(&[
        (
            "DIVOC__EMAIL__SMTP_URL",
            &format!("smtp://127.0.0.1:{port}?tls=required"),
        ),
        ("DIVOC__EMAIL__CA_FILE", &path("ca.pem")),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
        ("DIVOC__EMAIL__MAX_ATTEMPTS", "1"),
    ]);
    let partner = distribution("partner-1");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&partner),
        &json!({"certificateId": "772014589", "to": "a@example.test"}),
    );
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&server, &partner, &id);
    assert_eq!(outcome["status"], "sent", "{outcome}");
    assert_eq!(received.lock().unwrap().len(), 1);

    // Without the CA file the same server's certificate is not trusted.
    let untrusted = Server::start(&[
        (
            "DIVOC__EMAIL__SMTP_URL",
            &format!("smtp://127.0.0.1:{port}?tls=required"),
        ),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
        ("DIVOC__EMAIL__MAX_ATTEMPTS", "1"),
    ]);
    let queued = post_json(
        &untrusted,
        EMAIL,
        Some(&partner),
        &json!({"certificateId": "772014589", "to": "a@example.test"}),
    );
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&untrusted, &partner, &id);
    assert_eq!(outcome["status"], "failed", "{outcome}");
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[test]
fn email_to_unicode_address_fails_at_once() {
    // The test SMTP server does not offer SMTPUTF8, so the address cannot
    // be sent through it, on any attempt.
    let (port, received) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
        ("DIVOC__EMAIL__BACKOFF_SECONDS", "1"),
    ]);
    let partner = distribution("partner-1");
    let queued = post_json(
        &server,
        EMAIL,
        Some(&partner),
        &json!({"certificateId": "772014589", "to": "ünï@example.test"}),
    );
    assert_eq!(queued.status, 202);
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    let outcome = wait_for_outcome(&server, &partner, &id);
    assert_eq!(outcome["status"], "failed", "{outcome}");
    assert_eq!(outcome["attempts"], 1);
    assert!(
        outcome["lastError"]
            .as_str()
            .unwrap()
            .starts_with("the email cannot be sent through this SMTP server"),
        "{outcome}"
    );
    assert!(received.lock().unwrap().is_empty());
}
