//! Service configuration: defaults, then an optional TOML file, then `DIVOC__*`
//! environment variables (`DIVOC__DATABASE__URL` sets `database.url`).

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use divoc_pdf::Labels;
use serde::Deserialize;

/// All settings of the service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener.
    pub server: ServerSettings,
    /// Certificate store.
    pub database: DatabaseSettings,
    /// Bearer-token verification.
    pub auth: AuthSettings,
    /// Certificate page.
    pub pdf: PdfConfig,
    /// QR images.
    pub qr: QrConfig,
}

/// HTTP listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub bind: String,
    /// HTTP worker threads; defaults to the number of CPU cores.
    pub workers: Option<usize>,
    /// Renders that may run at once; defaults to the number of CPU cores.
    /// Requests beyond it wait, which bounds memory under load.
    pub render_concurrency: Option<usize>,
    /// Seconds that in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".to_owned(),
            workers: None,
            render_concurrency: None,
            shutdown_timeout_seconds: 30,
        }
    }
}

/// Certificate store settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (embedded, the default) or `postgres://USER@HOST:PORT/DB`.
    pub url: String,
    /// Pooled connections.
    pub max_connections: u32,
    /// Seconds to wait for a free connection before answering 503.
    pub connection_timeout_seconds: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://data/divoc.sqlite".to_owned(),
            max_connections: 8,
            connection_timeout_seconds: 5,
        }
    }
}

/// Bearer-token settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// PEM file with the public key that signs accepted tokens (RSA, EC P-256/P-384
    /// or Ed25519), such as the Keycloak realm key. `serve` requires it; `demo`
    /// makes a development key when it is unset.
    pub public_key_file: Option<PathBuf>,
    /// Seconds of clock difference tolerated when checking `exp` and `nbf`.
    pub leeway_seconds: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            public_key_file: None,
            leeway_seconds: 30,
        }
    }
}

/// Certificate page settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdfConfig {
    /// IANA time zone in which vaccination times are shown, such as `Asia/Kolkata`.
    pub timezone: String,
    /// Issuer shown on the certificate; defaults to the credential's issuer.
    pub issuer_name: Option<String>,
    /// Program named in the title, such as `COVID-19`.
    pub program_name: String,
    /// Every fixed text on the page; unset labels keep their English default.
    pub labels: Labels,
}

impl Default for PdfConfig {
    fn default() -> Self {
        PdfConfig {
            timezone: "UTC".to_owned(),
            issuer_name: None,
            program_name: "COVID-19".to_owned(),
            labels: Labels::default(),
        }
    }
}

/// QR image settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QrConfig {
    /// Pixels per QR module in PNG responses (DIVOC uses 2).
    pub pixels_per_module: u32,
    /// `divoc` for the UTF-8-expanded payload that DIVOC's verifier apps read,
    /// `raw` for the zip bytes as they are.
    pub payload: QrPayload,
}

impl Default for QrConfig {
    fn default() -> Self {
        QrConfig {
            pixels_per_module: 2,
            payload: QrPayload::Divoc,
        }
    }
}

/// QR payload form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QrPayload {
    /// Each zip byte as a UTF-8-encoded character, as DIVOC writes it.
    Divoc,
    /// The zip bytes.
    Raw,
}

/// Errors from loading settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file or an environment variable could not be read or has a wrong value.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

impl Settings {
    /// Loads settings from `file` (TOML; skipped when `None` or missing and not
    /// `required`) and the environment.
    pub fn load(file: Option<&Path>, required: bool) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder();
        if let Some(path) = file {
            builder =
                builder.add_source(File::from(path).format(FileFormat::Toml).required(required));
        }
        let settings = builder
            .add_source(
                Environment::with_prefix("DIVOC")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()?;
        Ok(settings)
    }
}
