//! Bulk printing: many beneficiaries' latest certificates in one PDF, one
//! certificate per page, with a CSV manifest of what went on which page.
//!
//! Both `divoc-server print` and `POST /certificate/api/print` run
//! [`print_certificates`], which renders one certificate at a time and hands
//! it to [`divoc_pdf::bulk::BulkPdfWriter`], which writes it out at once. Memory
//! therefore does not grow with the page content, only with the number of
//! PDF objects written (about 48 bytes each) and the list of ids.

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use divoc_pdf::bulk::{BulkError, BulkPdfWriter};
use divoc_store::AuditEvent;
use serde::Deserialize;

use crate::cache::FileKind;
use crate::error::ApiError;
use crate::language::{resolve_language, set_content_language};
use crate::principal::Access;
use crate::routes::{AppState, authenticate, method_not_allowed, record_served};
use crate::service::{CertificateService, Rendered, Scope, ServiceError};
use crate::settings::Settings;

/// Header line of the manifest. RFC 4180 ends every line with CRLF.
const MANIFEST_HEADER: &str = "page,beneficiaryId,certificateId,skipReason\r\n";
/// Characters of a rejected id echoed in the manifest.
const ECHO_LIMIT: usize = 64;
/// Interval of the plain progress lines when standard error is not a terminal.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Maximum size of a `POST /certificate/api/print` body, in bytes: room for
/// 1,000 ids of the maximum length of 128 bytes.
const MAX_BODY_BYTES: usize = 160 * 1024;

/// Failure that stops a print job; beneficiaries that cannot be printed are
/// skipped and listed in the manifest instead.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The store failed, so later beneficiaries would fail too.
    #[error("the certificate store failed: {0}")]
    Store(#[from] divoc_store::StoreError),
    /// Writing the PDF failed.
    #[error("{0}")]
    Pdf(#[from] BulkError),
    /// Writing the manifest failed.
    #[error("writing the manifest failed: {0}")]
    Manifest(std::io::Error),
    /// No beneficiary had a certificate to print, so there is no PDF.
    #[error("none of the {0} beneficiaries has a certificate that may be printed")]
    NothingPrinted(usize),
}

/// Counts of a finished print job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintSummary {
    /// Pages in the PDF, one per printed certificate.
    pub pages: usize,
    /// Beneficiaries skipped.
    pub skipped: usize,
    /// Bytes of the PDF.
    pub bytes: u64,
    /// PDF objects that were shared between pages instead of written again.
    pub shared_objects: usize,
}

/// A printed certificate, for the audit trail.
pub struct PrintedPage {
    /// `certificateId` of the certificate on the page.
    pub certificate_id: String,
}

/// Renders the latest certificate of each beneficiary in `ids`, in order and in
/// `language` (a code that [`crate::language::resolve_language`] returned),
/// into one PDF written to `out`, and writes the manifest to `manifest`.
/// `on_progress` is called after each beneficiary with the number done.
///
/// Returns the output, the counts and the printed certificates.
///
/// # Errors
///
/// A store failure stops the job. A beneficiary that is unknown, has an
/// invalid id or has a certificate that cannot be rendered is skipped instead,
/// and the manifest lists the reason.
pub fn print_certificates<W: Write, M: Write>(
    service: &CertificateService,
    ids: &[String],
    language: &str,
    out: W,
    manifest: &mut M,
    mut on_progress: impl FnMut(usize),
) -> Result<(W, PrintSummary, Vec<PrintedPage>), PrintError> {
    let mut writer = BulkPdfWriter::new(out)?;
    let mut printed = Vec::new();
    let mut skipped = 0;
    manifest
        .write_all(MANIFEST_HEADER.as_bytes())
        .map_err(PrintError::Manifest)?;
    for (done, id) in ids.iter().enumerate() {
        let row = match render_one(service, id, language)? {
            Ok((certificate_id, pdf)) => match writer.add_pdf(&pdf) {
                Ok(_) => {
                    let page = writer.page_count();
                    let row = manifest_row(&page.to_string(), id, &certificate_id, "");
                    printed.push(PrintedPage { certificate_id });
                    row
                }
                Err(BulkError::Input(reason)) => {
                    skipped += 1;
                    tracing::error!(%reason, "a rendered certificate could not be merged; skipped");
                    manifest_row("", id, &certificate_id, &format!("merge failed: {reason}"))
                }
                Err(error) => return Err(error.into()),
            },
            Err(reason) => {
                skipped += 1;
                manifest_row("", id, "", &reason)
            }
        };
        manifest
            .write_all(row.as_bytes())
            .map_err(PrintError::Manifest)?;
        on_progress(done + 1);
    }
    manifest.flush().map_err(PrintError::Manifest)?;
    if printed.is_empty() {
        return Err(PrintError::NothingPrinted(ids.len()));
    }
    let (out, bulk) = writer.finish()?;
    let summary = PrintSummary {
        pages: bulk.pages,
        skipped,
        bytes: bulk.bytes,
        shared_objects: bulk.shared_objects,
    };
    Ok((out, summary, printed))
}

/// Renders the latest certificate of one beneficiary. The inner error is the
/// reason to skip it; the outer error stops the job.
#[allow(
    clippy::type_complexity,
    reason = "the nested result separates skips from failures"
)]
fn render_one(
    service: &CertificateService,
    id: &str,
    language: &str,
) -> Result<Result<(String, Vec<u8>), String>, PrintError> {
    if let Err(rule) = divoc_model::check_id(id) {
        return Ok(Err(format!("invalid beneficiary id: {rule}")));
    }
    let selection = match service.select_by_beneficiary(FileKind::Pdf, id, &Scope::Anyone) {
        Ok(selection) => selection,
        Err(ServiceError::NotFound) => {
            return Ok(Err("no certificate, or only revoked ones".to_owned()));
        }
        Err(ServiceError::Store(error)) => return Err(PrintError::Store(error)),
        Err(ServiceError::Render { message, .. }) => {
            return Ok(Err(format!("render failed: {message}")));
        }
    };
    let selection = service.in_language(selection, Some(language));
    let certificate_id = selection.certificate_id().to_owned();
    match service.render(selection) {
        Ok(Rendered::New(bytes)) => Ok(Ok((certificate_id, bytes))),
        Ok(Rendered::Cached(bytes)) => Ok(Ok((certificate_id, bytes.to_vec()))),
        Err(ServiceError::Store(error)) => Err(PrintError::Store(error)),
        Err(error) => Ok(Err(format!("render failed: {error}"))),
    }
}

/// Formats one manifest line as RFC 4180 CSV, ending in CRLF. Control
/// characters, which an invalid id from a JSON body or an ids file may
/// contain, are written as `\uXXXX` escapes, never raw.
fn manifest_row(page: &str, beneficiary_id: &str, certificate_id: &str, reason: &str) -> String {
    let beneficiary = if divoc_model::check_id(beneficiary_id).is_ok() {
        defused(beneficiary_id.to_owned())
    } else {
        echo(beneficiary_id)
    };
    let certificate = defused(certificate_id.to_owned());
    let cells = [page, &beneficiary, &certificate, reason];
    let mut line = cells.map(|cell| csv_cell(&escape_controls(cell))).join(",");
    line.push_str("\r\n");
    line
}

/// Shortens a rejected id and defuses a leading formula character.
fn echo(value: &str) -> String {
    let mut echoed: String = value.chars().take(ECHO_LIMIT).collect();
    if value.chars().count() > ECHO_LIMIT {
        echoed.push('…');
    }
    defused(echoed)
}

/// Puts `'` before a leading formula character, so that a spreadsheet
/// opening the manifest shows the value instead of running it. A valid id
/// may start with `-`.
fn defused(mut value: String) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        value.insert(0, '\'');
    }
    value
}

/// Replaces each control character (Unicode category Cc, such as NUL, tab
/// or LF) with its `\uXXXX` escape. Every such character is below U+0100,
/// so four hex digits always suffice.
fn escape_controls(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if character.is_control() {
            escaped.push_str(&format!("\\u{:04X}", u32::from(character)));
        } else {
            escaped.push(character);
        }
    }
    escaped
}

fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

// ---------------------------------------------------------------------------
// `divoc-server print`

/// Arguments of `divoc-server print`.
pub struct PrintArgs {
    /// The PDF to write.
    pub out: PathBuf,
    /// The manifest to write; defaults to `out` with the extension `.csv`.
    pub manifest: Option<PathBuf>,
    /// File with one beneficiary id per line.
    pub ids_file: Option<PathBuf>,
    /// Requested language; `None` prints `pdf.language`.
    pub language: Option<String>,
    /// Beneficiary ids from the command line, printed before those of the file.
    pub ids: Vec<String>,
}

/// Checks that a file can be created at `path`: its folder exists and is a
/// folder, and `path` itself is not a folder.
fn check_output_path(path: &Path) -> Result<(), String> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let problem = if path.is_dir() {
        format!("{} is a folder; give a file name", path.display())
    } else if folder.is_dir() {
        return Ok(());
    } else if folder.exists() {
        format!("{} is not a folder", folder.display())
    } else {
        format!(
            "the folder {} does not exist; create it first",
            folder.display()
        )
    };
    Err(format!("cannot create {}: {problem}", path.display()))
}

/// A file as the file system names it: its device and inode when it exists,
/// else the full path it would be created at.
#[derive(PartialEq, Eq)]
enum FileIdentity {
    Existing { device: u64, inode: u64 },
    New(PathBuf),
}

/// Returns the identity of `path`, whose folder exists, following symbolic
/// links, also one whose target does not exist yet. Hard links to one file
/// have one identity.
fn identity(path: &Path) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    let mut path = path.to_path_buf();
    // Links are followed a bounded number of times, as the kernel does.
    for _ in 0..40 {
        if let Ok(metadata) = std::fs::metadata(&path) {
            return Some(FileIdentity::Existing {
                device: metadata.dev(),
                inode: metadata.ino(),
            });
        }
        match std::fs::read_link(&path) {
            // A link whose target is missing: creating the output creates
            // the target.
            Ok(target) => {
                let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
                path = folder.join(target);
            }
            Err(_) => {
                let folder = match path.parent() {
                    Some(folder) if !folder.as_os_str().is_empty() => folder,
                    _ => Path::new("."),
                };
                let full = std::fs::canonicalize(folder).ok()?.join(path.file_name()?);
                return Some(FileIdentity::New(full));
            }
        }
    }
    None
}

/// The name, in errors, of a file of the store that an output would replace.
const STORE_FILE: &str = "a file of the certificate store";

/// Returns the files of the configured SQLite store: the database and its
/// `-wal`, `-shm` and `-journal` files. None for PostgreSQL.
fn store_files(settings: &Settings) -> Vec<PathBuf> {
    let Some(store) = divoc_store::sqlite_file(&settings.database.url) else {
        return Vec::new();
    };
    ["", "-wal", "-shm", "-journal"]
        .into_iter()
        .map(|suffix| {
            let mut file = store.clone().into_os_string();
            file.push(suffix);
            PathBuf::from(file)
        })
        .collect()
}

/// Rejects an output path of a command that names a file of the configured
/// SQLite store, which creating the output would empty.
pub fn check_not_store_file(settings: &Settings, output: &Path) -> Result<(), String> {
    check_no_clash(
        output,
        store_files(settings)
            .into_iter()
            .map(|file| (STORE_FILE, file)),
    )
}

/// Rejects `output` when it is the same file as one of `inputs`, each given
/// with its name in the error.
fn check_no_clash<'a>(
    output: &Path,
    inputs: impl IntoIterator<Item = (&'a str, PathBuf)>,
) -> Result<(), String> {
    let Some(target) = identity(output) else {
        return Ok(());
    };
    for (what, input) in inputs {
        if identity(&input).as_ref() == Some(&target) {
            return Err(format!(
                "cannot write {}: it is {what}; give another file name",
                output.display()
            ));
        }
    }
    Ok(())
}

/// Rejects a PDF or manifest path that names the other output, the ids file
/// or a file of the SQLite store, which creating the output would empty.
fn check_no_input_overwritten(
    settings: &Settings,
    args: &PrintArgs,
    manifest_path: &Path,
) -> Result<(), String> {
    let mut inputs: Vec<(&str, PathBuf)> = Vec::new();
    if let Some(ids_file) = &args.ids_file {
        inputs.push(("the ids file", ids_file.clone()));
    }
    for file in store_files(settings) {
        inputs.push((STORE_FILE, file));
    }
    let manifest_input = ("the manifest", manifest_path.to_path_buf());
    check_no_clash(&args.out, inputs.iter().cloned().chain([manifest_input]))?;
    check_no_clash(manifest_path, inputs)
}

/// Opens the PDF and the manifest for writing, and empties them only once
/// both are open. When the manifest cannot be opened, a PDF file that did
/// not exist before is removed and an existing one keeps its content.
fn create_outputs(
    out: &Path,
    manifest: &Path,
) -> Result<(BufWriter<std::fs::File>, BufWriter<std::fs::File>), String> {
    let open = |path: &Path| {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|error| format!("cannot create {}: {error}", path.display()))
    };
    let out_existed = out.exists();
    let out_file = open(out)?;
    let manifest_file = match open(manifest) {
        Ok(file) => file,
        Err(error) => {
            if !out_existed {
                let _ = std::fs::remove_file(out);
            }
            return Err(error);
        }
    };
    for (file, path) in [(&out_file, out), (&manifest_file, manifest)] {
        file.set_len(0)
            .map_err(|error| format!("cannot empty {}: {error}", path.display()))?;
    }
    Ok((
        BufWriter::with_capacity(1 << 20, out_file),
        BufWriter::with_capacity(1 << 20, manifest_file),
    ))
}

/// Runs `divoc-server print`.
pub fn run_command(settings: &Settings, args: PrintArgs) -> Result<(), String> {
    let manifest_path = args
        .manifest
        .clone()
        .unwrap_or_else(|| args.out.with_extension("csv"));
    if manifest_path == args.out {
        return Err(format!(
            "the manifest and the PDF would both be {}; pass --manifest FILE",
            args.out.display()
        ));
    }
    let ids = read_ids(&args)?;
    if ids.is_empty() {
        return Err("no beneficiary ids given: pass IDs or --ids-file FILE".to_owned());
    }
    // Checked before the store opens and the fonts load, which take a second.
    for path in [&args.out, &manifest_path] {
        check_output_path(path)?;
    }
    check_no_input_overwritten(settings, &args, &manifest_path)?;
    let store = crate::server::open_store(settings).map_err(|error| error.to_string())?;
    let service =
        crate::server::build_service(settings, store).map_err(|error| error.to_string())?;
    let language = resolve_language(&service, args.language.as_deref()).map_err(|error| {
        format!(
            "--language {:?}: {error}",
            args.language.as_deref().unwrap_or_default()
        )
    })?;

    let (out, mut manifest) = create_outputs(&args.out, &manifest_path)?;
    let mut progress = Progress::new(ids.len());
    let result = print_certificates(&service, &ids, &language, out, &mut manifest, |done| {
        progress.update(done)
    });
    progress.finish();
    let summary = match result {
        Ok((_, summary, printed)) => {
            record_printed(&service, &printed);
            summary
        }
        Err(error) => {
            // A partial PDF has no page tree, so it is removed; the manifest
            // stays to show how far the job got.
            let _ = std::fs::remove_file(&args.out);
            return Err(format!("{}: {error}", args.out.display()));
        }
    };
    crate::output_line(&format!(
        "{}: {}, {} skipped, {} bytes, language {language}; manifest {}",
        args.out.display(),
        crate::count_of(summary.pages, "page"),
        summary.skipped,
        summary.bytes,
        manifest_path.display()
    ))?;
    Ok(())
}

/// Writes an audit row per printed certificate, as the print route does, and
/// waits until the rows are stored.
fn record_printed(service: &CertificateService, printed: &[PrintedPage]) {
    let served_at = chrono::Utc::now();
    for page in printed {
        service.record_served(&AuditEvent {
            served_at,
            certificate_id: page.certificate_id.clone(),
            route: "divoc-server print".to_owned(),
            subject: None,
            role: Access::Print.as_str().to_owned(),
        });
    }
    service.close_audit();
}

/// Collects the ids of the command line, then those of `--ids-file` (one per
/// line; blank lines and lines starting with `#` are ignored). A byte order
/// mark at the start of a line is skipped: Windows Notepad writes one at the
/// start of a file, and lists joined from such files have one on later lines.
fn read_ids(args: &PrintArgs) -> Result<Vec<String>, String> {
    let mut ids = args.ids.clone();
    if let Some(path) = &args.ids_file {
        let file = std::fs::File::open(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            let id = line.trim_start_matches('\u{feff}').trim();
            if !id.is_empty() && !id.starts_with('#') {
                ids.push(id.to_owned());
            }
        }
    }
    Ok(ids)
}

/// Progress on standard error: a bar on a terminal, else a log line every
/// [`PROGRESS_LOG_INTERVAL`].
struct Progress {
    total: usize,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {human_pos}/{human_len} certificates, {msg}/s, {eta} left",
            ) {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Progress {
            total,
            bar,
            started: now,
            last_line: now,
        }
    }

    fn update(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            let seconds = self.started.elapsed().as_secs_f64();
            if seconds > 0.0 {
                bar.set_message(format!("{:.0}", done as f64 / seconds));
            }
            bar.set_position(done as u64);
        } else if self.last_line.elapsed() >= PROGRESS_LOG_INTERVAL {
            self.last_line = Instant::now();
            tracing::info!(done, total = self.total, "print progress");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

// ---------------------------------------------------------------------------
// `POST /certificate/api/print`

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrintRequest {
    #[serde(rename = "beneficiaryIds")]
    beneficiary_ids: Vec<String>,
    /// Requested language; `None` prints `pdf.language`.
    language: Option<String>,
}

#[derive(Deserialize)]
struct PrintQuery {
    manifest: Option<String>,
}

/// Registers `POST /certificate/api/print`, limited to `max_beneficiaries` ids.
pub fn configure(config: &mut web::ServiceConfig, max_beneficiaries: usize) {
    let payload = web::PayloadConfig::default().limit(MAX_BODY_BYTES);
    config.service(
        web::resource("/certificate/api/print")
            .app_data(payload)
            .app_data(web::Data::new(PrintLimit(max_beneficiaries)))
            .route(web::post().to(print_route))
            .default_service(method_not_allowed("POST")),
    );
}

/// Maximum number of beneficiaries in one print request.
struct PrintLimit(usize);

async fn print_route(
    request: HttpRequest,
    state: web::Data<AppState>,
    limit: web::Data<PrintLimit>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state).await?;
    if !principal.print {
        return Err(ApiError::Forbidden(
            "bulk printing needs a print role".to_owned(),
        ));
    }
    // The body is parsed after the token check, so a caller without a valid
    // token learns nothing about the expected body.
    let want_manifest = manifest_flag(crate::routes::parse_query(&request)?)?;
    let (ids, requested) = print_request(&body, limit.0)?;
    let language = resolve_language(&state.service, requested.as_deref())?;

    let service = std::sync::Arc::clone(&state.service);
    let printed_language = language.clone();
    let result = state
        .render_pool
        .run(move || {
            let mut manifest = Vec::new();
            let result = print_certificates(
                &service,
                &ids,
                &printed_language,
                Vec::new(),
                &mut manifest,
                |_| {},
            );
            (result, manifest)
        })
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let (result, manifest) = result;
    let (pdf, summary, printed) = match result {
        Ok(done) => done,
        Err(PrintError::NothingPrinted(count)) if want_manifest => {
            return Ok(manifest_response(manifest, 0, count));
        }
        Err(PrintError::NothingPrinted(count)) => {
            return Err(ApiError::InvalidParameter {
                name: "beneficiaryIds",
                reason: "none of the beneficiaries has a certificate that may be printed; \
                         request ?manifest=1 for the reasons"
                    .to_owned(),
                value: count.to_string(),
            });
        }
        Err(PrintError::Store(error)) if error.is_unavailable() => {
            return Err(ApiError::Unavailable(crate::redact::store_error(&error)));
        }
        Err(PrintError::Store(error)) => {
            return Err(ApiError::Internal(format!(
                "the certificate store failed: {}",
                crate::redact::store_error(&error)
            )));
        }
        Err(error) => return Err(ApiError::Internal(error.to_string())),
    };
    if want_manifest {
        let mut response = manifest_response(manifest, summary.pages, summary.skipped);
        set_content_language(&mut response, &language);
        return Ok(response);
    }
    for page in &printed {
        record_served(
            &state,
            &request,
            &principal,
            Access::Print,
            &page.certificate_id,
        );
    }
    let mut response = HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/pdf"),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"certificates.pdf\""),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header(("X-Print-Pages", summary.pages.to_string()))
        .insert_header(("X-Print-Skipped", summary.skipped.to_string()))
        .body(pdf);
    set_content_language(&mut response, &language);
    Ok(response)
}

/// Reads `?manifest=`: 1 for the CSV manifest, 0 or absent for the PDF.
fn manifest_flag(query: PrintQuery) -> Result<bool, ApiError> {
    match query.manifest.as_deref() {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(ApiError::InvalidParameter {
            name: "manifest",
            reason: "expected 1 (CSV manifest) or 0 (PDF)".to_owned(),
            value: other.to_owned(),
        }),
    }
}

/// Parses `{"beneficiaryIds": [...], "language": "hi"}` and checks the count
/// against `limit`. Returns the ids and the requested language.
fn print_request(body: &[u8], limit: usize) -> Result<(Vec<String>, Option<String>), ApiError> {
    let request = crate::json_body::from_json_object::<PrintRequest>(body).map_err(|error| {
        ApiError::InvalidParameter {
            name: "body",
            reason: format!("expected JSON {{\"beneficiaryIds\": [\"ID\", ...]}}: {error}"),
            value: String::new(),
        }
    })?;
    let ids = request.beneficiary_ids;
    if ids.is_empty() || ids.len() > limit {
        return Err(ApiError::InvalidParameter {
            name: "beneficiaryIds",
            reason: format!("expected 1 to {limit} beneficiary ids"),
            value: ids.len().to_string(),
        });
    }
    Ok((ids, request.language))
}

fn manifest_response(manifest: Vec<u8>, pages: usize, skipped: usize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header(("X-Print-Pages", pages.to_string()))
        .insert_header(("X-Print-Skipped", skipped.to_string()))
        .body(manifest)
}

#[cfg(test)]
mod tests {
    use super::manifest_row;

    #[test]
    fn manifest_defuses_formulas() {
        assert!(divoc_model::check_id("-A1").is_ok());
        assert_eq!(manifest_row("1", "-A1", "@C1", ""), "1,'-A1,'@C1,\r\n");
        assert_eq!(
            manifest_row("2", "BEN1001", "712988986", ""),
            "2,BEN1001,712988986,\r\n"
        );
        assert_eq!(
            manifest_row("", "=1+2", "", "invalid id"),
            ",'=1+2,,invalid id\r\n"
        );
    }

    #[test]
    fn manifest_escapes_control_characters() {
        assert_eq!(
            manifest_row("", "BEN\u{0}1001", "", "invalid id"),
            ",BEN\\u00001001,,invalid id\r\n"
        );
        assert_eq!(
            manifest_row("", "A\r\nB\u{1b}C\u{7f}\u{85}", "", "invalid id"),
            ",A\\u000D\\u000AB\\u001BC\\u007F\\u0085,,invalid id\r\n"
        );
        // A leading tab is escaped after the formula guard added its quote.
        assert_eq!(
            manifest_row("", "\t=1", "", "invalid id"),
            ",'\\u0009=1,,invalid id\r\n"
        );
        assert_eq!(
            manifest_row("", "X", "", "render failed: line 1\nline 2"),
            ",X,,render failed: line 1\\u000Aline 2\r\n"
        );
    }
}
