//! The key that signs citizen tokens: loading it, its public JWK, and signing.

use crate::devkey::write_private;
use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::LineEnding;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::OtpError;

/// Signs citizen tokens with an Ed25519 (EdDSA) or P-256 (ES256) private key.
pub(super) struct TokenSigner {
    encoding_key: EncodingKey,
    algorithm: Algorithm,
    key_id: String,
    public_jwk: Value,
    /// Bytes of the private key, the secret from which the code-hash pepper is
    /// derived. Never leaves this process.
    secret: [u8; 32],
}

/// Claims of a citizen token.
#[derive(Serialize)]
pub(super) struct CitizenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub preferred_username: &'a str,
    pub iat: i64,
    pub exp: i64,
}

impl TokenSigner {
    /// Reads a PKCS#8 PEM private key. `key_id` overrides the default `kid`, the
    /// RFC 7638 thumbprint of the public key.
    pub(super) fn from_pem_file(path: &Path, key_id: Option<&str>) -> Result<Self, OtpError> {
        let pem = fs::read_to_string(path).map_err(|error| {
            OtpError::Key(format!(
                "cannot read otp.signing_key_file {}: {error}",
                path.display()
            ))
        })?;
        Self::from_pem(&pem, key_id).map_err(|reason| {
            OtpError::Key(format!("otp.signing_key_file {}: {reason}", path.display()))
        })
    }

    /// Parses a PKCS#8 PEM private key. The error describes what is wrong with it.
    pub(super) fn from_pem(pem: &str, key_id: Option<&str>) -> Result<Self, String> {
        let (algorithm, encoding_key, secret, public_members) =
            if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
                let encoding_key = EncodingKey::from_ed_pem(pem.as_bytes())
                    .map_err(|error| format!("Ed25519 key rejected by the JWT signer: {error}"))?;
                let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
                let members = json!({"crv": "Ed25519", "kty": "OKP", "x": x});
                (Algorithm::EdDSA, encoding_key, key.to_bytes(), members)
            } else if let Ok(key) = p256::SecretKey::from_pkcs8_pem(pem) {
                let encoding_key = EncodingKey::from_ec_pem(pem.as_bytes())
                    .map_err(|error| format!("P-256 key rejected by the JWT signer: {error}"))?;
                let point = key.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err("the P-256 public key has no coordinates".to_owned());
                };
                let members = json!({
                    "crv": "P-256",
                    "kty": "EC",
                    "x": URL_SAFE_NO_PAD.encode(x),
                    "y": URL_SAFE_NO_PAD.encode(y),
                });
                (
                    Algorithm::ES256,
                    encoding_key,
                    key.to_bytes().into(),
                    members,
                )
            } else {
                return Err("not a PKCS#8 PEM private key of type Ed25519 or EC P-256 \
                            (make one with `openssl genpkey -algorithm ed25519`)"
                    .to_owned());
            };
        let key_id = match key_id {
            Some(key_id) if !key_id.trim().is_empty() => key_id.to_owned(),
            _ => thumbprint(&public_members),
        };
        let mut public_jwk = public_members;
        if let Value::Object(members) = &mut public_jwk {
            members.insert("kid".to_owned(), Value::String(key_id.clone()));
            members.insert(
                "alg".to_owned(),
                Value::String(algorithm_name(algorithm).to_owned()),
            );
            members.insert("use".to_owned(), Value::String("sig".to_owned()));
        }
        Ok(TokenSigner {
            encoding_key,
            algorithm,
            key_id,
            public_jwk,
            secret,
        })
    }

    /// Returns the public JWK with `kid`, `alg` and `use`.
    pub(super) fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Returns the `kid` put in every token header.
    pub(super) fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Returns the JWS algorithm name, `EdDSA` or `ES256`.
    pub(super) fn algorithm_name(&self) -> &'static str {
        algorithm_name(self.algorithm)
    }

    /// Returns the private key bytes, for deriving the pepper.
    pub(super) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// Signs a compact JWT with the `kid` in its header.
    pub(super) fn sign(&self, claims: &CitizenClaims<'_>) -> Result<String, String> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key).map_err(|error| error.to_string())
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::ES256 => "ES256",
        _ => "EdDSA",
    }
}

/// Computes the RFC 7638 thumbprint: the unpadded base64url SHA-256 of the
/// required public members, sorted by name, as JSON without spaces.
/// `members` contains exactly those members, inserted in sorted order, and the
/// workspace builds serde_json with `preserve_order`, so they stay sorted.
fn thumbprint(members: &Value) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.to_string().as_bytes()))
}

/// Makes an Ed25519 PKCS#8 PEM private key at `path`, readable by its owner
/// only, unless a file exists there already. The existing file is left as it is.
///
/// The key is written as PKCS#8 version 1, without the public key,
/// as `openssl genpkey -algorithm ed25519` writes it, because `openssl pkey`
/// of OpenSSL 3.0.19 cannot read the version 2 form that ed25519-dalek 2
/// writes. [`TokenSigner::from_pem`] reads both versions.
pub(super) fn ensure_development_key(path: &Path) -> Result<(), OtpError> {
    if path.exists() {
        return Ok(());
    }
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
    {
        fs::create_dir_all(folder).map_err(|error| {
            OtpError::Key(format!(
                "cannot create folder {}: {error}",
                folder.display()
            ))
        })?;
    }
    let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    // Without the public key, the encoding is version 1.
    let seed_only = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let pem = seed_only
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| OtpError::Key(format!("cannot encode the development key: {error}")))?;
    match write_private(path, pem.as_bytes()) {
        Ok(()) => {}
        // Another process made the key in the meantime: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => {
            return Err(OtpError::Key(format!(
                "cannot write development key {}: {error}",
                path.display()
            )));
        }
    }
    tracing::warn!(
        path = %path.display(),
        "made a development signing key for citizen tokens; configure otp.signing_key_file for production"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    /// The Ed25519 key of RFC 8037, appendix A.1, as PKCS#8 PEM.
    const RFC8037_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
                               MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
                               -----END PRIVATE KEY-----\n";

    #[test]
    fn ed25519_jwk_matches_rfc8037() {
        let signer = TokenSigner::from_pem(RFC8037_PEM, None).unwrap();
        let jwk = signer.public_jwk();
        // RFC 8037, appendix A.2 (public key) and A.3 (thumbprint).
        assert_eq!(jwk["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(jwk["kid"], "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(
            signer.key_id(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn configured_key_id_replaces_thumbprint() {
        let signer = TokenSigner::from_pem(RFC8037_PEM, Some("citizen-2026")).unwrap();
        assert_eq!(signer.public_jwk()["kid"], "citizen-2026");
    }

    #[test]
    fn p256_jwk_has_both_coordinates() {
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&secret, LineEnding::LF).unwrap();
        let signer = TokenSigner::from_pem(&pem, None).unwrap();
        let jwk = signer.public_jwk();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        assert_eq!(x.len(), 32);
        assert_eq!(y.len(), 32);
    }

    #[test]
    fn other_pem_is_rejected() {
        let error = TokenSigner::from_pem(
            "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
            None,
        )
        .err()
        .unwrap();
        assert!(error.starts_with("not a PKCS#8 PEM private key"), "{error}");
    }

    /// Start of the DER of an Ed25519 PKCS#8 version 1 key, as in
    /// [`RFC8037_PEM`]: the sequence, version 0, the algorithm id 1.3.101.112
    /// and the octet string that contains the 32-byte seed.
    const PKCS8_V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];

    /// Returns the DER bytes of a PEM file with one block.
    fn pem_der(pem: &str) -> Vec<u8> {
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    #[test]
    fn development_key_is_pkcs8_v1() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("otp.pem");
        ensure_development_key(&path).unwrap();
        let pem = fs::read_to_string(&path).unwrap();
        let der = pem_der(&pem);
        assert_eq!(pem_der(RFC8037_PEM)[..16], PKCS8_V1_PREFIX);
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], PKCS8_V1_PREFIX);

        // Round trip: the file gives back the key, and the signer reads it.
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(key.to_bytes()[..], der[16..]);
        let signer = TokenSigner::from_pem(&pem, None).unwrap();
        assert_eq!(signer.secret(), &key.to_bytes());
        assert_eq!(
            signer.public_jwk()["x"],
            URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())
        );
    }

    #[test]
    fn pkcs8_v2_key_still_read() {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(RFC8037_PEM).unwrap();
        let v2 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        // Version 2 has the version number 1 and adds the public key.
        assert_eq!(pem_der(&v2)[4], 0x01);
        let signer = TokenSigner::from_pem(&v2, None).unwrap();
        assert_eq!(
            signer.public_jwk()["x"],
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
    }

    #[test]
    fn development_key_read_by_openssl() {
        let found = std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_ok();
        if !found {
            assert!(
                std::env::var("DIVOC_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "openssl is required (DIVOC_REQUIRE_TOOLS=1) but not installed: \
                 apt-get install openssl"
            );
            eprintln!("skipping: openssl is not installed (Debian package openssl)");
            return;
        }
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("otp.pem");
        ensure_development_key(&path).unwrap();
        let output = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl pkey failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn development_key_is_private_and_kept() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("keys").join("otp.pem");
        ensure_development_key(&path).unwrap();
        let first = fs::read_to_string(&path).unwrap();
        assert!(first.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(TokenSigner::from_pem(&first, None).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        ensure_development_key(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), first);
    }
}
