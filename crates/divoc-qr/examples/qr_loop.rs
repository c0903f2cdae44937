#![allow(missing_docs, clippy::unwrap_used)]
fn main() {
    let cert = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/certificate_2kb.json"
    ))
    .unwrap();
    let opts = divoc_qr::QrOptions::default();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let mut total = 0u32;
    for _ in 0..n {
        let qr = divoc_qr::CertificateQr::new(&cert, &opts).unwrap();
        total += qr.size();
    }
    println!("{total}");
}
