//! Bearer-token verification for the certificate routes.
//!
//! Tokens are JWTs signed with an asymmetric key, such as Keycloak realm tokens.
//! The accepted algorithms follow from the configured key: RS256/384/512 and
//! PS256/384/512 for RSA, ES256/ES384 for EC, EdDSA for Ed25519. `alg: none` and
//! every HMAC algorithm are rejected, so a token "signed" with the public key as an
//! HMAC secret does not pass. `exp` is required; `exp` and `nbf` are checked with
//! the configured leeway.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::principal::Principal;
use crate::settings::AuthSettings;

/// Longest `Authorization` header accepted, in bytes; longer ones are rejected
/// before any parsing.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// Checks bearer tokens against one public key.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    roles: RoleRules,
}

/// How roles and the citizen's mobile number are read from claims.
#[derive(Debug, Clone, Default)]
struct RoleRules {
    client_id: Option<String>,
    role_claims: Vec<String>,
    distribution_roles: Vec<String>,
    print_roles: Vec<String>,
    mobile_claims: Vec<String>,
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
}

/// Errors from loading the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
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
}

impl TokenVerifier {
    /// Builds a verifier from the `[auth]` settings. `extra_jwks` are further keys
    /// as JWK objects, such as the public key of the built-in citizen login.
    // TODO: JWKS files and URLs, the registration-API key, `kid` selection, `iss` and `aud`.
    pub fn from_settings(
        settings: &AuthSettings,
        extra_jwks: &[Value],
    ) -> Result<TokenVerifier, KeyError> {
        let _ = extra_jwks;
        let path = settings
            .public_key_file
            .as_deref()
            .ok_or_else(|| KeyError::Unsupported {
                path: "(none)".to_owned(),
            })?;
        let mut verifier = TokenVerifier::from_pem_file(path, settings.leeway_seconds)?;
        verifier.roles = RoleRules {
            client_id: settings.client_id.clone(),
            role_claims: settings.role_claims.clone(),
            distribution_roles: settings.distribution_roles.clone(),
            print_roles: settings.print_roles.clone(),
            mobile_claims: settings.mobile_claims.clone(),
        };
        Ok(verifier)
    }

    /// Loads the public key from a PEM file.
    pub fn from_pem_file(path: &Path, leeway_seconds: u64) -> Result<TokenVerifier, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        TokenVerifier::from_pem(&pem, leeway_seconds).ok_or_else(|| KeyError::Unsupported {
            path: path.display().to_string(),
        })
    }

    /// Builds a verifier from PEM bytes; `None` when no supported key is found.
    pub fn from_pem(pem: &[u8], leeway_seconds: u64) -> Option<TokenVerifier> {
        let (key, algorithms) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            let algorithms = vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ];
            (key, algorithms)
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            (key, vec![Algorithm::ES256, Algorithm::ES384])
        } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            (key, vec![Algorithm::EdDSA])
        } else {
            return None;
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.leeway = leeway_seconds;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Some(TokenVerifier {
            key,
            validation,
            roles: RoleRules::default(),
        })
    }

    /// Verifies the value of an `Authorization` header and returns the caller.
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

    /// Verifies a compact JWT, such as an `authToken` query parameter, and returns the caller.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, AuthError> {
        // Reading the header first gives a clearer message for a disallowed algorithm.
        let header = decode_header(token).map_err(|error| AuthError::Invalid(error.to_string()))?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not accepted for this key",
                header.alg
            )));
        }
        let claims = decode::<Value>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| AuthError::Invalid(error.to_string()))?;
        Ok(self.roles.principal(&claims))
    }
}

impl RoleRules {
    fn principal(&self, claims: &Value) -> Principal {
        let client = self
            .client_id
            .clone()
            .or_else(|| claims.get("azp").and_then(Value::as_str).map(str::to_owned));
        let mut roles: Vec<&str> = Vec::new();
        for path in &self.role_claims {
            let path = match (&client, path.contains("<client>")) {
                (Some(client), true) => path.replace("<client>", client),
                (None, true) => continue,
                (_, false) => path.clone(),
            };
            if let Some(Value::Array(list)) = claim_at(claims, &path) {
                roles.extend(list.iter().filter_map(Value::as_str));
            }
        }
        let distribution = roles
            .iter()
            .any(|role| self.distribution_roles.iter().any(|r| r == role));
        let print = roles
            .iter()
            .any(|role| self.print_roles.iter().any(|r| r == role));
        let mobile = if distribution || print {
            None
        } else {
            self.mobile_claims
                .iter()
                .find_map(|name| claims.get(name).and_then(Value::as_str))
                .map(str::to_owned)
        };
        Principal {
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            distribution,
            print,
            mobile,
        }
    }
}

/// Follows a dotted path such as `realm_access.roles` through nested objects.
fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(claims, |value, key| value.get(key))
}
