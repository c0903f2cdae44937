//! Service configuration: defaults, then an optional TOML file, then `DIVOC__*`
//! environment variables (`DIVOC__DATABASE__URL` sets `database.url`).

mod checks;
mod sources;
mod strict;

use std::path::{Path, PathBuf};

use config::{Config, Environment, Map, Source, Value, ValueKind};
use divoc_pdf::Labels;
use serde::Deserialize;

use self::strict::{SettingError, WholeNumberBounds};

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
    /// Seconds a client gets to send a request body, from the end of its
    /// headers. A body still incomplete then gets 408 and the connection
    /// is closed.
    pub body_timeout_seconds: u64,
    /// Connections open at once, over all workers. Further clients wait in
    /// the listen backlog until a connection closes.
    pub max_connections: usize,
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
            body_timeout_seconds: 10,
            max_connections: 10_000,
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
    /// The settings file exists (or was named with `--config`) but cannot
    /// be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The settings file is not valid TOML.
    #[error("invalid configuration file {path}: {reason}")]
    Parse {
        /// The path as given.
        path: String,
        /// The parser's message, with the line and column.
        reason: String,
    },
    /// A setting has a value that it does not accept, or a key names no setting.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The environment could not be read, such as a variable that is not UTF-8.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

impl Settings {
    /// Loads settings from `file` (TOML; skipped when `None`, or when missing
    /// and not `required`) and the `DIVOC__*` environment variables.
    pub fn load(file: Option<&Path>, required: bool) -> Result<Settings, SettingsError> {
        let environment = Environment::with_prefix(sources::ENVIRONMENT_PREFIX).separator("__");
        Settings::load_from(file, required, environment)
    }

    /// Loads settings from `file` and `environment`.
    ///
    /// Every value must fit its setting (see [`strict`]): a whole number
    /// within its bounds, `true` or `false`, a string, a list or a table.
    fn load_from(
        file: Option<&Path>,
        required: bool,
        environment: Environment,
    ) -> Result<Settings, SettingsError> {
        let mut builder = Config::builder();
        if let Some(path) = file
            && let Some(table) = sources::read_file(path, required)?
        {
            builder = builder.add_source(sources::Table(table));
        }
        let environment = sources::environment_table(
            environment,
            &LIST_SETTINGS,
            &empty_is_unset().collect::<Vec<_>>(),
        )?;
        builder = builder.add_source(sources::Table(environment));
        let mut table = builder.build()?.collect()?;
        unset_empty_values(&mut table)?;
        reject_empty_strings(&table)?;
        check_bind(&table)?;
        // The deserializer takes the table, and the checks after it need the
        // values as written and their origins.
        let written = table.clone();
        let settings = Settings::deserialize(strict::Setting::root(table))?;
        checks::check_values(&settings, &written)?;
        Ok(settings.with_trimmed_names())
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

/// The settings that are lists, which the environment gives as
/// comma-separated values.
const LIST_SETTINGS: [&str; 6] = [
    "auth.role_claims",
    "auth.distribution_roles",
    "auth.print_roles",
    "auth.mobile_claims",
    "pdf.font_files",
    "pdf.labels.months",
];

/// The lists of names that an empty value leaves unset (at their default),
/// like the settings of [`PATH_SETTINGS`].
const NAME_LISTS: [&str; 5] = [
    "auth.role_claims",
    "auth.distribution_roles",
    "auth.print_roles",
    "auth.mobile_claims",
    "pdf.labels.months",
];

/// Returns the settings that an empty value leaves unset, over a value in the
/// file too: [`PATH_SETTINGS`] and [`NAME_LISTS`]. Compose files often set a
/// variable to an empty value to mean that it is not set. An empty item
/// within a list is an error.
fn empty_is_unset() -> impl Iterator<Item = &'static str> {
    PATH_SETTINGS.into_iter().chain(NAME_LISTS)
}

/// Optional text settings whose empty value is an error rather than unset,
/// because leaving them unset turns a check off. An empty `auth.issuer`
/// would otherwise reject every token, or, taken as unset, accept any issuer.
const NOT_EMPTY: [&str; 3] = ["auth.issuer", "auth.audience", "auth.client_id"];

/// The settings that name files or folders. An empty value (or one of
/// spaces only) leaves such a setting unset, also over a path in the file,
/// because compose files often set a variable to an empty value.
const PATH_SETTINGS: [&str; 7] = [
    "auth.public_key_file",
    "auth.registration_public_key_file",
    "auth.jwks_file",
    "otp.signing_key_file",
    "email.ca_file",
    "pdf.labels_dir",
    "pdf.font_files",
];

/// Removes the settings of [`empty_is_unset`] whose value is empty, and
/// rejects an empty item in one of their lists.
fn unset_empty_values(table: &mut Map<String, Value>) -> Result<(), SettingError> {
    for key in empty_is_unset() {
        let Some((sections, name)) = key.rsplit_once('.') else {
            continue;
        };
        let Some(settings) = table_at(table, sections) else {
            continue;
        };
        let Some(value) = settings.get(name) else {
            continue;
        };
        match &value.kind {
            ValueKind::String(path) if path.trim().is_empty() => {
                settings.remove(name);
            }
            ValueKind::Array(items) => {
                let empty = items.iter().enumerate().find(|(_, item)| {
                    matches!(&item.kind, ValueKind::String(path) if path.trim().is_empty())
                });
                if let Some((index, item)) = empty {
                    let expected = if PATH_SETTINGS.contains(&key) {
                        "a file path"
                    } else {
                        "a name"
                    };
                    return Err(strict::invalid_value(
                        &format!("{key}[{index}]"),
                        item,
                        format!(
                            "expected {expected}; an empty value may only stand for the whole \
                             setting, which leaves it unset (remove the extra comma)"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Returns the table at the dotted `path`, such as `pdf.labels`, when the
/// settings have one there.
fn table_at<'a>(
    table: &'a mut Map<String, Value>,
    path: &str,
) -> Option<&'a mut Map<String, Value>> {
    let (first, rest) = match path.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    };
    match table.get_mut(first).map(|value| &mut value.kind) {
        Some(ValueKind::Table(inner)) => match rest {
            Some(rest) => table_at(inner, rest),
            None => Some(inner),
        },
        _ => None,
    }
}

/// Rejects an empty value of the settings of [`NOT_EMPTY`].
fn reject_empty_strings(table: &Map<String, Value>) -> Result<(), SettingError> {
    for key in NOT_EMPTY {
        let Some((section, name)) = key.split_once('.') else {
            continue;
        };
        let Some(ValueKind::Table(settings)) = table.get(section).map(|value| &value.kind) else {
            continue;
        };
        if let Some(value) = settings.get(name)
            && matches!(&value.kind, ValueKind::String(text) if text.trim().is_empty())
        {
            return Err(strict::invalid_value(
                key,
                value,
                "must not be empty; leave the setting out to skip its check",
            ));
        }
    }
    Ok(())
}

/// Rejects a `server.bind` that is not HOST:PORT, before the listener or
/// the share-link URL, which is built from it, fail on it with less clear
/// errors.
fn check_bind(table: &Map<String, Value>) -> Result<(), SettingError> {
    let Some(ValueKind::Table(server)) = table.get("server").map(|value| &value.kind) else {
        return Ok(());
    };
    let Some(bind) = server.get("bind") else {
        return Ok(());
    };
    let valid = match &bind.kind {
        ValueKind::String(text) => is_host_and_port(text),
        _ => false,
    };
    if valid {
        return Ok(());
    }
    Err(strict::invalid_value(
        "server.bind",
        bind,
        "expected HOST:PORT, such as 127.0.0.1:8080 (port 0 picks a free port)",
    ))
}

/// Returns true for `HOST:PORT` with a host and a port from 0 to 65535, and
/// no spaces.
fn is_host_and_port(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && !text.chars().any(char::is_whitespace)
        && !port.is_empty()
        && port.bytes().all(|byte| byte.is_ascii_digit())
        && port.parse::<u16>().is_ok()
}

/// Returns the bounds of the whole-number setting `key`, whose type has the
/// range `type_min` to `type_max`. Later sources override earlier ones: the
/// type, the 10-year limit of time settings, [`MINIMA`] and [`MAXIMA`].
pub(crate) fn whole_number_bounds(key: &str, type_min: i128, type_max: i128) -> WholeNumberBounds {
    let mut bounds = WholeNumberBounds {
        min: type_min,
        max: type_max,
        unit: None,
        max_note: None,
    };
    let name = key.rsplit('.').next().unwrap_or(key);
    let time = if name.ends_with("_seconds") {
        Some(("seconds", MAX_DURATION_SECONDS))
    } else if name.ends_with("_ms") {
        Some(("milliseconds", MAX_DURATION_SECONDS * 1_000))
    } else if name.ends_with("_days") {
        Some(("days", MAX_DURATION_SECONDS / 86_400))
    } else {
        None
    };
    if let Some((unit, limit)) = time {
        bounds.unit = Some(unit);
        if limit < bounds.max {
            bounds.max = limit;
            bounds.max_note = Some("10 years");
        }
    }
    if let Some((_, min)) = MINIMA.iter().find(|(setting, _)| *setting == key) {
        bounds.min = *min;
    }
    if let Some((_, max)) = MAXIMA.iter().find(|(setting, _)| *setting == key) {
        bounds.max = *max;
        bounds.max_note = None;
    }
    bounds
}

/// Whole-number settings for which 0 (or a small value) makes no sense,
/// with their minimum. The services would otherwise raise such a value to
/// the minimum without a word, or stop working. Examples are a rate window
/// of 0 seconds, a lease of 0 seconds that lets two workers send one email,
/// and a timeout of 0 seconds that fails every attempt.
const MINIMA: [(&str, i128); 25] = [
    ("server.workers", 1),
    ("server.render_concurrency", 1),
    ("server.lookup_concurrency", 1),
    ("database.max_connections", 1),
    ("database.connection_timeout_seconds", 1),
    ("database.sqlite_cache_kib", 1),
    ("qr.pixels_per_module", 1),
    ("otp.token_ttl_seconds", 1),
    ("otp.code_ttl_seconds", 1),
    ("otp.max_attempts", 1),
    ("otp.rate_window_seconds", 1),
    ("otp.max_codes_per_mobile", 1),
    ("otp.max_requests_per_ip", 1),
    ("sms.timeout_seconds", 1),
    ("share.default_days", 1),
    ("share.max_days", 1),
    ("share.max_passcode_attempts", 1),
    ("share.rate_window_seconds", 1),
    ("email.max_attempts", 1),
    ("email.lease_seconds", 1),
    // The email worker waits at least 10 ms between polls of the store.
    ("email.poll_interval_ms", 10),
    ("email.timeout_seconds", 1),
    ("email.rate_window_seconds", 1),
    ("notify.rate_window_seconds", 1),
    ("print.max_beneficiaries", 1),
];

/// Whole-number settings with a maximum below that of their type.
const MAXIMA: [(&str, i128); 5] = [
    ("server.workers", MAX_WORKERS),
    ("server.render_concurrency", MAX_THREADS),
    ("server.lookup_concurrency", MAX_THREADS),
    // SQLite takes the cache size as a 32-bit signed number.
    ("database.sqlite_cache_kib", 2_147_483_647),
    (
        "qr.pixels_per_module",
        divoc_qr::MAX_PIXELS_PER_MODULE as i128,
    ),
];

/// The maximum of `server.workers`: actix-web panics above 512.
const MAX_WORKERS: i128 = 512;

/// The maximum of `server.render_concurrency` and
/// `server.lookup_concurrency`. A render slot is a thread, and 100,000 of
/// them ran the server out of memory at startup.
const MAX_THREADS: i128 = 1024;

/// The maximum time a setting may name: 10 years, in seconds. Larger values
/// overflowed the time arithmetic of the server and its libraries, and
/// panicked a request or the start.
const MAX_DURATION_SECONDS: i128 = 315_360_000;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Returns an environment with only `variables`, so that the tests do
    /// not see the `DIVOC__*` variables of the process.
    fn environment(variables: &[(&str, &str)]) -> Environment {
        let map = variables
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Environment::with_prefix(sources::ENVIRONMENT_PREFIX)
            .separator("__")
            .source(Some(map))
    }

    /// Loads `text` as the settings file with `variables`, and returns the
    /// settings or the error message, with `FILE` in place of the file's path.
    fn load_with(text: &str, variables: &[(&str, &str)]) -> Result<Settings, String> {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("divoc.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load_from(Some(&path), true, environment(variables)).map_err(|error| {
            error
                .to_string()
                .replace(&path.display().to_string(), "FILE")
        })
    }

    fn load_toml(text: &str) -> Result<Settings, String> {
        load_with(text, &[])
    }

    fn load_error(text: &str, variables: &[(&str, &str)]) -> String {
        match load_with(text, variables) {
            Ok(_) => panic!("{text:?} with {variables:?} was accepted"),
            Err(message) => message,
        }
    }

    #[test]
    fn thread_counts_over_limit_rejected() {
        let cases = [
            (
                "[server]\nworkers = 513",
                "invalid setting server.workers = 513 in FILE: expected a whole number \
                 from 1 to 512",
            ),
            (
                "[server]\nrender_concurrency = 100000",
                "invalid setting server.render_concurrency = 100000 in FILE: expected a \
                 whole number from 1 to 1024",
            ),
            (
                "[server]\nlookup_concurrency = 1025",
                "invalid setting server.lookup_concurrency = 1025 in FILE: expected a \
                 whole number from 1 to 1024",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(load_error(text, &[]), expected);
        }
        let limits = "[server]\nworkers = 512\nrender_concurrency = 1024";
        let settings = load_toml(limits).unwrap();
        assert_eq!(settings.server.workers, Some(512));
        assert_eq!(settings.server.render_concurrency, Some(1024));
    }

    #[test]
    fn print_limit_of_zero_rejected() {
        assert_eq!(
            load_error("[print]\nmax_beneficiaries = 0", &[]),
            "invalid setting print.max_beneficiaries = 0 in FILE: expected a whole number \
             from 1 to 18446744073709551615"
        );
        let settings = load_toml("[print]\nmax_beneficiaries = 1").unwrap();
        assert_eq!(settings.print.max_beneficiaries, 1);
    }

    #[test]
    fn whole_number_beyond_64_bits_rejected() {
        let cases = [
            (
                "[print]\nmax_beneficiaries = 1e20",
                "invalid setting print.max_beneficiaries = 1e20 in FILE: expected a whole \
                 number from 1 to 18446744073709551615",
            ),
            (
                "[server]\nworkers = 9223372036854775808",
                "invalid setting server.workers = 9223372036854775808 in FILE: expected a \
                 whole number from 1 to 512",
            ),
            (
                "[server]\nworkers = 99999999999999999999",
                "invalid setting server.workers = 99999999999999999999 in FILE: expected a \
                 whole number from 1 to 512",
            ),
            (
                "[server]\nworkers = -9223372036854775809",
                "invalid setting server.workers = -9223372036854775809 in FILE: expected a \
                 whole number from 1 to 512",
            ),
            (
                "[cache]\nmax_bytes = 99999999999999999999",
                "invalid setting cache.max_bytes = 99999999999999999999 in FILE: expected a \
                 whole number from 0 to 18446744073709551615",
            ),
            (
                "[cache]\nmax_bytes = 18_446_744_073_709_551_616",
                "invalid setting cache.max_bytes = 18446744073709551616 in FILE: expected a \
                 whole number from 0 to 18446744073709551615",
            ),
            (
                "[cache]\nmax_bytes = 0x1_0000_0000_0000_0000",
                "invalid setting cache.max_bytes = \"0x1_0000_0000_0000_0000\" in FILE: \
                 expected a whole number from 0 to 18446744073709551615",
            ),
            (
                "[server]\nworkers = 1e400",
                "invalid setting server.workers = \"1e400\" in FILE: expected a whole \
                 number from 1 to 512",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(load_error(text, &[]), expected, "{text}");
        }
        // A large number for a string setting is kept as written.
        let settings = load_toml(
            "[pdf]\nprogram_name = 99999999999999999999\n\
             [auth]\nrole_claims = [\"a\", 99999999999999999999]",
        )
        .unwrap();
        assert_eq!(settings.pdf.program_name, "99999999999999999999");
        assert_eq!(settings.auth.role_claims, ["a", "99999999999999999999"]);
    }

    #[test]
    fn invalid_large_number_keeps_toml_error() {
        for text in [
            "[pdf]\nprogram_name = 099999999999999999999",
            "[pdf]\nprogram_name = 99999999999999999999_",
            "[pdf]\nprogram_name = 9999999999__9999999999",
            "[pdf]\nprogram_name = -0x99999999999999999999",
            "[pdf]\nprogram_name = 1__e400",
            "[pdf]\nprogram_name = 1e400_",
            "[pdf]\nprogram_name = 01e400",
            "[pdf]\nprogram_name = 1.e400",
        ] {
            let message = load_error(text, &[]);
            assert!(
                message.starts_with("invalid configuration file FILE: "),
                "{text}: {message}"
            );
        }
    }

    #[test]
    fn large_number_in_string_or_comment_kept() {
        let text = "[pdf]\nprogram_name = \"99999999999999999999\" # 1e400\n\
                    issuer_name = '''x = 99999999999999999999'''\n\
                    [server]\nworkers = 99999999999999999999";
        assert_eq!(
            load_error(text, &[]),
            "invalid setting server.workers = 99999999999999999999 in FILE: expected a \
             whole number from 1 to 512"
        );
        let text = text.replace("workers = 99999999999999999999", "workers = 4");
        let settings = load_toml(&text).unwrap();
        assert_eq!(settings.pdf.program_name, "99999999999999999999");
        assert_eq!(
            settings.pdf.issuer_name.as_deref(),
            Some("x = 99999999999999999999")
        );
        assert_eq!(settings.server.workers, Some(4));
    }

    #[test]
    fn environment_number_kept_as_written() {
        let cases = [
            ("18446744073709551615", "\"18446744073709551615\""),
            ("99999999999999999999", "\"99999999999999999999\""),
            ("1.5", "\"1.5\""),
            ("0", "\"0\""),
            ("", "\"\""),
            ("four", "\"four\""),
        ];
        for (value, shown) in cases {
            assert_eq!(
                load_error("", &[("DIVOC__SERVER__WORKERS", value)]),
                format!(
                    "invalid setting server.workers = {shown} in environment variable \
                     DIVOC__SERVER__WORKERS: expected a whole number from 1 to 512"
                )
            );
        }
        let settings = load_with("", &[("DIVOC__SERVER__WORKERS", "3.0")]).unwrap();
        assert_eq!(settings.server.workers, Some(3));
        let settings = load_with("", &[("DIVOC__PDF__PROGRAM_NAME", "1.50")]).unwrap();
        assert_eq!(settings.pdf.program_name, "1.50");
    }

    #[test]
    fn durations_over_ten_years_rejected() {
        let cases = [
            (
                "[database]\nconnection_timeout_seconds = 9223372036854775807",
                "invalid setting database.connection_timeout_seconds = 9223372036854775807 \
                 in FILE: expected a whole number of seconds from 1 to 315360000 (10 years)",
            ),
            (
                "[otp]\ncode_ttl_seconds = 99999999999999",
                "invalid setting otp.code_ttl_seconds = 99999999999999 in FILE: expected a \
                 whole number of seconds from 1 to 315360000 (10 years)",
            ),
            (
                "[share]\nmax_days = 4294967295",
                "invalid setting share.max_days = 4294967295 in FILE: expected a whole \
                 number of days from 1 to 3650 (10 years)",
            ),
            (
                "[email]\npoll_interval_ms = 315360000001",
                "invalid setting email.poll_interval_ms = 315360000001 in FILE: expected a \
                 whole number of milliseconds from 10 to 315360000000 (10 years)",
            ),
            (
                "[auth]\nleeway_seconds = -1",
                "invalid setting auth.leeway_seconds = -1 in FILE: expected a whole number \
                 of seconds from 0 to 315360000 (10 years)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(load_error(text, &[]), expected);
        }
        let limits = "[share]\nmax_days = 3650\ndefault_days = 3650\n\
                      [otp]\ncode_ttl_seconds = 315360000";
        let settings = load_toml(limits).unwrap();
        assert_eq!(settings.share.max_days, 3650);
        assert_eq!(settings.otp.code_ttl_seconds, 315_360_000);
    }

    #[test]
    fn zero_rejected_where_meaningless() {
        for (key, minimum) in MINIMA {
            let (section, name) = key.split_once('.').unwrap();
            let error = load_error(&format!("[{section}]\n{name} = 0"), &[]);
            let start = format!("invalid setting {key} = 0 in FILE: expected a whole number ");
            assert!(error.starts_with(&start), "{error}");
            assert!(error.contains(&format!(" from {minimum} to ")), "{error}");
        }
        assert_eq!(
            load_error("[database]\nmax_connections = 0", &[]),
            "invalid setting database.max_connections = 0 in FILE: expected a whole number \
             from 1 to 4294967295"
        );
        assert_eq!(
            load_error("", &[("DIVOC__SERVER__WORKERS", "0")]),
            "invalid setting server.workers = \"0\" in environment variable \
             DIVOC__SERVER__WORKERS: expected a whole number from 1 to 512"
        );
        // Zero stays valid where it means something.
        let text = "[server]\nshutdown_timeout_seconds = 0\n[auth]\nleeway_seconds = 0\n\
                    [cache]\nmax_bytes = 0\n[share]\nmax_per_mobile = 0\n\
                    [email]\nbackoff_seconds = 0\n[sms]\nretries = 0";
        let settings = load_toml(text).unwrap();
        assert_eq!(settings.server.shutdown_timeout_seconds, 0);
        assert_eq!(settings.cache.max_bytes, 0);
        assert_eq!(settings.share.max_per_mobile, 0);
    }

    #[test]
    fn boolean_takes_true_or_false_only() {
        let cases = [
            (
                "[cache]\nenabled = \"yes\"",
                "invalid setting cache.enabled = \"yes\" in FILE: expected true or false",
            ),
            (
                "[cache]\nenabled = 0",
                "invalid setting cache.enabled = 0 in FILE: expected true or false",
            ),
            (
                "[cache]\nenabled = 1.0",
                "invalid setting cache.enabled = 1.0 in FILE: expected true or false",
            ),
            (
                "[server]\nmetrics = \"on\"",
                "invalid setting server.metrics = \"on\" in FILE: expected true or false",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(load_error(text, &[]), expected);
        }
        for value in ["1", "yes", "off", ""] {
            assert_eq!(
                load_error("", &[("DIVOC__CACHE__ENABLED", value)]),
                format!(
                    "invalid setting cache.enabled = {value:?} in environment variable \
                     DIVOC__CACHE__ENABLED: expected true or false"
                )
            );
        }
        let settings = load_toml("[cache]\nenabled = false").unwrap();
        assert!(!settings.cache.enabled);
        for (value, expected) in [("false", false), ("FALSE", false), ("true", true)] {
            let settings = load_with("", &[("DIVOC__CACHE__ENABLED", value)]).unwrap();
            assert_eq!(settings.cache.enabled, expected, "{value}");
        }
    }

    #[test]
    fn integer_rejects_boolean() {
        assert_eq!(
            load_error("[server]\nworkers = true", &[]),
            "invalid setting server.workers = true in FILE: expected a whole number from 1 to 512"
        );
    }

    #[test]
    fn empty_path_settings_unset() {
        let names: Vec<String> = PATH_SETTINGS
            .iter()
            .map(|key| format!("DIVOC__{}", key.to_uppercase().replace('.', "__")))
            .collect();
        let variables: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "")).collect();
        // The environment's empty values override the paths of the file.
        let text = "[auth]\npublic_key_file = \"key.pem\"\n[pdf]\nfont_files = [\"a.ttf\"]";
        let settings = load_with(text, &variables).unwrap();
        assert_eq!(settings.auth.public_key_file, None);
        assert_eq!(settings.auth.registration_public_key_file, None);
        assert_eq!(settings.auth.jwks_file, None);
        assert_eq!(settings.otp.signing_key_file, None);
        assert_eq!(settings.email.ca_file, None);
        assert_eq!(settings.pdf.labels_dir, None);
        assert_eq!(settings.pdf.font_files, None);
        assert!(!settings.auth.has_key_source());

        let text = "[auth]\njwks_file = \" \"\n[pdf]\nlabels_dir = \"\"";
        let settings = load_toml(text).unwrap();
        assert_eq!(settings.auth.jwks_file, None);
        assert_eq!(settings.pdf.labels_dir, None);
    }

    #[test]
    fn empty_item_in_path_list_rejected() {
        assert_eq!(
            load_error("[pdf]\nfont_files = [\"a.ttf\", \"\"]", &[]),
            "invalid setting pdf.font_files[1] = \"\" in FILE: expected a file path; an empty \
             value may only stand for the whole setting, which leaves it unset (remove the \
             extra comma)"
        );
        assert_eq!(
            load_error("", &[("DIVOC__PDF__FONT_FILES", "a.ttf,,b.ttf")]),
            "invalid setting pdf.font_files[1] = \"\" in environment variable \
             DIVOC__PDF__FONT_FILES: expected a file path; an empty value may only stand for \
             the whole setting, which leaves it unset (remove the extra comma)"
        );
        let settings = load_with("", &[("DIVOC__PDF__FONT_FILES", "a.ttf, b.ttf")]).unwrap();
        assert_eq!(
            settings.pdf.font_files,
            Some(vec![PathBuf::from("a.ttf"), PathBuf::from("b.ttf")])
        );
    }

    #[test]
    fn empty_name_lists_unset() {
        let defaults = Settings::default();
        let settings = load_with(
            "",
            &[
                ("DIVOC__AUTH__DISTRIBUTION_ROLES", ""),
                ("DIVOC__AUTH__PRINT_ROLES", " "),
                ("DIVOC__AUTH__ROLE_CLAIMS", ""),
                ("DIVOC__AUTH__MOBILE_CLAIMS", ""),
            ],
        )
        .unwrap();
        assert_eq!(
            settings.auth.distribution_roles,
            defaults.auth.distribution_roles
        );
        assert_eq!(settings.auth.print_roles, defaults.auth.print_roles);
        assert_eq!(settings.auth.role_claims, defaults.auth.role_claims);
        assert_eq!(settings.auth.mobile_claims, defaults.auth.mobile_claims);

        assert_eq!(
            load_error("", &[("DIVOC__AUTH__DISTRIBUTION_ROLES", "api,")]),
            "invalid setting auth.distribution_roles[1] = \"\" in environment variable \
             DIVOC__AUTH__DISTRIBUTION_ROLES: expected a name; an empty value may only stand \
             for the whole setting, which leaves it unset (remove the extra comma)"
        );
    }

    #[test]
    fn empty_issuer_rejected() {
        for (variable, key) in [
            ("DIVOC__AUTH__ISSUER", "auth.issuer"),
            ("DIVOC__AUTH__AUDIENCE", "auth.audience"),
            ("DIVOC__AUTH__CLIENT_ID", "auth.client_id"),
        ] {
            assert_eq!(
                load_error("", &[(variable, "")]),
                format!(
                    "invalid setting {key} = \"\" in environment variable {variable}: must not \
                     be empty; leave the setting out to skip its check"
                )
            );
        }
        assert_eq!(
            load_error("[auth]\nissuer = \" \"", &[]),
            "invalid setting auth.issuer = \" \" in FILE: must not be empty; leave the \
             setting out to skip its check"
        );
    }

    #[test]
    fn months_from_environment() {
        let months = "Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec";
        let settings = load_with("", &[("DIVOC__PDF__LABELS__MONTHS", months)]).unwrap();
        assert_eq!(settings.pdf.labels.months.join(","), months);
        let settings = load_with("", &[("DIVOC__PDF__LABELS__MONTHS", "")]).unwrap();
        assert_eq!(
            settings.pdf.labels.months,
            Settings::default().pdf.labels.months
        );
        assert_eq!(
            load_error(
                "",
                &[(
                    "DIVOC__PDF__LABELS__MONTHS",
                    "Jan,,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec"
                )]
            ),
            "invalid setting pdf.labels.months[1] = \"\" in environment variable \
             DIVOC__PDF__LABELS__MONTHS: expected a name; an empty value may only stand for \
             the whole setting, which leaves it unset (remove the extra comma)"
        );
    }

    #[test]
    fn bind_without_port_rejected() {
        let reason = "expected HOST:PORT, such as 127.0.0.1:8080 (port 0 picks a free port)";
        let invalid = [
            "",
            "127.0.0.1",
            ":8080",
            "127.0.0.1:",
            "127.0.0.1:65536",
            " 127.0.0.1:80",
        ];
        for value in invalid {
            assert_eq!(
                load_error(&format!("[server]\nbind = {value:?}"), &[]),
                format!("invalid setting server.bind = {value:?} in FILE: {reason}")
            );
        }
        assert_eq!(
            load_error("[server]\nbind = 8080", &[]),
            format!("invalid setting server.bind = 8080 in FILE: {reason}")
        );
        assert_eq!(
            load_error("", &[("DIVOC__SERVER__BIND", "")]),
            format!(
                "invalid setting server.bind = \"\" in environment variable \
                 DIVOC__SERVER__BIND: {reason}"
            )
        );
        for value in ["127.0.0.1:0", "[::1]:8080", "localhost:65535"] {
            let settings = load_with("", &[("DIVOC__SERVER__BIND", value)]).unwrap();
            assert_eq!(settings.server.bind, value);
        }
    }

    #[test]
    fn unknown_key_named_with_origin() {
        assert_eq!(
            load_error("[server]\nworkerz = 3", &[]),
            "unknown setting server.workerz in FILE: expected one of bind, workers, \
             render_concurrency, lookup_concurrency, shutdown_timeout_seconds, \
             body_timeout_seconds, max_connections, metrics, public_url"
        );
        assert_eq!(
            load_error("", &[("DIVOC__CACHE__SIZE", "3")]),
            "unknown setting cache.size in environment variable DIVOC__CACHE__SIZE: expected \
             one of enabled, max_bytes"
        );
    }

    #[test]
    fn enum_value_named_with_key() {
        assert_eq!(
            load_error("[qr]\npayload = \"zip\"", &[]),
            "invalid setting qr.payload = \"zip\" in FILE: unknown variant `zip`, expected \
             `divoc` or `raw`"
        );
    }

    #[test]
    fn unreadable_file_named() {
        let directory = tempfile::tempdir().unwrap();
        let error = Settings::load_from(Some(directory.path()), true, environment(&[]))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read configuration file {}: Is a directory (os error 21)",
                directory.path().display()
            )
        );
        let missing = directory.path().join("missing.toml");
        let error = Settings::load_from(Some(&missing), true, environment(&[]))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read configuration file {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        // The default file may be missing.
        let settings = Settings::load_from(Some(&missing), false, environment(&[])).unwrap();
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
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
        assert_eq!(
            load_error("[server]\nworkers = 1.5\n", &[]),
            "invalid setting server.workers = 1.5 in FILE: expected a whole number from 1 to 512"
        );
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

    #[test]
    fn environment_lists_split_and_trimmed() {
        let settings = load_with(
            "",
            &[
                ("DIVOC__AUTH__DISTRIBUTION_ROLES", "api, partner"),
                ("DIVOC__PDF__PROGRAM_NAME", "COVID-19, Measles"),
            ],
        )
        .unwrap();
        assert_eq!(settings.auth.distribution_roles, ["api", "partner"]);
        assert_eq!(settings.pdf.program_name, "COVID-19, Measles");
    }
}
