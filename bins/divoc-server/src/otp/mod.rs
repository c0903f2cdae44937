//! Built-in mobile-number login with one-time passwords, for deployments without
//! Keycloak.
// TODO: the whole flow; this file only fixes the interface the server uses.

use actix_web::web;
use divoc_store::Store;
use serde_json::Value;

use crate::settings::Settings;

/// Errors that stop the login service from starting.
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// The signing key could not be read or made.
    #[error("citizen login signing key: {0}")]
    Key(String),
}

/// The login service: issues codes, checks them and signs citizen tokens.
pub struct OtpService {
    _store: Store,
}

impl OtpService {
    /// Builds the service when `otp.enabled` is set; `None` otherwise.
    pub fn from_settings(
        settings: &Settings,
        store: Store,
    ) -> Result<Option<OtpService>, OtpError> {
        if !settings.otp.enabled {
            return Ok(None);
        }
        Ok(Some(OtpService { _store: store }))
    }

    /// Returns the public key that verifies issued tokens, as a JWK with its `kid`.
    pub fn public_jwk(&self) -> Value {
        Value::Null
    }
}

/// File name of the development signing key that `demo` makes in `data/`.
pub const DEVELOPMENT_KEY_FILE: &str = "dev-otp-signing-key.pem";

/// Makes a development signing key at `path` unless one exists there.
pub fn ensure_development_key(path: &std::path::Path) -> Result<(), OtpError> {
    let _ = path;
    Ok(())
}

/// Registers the login routes and `/.well-known/jwks.json` when the service is enabled.
pub fn configure(config: &mut web::ServiceConfig, otp: Option<web::Data<OtpService>>) {
    let _ = (config, otp);
}
