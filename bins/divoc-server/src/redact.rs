//! Log-safe references to personal identifiers.

use sha2::{Digest, Sha256};

/// Returns a short, stable reference for a certificate id that can go into logs:
/// the first 12 hex digits of its SHA-256. An operator finds the certificate by
/// hashing candidate ids the same way (`printf %s ID | sha256sum | cut -c1-12`).
pub fn certificate_ref(certificate_id: &str) -> String {
    let digest = Sha256::digest(certificate_id.as_bytes());
    digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::certificate_ref;

    #[test]
    fn reference_is_sha256_prefix() {
        // The value of `printf %s 712988986 | sha256sum | cut -c1-12`.
        assert_eq!(certificate_ref("712988986"), "289dfb1c1914");
    }
}
