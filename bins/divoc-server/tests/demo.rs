//! The README's first command: `divoc-server demo` in a folder without `data/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn demo_starts_in_empty_folder() {
    let folder = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .arg("demo")
        .current_dir(folder.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DIVOC__SERVER__BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = String::new();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let port = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut stdout)
                .unwrap();
            panic!("demo exited before listening; stdout:\n{stdout}");
        }
        if let Some(rest) = line.split("bind=127.0.0.1:").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            break digits.parse::<u16>().unwrap();
        }
    };
    std::thread::spawn(move || for _ in stderr.lines() {});
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    // Every line printed up to the print token, to find the request's URL.
    let mut printed = Vec::new();
    let token = loop {
        let mut line = String::new();
        assert_ne!(reader.read_line(&mut line).unwrap(), 0, "no token printed");
        printed.push(line.clone());
        if let Some(rest) = line.split("Authorization: Bearer ").nth(1) {
            break rest
                .trim_end()
                .trim_end_matches(['\'', ' ', '\\'])
                .to_owned();
        }
    };
    let print_token = loop {
        let mut line = String::new();
        assert_ne!(
            reader.read_line(&mut line).unwrap(),
            0,
            "no print token printed"
        );
        printed.push(line.clone());
        if let Some(rest) = line.split("export PRINT_TOKEN=").nth(1) {
            break rest.trim_end().to_owned();
        }
    };
    // The commands name the port the server got, not the 0 of the bind address.
    let url = format!("  http://127.0.0.1:{port}/certificate/api/certificatePDF/BEN1001\n");
    assert!(printed.contains(&url), "{url:?} not in {printed:?}");
    let portal = loop {
        let mut line = String::new();
        assert_ne!(
            reader.read_line(&mut line).unwrap(),
            0,
            "no portal address printed"
        );
        if line.starts_with("Citizen portal: ") {
            break line;
        }
    };
    assert_eq!(
        portal,
        format!(
            "Citizen portal: http://127.0.0.1:{port}/portal/ \
             (start with DIVOC__OTP__ENABLED=true to sign in)\n"
        )
    );
    assert!(folder.path().join("data/divoc.sqlite").is_file());
    assert!(folder.path().join("data/dev-signing-key.pem").is_file());

    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /certificate/api/certificatePDF/BEN1001 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let head = String::from_utf8_lossy(&response[..response.len().min(600)]).into_owned();

    let body = r#"{"beneficiaryIds":["BEN1001"]}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /certificate/api/print HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {print_token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut print_response = Vec::new();
    stream.read_to_end(&mut print_response).unwrap();
    let print_head =
        String::from_utf8_lossy(&print_response[..print_response.len().min(600)]).into_owned();
    let _ = child.kill();
    let _ = child.wait();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(print_head.starts_with("HTTP/1.1 200 OK"), "{print_head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/pdf"),
        "{head}"
    );
}

#[test]
fn demo_rejects_in_memory_store() {
    let folder = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .arg("demo")
        .current_dir(folder.path())
        .env_clear()
        .env("DIVOC__DATABASE__URL", "sqlite://:memory:")
        .env("DIVOC__SERVER__BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "demo needs a database file or PostgreSQL: it loads the samples, then serves them \
             from a new store, and an in-memory database (sqlite://:memory:) would be empty by then"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
