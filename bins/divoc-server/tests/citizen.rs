//! Citizen routes, facility search and the audit trail, over real HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::process::Command;

use common::{Keys, Response, Server, decode_qr_png, sample_certificate};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const FAMILY_MOBILE: &str = "9000000001";

fn token(claims: &Value) -> String {
    Keys::sign("test-rsa-private.pem", Algorithm::RS256, claims)
}

fn citizen_token(mobile: &str) -> String {
    token(&Keys::citizen_claims(mobile))
}

fn role_token(role: &str) -> String {
    let mut claims = Keys::valid_claims();
    claims["realm_access"] = json!({"roles": [role]});
    claims["sub"] = json!(format!("{role}-user"));
    token(&claims)
}

fn get(server: &Server, target: &str, token: Option<&str>) -> Response {
    match token {
        Some(token) => server.request(
            "GET",
            target,
            &[("Authorization", &format!("Bearer {token}"))],
        ),
        None => server.request("GET", target, &[]),
    }
}

/// A 404 body without its `date`, which differs between two requests.
fn not_found_without_date(response: &Response) -> Value {
    assert_eq!(response.status, 404);
    let mut body = response.json();
    body.as_object_mut().unwrap().remove("date");
    body
}

#[test]
fn citizen_lists_own_certificates() {
    let server = Server::start(&[]);
    let response = get(
        &server,
        "/certificate/api/citizen/certificates",
        Some(&citizen_token(FAMILY_MOBILE)),
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let listed: Vec<(String, String, String)> = response.json()["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["preEnrollmentCode"].as_str().unwrap().to_owned(),
                entry["certificateId"].as_str().unwrap().to_owned(),
                entry["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("BEN1001", "529130864", "Suresh Deshpande"),
        ("BEN1002", "772014589", "Meera Deshpande"),
        ("BEN1004", "815402663", "Aarav Deshpande"),
        ("BEN1012", "183640925", "Diya Deshpande"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(listed, expected);
    let first = &response.json()["certificates"][1];
    assert_eq!(first["dose"], 3);
    assert_eq!(first["totalDoses"], 2);
    assert_eq!(first["date"], "2022-04-18T09:02:17.882Z");
    assert_eq!(first["localDate"], "2022-04-18");
    assert_eq!(first["vaccine"], "Covaxin");
}

#[test]
fn citizen_list_dates_in_configured_zone() {
    let server = Server::start(&[("DIVOC__PDF__TIMEZONE", "Asia/Kolkata")]);
    let response = get(
        &server,
        "/certificate/api/citizen/certificates",
        Some(&citizen_token(FAMILY_MOBILE)),
    );
    let late = &response.json()["certificates"][3];
    assert_eq!(late["certificateId"], "183640925");
    assert_eq!(late["date"], "2021-10-17T22:00:00.000Z");
    assert_eq!(late["localDate"], "2021-10-18");
}

#[test]
fn citizen_list_for_unknown_mobile_is_empty() {
    let server = Server::start(&[]);
    let response = get(
        &server,
        "/certificate/api/citizen/certificates",
        Some(&citizen_token("9111111111")),
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"certificates": []}));
}

#[test]
fn citizen_downloads_own_certificate() {
    let server = Server::start(&[]);
    let citizen = citizen_token(FAMILY_MOBILE);
    let by_query = get(
        &server,
        "/certificate/api/certificatePDF?certificateId=529130864",
        Some(&citizen),
    );
    assert_eq!(by_query.status, 200);
    assert_eq!(
        by_query.header("content-disposition"),
        Some("inline; filename=\"certificate-529130864.pdf\"")
    );

    let by_auth_token = server.request(
        "GET",
        &format!("/certificate/api/certificate/772014589?authToken={citizen}"),
        &[],
    );
    assert_eq!(by_auth_token.status, 200);
    assert_eq!(
        by_auth_token.header("content-type"),
        Some("application/pdf")
    );
    // A repeated authToken is 400, and the echoed query hides the tokens.
    let twice = server.request(
        "GET",
        &format!("/certificate/api/certificate/772014589?authToken={citizen}&authToken=x"),
        &[],
    );
    assert_eq!(twice.status, 400);
    assert_eq!(twice.json()["value"], "authToken=***&authToken=***");

    let qr = server.request(
        "GET",
        &format!("/certificate/api/certificate/QRCode/772014589?authToken={citizen}"),
        &[],
    );
    assert_eq!(qr.status, 200);
    let payload = decode_qr_png(&qr.body);
    assert_eq!(
        divoc_qr::decode_payload(&payload).unwrap(),
        sample_certificate("772014589").into_bytes()
    );
}

#[test]
fn registration_token_with_phone_claim() {
    let server = Server::start(&[]);
    let now = chrono::Utc::now().timestamp();
    let registration = token(&json!({"Phone": FAMILY_MOBILE, "exp": now + 600}));
    let response = server.request(
        "GET",
        &format!("/certificate/api/certificate/183640925?authToken={registration}"),
        &[],
    );
    assert_eq!(response.status, 200);
}

#[test]
fn other_citizens_certificate_is_plain_404() {
    let server = Server::start(&[]);
    let stranger = citizen_token("9000000002");
    let unknown = citizen_token(FAMILY_MOBILE);
    // 680325917 belongs to BEN1003, registered to another mobile number.
    let targets = [
        "/certificate/api/certificatePDF?certificateId={id}",
        "/certificate/api/certificate/{id}?authToken={token}",
        "/certificate/api/certificate/QRCode/{id}?authToken={token}",
    ];
    for target in targets {
        let foreign = target
            .replace("{id}", "529130864")
            .replace("{token}", &stranger);
        let missing = target
            .replace("{id}", "111111111")
            .replace("{token}", &unknown);
        let foreign_response = get(&server, &foreign, Some(&stranger));
        let missing_response = get(&server, &missing, Some(&unknown));
        let mut foreign_body = not_found_without_date(&foreign_response);
        let mut missing_body = not_found_without_date(&missing_response);
        assert_eq!(foreign_body["source"], "529130864", "{target}");
        assert_eq!(missing_body["source"], "111111111", "{target}");
        foreign_body["source"] = json!("");
        missing_body["source"] = json!("");
        assert_eq!(foreign_body, missing_body, "{target}");
    }
    // Beneficiary routes with a citizen token reach only the citizen's own beneficiaries.
    let own = get(
        &server,
        "/certificate/api/certificatePDF/BEN1001",
        Some(&unknown),
    );
    assert_eq!(own.status, 200);
    let foreign = get(
        &server,
        "/certificate/api/certificatePDF/BEN1001",
        Some(&stranger),
    );
    assert_eq!(
        not_found_without_date(&foreign),
        json!({"source": "BEN1001", "type": "internal-failed", "extra": "Certificate not found"})
    );
    let head = server.request(
        "HEAD",
        "/certificate/api/certificatePDF/BEN1001",
        &[("Authorization", &format!("Bearer {stranger}"))],
    );
    assert_eq!(head.status, 404);
}

#[test]
fn head_matches_get_on_citizen_routes() {
    let server = Server::start(&[]);
    let citizen = format!("Bearer {}", citizen_token(FAMILY_MOBILE));
    let print = format!("Bearer {}", role_token("facility-staff"));
    let targets = [
        (
            "/certificate/api/certificatePDF?certificateId=772014589",
            &citizen,
        ),
        ("/certificate/api/certificate/772014589", &citizen),
        ("/certificate/api/certificate/QRCode/772014589", &citizen),
        ("/certificate/api/citizen/certificates", &citizen),
        (
            "/certificate/api/beneficiaries?phoneno=9000000001&dob=1990-01-01",
            &print,
        ),
    ];
    for (target, authorization) in targets {
        let headers = [("Authorization", authorization.as_str())];
        let get = server.request("GET", target, &headers);
        let head = server.request("HEAD", target, &headers);
        assert_eq!(get.status, 200, "{target}");
        assert_eq!(head.status, 200, "{target}");
        assert!(head.body.is_empty(), "{target}");
        for name in ["Content-Type", "ETag", "Content-Disposition"] {
            assert_eq!(head.header(name), get.header(name), "{target}: {name}");
        }
        assert_eq!(
            head.header("Content-Length"),
            Some(get.body.len().to_string().as_str()),
            "{target}"
        );
        // HEAD checks the token as GET does.
        assert_eq!(server.request("HEAD", target, &[]).status, 401, "{target}");
    }
    let post = server.request("POST", "/certificate/api/citizen/certificates", &[]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn revoked_certificate_not_downloadable() {
    let server = Server::start(&[]);
    let response = get(
        &server,
        "/certificate/api/certificatePDF?certificateId=418203957",
        Some(&citizen_token(FAMILY_MOBILE)),
    );
    assert_eq!(response.status, 404);
}

#[test]
fn citizen_routes_reject_roles_and_missing_tokens() {
    let server = Server::start(&[]);
    let targets = [
        "/certificate/api/certificatePDF?certificateId=529130864",
        "/certificate/api/certificate/529130864",
        "/certificate/api/certificate/QRCode/529130864",
        "/certificate/api/citizen/certificates",
    ];
    for target in targets {
        assert_eq!(get(&server, target, None).status, 401, "{target}");
        let expired = token(
            &json!({"preferred_username": FAMILY_MOBILE, "exp": chrono::Utc::now().timestamp() - 600}),
        );
        assert_eq!(get(&server, target, Some(&expired)).status, 401, "{target}");
        for role in ["api", "facility-staff"] {
            let response = get(&server, target, Some(&role_token(role)));
            assert_eq!(response.status, 403, "{target} {role}");
            assert_eq!(response.json()["error"], "forbidden");
        }
    }
    let no_mobile = token(&json!({"sub": "x", "exp": chrono::Utc::now().timestamp() + 600}));
    let response = get(
        &server,
        "/certificate/api/citizen/certificates",
        Some(&no_mobile),
    );
    assert_eq!(response.status, 403);
    assert_eq!(
        response.json()["message"],
        "forbidden: the token has no mobile number"
    );
}

#[test]
fn certificate_id_routes_reject_protect() {
    // These routes serve unencrypted files only, so a request for an
    // encrypted PDF gets 400 rather than the plain file.
    let server = Server::start(&[]);
    let citizen = citizen_token(FAMILY_MOBILE);
    let bearer = format!("Bearer {citizen}");
    let targets = [
        "/certificate/api/certificatePDF?certificateId=529130864&protect=dob".to_owned(),
        format!("/certificate/api/certificate/529130864?authToken={citizen}&protect=dob"),
        format!("/certificate/api/certificate/QRCode/529130864?authToken={citizen}&protect=dob"),
        "/certificate/api/certificate/529130864?prot%65ct=dob".to_owned(),
    ];
    for target in &targets {
        let response = get(&server, target, Some(&citizen));
        assert_eq!(response.status, 400, "{target}");
        let body = response.json();
        assert_eq!(body["error"], "invalid_parameter", "{target}");
        assert_eq!(body["value"], "dob", "{target}");
        let head = server.request("HEAD", target, &[("Authorization", &bearer)]);
        assert_eq!(head.status, 400, "HEAD {target}");
    }
    // The token is checked first.
    assert_eq!(get(&server, &targets[0], None).status, 401);
}

#[test]
fn certificate_id_checked() {
    let server = Server::start(&[]);
    let citizen = citizen_token(FAMILY_MOBILE);
    let cases = [
        (
            "/certificate/api/certificatePDF",
            "invalid certificate id: the certificateId query parameter is missing",
        ),
        (
            "/certificate/api/certificatePDF?certificateId=..",
            "invalid certificate id: contains `..`",
        ),
        (
            "/certificate/api/certificatePDF?certificateId=1%27%20OR%201=1",
            "invalid certificate id: only A-Z, a-z, 0-9, '-', '_' and '.' are allowed",
        ),
    ];
    for (target, message) in cases {
        let response = get(&server, target, Some(&citizen));
        assert_eq!(response.status, 400, "{target}");
        assert_eq!(response.json()["message"], message, "{target}");
    }
}

#[test]
fn certificate_id_bytes_not_utf8() {
    // The query parameter reports the same problem as the id in the path,
    // and echoes the value as it was sent.
    let server = Server::start(&[]);
    let citizen = citizen_token(FAMILY_MOBILE);
    let cases = [
        ("/certificate/api/certificatePDF?certificateId=%FF", "%FF"),
        (
            "/certificate/api/certificatePDF?certificateId=5291%FE%FF30864&language=hi",
            "5291%FE%FF30864",
        ),
        (
            "/certificate/api/certificatePDF?certificat%65Id=%C3%28",
            "%C3%28",
        ),
        ("/certificate/api/certificate/%FF", "%FF"),
        (
            "/certificate/api/certificate/QRCode/5291%FE%FF30864",
            "5291%FE%FF30864",
        ),
    ];
    for (target, value) in cases {
        let response = get(&server, target, Some(&citizen));
        assert_eq!(response.status, 400, "{target}");
        let body = response.json();
        assert_eq!(body["error"], "invalid_id", "{target}");
        assert_eq!(
            body["message"], "invalid certificate id: percent-decoded bytes are not UTF-8",
            "{target}"
        );
        assert_eq!(body["value"], value, "{target}");
    }
    // U+FFFD sent as valid UTF-8 is a character outside the id alphabet.
    let response = get(
        &server,
        "/certificate/api/certificatePDF?certificateId=%EF%BF%BD",
        Some(&citizen),
    );
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json()["message"],
        "invalid certificate id: only A-Z, a-z, 0-9, '-', '_' and '.' are allowed"
    );
}

#[test]
fn facility_search_finds_twins() {
    let server = Server::start(&[]);
    let response = get(
        &server,
        "/certificate/api/beneficiaries?phoneno=9000000001&dob=1990-01-01",
        Some(&role_token("facility-staff")),
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        String::from_utf8(response.body.clone()).unwrap(),
        r#"[{"preEnrollmentCode":"BEN1004","name":"Aarav Deshpande","gender":"Male","dob":"1990-01-01"},{"preEnrollmentCode":"BEN1012","name":"Diya Deshpande","gender":"Female","dob":"1990-01-01"}]"#
    );
    let none = get(
        &server,
        "/certificate/api/beneficiaries?phoneno=9000000001&dob=1990-01-02",
        Some(&role_token("facility-staff")),
    );
    assert_eq!(none.json(), json!([]));
}

#[test]
fn facility_search_checks_role_and_input() {
    let server = Server::start(&[]);
    let target = "/certificate/api/beneficiaries?phoneno=9000000001&dob=1990-01-01";
    assert_eq!(get(&server, target, None).status, 401);
    for forbidden in [role_token("api"), citizen_token(FAMILY_MOBILE)] {
        assert_eq!(get(&server, target, Some(&forbidden)).status, 403);
    }
    let staff = role_token("facility-staff");
    let cases = [
        (
            "phoneno=abc&dob=1990-01-01",
            "invalid phoneno: expected 6 to 15 digits, optionally after '+'",
            "abc",
        ),
        (
            "dob=1990-01-01",
            "invalid phoneno: expected 6 to 15 digits, optionally after '+'",
            "",
        ),
        (
            "phoneno=9000000001&dob=01/01/1990",
            "invalid dob: expected a date of birth as YYYY-MM-DD",
            "01/01/1990",
        ),
        (
            "phoneno=9000000001&dob=1990-02-30",
            "invalid dob: expected a date of birth as YYYY-MM-DD",
            "1990-02-30",
        ),
        (
            "phoneno=9000000001",
            "invalid dob: expected a date of birth as YYYY-MM-DD",
            "",
        ),
        // Whitespace around a value is rejected in both parameters.
        (
            "phoneno=9000000001&dob=%201990-01-01",
            "invalid dob: expected a date of birth as YYYY-MM-DD",
            " 1990-01-01",
        ),
        (
            "phoneno=9000000001&dob=1990-01-01%20",
            "invalid dob: expected a date of birth as YYYY-MM-DD",
            "1990-01-01 ",
        ),
        (
            "phoneno=9000000001&dob=1990-01-01%0A",
            "invalid dob: expected a date of birth as YYYY-MM-DD",
            "1990-01-01\n",
        ),
        (
            "phoneno=9000000001%20&dob=1990-01-01",
            "invalid phoneno: expected 6 to 15 digits, optionally after '+'",
            "9000000001 ",
        ),
        (
            "phoneno=%099000000001&dob=1990-01-01",
            "invalid phoneno: expected 6 to 15 digits, optionally after '+'",
            "\t9000000001",
        ),
    ];
    for (query, message, value) in cases {
        let response = get(
            &server,
            &format!("/certificate/api/beneficiaries?{query}"),
            Some(&staff),
        );
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(response.json()["error"], "invalid_parameter", "{query}");
        assert_eq!(response.json()["message"], message, "{query}");
        assert_eq!(response.json()["value"], value, "{query}");
    }
    // The print role may also print by beneficiary id.
    assert_eq!(
        get(
            &server,
            "/certificate/api/certificatePDF/BEN1012",
            Some(&staff)
        )
        .status,
        200
    );
}

#[test]
fn audit_trail_records_served_certificates() {
    let server = Server::start(&[]);
    let citizen = citizen_token(FAMILY_MOBILE);
    // HEAD sends no file, so it writes no audit row. These come first, so a
    // row of theirs would be stored before those of the GETs below.
    let authorization = format!("Bearer {citizen}");
    for target in [
        "/certificate/api/certificatePDF?certificateId=772014589",
        "/certificate/api/certificate/772014589",
        "/certificate/api/certificate/QRCode/772014589",
    ] {
        let head = server.request("HEAD", target, &[("Authorization", &authorization)]);
        assert_eq!(head.status, 200, "{target}");
    }
    assert_eq!(
        get(
            &server,
            "/certificate/api/certificatePDF/BEN1002",
            Some(&role_token("api"))
        )
        .status,
        200
    );
    assert_eq!(
        get(
            &server,
            "/certificate/api/certificatePDF?certificateId=772014589",
            Some(&citizen)
        )
        .status,
        200
    );
    assert_eq!(
        get(
            &server,
            "/certificate/api/certificatePDF/NOBODY",
            Some(&role_token("api"))
        )
        .status,
        404
    );

    let url = format!(
        "sqlite://{}",
        server.folder.path().join("divoc.sqlite").display()
    );
    let rows = audit_rows(&url, &["--certificate", "772014589"], 2);
    assert_eq!(rows.len(), 2);
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|row| {
            (
                row["route"].as_str().unwrap(),
                row["subject"].as_str().unwrap(),
                row["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "/certificate/api/certificatePDF/{beneficiaryId}",
                "api-user",
                "distribution"
            ),
            (
                "/certificate/api/certificatePDF",
                "citizen-9000000001",
                "citizen"
            ),
        ]
    );
    assert!(rows.iter().all(|row| row["certificateId"] == "772014589"));
    let text = rows.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains("eyJ"), "a token was stored: {text}");

    assert_eq!(audit_rows(&url, &["--subject", "api-user"], 1).len(), 1);
    assert_eq!(
        audit_rows(&url, &["--certificate", "772014589", "--limit", "1"], 1).len(),
        1
    );
    for limit in ["0", "-3"] {
        let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
            .env_clear()
            .env("DIVOC__DATABASE__URL", &url)
            .args(["audit", "--certificate", "772014589"])
            .arg(format!("--limit={limit}"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains(&format!(
                "invalid value '{limit}' for '--limit <LIMIT>': {limit} is not in 1..9223372036854775807"
            )),
            "{stderr}"
        );
    }

    // A reader that closed the output before the rows came ends the command
    // with status 0, as with `| head`. Before, `println!` panicked.
    let mut child = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env("DIVOC__DATABASE__URL", &url)
        .args(["audit", "--certificate", "772014589"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("standard output was closed by its reader; stopped writing"),
        "{stderr}"
    );
}

/// Runs `divoc-server audit` with `filter` until it prints at least `expected`
/// rows, for up to 10 s, because the server writes audit events from a queue
/// shortly after each response. Returns the rows of the last run.
fn audit_rows(url: &str, filter: &[&str], expected: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
            .env_clear()
            .env("DIVOC__DATABASE__URL", url)
            .arg("audit")
            .args(filter)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let rows: Vec<Value> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        if rows.len() >= expected || std::time::Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Base64url without padding, for hand-made hostile tokens.
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn every_route_checks_tokens_and_roles() {
    let server = Server::start(&[]);
    let now = chrono::Utc::now().timestamp();
    let citizen = citizen_token(FAMILY_MOBILE);
    let stranger = citizen_token("9000000002");
    let distribution = role_token("api");
    let print = role_token("facility-staff");
    let no_role_no_mobile = token(&json!({"sub": "x", "exp": now + 600}));
    let unsigned = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(Keys::valid_claims().to_string().as_bytes())
    );
    let public_pem = std::fs::read(Keys::rsa_public()).unwrap();
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &Keys::valid_claims(),
        &jsonwebtoken::EncodingKey::from_secret(&public_pem).unwrap(),
    )
    .unwrap();
    let expired = token(&json!({"sub": "x", "exp": now - 600, "realm_access": {"roles": ["api"]}}));

    // (method, target, token that is refused with 403, token that is allowed, status when allowed)
    let routes: [(&str, &str, &str, &str, u16); 9] = [
        (
            "GET",
            "/certificate/api/certificatePDF/BEN1001",
            &no_role_no_mobile,
            &distribution,
            200,
        ),
        (
            "HEAD",
            "/certificate/api/certificatePDF/BEN1001",
            &no_role_no_mobile,
            &print,
            200,
        ),
        (
            "GET",
            "/certificate/api/certificateQRCode/BEN1001",
            &no_role_no_mobile,
            &citizen,
            200,
        ),
        (
            "HEAD",
            "/certificate/api/certificateQRCode/BEN1001",
            &no_role_no_mobile,
            &distribution,
            200,
        ),
        (
            "GET",
            "/certificate/api/certificatePDF?certificateId=529130864",
            &distribution,
            &citizen,
            200,
        ),
        (
            "GET",
            "/certificate/api/certificate/529130864",
            &print,
            &citizen,
            200,
        ),
        (
            "GET",
            "/certificate/api/certificate/QRCode/529130864",
            &distribution,
            &citizen,
            200,
        ),
        (
            "GET",
            "/certificate/api/citizen/certificates",
            &print,
            &citizen,
            200,
        ),
        (
            "GET",
            "/certificate/api/beneficiaries?phoneno=9000000001&dob=1990-01-01",
            &citizen,
            &print,
            200,
        ),
    ];
    for (method, target, refused, allowed, status) in routes {
        let call = |token: Option<&str>| {
            let header = token.map(|token| format!("Bearer {token}"));
            let headers: Vec<(&str, &str)> = header
                .iter()
                .map(|value| ("Authorization", value.as_str()))
                .collect();
            server.request(method, target, &headers).status
        };
        assert_eq!(call(None), 401, "{method} {target}: no token");
        for (name, hostile) in [
            ("alg none", &unsigned),
            ("HS256 with the public key", &hmac),
            ("expired", &expired),
        ] {
            assert_eq!(call(Some(hostile)), 401, "{method} {target}: {name}");
        }
        assert_eq!(call(Some(refused)), 403, "{method} {target}: wrong role");
        assert_eq!(call(Some(allowed)), status, "{method} {target}: right role");
    }
    // A query that cannot be read is checked after the token: the status is
    // 401 without a token, and 400 with an allowed one.
    let unreadable: [(&str, &str, &str); 6] = [
        (
            "GET",
            "/certificate/api/certificatePDF/BEN1001?language=en&language=hi",
            &distribution,
        ),
        (
            "GET",
            "/certificate/api/certificatePDF/BEN1001?protect=dob&protect=none",
            &distribution,
        ),
        (
            "GET",
            "/certificate/api/certificateQRCode/BEN1001?protect=dob",
            &distribution,
        ),
        (
            "GET",
            "/certificate/api/certificatePDF?certificateId=529130864&certificateId=1",
            &citizen,
        ),
        (
            "GET",
            "/certificate/api/beneficiaries?phoneno=9000000001&phoneno=9000000002",
            &print,
        ),
        (
            "POST",
            "/certificate/api/print?manifest=1&manifest=2",
            &print,
        ),
    ];
    for (method, target, allowed) in unreadable {
        assert_eq!(
            server.request(method, target, &[]).status,
            401,
            "{method} {target}: no token"
        );
        let authorization = format!("Bearer {allowed}");
        let response = server.request(method, target, &[("Authorization", &authorization)]);
        assert_eq!(response.status, 400, "{method} {target}: right role");
    }
    // Another citizen's certificate, on every citizen route: 404 as for an unknown one.
    for target in [
        "/certificate/api/certificatePDF/BEN1001",
        "/certificate/api/certificateQRCode/BEN1001",
        "/certificate/api/certificatePDF?certificateId=529130864",
        "/certificate/api/certificate/529130864",
        "/certificate/api/certificate/QRCode/529130864",
    ] {
        assert_eq!(
            get(&server, target, Some(&stranger)).status,
            404,
            "{target}"
        );
    }
    let listed = get(
        &server,
        "/certificate/api/citizen/certificates",
        Some(&stranger),
    );
    assert_eq!(listed.json(), json!({"certificates": []}));
}
