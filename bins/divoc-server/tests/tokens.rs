//! Bearer tokens over real HTTP: hostile tokens, every accepted algorithm, the
//! key sources (PEM, registration key, JWKS file, JWKS URL) and roles.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Keys, Response, Server, fixture};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const PDF: &str = "/certificate/api/certificatePDF";
const ISSUER: &str = "https://keycloak.test/auth/realms/divoc";
const AUDIENCE: &str = "certificate-api";

/// Claims of a valid identity provider token with the distribution role, for
/// a server that checks `iss` and `aud`.
fn provider_claims() -> Value {
    let mut claims = Keys::valid_claims();
    claims["iss"] = json!(ISSUER);
    claims["aud"] = json!(["account", AUDIENCE]);
    claims
}

fn fixture_path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_owned()
}

/// Starts a server with the RSA PEM key, the JWKS file, `iss` and `aud` checks,
/// and a leeway of 60 s.
fn strict_server() -> Server {
    let jwks = fixture_path("keys/test-jwks.json");
    Server::start(&[
        ("DIVOC__AUTH__JWKS_FILE", &jwks),
        ("DIVOC__AUTH__ISSUER", ISSUER),
        ("DIVOC__AUTH__AUDIENCE", AUDIENCE),
        ("DIVOC__AUTH__LEEWAY_SECONDS", "60"),
    ])
}

fn get_pdf(server: &Server, beneficiary: &str, token: &str) -> Response {
    let authorization = format!("Bearer {token}");
    server.request(
        "GET",
        &format!("{PDF}/{beneficiary}"),
        &[("Authorization", &authorization)],
    )
}

/// Replaces the claims of a signed token, keeping header and signature.
fn with_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

fn unsigned(header: &str, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn hmac(secret: &[u8], kid: Option<&str>) -> String {
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &provider_claims(),
        &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

#[test]
fn hostile_tokens_rejected() {
    let server = strict_server();
    let now = chrono::Utc::now().timestamp();
    let rsa = |claims: &Value| Keys::sign("test-rsa-private.pem", Algorithm::RS256, claims);
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut claims = provider_claims();
        change(&mut claims);
        rsa(&claims)
    };
    let valid = rsa(&provider_claims());
    let (head, signature) = valid.rsplit_once('.').unwrap();
    let public_pem = std::fs::read(Keys::rsa_public()).unwrap();
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(fixture("keys/test-jwks.json")).unwrap()).unwrap();
    let oct_secret = URL_SAFE_NO_PAD
        .decode(jwks["keys"][3]["k"].as_str().unwrap())
        .unwrap();
    let mut tampered_claims = provider_claims();
    tampered_claims["sub"] = json!("someone-else");
    let long_token = format!("{}.{}", valid, "A".repeat(20 * 1024));

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            unsigned(r#"{"alg":"none","typ":"JWT"}"#, &provider_claims()),
            "invalid token: algorithm none is not accepted for this key",
        ),
        (
            "HS256 with the public key PEM as secret",
            hmac(&public_pem, None),
            "invalid token: algorithm HS256 is not accepted for this key",
        ),
        (
            "HS256 naming the oct JWKS entry",
            hmac(&oct_secret, Some("hmac-1")),
            "invalid token: algorithm HS256 is not accepted for this key",
        ),
        (
            "expired beyond the leeway",
            changed(&|claims| claims["exp"] = json!(now - 120)),
            "invalid token: expired",
        ),
        (
            "nbf beyond the leeway",
            changed(&|claims| claims["nbf"] = json!(now + 3600)),
            "invalid token: not valid yet (nbf is in the future)",
        ),
        (
            "no exp",
            changed(&|claims| {
                claims.as_object_mut().unwrap().remove("exp");
            }),
            "invalid token: the required claim exp is missing",
        ),
        (
            "wrong iss",
            changed(&|claims| claims["iss"] = json!("https://keycloak.test/auth/realms/other")),
            "invalid token: issuer mismatch",
        ),
        (
            "no iss",
            changed(&|claims| {
                claims.as_object_mut().unwrap().remove("iss");
            }),
            "invalid token: the required claim iss is missing",
        ),
        (
            "wrong aud",
            changed(&|claims| claims["aud"] = json!("account")),
            "invalid token: audience mismatch",
        ),
        (
            "unknown kid",
            Keys::sign_with_kid(
                "other-rsa-private.pem",
                Algorithm::RS256,
                Some("k2"),
                &provider_claims(),
            ),
            "invalid token: unknown key id \"k2\"",
        ),
        (
            "kid of a JWKS entry skipped for its alg",
            Keys::sign_with_kid(
                "jwks-rsa-private.pem",
                Algorithm::RS256,
                Some("rsa-as-es256"),
                &provider_claims(),
            ),
            "invalid token: unknown key id \"rsa-as-es256\"",
        ),
        (
            "kid of a JWKS entry skipped for its curve",
            Keys::sign_with_kid(
                "jwks-p384-private.pem",
                Algorithm::ES384,
                Some("ec-p384"),
                &provider_claims(),
            ),
            "invalid token: unknown key id \"ec-p384\"",
        ),
        (
            "kid of a key of another type",
            Keys::sign_with_kid(
                "jwks-ec-private.pem",
                Algorithm::ES256,
                Some("jwks-rsa-1"),
                &provider_claims(),
            ),
            "invalid token: algorithm ES256 does not fit key \"jwks-rsa-1\"",
        ),
        (
            "signed by another key",
            Keys::sign(
                "other-rsa-private.pem",
                Algorithm::RS256,
                &provider_claims(),
            ),
            "invalid token: the signature does not verify",
        ),
        (
            "payload changed after signing",
            with_claims(&valid, &tampered_claims),
            "invalid token: the signature does not verify",
        ),
        (
            // 168 characters: a multiple of 4, so the cut part is still valid base64url.
            "signature cut to 126 bytes",
            format!("{head}.{}", &signature[..168]),
            "invalid token: the signature does not verify",
        ),
        (
            "signature cut by one character",
            format!("{head}.{}", &signature[..signature.len() - 1]),
            "invalid token: signature is not base64url",
        ),
        (
            "empty signature",
            format!("{head}."),
            "invalid token: empty signature",
        ),
        (
            "four parts",
            format!("{valid}.{signature}"),
            "invalid token: expected 3 dot-separated parts, found 4",
        ),
        (
            "header not base64url",
            format!(
                "{{\"alg\":\"RS256\"}}.{}",
                &valid[valid.find('.').unwrap() + 1..]
            ),
            "invalid token: header is not base64url",
        ),
        (
            "20 KB token",
            long_token,
            "malformed Authorization header: longer than 8 KiB",
        ),
    ];
    for (name, token, message) in &cases {
        let response = get_pdf(&server, "BEN1001", token);
        assert_eq!(response.status, 401, "{name}");
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer"),
            "{name}"
        );
        assert_eq!(response.json()["error"], "unauthorized", "{name}");
        assert_eq!(response.json()["message"], *message, "{name}");
    }
    // The same valid token passes, so each rejection above is down to its change.
    assert_eq!(get_pdf(&server, "BEN1001", &valid).status, 200);

    let log = server.log_text();
    for secret in [signature, "partner-1", "someone-else"] {
        assert!(!log.contains(secret), "log contains {secret}:\n{log}");
    }
}

#[test]
fn invalid_time_claims_named() {
    // Each message names what is wrong with the value, and every case is 401.
    let server = Server::start(&[]);
    let range = "a time in seconds since 1970-01-01T00:00:00Z from 0 to 18446744073709551615";
    let cases = [
        (
            "exp",
            json!(-1),
            format!("the claim exp must be {range}, not -1"),
        ),
        (
            "exp",
            json!(1e300),
            format!("the claim exp must be {range}, not 1e+300"),
        ),
        (
            "exp",
            json!(-0.5),
            format!("the claim exp must be {range}, not -0.5"),
        ),
        (
            "exp",
            json!(18_446_744_073_709_551_616.0_f64),
            format!("the claim exp must be {range}, not 1.8446744073709552e+19"),
        ),
        (
            "exp",
            json!("tomorrow"),
            "the claim exp must be a number".to_owned(),
        ),
        (
            "exp",
            json!([1]),
            "the claim exp must be a number".to_owned(),
        ),
        (
            "exp",
            json!(null),
            "the required claim exp is missing".to_owned(),
        ),
        (
            "nbf",
            json!(-1),
            format!("the claim nbf must be {range}, not -1"),
        ),
        (
            "nbf",
            json!("now"),
            "the claim nbf must be a number".to_owned(),
        ),
    ];
    for (claim, value, message) in cases {
        let mut claims = Keys::valid_claims();
        claims[claim] = value.clone();
        let token = Keys::sign("test-rsa-private.pem", Algorithm::RS256, &claims);
        let response = get_pdf(&server, "BEN1001", &token);
        assert_eq!(response.status, 401, "{claim}: {value}");
        assert_eq!(
            response.json()["message"],
            format!("invalid token: {message}"),
            "{claim}: {value}"
        );
    }
    // A fractional time within range passes, as jsonwebtoken rounds it.
    let mut claims = Keys::valid_claims();
    claims["exp"] = json!(chrono::Utc::now().timestamp() as f64 + 3600.5);
    let token = Keys::sign("test-rsa-private.pem", Algorithm::RS256, &claims);
    assert_eq!(get_pdf(&server, "BEN1001", &token).status, 200);
}

#[test]
fn every_algorithm_accepted() {
    let server = strict_server();
    let claims = provider_claims();
    let tokens = [
        (
            "RS256, PEM key",
            Keys::sign("test-rsa-private.pem", Algorithm::RS256, &claims),
        ),
        (
            "PS256, PEM key",
            Keys::sign("test-rsa-private.pem", Algorithm::PS256, &claims),
        ),
        (
            "RS256, PEM key, Keycloak-style kid",
            Keys::sign_with_kid(
                "test-rsa-private.pem",
                Algorithm::RS256,
                Some("realm-key"),
                &claims,
            ),
        ),
        (
            "RS256, JWKS file",
            Keys::sign_with_kid(
                "jwks-rsa-private.pem",
                Algorithm::RS256,
                Some("jwks-rsa-1"),
                &claims,
            ),
        ),
        (
            "PS256, JWKS file",
            Keys::sign_with_kid(
                "jwks-rsa-private.pem",
                Algorithm::PS256,
                Some("jwks-rsa-1"),
                &claims,
            ),
        ),
        (
            "ES256, JWKS file",
            Keys::sign_with_kid(
                "jwks-ec-private.pem",
                Algorithm::ES256,
                Some("jwks-ec-1"),
                &claims,
            ),
        ),
        (
            "EdDSA, JWKS file",
            Keys::sign_with_kid(
                "jwks-ed25519-private.pem",
                Algorithm::EdDSA,
                Some("jwks-ed-1"),
                &claims,
            ),
        ),
        (
            "ES256, JWKS file, no kid",
            Keys::sign("jwks-ec-private.pem", Algorithm::ES256, &claims),
        ),
    ];
    for (name, token) in &tokens {
        let response = get_pdf(&server, "BEN1001", token);
        assert_eq!(response.status, 200, "{name}: {:?}", response.json());
    }
    // Expired 30 s ago, inside the 60 s leeway.
    let mut late = provider_claims();
    late["exp"] = json!(chrono::Utc::now().timestamp() - 30);
    let token = Keys::sign("test-rsa-private.pem", Algorithm::RS256, &late);
    assert_eq!(get_pdf(&server, "BEN1001", &token).status, 200);
}

#[test]
fn ed25519_pem_key_accepted() {
    let public = fixture_path("keys/test-ed25519-public.pem");
    let server = Server::start(&[("DIVOC__AUTH__PUBLIC_KEY_FILE", &public)]);
    let token = Keys::sign_with_kid(
        "test-ed25519-private.pem",
        Algorithm::EdDSA,
        None,
        &Keys::valid_claims(),
    );
    assert_eq!(get_pdf(&server, "BEN1001", &token).status, 200);
    let response = get_pdf(&server, "BEN1001", &Keys::rs256());
    assert_eq!(response.status, 401);
    assert_eq!(
        response.json()["message"],
        "invalid token: no configured key accepts algorithm RS256"
    );
}

/// Asserts the 404 that an unknown beneficiary gets, so that a citizen cannot
/// tell someone else's beneficiary id from one that does not exist.
fn assert_not_found(response: &Response, beneficiary: &str) {
    assert_eq!(response.status, 404, "{beneficiary}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["date", "source", "type", "extra"], "{beneficiary}");
    assert_eq!(body["source"], beneficiary);
    assert_eq!(body["type"], "internal-failed");
    assert_eq!(body["extra"], "Certificate not found");
}

#[test]
fn roles_decide_scope() {
    let server = Server::start(&[]);
    let now = chrono::Utc::now().timestamp();
    let rsa = |claims: &Value| Keys::sign("test-rsa-private.pem", Algorithm::RS256, claims);

    let no_role = rsa(
        &json!({"sub": "svc", "exp": now + 600, "realm_access": {"roles": ["offline_access"]}}),
    );
    let response = get_pdf(&server, "BEN1001", &no_role);
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["error"], "forbidden");
    assert_eq!(
        response.json()["message"],
        "forbidden: the token has no distribution or print role and no mobile number"
    );

    let citizen = rsa(&Keys::citizen_claims("9000000001"));
    assert_eq!(get_pdf(&server, "BEN1001", &citizen).status, 200);
    assert_not_found(&get_pdf(&server, "BEN1003", &citizen), "BEN1003");
    assert_not_found(&get_pdf(&server, "NOBODY", &citizen), "NOBODY");

    let phone = rsa(&json!({"Phone": "9000000001", "exp": now + 600}));
    assert_eq!(get_pdf(&server, "BEN1001", &phone).status, 200);
    assert_not_found(&get_pdf(&server, "BEN1003", &phone), "BEN1003");

    // A client role through `azp`, and a role that outranks the mobile number.
    let print = rsa(&json!({
        "exp": now + 600,
        "azp": "facility-portal",
        "preferred_username": "9000000001",
        "resource_access": {"facility-portal": {"roles": ["facility-staff"]}},
    }));
    assert_eq!(get_pdf(&server, "BEN1003", &print).status, 200);
}

#[test]
fn role_lists_from_environment() {
    // Lists in the environment are comma-separated, with spaces trimmed.
    let server = Server::start(&[
        ("DIVOC__AUTH__ROLE_CLAIMS", "groups,realm_access.roles"),
        ("DIVOC__AUTH__DISTRIBUTION_ROLES", "partner, api"),
    ]);
    let now = chrono::Utc::now().timestamp();
    let rsa = |claims: &Value| Keys::sign("test-rsa-private.pem", Algorithm::RS256, claims);

    let partner = rsa(&json!({"sub": "svc", "exp": now + 600, "groups": ["partner"]}));
    assert_eq!(get_pdf(&server, "BEN1003", &partner).status, 200);
    let api = rsa(&json!({"sub": "svc", "exp": now + 600, "realm_access": {"roles": ["api"]}}));
    assert_eq!(get_pdf(&server, "BEN1003", &api).status, 200);
    // `certificate-distribution` is a default role, which the list replaced.
    let default_role = rsa(&json!({
        "sub": "svc",
        "exp": now + 600,
        "realm_access": {"roles": ["certificate-distribution"]},
    }));
    assert_eq!(get_pdf(&server, "BEN1003", &default_role).status, 403);
}

#[test]
fn registration_key_tokens_are_citizens() {
    let registration = fixture_path("keys/registration-rsa-public.pem");
    let server = Server::start(&[
        ("DIVOC__AUTH__REGISTRATION_PUBLIC_KEY_FILE", &registration),
        ("DIVOC__AUTH__ISSUER", ISSUER),
        ("DIVOC__AUTH__AUDIENCE", AUDIENCE),
    ]);
    let now = chrono::Utc::now().timestamp();
    let sign =
        |claims: &Value| Keys::sign("registration-rsa-private.pem", Algorithm::RS256, claims);

    // DIVOC's registration API signs `Phone` and `exp` and nothing else.
    let phone = sign(&json!({"Phone": "9000000001", "exp": now + 600}));
    assert_eq!(get_pdf(&server, "BEN1001", &phone).status, 200);
    assert_not_found(&get_pdf(&server, "BEN1003", &phone), "BEN1003");

    // Its key signs citizen logins only: a role claim gives no role.
    let with_role =
        sign(&json!({"Phone": "9000000001", "exp": now + 600, "realm_access": {"roles": ["api"]}}));
    assert_not_found(&get_pdf(&server, "BEN1003", &with_role), "BEN1003");

    let expired = sign(&json!({"Phone": "9000000001", "exp": now - 600}));
    let response = get_pdf(&server, "BEN1001", &expired);
    assert_eq!(response.status, 401);
    assert_eq!(response.json()["message"], "invalid token: expired");

    // Tokens of the identity provider key still need `iss` and `aud`.
    let response = get_pdf(&server, "BEN1001", &Keys::rs256());
    assert_eq!(response.status, 401);
    assert_eq!(
        response.json()["message"],
        "invalid token: the required claim iss is missing"
    );
    assert_eq!(
        get_pdf(
            &server,
            "BEN1001",
            &Keys::sign("test-rsa-private.pem", Algorithm::RS256, &provider_claims())
        )
        .status,
        200
    );
}

/// A JWKS endpoint on loopback that returns `responses[n]` for the `n`th request
/// (the last one repeats) and records each request line.
struct JwksServer {
    port: u16,
    request_lines: Arc<Mutex<Vec<String>>>,
    /// Responses written so far.
    answered: Arc<AtomicUsize>,
}

impl JwksServer {
    fn start(responses: Vec<(u16, String)>) -> JwksServer {
        JwksServer::start_slow(responses, Duration::ZERO)
    }

    /// Starts the endpoint, which waits `delay` before each response after
    /// the first.
    fn start_slow(responses: Vec<(u16, String)>, delay: Duration) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let request_lines = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&request_lines);
        let served = AtomicUsize::new(0);
        let answered = Arc::new(AtomicUsize::new(0));
        let written = Arc::clone(&answered);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(line) = read_request_line(&mut stream) else {
                    continue;
                };
                recorded.lock().unwrap().push(line);
                let count = served.fetch_add(1, Ordering::SeqCst);
                if count > 0 {
                    std::thread::sleep(delay);
                }
                let index = count.min(responses.len() - 1);
                let (status, body) = &responses[index];
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
                written.fetch_add(1, Ordering::SeqCst);
            }
        });
        JwksServer {
            port,
            request_lines,
            answered,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/realms/divoc/certs", self.port)
    }

    fn requests(&self) -> usize {
        self.request_lines.lock().unwrap().len()
    }
}

/// Reads a request head and returns its first line.
fn read_request_line(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    text.lines().next().map(str::to_owned)
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

#[test]
fn jwks_url_refetched_once_a_minute() {
    let ec = Keys::public_jwk("jwks-ec-private.pem", Algorithm::ES256, "jwks-ec-1");
    let rotated = Keys::public_jwk("rotated-rsa-private.pem", Algorithm::RS256, "rotated-1");
    let endpoint = JwksServer::start(vec![
        (200, jwks(std::slice::from_ref(&ec))),
        (200, jwks(&[ec, rotated])),
    ]);
    let url = endpoint.url();
    let server = Server::start(&[("DIVOC__AUTH__JWKS_URL", &url)]);
    assert_eq!(endpoint.requests(), 1, "fetched once at startup");

    let claims = Keys::valid_claims();
    let known = Keys::sign_with_kid(
        "jwks-ec-private.pem",
        Algorithm::ES256,
        Some("jwks-ec-1"),
        &claims,
    );
    assert_eq!(get_pdf(&server, "BEN1001", &known).status, 200);
    assert_eq!(endpoint.requests(), 1, "a known kid needs no fetch");

    // A key added after startup: its kid is unknown, so the JWKS is fetched again.
    let new_key = Keys::sign_with_kid(
        "rotated-rsa-private.pem",
        Algorithm::RS256,
        Some("rotated-1"),
        &claims,
    );
    assert_eq!(get_pdf(&server, "BEN1001", &new_key).status, 200);
    assert_eq!(endpoint.requests(), 2, "refetched for the unknown kid");

    // Another unknown kid within the minute: no fetch, 401.
    let unknown = Keys::sign_with_kid(
        "rotated-rsa-private.pem",
        Algorithm::RS256,
        Some("k3"),
        &claims,
    );
    let response = get_pdf(&server, "BEN1001", &unknown);
    assert_eq!(response.status, 401);
    assert_eq!(
        response.json()["message"],
        "invalid token: unknown key id \"k3\""
    );
    assert_eq!(endpoint.requests(), 2, "rate-limited to one fetch a minute");

    // Both keys stay usable, and the PEM key from the default settings too.
    assert_eq!(get_pdf(&server, "BEN1001", &new_key).status, 200);
    assert_eq!(get_pdf(&server, "BEN1001", &known).status, 200);
    assert_eq!(get_pdf(&server, "BEN1001", &Keys::rs256()).status, 200);
    assert_eq!(endpoint.requests(), 2);

    let lines = endpoint.request_lines.lock().unwrap().clone();
    assert_eq!(
        lines,
        [
            "GET /realms/divoc/certs HTTP/1.1",
            "GET /realms/divoc/certs HTTP/1.1"
        ]
    );
    let log = server.log_text();
    assert!(log.contains("JWKS refetched for an unknown key"), "{log}");
}

#[test]
fn slow_jwks_fetch_holds_up_no_other_request() {
    let ec = Keys::public_jwk("jwks-ec-private.pem", Algorithm::ES256, "jwks-ec-1");
    let endpoint = JwksServer::start_slow(
        vec![(200, jwks(std::slice::from_ref(&ec)))],
        Duration::from_secs(3),
    );
    let url = endpoint.url();
    // One worker, so that a fetch on its thread would delay every other request.
    let server = Arc::new(Server::start(&[
        ("DIVOC__AUTH__JWKS_URL", &url),
        ("DIVOC__SERVER__WORKERS", "1"),
    ]));

    // A token with an unknown kid and a made-up signature: anyone can send one.
    let token = format!(
        "{}AAAA",
        unsigned(
            r#"{"alg":"RS256","kid":"attacker-random"}"#,
            &json!({"exp": 9_999_999_999_i64}),
        )
    );
    let slow = {
        let server = Arc::clone(&server);
        std::thread::spawn(move || get_pdf(&server, "BEN1001", &token).status)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while endpoint.requests() < 2 {
        assert!(std::time::Instant::now() < deadline, "no second fetch");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The key server now delays its response by 3 s. A worker that waited
    // for it could serve the health check only after that response.
    assert_eq!(server.request("GET", "/healthz", &[]).status, 200);
    assert_eq!(
        endpoint.answered.load(Ordering::SeqCst),
        1,
        "the health check waited for the key server"
    );
    assert_eq!(slow.join().unwrap(), 401);
    assert_eq!(endpoint.answered.load(Ordering::SeqCst), 2);
}

#[test]
fn jwks_url_down_at_startup_recovers() {
    let ec = Keys::public_jwk("jwks-ec-private.pem", Algorithm::ES256, "jwks-ec-1");
    let endpoint = JwksServer::start(vec![
        (503, r#"{"error":"starting"}"#.to_owned()),
        (200, jwks(&[ec])),
    ]);
    let url = endpoint.url();
    // The PEM key from the default settings lets the server start without the JWKS.
    let server = Server::start(&[("DIVOC__AUTH__JWKS_URL", &url)]);
    assert_eq!(endpoint.requests(), 1);
    let log = server.log_text();
    assert!(log.contains("cannot load the JWKS at startup"), "{log}");
    assert_eq!(get_pdf(&server, "BEN1001", &Keys::rs256()).status, 200);

    let token = Keys::sign_with_kid(
        "jwks-ec-private.pem",
        Algorithm::ES256,
        Some("jwks-ec-1"),
        &Keys::valid_claims(),
    );
    assert_eq!(get_pdf(&server, "BEN1001", &token).status, 200);
    assert_eq!(endpoint.requests(), 2);
}
