//! Structural checks of a compact JWS before any key is tried: exactly three
//! base64url parts, a JSON header with an accepted `alg`, and a signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::quoted;

/// The header fields that key selection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TokenHeader {
    /// The signature algorithm, one of the asymmetric algorithms.
    pub algorithm: Algorithm,
    /// The `kid` header parameter, if any.
    pub kid: Option<String>,
}

/// Checks the structure of `token` and reads its header. The error text names
/// the cause and never contains the token.
pub(super) fn parse_header(token: &str) -> Result<TokenHeader, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "expected 3 dot-separated parts, found {}",
            parts.len()
        ));
    }
    let (header, payload, signature) = (parts[0], parts[1], parts[2]);

    let header = decode_part(header).ok_or("header is not base64url")?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header).map_err(|_| "header is not a JSON object")?;
    let algorithm = match header.get("alg") {
        Some(Value::String(name)) => accepted_algorithm(name)?,
        Some(_) => return Err("alg is not a string".to_owned()),
        None => return Err("header has no alg".to_owned()),
    };
    // RFC 7515 section 4.1.11: a token that relies on an extension must be
    // rejected by a verifier that does not implement it, and this one implements none.
    if header.contains_key("crit") {
        return Err("critical header parameters (crit) are not supported".to_owned());
    }
    let kid = match header.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("kid is not a string".to_owned()),
        None => None,
    };

    if signature.is_empty() {
        return Err("empty signature".to_owned());
    }
    if decode_part(signature).is_none() {
        return Err("signature is not base64url".to_owned());
    }
    if decode_part(payload).is_none() {
        return Err("payload is not base64url".to_owned());
    }
    Ok(TokenHeader { algorithm, kid })
}

/// Decodes one part: base64url without padding, as RFC 7515 requires. An empty
/// part is not valid.
fn decode_part(part: &str) -> Option<Vec<u8>> {
    if part.is_empty() {
        return None;
    }
    URL_SAFE_NO_PAD.decode(part).ok()
}

/// Maps the `alg` header value to an accepted algorithm. `none` and the HMAC
/// algorithms are rejected here, before any key is tried, so a token "signed"
/// with a public key as an HMAC secret never reaches a key.
fn accepted_algorithm(name: &str) -> Result<Algorithm, String> {
    if name.eq_ignore_ascii_case("none") || matches!(name, "HS256" | "HS384" | "HS512") {
        // The wording is kept from the single-key verifier for existing clients.
        return Err(format!("algorithm {name} is not accepted for this key"));
    }
    match name {
        "RS256" => Ok(Algorithm::RS256),
        "RS384" => Ok(Algorithm::RS384),
        "RS512" => Ok(Algorithm::RS512),
        "PS256" => Ok(Algorithm::PS256),
        "PS384" => Ok(Algorithm::PS384),
        "PS512" => Ok(Algorithm::PS512),
        "ES256" => Ok(Algorithm::ES256),
        "ES384" => Ok(Algorithm::ES384),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => Err(format!("algorithm {} is not supported", quoted(other))),
    }
}

/// Returns the JWA name of an accepted algorithm, such as `RS256`.
pub(super) fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        // `Algorithm` is non-exhaustive, but `accepted_algorithm` returns none of the others.
        _ => "(unknown)",
    }
}

/// Maps a JWK `alg` value to an asymmetric signature algorithm. Returns `None`
/// for every other value, HMAC and encryption algorithms included.
pub(super) fn signature_algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "HS256" | "HS384" | "HS512" => None,
        other => accepted_algorithm(other).ok(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn encode(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", encode(header), encode(r#"{"exp":1}"#))
    }

    #[test]
    fn header_with_kid_parsed() {
        let parsed = parse_header(&token(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::ES256);
        assert_eq!(parsed.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn structural_errors_named() {
        let payload = encode(r#"{"exp":1}"#);
        let header = encode(r#"{"alg":"RS256"}"#);
        let cases = [
            ("a.b".to_owned(), "expected 3 dot-separated parts, found 2"),
            (
                format!("{header}.{payload}.c2ln.c2ln"),
                "expected 3 dot-separated parts, found 4",
            ),
            (
                format!("{header}.{payload}.c2ln.c2ln.c2ln"),
                "expected 3 dot-separated parts, found 5",
            ),
            (format!("!!.{payload}.c2ln"), "header is not base64url"),
            (format!(".{payload}.c2ln"), "header is not base64url"),
            (
                format!("{header}=.{payload}.c2ln"),
                "header is not base64url",
            ),
            (
                format!("{}.{payload}.c2ln", encode("[1]")),
                "header is not a JSON object",
            ),
            (format!("{header}.{payload}."), "empty signature"),
            (
                format!("{header}.{payload}.c2l*"),
                "signature is not base64url",
            ),
            (
                format!("{header}.{payload}.a"),
                "signature is not base64url",
            ),
            (
                format!("{header}.pay+load.c2ln"),
                "payload is not base64url",
            ),
            (format!("{header}..c2ln"), "payload is not base64url"),
            (token(r#"{"typ":"JWT"}"#), "header has no alg"),
            (token(r#"{"alg":256}"#), "alg is not a string"),
            (
                token(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#),
                "critical header parameters (crit) are not supported",
            ),
            (token(r#"{"alg":"RS256","kid":7}"#), "kid is not a string"),
        ];
        for (token, expected) in cases {
            assert_eq!(parse_header(&token), Err(expected.to_owned()), "{token}");
        }
    }

    #[test]
    fn none_and_hmac_rejected() {
        for (alg, expected) in [
            ("none", "algorithm none is not accepted for this key"),
            ("NONE", "algorithm NONE is not accepted for this key"),
            ("HS256", "algorithm HS256 is not accepted for this key"),
            ("HS384", "algorithm HS384 is not accepted for this key"),
            ("HS512", "algorithm HS512 is not accepted for this key"),
            ("ES512", "algorithm \"ES512\" is not supported"),
            ("RSA-OAEP", "algorithm \"RSA-OAEP\" is not supported"),
        ] {
            let header = format!(r#"{{"alg":"{alg}"}}"#);
            assert_eq!(parse_header(&token(&header)), Err(expected.to_owned()));
        }
    }

    #[test]
    fn alg_checked_before_signature() {
        let unsigned = format!(
            "{}.{}.",
            encode(r#"{"alg":"none"}"#),
            encode(r#"{"exp":1}"#)
        );
        assert_eq!(
            parse_header(&unsigned),
            Err("algorithm none is not accepted for this key".to_owned())
        );
    }

    #[test]
    fn jwk_alg_names_mapped() {
        assert_eq!(signature_algorithm("PS256"), Some(Algorithm::PS256));
        assert_eq!(signature_algorithm("EdDSA"), Some(Algorithm::EdDSA));
        assert_eq!(signature_algorithm("HS256"), None);
        assert_eq!(signature_algorithm("RSA-OAEP"), None);
        assert_eq!(signature_algorithm("none"), None);
    }
}
