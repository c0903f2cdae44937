//! Key selection, claim checks and sources of `TokenVerifier`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use super::*;

fn key_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/keys")
        .join(name)
}

/// Signs `claims` with the private key in `name`, with an optional `kid`.
fn sign(name: &str, algorithm: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let pem = std::fs::read(key_file(name)).unwrap();
    let key = match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key).unwrap()
}

fn claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "partner-1", "exp": now + 600, "realm_access": {"roles": ["api"]}})
}

fn jwks_settings() -> AuthSettings {
    AuthSettings {
        jwks_file: Some(key_file("test-jwks.json")),
        ..AuthSettings::default()
    }
}

fn pem_settings() -> AuthSettings {
    AuthSettings {
        public_key_file: Some(key_file("test-rsa-public.pem")),
        ..AuthSettings::default()
    }
}

fn verifier(settings: &AuthSettings) -> TokenVerifier {
    TokenVerifier::from_settings(settings, &[]).unwrap()
}

fn rejection(verifier: &TokenVerifier, token: &str) -> String {
    match verifier.authenticate_token(token) {
        Ok(principal) => panic!("accepted: {principal:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn verifier_is_shareable() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<TokenVerifier>();
}

#[test]
fn kid_selects_jwks_key() {
    let verifier = verifier(&jwks_settings());
    for (file, algorithm, kid) in [
        ("jwks-rsa-private.pem", Algorithm::RS256, "jwks-rsa-1"),
        ("jwks-rsa-private.pem", Algorithm::PS256, "jwks-rsa-1"),
        ("jwks-rsa-private.pem", Algorithm::RS512, "jwks-rsa-1"),
        ("jwks-ec-private.pem", Algorithm::ES256, "jwks-ec-1"),
        ("jwks-ed25519-private.pem", Algorithm::EdDSA, "jwks-ed-1"),
    ] {
        let token = sign(file, algorithm, Some(kid), &claims());
        let principal = verifier.authenticate_token(&token);
        assert!(
            principal.as_ref().is_ok_and(|p| p.distribution),
            "{kid} {algorithm:?}: {principal:?}"
        );
    }
}

#[test]
fn token_without_kid_tries_fitting_keys() {
    let verifier = verifier(&jwks_settings());
    let token = sign("jwks-ec-private.pem", Algorithm::ES256, None, &claims());
    assert!(verifier.authenticate_token(&token).is_ok());
    let token = sign(
        "jwks-ed25519-private.pem",
        Algorithm::EdDSA,
        None,
        &claims(),
    );
    assert!(verifier.authenticate_token(&token).is_ok());
}

#[test]
fn kid_rules_rejections() {
    let verifier = verifier(&jwks_settings());
    let cases = [
        (
            sign(
                "jwks-rsa-private.pem",
                Algorithm::RS256,
                Some("k2"),
                &claims(),
            ),
            "invalid token: unknown key id \"k2\"",
        ),
        // The entry exists in the file but was skipped: its `alg` does not fit RSA.
        (
            sign(
                "jwks-rsa-private.pem",
                Algorithm::RS256,
                Some("rsa-as-es256"),
                &claims(),
            ),
            "invalid token: unknown key id \"rsa-as-es256\"",
        ),
        (
            sign(
                "jwks-p384-private.pem",
                Algorithm::ES384,
                Some("ec-p384"),
                &claims(),
            ),
            "invalid token: unknown key id \"ec-p384\"",
        ),
        // A key exists for the kid, but of another type.
        (
            sign(
                "jwks-ec-private.pem",
                Algorithm::ES256,
                Some("jwks-rsa-1"),
                &claims(),
            ),
            "invalid token: algorithm ES256 does not fit key \"jwks-rsa-1\"",
        ),
        // The right kid, signed by another key of the same type.
        (
            sign(
                "other-rsa-private.pem",
                Algorithm::RS256,
                Some("jwks-rsa-1"),
                &claims(),
            ),
            "invalid token: the signature does not verify",
        ),
        (
            sign("other-rsa-private.pem", Algorithm::RS256, None, &claims()),
            "invalid token: the signature does not verify",
        ),
        (
            sign("jwks-p384-private.pem", Algorithm::ES384, None, &claims()),
            "invalid token: no configured key accepts algorithm ES384",
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(rejection(&verifier, &token), expected);
    }
}

#[test]
fn long_kid_cut_in_message() {
    let verifier = verifier(&jwks_settings());
    let kid = "k".repeat(100);
    let token = sign(
        "jwks-rsa-private.pem",
        Algorithm::RS256,
        Some(&kid),
        &claims(),
    );
    let expected = format!("invalid token: unknown key id \"{}\"...", "k".repeat(64));
    assert_eq!(rejection(&verifier, &token), expected);
}

#[test]
fn pem_key_accepts_any_kid() {
    // Keycloak tokens name their key with a kid that a PEM file cannot carry.
    let verifier = verifier(&pem_settings());
    let token = sign(
        "test-rsa-private.pem",
        Algorithm::RS256,
        Some("keycloak-realm-key"),
        &claims(),
    );
    assert!(verifier.authenticate_token(&token).is_ok());
    let token = sign(
        "other-rsa-private.pem",
        Algorithm::RS256,
        Some("k2"),
        &claims(),
    );
    assert_eq!(
        rejection(&verifier, &token),
        "invalid token: unknown key id \"k2\""
    );
}

#[test]
fn sources_combined() {
    let settings = AuthSettings {
        public_key_file: Some(key_file("test-ed25519-public.pem")),
        registration_public_key_file: Some(key_file("registration-rsa-public.pem")),
        jwks_file: Some(key_file("test-jwks.json")),
        ..AuthSettings::default()
    };
    // A null entry, as from a caller without a key, is skipped with a warning.
    let verifier = TokenVerifier::from_settings(&settings, &[Value::Null]).unwrap();
    let tokens = [
        sign(
            "test-ed25519-private.pem",
            Algorithm::EdDSA,
            None,
            &claims(),
        ),
        sign(
            "registration-rsa-private.pem",
            Algorithm::RS256,
            None,
            &claims(),
        ),
        sign(
            "jwks-rsa-private.pem",
            Algorithm::PS384,
            Some("jwks-rsa-1"),
            &claims(),
        ),
    ];
    for token in tokens {
        assert!(verifier.authenticate_token(&token).is_ok());
    }
}

#[test]
fn caller_jwk_verifies_citizen_token() {
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(key_file("test-jwks.json")).unwrap()).unwrap();
    let verifier =
        TokenVerifier::from_settings(&pem_settings(), &[jwks["keys"][1].clone()]).unwrap();
    let mut citizen = claims();
    citizen["preferred_username"] = json!("9000000001");
    let token = sign(
        "jwks-ec-private.pem",
        Algorithm::ES256,
        Some("jwks-ec-1"),
        &citizen,
    );
    let principal = verifier.authenticate_token(&token).unwrap();
    // The caller's keys sign citizen logins only: the `api` role is ignored.
    assert!(!principal.distribution);
    assert_eq!(principal.mobile.as_deref(), Some("9000000001"));
}

#[test]
fn registration_token_is_citizen() {
    let settings = AuthSettings {
        registration_public_key_file: Some(key_file("registration-rsa-public.pem")),
        issuer: Some("https://keycloak.test/auth/realms/divoc".to_owned()),
        audience: Some("certificate-api".to_owned()),
        ..AuthSettings::default()
    };
    let verifier = verifier(&settings);
    let now = chrono::Utc::now().timestamp();
    // DIVOC's registration API signs `Phone` and `exp` only: no iss, no aud.
    let phone = json!({"Phone": "9000000003", "exp": now + 600});
    let token = sign(
        "registration-rsa-private.pem",
        Algorithm::RS256,
        None,
        &phone,
    );
    let principal = verifier.authenticate_token(&token).unwrap();
    assert_eq!(
        principal,
        Principal {
            subject: None,
            distribution: false,
            print: false,
            mobile: Some("9000000003".to_owned()),
        }
    );

    // The key signs citizen logins only, so a role claim gives no role.
    let with_role =
        json!({"Phone": "9000000003", "exp": now + 600, "realm_access": {"roles": ["api"]}});
    let token = sign(
        "registration-rsa-private.pem",
        Algorithm::RS256,
        None,
        &with_role,
    );
    let principal = verifier.authenticate_token(&token).unwrap();
    assert!(!principal.distribution);

    let expired = json!({"Phone": "9000000003", "exp": now - 600});
    let token = sign(
        "registration-rsa-private.pem",
        Algorithm::RS256,
        None,
        &expired,
    );
    assert_eq!(rejection(&verifier, &token), "invalid token: expired");
}

#[test]
fn issuer_and_audience_checked() {
    let settings = AuthSettings {
        issuer: Some("https://keycloak.test/auth/realms/divoc".to_owned()),
        audience: Some("certificate-api".to_owned()),
        ..pem_settings()
    };
    let verifier = verifier(&settings);
    let with = |changes: Value| {
        let mut claims = claims();
        claims["iss"] = json!("https://keycloak.test/auth/realms/divoc");
        claims["aud"] = json!("certificate-api");
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        sign("test-rsa-private.pem", Algorithm::RS256, None, &claims)
    };
    assert!(verifier.authenticate_token(&with(json!({}))).is_ok());
    let array = with(json!({"aud": ["account", "certificate-api"]}));
    assert!(verifier.authenticate_token(&array).is_ok());
    let cases = [
        (
            json!({"iss": "https://evil.test/realms/divoc"}),
            "invalid token: issuer mismatch",
        ),
        (
            json!({"iss": null}),
            "invalid token: the required claim iss is missing",
        ),
        (
            json!({"aud": "account"}),
            "invalid token: audience mismatch",
        ),
        (
            json!({"aud": ["account", "admin"]}),
            "invalid token: audience mismatch",
        ),
        (
            json!({"aud": null}),
            "invalid token: the required claim aud is missing",
        ),
        (
            json!({"iss": null, "aud": null}),
            "invalid token: the required claim iss is missing",
        ),
        (
            json!({"exp": null}),
            "invalid token: the required claim exp is missing",
        ),
        (
            json!({"exp": "tomorrow"}),
            "invalid token: the claim exp must be a number",
        ),
        (
            json!({"exp": -1}),
            "invalid token: the claim exp must be a time in seconds since \
             1970-01-01T00:00:00Z from 0 to 18446744073709551615, not -1",
        ),
        (
            json!({"nbf": "now"}),
            "invalid token: the claim nbf must be a number",
        ),
    ];
    for (changes, expected) in cases {
        let token = with(changes.clone());
        assert_eq!(rejection(&verifier, &token), expected, "{changes}");
    }
}

#[test]
fn leeway_applied() {
    let settings = AuthSettings {
        leeway_seconds: 60,
        ..pem_settings()
    };
    let verifier = verifier(&settings);
    let now = chrono::Utc::now().timestamp();
    let sign_times = |exp: i64, nbf: i64| {
        sign(
            "test-rsa-private.pem",
            Algorithm::RS256,
            None,
            &json!({"exp": exp, "nbf": nbf}),
        )
    };
    assert!(
        verifier
            .authenticate_token(&sign_times(now - 30, now))
            .is_ok()
    );
    assert!(
        verifier
            .authenticate_token(&sign_times(now + 600, now + 30))
            .is_ok()
    );
    assert_eq!(
        rejection(&verifier, &sign_times(now - 120, now - 600)),
        "invalid token: expired"
    );
    assert_eq!(
        rejection(&verifier, &sign_times(now + 600, now + 120)),
        "invalid token: not valid yet (nbf is in the future)"
    );
}

#[test]
fn token_over_limit_rejected() {
    let verifier = verifier(&pem_settings());
    let token = "a".repeat(MAX_AUTHORIZATION_BYTES + 1);
    assert_eq!(
        rejection(&verifier, &token),
        "invalid token: longer than 8 KiB"
    );
}

#[test]
fn payload_errors_hide_values() {
    let verifier = verifier(&pem_settings());
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // A signed payload that is not JSON: the signature passes, the claims do not.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode("9000000001 is not JSON");
    let message = format!("{header}.{payload}");
    let key = EncodingKey::from_rsa_pem(&std::fs::read(key_file("test-rsa-private.pem")).unwrap())
        .unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
    let token = format!("{message}.{signature}");
    assert_eq!(
        rejection(&verifier, &token),
        "invalid token: payload is not a JSON object"
    );
}

#[test]
fn missing_sources_rejected() {
    let error = TokenVerifier::from_settings(&AuthSettings::default(), &[])
        .err()
        .unwrap();
    assert!(matches!(error, KeyError::NoKeys), "{error}");
    let error = TokenVerifier::from_settings(
        &AuthSettings::default(),
        &[json!({"kty": "oct", "k": "AA"})],
    )
    .err()
    .unwrap();
    assert!(matches!(error, KeyError::NoKeys), "{error}");
}

#[test]
fn invalid_jwks_file_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let only_hmac = folder.path().join("hmac.json");
    std::fs::write(&only_hmac, r#"{"keys": [{"kty": "oct", "k": "AA"}]}"#).unwrap();
    let not_json = folder.path().join("broken.json");
    std::fs::write(&not_json, "{").unwrap();
    let cases = [
        (only_hmac, "no usable signing key"),
        (
            not_json,
            "not JSON: EOF while parsing an object at line 1 column 1",
        ),
    ];
    for (path, reason) in cases {
        let settings = AuthSettings {
            jwks_file: Some(path.clone()),
            ..AuthSettings::default()
        };
        let error = TokenVerifier::from_settings(&settings, &[]).err().unwrap();
        assert_eq!(
            error.to_string(),
            format!("invalid JWKS file {}: {reason}", path.display())
        );
    }
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn unreachable_jwks_url_alone_fails() {
    let port = closed_port();
    let settings = AuthSettings {
        jwks_url: Some(format!(
            "http://user:secret@127.0.0.1:{port}/certs?token=abc"
        )),
        ..AuthSettings::default()
    };
    let message = TokenVerifier::from_settings(&settings, &[])
        .err()
        .unwrap()
        .to_string();
    let prefix = format!("cannot load the JWKS at http://127.0.0.1:{port}/certs: request failed: ");
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        message.ends_with("; no other key source is configured, so no token could be verified"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
    assert!(!message.contains("token=abc"), "{message}");
}

#[test]
fn unreachable_jwks_url_with_pem_starts() {
    let settings = AuthSettings {
        jwks_url: Some(format!("http://127.0.0.1:{}/certs", closed_port())),
        ..pem_settings()
    };
    let verifier = verifier(&settings);
    let token = sign("test-rsa-private.pem", Algorithm::RS256, None, &claims());
    assert!(verifier.authenticate_token(&token).is_ok());
}

#[test]
fn jwks_url_scheme_checked() {
    for (url, reason) in [
        ("ftp://127.0.0.1/certs", "the scheme must be http or https"),
        ("file:///etc/keys.json", "not a valid absolute URL"),
        ("127.0.0.1/certs", "not a valid absolute URL"),
        ("http://", "not a valid absolute URL"),
    ] {
        let settings = AuthSettings {
            jwks_url: Some(url.to_owned()),
            ..pem_settings()
        };
        let message = TokenVerifier::from_settings(&settings, &[])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(message, format!("invalid auth.jwks_url: {reason}"), "{url}");
    }
}

#[test]
fn verified_token_remembered_until_expiry() {
    let verifier = verifier(&pem_settings());
    let now = chrono::Utc::now().timestamp();
    let token = sign(
        "test-rsa-private.pem",
        Algorithm::RS256,
        None,
        &json!({"sub": "partner-1", "exp": now + 600, "realm_access": {"roles": ["api"]}}),
    );
    let first = verifier.authenticate_token(&token).unwrap();
    let second = verifier.authenticate_token(&token).unwrap();
    assert_eq!(first, second);
    assert_eq!(second.subject.as_deref(), Some("partner-1"));
    assert!(second.distribution);

    // A token with a changed signature is checked again, not taken from the table.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut forged: Vec<u8> = signature.bytes().collect();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = format!("{signed}.{}", String::from_utf8(forged).unwrap());
    assert_eq!(
        rejection(&verifier, &forged),
        "invalid token: the signature does not verify"
    );
}

#[test]
fn issuer_and_subject_must_be_strings() {
    let settings = AuthSettings {
        issuer: Some("https://id.example.test/realms/divoc".to_owned()),
        ..pem_settings()
    };
    let verifier = verifier(&settings);
    let mut listed = claims();
    listed["iss"] = json!([
        "https://evil.example.test",
        "https://id.example.test/realms/divoc"
    ]);
    let token = sign("test-rsa-private.pem", Algorithm::RS256, None, &listed);
    assert!(
        rejection(&verifier, &token).ends_with("the claim iss must be a string"),
        "{}",
        rejection(&verifier, &token)
    );

    let mut numbered = claims();
    numbered["iss"] = json!("https://id.example.test/realms/divoc");
    numbered["sub"] = json!(12345);
    let token = sign("test-rsa-private.pem", Algorithm::RS256, None, &numbered);
    assert!(
        rejection(&verifier, &token).ends_with("the claim sub must be a string"),
        "{}",
        rejection(&verifier, &token)
    );

    numbered["sub"] = json!("12345");
    let token = sign("test-rsa-private.pem", Algorithm::RS256, None, &numbered);
    let principal = verifier.authenticate_token(&token).unwrap();
    assert_eq!(principal.subject.as_deref(), Some("12345"));
}

#[test]
fn subject_list_or_object_named() {
    let verifier = verifier(&pem_settings());
    for (claim, value) in [
        ("sub", json!(["9000000001"])),
        ("sub", json!({"mobile": "9000000001"})),
        ("iss", json!({"id": "https://id.example.test"})),
    ] {
        let mut wrong = claims();
        wrong[claim] = value;
        let token = sign("test-rsa-private.pem", Algorithm::RS256, None, &wrong);
        assert_eq!(
            rejection(&verifier, &token),
            format!("invalid token: the claim {claim} must be a string"),
            "{claim}"
        );
    }
}

#[test]
fn future_issued_at_rejected() {
    let settings = AuthSettings {
        leeway_seconds: 60,
        ..pem_settings()
    };
    let verifier = verifier(&settings);
    let now = chrono::Utc::now().timestamp();
    let with_iat = |iat: Value| {
        let mut claims = claims();
        claims["iat"] = iat;
        sign("test-rsa-private.pem", Algorithm::RS256, None, &claims)
    };
    assert!(verifier.authenticate_token(&with_iat(json!(now))).is_ok());
    assert!(
        verifier
            .authenticate_token(&with_iat(json!(now + 30)))
            .is_ok()
    );
    let message = rejection(&verifier, &with_iat(json!(now + 600)));
    let prefix = format!(
        "invalid token: issued in the future: iat {} is later than the server time ",
        now + 600
    );
    assert!(message.starts_with(&prefix), "{message}");
    assert!(message.ends_with(" plus 60 s of leeway"), "{message}");
    assert_eq!(
        rejection(&verifier, &with_iat(json!("yesterday"))),
        "invalid token: the claim iat must be a number"
    );
}
