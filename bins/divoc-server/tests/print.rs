//! Bulk printing through `divoc-server print` and `POST /certificate/api/print`,
//! with the merged PDF read back by poppler's pdfinfo and pdftotext.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Keys, Response, Server, have_tool};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const PRINT: &str = "/certificate/api/print";

/// Manifest of BEN1001, NOBODY, BEN1009 (revoked), an invalid id and BEN1002.
const MANIFEST: &str = "page,beneficiaryId,certificateId,skipReason\r\n\
1,BEN1001,529130864,\r\n\
,NOBODY,,\"no certificate, or only revoked ones\"\r\n\
,BEN1009,,\"no certificate, or only revoked ones\"\r\n\
,'=1+2,,\"invalid beneficiary id: only A-Z, a-z, 0-9, '-', '_' and '.' are allowed\"\r\n\
2,BEN1002,772014589,\r\n";

fn bearer(claims: &Value) -> String {
    format!(
        "Bearer {}",
        Keys::sign("test-rsa-private.pem", Algorithm::RS256, claims)
    )
}

fn print_token() -> String {
    let now = chrono::Utc::now().timestamp();
    bearer(
        &json!({"sub": "print-shop", "exp": now + 600, "realm_access": {"roles": ["facility-staff"]}}),
    )
}

fn post(server: &Server, target: &str, authorization: Option<&str>, body: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(value) = authorization {
        head.push_str(&format!("Authorization: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body.as_bytes());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
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
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn ids_body() -> String {
    json!({"beneficiaryIds": ["BEN1001", "NOBODY", "BEN1009", "=1+2", "BEN1002"]}).to_string()
}

/// Pages of a PDF file, as pdfinfo reports them.
fn page_count(path: &Path) -> usize {
    let output = Command::new("pdfinfo").arg(path).output().unwrap();
    assert!(output.status.success(), "pdfinfo failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("Pages:"))
        .unwrap();
    line["Pages:".len()..].trim().parse().unwrap()
}

/// Text of one page, as pdftotext extracts it.
fn page_text(path: &Path, page: usize) -> String {
    let page = page.to_string();
    let output = Command::new("pdftotext")
        .args(["-f", &page, "-l", &page, "-layout"])
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success(), "pdftotext failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn check_merged(path: &Path) {
    assert_eq!(page_count(path), 2);
    assert!(page_text(path, 1).contains("529130864"));
    assert!(page_text(path, 2).contains("772014589"));
    assert!(!page_text(path, 2).contains("529130864"));
}

#[test]
fn command_writes_pdf_and_manifest() {
    if !have_tool("pdfinfo", "poppler-utils") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
    Server::import_samples(&url);
    let ids_file = folder.path().join("ids.txt");
    std::fs::write(
        &ids_file,
        // With the byte order marks of two joined Notepad files.
        "\u{feff}# printed after BEN1001\nNOBODY\n\nBEN1009\n=1+2\n\u{feff}BEN1002\n",
    )
    .unwrap();
    let out = folder.path().join("batch.pdf");
    let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DIVOC__DATABASE__URL", &url)
        .args(["print", "--out"])
        .arg(&out)
        .arg("--ids-file")
        .arg(&ids_file)
        .arg("BEN1001")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(": 2 pages, 3 skipped, "), "{stdout}");
    let manifest = std::fs::read_to_string(folder.path().join("batch.csv")).unwrap();
    assert_eq!(manifest, MANIFEST);
    check_merged(&out);
    // Beneficiary ids stay out of the log.
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("BEN100"), "{stderr}");
}

#[test]
fn command_bad_output_path_fails_first() {
    let folder = tempfile::tempdir().unwrap();
    // No store exists at this URL: the path checks come before the store opens.
    let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
    let missing = folder.path().join("missing");
    let plain_file = folder.path().join("plain.txt");
    std::fs::write(&plain_file, "not a folder").unwrap();
    let cases = [
        (
            missing.join("batch.pdf"),
            format!(
                "cannot create {}: the folder {} does not exist; create it first",
                missing.join("batch.pdf").display(),
                missing.display()
            ),
        ),
        (
            folder.path().to_path_buf(),
            format!(
                "cannot create {0}: {0} is a folder; give a file name",
                folder.path().display()
            ),
        ),
        (
            plain_file.join("batch.pdf"),
            format!(
                "cannot create {}: {} is not a folder",
                plain_file.join("batch.pdf").display(),
                plain_file.display()
            ),
        ),
    ];
    for (out, expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
            .env_clear()
            .env("DIVOC__DATABASE__URL", &url)
            .args(["print", "--manifest"])
            .arg(folder.path().join("manifest.csv"))
            .arg("--out")
            .arg(&out)
            .arg("BEN1001")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(&expected), "{stderr}");
    }
    assert!(!folder.path().join("divoc.sqlite").exists());
}

#[test]
fn command_never_overwrites_inputs() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("divoc.sqlite");
    let url = format!("sqlite://{}", store.display());
    Server::import_samples(&url);
    let stored = std::fs::read(&store).unwrap();
    let ids_file = folder.path().join("ids.txt");
    std::fs::write(&ids_file, "BEN1001\n").unwrap();
    let pdf = folder.path().join("batch.pdf");
    let manifest = folder.path().join("batch.csv");

    // The same files by other names: through `..`, a hard link, a link to a
    // file that creating the output would make, the store's journal, and
    // URLs that name the store in other ways.
    let store_again = folder.path().join("sub/../divoc.sqlite");
    std::fs::create_dir(folder.path().join("sub")).unwrap();
    let journal = folder.path().join("divoc.sqlite-journal");
    let hard_link = folder.path().join("linked.pdf");
    std::fs::hard_link(&store, &hard_link).unwrap();
    let dangling = folder.path().join("dangling.pdf");
    std::os::unix::fs::symlink("divoc.sqlite-journal", &dangling).unwrap();
    let capitals = format!("SQLITE:{}", store.display());
    let escaped = format!("file:{}/divoc%2Esqlite?mode=rwc", folder.path().display());
    let in_store = "a file of the certificate store";
    let cases = [
        (&url, &store, &manifest, &store, in_store),
        (&url, &pdf, &store_again, &store_again, in_store),
        (&url, &journal, &manifest, &journal, in_store),
        (&url, &hard_link, &manifest, &hard_link, in_store),
        (&url, &dangling, &manifest, &dangling, in_store),
        (&capitals, &store, &manifest, &store, in_store),
        (&escaped, &pdf, &store, &store, in_store),
        (&url, &pdf, &ids_file, &ids_file, "the ids file"),
        (
            &url,
            &pdf,
            &folder.path().join("sub/../batch.pdf"),
            &pdf,
            "the manifest",
        ),
    ];
    for (url, out, manifest, named, what) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
            .env_clear()
            .env("DIVOC__DATABASE__URL", url)
            .args(["print", "--out"])
            .arg(out)
            .arg("--manifest")
            .arg(manifest)
            .arg("--ids-file")
            .arg(&ids_file)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        let expected = format!(
            "cannot write {}: it is {what}; give another file name",
            named.display()
        );
        assert!(stderr.contains(&expected), "{url}: {expected}\n{stderr}");
    }

    assert_eq!(std::fs::read(&store).unwrap(), stored);
    assert_eq!(std::fs::read_to_string(&ids_file).unwrap(), "BEN1001\n");
    assert!(!journal.exists());
}

#[test]
fn command_keeps_old_pdf_when_manifest_fails() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
    Server::import_samples(&url);
    let old = folder.path().join("old.pdf");
    std::fs::write(&old, "an earlier batch").unwrap();
    let new = folder.path().join("new.pdf");
    // A file name over the 255 bytes that Linux allows.
    let manifest = folder.path().join(format!("{}.csv", "m".repeat(300)));
    for out in [&old, &new] {
        let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
            .env_clear()
            .env("DIVOC__DATABASE__URL", &url)
            .args(["print", "--out"])
            .arg(out)
            .arg("--manifest")
            .arg(&manifest)
            .arg("BEN1001")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("File name too long"), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "an earlier batch");
    assert!(!new.exists());
}

#[test]
fn command_without_printable_ids_fails() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
    Server::import_samples(&url);
    let out = folder.path().join("none.pdf");
    let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env("DIVOC__DATABASE__URL", &url)
        .args(["print", "--out"])
        .arg(&out)
        .args(["NOBODY", "BEN1009"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("none of the 2 beneficiaries has a certificate that may be printed"),
        "{stderr}"
    );
    assert!(!out.exists());
    let manifest = std::fs::read_to_string(folder.path().join("none.csv")).unwrap();
    assert_eq!(manifest.lines().count(), 3);
}

#[test]
fn route_returns_merged_pdf() {
    if !have_tool("pdfinfo", "poppler-utils") {
        return;
    }
    let server = Server::start(&[]);
    let token = print_token();
    let response = post(&server, PRINT, Some(&token), &ids_body());
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("Content-Type"), Some("application/pdf"));
    assert_eq!(response.header("X-Print-Pages"), Some("2"));
    assert_eq!(response.header("X-Print-Skipped"), Some("3"));
    assert!(response.body.starts_with(b"%PDF-1.7"));
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("route.pdf");
    std::fs::write(&path, &response.body).unwrap();
    check_merged(&path);
}

#[test]
fn route_returns_manifest() {
    let server = Server::start(&[]);
    let response = post(
        &server,
        &format!("{PRINT}?manifest=1"),
        Some(&print_token()),
        &ids_body(),
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/csv; charset=utf-8; header=present")
    );
    assert_eq!(String::from_utf8(response.body).unwrap(), MANIFEST);
}

#[test]
fn route_rejects_missing_and_wrong_tokens() {
    let server = Server::start(&[]);
    let missing = post(&server, PRINT, None, &ids_body());
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"], "unauthorized");

    let citizen = bearer(&Keys::citizen_claims("9000000001"));
    let response = post(&server, PRINT, Some(&citizen), &ids_body());
    assert_eq!(response.status, 403);
    assert_eq!(
        response.json()["message"],
        "forbidden: bulk printing needs a print role"
    );

    let distribution = format!("Bearer {}", Keys::rs256());
    let response = post(&server, PRINT, Some(&distribution), &ids_body());
    assert_eq!(response.status, 403);
}

#[test]
fn route_manifest_escapes_control_characters() {
    let server = Server::start(&[]);
    let response = post(
        &server,
        &format!("{PRINT}?manifest=1"),
        Some(&print_token()),
        r#"{"beneficiaryIds": ["BEN1001", "BEN\u00001002", "\t=1\r\n"]}"#,
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        String::from_utf8(response.body).unwrap(),
        "page,beneficiaryId,certificateId,skipReason\r\n\
         1,BEN1001,529130864,\r\n\
         ,BEN\\u00001002,,\"invalid beneficiary id: only A-Z, a-z, 0-9, '-', '_' and '.' \
         are allowed\"\r\n\
         ,'\\u0009=1\\u000D\\u000A,,\"invalid beneficiary id: only A-Z, a-z, 0-9, '-', '_' \
         and '.' are allowed\"\r\n"
    );
}

#[test]
fn route_rejects_bad_bodies() {
    let server = Server::start(&[("DIVOC__PRINT__MAX_BENEFICIARIES", "3")]);
    let token = print_token();

    let too_many = post(&server, PRINT, Some(&token), &ids_body());
    assert_eq!(too_many.status, 400);
    let body = too_many.json();
    assert_eq!(body["error"], "invalid_parameter");
    assert_eq!(
        body["message"],
        "invalid beneficiaryIds: expected 1 to 3 beneficiary ids"
    );
    assert_eq!(body["value"], "5");

    let empty = post(&server, PRINT, Some(&token), r#"{"beneficiaryIds": []}"#);
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json()["value"], "0");

    // serde quotes the value it could not read, and the log leaves it out.
    let string = post(
        &server,
        PRINT,
        Some(&token),
        r#"{"beneficiaryIds": "9000000005"}"#,
    );
    assert_eq!(string.status, 400);
    assert_eq!(
        string.json()["message"],
        "invalid body: expected JSON {\"beneficiaryIds\": [\"ID\", ...]}: invalid type: \
         string \"9000000005\", expected a sequence"
    );
    let log = server.wait_for_log("request rejected: invalid parameter parameter=\"body\"");
    assert!(
        !log.contains("9000000005"),
        "the log contains the value:\n{log}"
    );
    assert!(
        log.contains(r#"invalid type: string "…", expected a sequence"#),
        "{log}"
    );

    let wrong = post(&server, PRINT, Some(&token), r#"{"ids": ["BEN1001"]}"#);
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.json()["message"].as_str().unwrap().starts_with(
            "invalid body: expected JSON {\"beneficiaryIds\": [\"ID\", ...]}: unknown field `ids`"
        ),
        "{}",
        wrong.json()
    );

    let flag = post(
        &server,
        &format!("{PRINT}?manifest=yes"),
        Some(&token),
        r#"{"beneficiaryIds": ["BEN1001"]}"#,
    );
    assert_eq!(flag.status, 400);
    assert_eq!(flag.json()["value"], "yes");

    let nothing = post(
        &server,
        PRINT,
        Some(&token),
        r#"{"beneficiaryIds": ["NOBODY"]}"#,
    );
    assert_eq!(nothing.status, 400);
    assert_eq!(nothing.json()["value"], "1");
}

/// `beneficiary_heading` of `crates/divoc-pdf/labels/hi.toml` beside its English text.
const HINDI_HEADING: &str = "लाभार्थी का विवरण / Beneficiary Details";

/// Text of a whole PDF, extracted without `-layout` as the language tests of
/// the other routes do.
fn plain_text(path: &Path) -> String {
    let output = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success(), "pdftotext failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn command_prints_in_language() {
    if !have_tool("pdftotext", "poppler-utils") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
    Server::import_samples(&url);
    let out = folder.path().join("hindi.pdf");
    let run = |language: &str| {
        Command::new(env!("CARGO_BIN_EXE_divoc-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DIVOC__DATABASE__URL", &url)
            .args(["print", "--language", language, "--out"])
            .arg(&out)
            .arg("BEN1002")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let output = run("hi-IN");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(": 1 page, 0 skipped, "), "{stdout}");
    assert!(stdout.contains(", language hi; manifest "), "{stdout}");
    assert!(plain_text(&out).contains(HINDI_HEADING));

    // The command writes an audit row per printed certificate, as the route does.
    let audit = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env("DIVOC__DATABASE__URL", &url)
        .args(["audit", "--certificate", "772014589"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(audit.status.success());
    let rows: Vec<Value> = String::from_utf8(audit.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["route"], "divoc-server print");
    assert_eq!(rows[0]["role"], "print");

    let invalid = run("hi<x>");
    assert!(!invalid.status.success());
    let stderr = String::from_utf8(invalid.stderr).unwrap();
    assert!(
        stderr.contains("--language \"hi<x>\": invalid language"),
        "{stderr}"
    );
}

#[test]
fn route_prints_in_language() {
    if !have_tool("pdftotext", "poppler-utils") {
        return;
    }
    let server = Server::start(&[]);
    let token = print_token();
    let body = json!({"beneficiaryIds": ["BEN1002"], "language": "hi"}).to_string();
    let response = post(&server, PRINT, Some(&token), &body);
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("Content-Language"), Some("hi"));
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("hindi.pdf");
    std::fs::write(&path, &response.body).unwrap();
    assert!(plain_text(&path).contains(HINDI_HEADING));

    let english = post(
        &server,
        PRINT,
        Some(&token),
        &json!({"beneficiaryIds": ["BEN1002"]}).to_string(),
    );
    assert_eq!(english.header("Content-Language"), Some("en"));
    std::fs::write(&path, &english.body).unwrap();
    assert!(!plain_text(&path).contains(HINDI_HEADING));

    let invalid = post(
        &server,
        PRINT,
        Some(&token),
        &json!({"beneficiaryIds": ["BEN1002"], "language": ""}).to_string(),
    );
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["value"], "");
}

/// Name and object number of each font in a PDF file, as pdffonts lists them.
fn pdf_fonts(path: &Path) -> Vec<(String, String)> {
    let output = Command::new("pdffonts").arg(path).output().unwrap();
    assert!(output.status.success(), "pdffonts failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    // Two header lines, then the name first and the object number and
    // generation last on each line.
    text.lines()
        .skip(2)
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 3, "unexpected pdffonts line: {line}");
            (fields[0].to_owned(), fields[fields.len() - 2].to_owned())
        })
        .collect()
}

#[test]
fn route_gives_each_subset_its_own_tag() {
    if !have_tool("pdffonts", "poppler-utils") {
        return;
    }
    let server = Server::start(&[]);
    // Hindi pages with different names embed different subsets of the same
    // faces, and BEN1001 twice embeds the same subsets twice.
    let ids = [
        "BEN1012", "BEN1009", "BEN1001", "BEN1001", "NOBODY", "BEN1010", "BEN1006", "BEN1003",
        "BEN1007", "BEN1011",
    ];
    let body = json!({"beneficiaryIds": ids, "language": "hi"}).to_string();
    let response = post(&server, PRINT, Some(&print_token()), &body);
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("X-Print-Pages"), Some("8"));
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("hindi.pdf");
    std::fs::write(&path, &response.body).unwrap();

    let fonts = pdf_fonts(&path);
    let mut objects_by_tag: HashMap<String, (String, String)> = HashMap::new();
    for (name, object) in fonts {
        let Some((tag, _)) = name.split_once('+') else {
            continue;
        };
        if let Some((first_name, first_object)) =
            objects_by_tag.insert(tag.to_owned(), (name.clone(), object.clone()))
        {
            assert_eq!(
                first_object, object,
                "{first_name} and {name} share a subset tag but are different fonts"
            );
        }
    }
    // The case under test: several different subsets of one font in one file.
    let mut subsets_by_font: HashMap<&str, usize> = HashMap::new();
    for (name, _) in objects_by_tag.values() {
        let (_, font) = name.split_once('+').unwrap();
        *subsets_by_font.entry(font).or_default() += 1;
    }
    let max_subsets = subsets_by_font.values().max().copied().unwrap_or(0);
    assert!(max_subsets >= 2, "{subsets_by_font:?}");
}
