//! A real `divoc-server` process on a loopback port, and a small HTTP/1.1 client
//! that sends paths exactly as written (no normalisation of `..` or `%`).

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Folder of the workspace, for fixtures.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of a file under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    workspace().join("fixtures").join(name)
}

/// Whether tests that need outside tools must fail rather than skip.
pub fn tools_required() -> bool {
    std::env::var("DIVOC_REQUIRE_TOOLS").is_ok_and(|value| value == "1")
}

/// Returns true when `tool` runs; otherwise skips (prints why) or fails when tools are required.
pub fn have_tool(tool: &str, package: &str) -> bool {
    let found = Command::new(tool)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            !tools_required(),
            "{tool} is missing: apt-get install -y {package}"
        );
        eprintln!("skipped: {tool} is not installed (apt-get install -y {package})");
    }
    found
}

/// A response as read off the socket.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A running server. Killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: Arc<Mutex<String>>,
    pub folder: tempfile::TempDir,
}

/// Keys and tokens for tests.
pub struct Keys;

impl Keys {
    pub fn rsa_public() -> PathBuf {
        fixture("keys/test-rsa-public.pem")
    }

    pub fn ec_public() -> PathBuf {
        fixture("keys/test-ec-public.pem")
    }

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(fixture(&format!("keys/{name}"))).unwrap()
    }

    /// A token signed with `alg` by the key in `private_file`, with the given claims.
    pub fn sign(private_file: &str, alg: Algorithm, claims: &Value) -> String {
        let pem = Keys::read(private_file);
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
            _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
        };
        jsonwebtoken::encode(&Header::new(alg), claims, &key).unwrap()
    }

    /// Claims valid for an hour, with the distribution role `api`.
    pub fn valid_claims() -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "sub": "partner-1",
            "iat": now,
            "exp": now + 3600,
            "realm_access": {"roles": ["offline_access", "api"]},
        })
    }

    /// Claims of a citizen token (no role) for `mobile`, valid for an hour.
    pub fn citizen_claims(mobile: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"sub": format!("citizen-{mobile}"), "preferred_username": mobile, "iat": now, "exp": now + 3600})
    }

    /// A valid RS256 token for the RSA test key.
    pub fn rs256() -> String {
        Keys::sign(
            "test-rsa-private.pem",
            Algorithm::RS256,
            &Keys::valid_claims(),
        )
    }
}

impl Server {
    /// Imports `fixtures/sample-records.json` into a fresh SQLite store and starts
    /// the server on it with the RSA test key and `extra_env`.
    pub fn start(extra_env: &[(&str, &str)]) -> Server {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
        Server::import_samples(&url);
        Server::start_on(folder, &url, extra_env)
    }

    /// Starts the server on an existing store.
    pub fn start_on(folder: tempfile::TempDir, url: &str, extra_env: &[(&str, &str)]) -> Server {
        let mut child = Server::command(url, extra_env)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (port_sender, port_receiver) = std::sync::mpsc::channel();
        let log_writer = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut port_sender = Some(port_sender);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.split("bind=127.0.0.1:").nth(1) {
                    let digits: String = port.chars().take_while(char::is_ascii_digit).collect();
                    if let (Some(sender), Ok(port)) = (port_sender.take(), digits.parse::<u16>()) {
                        let _ = sender.send(port);
                    }
                }
                let mut log = log_writer.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let port = match port_receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; log:\n{}", log.lock().unwrap());
            }
        };
        Server {
            child,
            port,
            log,
            folder,
        }
    }

    /// Returns a `divoc-server` command with a clean environment, the store at
    /// `url` and `extra_env`, to which the caller adds a subcommand.
    pub fn command(url: &str, extra_env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_divoc-server"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("DIVOC__DATABASE__URL", url)
            .env("DIVOC__SERVER__BIND", "127.0.0.1:0")
            .env("DIVOC__SERVER__WORKERS", "2")
            .env("DIVOC__AUTH__PUBLIC_KEY_FILE", Keys::rsa_public());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        command
    }

    /// Sends one request; `target` goes on the request line exactly as given.
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        self.request_with_body(method, target, headers, &[])
    }

    /// Sends one request with a body; `headers` must include its
    /// `Content-Length` when the body is not empty.
    pub fn request_with_body(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut request =
            format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        // The server may respond and close before it reads a large body.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse_response(&raw, method == "HEAD")
    }

    /// GET with a valid RS256 token.
    pub fn get(&self, target: &str) -> Response {
        let authorization = format!("Bearer {}", Keys::rs256());
        self.request("GET", target, &[("Authorization", &authorization)])
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to 10 s until the log contains `text`, and returns the log.
    /// A line can arrive after the response that it belongs to.
    pub fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log_text();
            if log.contains(text) {
                return log;
            }
            assert!(Instant::now() < deadline, "no {text:?} in the log:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_response(raw: &[u8], head: bool) -> Response {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("no header end");
    let head_text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    });
    if chunked && !head {
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
        let line_end = data
            .windows(2)
            .position(|window| window == b"\r\n")
            .unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Decodes the QR code in a PNG with the rqrr decoder and returns the raw bytes of its data.
pub fn decode_qr_png(png_bytes: &[u8]) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let luma = to_luma(&pixels[..info.buffer_size()], &info, width, height);
    decode_qr_luma(&luma, width, height)
}

/// Decodes the QR code in 8-bit gray pixels.
pub fn decode_qr_luma(luma: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| luma[y * width + x]);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "expected one QR code in the image");
    let mut data = Vec::new();
    grids[0].decode_to(&mut data).unwrap();
    data
}

fn to_luma(pixels: &[u8], info: &png::OutputInfo, width: usize, height: usize) -> Vec<u8> {
    use png::{BitDepth, ColorType};
    match (info.color_type, info.bit_depth) {
        (ColorType::Grayscale, BitDepth::Eight) => pixels.to_vec(),
        (ColorType::Grayscale, BitDepth::One) => {
            let row_bytes = width.div_ceil(8);
            let mut luma = Vec::with_capacity(width * height);
            for y in 0..height {
                for x in 0..width {
                    let byte = pixels[y * row_bytes + x / 8];
                    let dark = byte & (0x80 >> (x % 8)) == 0;
                    luma.push(if dark { 0 } else { 255 });
                }
            }
            luma
        }
        (ColorType::Rgb, BitDepth::Eight) => pixels.chunks(3).map(|p| p[1]).collect(),
        (ColorType::Rgba, BitDepth::Eight) => pixels.chunks(4).map(|p| p[1]).collect(),
        other => panic!("unsupported PNG layout {other:?}"),
    }
}

/// The stored `certificate` text of a certificate in the sample fixtures.
pub fn sample_certificate(certificate_id: &str) -> String {
    let text = std::fs::read_to_string(fixture("sample-records.json")).unwrap();
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    records
        .iter()
        .find(|record| {
            record["certificateId"] == certificate_id && record.get("certificate").is_some()
        })
        .and_then(|record| record["certificate"].as_str())
        .unwrap()
        .to_owned()
}

impl Server {
    /// Imports the sample records into the store at `url` without serving.
    pub fn import_samples(url: &str) {
        let status = Server::command(url, &[])
            .arg("import")
            .arg(fixture("sample-records.json"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "import failed: {status}");
    }
}

impl Keys {
    /// Signs a token with `alg` and the key in `private_file` (RSA, EC or
    /// Ed25519 PEM), with `kid` in the header when given.
    pub fn sign_with_kid(
        private_file: &str,
        alg: Algorithm,
        kid: Option<&str>,
        claims: &Value,
    ) -> String {
        let pem = Keys::read(private_file);
        let key = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem).unwrap(),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).unwrap(),
            _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
        };
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// Returns the public JWK of the key in `private_file`, for `alg`, with `kid`.
    pub fn public_jwk(private_file: &str, alg: Algorithm, kid: &str) -> Value {
        let pem = Keys::read(private_file);
        let key = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem).unwrap(),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).unwrap(),
            _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
        };
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap();
        let mut jwk = serde_json::to_value(jwk).unwrap();
        jwk["kid"] = json!(kid);
        jwk
    }
}
