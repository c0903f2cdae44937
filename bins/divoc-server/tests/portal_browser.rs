//! The citizen portal in a real headless Chromium, driven through chromedriver's
//! WebDriver protocol. It signs in with a code sent to a loopback SMS gateway,
//! lists the certificates and fetches the PDF and the QR code. Then it switches
//! the certificate language to Hindi, sends a certificate by email to a loopback
//! SMTP server, and creates and opens a share link.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test is
//! skipped, unless `DIVOC_REQUIRE_TOOLS=1`, which makes it fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;
mod smtp_common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Keys, Server, have_tool, tools_required};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::Digest;
use smtp_common::{attachment_of, smtp_env, start_smtp};

/// Registered to BEN1001, BEN1002, BEN1004 and BEN1012 in the sample fixtures.
const MOBILE: &str = "9000000001";
/// Key of a web element reference in WebDriver responses, fixed by the W3C WebDriver standard.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a step may take before the test fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// `beneficiary_heading` of `crates/divoc-pdf/labels/hi.toml` beside its English text.
const HINDI_HEADING: &str = "लाभार्थी का विवरण / Beneficiary Details";

// ---------------------------------------------------------------------------
// Loopback SMS gateway

/// Accepts requests on 127.0.0.1, responds with 200 and keeps each body.
struct SmsGateway {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl SmsGateway {
    fn start() -> SmsGateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(body) = read_body(stream) {
                    received.lock().unwrap().push(body);
                }
            }
        });
        SmsGateway { port, bodies }
    }

    /// Waits for the first message and returns the 6-digit code in it.
    fn wait_for_code(&self) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(body) = self.bodies.lock().unwrap().first() {
                let digits: Vec<&str> = body
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|run| run.len() == 6)
                    .collect();
                assert_eq!(digits.len(), 1, "expected one 6-digit code in {body}");
                return digits[0].to_owned();
            }
            assert!(Instant::now() < deadline, "no SMS reached the gateway");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Reads one request, responds with 200 and returns the body.
fn read_body(mut stream: TcpStream) -> Option<String> {
    let (_, _, body) = read_request(&mut stream)?;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Some(body)
}

// ---------------------------------------------------------------------------
// Keycloak stand-in on loopback

/// Realm that the stand-in serves.
const REALM: &str = "citizens";
/// Client id that the portal must send.
const CLIENT_ID: &str = "certificate-portal";
/// The one authorization code that the stand-in issues.
const CODE: &str = "code-4711";

/// What the stand-in saw of one sign-in.
#[derive(Debug, Default, Clone)]
struct KeycloakLog {
    /// Query parameters of the authorization request.
    authorization: Vec<(String, String)>,
    /// Form fields of the token request.
    token_form: Vec<(String, String)>,
    /// Whether the code verifier matched the code challenge (S256).
    verifier_matched: bool,
}

/// Serves Keycloak's authorization and token endpoints for one realm: the
/// authorization endpoint redirects straight back with [`CODE`], and the token
/// endpoint checks the PKCE verifier and returns a citizen token for [`MOBILE`].
struct KeycloakStandIn {
    port: u16,
    log: Arc<Mutex<KeycloakLog>>,
}

impl KeycloakStandIn {
    fn start() -> KeycloakStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(KeycloakLog::default()));
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                handle_keycloak(stream, &shared);
            }
        });
        KeycloakStandIn { port, log }
    }

    fn log(&self) -> KeycloakLog {
        self.log.lock().unwrap().clone()
    }
}

/// Splits `a=1&b=2` into decoded pairs (`+` is a space, as in HTML forms).
fn form_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

fn handle_keycloak(mut stream: TcpStream, log: &Mutex<KeycloakLog>) {
    let Some((request_line, headers, body)) = read_request(&mut stream) else {
        return;
    };
    let target = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let base = format!("/realms/{REALM}/protocol/openid-connect");
    let response = if path == format!("{base}/auth") {
        let pairs = form_pairs(query);
        let location = format!(
            "{}?code={CODE}&state={}",
            field(&pairs, "redirect_uri"),
            field(&pairs, "state")
        );
        log.lock().unwrap().authorization = pairs;
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    } else if path == format!("{base}/token") && request_line.starts_with("POST ") {
        let form = form_pairs(&body);
        let mut log = log.lock().unwrap();
        let challenge = field(&log.authorization, "code_challenge").to_owned();
        let digest = sha2::Sha256::digest(field(&form, "code_verifier").as_bytes());
        let verifier_matched = !challenge.is_empty() && URL_SAFE_NO_PAD.encode(digest) == challenge;
        let valid = verifier_matched
            && field(&form, "grant_type") == "authorization_code"
            && field(&form, "code") == CODE
            && field(&form, "client_id") == CLIENT_ID
            && field(&form, "redirect_uri") == field(&log.authorization, "redirect_uri");
        log.verifier_matched = verifier_matched;
        log.token_form = form;
        // Keycloak allows the client's web origins with CORS; the stand-in allows the caller's.
        let origin = headers
            .lines()
            .find_map(|line| line.strip_prefix("origin:"))
            .unwrap_or("")
            .trim()
            .to_owned();
        let (status, body) = if valid {
            let token = Keys::sign(
                "test-rsa-private.pem",
                Algorithm::RS256,
                &Keys::citizen_claims(MOBILE),
            );
            (
                "200 OK",
                json!({"access_token": token, "token_type": "Bearer", "expires_in": 300})
                    .to_string(),
            )
        } else {
            (
                "400 Bad Request",
                json!({"error": "invalid_grant"}).to_string(),
            )
        };
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: {origin}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
    };
    let _ = stream.write_all(response.as_bytes());
}

/// Reads one request and returns its request line, its header lines in lower
/// case, and its body.
fn read_request(stream: &mut TcpStream) -> Option<(String, String, String)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        raw.extend_from_slice(&buffer[..read]);
        let Some(end) = raw.windows(4).position(|window| window == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let (request_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
        let headers = headers.to_ascii_lowercase().replace("\r\n", "\n");
        let length: usize = headers
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if raw.len() >= end + 4 + length {
            let body = String::from_utf8_lossy(&raw[end + 4..end + 4 + length]).into_owned();
            return Some((request_line.to_owned(), headers, body));
        }
    }
}

// ---------------------------------------------------------------------------
// chromedriver and a WebDriver session

/// A chromedriver process on a loopback port. Killed on drop.
struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Driver {
    /// Starts chromedriver, or returns `None` (after printing why) when
    /// chromium or chromedriver is missing and tools are not required.
    fn start() -> Option<Driver> {
        let chromium = PathBuf::from("/usr/bin/chromium");
        let driver_runs = Command::new("chromedriver")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !chromium.exists() || !driver_runs {
            assert!(
                !tools_required(),
                "chromium or chromedriver is missing: apt-get install -y chromium chromium-driver"
            );
            eprintln!(
                "skipped: chromium or chromedriver is not installed (apt-get install -y chromium chromium-driver)"
            );
            return None;
        }
        // A free port: bound, read, released, then given to chromedriver.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(90)))
            .http_status_as_error(false)
            .proxy(None)
            .build();
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent: config.into(),
        };
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Ok(mut response) = driver.agent.get(format!("{}/status", driver.base)).call()
                && let Ok(status) = response.body_mut().read_json::<Value>()
                && status["value"]["ready"] == true
            {
                return Some(driver);
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Opens a headless Chromium with a fresh profile in `profile` that saves
    /// downloads to `downloads`.
    fn session(&self, profile: &Path, downloads: &Path) -> Session<'_> {
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-default-apps".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-domain-reliability".to_owned(),
            "--disable-client-side-phishing-detection".to_owned(),
            // Every name but loopback fails to resolve, so the browser reaches no other host.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": args,
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
                // Headless windows are at least 500 px wide, so a phone screen is emulated.
                "mobileEmulation": {"deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 2.0}},
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created = self.send("POST", "/session", Some(&capabilities));
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Session { driver: self, id }
    }

    /// Sends one WebDriver command and returns the response's `value`.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .send_json(body.cloned().unwrap_or_else(|| json!({}))),
        };
        let mut response = response.unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let status = response.status().as_u16();
        let value: Value = response.body_mut().read_json().unwrap();
        assert_eq!(status, 200, "{method} {path}: {value}");
        value.get("value").cloned().unwrap_or(value)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session. Closed on drop.
struct Session<'d> {
    driver: &'d Driver,
    id: String,
}

impl Session<'_> {
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.driver
            .send(method, &format!("/session/{}{path}", self.id), body)
    }

    fn open(&self, url: &str) {
        self.command("POST", "/url", Some(&json!({"url": url})));
    }

    fn element(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Types `text` into the element as key presses; `\u{E007}` is Enter.
    fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(&json!({"text": text})),
        );
    }

    fn click(&self, css: &str) {
        let element = self.element(css);
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        );
    }

    fn script(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Waits until the script `condition` returns true.
    fn wait_until(&self, condition: &str, description: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        let script = format!("return Boolean({condition});");
        while self.script(&script) != json!(true) {
            let status = self.script("return document.getElementById('status').textContent;");
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {description}; status line: {status}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn status_text(&self) -> String {
        self.script("return document.getElementById('status').textContent;")
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.driver.base, self.id);
        let _ = self.driver.agent.delete(&url).call();
    }
}

/// Waits until the SMTP server has received a message and returns it.
fn wait_for_message(inbox: &Mutex<Vec<Vec<u8>>>) -> Vec<u8> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(message) = inbox.lock().unwrap().first() {
            return message.clone();
        }
        assert!(Instant::now() < deadline, "no email arrived");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Text of a PDF, or `None` when pdftotext is missing and tools are not required.
fn pdf_text(folder: &Path, pdf: &[u8]) -> Option<String> {
    if !have_tool("pdftotext", "poppler-utils") {
        return None;
    }
    let path = folder.join("text-check.pdf.tmp");
    std::fs::write(&path, pdf).unwrap();
    let output = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success(), "pdftotext failed: {output:?}");
    Some(String::from_utf8(output.stdout).unwrap())
}

/// Waits until the browser has saved `name` in `folder` and returns its bytes.
fn wait_for_download(folder: &Path, name: &str) -> Vec<u8> {
    let path = folder.join(name);
    let deadline = Instant::now() + STEP_TIMEOUT;
    // Chromium writes to NAME.crdownload and renames it when the download ends.
    while !path.exists() {
        if Instant::now() >= deadline {
            let saved: Vec<_> = std::fs::read_dir(folder)
                .unwrap()
                .flatten()
                .map(|entry| entry.file_name())
                .collect();
            panic!("{name} was not downloaded; the folder has {saved:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read(path).unwrap()
}

#[test]
fn portal_in_headless_chromium() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let gateway = SmsGateway::start();
    let key_folder = tempfile::tempdir().unwrap();
    let key_path = key_folder.path().join("otp-key.pem");
    let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    let pem =
        ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, p256::pkcs8::LineEnding::LF)
            .unwrap();
    std::fs::write(&key_path, pem.as_bytes()).unwrap();
    let sms_url = format!("http://127.0.0.1:{}/sms", gateway.port);
    let key_text = key_path.display().to_string();
    let (smtp_port, inbox) = start_smtp(None);
    let server = Server::start(&[
        ("DIVOC__OTP__ENABLED", "true"),
        ("DIVOC__OTP__SIGNING_KEY_FILE", &key_text),
        ("DIVOC__SMS__URL", &sms_url),
        ("DIVOC__EMAIL__SMTP_URL", &smtp_env(smtp_port)),
        ("DIVOC__EMAIL__POLL_INTERVAL_MS", "50"),
        ("DIVOC__PDF__TIMEZONE", "Asia/Kolkata"),
    ]);
    let profile = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), downloads.path());
    browser.open(&format!("http://127.0.0.1:{}/portal/", server.port));

    // Phone-sized window: the page fits without horizontal scrolling.
    assert_eq!(
        browser.script("return document.documentElement.lang;"),
        "en"
    );
    assert_eq!(browser.script("return window.innerWidth;"), 360);
    assert_eq!(
        browser.script("return document.documentElement.scrollWidth <= window.innerWidth;"),
        true
    );

    // Sign in by keyboard: type, then Enter submits each form.
    browser.type_into("#mobile", &format!("{MOBILE}\u{E007}"));
    let code = gateway.wait_for_code();
    browser.wait_until(
        "!document.getElementById('otp-form').hidden",
        "the code form",
    );
    assert_eq!(
        browser.script("return document.activeElement.id;"),
        "otp",
        "focus moves to the code field"
    );
    browser.type_into("#otp", &format!("{code}\u{E007}"));
    browser.wait_until(
        "document.querySelectorAll('li.beneficiary').length > 0",
        "the list of certificates",
    );

    let listed = browser.script(
        "return Array.from(document.querySelectorAll('li.beneficiary'), (item) => item.dataset.beneficiary);",
    );
    assert_eq!(listed, json!(["BEN1001", "BEN1002", "BEN1004", "BEN1012"]));
    assert_eq!(
        browser.status_text(),
        "4 people have certificates on this number."
    );
    let rows = browser.script(
        "return document.querySelectorAll('li[data-beneficiary=BEN1002] table.doses tbody tr').length;",
    );
    assert_eq!(rows, 3, "BEN1002 has three doses");
    // Vaccinated at 22:00 UTC on 17 October: the 18th in Asia/Kolkata, as in the PDF.
    assert_eq!(
        browser.script(
            "return document.querySelector('li[data-beneficiary=BEN1012] table.doses tbody td:nth-child(3)').textContent;"
        ),
        "2021-10-18"
    );
    let latest = browser.script(
        "return document.querySelector('li[data-beneficiary=BEN1012] p.latest').textContent;",
    );
    assert!(
        latest.as_str().unwrap().ends_with(", 2021-10-18"),
        "{latest}"
    );
    assert_eq!(
        browser.script("return document.documentElement.scrollWidth <= window.innerWidth;"),
        true,
        "the list fits a 360 px screen"
    );

    // For a person to look at: DIVOC_PORTAL_SCREENSHOT=FILE saves the list as a PNG.
    if let Ok(path) = std::env::var("DIVOC_PORTAL_SCREENSHOT") {
        let encoded = browser.command("GET", "/screenshot", None);
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            encoded.as_str().unwrap(),
        )
        .unwrap();
        std::fs::write(path, png).unwrap();
    }

    // Download the PDF: the page fetches it with the token and saves it
    // through an object URL.
    browser.click("li[data-beneficiary=BEN1001] button.download-pdf");
    let pdf = wait_for_download(downloads.path(), "certificate-529130864.pdf");
    assert_eq!(&pdf[..5], b"%PDF-");
    assert!(pdf.len() > 1000, "PDF of {} bytes", pdf.len());
    assert_eq!(
        browser.script(
            "return document.querySelector('li[data-beneficiary=BEN1001] a.pdf-file').download;"
        ),
        "certificate-529130864.pdf"
    );

    // The QR code of the same certificate.
    browser.click("li[data-beneficiary=BEN1001] button.download-qr");
    let png = wait_for_download(downloads.path(), "certificate-529130864.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // The token is in no storage that another script could read.
    let stored =
        browser.script("return [localStorage.length, sessionStorage.length, document.cookie];");
    assert_eq!(stored, json!([0, 0, ""]));

    // Switch the certificate language to Hindi: the next PDF is Hindi.
    browser.script(
        "const select = document.getElementById('language'); select.value = 'hi'; \
         select.dispatchEvent(new Event('change', {bubbles: true}));",
    );
    browser.click("li[data-beneficiary=BEN1002] button.download-pdf");
    let hindi = wait_for_download(downloads.path(), "certificate-772014589.pdf");
    assert_eq!(&hindi[..5], b"%PDF-");
    if let Some(text) = pdf_text(downloads.path(), &hindi) {
        assert!(text.contains(HINDI_HEADING), "{text}");
    }

    // Send BEN1002's certificate by email to the loopback SMTP server: it
    // arrives with the Hindi PDF attached and a Hindi subject.
    browser.type_into("#email-BEN1002", "asha@example.test");
    browser.click("li[data-beneficiary=BEN1002] button.send-email");
    browser.wait_until(
        "document.getElementById('status').textContent === 'The certificate was sent to asha@example.test.'",
        "the email confirmation",
    );
    let message = wait_for_message(&inbox);
    let (subject, to, attachment, _) = attachment_of(&message);
    assert_eq!(subject, "आपका टीकाकरण प्रमाणपत्र 772014589");
    assert_eq!(to, "asha@example.test");
    assert_eq!(&attachment[..5], b"%PDF-");
    // The attachment is the download route's file in the same language.
    let download = server.get("/certificate/api/certificatePDF/BEN1002?language=hi");
    assert!(
        attachment == download.body,
        "the attachment differs from the Hindi download"
    );

    // Create a share link for BEN1012 (certificate 183640925) from the portal, then open it as its
    // recipient would: the page loads and its PDF link serves the Hindi PDF.
    browser.click("li[data-beneficiary=BEN1012] button.share");
    browser.wait_until(
        "document.querySelector('li[data-beneficiary=BEN1012] a.share-link')",
        "the share link",
    );
    let url = browser
        .script("return document.querySelector('li[data-beneficiary=BEN1012] a.share-link').href;")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.ends_with("?language=hi"), "{url}");
    // The link's origin comes from the server's public URL setting, which
    // in tests is the bind address with port 0, so only its path is kept.
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("/", |index| &after_scheme[index..]);
    browser.open(&format!("http://127.0.0.1:{}{path}", server.port));
    assert_eq!(
        browser.script("return document.contentType;"),
        "text/html",
        "{url}"
    );
    assert_eq!(browser.script("return document.readyState;"), "complete");
    let pdf_link = browser
        .script("return document.querySelector('a[href*=\"format=pdf\"]').getAttribute('href');")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(pdf_link.ends_with("&language=hi"), "{pdf_link}");
    let served = server.request("GET", &pdf_link, &[]);
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-language"), Some("hi"));
    browser.click("a[href*=\"format=pdf\"]");
    let shared = wait_for_download(downloads.path(), "certificate-183640925.pdf");
    assert_eq!(&shared[..5], b"%PDF-");
    assert!(shared == served.body);
    if let Some(text) = pdf_text(downloads.path(), &shared) {
        assert!(text.contains(HINDI_HEADING), "{text}");
    }

    // The page ran without Content-Security-Policy violations.
    let logs = browser.command("POST", "/se/log", Some(&json!({"type": "browser"})));
    let violations: Vec<&Value> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| {
            entry["message"]
                .as_str()
                .is_some_and(|message| message.contains("Content Security Policy"))
        })
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
    // The mobile number, the code, the email address and share tokens stay
    // out of the server log.
    let log = server.log_text();
    assert!(!log.contains(MOBILE), "{log}");
    assert!(!log.contains(&code), "{log}");
    assert!(!log.contains("asha@example.test"), "{log}");
    let token = path
        .trim_start_matches("/s/")
        .trim_end_matches("?language=hi");
    assert!(!log.contains(token), "{log}");
}

#[test]
fn keycloak_sign_in_with_pkce() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let keycloak = KeycloakStandIn::start();
    let keycloak_url = format!("http://127.0.0.1:{}", keycloak.port);
    let server = Server::start(&[
        ("DIVOC__PORTAL__KEYCLOAK_URL", &keycloak_url),
        ("DIVOC__PORTAL__KEYCLOAK_REALM", REALM),
        ("DIVOC__PORTAL__KEYCLOAK_CLIENT_ID", CLIENT_ID),
    ]);
    let profile = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path(), downloads.path());
    let portal = format!("http://127.0.0.1:{}/portal/", server.port);
    browser.open(&portal);
    browser.wait_until(
        "!document.getElementById('keycloak-step').hidden",
        "the Keycloak button",
    );

    browser.click("#keycloak-sign-in");
    browser.wait_until(
        "document.querySelectorAll('li.beneficiary').length > 0",
        "the list after Keycloak sign-in",
    );
    let listed = browser.script(
        "return Array.from(document.querySelectorAll('li.beneficiary'), (item) => item.dataset.beneficiary);",
    );
    assert_eq!(listed, json!(["BEN1001", "BEN1002", "BEN1004", "BEN1012"]));

    let log = keycloak.log();
    let authorization = &log.authorization;
    assert_eq!(field(authorization, "response_type"), "code");
    assert_eq!(field(authorization, "client_id"), CLIENT_ID);
    assert_eq!(field(authorization, "redirect_uri"), portal);
    assert_eq!(field(authorization, "code_challenge_method"), "S256");
    assert_eq!(field(authorization, "code_challenge").len(), 43);
    assert!(log.verifier_matched, "{log:?}");
    assert_eq!(field(&log.token_form, "code"), CODE);

    // The code left the address bar, and the PKCE values left sessionStorage.
    assert_eq!(browser.script("return location.search;"), "");
    assert_eq!(
        browser.script("return [localStorage.length, sessionStorage.length, document.cookie];"),
        json!([0, 0, ""])
    );
}
