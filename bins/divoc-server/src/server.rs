//! Building the service from settings and running the HTTP server.

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use divoc_pdf::{PdfRenderer, PdfSettings};
use divoc_qr::{PayloadForm, QrOptions};
use divoc_store::{Store, StoreOptions, redact_url};
use tokio::sync::Semaphore;

use crate::auth::TokenVerifier;
use crate::otp::OtpService;
use crate::routes::{AppState, configure, log_request};
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
/// `file:PATH` or a plain path), or `None` for other URLs and in-memory databases.
pub fn sqlite_folder(url: &str) -> Option<std::path::PathBuf> {
    if url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.contains(":memory:")
    {
        return None;
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .or_else(|| url.strip_prefix("file:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let folder = std::path::Path::new(path).parent()?;
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

/// Builds the pipeline: renderer, QR options and store.
pub fn build_service(settings: &Settings, store: Store) -> Result<CertificateService, StartError> {
    let time_zone = settings
        .pdf
        .timezone
        .parse::<chrono_tz::Tz>()
        .map_err(|_| StartError::Setting {
            name: "pdf.timezone",
            reason: format!(
                "{:?} is not an IANA time zone name such as Asia/Kolkata or UTC",
                settings.pdf.timezone
            ),
        })?;
    let pdf_settings = PdfSettings {
        labels: settings.pdf.labels.clone(),
        time_zone,
        issuer_name: settings.pdf.issuer_name.clone(),
        program_name: settings.pdf.program_name.clone(),
        ..PdfSettings::default()
    };
    let renderer = PdfRenderer::new(pdf_settings)?;
    let form = match settings.qr.payload {
        QrPayload::Divoc => PayloadForm::DivocExpanded,
        QrPayload::Raw => PayloadForm::Raw,
    };
    let qr_options = QrOptions {
        form,
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
    Ok(CertificateService::new(
        store,
        renderer,
        qr_options,
        settings.qr.pixels_per_module,
    ))
}

/// Runs the HTTP server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn run(
    settings: &Settings,
    service: CertificateService,
    verifier: TokenVerifier,
    otp: Option<OtpService>,
) -> Result<(), StartError> {
    let otp = otp.map(web::Data::new);
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2);
    let workers = settings.server.workers.unwrap_or(cores).max(1);
    let render_concurrency = settings.server.render_concurrency.unwrap_or(cores).max(1);
    let backend = service.store().backend_name();
    let state = web::Data::new(AppState {
        service: Arc::new(service),
        verifier,
        render_permits: Arc::new(Semaphore::new(render_concurrency)),
    });
    let bind = settings.server.bind.clone();
    let http_error = |source| StartError::Http {
        bind: bind.clone(),
        source,
    };
    let server = HttpServer::new(move || {
        let otp = otp.clone();
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(log_request))
            .configure(|config| crate::otp::configure(config, otp))
            .configure(configure)
    })
    .workers(workers)
    .shutdown_timeout(settings.server.shutdown_timeout_seconds)
    .disable_signals()
    .bind(&bind)
    .map_err(http_error)?;
    let addresses: Vec<String> = server.addrs().iter().map(ToString::to_string).collect();
    let server = server.run();
    tracing::info!(
        bind = %addresses.join(","),
        backend,
        workers,
        render_concurrency,
        "divoc-server listening"
    );
    let handle = server.handle();
    tokio::spawn(async move {
        wait_for_shutdown_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        handle.stop(true).await;
    });
    server.await.map_err(http_error)?;
    tracing::info!("divoc-server stopped");
    Ok(())
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
