//! Password protection: passwords that open the file in poppler and MuPDF,
//! and passwords that `protect_pdf` rejects.
//!
//! A test whose tool is missing prints a notice and passes, unless
//! `DIVOC_REQUIRE_TOOLS=1` is set, in which case it fails and names the Debian package.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use divoc_model::{Evidence, VaccinationCredential};
use divoc_pdf::{
    CertificateInput, PdfRenderer, PdfSettings, ProtectError, ProtectKeys, protect_pdf,
};
use divoc_qr::{CertificateQr, QrOptions};

const SIGNED: &str = r#"{"credentialSubject":{"name":"Asha Rao","dob":"1990-02-03"},
    "evidence":[{"vaccine":"COVISHIELD","date":"2021-10-17T22:00:00Z","dose":1,"totalDoses":2}]}"#;

fn certificate_pdf() -> Vec<u8> {
    let credential = VaccinationCredential::parse("100000001", SIGNED).unwrap();
    let qr = CertificateQr::new(SIGNED.as_bytes(), &QrOptions::default()).unwrap();
    let doses: Vec<&Evidence> = credential.evidence.iter().collect();
    let input = CertificateInput {
        certificate_id: "100000001",
        credential: &credential,
        doses: &doses,
        qr: &qr,
        updated_at: None,
    };
    PdfRenderer::new(PdfSettings::default())
        .unwrap()
        .render(&input)
        .unwrap()
}

fn protect(pdf: &[u8], user_password: &str) -> Result<Vec<u8>, ProtectError> {
    let keys = ProtectKeys {
        user_password,
        owner_password: "5f0c1e9a7b3d2468",
        file_key: [0x5A; 32],
    };
    protect_pdf(pdf, &keys)
}

/// Returns whether `tool` can run. A missing tool prints a notice, or fails the
/// test under `DIVOC_REQUIRE_TOOLS=1`.
fn tool_available(tool: &str, package: &str) -> bool {
    let found = Command::new(tool).arg("-v").output().is_ok();
    if !found {
        assert!(
            std::env::var("DIVOC_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{tool} is required (DIVOC_REQUIRE_TOOLS=1) but not installed: apt-get install {package}"
        );
        eprintln!("skipping: {tool} is not installed (Debian package {package})");
    }
    found
}

/// Returns the text that poppler extracts with `password`, or `None` when it
/// cannot open the file.
fn poppler_text(path: &Path, password: &str) -> Option<String> {
    let output = Command::new("pdftotext")
        .args(["-upw", password, path.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Returns the text that MuPDF extracts with `password`, or `None` when it
/// cannot open the file.
fn mupdf_text(path: &Path, password: &str) -> Option<String> {
    let output = Command::new("mutool")
        .args(["draw", "-q", "-F", "txt", "-o", "-", "-p", password])
        .arg(path)
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn passwords_open_in_poppler_and_mupdf() {
    let pdf = certificate_pdf();
    let directory = tempfile::tempdir().unwrap();
    let poppler = tool_available("pdftotext", "poppler-utils");
    let mupdf = tool_available("mutool", "mupdf-tools");
    // The passwords are short, because poppler 22.12's pdftotext did not open
    // a file with a 127-byte `-upw` password that MuPDF accepted.
    for (index, password) in [
        "03021990",
        "p\u{E4}ssw\u{F6}rd",
        "\u{5BC6}\u{7801}",
        "\u{3A9}mega",
    ]
    .into_iter()
    .enumerate()
    {
        let protected = protect(&pdf, password).unwrap();
        assert!(
            lopdf::Document::load_mem(&protected)
                .unwrap()
                .is_encrypted(),
            "{password:?}"
        );
        let path = directory.path().join(format!("protected-{index}.pdf"));
        std::fs::write(&path, &protected).unwrap();
        if poppler {
            let text = poppler_text(&path, password);
            assert!(
                text.is_some_and(|text| text.contains("Asha Rao")),
                "poppler, {password:?}"
            );
            assert_eq!(poppler_text(&path, "wrong"), None, "poppler, {password:?}");
        }
        if mupdf {
            let text = mupdf_text(&path, password);
            assert!(
                text.is_some_and(|text| text.contains("Asha Rao")),
                "MuPDF, {password:?}"
            );
        }
    }
}

#[test]
fn password_length_limits() {
    let pdf = certificate_pdf();
    assert!(matches!(
        protect(&pdf, ""),
        Err(ProtectError::InvalidPassword {
            which: "user",
            length: 0
        })
    ));
    assert!(protect(&pdf, &"x".repeat(127)).is_ok());
    assert!(matches!(
        protect(&pdf, &"x".repeat(128)),
        Err(ProtectError::InvalidPassword {
            which: "user",
            length: 128
        })
    ));
}

/// Asserts that each password of `cases` is rejected as one that SASLprep
/// changes or prohibits, with a message that names SASLprep and leaves the
/// password out.
fn assert_saslprep_rejected(pdf: &[u8], cases: &[(&str, &str)]) {
    for (case, password) in cases {
        let error = protect(pdf, password).unwrap_err();
        assert!(
            matches!(
                error,
                ProtectError::InvalidPasswordCharacters { which: "user", .. }
            ),
            "{case}: {error}"
        );
        let message = error.to_string();
        assert!(message.contains("SASLprep"), "{case}: {message}");
        assert!(!message.contains(password), "{case}: {message}");
    }
}

/// lopdf prepares passwords with SASLprep (RFC 4013) before hashing them, but
/// poppler 22.12 and MuPDF 1.21 hash the bytes as typed, so they could not
/// open a file whose password SASLprep changes.
#[test]
fn passwords_changed_by_saslprep_rejected() {
    let pdf = certificate_pdf();
    assert_saslprep_rejected(
        &pdf,
        &[
            ("decomposed umlaut", "pa\u{308}ssword"),
            ("ligature", "\u{FB01}le-1990"),
            ("no-break space", "asha\u{A0}rao"),
            ("soft hyphen", "asha\u{AD}rao"),
            ("zero width space", "asha\u{200B}rao"),
        ],
    );
}

#[test]
fn passwords_prohibited_by_saslprep_rejected() {
    let pdf = certificate_pdf();
    assert_saslprep_rejected(
        &pdf,
        &[
            ("control character", "asha\u{7}rao"),
            ("private use character", "asha\u{E000}"),
            ("mixed directions", "a\u{5D0}1"),
        ],
    );

    let keys = ProtectKeys {
        user_password: "03021990",
        owner_password: "owner\u{7}",
        file_key: [0x5A; 32],
    };
    assert!(matches!(
        protect_pdf(&pdf, &keys),
        Err(ProtectError::InvalidPasswordCharacters { which: "owner", .. })
    ));
}

#[test]
fn encrypted_input_rejected() {
    let protected = protect(&certificate_pdf(), "03021990").unwrap();
    assert!(matches!(
        protect(&protected, "03021990"),
        Err(ProtectError::AlreadyEncrypted)
    ));
}
