//! Verification keys from PEM files and JWK objects.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::Value;

use super::token::{algorithm_name, signature_algorithm};
use super::{KeyError, quoted};

/// Smallest RSA modulus accepted from a JWK, in bits.
pub(super) const MIN_RSA_BITS: usize = 2048;

/// Maximum entries read from one JWKS document. The rest are skipped with a warning.
pub(super) const MAX_JWKS_ENTRIES: usize = 100;

/// Setting that configured a key, which decides the claim checks and roles that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeySource {
    /// `auth.public_key_file`: the identity provider's key, such as the Keycloak realm key.
    PublicKeyFile,
    /// `auth.registration_public_key_file`: DIVOC's registration API, which signs
    /// citizen tokens with a `Phone` claim and nothing else.
    RegistrationKeyFile,
    /// `auth.jwks_file`: identity provider keys on disk.
    JwksFile,
    /// `auth.jwks_url`: identity provider keys fetched over HTTP.
    JwksUrl,
    /// Keys passed by the caller, such as the built-in citizen login's key.
    Caller,
}

impl KeySource {
    /// Setting name used in logs and errors.
    pub(super) fn name(self) -> &'static str {
        match self {
            KeySource::PublicKeyFile => "auth.public_key_file",
            KeySource::RegistrationKeyFile => "auth.registration_public_key_file",
            KeySource::JwksFile => "auth.jwks_file",
            KeySource::JwksUrl => "auth.jwks_url",
            KeySource::Caller => "built-in citizen login",
        }
    }

    /// Returns true for keys that only sign citizen logins. Their tokens get no
    /// roles, and the `iss` and `aud` checks do not apply to them because the
    /// registration API's tokens carry neither claim and the key alone names the issuer.
    pub(super) fn is_citizen_login(self) -> bool {
        matches!(self, KeySource::RegistrationKeyFile | KeySource::Caller)
    }
}

/// One public key and the algorithms it may verify.
#[derive(Clone)]
pub(super) struct VerificationKey {
    /// The JWK `kid`; `None` for PEM keys and JWKs without one.
    pub kid: Option<String>,
    /// Algorithms this key accepts, all of one family.
    pub algorithms: Vec<Algorithm>,
    /// The key material.
    pub key: DecodingKey,
    /// Setting that configured the key.
    pub source: KeySource,
}

impl VerificationKey {
    /// Returns true when the key may verify a token signed with `algorithm`.
    pub(super) fn accepts(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }
}

/// Loads a PEM public key file: RSA, EC or Ed25519.
pub(super) fn load_pem_file(path: &Path, source: KeySource) -> Result<VerificationKey, KeyError> {
    let pem = std::fs::read(path).map_err(|error| KeyError::Read {
        path: path.display().to_string(),
        source: error,
    })?;
    let (key, algorithms) = pem_key(&pem).ok_or_else(|| KeyError::Unsupported {
        path: path.display().to_string(),
    })?;
    if algorithms.contains(&Algorithm::RS256) {
        let weak = |reason: String| KeyError::WeakKey {
            path: path.display().to_string(),
            reason,
        };
        let bits = pem_rsa_modulus_bits(&pem)
            .ok_or_else(|| weak("the RSA modulus cannot be read".to_owned()))?;
        if bits < MIN_RSA_BITS {
            return Err(weak(format!(
                "RSA modulus has {bits} bits, fewer than {MIN_RSA_BITS}"
            )));
        }
    }
    Ok(VerificationKey {
        kid: None,
        algorithms,
        key,
        source,
    })
}

/// Returns the bits of the RSA modulus in a PEM public key, either a
/// `PUBLIC KEY` (SubjectPublicKeyInfo) or an `RSA PUBLIC KEY` (PKCS #1).
fn pem_rsa_modulus_bits(pem: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END "))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;

    let (tag, outer, _) = der_element(&der)?;
    if tag != DER_SEQUENCE {
        return None;
    }
    let (first_tag, _, rest) = der_element(outer)?;
    let rsa_key = if first_tag == DER_SEQUENCE {
        // SubjectPublicKeyInfo: the algorithm, then a bit string whose first
        // byte counts unused bits, followed by the PKCS #1 key.
        let (bits_tag, bit_string, _) = der_element(rest)?;
        if bits_tag != DER_BIT_STRING {
            return None;
        }
        let (tag, key, _) = der_element(bit_string.get(1..)?)?;
        (tag == DER_SEQUENCE).then_some(key)?
    } else {
        outer
    };

    let (tag, modulus, _) = der_element(rsa_key)?;
    if tag != DER_INTEGER {
        return None;
    }
    let significant: Vec<u8> = modulus
        .iter()
        .copied()
        .skip_while(|byte| *byte == 0)
        .collect();
    let first = significant.first()?;
    Some(significant.len() * 8 - first.leading_zeros() as usize)
}

const DER_INTEGER: u8 = 0x02;
const DER_BIT_STRING: u8 = 0x03;
const DER_SEQUENCE: u8 = 0x30;

/// Splits one DER element off `bytes`: its tag, its content and the bytes
/// after it.
fn der_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (length_bytes, rest) = rest.split_at(count);
        let length = length_bytes
            .iter()
            .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, rest)
    };
    if rest.len() < length {
        return None;
    }
    let (content, after) = rest.split_at(length);
    Some((tag, content, after))
}

/// Reads a PEM public key and the algorithms of its type; `None` when no
/// supported key is found. EC keys accept ES256 and ES384, and only the one that
/// matches the key's curve can verify.
fn pem_key(pem: &[u8]) -> Option<(DecodingKey, Vec<Algorithm>)> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        Some((key, AlgorithmFamily::Rsa.algorithms().to_vec()))
    } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        Some((key, AlgorithmFamily::Ec.algorithms().to_vec()))
    } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        Some((key, vec![Algorithm::EdDSA]))
    } else {
        None
    }
}

/// Loads a JWKS file. An unreadable file, a document that is not a JWKS, or a
/// JWKS without one usable signing key is an error.
pub(super) fn load_jwks_file(path: &Path) -> Result<Vec<VerificationKey>, KeyError> {
    let invalid = |reason: String| KeyError::Jwks {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read(path).map_err(|error| KeyError::Read {
        path: path.display().to_string(),
        source: error,
    })?;
    let document: Value =
        serde_json::from_slice(&text).map_err(|error| invalid(format!("not JSON: {error}")))?;
    let keys = parse_jwks(&document, KeySource::JwksFile).map_err(invalid)?;
    if keys.is_empty() {
        return Err(invalid("no usable signing key".to_owned()));
    }
    Ok(keys)
}

/// Reads the keys of a JWKS document (`{"keys": [...]}`). Entries that are not
/// usable signing keys are skipped with a warning. A document without a `keys`
/// array is an error.
pub(super) fn parse_jwks(
    document: &Value,
    source: KeySource,
) -> Result<Vec<VerificationKey>, String> {
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("not a JWKS document: no \"keys\" array")?;
    if entries.len() > MAX_JWKS_ENTRIES {
        tracing::warn!(
            source = source.name(),
            entries = entries.len(),
            "JWKS has more than {MAX_JWKS_ENTRIES} entries; the rest are skipped"
        );
    }
    Ok(parse_jwk_list(
        entries.iter().take(MAX_JWKS_ENTRIES),
        source,
    ))
}

/// Parses JWK objects, logging and skipping the unusable ones.
pub(super) fn parse_jwk_list<'a>(
    entries: impl Iterator<Item = &'a Value>,
    source: KeySource,
) -> Vec<VerificationKey> {
    let mut keys = Vec::new();
    for (index, entry) in entries.enumerate() {
        match parse_jwk(entry, source) {
            Ok(key) => keys.push(key),
            Err(reason) => {
                let kid = entry.get("kid").and_then(Value::as_str).map(quoted);
                tracing::warn!(
                    source = source.name(),
                    index,
                    kid = kid.as_deref().unwrap_or("(none)"),
                    "skipped JWK: {reason}"
                );
            }
        }
    }
    keys
}

/// Reads one JWK: RSA (`n`, `e`), EC P-256 (`x`, `y`) or OKP Ed25519 (`x`). The
/// error is the reason the entry is not usable for verifying signatures.
pub(super) fn parse_jwk(jwk: &Value, source: KeySource) -> Result<VerificationKey, String> {
    let object = jwk.as_object().ok_or("not a JSON object")?;
    let text = |name: &str| -> Result<Option<&str>, String> {
        match object.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(format!("{name} is not a string")),
        }
    };
    let kid = text("kid")?.map(str::to_owned);
    if let Some(usage) = text("use")?
        && usage != "sig"
    {
        return Err(format!("use is {}, not \"sig\"", quoted(usage)));
    }
    if let Some(operations) = object.get("key_ops") {
        let verifies = operations
            .as_array()
            .is_some_and(|list| list.iter().any(|item| item == "verify"));
        if !verifies {
            return Err("key_ops does not contain \"verify\"".to_owned());
        }
    }
    let declared = match text("alg")? {
        None => None,
        Some(name) => Some(signature_algorithm(name).ok_or_else(|| {
            format!(
                "alg {} is not a supported signature algorithm",
                quoted(name)
            )
        })?),
    };
    let kty = text("kty")?.ok_or("no kty")?;
    let (key, family_algorithms) = match kty {
        "RSA" => rsa_key(&text("n")?, &text("e")?)?,
        "EC" => ec_key(text("crv")?, &text("x")?, &text("y")?)?,
        "OKP" => okp_key(text("crv")?, &text("x")?)?,
        other => return Err(format!("key type {} is not supported", quoted(other))),
    };
    let algorithms = match declared {
        None => family_algorithms,
        Some(algorithm) if family_algorithms.contains(&algorithm) => vec![algorithm],
        Some(algorithm) => {
            return Err(format!(
                "alg {} does not fit key type {kty}",
                algorithm_name(algorithm)
            ));
        }
    };
    Ok(VerificationKey {
        kid,
        algorithms,
        key,
        source,
    })
}

fn required<'a>(value: &Option<&'a str>, name: &str) -> Result<&'a str, String> {
    value.ok_or_else(|| format!("no {name}"))
}

/// Decodes a base64url member of a JWK; padding is tolerated because some
/// issuers add it although RFC 7518 says not to.
fn decode_member(value: &str, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("{name} is not base64url"))
}

fn rsa_key(n: &Option<&str>, e: &Option<&str>) -> Result<(DecodingKey, Vec<Algorithm>), String> {
    let modulus = decode_member(required(n, "n")?, "n")?;
    let exponent = decode_member(required(e, "e")?, "e")?;
    let significant = modulus.iter().skip_while(|byte| **byte == 0).count();
    let bits = modulus
        .iter()
        .find(|byte| **byte != 0)
        .map_or(0, |first| significant * 8 - first.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA modulus has {bits} bits, fewer than {MIN_RSA_BITS}"
        ));
    }
    if exponent.iter().all(|byte| *byte == 0) {
        return Err("RSA exponent is zero".to_owned());
    }
    Ok((
        DecodingKey::from_rsa_raw_components(&modulus, &exponent),
        AlgorithmFamily::Rsa.algorithms().to_vec(),
    ))
}

fn ec_key(
    crv: Option<&str>,
    x: &Option<&str>,
    y: &Option<&str>,
) -> Result<(DecodingKey, Vec<Algorithm>), String> {
    match crv {
        Some("P-256") => {}
        Some(other) => {
            return Err(format!(
                "EC curve {} is not supported, only P-256",
                quoted(other)
            ));
        }
        None => return Err("no crv".to_owned()),
    }
    let x = decode_member(required(x, "x")?, "x")?;
    let y = decode_member(required(y, "y")?, "y")?;
    if x.len() != 32 || y.len() != 32 {
        return Err("P-256 coordinates x and y must be 32 bytes each".to_owned());
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    if p256::PublicKey::from_sec1_bytes(&point).is_err() {
        return Err("the point (x, y) is not on the P-256 curve".to_owned());
    }
    // jsonwebtoken's EC verifier reads a bare key as an uncompressed SEC1 point.
    Ok((DecodingKey::from_ec_der(&point), vec![Algorithm::ES256]))
}

fn okp_key(crv: Option<&str>, x: &Option<&str>) -> Result<(DecodingKey, Vec<Algorithm>), String> {
    match crv {
        Some("Ed25519") => {}
        Some(other) => {
            return Err(format!(
                "OKP curve {} is not supported, only Ed25519",
                quoted(other)
            ));
        }
        None => return Err("no crv".to_owned()),
    }
    let x = decode_member(required(x, "x")?, "x")?;
    if x.len() != 32 {
        return Err("Ed25519 x must be 32 bytes".to_owned());
    }
    // NOTE: an x that is not a valid curve point is only found when a token is
    // verified with it, and such a token then fails as an invalid signature.
    Ok((DecodingKey::from_ed_der(&x), vec![Algorithm::EdDSA]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

    use serde_json::json;

    use super::*;

    fn fixture_jwks() -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/test-jwks.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn entry(kid: &str) -> Value {
        fixture_jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["kid"] == kid)
            .unwrap()
            .clone()
    }

    /// Writes `pem` to a file and loads it as `auth.public_key_file`.
    fn load_pem_text(pem: &str) -> Result<VerificationKey, KeyError> {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("key.pem");
        std::fs::write(&path, pem).unwrap();
        load_pem_file(&path, KeySource::PublicKeyFile)
    }

    #[test]
    fn short_rsa_pem_rejected() {
        let spki_1024 = concat!(
            "-----BEGIN PUBLIC KEY-----\n",
            "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDw/4JfITgf7eJK2OjyTQ7Bft6s\n",
            "h0y1Bddne/iOxPpHgJ/AGWGCSbizVM4BwWjBxqOxx5igj56dqeSuypvzHoxHwTxf\n",
            "wa6XW7hcrawTx4oUW5PX6zzGbB7Pt1KERDZ8obU1Za4F7XyEba3rx7d8GN4x99MH\n",
            "5rPlnubsfIDL2clS9QIDAQAB\n",
            "-----END PUBLIC KEY-----\n",
        );
        let pkcs1_1024 = concat!(
            "-----BEGIN RSA PUBLIC KEY-----\n",
            "MIGJAoGBAPD/gl8hOB/t4krY6PJNDsF+3qyHTLUF12d7+I7E+keAn8AZYYJJuLNU\n",
            "zgHBaMHGo7HHmKCPnp2p5K7Km/MejEfBPF/BrpdbuFytrBPHihRbk9frPMZsHs+3\n",
            "UoRENnyhtTVlrgXtfIRtrevHt3wY3jH30wfms+We5ux8gMvZyVL1AgMBAAE=\n",
            "-----END RSA PUBLIC KEY-----\n",
        );
        for pem in [spki_1024, pkcs1_1024] {
            let Err(error) = load_pem_text(pem) else {
                panic!("a 1024-bit key was accepted");
            };
            assert!(
                error.to_string().ends_with(
                    "key.pem: RSA modulus has 1024 bits, fewer than 2048; use an RSA key of \
                     at least 2048 bits"
                ),
                "{error}"
            );
        }
        assert_eq!(pem_rsa_modulus_bits(spki_1024.as_bytes()), Some(1024));
        assert_eq!(pem_rsa_modulus_bits(pkcs1_1024.as_bytes()), Some(1024));
    }

    #[test]
    fn rsa_pem_of_2048_bits_loads() {
        let pkcs1_2048 = concat!(
            "-----BEGIN RSA PUBLIC KEY-----\n",
            "MIIBCgKCAQEAsHk6GYlENhaGa1Pv5jHndDPSHy224KrLpQX9l8HQ2U5Qzhe2uKFg\n",
            "1Pjj0CbI5VVgR/DjAVEPBtcyqQQ5SVjdQWldGTQfr0PlgpU+7jQirdCUQ532jGpi\n",
            "AQJnUjFtqrxE5pUn3YminvP8BilbTJS/pna/RjngvMwn9gHZc5qlwpFq/owGvSwi\n",
            "EZ4AC8lvxNinQe4BwLX09XG4zbo1Q5BE9fa/LGwqklDi2QQeblY/F+ms/VfDEPrH\n",
            "Y1Ec6F4dMl658SwZReLI2BaZE25vo7NPVY7y4njA4d5CUfLsjRDvjdERSvvyx167\n",
            "o+vTs4txsWK5OWHoiO0tkck76q/tKKdtLwIDAQAB\n",
            "-----END RSA PUBLIC KEY-----\n",
        );
        assert_eq!(pem_rsa_modulus_bits(pkcs1_2048.as_bytes()), Some(2048));
        assert!(load_pem_text(pkcs1_2048).is_ok());
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/test-rsa-public.pem");
        let spki = std::fs::read(&fixture).unwrap();
        assert_eq!(pem_rsa_modulus_bits(&spki), Some(2048));
        assert!(load_pem_file(&fixture, KeySource::PublicKeyFile).is_ok());
    }

    #[test]
    fn rsa_jwk_parsed() {
        let key = parse_jwk(&entry("jwks-rsa-1"), KeySource::JwksFile).unwrap();
        assert_eq!(key.kid.as_deref(), Some("jwks-rsa-1"));
        assert_eq!(key.algorithms, AlgorithmFamily::Rsa.algorithms());
        assert_eq!(key.key.family(), AlgorithmFamily::Rsa);
        assert_eq!(key.source, KeySource::JwksFile);
    }

    #[test]
    fn ec_jwk_parsed() {
        let key = parse_jwk(&entry("jwks-ec-1"), KeySource::JwksUrl).unwrap();
        assert_eq!(key.kid.as_deref(), Some("jwks-ec-1"));
        assert_eq!(key.algorithms, [Algorithm::ES256]);
        assert_eq!(key.key.family(), AlgorithmFamily::Ec);
    }

    #[test]
    fn okp_jwk_parsed() {
        let key = parse_jwk(&entry("jwks-ed-1"), KeySource::Caller).unwrap();
        assert_eq!(key.kid.as_deref(), Some("jwks-ed-1"));
        assert_eq!(key.algorithms, [Algorithm::EdDSA]);
        assert_eq!(key.key.family(), AlgorithmFamily::Ed);
    }

    #[test]
    fn rsa_jwk_alg_narrows_algorithms() {
        let mut jwk = entry("jwks-rsa-1");
        jwk["alg"] = json!("PS256");
        let key = parse_jwk(&jwk, KeySource::JwksFile).unwrap();
        assert_eq!(key.algorithms, [Algorithm::PS256]);
    }

    #[test]
    fn jwks_keeps_only_signing_keys() {
        let keys = parse_jwks(&fixture_jwks(), KeySource::JwksFile).unwrap();
        let kids: Vec<&str> = keys.iter().filter_map(|key| key.kid.as_deref()).collect();
        assert_eq!(kids, ["jwks-rsa-1", "jwks-ec-1", "jwks-ed-1"]);
    }

    #[test]
    fn wrong_type_entries_rejected() {
        let cases = [
            (
                "hmac-1",
                "alg \"HS256\" is not a supported signature algorithm",
            ),
            ("ec-p384", "EC curve \"P-384\" is not supported, only P-256"),
            (
                "ec-secp256k1",
                "EC curve \"secp256k1\" is not supported, only P-256",
            ),
            ("rsa-as-es256", "alg ES256 does not fit key type RSA"),
            ("rsa-enc", "use is \"enc\", not \"sig\""),
            (
                "x25519",
                "OKP curve \"X25519\" is not supported, only Ed25519",
            ),
        ];
        for (kid, reason) in cases {
            let result = parse_jwk(&entry(kid), KeySource::JwksFile);
            assert_eq!(result.err().as_deref(), Some(reason), "{kid}");
        }
    }

    #[test]
    fn malformed_members_rejected() {
        let ec = entry("jwks-ec-1");
        let mut off_curve = ec.clone();
        off_curve["y"] = ec["x"].clone();
        let mut short_rsa = entry("jwks-rsa-1");
        short_rsa["n"] = json!(URL_SAFE_NO_PAD.encode([0xC5; 128]));
        let mut oct_without_alg = entry("hmac-1");
        oct_without_alg.as_object_mut().unwrap().remove("alg");
        let cases = [
            (off_curve, "the point (x, y) is not on the P-256 curve"),
            (short_rsa, "RSA modulus has 1024 bits, fewer than 2048"),
            (oct_without_alg, "key type \"oct\" is not supported"),
            (json!({"kty": "RSA", "e": "AQAB"}), "no n"),
            (
                json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
                "P-256 coordinates x and y must be 32 bytes each",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": "***"}),
                "x is not base64url",
            ),
            (json!({"kty": "OKP", "x": "AA"}), "no crv"),
            (json!({"n": "AA"}), "no kty"),
            (json!({"kty": "RSA", "kid": 5}), "kid is not a string"),
            (
                json!({"kty": "RSA", "key_ops": ["encrypt"]}),
                "key_ops does not contain \"verify\"",
            ),
            (json!("RSA"), "not a JSON object"),
        ];
        for (jwk, reason) in cases {
            let result = parse_jwk(&jwk, KeySource::JwksFile);
            assert_eq!(result.err().as_deref(), Some(reason), "{jwk}");
        }
    }

    #[test]
    fn document_without_keys_rejected() {
        let result = parse_jwks(&json!({"key": []}), KeySource::JwksUrl);
        assert_eq!(
            result.err().as_deref(),
            Some("not a JWKS document: no \"keys\" array")
        );
    }

    #[test]
    fn pem_key_types_detected() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys");
        let cases = [
            (
                "test-rsa-public.pem",
                AlgorithmFamily::Rsa.algorithms().to_vec(),
            ),
            (
                "test-ec-public.pem",
                vec![Algorithm::ES256, Algorithm::ES384],
            ),
            ("test-ed25519-public.pem", vec![Algorithm::EdDSA]),
        ];
        for (name, algorithms) in cases {
            let key = load_pem_file(&folder.join(name), KeySource::PublicKeyFile).unwrap();
            assert_eq!(key.algorithms, algorithms, "{name}");
            assert_eq!(key.kid, None, "{name}");
        }
        let error = load_pem_file(&folder.join("test-jwks.json"), KeySource::PublicKeyFile)
            .err()
            .unwrap();
        assert!(matches!(error, KeyError::Unsupported { .. }), "{error}");
    }
}
