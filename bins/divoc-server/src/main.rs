//! `divoc-server`: serves DIVOC vaccination certificates as PDF and QR over HTTP.
//!
//! Subcommands: `serve` (the service), `import FILE...` (load registry exports
//! into the store), `generate` (synthetic exports for scale tests) and `demo`
//! (first run: sample data, a development key and a ready-to-paste request, then
//! `serve`).

mod audit;
mod auth;
mod body_deadline;
mod cache;
mod citizen;
mod delivery;
mod devkey;
mod error;
mod generate;
mod health;
mod import_check;
mod json_body;
mod language;
mod otp;
mod portal;
mod principal;
mod print;
mod redact;
mod routes;
mod server;
mod service;
mod settings;

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
    /// One-record-per-line files are streamed in batches; the other layouts are read whole.
    Import {
        /// Export files to import, in order; `-` reads standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Load into an empty store, and reject the import if the store has any
        /// certificate, revocation or mobile number. On PostgreSQL the import then
        /// builds the certificate indexes once at the end, and lookups wait until
        /// it commits. Only with one FILE.
        #[arg(long)]
        first_load: bool,
        /// Zip each certificate as the QR route does, and reject the file when
        /// one does not fit in a QR code in the form of qr.payload. Makes an import
        /// two to three times as slow.
        #[arg(long)]
        check_qr: bool,
        /// On PostgreSQL, read the stored rows on the import's own connection, not
        /// on a second one: for a server that allows no further connection, or a
        /// pooler in transaction mode. Slows imports into a filled store.
        #[arg(long)]
        single_connection: bool,
    },
    /// Write a synthetic registry export, one record per line, for scale tests.
    /// The same count and seed always give the same bytes. Mobile numbers are
    /// 0100000000 to 0999999999, which start with the trunk prefix 0 and so
    /// belong to no real subscriber.
    Generate {
        /// Beneficiaries to generate, at least 1; each has 1 to 4 doses plus
        /// any corrections and revocations.
        #[arg(long, value_name = "N", value_parser = generate::parse_beneficiaries)]
        beneficiaries: u64,
        /// Seed of the random values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file; standard output when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
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
        /// Most recent rows to print, at least 1.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
    },
    /// Render the latest certificate of each beneficiary into one PDF for a print
    /// shop, one certificate per page, with a CSV manifest of pages and skips.
    Print {
        /// PDF file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// CSV manifest to write; default: the PDF's path with the extension .csv.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// File with one beneficiary id per line, printed after the ids given as arguments.
        #[arg(long, value_name = "FILE")]
        ids_file: Option<PathBuf>,
        /// Language of the certificates, such as hi; a code without a label set
        /// falls back as on the PDF route. Default: pdf.language.
        #[arg(long, value_name = "CODE")]
        language: Option<String>,
        /// Beneficiary ids, printed in this order.
        #[arg(value_name = "ID")]
        ids: Vec<String>,
    },
    /// First run: load the sample certificates into the configured store (by default
    /// data/divoc.sqlite), make a development key unless one is configured, print a
    /// request to try, and serve.
    Demo,
}

/// mimalloc instead of glibc's malloc, with the `mimalloc` feature (on by
/// default). A render allocates and frees many small blocks. In a profile
/// under load, glibc's malloc and free took about 14 % of the server's CPU
/// time. `docs/benchmarks.md` compares the two allocators.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let settings = match load_settings(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(message) => return fail(&message),
    };
    let result = match cli.command {
        Command::Serve => serve(&settings),
        Command::Import {
            files,
            first_load,
            check_qr,
            single_connection,
        } => {
            let options = divoc_store::ImportOptions {
                first_load,
                single_connection,
                ..divoc_store::ImportOptions::default()
            };
            import(&settings, &files, &options, check_qr)
        }
        Command::Generate {
            beneficiaries,
            seed,
            out,
        } => generate(&settings, beneficiaries, seed, out.as_deref()),
        Command::Demo => demo(&settings),
        Command::Print {
            out,
            manifest,
            ids_file,
            language,
            ids,
        } => print::run_command(
            &settings,
            print::PrintArgs {
                out,
                manifest,
                ids_file,
                language,
                ids,
            },
        ),
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

/// Log directive that leaves out actix-web's lines about connections that
/// break HTTP, such as a header block over its limit. actix-web logs them at ERROR level, so
/// any client could write error lines. `RUST_LOG` that names `actix_http`
/// keeps them.
const CLIENT_ERRORS_OFF: &str = "actix_http::h1::dispatcher=off";

fn init_tracing() {
    let (mut filter, invalid) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, None),
        Err(error) => (
            EnvFilter::new("info"),
            std::env::var("RUST_LOG").ok().map(|value| (value, error)),
        ),
    };
    let names_actix = std::env::var("RUST_LOG").is_ok_and(|value| value.contains("actix_http"));
    if !names_actix && let Ok(directive) = CLIENT_ERRORS_OFF.parse() {
        filter = filter.add_directive(directive);
    }
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    if let Some((value, error)) = invalid {
        tracing::warn!(rust_log = %value, %error, "RUST_LOG is invalid; logging at info level");
    }
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
    start(settings, |_| {})
}

/// Opens the store and runs the server. `listening` is called with the bound
/// addresses once the listener is bound (see [`server::run`]).
///
/// The input files and, without `otp.enabled`, the token keys are checked
/// before the store is opened, so that such an error leaves no new, empty
/// SQLite file behind.
// NOTE: errors that only the services find still come after the store was
// opened, and leave a new SQLite file behind. Such errors are otp.enabled
// without otp.signing_key_file, invalid content of the signing key, of a
// label file or (with otp.enabled) of a token key file, and an invalid
// email.smtp_url.
fn start(
    settings: &Settings,
    listening: impl FnOnce(&[std::net::SocketAddr]),
) -> Result<(), String> {
    check_input_files(settings)?;
    server::time_zone(settings).map_err(|error| error.to_string())?;
    server::check_server_settings(settings).map_err(|error| error.to_string())?;
    // The key of the citizen login comes from its service, which needs the
    // store. Without the citizen login, the verifier is built first.
    let verifier_without_store = if settings.otp.enabled {
        None
    } else {
        Some(TokenVerifier::from_settings(&settings.auth, &[]).map_err(|error| error.to_string())?)
    };
    let store = server::open_store(settings).map_err(|error| error.to_string())?;
    let otp = otp::OtpService::from_settings(settings, store.clone())
        .map_err(|error| error.to_string())?;
    let verifier = match verifier_without_store {
        Some(verifier) => verifier,
        None => {
            let extra_keys: Vec<serde_json::Value> =
                otp.iter().map(otp::OtpService::public_jwk).collect();
            TokenVerifier::from_settings(&settings.auth, &extra_keys)
                .map_err(|error| error.to_string())?
        }
    };
    let delivery = delivery::Delivery::from_settings(settings, store.clone())
        .map_err(|error| error.to_string())?;
    let service = server::build_service(settings, store).map_err(|error| error.to_string())?;
    actix_web::rt::System::new()
        .block_on(server::run(
            settings, service, verifier, otp, delivery, listening,
        ))
        .map_err(|error| error.to_string())
}

/// Rejects a file or folder setting that `start` reads and that cannot be
/// opened: the token key files, the citizen login's signing key (with
/// `otp.enabled`), the SMTP CA file (with `email.smtp_url`) and
/// `pdf.labels_dir`. Only opening is checked, not the content.
fn check_input_files(settings: &Settings) -> Result<(), String> {
    let auth = &settings.auth;
    let mut files = vec![
        ("auth.public_key_file", auth.public_key_file.as_deref()),
        (
            "auth.registration_public_key_file",
            auth.registration_public_key_file.as_deref(),
        ),
        ("auth.jwks_file", auth.jwks_file.as_deref()),
    ];
    if settings.otp.enabled {
        files.push((
            "otp.signing_key_file",
            settings.otp.signing_key_file.as_deref(),
        ));
    }
    let smtp_url = settings.email.smtp_url.as_deref().map(str::trim);
    if smtp_url.is_some_and(|url| !url.is_empty()) {
        files.push(("email.ca_file", settings.email.ca_file.as_deref()));
    }
    for (key, path) in files {
        let Some(path) = path else { continue };
        let cannot_read =
            |reason: String| format!("cannot read {key} {}: {reason}", path.display());
        let metadata = std::fs::File::open(path)
            .and_then(|file| file.metadata())
            .map_err(|error| cannot_read(error.to_string()))?;
        // A directory opens on Linux, and only the first read fails.
        if metadata.is_dir() {
            return Err(cannot_read("it is a directory, not a file".to_owned()));
        }
    }
    if let Some(folder) = &settings.pdf.labels_dir {
        std::fs::read_dir(folder)
            .map_err(|error| format!("cannot read pdf.labels_dir {}: {error}", folder.display()))?;
    }
    Ok(())
}

fn import(
    settings: &Settings,
    files: &[PathBuf],
    options: &divoc_store::ImportOptions,
    check_qr: bool,
) -> Result<(), String> {
    if options.first_load && files.len() > 1 {
        return Err(format!(
            "--first-load takes one file, got {}: a first load writes into an empty store, \
             so import the first file with --first-load and the others without it",
            files.len()
        ));
    }
    let stdin_arguments = files.iter().filter(|file| file.as_os_str() == "-").count();
    if stdin_arguments > 1 {
        return Err(format!(
            "- (standard input) is given {stdin_arguments} times: standard input can be \
             read once, so give - once"
        ));
    }
    let Some((first_file, other_files)) = files.split_first() else {
        return Err(
            "no file to import: give one or more export files, or - for standard input".to_owned(),
        );
    };
    // The first file is opened before the store, so that a file that cannot be
    // read leaves no empty SQLite file behind when the store did not exist yet.
    // NOTE: a first file that opens but is rejected (such as invalid JSON)
    // still leaves the new SQLite file, with the schema and no records.
    let first_reader = open_import_input(first_file)?;
    // The import writes on one connection. A pool of one keeps a second
    // connection from opening, so that an SQLite import into a file that no
    // other process has open can use a rollback journal (see
    // `Store::import_stream`).
    let mut settings = settings.clone();
    settings.database.max_connections = 1;
    let store = server::open_store(&settings).map_err(|error| error.to_string())?;
    let qr_form = check_qr.then(|| server::qr_payload_form(settings.qr.payload));
    import_file(&store, first_file, first_reader, options, qr_form)?;
    for file in other_files {
        let reader = open_import_input(file)?;
        import_file(&store, file, reader, options, qr_form)?;
    }
    Ok(())
}

/// Opens an export file for `import`, or standard input for `-`.
fn open_import_input(file: &Path) -> Result<Box<dyn BufRead + Send>, String> {
    if file.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            IMPORT_READ_BUFFER,
            std::io::stdin(),
        )));
    }
    let name = file.display();
    let opened =
        std::fs::File::open(file).map_err(|error| format!("cannot read {name}: {error}"))?;
    // A directory opens on Linux, and only the first read fails.
    let metadata = opened
        .metadata()
        .map_err(|error| format!("cannot read {name}: {error}"))?;
    if metadata.is_dir() {
        return Err(format!(
            "cannot read {name}: it is a directory, not an export file"
        ));
    }
    Ok(Box::new(BufReader::with_capacity(
        IMPORT_READ_BUFFER,
        opened,
    )))
}

/// Imports one export as one transaction and prints its counts.
fn import_file(
    store: &divoc_store::Store,
    file: &Path,
    reader: Box<dyn BufRead + Send>,
    options: &divoc_store::ImportOptions,
    qr_form: Option<divoc_qr::PayloadForm>,
) -> Result<(), String> {
    let name = file.display().to_string();
    let mut progress = ImportProgressReport::new(&name);
    let mut report = |counts: &divoc_store::ImportProgress| progress.update(counts);
    let summary = match qr_form {
        Some(form) => {
            import_check::import_reader_checked(store, reader, options, form, &mut report)
        }
        None => store.import_reader_with(reader, options, &mut report),
    };
    let summary = summary.map_err(|error| match error {
        divoc_store::StoreError::NotEmpty { .. } => format!(
            "{name}: nothing imported: {error}; import without --first-load \
                 to add to a filled store"
        ),
        _ => format!("{name}: nothing imported: {error}"),
    });
    progress.finish();
    let summary = summary?;
    if summary.certificates == 0 && summary.revocations == 0 {
        return Err(format!(
            "{name}: the file holds no records; check that the export is complete"
        ));
    }
    let rows = |counts: &divoc_store::RowCounts| {
        let mut text = format!(
            "{} new, {} updated, {} unchanged",
            counts.inserted, counts.updated, counts.unchanged
        );
        if counts.older > 0 {
            text.push_str(&format!(
                ", {} kept because the stored record is newer",
                counts.older
            ));
        }
        text
    };
    output_line(&format!(
        "{name}: {} ({}), {} ({})",
        count_of(summary.certificates, "certificate"),
        rows(&summary.certificate_rows),
        count_of(summary.revocations, "revocation"),
        rows(&summary.revocation_rows)
    ))
    .map_err(|error| {
        format!(
            "{name} was imported and committed, but its summary could not be written ({error}); \
             later files were not imported"
        )
    })?;
    Ok(())
}

/// Formats `count` with `noun`, in the plural unless `count` is 1.
fn count_of(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Read buffer of `import`, in bytes.
const IMPORT_READ_BUFFER: usize = 1 << 20;
/// Interval of the plain progress lines when standard error is not a terminal.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Import progress on standard error: a progress bar on a terminal, otherwise
/// a log line every [`PROGRESS_LOG_INTERVAL`]. Both show counts only.
struct ImportProgressReport<'a> {
    file: &'a str,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl<'a> ImportProgressReport<'a> {
    fn new(file: &'a str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {prefix}: {human_pos} records, {msg} records/s, {elapsed}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(file.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Self {
            file,
            bar,
            started: now,
            last_line: now,
        }
    }

    fn update(&mut self, counts: &divoc_store::ImportProgress) {
        if let Some(bar) = &self.bar {
            bar.set_position(counts.entries as u64);
            bar.set_message(format!("{:.0}", self.rate(counts.entries)));
            return;
        }
        if self.last_line.elapsed() >= PROGRESS_LOG_INTERVAL {
            self.last_line = Instant::now();
            self.log_line(counts.entries, "import progress");
        }
    }

    fn rate(&self, records: usize) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if seconds > 0.0 {
            records as f64 / seconds
        } else {
            0.0
        }
    }

    fn log_line(&self, records: usize, message: &str) {
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = self.rate(records);
        tracing::info!(
            file = self.file,
            records,
            seconds = format!("{seconds:.1}"),
            records_per_second = rate.round() as u64,
            "{message}"
        );
    }

    /// Stops the progress bar and leaves its last state on screen.
    // NOTE: the store's "import committed" log line is written while the bar
    // is still drawn, so on a terminal it starts on the bar's line.
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

fn generate(
    settings: &Settings,
    beneficiaries: u64,
    seed: u64,
    out: Option<&Path>,
) -> Result<(), String> {
    let started = Instant::now();
    let counts = match out {
        Some(path) => {
            print::check_not_store_file(settings, path)?;
            let file = std::fs::File::create(path)
                .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
            let mut writer = std::io::BufWriter::with_capacity(IMPORT_READ_BUFFER, file);
            match generate::write_export(&mut writer, beneficiaries, seed) {
                Ok(counts) => counts,
                // `--out` may name a pipe, such as /dev/stdout.
                Err(error) if reader_left(&error) => return Ok(()),
                Err(error) => return Err(format!("writing {} failed: {error}", path.display())),
            }
        }
        None => {
            let mut writer =
                std::io::BufWriter::with_capacity(IMPORT_READ_BUFFER, std::io::stdout().lock());
            match generate::write_export(&mut writer, beneficiaries, seed) {
                Ok(counts) => counts,
                Err(error) if reader_left(&error) => return Ok(()),
                Err(error) => return Err(format!("writing to standard output failed: {error}")),
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        beneficiaries = counts.beneficiaries,
        certificates = counts.certificates,
        revocations = counts.revocations,
        records = counts.records(),
        seconds = format!("{seconds:.1}"),
        "export generated"
    );
    Ok(())
}

/// Tells whether a write to standard output failed because its reader
/// closed it, as `| head` does. The command then stops and exits with
/// status 0.
fn reader_left(error: &std::io::Error) -> bool {
    let left = error.kind() == std::io::ErrorKind::BrokenPipe;
    if left {
        tracing::info!("standard output was closed by its reader; stopped writing");
    }
    left
}

/// Writes one line of a command's output to standard output. Returns
/// false when the reader has left (see [`reader_left`]).
pub(crate) fn output_line(line: &str) -> Result<bool, String> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(error) if reader_left(&error) => Ok(false),
        Err(error) => Err(format!("writing to standard output failed: {error}")),
    }
}

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
        if !output_line(&line.to_string())? {
            break;
        }
    }
    Ok(())
}

fn demo(settings: &Settings) -> Result<(), String> {
    if divoc_store::is_in_memory(&settings.database.url) {
        return Err(format!(
            "demo needs a database file or PostgreSQL: it loads the samples, then serves \
             them from a new store, and an in-memory database ({}) would be empty by then",
            settings.database.url
        ));
    }
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
        let distribution = key
            .token(DEMO_TOKEN_HOURS, "api")
            .map_err(|error| error.to_string())?;
        let print = key
            .token(DEMO_TOKEN_HOURS, "facility-staff")
            .map_err(|error| error.to_string())?;
        Some(DemoTokens {
            distribution,
            print,
        })
    };
    if settings.otp.enabled && settings.otp.signing_key_file.is_none() {
        let path = Path::new("data").join(otp::DEVELOPMENT_KEY_FILE);
        otp::ensure_development_key(&path).map_err(|error| error.to_string())?;
        settings.otp.signing_key_file = Some(path);
    }
    // The sample requests are printed once the listener is bound, so that a
    // `server.bind` with port 0 prints the port the server got.
    start(&settings, |addresses| {
        let address = listening_address(&settings.server, addresses);
        print_demo_request(&settings, &address, summary.certificates, token.as_ref());
    })
}

/// Returns `server.bind` with port 0 replaced by the port of the first bound
/// address, as share links do. The host stays as configured.
fn listening_address(
    server: &settings::ServerSettings,
    addresses: &[std::net::SocketAddr],
) -> String {
    match (server.host_of_free_port_bind(), addresses.first()) {
        (Some(host), Some(address)) => format!("{host}:{}", address.port()),
        _ => server.bind.clone(),
    }
}

/// Tokens signed with the development key for the demo's printed requests.
struct DemoTokens {
    /// Distribution role `api`.
    distribution: String,
    /// Print role `facility-staff`.
    print: String,
}

/// Prints the demo's sample requests to the server at `address` (host and port).
fn print_demo_request(
    settings: &Settings,
    address: &str,
    certificates: usize,
    tokens: Option<&DemoTokens>,
) {
    let url = format!("http://{address}/certificate/api/certificatePDF/{DEMO_BENEFICIARY}");
    let authorization = match tokens {
        Some(tokens) => format!("Bearer {}", tokens.distribution),
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
    if let Some(tokens) = tokens {
        let _ = writeln!(
            out,
            "A token with the print role, for facility search and bulk print:\n\n  \
             export PRINT_TOKEN={}\n",
            tokens.print
        );
    }
    if settings.portal.enabled {
        let sign_in = if settings.otp.enabled {
            "sign in with a sample mobile number such as 9000000001; the code is in the server log"
        } else {
            "start with DIVOC__OTP__ENABLED=true to sign in"
        };
        let _ = writeln!(
            out,
            "Citizen portal: http://{address}{} ({sign_in})\n",
            portal::PORTAL_PATH
        );
    }
    let _ = out.flush();
}
