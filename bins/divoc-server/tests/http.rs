//! The service over real HTTP: routes, selection, errors, tokens and shutdown.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::{Keys, Server, decode_qr_png, sample_certificate};
use jsonwebtoken::Algorithm;
use serde_json::json;

const PDF: &str = "/certificate/api/certificatePDF";
const QR: &str = "/certificate/api/certificateQRCode";

#[test]
fn pdf_serves_latest_dose() {
    let server = Server::start(&[]);
    let response = server.get(&format!("{PDF}/BEN1001"));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/pdf"));
    assert_eq!(
        response.header("content-disposition"),
        Some("inline; filename=\"certificate-529130864.pdf\"")
    );
    assert_eq!(response.header("cache-control"), Some("private"));
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
    assert!(response.body.starts_with(b"%PDF-"));
}

#[test]
fn selection_cases_over_http() {
    let server = Server::start(&[]);
    let cases = [
        ("BEN1001", "529130864"), // a later correction of dose 1 does not beat dose 2
        ("BEN1002", "772014589"), // booster 3 of 2
        ("BEN1003", "680325917"), // booster 2 of 1
        ("BEN1004", "815402663"), // same dose, later osUpdatedAt
        ("BEN1005", "367059124"), // sparse record, empty totalDoses
        ("BEN1011", "957680214"), // dose "10" beats dose 9
    ];
    for (beneficiary, certificate) in cases {
        let response = server.get(&format!("{PDF}/{beneficiary}"));
        assert_eq!(response.status, 200, "{beneficiary}");
        let expected = format!("inline; filename=\"certificate-{certificate}.pdf\"");
        assert_eq!(
            response.header("content-disposition"),
            Some(expected.as_str()),
            "{beneficiary}"
        );
    }
}

#[test]
fn qr_png_decodes_to_stored_certificate() {
    let server = Server::start(&[]);
    let response = server.get(&format!("{QR}/BEN1001"));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("image/png"));
    assert_eq!(
        response.header("content-disposition"),
        Some("inline; filename=\"certificate-529130864.png\"")
    );
    let payload = decode_qr_png(&response.body);
    let certificate = divoc_qr::decode_payload(&payload).unwrap();
    assert_eq!(certificate, sample_certificate("529130864").into_bytes());
}

#[test]
fn head_reports_existence() {
    let server = Server::start(&[]);
    let authorization = format!("Bearer {}", Keys::rs256());
    let found = server.request(
        "HEAD",
        &format!("{PDF}/BEN1001"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(found.status, 200);
    assert!(found.body.is_empty());
    assert_eq!(found.header("content-type"), Some("application/pdf"));
    assert_eq!(found.header("cache-control"), Some("private"));
    assert_eq!(found.header("x-content-type-options"), Some("nosniff"));
    let qr = server.request(
        "HEAD",
        &format!("{QR}/BEN1001"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("content-type"), Some("image/png"));
    assert_eq!(qr.header("x-content-type-options"), Some("nosniff"));
    let missing = server.request(
        "HEAD",
        &format!("{PDF}/NOBODY"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(missing.status, 404);
    let revoked = server.request(
        "HEAD",
        &format!("{PDF}/BEN1009"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(revoked.status, 404);
}

#[test]
fn head_matches_get_headers() {
    let server = Server::start(&[]);
    let authorization = format!("Bearer {}", Keys::rs256());
    let pdf = server.request(
        "HEAD",
        &format!("{PDF}/BEN1001"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    // The size is unknown without rendering, so no Content-Length is sent at all.
    assert_eq!(pdf.header("content-length"), None);
    let qr = server.request(
        "HEAD",
        &format!("{QR}/BEN1001"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("content-type"), Some("image/png"));
    let revoked = server.request(
        "HEAD",
        &format!("{QR}/BEN1009"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(revoked.status, 404);
}

#[test]
fn other_methods_get_json_405() {
    let server = Server::start(&[]);
    let authorization = format!("Bearer {}", Keys::rs256());
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        for (target, allow) in [
            (format!("{PDF}/BEN1001"), "GET, HEAD"),
            (format!("{QR}/BEN1001"), "GET, HEAD"),
            (
                "/certificate/api/citizen/certificates".to_owned(),
                "GET, HEAD",
            ),
        ] {
            let response = server.request(
                method,
                &target,
                &[("Authorization", &authorization), ("Content-Length", "0")],
            );
            assert_eq!(response.status, 405, "{method} {target}");
            assert_eq!(response.header("allow"), Some(allow), "{method} {target}");
            assert_eq!(
                response.json()["error"],
                "method_not_allowed",
                "{method} {target}"
            );
        }
    }
}

#[test]
fn two_authorization_headers_rejected() {
    let server = Server::start(&[]);
    let valid = format!("Bearer {}", Keys::rs256());
    let response = server.request(
        "GET",
        &format!("{PDF}/BEN1001"),
        &[
            ("Authorization", &valid),
            ("Authorization", "Bearer something-else"),
        ],
    );
    assert_eq!(response.status, 401);
    assert_eq!(
        response.json()["message"],
        "malformed Authorization header: more than one Authorization header"
    );
}

#[test]
fn unknown_beneficiary_gets_divoc_error() {
    let server = Server::start(&[]);
    let response = server.get(&format!("{PDF}/NOBODY"));
    assert_eq!(response.status, 404);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["date", "source", "type", "extra"]);
    assert_eq!(body["source"], "NOBODY");
    assert_eq!(body["type"], "internal-failed");
    assert_eq!(body["extra"], "Certificate not found");
}

#[test]
fn revoked_certificate_never_served() {
    let server = Server::start(&[]);
    for route in [PDF, QR] {
        let response = server.get(&format!("{route}/BEN1009"));
        assert_eq!(response.status, 404, "{route}");
        assert_eq!(response.json()["extra"], "Certificate not found");
    }
}

#[test]
fn malformed_ids_rejected() {
    let server = Server::start(&[]);
    let long_id = "7".repeat(10 * 1024);
    let cases = [
        (
            format!("{PDF}/{long_id}"),
            "invalid beneficiary id: longer than 128 bytes",
        ),
        (format!("{PDF}/.."), "invalid beneficiary id: contains `..`"),
        (
            format!("{PDF}/%2e%2e"),
            "invalid beneficiary id: contains `..`",
        ),
        (
            format!("{PDF}/BEN%FF%FE1"),
            "invalid beneficiary id: percent-decoded bytes are not UTF-8",
        ),
        (
            format!("{QR}/BEN%201001"),
            "invalid beneficiary id: only A-Z, a-z, 0-9, '-', '_' and '.' are allowed",
        ),
        (
            format!("{PDF}/%3Cscript%3E"),
            "invalid beneficiary id: only A-Z, a-z, 0-9, '-', '_' and '.' are allowed",
        ),
    ];
    for (target, message) in cases {
        let response = server.get(&target);
        assert_eq!(response.status, 400, "{message}");
        let body = response.json();
        assert_eq!(body["error"], "invalid_id");
        assert_eq!(body["message"], message);
    }
    let body = server.get(&format!("{PDF}/BEN%FF%FE1")).json();
    assert_eq!(body["value"], "BEN%FF%FE1");
    let body = server.get(&format!("{PDF}/{long_id}")).json();
    assert_eq!(body["value"], format!("{}…", "7".repeat(64)));
}

#[test]
fn query_string_not_part_of_id() {
    let server = Server::start(&[]);
    let response = server.get(&format!("{PDF}/BEN1002?download=1"));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-disposition"),
        Some("inline; filename=\"certificate-772014589.pdf\"")
    );
}

#[test]
fn unknown_route_is_json_404() {
    let server = Server::start(&[]);
    let response = server.get("/certificate/api/nothing-here");
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["error"], "not_found");
    assert_eq!(
        response.json()["message"],
        "no route for GET /certificate/api/nothing-here"
    );
}

#[test]
fn bad_tokens_rejected() {
    let server = Server::start(&[]);
    let now = chrono::Utc::now().timestamp();
    let expired = Keys::sign(
        "test-rsa-private.pem",
        Algorithm::RS256,
        &json!({"sub": "x", "exp": now - 3600, "iat": now - 7200}),
    );
    let not_yet = Keys::sign(
        "test-rsa-private.pem",
        Algorithm::RS256,
        &json!({"sub": "x", "exp": now + 7200, "nbf": now + 3600}),
    );
    let no_expiry = Keys::sign(
        "test-rsa-private.pem",
        Algorithm::RS256,
        &json!({"sub": "x"}),
    );
    let other_key = Keys::sign(
        "other-rsa-private.pem",
        Algorithm::RS256,
        &Keys::valid_claims(),
    );
    // HS256 with the server's public key as the shared secret.
    let public_pem = std::fs::read(Keys::rsa_public()).unwrap();
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &Keys::valid_claims(),
        &jsonwebtoken::EncodingKey::from_secret(&public_pem).unwrap(),
    )
    .unwrap();
    let unsigned = unsigned_token(&Keys::valid_claims());
    let valid = Keys::rs256();
    // The signature of a valid token over claims that were changed afterwards.
    let parts: Vec<&str> = valid.split('.').collect();
    let mut changed_claims = Keys::valid_claims();
    changed_claims["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64_url::encode(changed_claims.to_string().as_bytes()),
        parts[2]
    );

    let cases = [
        (
            None,
            "missing bearer token: send `Authorization: Bearer <token>`",
        ),
        (
            Some("Basic dXNlcjpwYXNz".to_owned()),
            "malformed Authorization header: expected the Bearer scheme",
        ),
        (
            Some("Bearer".to_owned()),
            "malformed Authorization header: no token after Bearer",
        ),
        (Some(format!("Bearer {expired}")), "invalid token: expired"),
        (
            Some(format!("Bearer {not_yet}")),
            "invalid token: not valid yet (nbf is in the future)",
        ),
        (
            Some(format!("Bearer {no_expiry}")),
            "invalid token: the required claim exp is missing",
        ),
        (
            Some(format!("Bearer {other_key}")),
            "invalid token: the signature does not verify",
        ),
        (
            Some(format!("Bearer {hmac}")),
            "invalid token: algorithm HS256 is not accepted for this key",
        ),
        (
            Some(format!("Bearer {tampered}")),
            "invalid token: the signature does not verify",
        ),
        (
            Some(format!("Bearer {}", "a".repeat(9000))),
            "malformed Authorization header: longer than 8 KiB",
        ),
    ];
    for (header, message) in &cases {
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        let response = server.request("GET", &format!("{PDF}/BEN1001"), &headers);
        assert_eq!(response.status, 401, "{message}");
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        assert_eq!(response.json()["message"], *message);
    }
    let response = server.request(
        "GET",
        &format!("{PDF}/BEN1001"),
        &[("Authorization", &format!("Bearer {unsigned}"))],
    );
    assert_eq!(response.status, 401);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid token: ")
    );
}

/// A token with `alg: none` and no signature.
fn unsigned_token(claims: &serde_json::Value) -> String {
    use base64_url::encode;
    format!(
        "{}.{}.",
        encode(br#"{"alg":"none","typ":"JWT"}"#),
        encode(claims.to_string().as_bytes())
    )
}

mod base64_url {
    /// Base64url without padding.
    pub fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[test]
fn portal_trailing_space_and_es256() {
    let server = Server::start(&[(
        "DIVOC__AUTH__PUBLIC_KEY_FILE",
        Keys::ec_public().to_str().unwrap(),
    )]);
    let token = Keys::sign(
        "test-ec-private.pem",
        Algorithm::ES256,
        &Keys::valid_claims(),
    );
    let response = server.request(
        "GET",
        &format!("{QR}/BEN1002"),
        &[("Authorization", &format!("Bearer {token} "))],
    );
    assert_eq!(response.status, 200);
    // An RS256 token is not accepted by an EC key.
    let response = server.get(&format!("{QR}/BEN1002"));
    assert_eq!(response.status, 401);
}

/// Imports the samples, replaces the stored `certificate` text of
/// certificate 772014589 (the latest of BEN1002) with `certificate`,
/// bypassing the import's checks, and starts the server.
fn start_with_stored_certificate(certificate: &str) -> Server {
    use diesel::sql_types::Text;
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("divoc.sqlite");
    let url = format!("sqlite://{}", path.display());
    Server::import_samples(&url);
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let changed =
        diesel::sql_query("UPDATE certificates SET certificate = ? WHERE certificate_id = ?")
            .bind::<Text, _>(certificate)
            .bind::<Text, _>("772014589")
            .execute(&mut connection)
            .unwrap();
    assert_eq!(changed, 1);
    drop(connection);
    Server::start_on(folder, &url, &[])
}

#[test]
fn malformed_stored_certificate_is_500() {
    let server = start_with_stored_certificate("{\"evidence\": [{\"dose\": \"x\"");
    let response = server.get(&format!("{PDF}/BEN1002"));
    assert_eq!(response.status, 500);
    let body = response.json();
    assert_eq!(body["error"], "render_failed");
    assert_eq!(body["certificateId"], "772014589");
    // The server keeps serving other beneficiaries.
    assert_eq!(server.get(&format!("{PDF}/BEN1001")).status, 200);
}

#[test]
fn long_stored_name_cut_before_rendering() {
    let mut credential: serde_json::Value =
        serde_json::from_str(&sample_certificate("772014589")).unwrap();
    credential["credentialSubject"]["name"] = json!("A".repeat(400_000));
    let server = start_with_stored_certificate(&credential.to_string());
    let response = server.get(&format!("{PDF}/BEN1002"));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/pdf"));
    let log = server.wait_for_log("they were cut before rendering");
    let line = log
        .lines()
        .find(|line| line.contains("they were cut before rendering"))
        .unwrap();
    // The first 12 hex digits of the SHA-256 of 772014589, and no name.
    assert!(
        line.ends_with(
            "they were cut before rendering certificate.reference=fa0947d527b5 fields=1"
        ),
        "{line}"
    );
    if common::have_tool("pdftotext", "poppler-utils") {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &response.body).unwrap();
        let output = std::process::Command::new("pdftotext")
            .args(["-enc", "UTF-8", file.path().to_str().unwrap(), "-"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).replace('\n', "");
        // The layout shows less than the 500 characters that are left, and
        // ends the name with an ellipsis.
        let start = text.find("AAAA").unwrap();
        let printed = text[start..].chars().take_while(|c| *c == 'A').count();
        assert!(
            printed < divoc_model::MAX_NAME_CHARS,
            "{printed} characters printed"
        );
        assert_eq!(text[start..].chars().nth(printed), Some('\u{2026}'));
    }
}

/// Returns the sample certificate 772014589 with a `proof.jws` of 4,000
/// letters that DEFLATE barely compresses, too large for any QR code.
fn certificate_too_large_for_qr() -> String {
    let mut credential: serde_json::Value =
        serde_json::from_str(&sample_certificate("772014589")).unwrap();
    let mut state: u32 = 12345;
    let jws: String = (0..4_000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((state >> 16) % 26) as u8)
        })
        .collect();
    credential["proof"]["jws"] = json!(jws);
    credential.to_string()
}

#[test]
fn stored_certificate_too_large_for_qr() {
    let certificate = certificate_too_large_for_qr();
    let payload_bytes =
        divoc_qr::encode_payload(certificate.as_bytes(), divoc_qr::PayloadForm::DivocExpanded)
            .unwrap()
            .len();
    let server = start_with_stored_certificate(&certificate);
    for route in [PDF, QR] {
        let response = server.get(&format!("{route}/BEN1002"));
        assert_eq!(response.status, 500, "{route}");
        assert_eq!(
            response.json(),
            json!({
                "error": "render_failed",
                "message": format!(
                    "certificate 772014589 could not be rendered: the signed credential does \
                     not fit in a QR code: its zipped QR payload (qr.payload = \"divoc\") is \
                     {payload_bytes} bytes, and a QR code holds at most 2953"
                ),
                "certificateId": "772014589",
            }),
            "{route}"
        );
    }
}

#[test]
fn import_rejects_certificate_too_large_for_qr() {
    let certificate = certificate_too_large_for_qr();
    let samples = std::fs::read_to_string(common::fixture("sample-records.json")).unwrap();
    let mut records: Vec<serde_json::Value> = serde_json::from_str(&samples).unwrap();
    let position = records
        .iter()
        .position(|record| record["certificateId"] == "772014589")
        .unwrap();
    records[position]["certificate"] = json!(certificate);
    let folder = tempfile::tempdir().unwrap();
    let export = folder.path().join("export.json");
    std::fs::write(&export, serde_json::to_string(&records).unwrap()).unwrap();
    let database = folder.path().join("divoc.sqlite");

    for (setting, form) in [
        ("divoc", divoc_qr::PayloadForm::DivocExpanded),
        ("raw", divoc_qr::PayloadForm::Raw),
    ] {
        let payload_bytes = divoc_qr::encode_payload(certificate.as_bytes(), form)
            .unwrap()
            .len();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_divoc-server"))
            .env_clear()
            .env(
                "DIVOC__DATABASE__URL",
                format!("sqlite://{}", database.display()),
            )
            .env("DIVOC__QR__PAYLOAD", setting)
            .arg("import")
            .arg("--check-qr")
            .arg(&export)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{setting}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!(
            "{}: nothing imported: import rejected, nothing was written: record {} \
             (certificateId 772014589): field `certificate` is invalid: the signed credential does not fit in a QR code: \
             its zipped QR payload (qr.payload = \"{setting}\") is {payload_bytes} bytes, and a \
             QR code holds at most 2953",
            export.display(),
            position + 1,
        );
        assert!(stderr.contains(&expected), "{setting}: {stderr}");
    }

    // Without --check-qr the file is imported, and the downloads of that
    // certificate fail as `stored_certificate_too_large_for_qr` shows.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env(
            "DIVOC__DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .arg("import")
        .arg(&export)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn sigterm_stops_gracefully() {
    let mut server = Server::start(&[]);
    assert_eq!(server.get(&format!("{QR}/BEN1001")).status, 200);
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    let log = server.log_text();
    assert!(log.contains("shutdown signal received"), "{log}");
    assert!(log.contains("divoc-server stopped"), "{log}");
}

#[test]
fn logs_hold_no_personal_data() {
    let server = Server::start(&[]);
    for target in [
        format!("{PDF}/BEN1007"),
        format!("{QR}/BEN1007"),
        format!("{PDF}/BEN1009"),
        format!("{PDF}/BEN%FF"),
    ] {
        server.get(&target);
    }
    let log = server.log_text();
    assert!(
        log.contains("route=/certificate/api/certificatePDF/{beneficiaryId}"),
        "{log}"
    );
    assert!(log.contains("status=200"), "{log}");
    for secret in ["BEN1007", "BEN1009", "508264731", "Łucja", "9000000"] {
        assert!(!log.contains(secret), "log contains {secret}:\n{log}");
    }
}

#[test]
fn vaccination_date_in_configured_zone() {
    if !common::have_tool("pdftotext", "poppler-utils") {
        return;
    }
    // BEN1012 was vaccinated at 2021-10-17T22:00:00Z and was born on 1990-01-01.
    let server = Server::start(&[
        ("DIVOC__PDF__TIMEZONE", "Asia/Kolkata"),
        ("TZ", "America/New_York"),
    ]);
    let response = server.get(&format!("{PDF}/BEN1012"));
    assert_eq!(response.status, 200);
    let path = server.folder.path().join("ben1012.pdf");
    std::fs::write(&path, &response.body).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    // The date of the dose and the doses table both show the Kolkata date.
    assert_eq!(text.matches("18-Oct-2021").count(), 2, "{text}");

    let utc = Server::start(&[("TZ", "Asia/Kolkata")]);
    let response = utc.get(&format!("{PDF}/BEN1012"));
    std::fs::write(&path, &response.body).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.matches("18-Oct-2021").count(), 0, "{text}");
}

#[test]
fn oversized_body_gets_json_413() {
    let server = Server::start(&[]);
    let authorization = format!("Bearer {}", Keys::rs256());
    let body = vec![b'a'; 300 * 1024];
    let length = body.len().to_string();
    let response = server.request_with_body(
        "POST",
        "/certificate/api/share",
        &[
            ("Authorization", &authorization),
            ("Content-Type", "application/json"),
            ("Content-Length", &length),
        ],
        &body,
    );
    assert_eq!(response.status, 413);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.json(),
        json!({
            "error": "payload_too_large",
            "message": "the request body is larger than 262144 bytes",
        })
    );
}

#[test]
fn print_body_over_limit_names_limit() {
    // The message names the limit that print.rs sets, 160 KiB: one byte
    // more is 413, the limit itself is read (and is no valid request).
    let server = Server::start(&[]);
    let mut claims = Keys::valid_claims();
    claims["realm_access"] = json!({"roles": ["facility-staff"]});
    let authorization = format!(
        "Bearer {}",
        Keys::sign("test-rsa-private.pem", Algorithm::RS256, &claims)
    );
    for (size, status) in [(163_841, 413), (163_840, 400)] {
        let body = vec![b' '; size];
        let length = body.len().to_string();
        let response = server.request_with_body(
            "POST",
            "/certificate/api/print",
            &[
                ("Authorization", &authorization),
                ("Content-Type", "application/json"),
                ("Content-Length", &length),
            ],
            &body,
        );
        assert_eq!(response.status, status, "{size} bytes");
        if status == 413 {
            assert_eq!(
                response.json(),
                json!({
                    "error": "payload_too_large",
                    "message": "the request body is larger than 163840 bytes",
                })
            );
        }
    }
}

#[test]
fn non_utf8_language_echoed_as_sent() {
    // As ids are: percent-encoded, as the client sent it, not as U+FFFD.
    let server = Server::start(&[]);
    let invalid = server.get(&format!("{PDF}/BEN1001?language=%FF"));
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.json(),
        json!({
            "error": "invalid_parameter",
            "message": "invalid language: expected a language code such as hi or hi-IN: up to 35 \
                        characters, 2 to 8 letters, then parts of 1 to 8 letters and digits \
                        after hyphens or underscores",
            "value": "%FF",
        })
    );
    let twice = server.get(&format!("{PDF}/BEN1001?language=h%E9&language=hi"));
    assert_eq!(twice.status, 400);
    assert_eq!(
        twice.json(),
        json!({
            "error": "invalid_parameter",
            "message": "invalid language: given more than once",
            "value": "h%E9, hi",
        })
    );
    // Other values are echoed percent-decoded, as before.
    let decoded = server.get(&format!("{PDF}/BEN1001?language=hi%3Cx%3E"));
    assert_eq!(decoded.json()["value"], "hi<x>");
}

#[test]
fn wrong_content_type_gets_json_415() {
    let server = Server::start(&[]);
    let body = br#"{"passcode":"1234"}"#;
    let length = body.len().to_string();
    let response = server.request_with_body(
        "POST",
        "/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &[
            ("Content-Type", "application/json"),
            ("Content-Length", &length),
        ],
        body,
    );
    assert_eq!(response.status, 415);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let json = response.json();
    assert_eq!(json["error"], "unsupported_media_type");
    assert_eq!(json["value"], "application/json");
}

#[test]
fn oversized_header_writes_no_error_line() {
    use std::io::{Read, Write};

    let server = Server::start(&[]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut request = format!("GET {PDF}/BEN1001 HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for index in 0..300 {
        request.push_str(&format!("X-Filler-{index}: {}\r\n", "a".repeat(1000)));
    }
    request.push_str("\r\n");
    // The server may respond and close before it has read everything.
    let _ = stream.write_all(request.as_bytes());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(
        raw.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&raw[..raw.len().min(80)])
    );

    // A later request's log line shows that the server has logged whatever
    // it logs about the broken one.
    let bearer = format!("Bearer {}", Keys::rs256());
    let next = server.request(
        "HEAD",
        &format!("{QR}/BEN1001"),
        &[("Authorization", &bearer)],
    );
    assert_eq!(next.status, 200);
    let log =
        server.wait_for_log("route=/certificate/api/certificateQRCode/{beneficiaryId} status=200");
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn health_routes_report_store_state() {
    let server = Server::start(&[]);
    let live = server.request("GET", "/healthz", &[]);
    assert_eq!(live.status, 200);
    assert_eq!(live.json(), json!({"status": "ok"}));
    assert_eq!(live.header("cache-control"), Some("no-store"));
    let ready = server.request("GET", "/readyz", &[]);
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), json!({"status": "ready"}));
    assert_eq!(server.request("HEAD", "/readyz", &[]).status, 200);
    let post = server.request("POST", "/readyz", &[("Content-Length", "0")]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    // The database file deleted under the running server: writes would be
    // lost, so the server is no longer ready, and logs the reason only.
    let database = server.folder.path().join("divoc.sqlite");
    std::fs::remove_file(&database).unwrap();
    let unready = server.request("GET", "/readyz", &[]);
    assert_eq!(unready.status, 503);
    assert_eq!(
        unready.json(),
        json!({
            "status": "unavailable",
            "error": "store_unavailable",
            "message": "the certificate store failed its health check; the server log has the reason",
        })
    );
    assert_eq!(unready.header("retry-after"), Some("5"));
    assert_eq!(server.request("HEAD", "/readyz", &[]).status, 503);
    assert_eq!(server.request("GET", "/healthz", &[]).status, 200);
    let log = server.wait_for_log("readiness check failed");
    assert!(
        log.contains(&format!("the database file {} is gone", database.display())),
        "{log}"
    );
    // Successful checks are logged at debug level only.
    assert!(!log.contains("route=/healthz status=200"), "{log}");
    assert!(log.contains("route=/readyz status=503"), "{log}");
}
