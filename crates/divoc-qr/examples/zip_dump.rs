#![allow(missing_docs, clippy::unwrap_used)]
fn main() {
    let cert = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/certificate_2kb.json"
    ))
    .unwrap();
    let z = divoc_qr::zip_certificate(&cert).unwrap();
    std::fs::write("/tmp/z.zip", &z).unwrap();
}
