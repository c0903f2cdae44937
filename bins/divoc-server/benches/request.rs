//! One whole request through the service: a release `divoc-server` process on a
//! loopback port, SQLite store with the sample fixtures, one keep-alive
//! connection, measured from the first request byte to the last response byte.

#![allow(missing_docs, reason = "criterion_group! generates undocumented items")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup: a failure ends the run"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(folder: &Path) -> (Running, u16) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let url = format!("sqlite://{}", folder.join("divoc.sqlite").display());
    let command = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_divoc-server"));
        command
            .env("RUST_LOG", "warn,divoc_server::server=info")
            .env("DIVOC__DATABASE__URL", &url)
            .env("DIVOC__SERVER__BIND", "127.0.0.1:0")
            .env(
                "DIVOC__AUTH__PUBLIC_KEY_FILE",
                fixtures.join("keys/test-rsa-public.pem"),
            );
        command
    };
    let status = command()
        .arg("import")
        .arg(fixtures.join("sample-records.json"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = command()
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(rest) = line.split("bind=127.0.0.1:").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            break digits.parse().unwrap();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Running(child), port)
}

fn token() -> String {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/test-rsa-private.pem");
    let key = EncodingKey::from_rsa_pem(&std::fs::read(fixtures).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "sub": "bench",
        "exp": now + 86_400,
        "realm_access": {"roles": ["api"]},
    });
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

/// Sends one request on a keep-alive connection and reads the whole response.
fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8], head: bool) -> (u16, usize) {
    stream.get_mut().write_all(request).unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    if !head {
        let mut body = vec![0; length];
        stream.read_exact(&mut body).unwrap();
    }
    (status, length)
}

fn bench_requests(c: &mut Criterion) {
    let folder = tempfile::tempdir().unwrap();
    let (_server, port) = start_server(folder.path());
    let token = token();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let mut stream = BufReader::new(stream);
    let request = |method: &str, route: &str| {
        format!(
            "{method} /certificate/api/{route}/BEN1001 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .into_bytes()
    };
    let pdf = request("GET", "certificatePDF");
    let qr = request("GET", "certificateQRCode");
    let head = request("HEAD", "certificatePDF");
    assert_eq!(exchange(&mut stream, &pdf, false).0, 200);

    let mut group = c.benchmark_group("http");
    group.bench_function("GET certificatePDF", |b| {
        b.iter(|| exchange(&mut stream, &pdf, false))
    });
    group.bench_function("GET certificateQRCode", |b| {
        b.iter(|| exchange(&mut stream, &qr, false))
    });
    group.bench_function("HEAD certificatePDF", |b| {
        b.iter(|| exchange(&mut stream, &head, true))
    });
    group.finish();
}

criterion_group!(benches, bench_requests);
criterion_main!(benches);
