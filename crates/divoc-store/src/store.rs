//! The [`Store`] handle and its lookups.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::dsl::{self, exists, not};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use divoc_model::RegistryRecord;

use crate::backend::{self, Backend, SqliteSettings};
use crate::file_check::OpenedFiles;
use crate::rows::CertificateRow;
use crate::schema::{certificate_mobiles, certificates, revocations};
use crate::url::{StoreTarget, redact_url};
use crate::{StoreError, StoreOptions};

/// A pooled connection to the certificate database.
///
/// Cloning is cheap and shares the pool, so one `Store` can be handed to every
/// worker thread.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// The URL with its password redacted, for error messages and logs.
    pub(crate) target: Arc<str>,
    /// The read replica that certificate lookups use, if one is configured.
    replica: Option<Arc<Replica>>,
    /// Page cache of a pooled SQLite connection in KiB, which an import
    /// restores when it is done with its connection.
    pub(crate) sqlite_cache_kib: u32,
    /// Busy timeout of a pooled SQLite connection, which an import restores
    /// once it has the write lock.
    pub(crate) sqlite_busy_timeout: Duration,
    /// The SQLite database files as opened, which the health check compares
    /// with the files now at their paths. `None` for PostgreSQL and in-memory
    /// databases.
    opened_files: Option<Arc<OpenedFiles>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Store")
            .field("backend", &self.backend_name())
            .field("target", &self.target)
            .field(
                "replica",
                &self.replica.as_ref().map(|replica| &replica.target),
            )
            .finish()
    }
}

/// A PostgreSQL read replica and the count of lookups that failed on it.
struct Replica {
    pool: Pool<ConnectionManager<PgConnection>>,
    /// The replica URL with its password redacted.
    target: Arc<str>,
    failures: AtomicU64,
    /// Until when lookups skip the replica after it gave no connection, in
    /// milliseconds since `opened`.
    skip_until: AtomicU64,
    opened: Instant,
}

/// Failed replica lookups between two log lines, after the first one.
const REPLICA_FAILURES_PER_LOG: u64 = 1000;

/// How long lookups go straight to the primary after the replica gave no
/// connection. The next lookup after that tries the replica again.
const REPLICA_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Replica {
    fn new(pool: Pool<ConnectionManager<PgConnection>>, url: &str) -> Self {
        Self {
            pool,
            target: Arc::from(redact_url(url)),
            failures: AtomicU64::new(0),
            skip_until: AtomicU64::new(0),
            opened: Instant::now(),
        }
    }

    fn elapsed_millis(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs a lookup on a pooled replica connection. Returns the pool's or the
    /// query's error as text, because the caller runs the lookup again on the
    /// primary and only logs it.
    ///
    /// When the pool gives no connection in time, the replica is skipped for
    /// [`REPLICA_RETRY_AFTER`], so that a replica that is down does not delay
    /// every lookup by the connection timeout.
    fn run<T>(&self, lookup: impl FnMut(&mut PgConnection) -> QueryResult<T>) -> Result<T, String> {
        if self.elapsed_millis() < self.skip_until.load(Ordering::Relaxed) {
            return Err("skipped after a failed connection; retried later".to_owned());
        }
        let mut connection = self.pool.get().map_err(|error| {
            let retry_after = u64::try_from(REPLICA_RETRY_AFTER.as_millis()).unwrap_or(u64::MAX);
            self.skip_until.store(
                self.elapsed_millis().saturating_add(retry_after),
                Ordering::Relaxed,
            );
            error.to_string().trim_end().to_owned()
        })?;
        backend::replan_on_schema_change(&mut connection, lookup).map_err(|error| error.to_string())
    }

    /// Logs a failed lookup: the first one, then one in every
    /// [`REPLICA_FAILURES_PER_LOG`], so that a replica that is down does not
    /// flood the log.
    fn log_failure(&self, operation: &str, reason: &str) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures == 1 || failures.is_multiple_of(REPLICA_FAILURES_PER_LOG) {
            tracing::warn!(
                replica = %self.target,
                operation,
                failures,
                error = reason,
                "lookup on the read replica failed; it runs on the primary"
            );
        }
    }
}

/// Runs `$body` with `$connection` bound to a pooled connection of whichever
/// backend the store uses. The body is compiled once per backend, and a pool
/// error returns [`StoreError::Unavailable`] from the enclosing function.
///
/// On PostgreSQL the body runs a second time after a schema change made the
/// server reject a prepared statement (see
/// [`replan_on_schema_change`](crate::backend::replan_on_schema_change)), so
/// it must return a `QueryResult` and must not move what it captures.
macro_rules! with_connection {
    ($store:expr, |$connection:ident| $body:expr) => {
        match &$store.backend {
            $crate::backend::Backend::Sqlite(pool) => {
                let mut pooled = pool
                    .get()
                    .map_err(|error| $crate::backend::pool_error(&$store.target, &error))?;
                let $connection: &mut ::diesel::SqliteConnection = &mut pooled;
                $body
            }
            $crate::backend::Backend::Postgres(pool, _) => {
                let mut pooled = pool
                    .get()
                    .map_err(|error| $crate::backend::pool_error(&$store.target, &error))?;
                $crate::backend::replan_on_schema_change(
                    &mut pooled,
                    |$connection: &mut ::diesel::PgConnection| $body,
                )
            }
        }
    };
}

pub(crate) use with_connection;

/// Runs a read-only lookup on the read replica when the store has one, and on
/// the primary otherwise or when the replica fails. `$body` is compiled for
/// each backend, as in [`with_connection`].
macro_rules! with_read_connection {
    ($store:expr, $operation:expr, |$connection:ident| $body:expr) => {
        match &$store.replica {
            Some(replica) => match replica.run(|$connection: &mut ::diesel::PgConnection| $body) {
                Ok(value) => Ok(value),
                Err(reason) => {
                    replica.log_failure($operation, &reason);
                    with_connection!($store, |$connection| $body)
                }
            },
            None => with_connection!($store, |$connection| $body),
        }
    };
}

/// True for a certificate row that no revocation names. Evaluated at query time,
/// so a revocation hides its certificate whichever of the two was imported first.
/// The beneficiary id is matched too, which keeps the check on one node of a
/// database distributed by it. Imports reject a revocation of another
/// beneficiary's certificate, so the extra condition hides nothing.
#[dsl::auto_type]
pub(crate) fn not_revoked() -> _ {
    not(exists(
        revocations::table
            .filter(revocations::pre_enrollment_code.eq(certificates::pre_enrollment_code))
            .filter(revocations::revoked_certificate_id.eq(certificates::certificate_id)),
    ))
}

/// Certificates of one beneficiary that are not revoked, by certificate id.
#[dsl::auto_type]
fn beneficiary_certificates<'a>(pre_enrollment_code: &'a str) -> _ {
    let not_revoked: not_revoked = not_revoked();
    certificates::table
        .filter(certificates::pre_enrollment_code.eq(pre_enrollment_code))
        .filter(not_revoked)
        .order(certificates::certificate_id.asc())
}

/// Certificates of some beneficiaries that are registered to one mobile number
/// and not revoked, by certificate id. `beneficiaries` come from
/// [`mobile_beneficiaries`], so each lookup reads beneficiary keys only.
#[dsl::auto_type]
fn mobile_certificates<'a>(mobile: &'a str, beneficiaries: &'a [String]) -> _ {
    let not_revoked: not_revoked = not_revoked();
    certificates::table
        .filter(certificates::pre_enrollment_code.eq_any(beneficiaries))
        .filter(certificates::mobile.eq(mobile))
        .filter(not_revoked)
        .order(certificates::certificate_id.asc())
}

/// Beneficiary ids with a certificate registered to a mobile number, from the
/// table keyed by mobile number.
#[dsl::auto_type]
pub(crate) fn mobile_beneficiaries<'a>(mobile: &'a str) -> _ {
    certificate_mobiles::table
        .filter(certificate_mobiles::mobile.eq(mobile))
        .select(certificate_mobiles::pre_enrollment_code)
}

/// `SELECT EXISTS (...)` over the index of `(pre_enrollment_code, certificate_id)`
/// and the primary key of `revocations`, without reading certificate rows.
#[dsl::auto_type]
fn beneficiary_exists_query<'a>(pre_enrollment_code: &'a str) -> _ {
    let not_revoked: not_revoked = not_revoked();
    dsl::select(exists(
        certificates::table
            .filter(certificates::pre_enrollment_code.eq(pre_enrollment_code))
            .filter(not_revoked)
            .select(certificates::certificate_id),
    ))
}

/// Checks that a replica URL names PostgreSQL and the store is PostgreSQL
/// too, and returns the replica's URL.
fn replica_url(url: &str, primary: &StoreTarget) -> Result<String, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: redact_url(url),
        reason: reason.to_owned(),
    };
    let StoreTarget::Postgres { url } = StoreTarget::parse(url)? else {
        return Err(invalid(
            "a read replica must be PostgreSQL: use postgres://USER@HOST:PORT/DATABASE",
        ));
    };
    if !matches!(primary, StoreTarget::Postgres { .. }) {
        return Err(invalid(
            "a read replica needs a PostgreSQL store; an SQLite store has no replicas",
        ));
    }
    Ok(url)
}

impl Store {
    /// Opens a store, creating or updating its tables.
    ///
    /// `url` selects the backend by its scheme:
    ///
    /// * `postgres://…` or `postgresql://…`: PostgreSQL, through libpq;
    /// * `sqlite://PATH`, `sqlite:PATH` or a plain file path: an SQLite file,
    ///   created if missing. A `file:` URI is passed to SQLite as a URI;
    /// * `:memory:` or `sqlite::memory:`: a private in-memory SQLite database
    ///   that lives as long as the store.
    ///
    /// With [`StoreOptions::replica_url`], certificate lookups read from that
    /// PostgreSQL replica, which the store does not migrate or write to. Its
    /// connections open on first use, so a replica that is down at startup
    /// only sends lookups to the primary.
    ///
    /// # Errors
    ///
    /// * [`StoreError::InvalidUrl`] for any other scheme or an empty URL, or a
    ///   replica URL that is not PostgreSQL or given for an SQLite store;
    /// * [`StoreError::Unavailable`] when the database cannot be opened or reached,
    ///   with the driver's message, such as libpq's "Connection refused";
    /// * [`StoreError::Migration`] when the tables cannot be created.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::{Store, StoreError, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// assert_eq!(store.backend_name(), "sqlite");
    /// assert_eq!(store.redacted_url(), "sqlite::memory:");
    /// // Only a PostgreSQL store can have a read replica.
    /// assert_eq!(store.replica_failures(), 0);
    ///
    /// assert!(matches!(
    ///     Store::open("mysql://localhost/divoc", &StoreOptions::default()),
    ///     Err(StoreError::InvalidUrl { .. })
    /// ));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn open(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let target: Arc<str> = Arc::from(redact_url(url));
        let primary = StoreTarget::parse(url)?;
        let replica_url = match &options.replica_url {
            Some(replica) => Some(replica_url(replica, &primary)?),
            None => None,
        };
        let backend = match primary {
            StoreTarget::Sqlite { path } => backend::open_sqlite(&path, &target, options)?,
            StoreTarget::Postgres { url } => backend::open_postgres(&url, &target, options)?,
        };
        let replica = replica_url
            .map(|url| Arc::new(Replica::new(backend::open_replica(&url, options), &url)));
        let opened_files = match &backend {
            Backend::Sqlite(_) => crate::url::sqlite_file(url)
                .and_then(|path| OpenedFiles::record(&path))
                .map(Arc::new),
            Backend::Postgres(..) => None,
        };
        let store = Self {
            backend,
            target,
            replica,
            sqlite_cache_kib: SqliteSettings::of(options).cache_kib,
            sqlite_busy_timeout: SqliteSettings::of(options).busy_timeout,
            opened_files,
        };
        tracing::info!(
            backend = store.backend_name(),
            target = %store.target,
            replica = store.replica.as_ref().map(|replica| tracing::field::display(&replica.target)),
            max_connections = options.max_connections,
            "certificate store opened"
        );
        Ok(store)
    }

    /// Returns the backend: `"sqlite"` or `"postgresql"`.
    ///
    /// See the example of [`Store::open`].
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(..) => "postgresql",
        }
    }

    /// Returns how many lookups ran on the primary instead of the read replica,
    /// because they failed there or the replica was being skipped after a
    /// failed connection, since the store was opened. Always 0 without a replica.
    ///
    /// See the example of [`Store::open`].
    pub fn replica_failures(&self) -> u64 {
        self.replica
            .as_ref()
            .map_or(0, |replica| replica.failures.load(Ordering::Relaxed))
    }

    /// Returns the store URL with its password redacted, as [`crate::redact_url`] does.
    ///
    /// See the example of [`Store::open`].
    pub fn redacted_url(&self) -> &str {
        &self.target
    }

    /// Returns the certificates of a beneficiary, ordered by certificate id.
    /// Revoked certificates are left out.
    ///
    /// This and the other certificate lookups read from the read replica when
    /// the store has one (see [`StoreOptions::replica_url`]). A replica lags
    /// its primary, so a certificate imported a moment ago may not be found
    /// yet, or an earlier version returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or
    /// [`StoreError::Corrupt`] for a row that cannot be read back. A failure
    /// on the replica is logged and the lookup runs on the primary, whose
    /// error is returned.
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_store::{Store, StoreOptions};
    /// # let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// # let certificate = |dose: u32| format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#);
    /// # let export = serde_json::json!([
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "mobile": "9000000001", "certificate": certificate(2)},
    /// #     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "previousCertificateId": "100000001"},
    /// # ]);
    /// # store.import_text(&export.to_string())?;
    /// // The store contains certificates 100000001 and 100000002 of BEN-1 and
    /// // 200000001 of BEN-2, all registered to mobile 9000000001. A revocation
    /// // revokes 100000001.
    /// let ids = |records: Vec<divoc_model::RegistryRecord>| {
    ///     records.into_iter().map(|record| record.certificate_id).collect::<Vec<_>>()
    /// };
    /// assert_eq!(ids(store.certificates_by_beneficiary("BEN-1")?), ["100000002"]);
    /// assert!(store.certificates_by_beneficiary("BEN-3")?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn certificates_by_beneficiary(
        &self,
        pre_enrollment_code: &str,
    ) -> Result<Vec<RegistryRecord>, StoreError> {
        let rows: Vec<CertificateRow> =
            with_read_connection!(self, "certificate lookup by beneficiary", |connection| {
                beneficiary_certificates(pre_enrollment_code)
                    .select(CertificateRow::as_select())
                    .load(connection)
            })
            .map_err(|error| self.query_error("certificate lookup by beneficiary", error))?;
        rows.into_iter().map(CertificateRow::into_record).collect()
    }

    /// Returns the certificate with this id if it is registered to this mobile
    /// number and not revoked. A blank mobile number matches nothing.
    ///
    /// # Errors
    ///
    /// As for [`Store::certificates_by_beneficiary`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_store::{Store, StoreOptions};
    /// # let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// # let certificate = |dose: u32| format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#);
    /// # let export = serde_json::json!([
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "mobile": "9000000001", "certificate": certificate(2)},
    /// #     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "previousCertificateId": "100000001"},
    /// # ]);
    /// # store.import_text(&export.to_string())?;
    /// // The store contains certificates 100000001 and 100000002 of BEN-1 and
    /// // 200000001 of BEN-2, all registered to mobile 9000000001. A revocation
    /// // revokes 100000001.
    /// let found = store.certificate_by_mobile_and_id("9000000001", "200000001")?;
    /// assert_eq!(found.map(|record| record.pre_enrollment_code).as_deref(), Some("BEN-2"));
    /// assert!(store.certificate_by_mobile_and_id("9000000002", "200000001")?.is_none());
    /// assert!(store.certificate_by_mobile_and_id("9000000001", "100000001")?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn certificate_by_mobile_and_id(
        &self,
        mobile: &str,
        certificate_id: &str,
    ) -> Result<Option<RegistryRecord>, StoreError> {
        if mobile.trim().is_empty() {
            return Ok(None);
        }
        let row: Option<CertificateRow> =
            with_read_connection!(self, "certificate lookup by mobile and id", |connection| {
                mobile_beneficiaries(mobile)
                    .load::<String>(connection)
                    .and_then(|beneficiaries| {
                        mobile_certificates(mobile, &beneficiaries)
                            .filter(certificates::certificate_id.eq(certificate_id))
                            .select(CertificateRow::as_select())
                            .first(connection)
                            .optional()
                    })
            })
            .map_err(|error| self.query_error("certificate lookup by mobile and id", error))?;
        row.map(CertificateRow::into_record).transpose()
    }

    /// Returns the certificate with this id if it belongs to this beneficiary
    /// and is not revoked.
    ///
    /// Prefer it to [`Store::certificate_by_id`] where the beneficiary id is
    /// known: it filters on the column that a sharded database distributes
    /// by, so it reads one shard instead of all of them.
    ///
    /// # Errors
    ///
    /// As for [`Store::certificates_by_beneficiary`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_store::{Store, StoreOptions};
    /// # let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// # let certificate = |dose: u32| format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#);
    /// # let export = serde_json::json!([
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "mobile": "9000000001", "certificate": certificate(2)},
    /// #     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "previousCertificateId": "100000001"},
    /// # ]);
    /// # store.import_text(&export.to_string())?;
    /// // The store contains certificates 100000001 and 100000002 of BEN-1 and
    /// // 200000001 of BEN-2, all registered to mobile 9000000001. A revocation
    /// // revokes 100000001.
    /// assert!(store.certificate_by_beneficiary_and_id("BEN-1", "100000002")?.is_some());
    /// // The certificate exists, but belongs to another beneficiary.
    /// assert!(store.certificate_by_beneficiary_and_id("BEN-2", "100000002")?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn certificate_by_beneficiary_and_id(
        &self,
        pre_enrollment_code: &str,
        certificate_id: &str,
    ) -> Result<Option<RegistryRecord>, StoreError> {
        let row: Option<CertificateRow> = with_read_connection!(
            self,
            "certificate lookup by beneficiary and id",
            |connection| {
                beneficiary_certificates(pre_enrollment_code)
                    .filter(certificates::certificate_id.eq(certificate_id))
                    .select(CertificateRow::as_select())
                    .first(connection)
                    .optional()
            }
        )
        .map_err(|error| self.query_error("certificate lookup by beneficiary and id", error))?;
        row.map(CertificateRow::into_record).transpose()
    }

    /// Returns the certificate with this id if it is not revoked.
    ///
    /// # Errors
    ///
    /// As for [`Store::certificates_by_beneficiary`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_store::{Store, StoreOptions};
    /// # let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// # let certificate = |dose: u32| format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#);
    /// # let export = serde_json::json!([
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "mobile": "9000000001", "certificate": certificate(2)},
    /// #     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "previousCertificateId": "100000001"},
    /// # ]);
    /// # store.import_text(&export.to_string())?;
    /// // The store contains certificates 100000001 and 100000002 of BEN-1 and
    /// // 200000001 of BEN-2, all registered to mobile 9000000001. A revocation
    /// // revokes 100000001.
    /// let found = store.certificate_by_id("100000002")?;
    /// assert_eq!(found.map(|record| record.pre_enrollment_code).as_deref(), Some("BEN-1"));
    /// assert!(store.certificate_by_id("100000001")?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn certificate_by_id(
        &self,
        certificate_id: &str,
    ) -> Result<Option<RegistryRecord>, StoreError> {
        let not_revoked: not_revoked = not_revoked();
        let row: Option<CertificateRow> =
            with_read_connection!(self, "certificate lookup by id", |connection| {
                certificates::table
                    .filter(certificates::certificate_id.eq(certificate_id))
                    .filter(not_revoked)
                    .select(CertificateRow::as_select())
                    .first(connection)
                    .optional()
            })
            .map_err(|error| self.query_error("certificate lookup by id", error))?;
        row.map(CertificateRow::into_record).transpose()
    }

    /// Returns the certificates registered to a mobile number, ordered by
    /// certificate id. Revoked certificates are left out, and a blank mobile
    /// number matches nothing.
    ///
    /// # Errors
    ///
    /// As for [`Store::certificates_by_beneficiary`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_store::{Store, StoreOptions};
    /// # let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// # let certificate = |dose: u32| format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#);
    /// # let export = serde_json::json!([
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "mobile": "9000000001", "certificate": certificate(2)},
    /// #     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "previousCertificateId": "100000001"},
    /// # ]);
    /// # store.import_text(&export.to_string())?;
    /// // The store contains certificates 100000001 and 100000002 of BEN-1 and
    /// // 200000001 of BEN-2, all registered to mobile 9000000001. A revocation
    /// // revokes 100000001.
    /// let ids: Vec<String> = store
    ///     .certificates_by_mobile("9000000001")?
    ///     .into_iter()
    ///     .map(|record| record.certificate_id)
    ///     .collect();
    /// assert_eq!(ids, ["100000002", "200000001"]);
    /// assert!(store.certificates_by_mobile(" ")?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn certificates_by_mobile(&self, mobile: &str) -> Result<Vec<RegistryRecord>, StoreError> {
        if mobile.trim().is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<CertificateRow> =
            with_read_connection!(self, "certificate lookup by mobile", |connection| {
                mobile_beneficiaries(mobile)
                    .load::<String>(connection)
                    .and_then(|beneficiaries| {
                        mobile_certificates(mobile, &beneficiaries)
                            .select(CertificateRow::as_select())
                            .load(connection)
                    })
            })
            .map_err(|error| self.query_error("certificate lookup by mobile", error))?;
        rows.into_iter().map(CertificateRow::into_record).collect()
    }

    /// Returns `true` if the beneficiary has at least one certificate that is
    /// not revoked. Reads only indexes, never certificate text.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// # use divoc_store::{Store, StoreOptions};
    /// # let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// # let certificate = |dose: u32| format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":{dose}}}]}}"#);
    /// # let export = serde_json::json!([
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "mobile": "9000000001", "certificate": certificate(2)},
    /// #     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001", "mobile": "9000000001", "certificate": certificate(1)},
    /// #     {"preEnrollmentCode": "BEN-1", "certificateId": "100000002", "previousCertificateId": "100000001"},
    /// # ]);
    /// # store.import_text(&export.to_string())?;
    /// // The store contains certificates 100000001 and 100000002 of BEN-1 and
    /// // 200000001 of BEN-2, all registered to mobile 9000000001. A revocation
    /// // revokes 100000001.
    /// assert!(store.beneficiary_exists("BEN-1")?);
    /// assert!(!store.beneficiary_exists("BEN-3")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn beneficiary_exists(&self, pre_enrollment_code: &str) -> Result<bool, StoreError> {
        with_read_connection!(self, "beneficiary existence check", |connection| {
            beneficiary_exists_query(pre_enrollment_code).get_result::<bool>(connection)
        })
        .map_err(|error| self.query_error("beneficiary existence check", error))
    }

    /// Runs `SELECT 1` on a pooled connection. For an SQLite file, it first
    /// checks that the file at the store's path (links followed) is still
    /// the one it opened and can still be written, and that its write-ahead
    /// log files (`-wal`, `-shm`) are still those it opened. SQLite goes on
    /// writing to files that were deleted or replaced, and those writes are
    /// lost.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when one of those SQLite checks fails,
    /// when no connection is available, or when the statement fails.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::{Store, StoreOptions};
    ///
    /// let directory = tempfile::tempdir()?;
    /// let path = directory.path().join("certificates.db");
    /// let store = Store::open(&format!("sqlite://{}", path.display()), &StoreOptions::default())?;
    /// store.health_check()?;
    ///
    /// // Writes to a deleted database file would be lost, so the check fails.
    /// std::fs::remove_file(&path)?;
    /// let error = store.health_check().unwrap_err();
    /// assert!(error.is_unavailable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn health_check(&self) -> Result<(), StoreError> {
        if let Some(reason) = self.opened_files.as_ref().and_then(|files| files.change()) {
            return Err(StoreError::Unavailable {
                target: self.target.to_string(),
                reason,
            });
        }
        with_connection!(self, |connection| diesel::sql_query("SELECT 1")
            .execute(connection))
        .map(|_| ())
        .map_err(|error| match self.query_error("health check", error) {
            StoreError::Query { operation, source } => StoreError::Unavailable {
                target: self.target.to_string(),
                reason: format!("{operation} failed: {source}"),
            },
            other => other,
        })
    }

    pub(crate) fn query_error(
        &self,
        operation: &'static str,
        error: diesel::result::Error,
    ) -> StoreError {
        StoreError::from_query(&self.target, operation, error)
    }
}

#[cfg(test)]
mod tests {
    use diesel::query_builder::{QueryBuilder, QueryFragment};
    use diesel::sql_types::Text;
    use diesel::sqlite::{Sqlite, SqliteQueryBuilder};

    use super::*;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// Returns the `detail` column of `EXPLAIN QUERY PLAN` for a query with one bound text value.
    fn query_plan(store: &Store, query: &impl QueryFragment<Sqlite>) -> Vec<String> {
        query_plan_with(store, query, &["BEN-1"])
    }

    /// Returns the `detail` column of `EXPLAIN QUERY PLAN` for a query with
    /// bound text values.
    fn query_plan_with(
        store: &Store,
        query: &impl QueryFragment<Sqlite>,
        binds: &[&str],
    ) -> Vec<String> {
        let mut builder = SqliteQueryBuilder::new();
        query
            .to_sql(&mut builder, &Sqlite)
            .expect("query renders as SQL");
        let sql = format!("EXPLAIN QUERY PLAN {}", builder.finish());
        let Backend::Sqlite(pool) = &store.backend else {
            panic!("expected an SQLite store");
        };
        let mut connection = pool.get().expect("pooled connection");
        let mut statement = diesel::sql_query(sql).into_boxed::<Sqlite>();
        for value in binds {
            statement = statement.bind::<Text, _>(*value);
        }
        let steps: Vec<PlanStep> = statement.load(&mut connection).expect("query plan");
        steps.into_iter().map(|step| step.detail).collect()
    }

    /// Returns `true` for a full table scan. `SCAN CONSTANT ROW` is the
    /// table-less `SELECT EXISTS` and reads no table.
    fn is_table_scan(step: &str) -> bool {
        step.starts_with("SCAN") && step != "SCAN CONSTANT ROW"
    }

    fn memory_store() -> Store {
        Store::open(":memory:", &StoreOptions::default()).expect("in-memory store opens")
    }

    #[test]
    fn exists_query_reads_only_indexes() {
        let store = memory_store();
        let plan = query_plan(&store, &beneficiary_exists_query("BEN-1"));
        assert!(
            plan.iter()
                .any(|step| step.contains("USING COVERING INDEX certificates_pre_enrollment_code")),
            "{plan:?}"
        );
        assert!(
            plan.iter().any(|step| step
                .contains("SEARCH revocations USING INDEX revocations_pre_enrollment_code")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|step| is_table_scan(step)), "{plan:?}");
    }

    #[test]
    fn lookups_use_indexes() {
        let store = memory_store();
        let beneficiary = query_plan(&store, &beneficiary_certificates("BEN-1"));
        assert!(
            beneficiary
                .iter()
                .any(|step| step.contains("USING INDEX certificates_pre_enrollment_code")),
            "{beneficiary:?}"
        );
        let beneficiaries = vec!["BEN-1".to_owned()];
        let mobile = query_plan_with(
            &store,
            &mobile_certificates("9000000001", &beneficiaries),
            &["BEN-1", "9000000001"],
        );
        assert!(
            mobile
                .iter()
                .any(|step| step.contains("USING INDEX certificates_pre_enrollment_code")),
            "{mobile:?}"
        );
        let mobile_keys =
            query_plan_with(&store, &mobile_beneficiaries("9000000001"), &["9000000001"]);
        assert!(
            mobile_keys
                .iter()
                .any(|step| step.contains("SEARCH certificate_mobiles USING PRIMARY KEY")),
            "{mobile_keys:?}"
        );
        assert!(
            !beneficiary
                .iter()
                .chain(&mobile)
                .chain(&mobile_keys)
                .any(|step| is_table_scan(step)),
            "{beneficiary:?} {mobile:?} {mobile_keys:?}"
        );
    }

    #[test]
    fn mobile_and_id_lookup_uses_primary_key() {
        let store = memory_store();
        let beneficiaries = vec!["BEN-1".to_owned()];
        let plan = query_plan_with(
            &store,
            &mobile_certificates("9000000001", &beneficiaries)
                .filter(certificates::certificate_id.eq("100000001"))
                .select(CertificateRow::as_select()),
            &["BEN-1", "9000000001", "100000001"],
        );
        assert!(
            plan.iter()
                .any(|step| step.contains("SEARCH certificates USING INDEX")
                    || step.contains("SEARCH certificates USING PRIMARY KEY")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|step| is_table_scan(step)), "{plan:?}");
    }

    /// PostgreSQL plans of the hot lookups on a table of 20,000 certificates,
    /// half of them revoked, after ANALYZE, so the planner chooses as it would
    /// on a filled store. With only a few hundred revocations it rightly prefers
    /// a hash join over a sequential scan of that small table.
    mod postgres_plans {
        use diesel::connection::SimpleConnection;
        use diesel::pg::{Pg, PgQueryBuilder};
        use diesel::query_builder::{QueryBuilder, QueryFragment};
        use diesel::sql_types::Text;
        use diesel_migrations::MigrationHarness;
        use serde_json::Value;

        use super::super::*;

        const CERTIFICATES: usize = 20_000;

        #[derive(QueryableByName)]
        struct PlanText {
            #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
            plan: String,
        }

        /// A store on a new database of the server in `DIVOC_TEST_POSTGRES_URL`,
        /// dropped at the end of the test.
        struct PostgresDb {
            store: Option<Store>,
            admin_url: String,
            name: String,
        }

        impl Drop for PostgresDb {
            fn drop(&mut self) {
                self.store = None;
                if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .execute(&mut admin);
                }
            }
        }

        /// Creates a new database named after `test`, without tables, and
        /// returns it with its URL. Its default collation is ICU's "en-US", as
        /// on a server set up with a language's locale. The tests check that
        /// key columns still compare as bytes there and that lookups still use
        /// their indexes.
        fn new_database(test: &str) -> Option<(PostgresDb, String)> {
            let Some(admin_url) = std::env::var("DIVOC_TEST_POSTGRES_URL")
                .ok()
                .filter(|url| !url.trim().is_empty())
            else {
                assert!(
                    std::env::var("DIVOC_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "DIVOC_REQUIRE_POSTGRES=1 but DIVOC_TEST_POSTGRES_URL is not set"
                );
                eprintln!("skipping PostgreSQL test {test}: DIVOC_TEST_POSTGRES_URL is not set");
                return None;
            };
            let name = format!("divoc_{test}_{}", std::process::id());
            let mut admin = PgConnection::establish(&admin_url).expect("admin connection");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .expect("drop old test database");
            diesel::sql_query(format!(
                "CREATE DATABASE {name} TEMPLATE template0 \
                 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            ))
            .execute(&mut admin)
            .expect("create test database");
            let base = admin_url
                .split('?')
                .next()
                .and_then(|url| url.rsplit_once('/'))
                .map_or(admin_url.as_str(), |(prefix, _)| prefix);
            let url = format!("{base}/{name}");
            let db = PostgresDb {
                store: None,
                admin_url,
                name,
            };
            Some((db, url))
        }

        /// Creates an empty store on a new database named after `test`.
        fn empty_store(test: &str) -> Option<PostgresDb> {
            let (mut db, url) = new_database(test)?;
            db.store = Some(Store::open(&url, &StoreOptions::default()).expect("store opens"));
            Some(db)
        }

        fn filled_store() -> Option<PostgresDb> {
            let db = empty_store("plan_test")?;
            let mut lines = String::new();
            for index in 0..CERTIFICATES {
                lines.push_str(&format!(
                    r#"{{"preEnrollmentCode":"B{}","certificateId":"C{index:08}","mobile":"9{:09}","certificate":"{{\"credentialSubject\":{{}},\"evidence\":[{{\"dose\":1}}]}}"}}"#,
                    index / 2,
                    index / 4
                ));
                lines.push('\n');
                if index % 2 == 0 {
                    lines.push_str(&format!(
                        r#"{{"preEnrollmentCode":"B{}","certificateId":"R{index:08}","previousCertificateId":"C{index:08}"}}"#,
                        index / 2
                    ));
                    lines.push('\n');
                }
            }
            let store = db.store.as_ref().expect("store");
            store
                .import_reader(lines.as_bytes(), &mut |_| {})
                .expect("import");
            with_pg(store, |connection| {
                diesel::sql_query("ANALYZE certificates, revocations")
                    .execute(connection)
                    .expect("analyze");
            });
            Some(db)
        }

        fn with_pg<T>(store: &Store, body: impl FnOnce(&mut PgConnection) -> T) -> T {
            let Backend::Postgres(pool, _) = &store.backend else {
                panic!("expected a PostgreSQL store");
            };
            let mut connection = pool.get().expect("pooled connection");
            body(&mut connection)
        }

        /// Returns (node type, index name) of every plan node that reads an
        /// index, and (node type, table name) of every other scan.
        fn index_nodes(
            store: &Store,
            query: &impl QueryFragment<Pg>,
            binds: &[&str],
        ) -> Vec<(String, String)> {
            let mut builder = PgQueryBuilder::new();
            query
                .to_sql(&mut builder, &Pg)
                .expect("query renders as SQL");
            // `eq_any` binds one array; the plans here bind one beneficiary id
            // in its place, as a one-element array, so that every value is text.
            let sql = format!("EXPLAIN (FORMAT JSON) {}", builder.finish())
                .replace("= ANY($1)", "= ANY(ARRAY[$1]::text[])");
            let text = with_pg(store, |connection| {
                let mut statement = diesel::sql_query(sql).into_boxed::<Pg>();
                for value in binds {
                    statement = statement.bind::<Text, _>(*value);
                }
                statement.get_result::<PlanText>(connection)
            })
            .expect("query plan")
            .plan;
            let plan: Value = serde_json::from_str(&text).expect("JSON plan");
            let mut nodes = Vec::new();
            collect_index_nodes(&plan, &mut nodes);
            assert!(
                !nodes
                    .iter()
                    .any(|(kind, name)| kind == "Seq Scan" && name == "certificates"),
                "sequential scan of certificates: {text}"
            );
            nodes
        }

        fn collect_index_nodes(value: &Value, nodes: &mut Vec<(String, String)>) {
            match value {
                Value::Array(items) => items
                    .iter()
                    .for_each(|item| collect_index_nodes(item, nodes)),
                Value::Object(object) => {
                    let name = object
                        .get("Index Name")
                        .or_else(|| object.get("Relation Name"));
                    if let (Some(Value::String(kind)), Some(Value::String(name))) =
                        (object.get("Node Type"), name)
                    {
                        nodes.push((kind.clone(), name.clone()));
                    }
                    object
                        .values()
                        .for_each(|child| collect_index_nodes(child, nodes));
                }
                _ => {}
            }
        }

        fn assert_reads(nodes: &[(String, String)], index: &str) {
            assert!(
                nodes.iter().any(|(kind, name)| name == index
                    && (kind == "Index Scan"
                        || kind == "Index Only Scan"
                        || kind == "Bitmap Index Scan")),
                "no index scan on {index}: {nodes:?}"
            );
        }

        #[test]
        fn lookups_use_indexes() {
            let Some(db) = filled_store() else { return };
            let store = db.store.as_ref().expect("store");

            let by_beneficiary = index_nodes(
                store,
                &beneficiary_certificates("B100").select(CertificateRow::as_select()),
                &["B100"],
            );
            assert_reads(&by_beneficiary, "certificates_pkey");
            assert_reads(&by_beneficiary, "revocations_pkey");

            let mobile_keys =
                index_nodes(store, &mobile_beneficiaries("9000000100"), &["9000000100"]);
            assert_reads(&mobile_keys, "certificate_mobiles_pkey");

            let beneficiaries = vec!["B100".to_owned()];
            let by_mobile = index_nodes(
                store,
                &mobile_certificates("9000000100", &beneficiaries)
                    .select(CertificateRow::as_select()),
                &["B100", "9000000100"],
            );
            assert_reads(&by_mobile, "certificates_pkey");

            let by_mobile_and_id = index_nodes(
                store,
                &mobile_certificates("9000000100", &beneficiaries)
                    .filter(certificates::certificate_id.eq("C00000401"))
                    .select(CertificateRow::as_select()),
                &["B100", "9000000100", "C00000401"],
            );
            assert!(
                by_mobile_and_id.iter().any(|(kind, name)| {
                    (kind == "Index Scan" || kind == "Index Only Scan")
                        && (name == "certificates_pkey" || name == "certificates_certificate_id")
                }),
                "{by_mobile_and_id:?}"
            );

            let exists = index_nodes(store, &beneficiary_exists_query("B100"), &["B100"]);
            assert!(
                exists
                    .iter()
                    .any(|(kind, name)| kind == "Index Only Scan" && name == "certificates_pkey"),
                "{exists:?}"
            );
        }

        /// Ids of `records`, in their order.
        fn ids(records: &[RegistryRecord]) -> Vec<&str> {
            records
                .iter()
                .map(|record| record.certificate_id.as_str())
                .collect()
        }

        /// Connects to `url` and applies the migrations before the one that
        /// makes key columns compare as bytes.
        fn migrated_before_byte_order(url: &str) -> PgConnection {
            let mut connection = PgConnection::establish(url).expect("connection");
            loop {
                let version = connection
                    .run_next_migration(crate::backend::POSTGRES_MIGRATIONS)
                    .expect("older migration")
                    .to_string();
                if version == "20261206000000" {
                    return connection;
                }
            }
        }

        /// Creates a database migrated up to the byte-order change, and a
        /// second connection that has run `lock`, a lock in an open transaction.
        fn locked_before_byte_order(
            name: &str,
            lock: &str,
        ) -> Option<(PostgresDb, String, PgConnection)> {
            let (db, url) = new_database(name)?;
            drop(migrated_before_byte_order(&url));
            let mut holder = PgConnection::establish(&url).expect("connection");
            holder.batch_execute(lock).expect("lock held");
            Some((db, url, holder))
        }

        /// Opens a store on another thread, so that a migration that waits
        /// indefinitely fails the test after 30 s instead of hanging it.
        fn open_within_30_seconds(url: &str) -> Result<Store, StoreError> {
            let (sender, receiver) = std::sync::mpsc::channel();
            let opening_url = url.to_owned();
            std::thread::spawn(move || {
                let _ = sender.send(Store::open(&opening_url, &StoreOptions::default()));
            });
            receiver
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the migration still waits after 30 s"))
        }

        /// A schema change that cannot get its table lock within the timeout
        /// fails the open and changes nothing, instead of queueing the
        /// lookups of running servers behind it.
        #[test]
        fn migration_gives_up_on_held_lock() {
            let Some((mut db, url, mut holder)) = locked_before_byte_order(
                "migration_lock",
                "BEGIN; LOCK TABLE email_outbox IN ACCESS SHARE MODE",
            ) else {
                return;
            };

            let Err(error) = open_within_30_seconds(&url) else {
                panic!("the migration ran although the lock was held");
            };
            let StoreError::Migration { reason, .. } = &error else {
                panic!("expected a migration error, got {error}");
            };
            assert_eq!(
                reason,
                "canceling statement due to statement timeout: another transaction, such as an import, holds a table \
                 that the schema change needs for more than 2s (pg_stat_activity and pg_locks \
                 show which); start again when it has ended"
            );

            holder.batch_execute("COMMIT").expect("lock released");
            let applied: i64 =
                diesel::sql_query("SELECT count(*) AS count FROM __diesel_schema_migrations")
                    .get_result::<Count>(&mut holder)
                    .expect("applied migrations")
                    .count;
            assert_eq!(applied, 5);

            db.store = Some(Store::open(&url, &StoreOptions::default()).expect("store opens"));
        }

        /// A lock on a table of another application in the same schema does
        /// not hold up the store's migrations, and the store's list of its
        /// own tables is the list that its migrations create.
        #[test]
        fn migration_ignores_other_tables() {
            let Some((mut db, url, mut holder)) = locked_before_byte_order(
                "migration_other_tables",
                "CREATE TABLE other_application (id integer); \
                 BEGIN; LOCK TABLE other_application IN ACCESS SHARE MODE",
            ) else {
                return;
            };

            db.store = Some(
                open_within_30_seconds(&url)
                    .unwrap_or_else(|error| panic!("the migration failed: {error}")),
            );
            holder.batch_execute("COMMIT").expect("lock released");

            let tables: Vec<String> = diesel::sql_query(
                "SELECT tablename AS value FROM pg_tables \
                 WHERE schemaname = current_schema() \
                 AND tablename NOT IN ('__diesel_schema_migrations', 'other_application') \
                 ORDER BY tablename",
            )
            .load::<TextValue>(&mut holder)
            .expect("tables")
            .into_iter()
            .map(|row| row.value)
            .collect();
            assert_eq!(tables, crate::backend::STORE_TABLES);
        }

        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }

        /// A store created before key columns compared as bytes keeps its rows
        /// through the migration, and then sorts ids by bytes: "B-2" before
        /// "a-1", where ICU's "en-US" puts "a-1" first.
        #[test]
        fn byte_order_upgrade_keeps_rows() {
            let Some((mut db, url)) = new_database("collation_upgrade") else {
                return;
            };
            let mut connection = migrated_before_byte_order(&url);
            connection
                .batch_execute(
                    r#"INSERT INTO certificates (certificate_id, pre_enrollment_code, mobile, certificate, dose) VALUES
                        ('a-1', 'B1', '9000000001', '{"credentialSubject":{},"evidence":[{"dose":1}]}', 1),
                        ('B-2', 'B1', '9000000001', '{"credentialSubject":{},"evidence":[{"dose":2}]}', 2),
                        ('c-3', 'B1', '9000000001', '{"credentialSubject":{},"evidence":[{"dose":3}]}', 3);
                    INSERT INTO revocations (revoked_certificate_id, pre_enrollment_code, certificate_id, dose, previous_certificate_id)
                        VALUES ('c-3', 'B1', 'R-1', 3, 'c-3');
                    INSERT INTO certificate_mobiles (mobile, pre_enrollment_code) VALUES ('9000000001', 'B1');"#,
                )
                .expect("rows of the older schema");
            let before: Vec<String> = certificates::table
                .select(certificates::certificate_id)
                .order(certificates::certificate_id.asc())
                .load(&mut connection)
                .expect("ids before the upgrade");
            assert_eq!(before, ["a-1", "B-2", "c-3"]);
            drop(connection);

            db.store = Some(Store::open(&url, &StoreOptions::default()).expect("store upgrades"));
            let store = db.store.as_ref().expect("store");
            let by_beneficiary = store.certificates_by_beneficiary("B1").expect("lookup");
            assert_eq!(ids(&by_beneficiary), ["B-2", "a-1"]);
            let by_mobile = store.certificates_by_mobile("9000000001").expect("lookup");
            assert_eq!(ids(&by_mobile), ["B-2", "a-1"]);
            assert!(store.beneficiary_exists("B1").expect("exists"));
        }

        /// A running store keeps serving lookups after another server migrates
        /// its database. Its connection prepares again the statements whose
        /// result columns changed, instead of failing every lookup with "cached
        /// plan must not change result type". Here the change is the byte-order
        /// migration undone, which gives the id columns ICU's "en-US" order back.
        #[test]
        fn lookups_survive_schema_change() {
            let Some((mut db, url)) = new_database("schema_change") else {
                return;
            };
            // One connection, so the lookups after the change run on the
            // connection that prepared them before it.
            let options = StoreOptions {
                max_connections: 1,
                ..StoreOptions::default()
            };
            let store = Store::open(&url, &options).expect("store opens");
            store
                .import_text(concat!(
                    r#"{"preEnrollmentCode":"B1","certificateId":"a-1","mobile":"9000000001","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"}"#,
                    "\n",
                    r#"{"preEnrollmentCode":"B1","certificateId":"B-2","mobile":"9000000001","certificate":"{\"credentialSubject\":{},\"evidence\":[{\"dose\":2}]}"}"#,
                ))
                .expect("import");
            let before = store.certificates_by_beneficiary("B1").expect("lookup");
            assert_eq!(ids(&before), ["B-2", "a-1"]);
            let before = store.certificates_by_mobile("9000000001").expect("lookup");
            assert_eq!(ids(&before), ["B-2", "a-1"]);

            let mut other = PgConnection::establish(&url).expect("connection");
            // The share link migration after it touches no table of lookups.
            let mut revert = || {
                other
                    .revert_last_migration(crate::backend::POSTGRES_MIGRATIONS)
                    .expect("schema change")
                    .to_string()
            };
            assert_eq!(revert(), "20261208000000");
            assert_eq!(revert(), "20261207000000");

            let after = store
                .certificates_by_beneficiary("B1")
                .expect("lookup after the change");
            assert_eq!(ids(&after), ["a-1", "B-2"]);
            let after = store
                .certificates_by_mobile("9000000001")
                .expect("lookup after the change");
            assert_eq!(ids(&after), ["a-1", "B-2"]);
            assert!(
                store
                    .beneficiary_exists("B1")
                    .expect("exists after the change")
            );
            db.store = Some(store);
        }

        /// One text value of a query's result.
        #[derive(QueryableByName)]
        struct TextValue {
            #[diesel(sql_type = Text)]
            value: String,
        }

        #[test]
        fn key_columns_compare_as_bytes() {
            let Some(db) = empty_store("collation_test") else {
                return;
            };
            let store = db.store.as_ref().expect("store");
            let (provider, columns) = with_pg(store, |connection| {
                let provider: String = diesel::sql_query(
                    "SELECT datlocprovider::text AS value FROM pg_database \
                     WHERE datname = current_database()",
                )
                .get_result::<TextValue>(connection)
                .expect("database locale provider")
                .value;
                let columns: Vec<String> = diesel::sql_query(
                    "SELECT table_name || '.' || column_name AS value \
                     FROM information_schema.columns \
                     WHERE table_schema = 'public' AND collation_name = 'C' \
                     ORDER BY table_name, column_name",
                )
                .load::<TextValue>(connection)
                .expect("columns with byte order")
                .into_iter()
                .map(|row| row.value)
                .collect();
                (provider, columns)
            });
            // "i": the database's own default collation is ICU's, not bytes.
            assert_eq!(provider, "i");
            assert_eq!(
                columns,
                [
                    "audit_events.certificate_id",
                    "audit_events.subject",
                    "certificate_mobiles.mobile",
                    "certificate_mobiles.pre_enrollment_code",
                    "certificates.certificate_id",
                    "certificates.mobile",
                    "certificates.pre_enrollment_code",
                    "email_outbox.certificate_id",
                    "email_outbox.id",
                    "email_outbox.status",
                    "otp_challenges.mobile",
                    "rate_limits.bucket",
                    "revocations.certificate_id",
                    "revocations.pre_enrollment_code",
                    "revocations.previous_certificate_id",
                    "revocations.revoked_certificate_id",
                    "share_links.certificate_id",
                    "share_links.creator",
                    "share_links.id",
                    "share_links.pre_enrollment_code",
                    "share_links.token_hash",
                ]
            );
        }
    }
}
