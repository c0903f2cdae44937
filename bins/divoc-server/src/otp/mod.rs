//! Built-in mobile-number login with one-time passwords, for deployments without
//! Keycloak.
//!
//! * `POST /certificate/api/citizen/otp` with `{"mobile": "<10 to 15 digits>"}`
//!   stores a 6-digit code for the number and returns 202. The response is the
//!   same whether or not any certificate is registered to the number. A
//!   background worker sends the SMS, and only to registered numbers.
//! * `POST /certificate/api/citizen/token` with `{"mobile", "otp"}` returns a
//!   signed JWT (200) or one generic 401 for a wrong, expired, used or unknown code.
//! * `GET /.well-known/jwks.json` publishes the key that verifies the tokens.
//!
//! Tokens are signed with `otp.signing_key_file` (Ed25519 as EdDSA, or P-256 as
//! ES256). Their claims are `iss` (`otp.issuer`), `sub`
//! (`citizen:` and a keyed hash of the number, so audit rows do not hold the
//! number), `preferred_username` (the number, which the certificate routes
//! match), `iat` and `exp`, and no roles.
//!
//! Codes are stored only as an HMAC-SHA256 keyed with a pepper derived from the
//! signing key, so every process that shares the store must also share the key.
//! A code is valid for `otp.code_ttl_seconds`, is used once, and is void after
//! `otp.max_attempts` attempts. Challenges and rate-limit counters live in the
//! store, so several processes enforce the same limits. The per-address limit
//! counts the TCP peer address (IPv6 by /64). Behind a reverse proxy that is the
//! proxy's address for every client, so raise `otp.max_requests_per_ip` there or
//! limit at the proxy.
//!
//! Logs never contain a mobile number, a code or a token. They carry a keyed-hash
//! reference to the number instead. The one exception is the development
//! sender, used when `sms.url` is unset: it writes each message, code included,
//! to the log and warns at startup that this is for development only.

mod dispatch;
mod handlers;
mod keys;
mod pepper;
pub(crate) mod sms;

use std::time::Duration;

use actix_web::web;
use divoc_store::Store;
use serde_json::Value;

use self::dispatch::{DispatchSettings, Dispatcher};
use self::keys::TokenSigner;
use self::pepper::Pepper;
use self::sms::{DevelopmentLog, HttpGateway, SmsSender, check_message_template};
use crate::routes::method_not_allowed;
use crate::settings::Settings;

/// Path that issues codes.
pub const CODE_PATH: &str = "/certificate/api/citizen/otp";
/// Path that exchanges a code for a token.
pub const TOKEN_PATH: &str = "/certificate/api/citizen/token";
/// Path of the public key set.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Errors that stop the login service from starting.
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// The signing key could not be read or made.
    #[error("citizen login signing key: {0}")]
    Key(String),
    /// An `[otp]` or `[sms]` setting has an invalid value.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// Setting name, such as `sms.url`.
        name: &'static str,
        /// Description of the problem and of the expected value.
        reason: String,
    },
    /// A worker thread could not be started.
    #[error("cannot start the SMS worker thread: {0}")]
    Thread(std::io::Error),
}

/// Validity periods and rate limits, from `[otp]`.
struct Limits {
    code_ttl: Duration,
    token_ttl: Duration,
    max_attempts: u32,
    rate_window: Duration,
    max_codes_per_mobile: u32,
    max_requests_per_ip: u32,
}

/// The login service: issues codes, checks them and signs citizen tokens.
pub struct OtpService {
    store: Store,
    signer: TokenSigner,
    pepper: Pepper,
    dispatcher: Dispatcher,
    limits: Limits,
    issuer: String,
}

impl OtpService {
    /// Builds the service when `otp.enabled` is set; `None` otherwise. Starts the
    /// SMS worker threads.
    pub fn from_settings(
        settings: &Settings,
        store: Store,
    ) -> Result<Option<OtpService>, OtpError> {
        let otp = &settings.otp;
        if !otp.enabled {
            return Ok(None);
        }
        let limits = limits_from_settings(settings)?;
        let key_path = otp.signing_key_file.as_deref().ok_or_else(|| {
            OtpError::Key(
                "otp.enabled is set but otp.signing_key_file is not: point \
                 DIVOC__OTP__SIGNING_KEY_FILE at a PKCS#8 PEM Ed25519 or P-256 private key \
                 (`openssl genpkey -algorithm ed25519 -out otp-key.pem`)"
                    .to_owned(),
            )
        })?;
        let signer = TokenSigner::from_pem_file(key_path, otp.key_id.as_deref())?;
        check_message_template(&settings.sms.message)?;
        let (sender, delivery): (Box<dyn SmsSender>, &str) = match settings.sms.url.as_deref() {
            Some(url) if !url.trim().is_empty() => (
                Box::new(HttpGateway::from_settings(url.trim(), &settings.sms)?),
                "gateway",
            ),
            _ => (Box::new(DevelopmentLog::new()), "log"),
        };
        let dispatcher = Dispatcher::start(
            store.clone(),
            sender,
            DispatchSettings {
                message_template: settings.sms.message.clone(),
                code_ttl: limits.code_ttl,
                rate_window: limits.rate_window,
                delivery_windows: delivery_windows(settings),
            },
        )?;
        let pepper = Pepper::from_signing_secret(signer.secret());
        tracing::info!(
            kid = %signer.key_id(),
            alg = signer.algorithm_name(),
            sms = delivery,
            "citizen login enabled"
        );
        Ok(Some(OtpService {
            store,
            signer,
            pepper,
            dispatcher,
            limits,
            issuer: otp.issuer.clone(),
        }))
    }

    /// Returns the public key that verifies issued tokens, as a JWK with its `kid`.
    pub fn public_jwk(&self) -> Value {
        self.signer.public_jwk().clone()
    }
}

/// Returns the bucket name prefix and window of each citizen limit on
/// deliveries, as `check_citizen_rate` names the buckets.
fn delivery_windows(settings: &Settings) -> Vec<(String, Duration)> {
    use crate::delivery::{EMAIL_LIMIT, NOTIFY_LIMIT, SHARE_LIMIT, bucket_prefix};
    [
        (EMAIL_LIMIT, settings.email.rate_window_seconds),
        (SHARE_LIMIT, settings.share.rate_window_seconds),
        (NOTIFY_LIMIT, settings.notify.rate_window_seconds),
    ]
    .into_iter()
    .map(|(purpose, seconds)| (bucket_prefix(purpose), Duration::from_secs(seconds.max(1))))
    .collect()
}

fn limits_from_settings(settings: &Settings) -> Result<Limits, OtpError> {
    let otp = &settings.otp;
    Ok(Limits {
        code_ttl: seconds("otp.code_ttl_seconds", otp.code_ttl_seconds)?,
        token_ttl: seconds("otp.token_ttl_seconds", otp.token_ttl_seconds)?,
        max_attempts: at_least_one("otp.max_attempts", otp.max_attempts)?,
        rate_window: seconds("otp.rate_window_seconds", otp.rate_window_seconds)?,
        max_codes_per_mobile: at_least_one("otp.max_codes_per_mobile", otp.max_codes_per_mobile)?,
        max_requests_per_ip: at_least_one("otp.max_requests_per_ip", otp.max_requests_per_ip)?,
    })
}

fn seconds(name: &'static str, value: u64) -> Result<Duration, OtpError> {
    at_least_one(name, value).map(Duration::from_secs)
}

fn at_least_one<T: Into<u64> + Copy>(name: &'static str, value: T) -> Result<T, OtpError> {
    if value.into() == 0 {
        return Err(OtpError::Setting {
            name,
            reason: "must be at least 1".to_owned(),
        });
    }
    Ok(value)
}

/// File name of the development signing key that `demo` makes in `data/`.
pub const DEVELOPMENT_KEY_FILE: &str = "dev-otp-signing-key.pem";

/// Makes a development signing key at `path` unless one exists there: an
/// Ed25519 PKCS#8 PEM file readable by its owner only.
pub fn ensure_development_key(path: &std::path::Path) -> Result<(), OtpError> {
    keys::ensure_development_key(path)
}

/// Registers the login routes and `/.well-known/jwks.json` when the service is enabled.
pub fn configure(config: &mut web::ServiceConfig, otp: Option<web::Data<OtpService>>) {
    let Some(otp) = otp else { return };
    config
        .service(
            web::resource(CODE_PATH)
                .app_data(otp.clone())
                .route(web::post().to(handlers::request_code))
                .default_service(method_not_allowed("POST")),
        )
        .service(
            web::resource(TOKEN_PATH)
                .app_data(otp.clone())
                .route(web::post().to(handlers::exchange_code))
                .default_service(method_not_allowed("POST")),
        )
        .service(
            web::resource(JWKS_PATH)
                .app_data(otp)
                .route(web::get().to(handlers::jwks))
                .route(web::head().to(handlers::jwks))
                .default_service(method_not_allowed("GET, HEAD")),
        );
}
