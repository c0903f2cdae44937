//! The [`Store`] handle and its lookups.

use std::fmt;
use std::sync::Arc;

use diesel::dsl::{self, exists, not};
use diesel::prelude::*;
use divoc_model::RegistryRecord;

use crate::backend::{self, Backend};
use crate::rows::CertificateRow;
use crate::schema::{certificates, revocations};
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
}

impl fmt::Debug for Store {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Store")
            .field("backend", &self.backend_name())
            .field("target", &self.target)
            .finish()
    }
}

/// Runs `$body` with `$connection` bound to a pooled connection of whichever
/// backend the store uses. The body is compiled once per backend, and a pool
/// error returns [`StoreError::Unavailable`] from the enclosing function.
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
            $crate::backend::Backend::Postgres(pool) => {
                let mut pooled = pool
                    .get()
                    .map_err(|error| $crate::backend::pool_error(&$store.target, &error))?;
                let $connection: &mut ::diesel::PgConnection = &mut pooled;
                $body
            }
        }
    };
}

pub(crate) use with_connection;

/// True for a certificate row that no revocation names. Evaluated at query time,
/// so a revocation hides its certificate whichever of the two was imported first.
#[dsl::auto_type]
fn not_revoked() -> _ {
    not(exists(revocations::table.filter(
        revocations::revoked_certificate_id.eq(certificates::certificate_id),
    )))
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

/// Certificates registered to one mobile number that are not revoked, by certificate id.
#[dsl::auto_type]
fn mobile_certificates<'a>(mobile: &'a str) -> _ {
    let not_revoked: not_revoked = not_revoked();
    certificates::table
        .filter(certificates::mobile.eq(mobile))
        .filter(not_revoked)
        .order(certificates::certificate_id.asc())
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
    /// # Errors
    ///
    /// * [`StoreError::InvalidUrl`] for any other scheme or an empty URL;
    /// * [`StoreError::Unavailable`] when the database cannot be opened or reached,
    ///   with the driver's message, such as libpq's "Connection refused";
    /// * [`StoreError::Migration`] when the tables cannot be created.
    pub fn open(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let target: Arc<str> = Arc::from(redact_url(url));
        let backend = match StoreTarget::parse(url)? {
            StoreTarget::Sqlite { path } => backend::open_sqlite(&path, &target, options)?,
            StoreTarget::Postgres { url } => backend::open_postgres(&url, &target, options)?,
        };
        let store = Self { backend, target };
        tracing::info!(
            backend = store.backend_name(),
            target = %store.target,
            max_connections = options.max_connections,
            "certificate store opened"
        );
        Ok(store)
    }

    /// Returns the backend: `"sqlite"` or `"postgresql"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgresql",
        }
    }

    /// Returns the store URL with its password redacted.
    pub fn redacted_url(&self) -> &str {
        &self.target
    }

    /// Returns the certificates of a beneficiary, ordered by certificate id.
    /// Revoked certificates are left out.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or
    /// [`StoreError::Corrupt`] for a row that cannot be read back.
    pub fn certificates_by_beneficiary(
        &self,
        pre_enrollment_code: &str,
    ) -> Result<Vec<RegistryRecord>, StoreError> {
        let rows: Vec<CertificateRow> = with_connection!(self, |connection| {
            beneficiary_certificates(pre_enrollment_code)
                .select(CertificateRow::as_select())
                .load(connection)
        })
        .map_err(|error| self.query_error("certificate lookup by beneficiary", error))?;
        rows.into_iter().map(CertificateRow::into_record).collect()
    }

    /// Returns the certificate with this id if it is registered to this mobile
    /// number and not revoked.
    ///
    /// # Errors
    ///
    /// As for [`Store::certificates_by_beneficiary`].
    pub fn certificate_by_mobile_and_id(
        &self,
        mobile: &str,
        certificate_id: &str,
    ) -> Result<Option<RegistryRecord>, StoreError> {
        let row: Option<CertificateRow> = with_connection!(self, |connection| {
            mobile_certificates(mobile)
                .filter(certificates::certificate_id.eq(certificate_id))
                .select(CertificateRow::as_select())
                .first(connection)
                .optional()
        })
        .map_err(|error| self.query_error("certificate lookup by mobile and id", error))?;
        row.map(CertificateRow::into_record).transpose()
    }

    /// Returns the certificates registered to a mobile number, ordered by
    /// certificate id. Revoked certificates are left out.
    ///
    /// # Errors
    ///
    /// As for [`Store::certificates_by_beneficiary`].
    pub fn certificates_by_mobile(&self, mobile: &str) -> Result<Vec<RegistryRecord>, StoreError> {
        let rows: Vec<CertificateRow> = with_connection!(self, |connection| {
            mobile_certificates(mobile)
                .select(CertificateRow::as_select())
                .load(connection)
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
    pub fn beneficiary_exists(&self, pre_enrollment_code: &str) -> Result<bool, StoreError> {
        with_connection!(self, |connection| {
            beneficiary_exists_query(pre_enrollment_code).get_result::<bool>(connection)
        })
        .map_err(|error| self.query_error("beneficiary existence check", error))
    }

    /// Runs `SELECT 1` on a pooled connection.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when no connection is available or the
    /// statement fails.
    pub fn health_check(&self) -> Result<(), StoreError> {
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
        let mut builder = SqliteQueryBuilder::new();
        query
            .to_sql(&mut builder, &Sqlite)
            .expect("query renders as SQL");
        let sql = format!("EXPLAIN QUERY PLAN {}", builder.finish());
        let Backend::Sqlite(pool) = &store.backend else {
            panic!("expected an SQLite store");
        };
        let mut connection = pool.get().expect("pooled connection");
        let steps: Vec<PlanStep> = diesel::sql_query(sql)
            .bind::<Text, _>("BEN-1")
            .load(&mut connection)
            .expect("query plan");
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
            plan.iter()
                .any(|step| step.contains("SEARCH revocations USING PRIMARY KEY")),
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
        let mobile = query_plan(&store, &mobile_certificates("9000000001"));
        assert!(
            mobile
                .iter()
                .any(|step| step.contains("USING INDEX certificates_mobile_certificate_id")),
            "{mobile:?}"
        );
        assert!(
            !beneficiary
                .iter()
                .chain(&mobile)
                .any(|step| is_table_scan(step)),
            "{beneficiary:?} {mobile:?}"
        );
    }
}
