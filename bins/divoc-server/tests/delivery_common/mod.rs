//! Helpers of the share, email and notify tests: requests with a body, tokens
//! for each kind of caller, and direct edits of the test store.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::{Connection, RunQueryDsl, SqliteConnection};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::common::{Keys, Response, Server};

/// `Authorization` value of a distribution token with subject `subject`.
pub fn distribution(subject: &str) -> String {
    let mut claims = Keys::valid_claims();
    claims["sub"] = json!(subject);
    format!(
        "Bearer {}",
        Keys::sign("test-rsa-private.pem", Algorithm::RS256, &claims)
    )
}

/// `Authorization` value of a citizen token for `mobile`.
pub fn citizen(mobile: &str) -> String {
    format!(
        "Bearer {}",
        Keys::sign(
            "test-rsa-private.pem",
            Algorithm::RS256,
            &Keys::citizen_claims(mobile)
        )
    )
}

/// `Authorization` value of a token with only the print role.
pub fn print_role() -> String {
    let mut claims = Keys::valid_claims();
    claims["realm_access"] = json!({"roles": ["facility-staff"]});
    format!(
        "Bearer {}",
        Keys::sign("test-rsa-private.pem", Algorithm::RS256, &claims)
    )
}

/// Sends a request with an optional body and reads the whole response.
pub fn send(
    server: &Server,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut bytes = Vec::new();
    if let Some((content_type, body)) = body {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
        bytes.extend_from_slice(request.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
    } else {
        request.push_str("\r\n");
        bytes.extend_from_slice(request.as_bytes());
    }
    stream.write_all(&bytes).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

/// POSTs `body` as JSON with the `Authorization` value `authorization`, if any.
pub fn post_json(
    server: &Server,
    target: &str,
    authorization: Option<&str>,
    body: &Value,
) -> Response {
    let text = body.to_string();
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| vec![("Authorization", value)])
        .unwrap_or_default();
    send(
        server,
        "POST",
        target,
        &headers,
        Some(("application/json", text.as_bytes())),
    )
}

/// GET with an `Authorization` value.
pub fn get_as(server: &Server, target: &str, authorization: &str) -> Response {
    send(
        server,
        "GET",
        target,
        &[("Authorization", authorization)],
        None,
    )
}

fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    });
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
    loop {
        let Some(end) = data.windows(2).position(|window| window == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// Runs one SQL statement on the server's SQLite store.
pub fn execute_sql(server: &Server, sql: &str) {
    let path = server.folder.path().join("divoc.sqlite");
    execute_sql_at(&path.display().to_string(), sql);
}

/// Runs one SQL statement on the SQLite store at `url` (`sqlite://PATH` or a path).
pub fn execute_sql_at(url: &str, sql: &str) {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    let mut connection = SqliteConnection::establish(path).unwrap();
    diesel::sql_query(sql).execute(&mut connection).unwrap();
}

/// Imports a registry export (JSON text) into the server's store with the
/// `import` subcommand, while the server runs.
pub fn import_text(server: &Server, text: &str) {
    let file = server.folder.path().join("extra-import.json");
    std::fs::write(&file, text).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env(
            "DIVOC__DATABASE__URL",
            format!(
                "sqlite://{}",
                server.folder.path().join("divoc.sqlite").display()
            ),
        )
        .arg("import")
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Returns the record of `certificate_id` from the sample fixtures.
pub fn sample_record(certificate_id: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/sample-records.json"
    );
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    records
        .into_iter()
        .find(|record| record["certificateId"] == certificate_id)
        .unwrap()
}

/// Moves certificate 772014589 (BEN1002, dose 3) to mobile number
/// 9222222222. BEN1002's doses 1 and 2 stay registered to 9000000001.
pub fn move_third_dose(server: &Server) {
    let mut third = sample_record("772014589");
    third["mobile"] = json!("9222222222");
    import_text(server, &format!("{third}\n"));
}

/// Returns the audit rows of a certificate, from the `audit` subcommand.
pub fn audit_rows(server: &Server, certificate_id: &str) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env(
            "DIVOC__DATABASE__URL",
            format!(
                "sqlite://{}",
                server.folder.path().join("divoc.sqlite").display()
            ),
        )
        .args(["audit", "--certificate", certificate_id])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Runs `tool args` and returns (success, stdout).
pub fn run_tool(tool: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(tool).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}
