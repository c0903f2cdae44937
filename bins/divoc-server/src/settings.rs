//! Service configuration: defaults, then an optional TOML file, then `DIVOC__*`
//! environment variables (`DIVOC__DATABASE__URL` sets `database.url`).

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat, Map, Value, ValueKind};
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
    /// Built-in mobile-number login with one-time passwords.
    pub otp: OtpSettings,
    /// SMS delivery of one-time passwords.
    pub sms: SmsSettings,
    /// In-memory cache of rendered files.
    pub cache: CacheSettings,
    /// Share links.
    pub share: ShareSettings,
    /// Email delivery of certificates.
    pub email: EmailSettings,
    /// SMS notifications with a share link.
    pub notify: NotifySettings,
    /// Password protection of PDFs.
    pub protection: ProtectionSettings,
    /// Citizen portal page.
    pub portal: PortalSettings,
    /// Bulk printing.
    pub print: PrintSettings,
}

/// Citizen portal settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalSettings {
    /// Serve the portal page under `/portal/`.
    pub enabled: bool,
    /// Base URL of a Keycloak server, such as `https://login.example.org`
    /// (with `/auth` for Keycloak before version 17). With the realm and the
    /// client it makes the portal offer Keycloak sign-in.
    pub keycloak_url: Option<String>,
    /// Keycloak realm of the citizens.
    pub keycloak_realm: Option<String>,
    /// Public Keycloak client of the portal, with this server's `/portal/`
    /// as a valid redirect URI and its origin as a web origin.
    pub keycloak_client_id: Option<String>,
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            enabled: true,
            keycloak_url: None,
            keycloak_realm: None,
            keycloak_client_id: None,
        }
    }
}

/// Bulk printing settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrintSettings {
    /// Maximum beneficiaries in one `POST /certificate/api/print` request.
    /// The whole PDF is held in memory until it is sent, 9 to 18 KB per page.
    pub max_beneficiaries: usize,
}

impl Default for PrintSettings {
    fn default() -> Self {
        PrintSettings {
            max_beneficiaries: 500,
        }
    }
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
    /// Store lookups of PDF and QR requests that may run at once. Defaults to
    /// the number of CPU cores and never exceeds `database.max_connections`.
    /// Further lookups wait in request order.
    pub lookup_concurrency: Option<usize>,
    /// Seconds that in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// Serve `GET /metrics` (Prometheus text, no token) for an internal network.
    pub metrics: bool,
    /// Base URL of share links, such as `https://certificates.example.org`;
    /// default: `http://` and `bind`, with the port the listener got for port 0.
    pub public_url: Option<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".to_owned(),
            workers: None,
            render_concurrency: None,
            lookup_concurrency: None,
            shutdown_timeout_seconds: 30,
            metrics: false,
            public_url: None,
        }
    }
}

impl ServerSettings {
    /// Returns the host part of `bind` when its port is 0 (also written `00`),
    /// so that the operating system picks a free port. URLs built from `bind`
    /// then need the port the listener got, with the host as configured.
    pub fn host_of_free_port_bind(&self) -> Option<&str> {
        let (host, port) = self.bind.trim().rsplit_once(':')?;
        (port.parse::<u16>().ok()? == 0).then_some(host)
    }
}

/// Render cache settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Keep rendered PDF and QR PNG files in memory, shared by all workers.
    pub enabled: bool,
    /// Limit on the bytes of the cached files. The least recently used files are
    /// evicted first. A file larger than the limit is not cached.
    pub max_bytes: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: true,
            max_bytes: 16 * 1024 * 1024,
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
    /// Seconds to wait for a free connection before responding 503.
    pub connection_timeout_seconds: u64,
    /// `postgres://` URL of a read replica that certificate lookups use.
    pub replica_url: Option<String>,
    /// Page cache of each pooled SQLite connection, in KiB.
    pub sqlite_cache_kib: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://data/divoc.sqlite".to_owned(),
            max_connections: 8,
            connection_timeout_seconds: 5,
            replica_url: None,
            sqlite_cache_kib: 1024,
        }
    }
}

/// Bearer-token settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// PEM file with the public key that signs accepted tokens (RSA, EC P-256 or
    /// Ed25519), such as the Keycloak realm key. `demo` makes a development key
    /// when no key source is configured.
    pub public_key_file: Option<PathBuf>,
    /// PEM file with the key of DIVOC's registration API, whose tokens citizens
    /// pass as `?authToken=` (claim `Phone`).
    pub registration_public_key_file: Option<PathBuf>,
    /// JWKS document on disk.
    pub jwks_file: Option<PathBuf>,
    /// JWKS document fetched at startup, and again when a token names an unknown
    /// `kid` (at most once a minute).
    pub jwks_url: Option<String>,
    /// Required `iss` claim, when set.
    pub issuer: Option<String>,
    /// Required `aud` claim (one of the token's audiences), when set.
    pub audience: Option<String>,
    /// Seconds of clock difference tolerated when checking `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// Client id that `<client>` stands for in role claim paths; when unset, the
    /// token's `azp` claim.
    pub client_id: Option<String>,
    /// Dotted claim paths that hold role lists.
    pub role_claims: Vec<String>,
    /// Roles that allow lookups by beneficiary id for anyone.
    pub distribution_roles: Vec<String>,
    /// Roles that allow facility search and printing.
    pub print_roles: Vec<String>,
    /// Claims that hold a citizen's mobile number, tried in order.
    pub mobile_claims: Vec<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            public_key_file: None,
            registration_public_key_file: None,
            jwks_file: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            leeway_seconds: 30,
            client_id: None,
            role_claims: vec![
                "realm_access.roles".to_owned(),
                "resource_access.<client>.roles".to_owned(),
            ],
            distribution_roles: vec!["api".to_owned(), "certificate-distribution".to_owned()],
            print_roles: vec!["facility-staff".to_owned()],
            mobile_claims: vec!["preferred_username".to_owned(), "Phone".to_owned()],
        }
    }
}

impl AuthSettings {
    /// Returns true when any source of verification keys is configured.
    pub fn has_key_source(&self) -> bool {
        self.public_key_file.is_some()
            || self.registration_public_key_file.is_some()
            || self.jwks_file.is_some()
            || self.jwks_url.is_some()
    }
}

/// Built-in one-time-password login.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtpSettings {
    /// Serve `POST /certificate/api/citizen/otp`, `POST /certificate/api/citizen/token`
    /// and `/.well-known/jwks.json`.
    pub enabled: bool,
    /// PKCS#8 PEM private key (Ed25519 or EC P-256) that signs citizen tokens.
    /// `demo` makes one in `data/` when unset.
    pub signing_key_file: Option<PathBuf>,
    /// `kid` of the signing key; default: its RFC 7638 thumbprint.
    pub key_id: Option<String>,
    /// `iss` of issued tokens.
    pub issuer: String,
    /// Lifetime of an issued token, in seconds.
    pub token_ttl_seconds: u64,
    /// Lifetime of a code, in seconds.
    pub code_ttl_seconds: u64,
    /// Wrong codes tried before a code is void.
    pub max_attempts: u32,
    /// Length of a rate-limit window, in seconds.
    pub rate_window_seconds: u64,
    /// Codes sent to one mobile number per window.
    pub max_codes_per_mobile: u32,
    /// Code requests accepted from one client address per window.
    pub max_requests_per_ip: u32,
}

impl Default for OtpSettings {
    fn default() -> Self {
        OtpSettings {
            enabled: false,
            signing_key_file: None,
            key_id: None,
            issuer: "divoc-server".to_owned(),
            token_ttl_seconds: 900,
            code_ttl_seconds: 300,
            max_attempts: 5,
            rate_window_seconds: 900,
            max_codes_per_mobile: 3,
            max_requests_per_ip: 30,
        }
    }
}

/// SMS gateway for one-time passwords.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    /// Gateway URL that receives a POST per message (`DIVOC__SMS__URL`). When unset,
    /// messages go to the log instead, which is for development only.
    pub url: Option<String>,
    /// JSON body template; `{mobile}` and `{message}` are replaced by JSON-escaped values.
    pub body: String,
    /// Message text; `{code}` and `{minutes}` are replaced.
    pub message: String,
    /// Extra request headers, such as an API key.
    pub headers: std::collections::BTreeMap<String, String>,
    /// Seconds before one attempt is abandoned.
    pub timeout_seconds: u64,
    /// Further attempts after a failed one.
    pub retries: u32,
}

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings {
            url: None,
            body: r#"{"to": "{mobile}", "message": "{message}"}"#.to_owned(),
            message: "Your vaccination certificate login code is {code}. It expires in {minutes} minutes.".to_owned(),
            headers: std::collections::BTreeMap::new(),
            timeout_seconds: 5,
            retries: 2,
        }
    }
}

/// Share link settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShareSettings {
    /// Days a link stays valid when the request has no `expiresInDays`.
    pub default_days: u32,
    /// Maximum validity a request may set, in days.
    pub max_days: u32,
    /// Wrong passcodes after which a link stops accepting any.
    pub max_passcode_attempts: u32,
    /// Length of the citizen rate-limit window, in seconds.
    pub rate_window_seconds: u64,
    /// Links one citizen mobile number may create per window. Distribution
    /// roles are not limited.
    pub max_per_mobile: u32,
}

impl Default for ShareSettings {
    fn default() -> Self {
        ShareSettings {
            default_days: 7,
            max_days: 90,
            max_passcode_attempts: 5,
            rate_window_seconds: 3600,
            // NOTE: an estimate of what one family shares in an hour, not a
            // measured need; each link with a passcode costs an Argon2 hash.
            max_per_mobile: 20,
        }
    }
}

/// Email delivery settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    /// SMTP server (`DIVOC__EMAIL__SMTP_URL`): `smtp://HOST:PORT` (plain),
    /// `smtp://HOST:PORT?tls=required` (STARTTLS) or `smtps://HOST:PORT` (TLS),
    /// with optional `USER:PASSWORD@` before the host. Email is off when unset.
    pub smtp_url: Option<String>,
    /// PEM file of an extra CA certificate that the SMTP server's certificate
    /// may chain to, such as a private CA.
    pub ca_file: Option<PathBuf>,
    /// Sender address, such as `Certificates <certificates@example.org>`.
    pub from: String,
    /// Delivery attempts before an email is marked failed.
    pub max_attempts: u32,
    /// Wait after the first failed attempt, in seconds; it doubles with each failure.
    pub backoff_seconds: u64,
    /// Maximum wait between attempts, in seconds.
    pub max_backoff_seconds: u64,
    /// Seconds after which a claimed email whose worker stopped is claimed again.
    pub lease_seconds: u64,
    /// Milliseconds the worker waits when no email is due.
    pub poll_interval_ms: u64,
    /// Seconds before an SMTP connection or command is abandoned.
    pub timeout_seconds: u64,
    /// Length of the citizen rate-limit window, in seconds.
    pub rate_window_seconds: u64,
    /// Emails one citizen mobile number may request per window.
    pub max_per_mobile: u32,
}

impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings {
            smtp_url: None,
            ca_file: None,
            from: "Vaccination certificates <certificates@localhost>".to_owned(),
            max_attempts: 5,
            backoff_seconds: 30,
            max_backoff_seconds: 3600,
            lease_seconds: 300,
            poll_interval_ms: 1000,
            timeout_seconds: 30,
            rate_window_seconds: 3600,
            max_per_mobile: 5,
        }
    }
}

/// SMS notification settings; the gateway is the one in `[sms]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// Length of the citizen rate-limit window, in seconds.
    pub rate_window_seconds: u64,
    /// Notifications one citizen mobile number may request per window.
    pub max_per_mobile: u32,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            rate_window_seconds: 3600,
            max_per_mobile: 3,
        }
    }
}

/// Password protection of PDFs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtectionSettings {
    /// Protection of shared and emailed PDFs when a request does not choose:
    /// `none` or `dob` (the date of birth as DDMMYYYY).
    pub default: Protection,
}

/// Password rule of a PDF.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protection {
    /// Not encrypted.
    #[default]
    None,
    /// Encrypted; the password is the date of birth as DDMMYYYY.
    Dob,
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
    /// Every fixed text on the page in English; unset labels keep their default.
    pub labels: Labels,
    /// Language printed when a request has no `language` parameter or names
    /// one without a label set: `en`, a shipped language (`hi`, `ta`, `si`,
    /// `bn`) or one from `labels_dir`.
    pub language: String,
    /// Whether certificates in another language print English beside it.
    pub show_english: bool,
    /// Folder of label set files (`*.toml`, format in docs/languages.md) that
    /// add languages or replace shipped ones.
    pub labels_dir: Option<PathBuf>,
    /// Script font files, tried in order for text that Liberation Sans does
    /// not cover. Unset: the Noto fonts of Debian's `fonts-noto-core`.
    pub font_files: Option<Vec<PathBuf>>,
}

impl Default for PdfConfig {
    fn default() -> Self {
        PdfConfig {
            timezone: "UTC".to_owned(),
            issuer_name: None,
            program_name: "COVID-19".to_owned(),
            labels: Labels::default(),
            language: divoc_pdf::ENGLISH.to_owned(),
            show_english: true,
            labels_dir: None,
            font_files: None,
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
    ///
    /// Every setting is a whole number, a string, a boolean or a list, so a
    /// number with a fraction, such as `workers = 1.5`, is rejected. The config
    /// crate would round it to an integer without a word.
    pub fn load(file: Option<&Path>, required: bool) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder();
        if let Some(path) = file {
            builder =
                builder.add_source(File::from(path).format(FileFormat::Toml).required(required));
        }
        let mut environment = Environment::with_prefix("DIVOC")
            .separator("__")
            .try_parsing(true)
            .list_separator(",");
        // Only these settings are lists. Any other value keeps its commas.
        for key in LIST_SETTINGS {
            environment = environment.with_list_parse_key(key);
        }
        builder = builder.add_source(environment);
        let config = builder.build_cloned()?;
        let values: Map<String, Value> = config.clone().try_deserialize()?;
        check_durations(&values, "")?;
        let mut fractions = Vec::new();
        fractional_numbers(&values, "", &mut fractions);
        let settings: Settings = if fractions.is_empty() {
            config.try_deserialize()?
        } else {
            // Each such number goes in again as text, so that an integer
            // setting rejects it with its key, and a string setting keeps it
            // as written.
            for (key, number) in fractions {
                builder = builder.set_override(key, number.to_string())?;
            }
            builder.build()?.try_deserialize()?
        };
        settings.check_thread_counts()?;
        if settings.print.max_beneficiaries == 0 {
            return Err(out_of_range(
                "print.max_beneficiaries = 0 is too small: at least 1, or every print is rejected"
                    .to_owned(),
            ));
        }
        Ok(settings.with_trimmed_names())
    }

    /// Rejects thread counts that the server cannot start: actix-web stops
    /// at more than 512 workers, and every render slot is a thread.
    fn check_thread_counts(&self) -> Result<(), SettingsError> {
        let server = &self.server;
        for (key, value, limit) in [
            ("server.workers", server.workers, MAX_WORKERS),
            (
                "server.render_concurrency",
                server.render_concurrency,
                MAX_THREADS,
            ),
            (
                "server.lookup_concurrency",
                server.lookup_concurrency,
                MAX_THREADS,
            ),
        ] {
            if let Some(value) = value
                && value > limit
            {
                return Err(out_of_range(format!(
                    "{key} = {value} is too large: at most {limit}"
                )));
            }
        }
        Ok(())
    }

    /// Trims the claim paths and role names of `auth`, which the
    /// environment gives comma-separated, often with a space after each
    /// comma. A space at either end of a name is taken as such a space.
    fn with_trimmed_names(mut self) -> Self {
        let auth = &mut self.auth;
        for list in [
            &mut auth.role_claims,
            &mut auth.distribution_roles,
            &mut auth.print_roles,
            &mut auth.mobile_claims,
        ] {
            for name in list.iter_mut() {
                *name = name.trim().to_owned();
            }
        }
        self
    }
}

/// The maximum of `server.workers`: actix-web panics above 512.
const MAX_WORKERS: usize = 512;

/// The maximum of `server.render_concurrency` and
/// `server.lookup_concurrency`. A render slot is a thread, and 100,000 of
/// them ran the server out of memory at startup.
const MAX_THREADS: usize = 1024;

/// The settings that are lists, which the environment gives as
/// comma-separated values.
const LIST_SETTINGS: [&str; 5] = [
    "auth.role_claims",
    "auth.distribution_roles",
    "auth.print_roles",
    "auth.mobile_claims",
    "pdf.font_files",
];

/// The maximum time a setting may name: 10 years, in seconds. Larger values
/// overflowed the time arithmetic of the server and its libraries, and
/// panicked a request or the start.
const MAX_DURATION_SECONDS: u128 = 315_360_000;

/// Rejects a setting whose name ends in `_seconds`, `_ms` or `_days` and
/// whose value is longer than [`MAX_DURATION_SECONDS`].
fn check_durations(table: &Map<String, Value>, prefix: &str) -> Result<(), SettingsError> {
    for (key, value) in table {
        let path = key_path(prefix, key);
        if let ValueKind::Table(inner) = &value.kind {
            check_durations(inner, &path)?;
            continue;
        }
        let (limit, unit) = if key.ends_with("_seconds") {
            (MAX_DURATION_SECONDS, "seconds")
        } else if key.ends_with("_ms") {
            (MAX_DURATION_SECONDS * 1_000, "milliseconds")
        } else if key.ends_with("_days") {
            (MAX_DURATION_SECONDS / 86_400, "days")
        } else {
            continue;
        };
        // A value that is not a whole number is left to deserialization,
        // which names the expected type.
        if let Ok(number) = value.to_string().parse::<u128>()
            && number > limit
        {
            return Err(out_of_range(format!(
                "{path} = {number} is too large: at most {limit} {unit} (10 years)"
            )));
        }
    }
    Ok(())
}

/// Returns the config crate's path of `key` in the table at `prefix`, such
/// as `server.workers`.
fn key_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Returns the error of a setting that the config crate read but that is
/// out of range.
fn out_of_range(message: String) -> SettingsError {
    SettingsError::Invalid(config::ConfigError::Message(message))
}

/// Collects the keys and values of numbers with a fraction in `table`, with
/// keys in the config crate's path form (`server.workers`, `list[0]`).
fn fractional_numbers(table: &Map<String, Value>, prefix: &str, found: &mut Vec<(String, f64)>) {
    for (key, value) in table {
        let path = key_path(prefix, key);
        fractional_value(value, path, found);
    }
}

fn fractional_value(value: &Value, path: String, found: &mut Vec<(String, f64)>) {
    match &value.kind {
        // A whole number too large for 64 bits is read as a float, which
        // would saturate to the largest value of the setting's type.
        ValueKind::Float(number) if number.fract() != 0.0 || number.abs() >= 9.2e18 => {
            found.push((path, *number));
        }
        ValueKind::Table(table) => fractional_numbers(table, &path, found),
        ValueKind::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                fractional_value(item, format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn load_toml(text: &str) -> Result<Settings, SettingsError> {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("divoc.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(Some(&path), true)
    }

    #[test]
    fn thread_counts_over_limit_rejected() {
        let cases = [
            (
                "[server]\nworkers = 513",
                "invalid configuration: server.workers = 513 is too large: at most 512",
            ),
            (
                "[server]\nrender_concurrency = 100000",
                "invalid configuration: server.render_concurrency = 100000 is too large: \
                 at most 1024",
            ),
            (
                "[server]\nlookup_concurrency = 1025",
                "invalid configuration: server.lookup_concurrency = 1025 is too large: \
                 at most 1024",
            ),
        ];
        for (text, expected) in cases {
            let error = load_toml(text).map(|_| ()).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
        let limits = "[server]\nworkers = 512\nrender_concurrency = 1024";
        let settings = load_toml(limits).unwrap();
        assert_eq!(settings.server.workers, Some(512));
        assert_eq!(settings.server.render_concurrency, Some(1024));
    }

    #[test]
    fn print_limit_of_zero_rejected() {
        let error = load_toml("[print]\nmax_beneficiaries = 0")
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid configuration: print.max_beneficiaries = 0 is too small: at least 1, \
             or every print is rejected"
        );
        let settings = load_toml("[print]\nmax_beneficiaries = 1").unwrap();
        assert_eq!(settings.print.max_beneficiaries, 1);
    }

    #[test]
    fn whole_number_beyond_64_bits_rejected() {
        let error = load_toml("[print]\nmax_beneficiaries = 1e20")
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid configuration: invalid type: string \"100000000000000000000\", expected an \
             integer for key `print.max_beneficiaries`"
        );
    }

    #[test]
    fn durations_over_ten_years_rejected() {
        let cases = [
            (
                "[database]\nconnection_timeout_seconds = 9223372036854775807",
                "invalid configuration: database.connection_timeout_seconds = \
                 9223372036854775807 is too large: at most 315360000 seconds (10 years)",
            ),
            (
                "[otp]\ncode_ttl_seconds = 99999999999999",
                "invalid configuration: otp.code_ttl_seconds = 99999999999999 is too \
                 large: at most 315360000 seconds (10 years)",
            ),
            (
                "[share]\nmax_days = 4294967295",
                "invalid configuration: share.max_days = 4294967295 is too large: \
                 at most 3650 days (10 years)",
            ),
            (
                "[email]\npoll_interval_ms = 315360000001",
                "invalid configuration: email.poll_interval_ms = 315360000001 is too \
                 large: at most 315360000000 milliseconds (10 years)",
            ),
        ];
        for (text, expected) in cases {
            let error = load_toml(text).map(|_| ()).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
        let limits = "[share]\nmax_days = 3650\ndefault_days = 3650\n\
                      [otp]\ncode_ttl_seconds = 315360000";
        let settings = load_toml(limits).unwrap();
        assert_eq!(settings.share.max_days, 3650);
        assert_eq!(settings.otp.code_ttl_seconds, 315_360_000);
    }

    fn server_bind(bind: &str) -> ServerSettings {
        ServerSettings {
            bind: bind.to_owned(),
            ..ServerSettings::default()
        }
    }

    #[test]
    fn free_port_bind_host() {
        assert_eq!(
            server_bind("127.0.0.1:0").host_of_free_port_bind(),
            Some("127.0.0.1")
        );
        assert_eq!(
            server_bind("localhost:00").host_of_free_port_bind(),
            Some("localhost")
        );
        assert_eq!(
            server_bind("[::1]:000").host_of_free_port_bind(),
            Some("[::1]")
        );
        assert_eq!(server_bind("127.0.0.1:8080").host_of_free_port_bind(), None);
        assert_eq!(server_bind("127.0.0.1:10").host_of_free_port_bind(), None);
        assert_eq!(server_bind("127.0.0.1").host_of_free_port_bind(), None);
    }

    #[test]
    fn fraction_for_integer_rejected() {
        let error = load_toml("[server]\nworkers = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid configuration: "), "{error}");
        assert!(error.contains("\"1.5\""), "{error}");
        assert!(error.contains("server.workers"), "{error}");
    }

    #[test]
    fn whole_float_for_integer_accepted() {
        let settings = load_toml("[server]\nworkers = 3.0\n").unwrap();
        assert_eq!(settings.server.workers, Some(3));
    }

    #[test]
    fn fraction_for_string_kept() {
        let settings = load_toml("[pdf]\nprogram_name = 2.5\n").unwrap();
        assert_eq!(settings.pdf.program_name, "2.5");
    }
}
