//! Building the service from settings and running the HTTP server.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use divoc_pdf::{PdfRenderer, PdfSettings};
use divoc_qr::{PayloadForm, QrOptions};
use divoc_store::{Store, StoreOptions, redact_url};
use tokio::sync::Semaphore;

use crate::audit::AuditWriter;
use crate::auth::TokenVerifier;
use crate::cache::RenderCache;
use crate::delivery::{Delivery, DeliveryStartError};
use crate::otp::OtpService;
use crate::routes::{AppState, configure, configure_metrics, log_request};
use crate::service::CertificateService;
use crate::settings::{QrPayload, Settings};

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("cannot open the certificate store at {url}: {source}")]
    Store {
        /// The URL without its password.
        url: String,
        /// The store error.
        source: divoc_store::StoreError,
    },
    /// A setting has a wrong value.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// Setting name, such as `pdf.timezone`.
        name: &'static str,
        /// The reason.
        reason: String,
    },
    /// The PDF renderer could not be prepared.
    #[error("cannot prepare the PDF renderer: {0}")]
    Pdf(#[from] divoc_pdf::PdfError),
    /// A render thread could not be started.
    #[error("cannot start render thread: {0}")]
    RenderThread(std::io::Error),
    /// The audit writer thread could not be started.
    #[error("cannot start the audit writer thread: {0}")]
    AuditThread(std::io::Error),
    /// The share, email or notify routes could not start.
    #[error(transparent)]
    Delivery(#[from] DeliveryStartError),
    /// Binding or running the listener failed.
    #[error("HTTP server on {bind}: {source}")]
    Http {
        /// The bind address.
        bind: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Returns the folder of an SQLite database URL (`sqlite://PATH`, `sqlite:PATH`,
/// `file:PATH` or a plain path), or `None` for other URLs, in-memory databases
/// and a file in the current folder.
pub fn sqlite_folder(url: &str) -> Option<std::path::PathBuf> {
    let path = divoc_store::sqlite_file(url)?;
    let folder = path.parent()?;
    if folder.as_os_str().is_empty() {
        return None;
    }
    Some(folder.to_path_buf())
}

/// Opens the store named by the settings.
pub fn open_store(settings: &Settings) -> Result<Store, StartError> {
    let options = StoreOptions {
        max_connections: settings.database.max_connections,
        connection_timeout: Duration::from_secs(settings.database.connection_timeout_seconds),
        replica_url: settings
            .database
            .replica_url
            .clone()
            .filter(|url| !url.trim().is_empty()),
        sqlite_cache_kib: settings.database.sqlite_cache_kib,
        ..StoreOptions::default()
    };
    if let Some(folder) = sqlite_folder(&settings.database.url)
        && !folder.is_dir()
    {
        return Err(StartError::Setting {
            name: "database.url",
            reason: format!(
                "the folder {} of the SQLite database does not exist; create it first",
                folder.display()
            ),
        });
    }
    Store::open(&settings.database.url, &options).map_err(|source| StartError::Store {
        url: redact_url(&settings.database.url),
        source,
    })
}

/// Returns the time zone of `pdf.timezone`.
///
/// # Errors
///
/// [`StartError::Setting`] when the name is not an IANA time zone.
pub fn time_zone(settings: &Settings) -> Result<chrono_tz::Tz, StartError> {
    settings
        .pdf
        .timezone
        .parse::<chrono_tz::Tz>()
        .map_err(|_| StartError::Setting {
            name: "pdf.timezone",
            reason: format!(
                "{:?} is not an IANA time zone name such as Asia/Kolkata or UTC",
                settings.pdf.timezone
            ),
        })
}

/// Builds the pipeline: renderer, QR options, render cache and store.
pub fn build_service(settings: &Settings, store: Store) -> Result<CertificateService, StartError> {
    let time_zone = time_zone(settings)?;
    let defaults = PdfSettings::default();
    let pdf_settings = PdfSettings {
        labels: settings.pdf.labels.clone(),
        time_zone,
        issuer_name: settings.pdf.issuer_name.clone(),
        program_name: settings.pdf.program_name.clone(),
        language: settings.pdf.language.clone(),
        show_english: settings.pdf.show_english,
        labels_dir: settings.pdf.labels_dir.clone(),
        font_files: settings
            .pdf
            .font_files
            .clone()
            .unwrap_or(defaults.font_files.clone()),
        ..defaults
    };
    let renderer = PdfRenderer::new(pdf_settings)?;
    tracing::info!(
        default_language = %renderer.resolve_language(None),
        languages = %renderer.languages().join(","),
        script_fonts = renderer.script_fonts().len(),
        "certificate languages loaded"
    );
    let qr_options = QrOptions {
        form: qr_payload_form(settings.qr.payload),
        ..QrOptions::default()
    };
    if settings.qr.pixels_per_module == 0
        || settings.qr.pixels_per_module > divoc_qr::MAX_PIXELS_PER_MODULE
    {
        return Err(StartError::Setting {
            name: "qr.pixels_per_module",
            reason: format!("must be between 1 and {}", divoc_qr::MAX_PIXELS_PER_MODULE),
        });
    }
    let cache = RenderCache::new(settings.cache.enabled, settings.cache.max_bytes);
    let audit = AuditWriter::start(store.clone()).map_err(StartError::AuditThread)?;
    Ok(CertificateService::new(
        store,
        renderer,
        qr_options,
        settings.qr.pixels_per_module,
        cache,
        audit,
    ))
}

/// Runs the HTTP server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
///
/// `listening` is called once with the bound addresses, after the listener is
/// bound and before the first request is served. With port 0 in
/// `server.bind`, they contain the port the operating system chose.
pub async fn run(
    settings: &Settings,
    service: CertificateService,
    verifier: TokenVerifier,
    otp: Option<OtpService>,
    delivery: Delivery,
    listening: impl FnOnce(&[SocketAddr]),
) -> Result<(), StartError> {
    let otp = otp.map(web::Data::new);
    let delivery = web::Data::new(delivery);
    let delivery_for_links = delivery.clone();
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2);
    let workers = settings.server.workers.unwrap_or(cores).max(1);
    let render_concurrency = settings.server.render_concurrency.unwrap_or(cores).max(1);
    let lookup_concurrency = lookup_concurrency(settings, cores);

    let backend = service.store().backend_name();
    let state = web::Data::new(AppState {
        service: Arc::new(service),
        verifier,
        render_pool: RenderPool::start(render_concurrency).map_err(StartError::RenderThread)?,
        lookup_permits: Arc::new(Semaphore::new(lookup_concurrency)),
    });

    Delivery::start_worker(&delivery.clone().into_inner(), Arc::clone(&state.service))?;

    // Kept to write the queued audit events once the server has stopped.
    let audit_state = state.clone();
    let metrics = settings.server.metrics;
    let portal = settings
        .portal
        .enabled
        .then(|| crate::portal::PortalConfig::from_settings(&settings.portal))
        .transpose()?;
    let portal_enabled = portal.is_some();
    let max_print = settings.print.max_beneficiaries;
    let body_timeout = Duration::from_secs(settings.server.body_timeout_seconds);
    let connections =
        ConnectionLimit::new(settings.server.max_connections, workers, open_file_limit());
    let bind = settings.server.bind.clone();
    let http_error = |source| StartError::Http {
        bind: bind.clone(),
        source,
    };
    let server = HttpServer::new(move || {
        let otp = otp.clone();
        let delivery = delivery.clone();
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(move |request, next| {
                crate::body_deadline::enforce(body_timeout, request, next)
            }))
            .wrap(crate::error::json_extractor_errors())
            .wrap(from_fn(log_request))
            .configure(|config| crate::otp::configure(config, otp))
            .configure(|config| crate::delivery::configure(config, delivery))
            .configure(|config| {
                if metrics {
                    configure_metrics(config);
                }
            })
            .configure(|config| {
                if let Some(portal) = &portal {
                    crate::portal::configure(config, portal);
                }
            })
            .configure(|config| crate::print::configure(config, max_print))
            .configure(crate::health::configure)
            .configure(configure)
    })
    .workers(workers)
    .max_connections(connections.per_worker)
    .shutdown_timeout(settings.server.shutdown_timeout_seconds)
    .disable_signals()
    .bind(&bind)
    .map_err(http_error)?;

    connections.log();
    let bound = server.addrs();
    if let Some(address) = bound.first() {
        delivery_for_links.use_bound_port(address.port());
    }
    let addresses: Vec<String> = bound.iter().map(ToString::to_string).collect();
    let server = server.run();
    tracing::info!(
        bind = %addresses.join(","),
        backend,
        workers,
        render_concurrency,
        lookup_concurrency,
        max_connections = connections.total(),
        body_timeout_seconds = body_timeout.as_secs(),
        cache_enabled = settings.cache.enabled,
        cache_max_bytes = settings.cache.max_bytes,
        metrics,
        "divoc-server listening"
    );
    if portal_enabled && let Some(address) = addresses.first() {
        tracing::info!(
            url = format!("http://{address}{}", crate::portal::PORTAL_PATH),
            "citizen portal"
        );
    }
    listening(&bound);

    let handle = server.handle();
    tokio::spawn(async move {
        wait_for_shutdown_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        handle.stop(true).await;
    });
    let result = server.await;
    audit_state.service.close_audit();
    result.map_err(http_error)?;
    tracing::info!("divoc-server stopped");
    Ok(())
}

/// Files that the server keeps for itself under the open-file limit: store
/// connections, the SQLite files, SMTP and SMS connections, the log.
const RESERVED_FILES: u64 = 256;

/// How many connections the listener keeps open at once.
///
/// actix-web counts connections per worker, so `server.max_connections` is
/// divided among the workers (at least one each). It is also kept below the
/// process's open-file limit, because a connection is a file descriptor:
/// once they ran out, the server could open no file or store connection,
/// and `/healthz` stopped responding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectionLimit {
    /// Connections per worker.
    per_worker: usize,
    /// The workers.
    workers: usize,
    /// `server.max_connections` when the open-file limit lowered it.
    lowered_from: Option<usize>,
    /// The open-file limit, when known.
    file_limit: Option<u64>,
}

impl ConnectionLimit {
    fn new(configured: usize, workers: usize, file_limit: Option<u64>) -> ConnectionLimit {
        let workers = workers.max(1);
        let allowed = file_limit.map(|limit| {
            let allowed = limit.saturating_sub(RESERVED_FILES).max(limit / 2);
            usize::try_from(allowed).unwrap_or(usize::MAX)
        });
        let total = match allowed {
            Some(allowed) => configured.min(allowed),
            None => configured,
        };
        ConnectionLimit {
            per_worker: (total / workers).max(1),
            workers,
            lowered_from: (total < configured).then_some(configured),
            file_limit,
        }
    }

    /// Connections over all workers.
    fn total(&self) -> usize {
        self.per_worker.saturating_mul(self.workers)
    }

    fn log(&self) {
        if let (Some(configured), Some(file_limit)) = (self.lowered_from, self.file_limit) {
            tracing::warn!(
                max_connections = configured,
                open_file_limit = file_limit,
                accepted = self.total(),
                "server.max_connections is more than the open-file limit allows; fewer \
                 connections are accepted. Raise the limit (ulimit -n, or LimitNOFILE= in a \
                 systemd unit) to accept more"
            );
        }
    }
}

/// Returns the soft limit on open files of this process (`ulimit -n`), from
/// `/proc/self/limits`; `None` where that file does not exist, or gives
/// `unlimited`.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_file_limit(&limits)
}

/// Reads the soft limit of `Max open files` from the text of `/proc/self/limits`.
fn soft_open_file_limit(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Checks the `[server]` settings that [`run`] uses and the settings loader
/// does not. Called before the store is opened.
///
/// # Errors
///
/// [`StartError::Setting`] for a body timeout or connection limit of 0.
pub fn check_server_settings(settings: &Settings) -> Result<(), StartError> {
    if settings.server.body_timeout_seconds == 0 {
        return Err(StartError::Setting {
            name: "server.body_timeout_seconds",
            reason: "must be at least 1: every request body would time out".to_owned(),
        });
    }
    if settings.server.max_connections == 0 {
        return Err(StartError::Setting {
            name: "server.max_connections",
            reason: "must be at least 1: no connection would be accepted".to_owned(),
        });
    }
    Ok(())
}

/// Returns how many PDF and QR lookups may run at once: `server.lookup_concurrency`,
/// by default one per core, and at most the pooled connections.
///
/// One per core keeps the render threads busy. More lookups at once only
/// compete for the cores with the renders and with a database on the same
/// machine, which lengthens the slowest requests (`docs/benchmarks.md`).
fn lookup_concurrency(settings: &Settings, cores: usize) -> usize {
    let connections = usize::try_from(settings.database.max_connections).unwrap_or(usize::MAX);
    settings
        .server
        .lookup_concurrency
        .unwrap_or(cores)
        .min(connections)
        .max(1)
}

/// A render job: runs on a render thread and sends its result back itself.
type RenderJob = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that run the PDF and QR renders, in request order.
///
/// The threads are few and always the same because the allocator keeps memory
/// per thread, and a render allocates a few megabytes. On the blocking pool,
/// renders ran on any of its threads and left render-sized free memory behind
/// on each. Measured on 2 cores with 6,000 beneficiaries from `divoc-server
/// generate`, 64 concurrent PDF requests and the render cache disabled, peak
/// RSS was about 78 MB that way and 46 MB with this pool (glibc's malloc, which
/// the server used then).
pub struct RenderPool {
    jobs: mpsc::Sender<RenderJob>,
}

/// A render that panicked and so returned no result.
#[derive(Debug, thiserror::Error)]
#[error("the render panicked")]
pub struct RenderPanicked;

impl RenderPool {
    /// Starts `threads` render threads. They stop when the pool is dropped.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let (jobs, receiver) = mpsc::channel::<RenderJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("render-{index}"))
                .spawn(move || run_render_jobs(&receiver))?;
        }
        Ok(RenderPool { jobs })
    }

    /// Runs `render` on a render thread once one is free and returns its result.
    pub async fn run<T, F>(&self, render: F) -> Result<T, RenderPanicked>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: RenderJob = Box::new(move || {
            // A request dropped while its job waited (the client left) needs no render.
            if sender.is_closed() {
                return;
            }
            let _ = sender.send(render());
        });
        // Sending fails only after every render thread has exited and dropped the
        // receiver of jobs. The job and its sender are then dropped, so the
        // receiver below returns an error.
        let _ = self.jobs.send(job);
        receiver.await.map_err(|_| RenderPanicked)
    }
}

/// Runs jobs until the pool is dropped. A job that panics loses only its own
/// result: its request gets a 500 and the thread takes the next job.
fn run_render_jobs(receiver: &Mutex<mpsc::Receiver<RenderJob>>) {
    loop {
        // The lock is held only while waiting for a job, never during one, so a
        // poisoned lock holds a consistent receiver.
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = job else {
            return;
        };
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a render panicked; its request failed with status 500");
        }
    }
}

async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Returns the QR payload form of the `qr.payload` setting.
pub(crate) fn qr_payload_form(payload: QrPayload) -> PayloadForm {
    match payload {
        QrPayload::Divoc => PayloadForm::DivocExpanded,
        QrPayload::Raw => PayloadForm::Raw,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{
        ConnectionLimit, RenderPool, check_server_settings, lookup_concurrency, open_store,
        soft_open_file_limit, sqlite_folder,
    };
    use crate::settings::Settings;

    #[test]
    fn sqlite_folder_of_each_scheme() {
        assert_eq!(
            sqlite_folder("sqlite:///var/lib/divoc/divoc.sqlite"),
            Some(PathBuf::from("/var/lib/divoc"))
        );
        assert_eq!(
            sqlite_folder("SQLite:///var/lib/divoc/divoc.sqlite"),
            Some(PathBuf::from("/var/lib/divoc"))
        );
        assert_eq!(
            sqlite_folder("data/divoc.sqlite"),
            Some(PathBuf::from("data"))
        );
        assert_eq!(sqlite_folder("postgres://divoc:secret@db/divoc"), None);
        assert_eq!(sqlite_folder("POSTGRES://divoc:secret@db/divoc"), None);
        assert_eq!(sqlite_folder("Postgresql://divoc:secret@db/divoc"), None);
        assert_eq!(sqlite_folder("mysql://divoc:secret@db/divoc"), None);
    }

    #[test]
    fn store_error_hides_password_of_any_scheme() {
        for url in [
            "POSTGRES://divoc:s3cret@127.0.0.1:1/divoc",
            "mysql://divoc:s3cret@127.0.0.1:1/divoc",
        ] {
            let mut settings = Settings::default();
            settings.database.url = url.to_owned();
            settings.database.connection_timeout_seconds = 1;
            let Err(error) = open_store(&settings) else {
                panic!("{url} opened");
            };
            let message = error.to_string();
            assert!(!message.contains("s3cret"), "{message}");
            assert!(message.contains("divoc:***@127.0.0.1:1"), "{message}");
        }
    }

    #[test]
    fn lookup_concurrency_per_core_within_pool() {
        let mut settings = Settings::default();
        assert_eq!(settings.database.max_connections, 8);
        assert_eq!(lookup_concurrency(&settings, 2), 2);
        assert_eq!(lookup_concurrency(&settings, 16), 8);

        settings.server.lookup_concurrency = Some(6);
        assert_eq!(lookup_concurrency(&settings, 2), 6);
        settings.database.max_connections = 4;
        assert_eq!(lookup_concurrency(&settings, 2), 4);

        settings.server.lookup_concurrency = Some(0);
        assert_eq!(lookup_concurrency(&settings, 2), 1);
    }

    #[test]
    fn render_pool_survives_panic() {
        let pool = RenderPool::start(1).unwrap();
        actix_web::rt::System::new().block_on(async {
            assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
            let failed = pool.run(|| -> u32 { panic!("render failed") }).await;
            assert!(failed.is_err());
            // The only thread caught the panic and takes the next job.
            assert_eq!(pool.run(|| "next").await.unwrap(), "next");
        });
    }

    #[test]
    fn connections_divided_among_workers() {
        let limit = ConnectionLimit::new(10_000, 4, None);
        assert_eq!(
            (limit.per_worker, limit.total(), limit.lowered_from),
            (2_500, 10_000, None)
        );
        // Rounded down, and at least one per worker.
        assert_eq!(ConnectionLimit::new(10, 3, None).total(), 9);
        assert_eq!(ConnectionLimit::new(1, 2, None).per_worker, 1);
    }

    #[test]
    fn connections_kept_below_open_file_limit() {
        // 256 files are kept for the server itself.
        let limit = ConnectionLimit::new(10_000, 2, Some(4_096));
        assert_eq!(limit.total(), 3_840);
        assert_eq!(limit.lowered_from, Some(10_000));
        // With a small limit, half of it.
        assert_eq!(ConnectionLimit::new(10_000, 2, Some(400)).total(), 200);
        // A setting under the limit stays.
        let limit = ConnectionLimit::new(1_000, 2, Some(20_000));
        assert_eq!((limit.total(), limit.lowered_from), (1_000, None));
    }

    #[test]
    fn open_file_limit_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_file_limit(limits), Some(1_024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(soft_open_file_limit(unlimited), None);
        assert_eq!(soft_open_file_limit(""), None);
    }

    #[test]
    fn zero_body_timeout_and_connections_rejected() {
        let mut settings = Settings::default();
        assert!(check_server_settings(&settings).is_ok());
        settings.server.body_timeout_seconds = 0;
        assert_eq!(
            check_server_settings(&settings).unwrap_err().to_string(),
            "invalid setting server.body_timeout_seconds: must be at least 1: every request body \
             would time out"
        );
        settings.server.body_timeout_seconds = 10;
        settings.server.max_connections = 0;
        assert_eq!(
            check_server_settings(&settings).unwrap_err().to_string(),
            "invalid setting server.max_connections: must be at least 1: no connection would be \
             accepted"
        );
    }
}
