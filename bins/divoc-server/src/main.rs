//! `divoc-server`: serves DIVOC vaccination certificates as PDF and QR over HTTP.
//!
//! Subcommands: `serve` (the service), `import FILE...` (load registry exports
//! into the store) and `demo` (first run: sample data, a development key and a
//! ready-to-paste request, then `serve`).

mod auth;
mod citizen;
mod devkey;
mod error;
mod otp;
mod principal;
mod redact;
mod routes;
mod server;
mod service;
mod settings;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::auth::TokenVerifier;
use crate::devkey::DevKey;
use crate::settings::Settings;

/// The sample records that `demo` loads.
const SAMPLE_RECORDS: &str = include_str!("../../../fixtures/sample-records.json");
/// Beneficiary used in the request that `demo` prints.
const DEMO_BENEFICIARY: &str = "BEN1001";
/// Hours that the demo token stays valid.
const DEMO_TOKEN_HOURS: i64 = 24;

#[derive(Parser)]
#[command(
    name = "divoc-server",
    version,
    about = "Serves DIVOC vaccination certificates as PDF and QR"
)]
struct Cli {
    /// TOML settings file; `DIVOC__SECTION__KEY` environment variables override it.
    /// Default: divoc.toml in the current folder, when present.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service; needs a token key (auth.public_key_file, auth.jwks_file or auth.jwks_url).
    Serve,
    /// Import registry exports (JSON array, registry search response, or one record
    /// per line). Each file is one transaction: a bad record leaves the store unchanged.
    Import {
        /// Export files to import, in order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the audit trail of one certificate or one token subject, oldest first,
    /// as JSON lines.
    Audit {
        /// Certificate id to look up.
        #[arg(long, conflicts_with = "subject", required_unless_present = "subject")]
        certificate: Option<String>,
        /// Token subject (`sub`) to look up.
        #[arg(long)]
        subject: Option<String>,
        /// Most recent rows to print.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// First run: load the sample certificates into the configured store (by default
    /// data/divoc.sqlite), make a development key unless one is configured, print a
    /// request to try, and serve.
    Demo,
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let settings = match load_settings(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(message) => return fail(&message),
    };
    let result = match cli.command {
        Command::Serve => serve(&settings),
        Command::Import { files } => import(&settings, &files),
        Command::Demo => demo(&settings),
        Command::Audit {
            certificate,
            subject,
            limit,
        } => audit(&settings, certificate.as_deref(), subject.as_deref(), limit),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{}", error::one_line(message));
    ExitCode::FAILURE
}

fn load_settings(file: Option<&Path>) -> Result<Settings, String> {
    let (path, required) = match file {
        Some(path) => (Some(path.to_path_buf()), true),
        None => (Some(PathBuf::from("divoc.toml")), false),
    };
    Settings::load(path.as_deref(), required).map_err(|error| error.to_string())
}

fn serve(settings: &Settings) -> Result<(), String> {
    if !settings.auth.has_key_source() {
        return Err("no token key configured: point DIVOC__AUTH__PUBLIC_KEY_FILE at the PEM public key \
                    that signs your tokens (for example the Keycloak realm key), or set auth.jwks_url \
                    or auth.jwks_file; or run `divoc-server demo`"
            .to_owned());
    }
    start(settings)
}

fn start(settings: &Settings) -> Result<(), String> {
    let store = server::open_store(settings).map_err(|error| error.to_string())?;
    let otp = otp::OtpService::from_settings(settings, store.clone())
        .map_err(|error| error.to_string())?;
    let extra_keys: Vec<serde_json::Value> = otp.iter().map(otp::OtpService::public_jwk).collect();
    let verifier = TokenVerifier::from_settings(&settings.auth, &extra_keys)
        .map_err(|error| error.to_string())?;
    let service = server::build_service(settings, store).map_err(|error| error.to_string())?;
    actix_web::rt::System::new()
        .block_on(server::run(settings, service, verifier, otp))
        .map_err(|error| error.to_string())
}

#[expect(
    clippy::print_stdout,
    reason = "the import summary is the command's output"
)]
fn import(settings: &Settings, files: &[PathBuf]) -> Result<(), String> {
    let store = server::open_store(settings).map_err(|error| error.to_string())?;
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
        let summary = store
            .import_text(&text)
            .map_err(|error| format!("{}: nothing imported: {error}", file.display()))?;
        if summary.certificates == 0 && summary.revocations == 0 {
            return Err(format!(
                "{}: the file holds no records; check that the export is complete",
                file.display()
            ));
        }
        println!(
            "{}: {} certificates, {} revocations",
            file.display(),
            summary.certificates,
            summary.revocations
        );
    }
    Ok(())
}

#[expect(
    clippy::print_stdout,
    reason = "the audit rows are the command's output"
)]
fn audit(
    settings: &Settings,
    certificate: Option<&str>,
    subject: Option<&str>,
    limit: i64,
) -> Result<(), String> {
    let query = match (certificate, subject) {
        (Some(id), _) => divoc_store::AuditQuery::Certificate(id),
        (None, Some(subject)) => divoc_store::AuditQuery::Subject(subject),
        (None, None) => return Err("give --certificate ID or --subject SUBJECT".to_owned()),
    };
    let store = server::open_store(settings).map_err(|error| error.to_string())?;
    let events = store
        .audit_events(query, limit)
        .map_err(|error| error.to_string())?;
    for event in events {
        let line = serde_json::json!({
            "servedAt": event.served_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "certificateId": event.certificate_id,
            "route": event.route,
            "subject": event.subject,
            "role": event.role,
        });
        println!("{line}");
    }
    Ok(())
}

fn demo(settings: &Settings) -> Result<(), String> {
    if let Some(folder) = server::sqlite_folder(&settings.database.url) {
        std::fs::create_dir_all(&folder)
            .map_err(|error| format!("cannot create {}: {error}", folder.display()))?;
    }
    let store = server::open_store(settings).map_err(|error| error.to_string())?;
    let summary = store
        .import_text(SAMPLE_RECORDS)
        .map_err(|error| format!("sample records: {error}"))?;
    drop(store);
    let mut settings = settings.clone();
    let token = if settings.auth.has_key_source() {
        None
    } else {
        let key = DevKey::load_or_create(Path::new("data")).map_err(|error| error.to_string())?;
        tracing::warn!(
            public_key = %key.public_path.display(),
            "no token key configured: using the development key; never use it in production"
        );
        settings.auth.public_key_file = Some(key.public_path.clone());
        Some(
            key.token(DEMO_TOKEN_HOURS)
                .map_err(|error| error.to_string())?,
        )
    };
    if settings.otp.enabled && settings.otp.signing_key_file.is_none() {
        let path = Path::new("data").join(otp::DEVELOPMENT_KEY_FILE);
        otp::ensure_development_key(&path).map_err(|error| error.to_string())?;
        settings.otp.signing_key_file = Some(path);
    }
    print_demo_request(&settings, summary.certificates, token.as_deref());
    start(&settings)
}

fn print_demo_request(settings: &Settings, certificates: usize, token: Option<&str>) {
    let url = format!(
        "http://{}/certificate/api/certificatePDF/{DEMO_BENEFICIARY}",
        settings.server.bind
    );
    let authorization = match token {
        Some(token) => format!("Bearer {token}"),
        None => "Bearer <a token signed by your configured key>".to_owned(),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nLoaded {certificates} sample certificates. Try (token valid {DEMO_TOKEN_HOURS} h):\n"
    );
    let _ = writeln!(
        out,
        "curl -sS -o certificate.pdf -w '%{{http_code}} %{{content_type}} %{{size_download}} bytes\\n' \\\n  -H '\
         Authorization: {authorization}' \\\n  {url}\n"
    );
    let _ = out.flush();
}
