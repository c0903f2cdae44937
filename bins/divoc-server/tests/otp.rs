//! The built-in citizen login over real HTTP, with a real SMS gateway on loopback
//! that records what the server posts to it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Response, Server};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::pkcs8::LineEnding;
use serde_json::{Value, json};

const CODE_PATH: &str = "/certificate/api/citizen/otp";
const TOKEN_PATH: &str = "/certificate/api/citizen/token";
const JWKS_PATH: &str = "/.well-known/jwks.json";
const PDF: &str = "/certificate/api/certificatePDF";

/// Registered to BEN1001, BEN1002, BEN1004 and BEN1012 in the sample fixtures.
const MOBILE: &str = "9000000001";
/// No sample certificate is registered to this number.
const UNREGISTERED: &str = "9999999999";

const INVALID_CODE: &str = "the code is wrong, expired or already used; request a new code";

// ---------------------------------------------------------------------------
// SMS gateway on loopback

/// One request received by the gateway.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("gateway body is not JSON ({error}): {}", self.body))
    }
}

/// An HTTP server on 127.0.0.1 that records each request and responds with a
/// fixed status. Its thread ends with the test process.
struct Gateway {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Gateway {
    fn start(status: u16) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let thread_received = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Some(request) = serve_one(stream, status) {
                    thread_received.lock().unwrap().push(request);
                }
            }
        });
        Gateway { port, received }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/sms", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived and returns them all.
    fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "gateway got {} requests, expected {count}",
                received.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads one request (headers and a Content-Length body) and responds to it.
fn serve_one(mut stream: TcpStream, status: u16) -> Option<Received> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;

    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    let header_end = loop {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        raw.extend_from_slice(&buffer[..read]);
        if let Some(end) = raw.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
    };

    let head = String::from_utf8_lossy(&raw[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);

    let mut body = raw[header_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&buffer[..read]);
    }

    let reason = if status < 300 { "OK" } else { "Error" };
    let response =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes());
    let mut words = request_line.split(' ');
    Some(Received {
        method: words.next().unwrap_or_default().to_owned(),
        path: words.next().unwrap_or_default().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

// ---------------------------------------------------------------------------
// Server, keys and requests

/// A signing key in its own folder, which must outlive the server.
struct KeyFile {
    _folder: tempfile::TempDir,
    path: PathBuf,
}

impl KeyFile {
    fn ed25519() -> KeyFile {
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        KeyFile::write(key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes())
    }

    fn p256() -> KeyFile {
        let key = p256::SecretKey::random(&mut rand_core::OsRng);
        let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, LineEnding::LF).unwrap();
        KeyFile::write(pem.as_bytes())
    }

    fn write(pem: &[u8]) -> KeyFile {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("otp-key.pem");
        std::fs::write(&path, pem).unwrap();
        KeyFile {
            _folder: folder,
            path,
        }
    }

    fn path(&self) -> String {
        self.path.display().to_string()
    }
}

/// Starts a server with the citizen login on, the gateway at `gateway` (or the
/// development log when `None`) and `extra_env`.
fn start_login(key: &KeyFile, gateway: Option<&Gateway>, extra_env: &[(&str, &str)]) -> Server {
    let key_path = key.path();
    let url = gateway.map(Gateway::url);
    let mut env = vec![
        ("DIVOC__OTP__ENABLED", "true"),
        ("DIVOC__OTP__SIGNING_KEY_FILE", key_path.as_str()),
    ];
    if let Some(url) = &url {
        env.push(("DIVOC__SMS__URL", url.as_str()));
    }
    env.extend_from_slice(extra_env);
    Server::start(&env)
}

/// Sends a request with a body and reads the whole response.
fn send(server: &Server, method: &str, path: &str, content_type: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may respond and close before reading a rejected body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    });
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|window| window == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
    out
}

fn post_json(server: &Server, path: &str, body: &Value) -> Response {
    send(
        server,
        "POST",
        path,
        "application/json",
        body.to_string().as_bytes(),
    )
}

fn request_code(server: &Server, mobile: &str) -> Response {
    post_json(server, CODE_PATH, &json!({"mobile": mobile}))
}

fn exchange(server: &Server, mobile: &str, code: &str) -> Response {
    post_json(server, TOKEN_PATH, &json!({"mobile": mobile, "otp": code}))
}

/// Returns the first run of exactly six digits in a message.
fn code_in(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index].is_ascii_digit() {
            let end = bytes[index..]
                .iter()
                .position(|byte| !byte.is_ascii_digit())
                .map_or(bytes.len(), |length| index + length);
            if end - index == 6 {
                return text[index..end].to_owned();
            }
            index = end;
        } else {
            index += 1;
        }
    }
    panic!("no 6-digit code in {text:?}");
}

/// Returns whether `needle` occurs in `log` as a number of its own: not inside a longer
/// run of digits and not as the fraction of a timestamp.
fn log_has_number(log: &str, needle: &str) -> bool {
    let bytes = log.as_bytes();
    log.match_indices(needle).any(|(start, _)| {
        let end = start + needle.len();
        let before = start.checked_sub(1).map(|index| bytes[index]);
        let after = bytes.get(end).copied();
        let digit_before = before.is_some_and(|byte| byte.is_ascii_digit() || byte == b'.');
        let digit_after = after.is_some_and(|byte| byte.is_ascii_digit());
        !digit_before && !digit_after
    })
}

/// Requests a code for `mobile` and reads it off the gateway's `index`-th request.
fn code_from_gateway(server: &Server, gateway: &Gateway, mobile: &str, index: usize) -> String {
    let response = request_code(server, mobile);
    assert_eq!(response.status, 202, "{:?}", response.json());
    let received = gateway.wait_for(index + 1);
    let body = received[index].json();
    assert_eq!(body["to"], mobile);
    code_in(body["message"].as_str().unwrap())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn assert_invalid_code(response: &Response, case: &str) {
    assert_eq!(response.status, 401, "{case}");
    assert_eq!(
        response.json(),
        json!({"error": "invalid_code", "message": INVALID_CODE}),
        "{case}"
    );
    assert_eq!(response.header("cache-control"), Some("no-store"), "{case}");
}

// ---------------------------------------------------------------------------
// Cases

#[test]
fn full_login_reaches_own_certificates() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    let response = request_code(&server, MOBILE);
    assert_eq!(response.status, 202);
    assert_eq!(
        response.json(),
        json!({"status": "sent", "expiresInSeconds": 300})
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));

    let received = gateway.wait_for(1);
    let sms = &received[0];
    assert_eq!(sms.method, "POST");
    assert_eq!(sms.path, "/sms");
    assert_eq!(sms.header("content-type"), Some("application/json"));
    let body = sms.json();
    assert_eq!(body["to"], MOBILE);
    let message = body["message"].as_str().unwrap();
    let code = code_in(message);
    assert_eq!(
        message,
        format!("Your vaccination certificate login code is {code}. It expires in 5 minutes.")
    );

    let response = exchange(&server, MOBILE, &code);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    let token = body["token"].as_str().unwrap().to_owned();

    let claims = claims_of(&token);
    assert_eq!(claims["preferred_username"], MOBILE);
    assert_eq!(claims["iss"], "divoc-server");
    let subject = claims["sub"].as_str().unwrap();
    assert!(subject.starts_with("citizen:"), "{subject}");
    assert!(!subject.contains(MOBILE), "{subject}");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims.get("realm_access"), None);
    assert_eq!(claims.get("resource_access"), None);

    let authorization = format!("Bearer {token}");
    let own = server.request(
        "GET",
        &format!("{PDF}/BEN1001"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(own.status, 200);
    assert!(own.body.starts_with(b"%PDF-"));
    let other = server.request(
        "GET",
        &format!("{PDF}/BEN1003"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(other.status, 404);

    let log = server.log_text();
    assert!(log.contains("citizen login enabled"), "{log}");
    assert!(
        !log.contains(MOBILE),
        "the log holds the mobile number:\n{log}"
    );
    assert!(
        !log_has_number(&log, &code),
        "the log holds the code:\n{log}"
    );
    assert!(!log.contains(&token), "the log holds the token:\n{log}");
}

#[test]
fn jwks_key_verifies_issued_token() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    let response = server.request("GET", JWKS_PATH, &[]);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=300")
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    let document = response.json();
    let keys = document["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let jwk = &keys[0];
    let mut names: Vec<&str> = jwk
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x"]);
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    // The default kid is the RFC 7638 thumbprint: 32 bytes, base64url.
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(jwk["kid"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    let code = code_from_gateway(&server, &gateway, MOBILE, 0);
    let response = exchange(&server, MOBILE, &code);
    assert_eq!(response.status, 200);
    let token = response.json()["token"].as_str().unwrap().to_owned();

    let header = header_of(&token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], jwk["kid"]);

    let parsed: Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let decoding_key = DecodingKey::from_jwk(&parsed).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["divoc-server"]);
    let verified = jsonwebtoken::decode::<Value>(&token, &decoding_key, &validation).unwrap();
    assert_eq!(verified.claims["preferred_username"], MOBILE);

    // Another key does not verify it.
    let other_key = KeyFile::ed25519();
    let other = start_login(&other_key, Some(&gateway), &[]);
    let other_jwk: Jwk =
        serde_json::from_value(other.request("GET", JWKS_PATH, &[]).json()["keys"][0].clone())
            .unwrap();
    let other_decoding_key = DecodingKey::from_jwk(&other_jwk).unwrap();
    assert!(jsonwebtoken::decode::<Value>(&token, &other_decoding_key, &validation).is_err());
}

#[test]
fn p256_key_signs_es256_tokens() {
    let gateway = Gateway::start(200);
    let key = KeyFile::p256();
    let server = start_login(
        &key,
        Some(&gateway),
        &[("DIVOC__OTP__KEY_ID", "citizen-p256")],
    );

    let jwk = server.request("GET", JWKS_PATH, &[]).json()["keys"][0].clone();
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(jwk["alg"], "ES256");
    assert_eq!(jwk["kid"], "citizen-p256");

    let code = code_from_gateway(&server, &gateway, MOBILE, 0);
    let response = exchange(&server, MOBILE, &code);
    assert_eq!(response.status, 200);
    let token = response.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(header_of(&token)["alg"], "ES256");
    assert_eq!(header_of(&token)["kid"], "citizen-p256");

    let parsed: Jwk = serde_json::from_value(jwk).unwrap();
    let decoding_key = DecodingKey::from_jwk(&parsed).unwrap();
    let validation = Validation::new(Algorithm::ES256);
    assert!(jsonwebtoken::decode::<Value>(&token, &decoding_key, &validation).is_ok());

    let authorization = format!("Bearer {token}");
    let own = server.request(
        "GET",
        &format!("{PDF}/BEN1002"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(own.status, 200);
}

#[test]
fn unregistered_mobile_gets_same_answer() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    let unregistered = request_code(&server, UNREGISTERED);
    let registered = request_code(&server, MOBILE);
    assert_eq!(unregistered.status, 202);
    assert_eq!(registered.status, 202);
    assert_eq!(unregistered.body, registered.body);
    assert_eq!(
        unregistered.header("content-type"),
        registered.header("content-type")
    );
    assert_eq!(
        unregistered.header("cache-control"),
        registered.header("cache-control")
    );

    // The worker has handled both jobs once the registered number's SMS is in;
    // the pause covers a second worker that took the first job.
    gateway.wait_for(1);
    std::thread::sleep(Duration::from_millis(500));
    let received = gateway.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].json()["to"], MOBILE);

    // The stored challenge of the unregistered number accepts no guess either.
    let response = exchange(&server, UNREGISTERED, "000000");
    assert_invalid_code(&response, "unregistered number");
    let log = server.log_text();
    assert!(!log.contains(UNREGISTERED), "{log}");
}

#[test]
fn five_wrong_codes_void_the_code() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    let code = code_from_gateway(&server, &gateway, MOBILE, 0);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for attempt in 1..=5 {
        let response = exchange(&server, MOBILE, &wrong);
        assert_invalid_code(&response, &format!("wrong code, attempt {attempt}"));
    }
    let response = exchange(&server, MOBILE, &code);
    assert_invalid_code(&response, "right code after five wrong ones");

    // A new code works again.
    let code = code_from_gateway(&server, &gateway, MOBILE, 1);
    assert_eq!(exchange(&server, MOBILE, &code).status, 200);
}

#[test]
fn used_code_is_rejected() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    let code = code_from_gateway(&server, &gateway, MOBILE, 0);
    assert_eq!(exchange(&server, MOBILE, &code).status, 200);
    assert_invalid_code(&exchange(&server, MOBILE, &code), "second use");

    // A code is bound to its number.
    let code = code_from_gateway(&server, &gateway, MOBILE, 1);
    assert_invalid_code(&exchange(&server, "9000000003", &code), "other number");
    assert_eq!(exchange(&server, MOBILE, &code).status, 200);
}

#[test]
fn newer_code_replaces_older() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    let first = code_from_gateway(&server, &gateway, MOBILE, 0);
    let second = code_from_gateway(&server, &gateway, MOBILE, 1);
    if first != second {
        assert_invalid_code(&exchange(&server, MOBILE, &first), "replaced code");
    }
    assert_eq!(exchange(&server, MOBILE, &second).status, 200);
}

#[test]
fn expired_code_is_rejected() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(
        &key,
        Some(&gateway),
        &[("DIVOC__OTP__CODE_TTL_SECONDS", "1")],
    );

    let response = request_code(&server, MOBILE);
    assert_eq!(
        response.json(),
        json!({"status": "sent", "expiresInSeconds": 1})
    );
    let received = gateway.wait_for(1);
    let message = received[0].json()["message"].as_str().unwrap().to_owned();
    assert!(message.ends_with("It expires in 1 minutes."), "{message}");
    let code = code_in(&message);
    std::thread::sleep(Duration::from_secs(2));
    assert_invalid_code(&exchange(&server, MOBILE, &code), "expired code");
}

#[test]
fn code_requests_limited_per_mobile() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    for request in 1..=3 {
        assert_eq!(
            request_code(&server, MOBILE).status,
            202,
            "request {request}"
        );
    }
    let limited = request_code(&server, MOBILE);
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((890..=900).contains(&retry_after), "{retry_after}");
    let body = limited.json();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["retryAfterSeconds"], retry_after);
    assert_eq!(
        body["message"],
        format!("too many code requests for this mobile number; retry after {retry_after} seconds")
    );

    // The limit is per number, and numbers without certificates count the same.
    assert_eq!(request_code(&server, "9000000003").status, 202);
    for _ in 1..=3 {
        assert_eq!(request_code(&server, UNREGISTERED).status, 202);
    }
    assert_eq!(request_code(&server, UNREGISTERED).status, 429);

    // The three codes for MOBILE were sent; the rejected request sent nothing.
    std::thread::sleep(Duration::from_millis(500));
    let to_mobile = gateway
        .received()
        .iter()
        .filter(|request| request.json()["to"] == MOBILE)
        .count();
    assert_eq!(to_mobile, 3);
}

#[test]
fn code_requests_limited_per_address() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(
        &key,
        Some(&gateway),
        &[
            ("DIVOC__OTP__MAX_REQUESTS_PER_IP", "4"),
            ("DIVOC__OTP__RATE_WINDOW_SECONDS", "60"),
        ],
    );

    for index in 1..=4 {
        let mobile = format!("900000010{index}");
        assert_eq!(request_code(&server, &mobile).status, 202, "{mobile}");
    }
    let limited = request_code(&server, "9000000109");
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((50..=60).contains(&retry_after), "{retry_after}");
    let body = limited.json();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(
        body["message"],
        format!("too many code requests from this address; retry after {retry_after} seconds")
    );
}

#[test]
fn malformed_bodies_are_rejected() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    let cases: [(&str, &str, &str, Option<&str>); 13] = [
        (
            CODE_PATH,
            "not json",
            "the body is not JSON: expected ident at line 1 column 2",
            None,
        ),
        (
            CODE_PATH,
            "[\"9000000001\"]",
            "expected a JSON object",
            None,
        ),
        (
            CODE_PATH,
            "{}",
            "missing field \"mobile\": expected a string of 10 to 15 digits",
            None,
        ),
        (
            CODE_PATH,
            "{\"mobile\": 9000000001}",
            "invalid mobile: expected a string of 10 to 15 digits",
            Some("9000000001"),
        ),
        (
            CODE_PATH,
            "{\"mobile\": \"12345\"}",
            "invalid mobile number: expected 10 to 15 digits after an optional '+'",
            Some("12345"),
        ),
        (
            CODE_PATH,
            "{\"mobile\": \"90000-00001\"}",
            "invalid mobile number: expected 10 to 15 digits after an optional '+'",
            Some("90000-00001"),
        ),
        (
            CODE_PATH,
            "{\"mobile\": \"1234567890123456\"}",
            "invalid mobile number: expected 10 to 15 digits after an optional '+'",
            Some("1234567890123456"),
        ),
        (
            TOKEN_PATH,
            "{\"mobile\": \"9000000001\"}",
            "missing field \"otp\": expected a string of 6 digits",
            None,
        ),
        (
            TOKEN_PATH,
            "{\"mobile\": \"9000000001\", \"otp\": \"12345\"}",
            "invalid otp: expected a string of 6 digits",
            Some("12345"),
        ),
        (
            TOKEN_PATH,
            "{\"mobile\": \"9000000001\", \"otp\": 123456}",
            "invalid otp: expected a string of 6 digits",
            Some("123456"),
        ),
        (
            TOKEN_PATH,
            "{\"mobile\": \"abc\", \"otp\": \"123456\"}",
            "invalid mobile number: expected 10 to 15 digits after an optional '+'",
            Some("abc"),
        ),
        (
            TOKEN_PATH,
            "",
            "the body is not JSON: EOF while parsing a value at line 1 column 0",
            None,
        ),
        (
            CODE_PATH,
            "{\"mobile\": \"9000000001\", \"mobile\": \"9000000002\"}",
            "the key \"mobile\" is given twice",
            None,
        ),
    ];
    for (path, body, message, value) in cases {
        let response = send(&server, "POST", path, "application/json", body.as_bytes());
        assert_eq!(response.status, 400, "{path} {body}");
        let mut expected = json!({"error": "invalid_request", "message": message});
        if let Some(value) = value {
            expected["value"] = json!(value);
        }
        assert_eq!(response.json(), expected, "{path} {body}");
    }

    // The Content-Type is not checked: curl -d sends form encoding.
    let response = send(
        &server,
        "POST",
        CODE_PATH,
        "application/x-www-form-urlencoded",
        br#"{"mobile": "9000000001"}"#,
    );
    assert_eq!(response.status, 202);

    let large = format!(
        r#"{{"mobile": "9000000001", "pad": "{}"}}"#,
        "x".repeat(5000)
    );
    let response = send(
        &server,
        "POST",
        CODE_PATH,
        "application/json",
        large.as_bytes(),
    );
    assert_eq!(response.status, 413);
    assert_eq!(
        response.json(),
        json!({
            "error": "payload_too_large",
            "message": "the request body is larger than 4096 bytes",
        })
    );

    let response = server.request("GET", CODE_PATH, &[]);
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("POST"));
    assert_eq!(response.json()["error"], "method_not_allowed");
    let response = send(&server, "POST", JWKS_PATH, "application/json", b"{}");
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));

    // Only the one well-formed request reached the gateway.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(gateway.wait_for(1).len(), 1);
}

#[test]
fn login_routes_share_405_body() {
    // The login routes respond to another method with the same 405 body and
    // headers as every other route.
    let key = KeyFile::ed25519();
    let server = start_login(&key, None, &[]);
    let cases = [
        ("GET", CODE_PATH, "POST"),
        ("PUT", CODE_PATH, "POST"),
        ("GET", TOKEN_PATH, "POST"),
        ("DELETE", TOKEN_PATH, "POST"),
        ("POST", JWKS_PATH, "GET, HEAD"),
        ("PUT", JWKS_PATH, "GET, HEAD"),
        ("POST", "/certificate/api/citizen/certificates", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let response = send(&server, method, path, "application/json", b"{}");
        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(
            response.header("cache-control"),
            Some("no-store"),
            "{method} {path}"
        );
        let expected = json!({
            "error": "method_not_allowed",
            "message": format!("method {method} is not allowed on this route; use {allow}"),
        });
        assert_eq!(response.json(), expected, "{method} {path}");
    }
}

#[test]
fn rejected_body_keys_stay_out_of_log() {
    let key = KeyFile::ed25519();
    let server = start_login(&key, None, &[]);

    // A client that sends the number as a key, twice, gets 400 naming the key.
    // The log line of that rejection must not name it.
    let body = br#"{"9000000002": "x", "9000000002": "y"}"#;
    for path in [CODE_PATH, TOKEN_PATH] {
        let response = send(&server, "POST", path, "application/json", body);
        assert_eq!(response.status, 400, "{path}");
        assert_eq!(
            response.json()["message"],
            "the key \"9000000002\" is given twice",
            "{path}"
        );
    }
    let log = server.wait_for_log("citizen login request rejected: invalid request");
    assert!(!log_has_number(&log, "9000000002"), "{log}");
}

#[test]
fn failing_gateway_is_retried() {
    let gateway = Gateway::start(500);
    let key = KeyFile::ed25519();
    let server = start_login(
        &key,
        Some(&gateway),
        &[("DIVOC__SMS__HEADERS__AUTHKEY", "gateway-secret")],
    );

    let response = request_code(&server, MOBILE);
    assert_eq!(response.status, 202);
    assert_eq!(
        response.json(),
        json!({"status": "sent", "expiresInSeconds": 300})
    );

    // One attempt and sms.retries (2) more, all with the same body and headers.
    let received = gateway.wait_for(3);
    std::thread::sleep(Duration::from_millis(1500));
    let received_after = gateway.received();
    assert_eq!(received_after.len(), 3, "{received_after:?}");
    for request in &received {
        assert_eq!(request.body, received[0].body);
        assert_eq!(request.header("authkey"), Some("gateway-secret"));
    }

    let log = server.wait_for_log("code not delivered");
    assert_eq!(
        log.matches("SMS gateway attempt failed").count(),
        3,
        "{log}"
    );
    assert!(log.contains("HTTP status 500"), "{log}");
    assert!(!log.contains(MOBILE), "{log}");
    let code = code_in(received[0].json()["message"].as_str().unwrap());
    assert!(!log_has_number(&log, &code), "{log}");
    assert!(!log.contains("gateway-secret"), "{log}");

    // The code was stored before sending, so it still works.
    assert_eq!(exchange(&server, MOBILE, &code).status, 200);
}

#[test]
fn rejecting_gateway_is_not_retried() {
    let gateway = Gateway::start(400);
    let key = KeyFile::ed25519();
    let server = start_login(&key, Some(&gateway), &[]);

    assert_eq!(request_code(&server, MOBILE).status, 202);
    gateway.wait_for(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_text().contains("code not delivered") {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(gateway.received().len(), 1);
    let log = server.log_text();
    assert!(
        log.contains("SMS gateway rejected a code message; not retrying"),
        "{log}"
    );
    assert!(log.contains("status=400"), "{log}");
}

#[test]
fn development_sender_logs_code() {
    let key = KeyFile::ed25519();
    let server = start_login(&key, None, &[]);
    let log = server.log_text();
    assert!(
        log.contains("sms.url is not set: one-time passwords are written to this log"),
        "{log}"
    );
    assert!(log.contains("This is for development only"), "{log}");

    let response = request_code(&server, MOBILE);
    assert_eq!(response.status, 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let log = server.log_text();
        if let Some(line) = log
            .lines()
            .find(|line| line.contains("development SMS, not sent"))
        {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!line.contains(MOBILE), "{line}");
    let message = line
        .split("development SMS, not sent: ")
        .nth(1)
        .unwrap()
        .to_owned();
    let code = code_in(&message);
    assert!(message.starts_with(&format!(
        "Your vaccination certificate login code is {code}."
    )));

    let response = exchange(&server, MOBILE, &code);
    assert_eq!(response.status, 200);
}

#[test]
fn disabled_login_has_no_routes() {
    let server = Server::start(&[]);
    assert_eq!(request_code(&server, MOBILE).status, 404);
    assert_eq!(server.request("GET", JWKS_PATH, &[]).status, 404);
}

#[test]
fn purge_keeps_delivery_limits() {
    let gateway = Gateway::start(200);
    let key = KeyFile::ed25519();
    // The login's windows end after a second; the share limit's after an hour.
    let server = start_login(
        &key,
        Some(&gateway),
        &[
            ("DIVOC__OTP__RATE_WINDOW_SECONDS", "1"),
            ("DIVOC__SHARE__MAX_PER_MOBILE", "1"),
        ],
    );
    let citizen = format!(
        "Bearer {}",
        common::Keys::sign(
            "test-rsa-private.pem",
            Algorithm::RS256,
            &common::Keys::citizen_claims(MOBILE)
        )
    );
    let body = br#"{"certificateId": "772014589"}"#;
    let length = body.len().to_string();
    let share = || {
        server.request_with_body(
            "POST",
            "/certificate/api/share",
            &[
                ("Authorization", citizen.as_str()),
                ("Content-Type", "application/json"),
                ("Content-Length", length.as_str()),
            ],
            body,
        )
    };
    assert_eq!(share().status, 201);
    assert_eq!(share().status, 429);

    // A code request makes the SMS worker purge the login state once the
    // request is handled, two seconds after the share bucket started.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(request_code(&server, MOBILE).status, 202);
    gateway.wait_for(1);
    std::thread::sleep(Duration::from_millis(500));

    let limited = share();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"], "rate_limited");
}
