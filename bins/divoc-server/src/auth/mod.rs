//! Bearer-token verification for the certificate routes.
//!
//! Tokens are JWTs signed with an asymmetric key. One key set combines up to five
//! sources: a PEM public key (`auth.public_key_file`, such as the Keycloak realm
//! key), the PEM key of DIVOC's registration API
//! (`auth.registration_public_key_file`), a JWKS file, a JWKS URL, and JWKs passed
//! by the caller (the built-in citizen login). PEM keys may be RSA, EC or Ed25519.
//! JWKs may be RSA, EC P-256 or OKP Ed25519, and other entries are skipped with a
//! warning.
//!
//! Algorithms: RS256/384/512 and PS256/384/512 for RSA keys, ES256 (and ES384 for
//! a P-384 PEM key) for EC keys, EdDSA for Ed25519. `alg: none` and every HMAC
//! algorithm are rejected before any key is tried, so a token "signed" with the
//! public key as an HMAC secret does not pass.
//!
//! Key selection: a token with a `kid` is checked against the keys with that
//! `kid`. When there is none, the JWKS URL is fetched again (at most once a
//! minute), and then keys without a `kid` (PEM keys) that fit the algorithm are
//! tried, because Keycloak tokens carry a `kid` that a PEM key cannot name. A
//! token without a `kid` is checked against every key that fits its algorithm.
//!
//! Claims: `exp` is required; `exp` and `nbf` are checked with the configured
//! leeway. `auth.issuer` and `auth.audience`, when set, are required for tokens of
//! identity provider keys. Tokens of the registration API and the built-in login
//! are exempt: the registration API's tokens carry only `Phone` and `exp`, and
//! these keys sign nothing but citizen logins, so their tokens never get a role.
//!
//! Verified tokens: a client sends the same token with every request, so a
//! token that passed is remembered (by its SHA-256 hash) until its `exp` plus
//! the leeway, and for at most 60 seconds
//! ([`verified::VERIFIED_TOKEN_MAX_AGE_SECONDS`]). Its signature
//! is then checked about once a minute instead of on every request. A key
//! removed from the JWKS URL therefore stops working for a token that was
//! verified with it up to a minute later.

mod keys;
mod remote;
mod roles;
mod token;
mod verified;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, Validation, decode};
use serde_json::Value;

use crate::principal::Principal;
use crate::settings::AuthSettings;

use verified::{VerifiedTokens, token_key};

use keys::{KeySource, VerificationKey, load_jwks_file, load_pem_file, parse_jwk_list};
use remote::RemoteJwks;
use roles::RoleRules;
use token::{TokenHeader, algorithm_name, parse_header};

/// Longest `Authorization` header accepted, in bytes; longer ones are rejected
/// before any parsing. The same limit applies to a token passed on its own.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// Longest untrusted text, such as a `kid`, quoted in a message, in characters.
const QUOTE_LIMIT: usize = 64;

/// Checks bearer tokens against the configured keys. Clones share one key set.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Verifier>,
}

struct Verifier {
    /// Keys from files and from the caller, fixed at startup.
    local_keys: Vec<VerificationKey>,
    /// Keys from `auth.jwks_url`, refreshed on demand.
    remote: Option<RemoteJwks>,
    /// Claim checks for identity provider tokens: `exp`, `nbf`, `iss` and `aud`.
    provider_validation: Validation,
    /// Claim checks for citizen-login tokens: `exp` and `nbf`.
    citizen_validation: Validation,
    /// Claims that identity provider tokens must carry, checked after `provider_validation`.
    provider_required: Vec<&'static str>,
    roles: RoleRules,
    /// Tokens that passed recently, with their callers.
    verified: VerifiedTokens,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    leeway_seconds: u64,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    /// The header is not `Bearer <token>`, or is too long.
    #[error("malformed Authorization header: {0}")]
    Malformed(&'static str),
    /// The token failed verification.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token names a key that the JWKS URL may have gained since it was
    /// last fetched, and a fetch is due. The caller runs
    /// [`TokenVerifier::fetch_keys_if_due`] on a thread that may block, then
    /// checks the token again.
    #[error("invalid token: the key set of auth.jwks_url must be fetched again first")]
    KeysOutdated,
}

/// Errors from loading the keys at startup.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file could not be read.
    #[error("cannot read public key file {path}: {source}")]
    Read {
        /// The configured path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no supported public key.
    #[error("{path} is not a PEM public key of a supported type (RSA, EC P-256/P-384 or Ed25519)")]
    Unsupported {
        /// The configured path.
        path: String,
    },
    /// An RSA key in a PEM file is shorter than [`keys::MIN_RSA_BITS`], or
    /// its modulus cannot be read.
    #[error("{path}: {reason}; use an RSA key of at least 2048 bits")]
    WeakKey {
        /// The configured path.
        path: String,
        /// The modulus size found, or why it could not be read.
        reason: String,
    },
    /// The JWKS file is not a JWKS document or has no usable signing key.
    #[error("invalid JWKS file {path}: {reason}")]
    Jwks {
        /// The configured path.
        path: String,
        /// The problem found.
        reason: String,
    },
    /// `auth.jwks_url` is not an http or https URL.
    #[error("invalid auth.jwks_url: {reason}")]
    JwksUrl {
        /// The problem found.
        reason: String,
    },
    /// The JWKS URL failed at startup and no other source has a key.
    #[error(
        "cannot load the JWKS at {url}: {reason}; no other key source is configured, so no token could be verified"
    )]
    Fetch {
        /// The URL without user info and query.
        url: String,
        /// The fetch error.
        reason: String,
    },
    /// No source is configured, or none has a usable key.
    #[error(
        "no usable token key: set auth.public_key_file, auth.registration_public_key_file, auth.jwks_file or auth.jwks_url"
    )]
    NoKeys,
}

impl TokenVerifier {
    /// Builds a verifier from the `[auth]` settings. `extra_jwks` are further keys
    /// as JWK objects, such as the public key of the built-in citizen login.
    ///
    /// Fails when a configured file is unreadable or invalid, or when no key is
    /// usable. A JWKS URL that cannot be fetched at startup is an error only when
    /// no other source has a key. Otherwise the failure is logged, and the URL is
    /// fetched again when a token needs a key that the set does not have.
    pub fn from_settings(
        settings: &AuthSettings,
        extra_jwks: &[Value],
    ) -> Result<TokenVerifier, KeyError> {
        let mut local_keys = Vec::new();
        if let Some(path) = &settings.public_key_file {
            local_keys.push(load_pem_file(path, KeySource::PublicKeyFile)?);
        }
        if let Some(path) = &settings.registration_public_key_file {
            local_keys.push(load_pem_file(path, KeySource::RegistrationKeyFile)?);
        }
        if let Some(path) = &settings.jwks_file {
            local_keys.extend(load_jwks_file(path)?);
        }
        local_keys.extend(parse_jwk_list(extra_jwks.iter(), KeySource::Caller));

        let remote = match &settings.jwks_url {
            Some(url) => Some(load_remote(url, !local_keys.is_empty())?),
            None => None,
        };
        let remote_count = remote.as_ref().map_or(0, |remote| remote.keys().len());
        if local_keys.is_empty() && remote_count == 0 {
            return Err(KeyError::NoKeys);
        }
        tracing::info!(
            local_keys = local_keys.len(),
            jwks_url_keys = remote_count,
            "token verification keys loaded"
        );

        Ok(TokenVerifier {
            inner: Arc::new(Verifier {
                local_keys,
                remote,
                provider_validation: validation(settings, true),
                citizen_validation: validation(settings, false),
                provider_required: required_provider_claims(settings),
                roles: RoleRules::from_settings(settings),
                verified: VerifiedTokens::default(),
                leeway_seconds: settings.leeway_seconds,
            }),
        })
    }

    /// Verifies the value of an `Authorization` header and returns the
    /// caller. A token that needs a key the JWKS URL may have gained gives
    /// [`AuthError::KeysOutdated`] when a fetch is due, so that no request
    /// thread waits for the key server.
    pub fn authenticate(&self, header: Option<&[u8]>) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        if header.len() > MAX_AUTHORIZATION_BYTES {
            return Err(AuthError::Malformed("longer than 8 KiB"));
        }
        let header = std::str::from_utf8(header).map_err(|_| AuthError::Malformed("not ASCII"))?;
        // DIVOC's citizen portal sends "Bearer <token> " with a trailing space.
        let mut words = header.trim().splitn(2, ' ');
        let scheme = words.next().unwrap_or_default();
        let token = words.next().unwrap_or_default().trim();
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed("expected the Bearer scheme"));
        }
        if token.is_empty() {
            return Err(AuthError::Malformed("no token after Bearer"));
        }
        self.authenticate_token(token)
    }

    /// Fetches the key set of the JWKS URL again, unless there is none or a
    /// fetch started less than a minute ago. Blocks for at most the fetch
    /// timeout.
    pub fn fetch_keys_if_due(&self) {
        self.inner.reload_remote();
    }

    /// Verifies a compact JWT, such as an `authToken` query parameter, and
    /// returns the caller, with [`AuthError::KeysOutdated`] as for
    /// [`TokenVerifier::authenticate`].
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_AUTHORIZATION_BYTES {
            return Err(AuthError::Invalid("longer than 8 KiB".to_owned()));
        }
        let now = chrono::Utc::now().timestamp();
        let key = token_key(token);
        if let Some(principal) = self.inner.verified.get(&key, now) {
            return Ok(principal);
        }
        let header = parse_header(token).map_err(AuthError::Invalid)?;
        let (claims, source) = self.inner.verify(token, &header)?;
        let principal = if source.is_citizen_login() {
            self.inner.roles.citizen(&claims)
        } else {
            self.inner.roles.principal(&claims)
        };
        // `exp` is required, so a token that passed has one. A fractional
        // `exp` is not remembered.
        if let Some(expires) = claims.get("exp").and_then(Value::as_i64) {
            let leeway = i64::try_from(self.inner.leeway_seconds).unwrap_or(i64::MAX);
            let valid_until = expires.saturating_add(leeway);
            self.inner
                .verified
                .insert(key, principal.clone(), now, valid_until);
        }
        Ok(principal)
    }
}

/// Loads the JWKS URL at startup. A failure is returned as an error only when
/// no other source has a key (`has_other_keys` is false).
fn load_remote(url: &str, has_other_keys: bool) -> Result<RemoteJwks, KeyError> {
    let remote = RemoteJwks::new(url)?;
    let result = remote.reload().and_then(|count| match count {
        0 => Err("the JWKS has no usable signing key".to_owned()),
        _ => Ok(count),
    });
    match result {
        Ok(_) => Ok(remote),
        Err(reason) if has_other_keys => {
            tracing::warn!(
                url = %remote.display_url(),
                "cannot load the JWKS at startup, starting with the other key sources; \
                 it is fetched again when a token needs an unknown key: {reason}"
            );
            Ok(remote)
        }
        Err(reason) => Err(KeyError::Fetch {
            url: remote.display_url().to_owned(),
            reason,
        }),
    }
}

/// Builds the claim checks; `iss` and `aud` only when `identity_provider` is true.
fn validation(settings: &AuthSettings, identity_provider: bool) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = settings.leeway_seconds;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    if identity_provider {
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
        }
        if let Some(audience) = &settings.audience {
            validation.set_audience(&[audience]);
            validation.validate_aud = true;
        }
    }
    validation
}

/// Lists the claims that identity provider tokens must carry besides `exp`.
/// jsonwebtoken 12 passes a token without `iss` or `aud` even when one is
/// configured, and it reports several missing claims in no fixed order. So these
/// two are checked here, in this order, after its checks.
fn required_provider_claims(settings: &AuthSettings) -> Vec<&'static str> {
    let mut required = Vec::new();
    if settings.issuer.is_some() {
        required.push("iss");
    }
    if settings.audience.is_some() {
        required.push("aud");
    }
    required
}

impl Verifier {
    /// Finds the candidate keys for the token and verifies it. Returns the claims
    /// and the source of the key that verified the signature.
    fn verify(&self, token: &str, header: &TokenHeader) -> Result<(Value, KeySource), AuthError> {
        let algorithm = header.algorithm;
        let Some(kid) = &header.kid else {
            let candidates = self.keys_matching(|key| key.accepts(algorithm));
            if candidates.is_empty() {
                self.check_fetch_due()?;
                return Err(AuthError::Invalid(format!(
                    "no configured key accepts algorithm {}",
                    algorithm_name(algorithm)
                )));
            }
            return self.try_keys(token, algorithm, &candidates);
        };

        let has_kid = |key: &VerificationKey| key.kid.as_deref() == Some(kid.as_str());
        let mut named = self.keys_matching(has_kid);
        if named.is_empty() {
            self.check_fetch_due()?;
        }
        if !named.is_empty() {
            named.retain(|key| key.accepts(algorithm));
            if named.is_empty() {
                return Err(AuthError::Invalid(format!(
                    "algorithm {} does not fit key {}",
                    algorithm_name(algorithm),
                    quoted(kid)
                )));
            }
            return self.try_keys(token, algorithm, &named);
        }

        let unknown = || AuthError::Invalid(format!("unknown key id {}", quoted(kid)));
        let unnamed = self.keys_matching(|key| key.kid.is_none() && key.accepts(algorithm));
        if unnamed.is_empty() {
            return Err(unknown());
        }
        match self.try_keys(token, algorithm, &unnamed) {
            Err(AuthError::Invalid(message)) if message == INVALID_SIGNATURE => Err(unknown()),
            other => other,
        }
    }

    /// Returns the keys of every source that satisfy `wanted`.
    fn keys_matching(&self, wanted: impl Fn(&VerificationKey) -> bool) -> Vec<VerificationKey> {
        let remote = self.remote.as_ref().map(RemoteJwks::keys);
        self.local_keys
            .iter()
            .chain(remote.iter().flat_map(|keys| keys.iter()))
            .filter(|key| wanted(key))
            .cloned()
            .collect()
    }

    /// Reloads the JWKS URL when it is configured and not reloaded in the last
    /// minute. Returns true when the key set was replaced.
    fn reload_remote(&self) -> bool {
        self.remote.as_ref().is_some_and(RemoteJwks::reload_if_due)
    }

    /// Returns [`AuthError::KeysOutdated`] when the JWKS URL is configured and
    /// [`Verifier::reload_remote`] would fetch it.
    fn check_fetch_due(&self) -> Result<(), AuthError> {
        if self.remote.as_ref().is_some_and(RemoteJwks::reload_due) {
            return Err(AuthError::KeysOutdated);
        }
        Ok(())
    }

    /// Tries the candidates in order. The first key whose signature check passes
    /// decides: its claim checks give the result. When no signature check
    /// passes, the error is an invalid signature.
    fn try_keys(
        &self,
        token: &str,
        algorithm: Algorithm,
        candidates: &[VerificationKey],
    ) -> Result<(Value, KeySource), AuthError> {
        for candidate in candidates {
            let mut validation = if candidate.source.is_citizen_login() {
                self.citizen_validation.clone()
            } else {
                self.provider_validation.clone()
            };
            validation.algorithms = vec![algorithm];
            match decode::<Value>(token, &candidate.key, &validation) {
                Ok(data) => {
                    self.check_required(&data.claims, candidate.source)?;
                    return Ok((data.claims, candidate.source));
                }
                Err(error) if is_key_mismatch(&error) => continue,
                Err(error) => return Err(AuthError::Invalid(describe(&error, token))),
            }
        }
        Err(AuthError::Invalid(INVALID_SIGNATURE.to_owned()))
    }

    fn check_required(&self, claims: &Value, source: KeySource) -> Result<(), AuthError> {
        // RFC 7519 makes both a single string. A list of issuers would pass
        // jsonwebtoken's issuer check when any entry matches, and a subject
        // of another type would leave the audit trail without one.
        for claim in ["iss", "sub"] {
            if let Some(value) = claims.get(claim)
                && !value.is_string()
            {
                return Err(AuthError::Invalid(format!(
                    "the claim {claim} must be a string"
                )));
            }
        }
        check_issued_at(claims, self.leeway_seconds)?;
        if source.is_citizen_login() {
            return Ok(());
        }
        for claim in &self.provider_required {
            if matches!(claims.get(claim), None | Some(Value::Null)) {
                return Err(AuthError::Invalid(format!(
                    "the required claim {claim} is missing"
                )));
            }
        }
        Ok(())
    }
}

/// Rejects a token whose `iat` is not a number, or lies further in the
/// future than `leeway_seconds`. RFC 7519 leaves `iat` optional. An issuer
/// sets it to the time of signing, so an `iat` in the future means a wrong
/// clock or a forged time.
fn check_issued_at(claims: &Value, leeway_seconds: u64) -> Result<(), AuthError> {
    let Some(value) = claims.get("iat") else {
        return Ok(());
    };
    let Some(issued_at) = value.as_f64() else {
        return Err(AuthError::Invalid(
            "the claim iat must be a number".to_owned(),
        ));
    };
    let now = chrono::Utc::now().timestamp();
    if issued_at > now as f64 + leeway_seconds as f64 {
        // Both times are in the message, so that an operator can see which clock is wrong.
        return Err(AuthError::Invalid(format!(
            "issued in the future: iat {issued_at} is later than the server time {now} \
             plus {leeway_seconds} s of leeway"
        )));
    }
    Ok(())
}

/// Message of a token whose signature no candidate key verifies.
const INVALID_SIGNATURE: &str = "the signature does not verify";

/// Returns true for errors that mean "not this key", so the next candidate is tried.
fn is_key_mismatch(error: &JwtError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidAlgorithm
    )
}

/// Describes a verification error of `token`. Claim values are not quoted,
/// because serde's messages can contain them, so a JSON error gets a fixed
/// text. The exception is an `exp` or `nbf` that is a number out of range,
/// which [`describe_time_claim`] quotes.
fn describe(error: &JwtError, token: &str) -> String {
    match error.kind() {
        ErrorKind::ExpiredSignature => "expired".to_owned(),
        ErrorKind::ImmatureSignature => "not valid yet (nbf is in the future)".to_owned(),
        // jsonwebtoken 12 reports an `exp` that it cannot read as missing, and
        // such an `nbf` as an invalid format.
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim)
            if claim == "exp" || claim == "nbf" =>
        {
            describe_time_claim(claim, token)
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("the required claim {claim} is missing"),
        ErrorKind::InvalidIssuer => "issuer mismatch".to_owned(),
        ErrorKind::InvalidAudience => "audience mismatch".to_owned(),
        ErrorKind::InvalidClaimFormat(claim) => format!("claim {claim} has an invalid format"),
        ErrorKind::Json(_) => describe_unreadable_payload(token),
        ErrorKind::Base64(_) => "a part is not base64url".to_owned(),
        ErrorKind::Utf8(_) => "payload is not UTF-8".to_owned(),
        _ => error.to_string(),
    }
}

/// 2^64, the first number above the times that jsonwebtoken 12 reads: it
/// accepts `exp` and `nbf` from 0 to 2^64 - 1 and rounds fractions.
const TIME_CLAIM_END: f64 = 18_446_744_073_709_551_616.0;

/// Describes why jsonwebtoken rejected the time claim `claim` (`exp` or `nbf`) of
/// `token`: missing, not a number, or a number out of range. jsonwebtoken
/// checks the signature before the claims, so the payload read here is
/// signed.
fn describe_time_claim(claim: &str, token: &str) -> String {
    let value = payload_claims(token).and_then(|claims| claims.get(claim).cloned());
    match value {
        None | Some(Value::Null) => format!("the required claim {claim} is missing"),
        Some(Value::Number(number)) if !is_time(&number) => format!(
            "the claim {claim} must be a time in seconds since 1970-01-01T00:00:00Z \
             from 0 to {}, not {number}",
            u64::MAX
        ),
        // jsonwebtoken reads such a number, so the payload failed for another reason.
        Some(Value::Number(_)) => format!("claim {claim} has an invalid format"),
        Some(_) => format!("the claim {claim} must be a number"),
    }
}

/// Describes a payload that jsonwebtoken could not read. jsonwebtoken 12
/// also fails this way on a JSON object whose `exp`, `nbf` or `sub` is a
/// list or an object, so the message names such a claim and its type. It
/// never quotes the value, which may be a mobile number.
fn describe_unreadable_payload(token: &str) -> String {
    let Some(claims) = payload_claims(token).filter(Value::is_object) else {
        return "payload is not a JSON object".to_owned();
    };
    for (claim, expected) in [
        ("exp", "a number"),
        ("nbf", "a number"),
        ("sub", "a string"),
    ] {
        if matches!(claims.get(claim), Some(Value::Array(_) | Value::Object(_))) {
            return format!("the claim {claim} must be {expected}");
        }
    }
    "the payload's claims cannot be read".to_owned()
}

/// Decodes the payload of a compact JWS as JSON, or returns `None`.
fn payload_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&payload).ok()
}

/// Tells whether jsonwebtoken 12 reads `number` as a time claim.
fn is_time(number: &serde_json::Number) -> bool {
    number.is_u64()
        || number
            .as_f64()
            .is_some_and(|seconds| (0.0..TIME_CLAIM_END).contains(&seconds))
}

/// Quotes untrusted text for a message, cut to [`QUOTE_LIMIT`] characters.
fn quoted(text: &str) -> String {
    let cut: String = text.chars().take(QUOTE_LIMIT).collect();
    if cut.len() < text.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests;
