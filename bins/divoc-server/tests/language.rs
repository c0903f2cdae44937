//! The `language` parameter on the routes other than the beneficiary download
//! route: the citizen routes, the protected download and share links. Texts are
//! extracted with pdftotext and compared with `crates/divoc-pdf/labels/hi.toml`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;
mod delivery_common;

use serde_json::json;

use common::{Keys, Response, Server, have_tool};
use delivery_common::{citizen, distribution, get_as, post_json, run_tool, send};

/// `beneficiary_heading` of the Hindi label set, printed beside the English text.
const HINDI_HEADING: &str = "लाभार्थी का विवरण / Beneficiary Details";
/// Latest certificate of BEN1002, registered to 9000000001.
const CERTIFICATE: &str = "772014589";

/// Text of a PDF, or `None` when pdftotext is missing and tools are not required.
fn pdf_text(server: &Server, pdf: &[u8], password: Option<&str>) -> Option<String> {
    if !have_tool("pdftotext", "poppler-utils") {
        return None;
    }
    let file = server.folder.path().join("language-check.pdf");
    std::fs::write(&file, pdf).unwrap();
    let path = file.to_str().unwrap();
    let mut args = vec!["-enc", "UTF-8"];
    if let Some(password) = password {
        args.extend(["-upw", password]);
    }
    args.extend([path, "-"]);
    let (opened, text) = run_tool("pdftotext", &args);
    assert!(opened, "pdftotext could not open the PDF");
    Some(text)
}

fn assert_hindi(server: &Server, response: &Response, password: Option<&str>) {
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-language"), Some("hi"));
    assert!(response.body.starts_with(b"%PDF-"));
    if let Some(text) = pdf_text(server, &response.body, password) {
        assert!(text.contains(HINDI_HEADING), "{text}");
    }
}

#[test]
fn citizen_routes_print_language() {
    let server = Server::start(&[]);
    let owner = citizen("9000000001");
    let by_query = get_as(
        &server,
        &format!("/certificate/api/certificatePDF?certificateId={CERTIFICATE}&language=hi"),
        &owner,
    );
    assert_hindi(&server, &by_query, None);

    let token = Keys::sign(
        "test-rsa-private.pem",
        jsonwebtoken::Algorithm::RS256,
        &Keys::citizen_claims("9000000001"),
    );
    let by_auth_token = server.get(&format!(
        "/certificate/api/certificate/{CERTIFICATE}?authToken={token}&language=hi-IN"
    ));
    assert_hindi(&server, &by_auth_token, None);
    assert!(by_auth_token.body == by_query.body);
    assert_eq!(by_auth_token.header("etag"), by_query.header("etag"));

    let english = get_as(
        &server,
        &format!("/certificate/api/certificatePDF?certificateId={CERTIFICATE}"),
        &owner,
    );
    assert_eq!(english.status, 200);
    assert_eq!(english.header("content-language"), Some("en"));
    assert!(english.body != by_query.body);

    let unknown = get_as(
        &server,
        &format!("/certificate/api/certificatePDF?certificateId={CERTIFICATE}&language=fr"),
        &owner,
    );
    assert_eq!(unknown.header("content-language"), Some("en"));
    assert!(unknown.body == english.body);

    let invalid = get_as(
        &server,
        &format!("/certificate/api/certificatePDF?certificateId={CERTIFICATE}&language=hi%3Cx%3E"),
        &owner,
    );
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.json(),
        json!({
            "error": "invalid_parameter",
            "message": "invalid language: expected a language code such as hi or hi-IN: up to 35 characters, 2 to 8 letters, then parts of 1 to 8 letters and digits after hyphens or underscores",
            "value": "hi<x>",
        })
    );

    // Only the shape of a BCP 47 tag passes, so a mobile number or a name
    // cannot reach the log as a language.
    for value in ["9000000077Farhan", "h", "hi--IN", "hi-", "hi-INDIANREGION"] {
        let invalid = get_as(
            &server,
            &format!(
                "/certificate/api/certificatePDF?certificateId={CERTIFICATE}&language={value}"
            ),
            &owner,
        );
        assert_eq!(invalid.status, 400, "{value}");
        assert_eq!(invalid.json()["value"], value);
    }
    for value in ["hi", "hi-IN", "zh-Hant-TW", "en_GB", "es-419"] {
        let valid = get_as(
            &server,
            &format!(
                "/certificate/api/certificatePDF?certificateId={CERTIFICATE}&language={value}"
            ),
            &owner,
        );
        assert_eq!(valid.status, 200, "{value}");
    }

    // The QR route takes no language and has no Content-Language.
    let qr = server.get(&format!(
        "/certificate/api/certificate/QRCode/{CERTIFICATE}?authToken={token}&language=hi"
    ));
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("content-type"), Some("image/png"));
    assert_eq!(qr.header("content-language"), None);
}

#[test]
fn head_checks_language() {
    let server = Server::start(&[]);
    let partner = distribution("partner-1");
    let head =
        |target: &str| server.request("HEAD", target, &[("Authorization", partner.as_str())]);
    let hindi = head("/certificate/api/certificatePDF/BEN1002?language=hi-IN");
    assert_eq!(hindi.status, 200);
    assert_eq!(hindi.header("content-language"), Some("hi"));
    let invalid = head("/certificate/api/certificatePDF/BEN1002?language=hi%3Cx%3E");
    assert_eq!(invalid.status, 400);
    let twice = server.request(
        "GET",
        "/certificate/api/certificatePDF/BEN1002?language=hi&language=ta",
        &[("Authorization", partner.as_str())],
    );
    assert_eq!(twice.status, 400);
    assert_eq!(
        twice.json()["message"],
        "invalid language: given more than once"
    );
    assert_eq!(twice.json()["value"], "hi, ta");
    let qr = head("/certificate/api/certificateQRCode/BEN1002");
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("content-language"), None);
}

#[test]
fn protected_download_in_language() {
    let server = Server::start(&[]);
    let response = get_as(
        &server,
        "/certificate/api/certificatePDF/BEN1003?protect=dob&language=hi",
        &distribution("partner-1"),
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    if have_tool("pdftotext", "poppler-utils") {
        let file = server.folder.path().join("protected.pdf");
        std::fs::write(&file, &response.body).unwrap();
        assert!(!run_tool("pdftotext", &[file.to_str().unwrap(), "-"]).0);
    }
    assert_hindi(&server, &response, Some("30071983"));

    let invalid = get_as(
        &server,
        "/certificate/api/certificatePDF/BEN1003?protect=dob&language=%20",
        &distribution("partner-1"),
    );
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["value"], " ");
}

#[test]
fn share_link_default_language() {
    let server = Server::start(&[]);
    let owner = citizen("9000000001");
    let created = post_json(
        &server,
        "/certificate/api/share",
        Some(&owner),
        &json!({"certificateId": CERTIFICATE, "language": "hi-IN"}),
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let body = created.json();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body["language"], "hi");
    assert_eq!(
        body["url"],
        format!("http://127.0.0.1:{}/s/{token}?language=hi", server.port)
    );

    // The page passes the link's language on to its PDF link.
    let page = server.get(&format!("/s/{token}?language=hi"));
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body.clone()).unwrap();
    let pdf_link = format!("/certificate/api/shared/{token}?format=pdf&amp;language=hi");
    let pdf_link_raw = format!("/certificate/api/shared/{token}?format=pdf&language=hi");
    assert!(
        html.contains(&pdf_link) || html.contains(&pdf_link_raw),
        "{html}"
    );

    let shared = server.get(&format!(
        "/certificate/api/shared/{token}?format=pdf&language=hi"
    ));
    assert_hindi(&server, &shared, None);
    let download = server.get("/certificate/api/certificatePDF/BEN1002?language=hi");
    // The same bytes as the download route in the same language.
    assert!(shared.body == download.body);

    let english = server.get(&format!("/certificate/api/shared/{token}?format=pdf"));
    assert_eq!(english.status, 200);
    assert_eq!(english.header("content-language"), Some("en"));

    let protected = server.get(&format!(
        "/certificate/api/shared/{token}?format=pdf&protect=dob&language=hi"
    ));
    assert_eq!(protected.status, 200);
    assert_eq!(protected.header("content-language"), Some("hi"));
    assert!(protected.body != shared.body);

    let invalid_link = post_json(
        &server,
        "/certificate/api/share",
        Some(&owner),
        &json!({"certificateId": CERTIFICATE, "language": "hi/x"}),
    );
    assert_eq!(invalid_link.status, 400);
    assert_eq!(invalid_link.json()["value"], "hi/x");
    let invalid_query = server.get(&format!(
        "/certificate/api/shared/{token}?format=pdf&language=hi%2Fx"
    ));
    assert_eq!(invalid_query.status, 400);
    let invalid_page = server.get(&format!("/s/{token}?language=hi%2Fx"));
    assert_eq!(invalid_page.status, 400);
}

#[test]
fn passcode_page_keeps_language() {
    let server = Server::start(&[]);
    let created = post_json(
        &server,
        "/certificate/api/share",
        Some(&citizen("9000000001")),
        &json!({"certificateId": CERTIFICATE, "language": "hi", "passcode": "2468"}),
    );
    assert_eq!(created.status, 201);
    let token = created.json()["token"].as_str().unwrap().to_owned();

    let form = server.request("GET", &format!("/s/{token}?language=hi"), &[]);
    assert_eq!(form.status, 200);
    let html = String::from_utf8(form.body.clone()).unwrap();
    assert!(
        html.contains(&format!("action=\"/s/{token}?language=hi\"")),
        "{html}"
    );

    let unlocked = send(
        &server,
        "POST",
        &format!("/s/{token}?language=hi"),
        &[],
        Some(("application/x-www-form-urlencoded", b"passcode=2468")),
    );
    assert_eq!(unlocked.status, 200);
    let html = String::from_utf8(unlocked.body.clone()).unwrap();
    assert!(
        html.contains("<input type=\"hidden\" name=\"language\" value=\"hi\">"),
        "{html}"
    );

    let pdf = send(
        &server,
        "POST",
        &format!("/certificate/api/shared/{token}"),
        &[],
        Some((
            "application/x-www-form-urlencoded",
            b"passcode=2468&format=pdf&language=hi",
        )),
    );
    assert_hindi(&server, &pdf, None);
}
