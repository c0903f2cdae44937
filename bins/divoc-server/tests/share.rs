//! Share links, password-protected PDFs and SMS notify over real HTTP, with a
//! real HTTP server on loopback as the SMS gateway.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;
mod delivery_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use common::{Server, have_tool};
use delivery_common::{
    audit_rows, citizen, distribution, execute_sql, get_as, import_text, move_third_dose,
    post_json, print_role, run_tool, send,
};

const SHARE: &str = "/certificate/api/share";

fn create(server: &Server, authorization: &str, body: &Value) -> common::Response {
    post_json(server, SHARE, Some(authorization), body)
}

/// Fetches the file of a share link in `format`, without a token.
fn get_shared(server: &Server, token: &str, format: &str) -> common::Response {
    server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format={format}"),
        &[],
    )
}

fn token_of(created: &Value) -> String {
    created["token"].as_str().unwrap().to_owned()
}

#[test]
fn share_url_names_listening_port() {
    // Without server.public_url, links name `bind` with the port the listener
    // got in place of port 0.
    let server = Server::start(&[]);
    let created = create(
        &server,
        &distribution("partner-1"),
        &json!({"certificateId": "772014589"}),
    );
    assert_eq!(created.status, 201);
    let body = created.json();
    let token = token_of(&body);
    assert_eq!(
        body["url"],
        format!("http://127.0.0.1:{}/s/{token}", server.port)
    );
}

#[test]
fn share_docs_example_matches_response() {
    // The 201 body shown in docs/share-links.md has the fields, in order,
    // that the server sends for the same request.
    let docs = std::fs::read_to_string(common::workspace().join("docs/share-links.md")).unwrap();
    let example = docs
        .lines()
        .find_map(|line| line.strip_prefix("# {\"id\""))
        .map(|rest| format!("{{\"id\"{rest}"))
        .expect("docs/share-links.md contains no example 201 body");
    let example: Value = serde_json::from_str(&example).unwrap();

    let server = Server::start(&[]);
    let created = create(
        &server,
        &distribution("partner-1"),
        &json!({"certificateId": "772014589", "expiresInDays": 3}),
    );
    assert_eq!(created.status, 201);
    let body = created.json();
    let keys = |value: &Value| {
        value
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&example), keys(&body));
    assert_eq!(example["language"], body["language"]);
    assert_eq!(example["certificateId"], body["certificateId"]);
}

#[test]
fn share_link_serves_and_revokes() {
    let server = Server::start(&[("DIVOC__SERVER__PUBLIC_URL", "https://certs.example.test/")]);
    let owner = distribution("partner-1");
    let created = create(&server, &owner, &json!({"certificateId": "772014589"}));
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let body = created.json();
    let token = token_of(&body);
    assert_eq!(token.len(), 43);
    assert_eq!(body["url"], format!("https://certs.example.test/s/{token}"));
    assert_eq!(body["certificateId"], "772014589");
    let id = body["id"].as_str().unwrap().to_owned();

    let pdf = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=pdf"),
        &[],
    );
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let download = server.get("/certificate/api/certificatePDF/BEN1002");
    assert_eq!(pdf.body, download.body);
    let qr = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=qr"),
        &[],
    );
    assert_eq!(qr.status, 200);
    assert_eq!(
        qr.body,
        server
            .get("/certificate/api/certificateQRCode/BEN1002")
            .body
    );
    let json_format = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=json"),
        &[],
    );
    assert_eq!(json_format.status, 200);
    assert_eq!(json_format.json()["certificateId"], "772014589");
    let bad_format = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=doc"),
        &[],
    );
    assert_eq!(bad_format.status, 400);
    assert_eq!(bad_format.json()["value"], "doc");

    // HEAD gets the status and headers of GET without a body, and is not
    // counted as a use below.
    let head = server.request(
        "HEAD",
        &format!("/certificate/api/shared/{token}?format=pdf"),
        &[],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/pdf"));
    assert_eq!(
        head.header("content-length"),
        Some(pdf.body.len().to_string().as_str())
    );
    assert!(head.body.is_empty());
    let head_page = server.request("HEAD", &format!("/s/{token}"), &[]);
    assert_eq!(head_page.status, 200);
    assert_eq!(
        head_page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(head_page.body.is_empty());

    let page = server.request("GET", &format!("/s/{token}"), &[]);
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        html.contains(&format!("/certificate/api/shared/{token}?format=qr")),
        "{html}"
    );
    let policy = page.header("content-security-policy").unwrap();
    assert!(
        policy.starts_with("default-src 'none'; img-src 'self' data:;"),
        "{policy}"
    );
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));

    let listed = get_as(&server, SHARE, &owner).json();
    assert_eq!(listed["links"][0]["id"], id.as_str());
    assert_eq!(listed["links"][0]["status"], "active");
    assert!(
        get_as(&server, SHARE, &distribution("partner-2")).json()["links"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let by_other = send(
        &server,
        "DELETE",
        &format!("{SHARE}/{id}"),
        &[("Authorization", &distribution("partner-2"))],
        None,
    );
    assert_eq!(by_other.status, 404);
    assert_eq!(by_other.json()["error"], "link_not_found");
    let revoked = send(
        &server,
        "DELETE",
        &format!("{SHARE}/{id}"),
        &[("Authorization", &owner)],
        None,
    );
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.json()["status"], "revoked");
    let after = server.request("GET", &format!("/certificate/api/shared/{token}"), &[]);
    assert_eq!(after.status, 410);
    assert_eq!(after.json()["error"], "link_revoked");
    let page_after = server.request("GET", &format!("/s/{token}"), &[]);
    assert_eq!(page_after.status, 410);

    let unknown = server.request(
        "GET",
        &format!("/certificate/api/shared/{}", "A".repeat(43)),
        &[],
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"], "link_not_found");

    let audit = audit_rows(&server, "772014589");
    let link_uses = audit
        .iter()
        .filter(|row| row["role"] == "share-link" && row["subject"] == format!("share-link:{id}"))
        .count();
    assert_eq!(link_uses, 3, "{audit:?}");
    let page_views = audit
        .iter()
        .filter(|row| row["role"] == "share-link-page")
        .count();
    assert_eq!(page_views, 1, "{audit:?}");
    assert!(!server.log_text().contains(&token), "token in the log");
}

#[test]
fn citizen_link_shows_only_own_doses() {
    let server = Server::start(&[]);
    move_third_dose(&server);
    let owner = citizen("9222222222");
    let own = get_as(&server, "/certificate/api/certificatePDF/BEN1002", &owner);
    assert_eq!(own.status, 200);
    let everything = get_as(
        &server,
        "/certificate/api/certificatePDF/BEN1002",
        &distribution("partner-1"),
    );
    assert_eq!(everything.status, 200);
    // The citizen's own download leaves out the doses of the other number.
    assert_ne!(own.body, everything.body);

    let created = create(&server, &owner, &json!({"certificateId": "772014589"}));
    assert_eq!(created.status, 201);
    let token = token_of(&created.json());
    let shared = get_shared(&server, &token, "pdf");
    assert_eq!(shared.status, 200);
    assert_eq!(shared.body, own.body);

    // A distribution role's link shows every dose, as its download does.
    let created = create(
        &server,
        &distribution("partner-1"),
        &json!({"certificateId": "772014589"}),
    );
    let token = token_of(&created.json());
    let shared = get_shared(&server, &token, "pdf");
    assert_eq!(shared.body, everything.body);
}

#[test]
fn citizen_shares_latest_of_own_doses() {
    let server = Server::start(&[]);
    move_third_dose(&server);
    // The third dose is now another number's, so the second is the latest of
    // the doses registered to 9000000001, as that citizen's download shows.
    let owner = citizen("9000000001");
    let created = create(&server, &owner, &json!({"certificateId": "347521093"}));
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let token = token_of(&created.json());
    let shared = get_shared(&server, &token, "pdf");
    assert_eq!(shared.status, 200);
    let own = get_as(&server, "/certificate/api/certificatePDF/BEN1002", &owner);
    assert_eq!(shared.body, own.body);
    let listed = get_as(&server, SHARE, &owner).json();
    assert_eq!(listed["links"][0]["status"], "active");
    // The first dose is superseded within the same doses.
    let older = create(&server, &owner, &json!({"certificateId": "231907446"}));
    assert_eq!(older.status, 410);
    assert_eq!(older.json()["error"], "certificate_superseded");
}

#[test]
fn citizen_link_ends_when_certificate_moves() {
    let server = Server::start(&[]);
    move_third_dose(&server);
    let owner = citizen("9222222222");
    let created = create(&server, &owner, &json!({"certificateId": "772014589"}));
    assert_eq!(created.status, 201);
    let token = token_of(&created.json());

    // The registry moves the certificate back to the first number.
    let third = delivery_common::sample_record("772014589");
    delivery_common::import_text(&server, &format!("{third}\n"));

    for format in ["json", "pdf", "qr"] {
        let shared = get_shared(&server, &token, format);
        assert_eq!(shared.status, 410, "{format}");
        assert_eq!(shared.json()["error"], "certificate_moved", "{format}");
        assert_eq!(shared.json()["value"], "772014589", "{format}");
    }
    let page = server.request("GET", &format!("/s/{token}"), &[]);
    assert_eq!(page.status, 410);
    let listed = get_as(&server, SHARE, &owner).json();
    assert_eq!(listed["links"][0]["status"], "certificate_revoked");
}

#[test]
fn passcode_checked_before_certificate_state() {
    let server = Server::start(&[]);
    move_third_dose(&server);
    let owner = citizen("9222222222");
    let token = link_with_passcode(&server, &owner);
    let third = delivery_common::sample_record("772014589");
    delivery_common::import_text(&server, &format!("{third}\n"));

    // Without the passcode, the response names no certificate.
    let without = get_shared(&server, &token, "pdf");
    assert_eq!(without.status, 401);
    assert_eq!(without.json()["error"], "passcode_required");
    assert_eq!(without.json().get("value"), None);
    let page = server.request("GET", &format!("/s/{token}"), &[]);
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("passcode"), "{html}");
    assert!(!html.contains("772014589"), "{html}");

    let target = format!("/certificate/api/shared/{token}?format=pdf");
    let with = server.request("GET", &target, &[("X-Share-Passcode", "2468")]);
    assert_eq!(with.status, 410);
    assert_eq!(with.json()["error"], "certificate_moved");
}

#[test]
fn share_rejects_wrong_callers() {
    let server = Server::start(&[]);
    let body = json!({"certificateId": "772014589"});
    let no_token = post_json(&server, SHARE, None, &body);
    assert_eq!(no_token.status, 401);
    let print = create(&server, &print_role(), &body);
    assert_eq!(print.status, 403);
    let other_citizen = create(&server, &citizen("9000000003"), &body);
    assert_eq!(other_citizen.status, 404);
    assert_eq!(other_citizen.json()["error"], "certificate_not_found");

    let own = create(&server, &citizen("9000000001"), &body);
    assert_eq!(own.status, 201);

    let superseded = create(
        &server,
        &distribution("partner-1"),
        &json!({"certificateId": "231907446"}),
    );
    assert_eq!(superseded.status, 410);
    assert_eq!(superseded.json()["error"], "certificate_superseded");
    let revoked = create(
        &server,
        &distribution("partner-1"),
        &json!({"certificateId": "739046182"}),
    );
    assert_eq!(revoked.status, 404);

    let bad_days = create(
        &server,
        &distribution("partner-1"),
        &json!({"certificateId": "772014589", "expiresInDays": 0}),
    );
    assert_eq!(bad_days.status, 400);
    assert_eq!(bad_days.json()["value"], "0");
    let not_json = send(
        &server,
        "POST",
        SHARE,
        &[("Authorization", &distribution("partner-1"))],
        Some(("application/json", b"{")),
    );
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.json()["error"], "invalid_body");

    let list_without_token = server.request("GET", SHARE, &[]);
    assert_eq!(list_without_token.status, 401);
    assert_eq!(get_as(&server, SHARE, &print_role()).status, 403);

    let link_id = own.json()["id"].as_str().unwrap().to_owned();
    let revoke_path = format!("{SHARE}/{link_id}");
    assert_eq!(send(&server, "DELETE", &revoke_path, &[], None).status, 401);
    let by_print = send(
        &server,
        "DELETE",
        &revoke_path,
        &[("Authorization", &print_role())],
        None,
    );
    assert_eq!(by_print.status, 403);
    let by_other_citizen = send(
        &server,
        "DELETE",
        &revoke_path,
        &[("Authorization", &citizen("9000000003"))],
        None,
    );
    assert_eq!(by_other_citizen.status, 404);
    let by_owner = send(
        &server,
        "DELETE",
        &revoke_path,
        &[("Authorization", &citizen("9000000001"))],
        None,
    );
    assert_eq!(by_owner.status, 200);
}

#[test]
fn malformed_link_and_email_ids_rejected() {
    // A malformed id in the path is 400 invalid_id with the value, as on the
    // file routes. A well-formed id that matches nothing is 404.
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let authorization = [("Authorization", owner.as_str())];
    let routes = [
        ("DELETE", SHARE, "share link id", "link_not_found"),
        (
            "GET",
            "/certificate/api/email",
            "email id",
            "email_not_found",
        ),
    ];
    let malformed = [
        ("xyz", "expected 24 hex digits", "xyz"),
        (
            "0123456789abcdef0123456",
            "expected 24 hex digits",
            "0123456789abcdef0123456",
        ),
        (
            "0123456789abcdef012345678",
            "expected 24 hex digits",
            "0123456789abcdef012345678",
        ),
        (
            "0123456789abcdef0123456%20",
            "expected 24 hex digits",
            "0123456789abcdef0123456 ",
        ),
        ("%FF", "percent-decoded bytes are not UTF-8", "%FF"),
    ];
    for (method, base, kind, not_found) in routes {
        for (id, reason, value) in malformed {
            let target = format!("{base}/{id}");
            let response = send(&server, method, &target, &authorization, None);
            assert_eq!(response.status, 400, "{method} {target}");
            let body = response.json();
            assert_eq!(body["error"], "invalid_id", "{method} {target}");
            assert_eq!(
                body["message"],
                format!("invalid {kind}: {reason}"),
                "{method} {target}"
            );
            assert_eq!(body["value"], value, "{method} {target}");
            // The token is checked before the id.
            let without_token = send(&server, method, &target, &[], None);
            assert_eq!(without_token.status, 401, "{method} {target}");
        }
        let unknown = format!("{base}/{}", "0a".repeat(12));
        let response = send(&server, method, &unknown, &authorization, None);
        assert_eq!(response.status, 404, "{method} {unknown}");
        assert_eq!(response.json()["error"], not_found, "{method} {unknown}");
    }
    let head = server.request("HEAD", "/certificate/api/email/xyz", &authorization);
    assert_eq!(head.status, 400);
}

#[test]
fn share_link_expires_and_follows_certificate() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let expiring =
        token_of(&create(&server, &owner, &json!({"certificateId": "621598047"})).json());
    execute_sql(
        &server,
        "UPDATE share_links SET expires_at = '2020-01-01 00:00:00' WHERE certificate_id = '621598047'",
    );
    let expired = server.request("GET", &format!("/certificate/api/shared/{expiring}"), &[]);
    assert_eq!(expired.status, 410);
    assert_eq!(expired.json()["error"], "link_expired");

    let superseded =
        token_of(&create(&server, &owner, &json!({"certificateId": "508264731"})).json());
    let revoked = token_of(&create(&server, &owner, &json!({"certificateId": "493816250"})).json());
    let newer: Value = serde_json::from_str(&common::sample_certificate("508264731")).unwrap();
    let mut newer = newer;
    newer["evidence"][0]["dose"] = json!(3);
    newer["evidence"][0]["certificateId"] = json!("999000001");
    let export = json!([
        {"preEnrollmentCode": "BEN1007", "certificateId": "999000001", "mobile": "9000000007", "certificate": newer.to_string()},
        {"preEnrollmentCode": "BEN1006", "certificateId": "999000002", "previousCertificateId": "493816250"}
    ]);
    import_text(&server, &export.to_string());
    let gone = server.request("GET", &format!("/certificate/api/shared/{superseded}"), &[]);
    assert_eq!(gone.status, 410);
    assert_eq!(gone.json()["error"], "certificate_superseded");
    let gone = server.request("GET", &format!("/certificate/api/shared/{revoked}"), &[]);
    assert_eq!(gone.status, 410);
    assert_eq!(gone.json()["error"], "certificate_revoked");

    // The creator's listing shows why each link stopped working.
    let listed = get_as(&server, SHARE, &owner).json();
    let status_of = |certificate_id: &str| {
        listed["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|link| link["certificateId"] == certificate_id)
            .map(|link| link["status"].clone())
            .unwrap()
    };
    assert_eq!(status_of("621598047"), "expired");
    assert_eq!(status_of("508264731"), "certificate_superseded");
    assert_eq!(status_of("493816250"), "certificate_revoked");
}

#[test]
fn passcode_allows_five_wrong_tries() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let token = link_with_passcode(&server, &owner);
    let target = format!("/certificate/api/shared/{token}");
    let missing = server.request("GET", &target, &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"], "passcode_required");
    let right = server.request("GET", &target, &[("X-Share-Passcode", "2468")]);
    assert_eq!(right.status, 200);
    assert_eq!(right.header("content-type"), Some("application/pdf"));
    let form_page = server.request("GET", &format!("/s/{token}"), &[]);
    assert_eq!(form_page.status, 200);
    assert!(String::from_utf8_lossy(&form_page.body).contains("name=\"passcode\""));
    let wrong_form = send(
        &server,
        "POST",
        &format!("/s/{token}"),
        &[],
        Some(("application/x-www-form-urlencoded", b"passcode=1357")),
    );
    assert_eq!(wrong_form.status, 401);
    assert!(String::from_utf8_lossy(&wrong_form.body).contains("The passcode is wrong."));
    let unlocked = send(
        &server,
        "POST",
        &format!("/s/{token}"),
        &[],
        Some(("application/x-www-form-urlencoded", b"passcode=2468")),
    );
    assert_eq!(unlocked.status, 200);
    assert!(String::from_utf8_lossy(&unlocked.body).contains("data:image/png;base64,"));

    // The wrong passcode from the form counted as the first of five.
    for left in (0..4).rev() {
        let wrong = server.request("GET", &target, &[("X-Share-Passcode", "1111")]);
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.json()["error"], "passcode_invalid");
        assert_eq!(wrong.json()["attemptsLeft"], left);
    }
    let locked = server.request("GET", &target, &[("X-Share-Passcode", "2468")]);
    assert_eq!(locked.status, 429);
    assert_eq!(locked.json()["error"], "passcode_locked");
    let listed = get_as(&server, SHARE, &owner).json();
    assert_eq!(listed["links"][0]["status"], "locked");
    let log = server.log_text();
    assert!(
        !mentions_number(&log, "2468"),
        "the log holds the passcode:\n{log}"
    );
}

#[test]
fn form_and_query_errors_are_json() {
    let server = Server::start(&[]);
    let token = link_with_passcode(&server, &distribution("partner-1"));

    for target in [
        format!("/s/{token}"),
        format!("/certificate/api/shared/{token}"),
    ] {
        let twice = send(
            &server,
            "POST",
            &target,
            &[],
            Some((
                "application/x-www-form-urlencoded",
                b"passcode=2468&passcode=1357",
            )),
        );
        assert_eq!(twice.status, 400, "{target}");
        assert_eq!(twice.header("content-type"), Some("application/json"));
        assert_eq!(twice.json()["error"], "invalid_parameter");
        assert_eq!(
            twice.json()["message"],
            "invalid form: Parse error: duplicate field `passcode`."
        );
    }

    // Other form errors keep their status, with a JSON body.
    let large = format!("passcode={}", "1".repeat(20_000));
    let too_large = send(
        &server,
        "POST",
        &format!("/s/{token}"),
        &[],
        Some(("application/x-www-form-urlencoded", large.as_bytes())),
    );
    assert_eq!(too_large.status, 413);
    assert_eq!(
        too_large.json(),
        json!({
            "error": "payload_too_large",
            "message": "the request body is larger than 16384 bytes",
        })
    );

    let query = format!("/certificate/api/shared/{token}?format=pdf&format=png");
    let repeated = server.request("GET", &query, &[("X-Share-Passcode", "2468")]);
    assert_eq!(repeated.status, 400);
    assert_eq!(
        repeated.json()["message"],
        "invalid query string: Query deserialize error: duplicate field `format`"
    );
    assert_eq!(repeated.json()["value"], "format=pdf&format=png");
}

/// Creates a link to certificate 772014589 with passcode 2468 and returns its token.
fn link_with_passcode(server: &Server, owner: &str) -> String {
    let body = json!({"certificateId": "772014589", "passcode": "2468"});
    token_of(&create(server, owner, &body).json())
}

/// Returns true when `number` occurs in `text` with no digit right before or
/// after it. A bare `contains` also matched digits of a timestamp such as
/// `12.824680Z`, so the passcode test failed by chance.
fn mentions_number(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn mentions_number_ignores_longer_numbers() {
    assert!(mentions_number("passcode=2468 rejected", "2468"));
    assert!(mentions_number("2468", "2468"));
    assert!(!mentions_number("at 02:51:12.824680Z", "2468"));
    assert!(!mentions_number("port 24681", "2468"));
}

#[test]
fn protected_pdf_needs_dob_password() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let token = token_of(&create(&server, &owner, &json!({"certificateId": "680325917"})).json());
    let plain = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=pdf"),
        &[],
    );
    let protected = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=pdf&protect=dob"),
        &[],
    );
    assert_eq!(protected.status, 200);
    assert!(protected.body.starts_with(b"%PDF-"));
    assert_ne!(protected.body, plain.body);
    let again = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=pdf"),
        &[],
    );
    assert_eq!(
        again.body, plain.body,
        "the cache must keep only unprotected files"
    );

    let no_dob = token_of(&create(&server, &owner, &json!({"certificateId": "367059124"})).json());
    let refused = server.request(
        "GET",
        &format!("/certificate/api/shared/{no_dob}?protect=dob"),
        &[],
    );
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["error"], "dob_missing");
    let bad = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?protect=pin"),
        &[],
    );
    assert_eq!(bad.status, 400);

    let file = server.folder.path().join("protected.pdf");
    std::fs::write(&file, &protected.body).unwrap();
    let path = file.to_str().unwrap();
    if have_tool("pdftotext", "poppler-utils") {
        let (opened, _) = run_tool("pdftotext", &[path, "-"]);
        assert!(!opened, "poppler opened the file without a password");
        let (opened, text) = run_tool("pdftotext", &["-upw", "30071983", path, "-"]);
        assert!(opened);
        assert!(text.contains("680325917"), "{text}");
    }
    if have_tool("mutool", "mupdf-tools") {
        let out = server.folder.path().join("page.txt");
        let out = out.to_str().unwrap();
        let (opened, _) = run_tool("mutool", &["draw", "-F", "txt", "-o", out, path]);
        assert!(!opened, "MuPDF opened the file without a password");
        let (opened, _) = run_tool(
            "mutool",
            &["draw", "-p", "30071983", "-F", "txt", "-o", out, path],
        );
        assert!(opened);
        assert!(std::fs::read_to_string(out).unwrap().contains("680325917"));
    }
}

/// Starts an SMS gateway on loopback that stores each request body and responds 200.
fn start_gateway() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let stored = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut raw = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                let read = stream.read(&mut buffer).unwrap_or(0);
                if read == 0 {
                    break;
                }
                raw.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + length {
                        stored.lock().unwrap().push(text[end + 4..].to_owned());
                        break;
                    }
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, bodies)
}

#[test]
fn notify_sends_working_link() {
    let (gateway, bodies) = start_gateway();
    let server = Server::start(&[
        ("DIVOC__SMS__URL", &gateway),
        ("DIVOC__NOTIFY__MAX_PER_MOBILE", "1"),
    ]);
    let request = json!({"certificateId": "680325917", "channel": "sms"});
    let sent = post_json(
        &server,
        "/certificate/api/notify",
        Some(&citizen("9000000003")),
        &request,
    );
    assert_eq!(sent.status, 200, "{}", String::from_utf8_lossy(&sent.body));
    assert_eq!(sent.json()["status"], "sent");
    let posted = bodies.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    let gateway_body: Value = serde_json::from_str(&posted[0]).unwrap();
    assert_eq!(gateway_body["to"], "9000000003");
    let message = gateway_body["message"].as_str().unwrap();
    let base = format!("http://127.0.0.1:{}/s/", server.port);
    assert!(
        message.starts_with(&format!("Your vaccination certificate: {base}")),
        "{message}"
    );
    let token: String = message
        .split("/s/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let shared = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=json"),
        &[],
    );
    assert_eq!(shared.status, 200);
    assert_eq!(shared.json()["certificateId"], "680325917");

    let limited = post_json(
        &server,
        "/certificate/api/notify",
        Some(&citizen("9000000003")),
        &request,
    );
    assert_eq!(limited.status, 429);
    let no_token = post_json(&server, "/certificate/api/notify", None, &request);
    assert_eq!(no_token.status, 401);
    let print = post_json(
        &server,
        "/certificate/api/notify",
        Some(&print_role()),
        &request,
    );
    assert_eq!(print.status, 403);
    let other = post_json(
        &server,
        "/certificate/api/notify",
        Some(&citizen("9000000007")),
        &request,
    );
    assert_eq!(other.status, 404);
    let channel = post_json(
        &server,
        "/certificate/api/notify",
        Some(&distribution("partner-1")),
        &json!({"certificateId": "680325917", "channel": "fax"}),
    );
    assert_eq!(channel.status, 400);
    assert_eq!(channel.json()["value"], "fax");
    let superseded = post_json(
        &server,
        "/certificate/api/notify",
        Some(&distribution("partner-1")),
        &json!({"certificateId": "231907446", "channel": "sms"}),
    );
    assert_eq!(superseded.status, 410);
    assert_eq!(bodies.lock().unwrap().len(), 1);
    assert!(!server.log_text().contains(&token));
    // Neither the number nor an unkeyed hash of it: ten digits are quick to
    // brute-force from a hash.
    let log = server.log_text();
    assert!(!log.contains("9000000003"));
    assert!(
        !log.contains("6e52df6458cf"),
        "an unkeyed hash of the mobile number was logged"
    );
    assert!(log.contains("share:"), "{log}");
}

#[test]
fn notify_sends_link_in_language() {
    let (gateway, bodies) = start_gateway();
    let server = Server::start(&[("DIVOC__SMS__URL", &gateway)]);
    let sent = post_json(
        &server,
        "/certificate/api/notify",
        Some(&citizen("9000000003")),
        &json!({"certificateId": "680325917", "channel": "sms", "language": "hi"}),
    );
    assert_eq!(sent.status, 200, "{}", String::from_utf8_lossy(&sent.body));
    let posted = bodies.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    let gateway_body: Value = serde_json::from_str(&posted[0]).unwrap();
    let message = gateway_body["message"].as_str().unwrap();
    let base = format!("http://127.0.0.1:{}/s/", server.port);
    assert!(
        message.starts_with(&format!("आपका टीकाकरण प्रमाणपत्र: {base}")),
        "{message}"
    );
    // The link carries the language, so its page offers the Hindi PDF.
    let link = message.split_whitespace().nth(3).unwrap();
    assert!(link.ends_with("?language=hi"), "{message}");
    let token = &link[base.len()..link.len() - "?language=hi".len()];
    let pdf = server.request(
        "GET",
        &format!("/certificate/api/shared/{token}?format=pdf&language=hi"),
        &[],
    );
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-language"), Some("hi"));

    let invalid = post_json(
        &server,
        "/certificate/api/notify",
        Some(&citizen("9000000003")),
        &json!({"certificateId": "680325917", "channel": "sms", "language": "hi x"}),
    );
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["value"], "hi x");
    assert_eq!(bodies.lock().unwrap().len(), 1);
}

#[test]
fn share_creation_limited_per_mobile() {
    let server = Server::start(&[("DIVOC__SHARE__MAX_PER_MOBILE", "1")]);
    let body = json!({"certificateId": "772014589"});
    let owner = citizen("9000000001");
    assert_eq!(create(&server, &owner, &body).status, 201);
    let limited = create(&server, &owner, &body);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"], "rate_limited");
    assert!(limited.header("retry-after").is_some());
    // Another mobile number has its own limit, and distribution roles have none.
    let other = create(
        &server,
        &citizen("9000000003"),
        &json!({"certificateId": "680325917"}),
    );
    assert_eq!(other.status, 201);
    let partner = distribution("partner-1");
    assert_eq!(create(&server, &partner, &body).status, 201);
    assert_eq!(create(&server, &partner, &body).status, 201);
}

#[test]
fn shared_qr_and_json_reject_dob() {
    // Only a PDF can be encrypted, so protect=dob with another format gets
    // 400 rather than the unencrypted file.
    let server = Server::start(&[("DIVOC__PROTECTION__DEFAULT", "dob")]);
    let owner = distribution("partner-1");
    let token = token_of(&create(&server, &owner, &json!({"certificateId": "680325917"})).json());
    let path = format!("/certificate/api/shared/{token}");
    for format in ["qr", "json"] {
        let response = server.request("GET", &format!("{path}?format={format}&protect=dob"), &[]);
        assert_eq!(response.status, 400, "{format}");
        let body = response.json();
        assert_eq!(body["error"], "invalid_parameter", "{format}");
        assert_eq!(body["value"], "dob", "{format}");

        let form = format!("format={format}&protect=dob");
        let posted = send(
            &server,
            "POST",
            &path,
            &[],
            Some(("application/x-www-form-urlencoded", form.as_bytes())),
        );
        assert_eq!(posted.status, 400, "POST {format}");

        // protect=none, and the default of dob, leave these formats alone.
        let none = server.request("GET", &format!("{path}?format={format}&protect=none"), &[]);
        assert_eq!(none.status, 200, "{format} with protect=none");
        let default = get_shared(&server, &token, format);
        assert_eq!(default.status, 200, "{format} with the default");
    }
    let pdf = server.request("GET", &format!("{path}?format=pdf&protect=dob"), &[]);
    assert_eq!(pdf.status, 200);
}

#[test]
fn protect_parameter_is_percent_decoded() {
    // `protect` is read like every other parameter, so an encoded name or
    // value means what its decoded form means.
    let server = Server::start(&[]);
    let plain = server.get("/certificate/api/certificatePDF/BEN1003");
    assert_eq!(plain.status, 200);
    for target in [
        "/certificate/api/certificatePDF/BEN1003?prot%65ct=dob",
        "/certificate/api/certificatePDF/BEN1003?protect=d%6Fb",
    ] {
        let protected = server.get(target);
        assert_eq!(protected.status, 200, "{target}");
        assert_eq!(
            protected.header("cache-control"),
            Some("no-store"),
            "{target}"
        );
        assert!(protected.header("etag").is_none(), "{target}");
        assert_ne!(protected.body, plain.body, "{target}: not encrypted");
    }

    // A `protect` without a value names no protection rule, so it is 400.
    let bare = server.get("/certificate/api/certificatePDF/BEN1003?protect");
    assert_eq!(bare.status, 400);
    assert_eq!(bare.json()["error"], "invalid_parameter");
    assert_eq!(bare.json()["value"], "");

    let twice = server.get("/certificate/api/certificatePDF/BEN1003?protect=dob&prot%65ct=none");
    assert_eq!(twice.status, 400);
    assert_eq!(twice.json()["value"], "protect=dob&prot%65ct=none");

    let qr = server.get("/certificate/api/certificateQRCode/BEN1003?prot%65ct=dob");
    assert_eq!(qr.status, 400);
    assert_eq!(qr.json()["error"], "invalid_parameter");
}

#[test]
fn download_route_protects_on_request() {
    let server = Server::start(&[]);
    let target = "/certificate/api/certificatePDF/BEN1003?protect=dob";
    let protected = server.get(target);
    assert_eq!(protected.status, 200);
    assert_eq!(protected.header("content-type"), Some("application/pdf"));
    assert_eq!(protected.header("cache-control"), Some("no-store"));
    assert!(protected.header("etag").is_none());
    let plain = server.get("/certificate/api/certificatePDF/BEN1003");
    assert!(plain.header("etag").is_some());
    assert_ne!(protected.body, plain.body);

    let owner = get_as(&server, target, &citizen("9000000003"));
    assert_eq!(owner.status, 200);
    let other = get_as(&server, target, &citizen("9000000007"));
    assert_eq!(other.status, 404);
    assert_eq!(server.request("GET", target, &[]).status, 401);
    let no_dob = server.get("/certificate/api/certificatePDF/BEN1005?protect=dob");
    assert_eq!(no_dob.status, 422);
    assert_eq!(no_dob.json()["error"], "dob_missing");
    let bad = server.get("/certificate/api/certificatePDF/BEN1003?protect=pin");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["value"], "pin");

    // HEAD gets the status of GET for each of these.
    let bearer = format!("Bearer {}", common::Keys::rs256());
    for (target, status) in [
        (target, 200),
        ("/certificate/api/certificatePDF/BEN1005?protect=dob", 422),
        ("/certificate/api/certificatePDF/BEN1003?protect=pin", 400),
        ("/certificate/api/certificatePDF/BEN1003?protect=none", 200),
        (
            "/certificate/api/certificateQRCode/BEN1003?protect=dob",
            400,
        ),
        (
            "/certificate/api/certificateQRCode/BEN1003?protect=none",
            400,
        ),
    ] {
        let head = server.request("HEAD", target, &[("Authorization", &bearer)]);
        assert_eq!(head.status, status, "{target}");
        assert!(head.body.is_empty(), "{target}");
    }
    let head = server.request("HEAD", target, &[("Authorization", &bearer)]);
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(head.header("content-type"), Some("application/pdf"));

    if have_tool("pdftotext", "poppler-utils") {
        let file = server.folder.path().join("download.pdf");
        std::fs::write(&file, &protected.body).unwrap();
        let path = file.to_str().unwrap();
        assert!(!run_tool("pdftotext", &[path, "-"]).0);
        let (opened, text) = run_tool("pdftotext", &["-upw", "30071983", path, "-"]);
        assert!(opened);
        assert!(text.contains("680325917"), "{text}");
    }
}

#[test]
fn array_body_rejected() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let response = create(&server, &owner, &json!(["772014589", 2, "abcd"]));
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"], "invalid_body");
    assert_eq!(
        response.json()["message"],
        "the request body is not the expected JSON object: expected a JSON object, found an array"
    );
}

#[test]
fn repeated_field_rejected() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let body = br#"{"certificateId": "680325917", "certificateId": "772014589"}"#;
    let response = send(
        &server,
        "POST",
        SHARE,
        &[("Authorization", &owner)],
        Some(("application/json", body)),
    );
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"], "invalid_body");
    assert_eq!(
        response.json()["message"],
        "the request body is not the expected JSON object: the key \"certificateId\" is given twice"
    );
}

#[test]
fn body_field_errors_name_field_and_kind() {
    // Plain words that name the field and what it must be, for each of the
    // routes that take a JSON body, never the types of the server's code.
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let prefix = "the request body is not the expected JSON object: ";
    let cases = [
        (
            SHARE,
            json!({"certificateId": "772014589", "expiresInDays": 1.5}),
            "invalid expiresInDays: expected a whole number of days, found 1.5",
        ),
        (
            SHARE,
            json!({"certificateId": 772014589}),
            "invalid certificateId: expected a certificate id as a string, found 772014589",
        ),
        (
            SHARE,
            json!({"certificateId": "772014589", "passcode": 2468}),
            "invalid passcode: expected a string of 4 to 64 characters, found 2468",
        ),
        (
            SHARE,
            json!({"expiresInDays": 3}),
            "missing field \"certificateId\": expected a certificate id as a string",
        ),
        (
            "/certificate/api/email",
            json!({"certificateId": "772014589", "to": ["a@example.test"]}),
            "invalid to: expected an email address as a string, found an array",
        ),
        (
            "/certificate/api/email",
            json!({"certificateId": "772014589", "to": "a@example.test", "protect": true}),
            "invalid protect: expected dob or none, found true",
        ),
        (
            "/certificate/api/notify",
            json!({"certificateId": "772014589", "channel": "sms", "language": 7}),
            "invalid language: expected a language code such as hi, found 7",
        ),
        (
            "/certificate/api/notify",
            json!({"certificateId": "772014589"}),
            "missing field \"channel\": expected sms",
        ),
    ];
    for (path, body, message) in cases {
        let response = post_json(&server, path, Some(&owner), &body);
        assert_eq!(response.status, 400, "{path} {body}");
        assert_eq!(
            response.json(),
            json!({"error": "invalid_body", "message": format!("{prefix}{message}")}),
            "{path} {body}"
        );
    }
}

#[test]
fn page_with_invalid_language_is_html() {
    // The share page returns its HTML page for every error, an invalid
    // `language` included; the value is not echoed into the page.
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let token = token_of(&create(&server, &owner, &json!({"certificateId": "772014589"})).json());
    for query in ["language=%22%3E", "language=%FF", "language=hi&language=ta"] {
        let page = server.request("GET", &format!("/s/{token}?{query}"), &[]);
        assert_eq!(page.status, 400, "{query}");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{query}"
        );
        assert_eq!(page.header("cache-control"), Some("no-store"), "{query}");
        let html = String::from_utf8(page.body).unwrap();
        assert!(
            html.ends_with(
                "<body><h1>Vaccination certificate</h1><p class=\"error\">The language in this \
                 link is not valid. Check that the whole link was copied.</p></body></html>"
            ),
            "{query}: {html}"
        );
    }
    let form = send(
        &server,
        "POST",
        &format!("/s/{token}?language=%22%3E"),
        &[],
        Some(("application/x-www-form-urlencoded", b"passcode=1234")),
    );
    assert_eq!(form.status, 400);
    assert_eq!(
        form.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn email_of_moved_certificate_fails_with_email_message() {
    // The message of a share link (ask its owner for a new link) does not
    // fit an email, whose requester reads it in the email's status.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let server = Server::start(&[
        ("DIVOC__EMAIL__SMTP_URL", smtp_url.as_str()),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
        ("DIVOC__EMAIL__BACKOFF_SECONDS", "1"),
        ("DIVOC__EMAIL__MAX_BACKOFF_SECONDS", "1"),
        ("DIVOC__EMAIL__MAX_ATTEMPTS", "1000"),
    ]);
    move_third_dose(&server);
    let owner = citizen("9222222222");
    let queued = post_json(
        &server,
        "/certificate/api/email",
        Some(&owner),
        &json!({"certificateId": "772014589", "to": "a@example.test"}),
    );
    assert_eq!(
        queued.status,
        202,
        "{}",
        String::from_utf8_lossy(&queued.body)
    );
    let id = queued.json()["id"].as_str().unwrap().to_owned();
    // The registry moves the certificate back to the first number; the next
    // attempt finds it moved.
    let third = delivery_common::sample_record("772014589");
    delivery_common::import_text(&server, &format!("{third}\n"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        let status = get_as(&server, &format!("/certificate/api/email/{id}"), &owner).json();
        if status["status"] == "failed" {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        status["lastError"],
        "certificate_moved: the certificate is no longer registered to the mobile number that \
         requested this email, so it was not sent"
    );
}

#[test]
fn unspecified_bind_without_public_url_warns() {
    // Links would name http://0.0.0.0:PORT, which no client can open.
    let warning = "server.bind listens on every address and server.public_url is not set";
    for (public_url, warned) in [
        (None, true),
        (Some("https://certificates.example.org"), false),
    ] {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
        let mut env = vec![("DIVOC__SERVER__BIND", "0.0.0.0:0")];
        if let Some(public_url) = public_url {
            env.push(("DIVOC__SERVER__PUBLIC_URL", public_url));
        }
        let mut child = Server::command(&url, &env)
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut log = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap();
            log.push_str(&line);
            log.push('\n');
            if line.contains("divoc-server listening") {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(log.contains("divoc-server listening"), "{log}");
        assert_eq!(log.contains(warning), warned, "{public_url:?}:\n{log}");
        if warned {
            assert!(
                log.contains("WARN") && log.contains("bind=0.0.0.0:0"),
                "{log}"
            );
        }
    }
}

#[test]
fn protect_parameter_misuse_rejected() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let twice = get_as(
        &server,
        "/certificate/api/certificatePDF/BEN1003?protect=dob&protect=none",
        &owner,
    );
    assert_eq!(twice.status, 400);
    assert_eq!(twice.json()["error"], "invalid_parameter");
    assert_eq!(twice.json()["value"], "protect=dob&protect=none");

    let qr = get_as(
        &server,
        "/certificate/api/certificateQRCode/BEN1003?protect=dob",
        &owner,
    );
    assert_eq!(qr.status, 400);
    assert_eq!(qr.json()["error"], "invalid_parameter");
    assert_eq!(
        qr.json()["message"],
        "invalid protect: applies to PDFs only; a QR code cannot be encrypted"
    );
}

#[test]
fn page_shows_qr_in_browser() {
    if !have_tool("chromium", "chromium") {
        return;
    }
    let server = Server::start(&[]);
    let created = create(
        &server,
        &distribution("partner-1"),
        &json!({"certificateId": "772014589"}),
    );
    let token = token_of(&created.json());

    let profile = tempfile::tempdir().unwrap();
    let screenshot = server.folder.path().join("page.png");
    let status = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=600,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("http://127.0.0.1:{}/s/{token}", server.port))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    // The QR code decodes from the rendered page only if the page's
    // Content-Security-Policy let the browser load the image.
    let shown = common::decode_qr_png(&std::fs::read(&screenshot).unwrap());
    let served = common::decode_qr_png(
        &server
            .get("/certificate/api/certificateQRCode/BEN1002")
            .body,
    );
    assert_eq!(shown, served);
}

#[test]
fn passcode_header_accepts_utf8() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    let body = json!({"certificateId": "772014589", "passcode": "pässwörd"});
    let token = token_of(&create(&server, &owner, &body).json());
    let target = format!("/certificate/api/shared/{token}");
    let right = server.request("GET", &target, &[("X-Share-Passcode", "pässwörd")]);
    assert_eq!(right.status, 200);
    assert_eq!(right.header("content-type"), Some("application/pdf"));
    let wrong = server.request("GET", &target, &[("X-Share-Passcode", "passwörd")]);
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "passcode_invalid");
}

#[test]
fn unsendable_passcode_rejected() {
    let server = Server::start(&[]);
    let owner = distribution("partner-1");
    for passcode in [" 2468", "2468 ", "\t2468", "24\n68", "24\r68", "24\u{7f}68"] {
        let body = json!({"certificateId": "772014589", "passcode": passcode});
        let response = create(&server, &owner, &body);
        assert_eq!(response.status, 400, "{passcode:?}");
        assert_eq!(
            response.json(),
            json!({
                "error": "invalid_parameter",
                "message": "invalid passcode: must not start or end with a space or contain \
                            control characters such as a tab or line break, because the \
                            X-Share-Passcode header cannot carry them",
                "value": "(not shown)"
            }),
            "{passcode:?}"
        );
    }
    // A space inside the passcode travels in the header.
    let body = json!({"certificateId": "772014589", "passcode": "24 68"});
    let token = token_of(&create(&server, &owner, &body).json());
    let target = format!("/certificate/api/shared/{token}");
    let right = server.request("GET", &target, &[("X-Share-Passcode", "24 68")]);
    assert_eq!(right.status, 200);
    assert_eq!(right.header("content-type"), Some("application/pdf"));
}

#[test]
fn repeated_passcode_header_rejected() {
    let server = Server::start(&[]);
    let token = link_with_passcode(&server, &distribution("partner-1"));
    let target = format!("/certificate/api/shared/{token}");
    for (first, second) in [("1111", "2468"), ("2468", "2468")] {
        let twice = server.request(
            "GET",
            &target,
            &[("X-Share-Passcode", first), ("X-Share-Passcode", second)],
        );
        assert_eq!(twice.status, 400, "{first}, {second}");
        assert_eq!(twice.header("content-type"), Some("application/json"));
        assert_eq!(
            twice.json(),
            json!({
                "error": "invalid_parameter",
                "message": "invalid X-Share-Passcode header: given 2 times; send it once"
            })
        );
    }
    // Neither request counted as a wrong passcode.
    let wrong = server.request("GET", &target, &[("X-Share-Passcode", "1111")]);
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "passcode_invalid");
    assert_eq!(wrong.json()["attemptsLeft"], 4);
    let log = server.log_text();
    assert!(
        !mentions_number(&log, "1111"),
        "the log holds a passcode:\n{log}"
    );
}
