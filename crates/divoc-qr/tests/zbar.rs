//! Round trip through zbarimg, the command-line reader of the zbar library
//! that DIVOC's verifier apps use (as zbar.wasm).
//!
//! The test runs when `zbarimg` is on the PATH (Debian package zbar-tools).
//! Without it the test prints a skip notice and passes, unless the
//! environment variable `DIVOC_REQUIRE_TOOLS=1` is set, in which case it
//! fails.
//!
//! NOTE: zbarimg 0.23.92 found no symbol in 1 pixel per module renderings
//! of the test certificate, so this test covers 2 and 4 pixels per module.

// Helper functions outside #[test] are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use divoc_qr::{CertificateQr, PayloadForm, QrOptions, decode_payload, expand_bytes};

/// Returns whether zbarimg can be started, failing the test if it cannot and
/// `DIVOC_REQUIRE_TOOLS=1` is set.
fn zbarimg_available() -> bool {
    match Command::new("zbarimg").arg("--version").output() {
        Ok(_) => true,
        Err(error) => {
            let required = std::env::var("DIVOC_REQUIRE_TOOLS").is_ok_and(|value| value == "1");
            assert!(
                !required,
                "zbarimg is required (DIVOC_REQUIRE_TOOLS=1) but cannot be started: {error}; install it with `apt-get install -y zbar-tools`"
            );
            eprintln!("SKIPPED: zbarimg not found ({error}); install zbar-tools to run this test");
            false
        }
    }
}

/// A scratch directory for this test process, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("divoc-qr-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `zbarimg --raw -Sbinary` on a PNG and returns the symbol bytes.
fn zbarimg_scan(path: &Path) -> Vec<u8> {
    let output = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sbinary"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "zbarimg failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn zbarimg_round_trip() {
    if !zbarimg_available() {
        return;
    }
    let scratch = ScratchDir::new("zbar");
    let certificate = common::certificate_2kb();

    for form in [PayloadForm::DivocExpanded, PayloadForm::Raw] {
        let options = QrOptions {
            form,
            ..QrOptions::default()
        };
        let qr = CertificateQr::new(&certificate, &options).unwrap();
        let payload = divoc_qr::encode_payload(&certificate, form).unwrap();
        for pixels_per_module in [2, 4] {
            let path = scratch.0.join(format!("{form:?}-{pixels_per_module}.png"));
            std::fs::write(&path, qr.to_png(pixels_per_module).unwrap()).unwrap();

            let scanned = zbarimg_scan(&path);
            // In binary mode zbarimg writes the symbol bytes without a
            // trailing newline.
            assert_eq!(scanned, payload, "{form:?} at {pixels_per_module} ppm");
            assert_eq!(
                decode_payload(&scanned).unwrap(),
                certificate,
                "{form:?} at {pixels_per_module} ppm"
            );
        }
    }

    // Every byte value survives expansion, zbar and un-expansion.
    let mut all_bytes = b"PK\x03\x04".to_vec();
    all_bytes.extend(0..=255_u8);
    let expanded = expand_bytes(&all_bytes);
    let qr = CertificateQr::from_payload(&expanded, &QrOptions::default()).unwrap();
    let path = scratch.0.join("all-bytes.png");
    std::fs::write(&path, qr.to_png(2).unwrap()).unwrap();
    let scanned = zbarimg_scan(&path);
    assert_eq!(scanned, expanded);
    assert_eq!(divoc_qr::unexpand_bytes(&scanned), Some(all_bytes));
}
