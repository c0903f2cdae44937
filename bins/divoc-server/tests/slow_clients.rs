//! Clients that send a request body slowly, or not at all, over real HTTP on
//! loopback: each gets 408 once `server.body_timeout_seconds` has passed and
//! loses its connection, so such clients cannot hold connections (and file
//! descriptors) for ever, and a server with such connections open stops
//! promptly on SIGTERM.
//!
//! Reads wait at most 60 s, only to end a hung test; nothing here asserts
//! how long a response took.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Keys, Server};
use serde_json::{Value, json};

/// Returns the body of every 408, with the test servers' `body_timeout_seconds` of 1.
fn timeout_body() -> Value {
    json!({
        "error": "request_timeout",
        "message": "the request body did not arrive within 1 second of the headers",
    })
}

/// A form post to a share page whose body has 100 bytes.
const SLOW_FORM: &str = "POST /s/abc HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100";

/// Starts a server whose request bodies must arrive within 1 second.
fn start(extra_env: &[(&str, &str)]) -> Server {
    let mut env = vec![("DIVOC__SERVER__BODY_TIMEOUT_SECONDS", "1")];
    env.extend_from_slice(extra_env);
    Server::start(&env)
}

/// Opens a connection and sends `head` (request line and headers, without the
/// blank line) and then `body`, which may be only part of what the headers
/// announce.
fn send_partial(server: &Server, head: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .write_all(format!("{head}\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .unwrap();
    stream.write_all(body).unwrap();
    stream
}

/// Reads until the server closes the connection, and returns the status, the
/// lower-case header lines and the body. Fails when the server keeps the
/// connection open for 60 s.
fn read_until_closed(mut stream: TcpStream) -> (u16, String, Vec<u8>) {
    let mut raw = Vec::new();
    if let Err(error) = stream.read_to_end(&mut raw) {
        panic!(
            "the connection was still open after 60 s ({error}); received: {}",
            String::from_utf8_lossy(&raw)
        );
    }
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

fn assert_timed_out(stream: TcpStream, what: &str) {
    let (status, head, body) = read_until_closed(stream);
    assert_eq!(status, 408, "{what}: {head}");
    assert!(
        head.contains("content-type: application/json"),
        "{what}: {head}"
    );
    assert!(head.contains("connection: close"), "{what}: {head}");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, timeout_body(), "{what}");
}

#[test]
fn partial_body_gets_408_and_connection_closes() {
    let otp_key = common::fixture("keys/test-ed25519-private.pem");
    let server = start(&[
        ("DIVOC__OTP__ENABLED", "true"),
        ("DIVOC__OTP__SIGNING_KEY_FILE", otp_key.to_str().unwrap()),
    ]);
    let authorization = format!("Authorization: Bearer {}", Keys::rs256());
    let cases = [
        // The requests of the review that found the problem.
        (
            format!(
                "POST /certificate/api/share HTTP/1.1\r\n{authorization}\r\nContent-Length: 100"
            ),
            "share link",
        ),
        (
            "POST /certificate/api/citizen/otp HTTP/1.1\r\nContent-Length: 100".to_owned(),
            "citizen login",
        ),
        (
            "POST /s/abc HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 100"
                .to_owned(),
            "share page form",
        ),
        (
            format!(
                "POST /certificate/api/print HTTP/1.1\r\nAuthorization: Bearer {}\r\n\
                 Content-Length: 100",
                Keys::sign(
                    "test-rsa-private.pem",
                    jsonwebtoken::Algorithm::RS256,
                    &json!({"sub": "staff", "exp": chrono::Utc::now().timestamp() + 3600,
                            "realm_access": {"roles": ["facility-staff"]}}),
                )
            ),
            "bulk print",
        ),
        // A route that reads no body waits for it all the same.
        (
            "GET /healthz HTTP/1.1\r\nContent-Length: 100".to_owned(),
            "health check",
        ),
    ];
    // All at once: each connection times out on its own.
    let streams: Vec<_> = cases
        .iter()
        .map(|(head, what)| (send_partial(&server, head, b"{"), *what))
        .collect();
    for (stream, what) in streams {
        assert_timed_out(stream, what);
    }
    let log = server.wait_for_log("request rejected: the request body did not arrive in time");
    assert!(log.contains("timeout_seconds=1 received_bytes=1"), "{log}");
    assert!(log.contains("status=408"), "{log}");
    // The server still serves requests.
    assert_eq!(server.request("GET", "/healthz", &[]).status, 200);
}

#[test]
fn partial_chunked_body_gets_408_and_connection_closes() {
    // Unread chunked bodies were drained by actix-web for as long as the
    // client sent them, after the response.
    let server = start(&[]);
    for (head, what) in [
        (
            "POST /s/abc HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Transfer-Encoding: chunked",
            "share page form",
        ),
        (
            "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked",
            "health check",
        ),
    ] {
        let stream = send_partial(&server, head, b"2\r\npa\r\n");
        assert_timed_out(stream, what);
    }
}

#[test]
fn token_checked_before_body_is_read() {
    // Without a token, the share, email and SMS routes return 401 at once and
    // close the connection, without waiting for the announced body.
    let server = start(&[]);
    for path in [
        "/certificate/api/share",
        "/certificate/api/email",
        "/certificate/api/notify",
    ] {
        // More than the 1 s body timeout, so a 408 would mean that the
        // body was waited for.
        let stream = send_partial(
            &server,
            &format!("POST {path} HTTP/1.1\r\nContent-Length: 1000000"),
            b"{",
        );
        let (status, head, body) = read_until_closed(stream);
        assert_eq!(status, 401, "{path}: {head}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "unauthorized", "{path}");
    }
}

#[test]
fn complete_body_after_a_pause_is_served() {
    // A body that arrives in pieces, all of it within the timeout, is read.
    let server = Server::start(&[("DIVOC__SERVER__BODY_TIMEOUT_SECONDS", "30")]);
    let body = br#"{"certificateId": "772014589"}"#;
    let mut stream = send_partial(
        &server,
        &format!(
            "POST /certificate/api/share HTTP/1.1\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nConnection: close\r\nContent-Length: {}",
            Keys::rs256(),
            body.len()
        ),
        &body[..10],
    );
    std::thread::sleep(Duration::from_millis(500));
    stream.write_all(&body[10..]).unwrap();
    let (status, head, response) = read_until_closed(stream);
    assert_eq!(
        status,
        201,
        "{head}: {}",
        String::from_utf8_lossy(&response)
    );
}

#[test]
fn sigterm_with_slow_clients_stops_after_body_timeout() {
    // With a shutdown timeout longer than `Server::terminate` waits (30 s),
    // the server stops in time only because the slow clients get their 408.
    let mut server = start(&[("DIVOC__SERVER__SHUTDOWN_TIMEOUT_SECONDS", "120")]);
    let streams: Vec<_> = (0..3)
        .map(|_| send_partial(&server, SLOW_FORM, b"pa"))
        .collect();
    // Connections are accepted in order, so once a later request is served
    // the slow clients' connections are open.
    assert_eq!(server.request("GET", "/healthz", &[]).status, 200);
    let status = server.terminate();
    assert!(status.success(), "{status}");
    for stream in streams {
        assert_timed_out(stream, "slow client at shutdown");
    }
}

#[test]
fn connections_over_limit_wait() {
    // Two workers with one connection each. Two slow clients hold both, so a
    // third connection is served only once the server has sent one of them
    // its 408 and closed the connection.
    let server = start(&[("DIVOC__SERVER__MAX_CONNECTIONS", "2")]);
    server.wait_for_log("max_connections=2");
    let slow: Vec<_> = (0..2)
        .map(|_| send_partial(&server, SLOW_FORM, b"pa"))
        .collect();
    // Connections are accepted in order, so the slow clients have theirs.
    let third = server.request("GET", "/healthz", &[]);
    assert_eq!(third.status, 200);
    let answered = slow
        .iter()
        .filter(|stream| {
            stream.set_nonblocking(true).unwrap();
            let mut first = [0u8; 12];
            let answered =
                matches!((&**stream).read(&mut first), Ok(12) if &first == b"HTTP/1.1 408");
            stream.set_nonblocking(false).unwrap();
            answered
        })
        .count();
    assert!(
        answered >= 1,
        "the third connection was served while both slow clients held theirs"
    );
}
