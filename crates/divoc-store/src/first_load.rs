//! The first load of a registry export into an empty store.
//!
//! A first load checks the beneficiary ids of revocations and certificates
//! once at the end instead of with every batch. On PostgreSQL it also locks
//! the imported tables against readers, and builds the indexes of
//! `certificates` once at the end instead of updating them with every row.
//! (An SQLite import into an empty store builds its beneficiary index at the
//! end by itself when it can; see `IndexDeferral` in the import module.)

use diesel::prelude::*;
use divoc_model::ModelError;

use crate::import::{ImportFailure, REVOKES_OTHER_BENEFICIARY};

/// Settings of one import.
///
/// ```
/// use divoc_store::ImportOptions;
///
/// let options = ImportOptions {
///     first_load: true,
///     ..ImportOptions::default()
/// };
/// assert_eq!(options.defer_indexes_after, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import into an empty store only, and reject the import with
    /// [`StoreError::NotEmpty`](crate::StoreError::NotEmpty) when
    /// `certificates`, `revocations` or `certificate_mobiles` has a row.
    ///
    /// A revocation of a certificate of another beneficiary is found at the
    /// end, after all entries were read, and the error names the revocation by
    /// its `certificateId`, without its position in the file.
    ///
    /// On PostgreSQL, a first load locks the three tables in ACCESS EXCLUSIVE
    /// mode, so lookups wait until the import commits instead of finding an
    /// empty store. It drops the indexes of `certificates` and builds them
    /// again before the commit.
    pub first_load: bool,
    /// Entries after which an import into a store without certificates
    /// builds indexes of `certificates` once at the end instead of row by
    /// row, when it has the store to itself. `None`, the default, takes the
    /// backend's value: 2,000,000 on SQLite ([`SQLITE_DEFER_INDEXES_AFTER`])
    /// and 10,000 on PostgreSQL ([`POSTGRES_DEFER_INDEXES_AFTER`]).
    /// `Some(usize::MAX)` turns the switch off.
    ///
    /// On SQLite that is the beneficiary index, for a store opened with
    /// `max_connections` 1 whose import runs with a rollback journal (see
    /// [`Store::import_stream`](crate::Store::import_stream)).
    ///
    /// On PostgreSQL, it needs a store opened with `max_connections` 1 and
    /// no other client connected to the database. The import then takes the
    /// three tables in ACCESS EXCLUSIVE mode, drops both indexes of
    /// `certificates` and goes on as a first load does. A session that
    /// connects later, and a reader on a hot standby, which replays the lock,
    /// waits until the commit. The store was empty, so such a reader would
    /// have found nothing. A revocation of another beneficiary's certificate
    /// in the rest of the import is found at the end and named without its
    /// position. When another session is connected, the import keeps the
    /// indexes and goes on as before.
    pub defer_indexes_after: Option<usize>,
    /// On PostgreSQL, read the stored rows of an import into a filled store
    /// on the import's own connection only.
    ///
    /// By default such an import opens a second connection with the store's
    /// URL, and reads the stored certificates of each batch there while the
    /// first connection writes the batch before it. The two server processes
    /// then work at once. The second connection keeps one read-only
    /// transaction until the import ends. Set this where the server allows no
    /// further connection, or where a pooler in transaction mode stands
    /// between the store and the server. When the second connection cannot
    /// be opened, or cannot lock `certificates` at once because another
    /// session waits for an exclusive lock, the import logs it and reads on
    /// its own connection.
    pub single_connection: bool,
}

/// The SQLite default of [`ImportOptions::defer_indexes_after`].
///
/// Measured at 10 million records, building the index at the end made the
/// import 36 % faster (35,834 to 48,787 records/s). At 1 million it made it
/// slower (13.1 to 17.9 s): the index still fit in memory, and the build
/// reads the whole table again. Smaller imports keep their indexes.
pub const SQLITE_DEFER_INDEXES_AFTER: usize = 2_000_000;

/// The PostgreSQL default of [`ImportOptions::defer_indexes_after`]: after
/// the first batch, so that a small import keeps its indexes and the error
/// positions of every check. A first load of 1 million records took 12.4 to
/// 13.3 s with the indexes built at the end, and 16.0 to 18.0 s without.
pub const POSTGRES_DEFER_INDEXES_AFTER: usize = 10_000;

/// Takes the imported tables of a PostgreSQL import for a deferred index
/// build, and returns whether it did.
///
/// It does so only when no other client is connected to the database, and
/// then locks the tables in ACCESS EXCLUSIVE mode without waiting. A session
/// that connects later waits for the commit, and so does a reader on a hot
/// standby. A failure leaves the import as it was, with its indexes.
pub(crate) fn take_tables_when_alone(connection: &mut PgConnection) -> bool {
    use diesel::connection::SimpleConnection;
    #[derive(QueryableByName)]
    struct Others {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        others: i64,
    }
    // A savepoint, because a failed statement would end the import's
    // transaction.
    let locked = connection.transaction(|connection| {
        let others = diesel::sql_query(
            // PostgreSQL shows a role without pg_read_all_stats the backend
            // type of its own sessions only, so a hidden type counts.
            "SELECT count(*) AS others FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND coalesce(backend_type, 'client backend') = 'client backend'",
        )
        .get_result::<Others>(connection)?
        .others;
        if others > 0 {
            tracing::info!(
                sessions = others,
                "import into an empty store keeps the indexes of certificates: \
                 other sessions are connected to the database"
            );
            return Ok(false);
        }
        connection.batch_execute(
            "LOCK TABLE certificates, revocations, certificate_mobiles \
             IN ACCESS EXCLUSIVE MODE NOWAIT",
        )?;
        Ok::<bool, diesel::result::Error>(true)
    });
    locked.unwrap_or_else(|error| {
        tracing::info!(
            %error,
            "import into an empty store keeps the indexes of certificates: \
             the tables could not be taken"
        );
        false
    })
}

#[derive(QueryableByName)]
pub(crate) struct Filled {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    filled: bool,
}

/// Rejects a first load into a store that has certificates, revocations or
/// mobile numbers. The caller holds the write lock, so none can be added
/// before the import commits.
pub(crate) fn require_empty_store<C>(connection: &mut C) -> Result<(), ImportFailure>
where
    C: diesel::Connection,
    for<'a> diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'a, C, Filled>,
{
    let filled = diesel::sql_query(
        "SELECT (EXISTS (SELECT 1 FROM certificates) \
         OR EXISTS (SELECT 1 FROM revocations) \
         OR EXISTS (SELECT 1 FROM certificate_mobiles)) AS filled",
    )
    .get_result::<Filled>(connection)
    .map_err(|error| ImportFailure::Query("empty store check", error))?
    .filled;
    if filled {
        return Err(ImportFailure::NotEmpty);
    }
    Ok(())
}

/// The statements that drop one index of `certificates` and create it again.
#[derive(QueryableByName)]
pub(crate) struct IndexStatements {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    drop: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    create: String,
}

/// Drops every index of `certificates`, primary key included, and returns
/// the statements that create them again.
///
/// Each certificate id and beneficiary id is random, so every row of a load
/// went into two B-trees at random places. Once they outgrow the buffer
/// cache, most inserts read and write pages that were evicted. One sort at the
/// end builds each index from the loaded rows instead.
///
/// During the load nothing reads `certificates` by key, with one exception:
/// a certificate id whose hash was seen before in the import is looked up,
/// and that lookup now reads the whole table. It happens for a repeated id,
/// which fails the import, or for two ids with one 64-bit hash, about 3 times
/// in a million loads of 10 million ids.
pub(crate) fn drop_certificate_indexes(
    connection: &mut PgConnection,
) -> Result<Vec<IndexStatements>, ImportFailure> {
    let failed = |error| ImportFailure::Query("deferring the index build", error);
    // An index that backs a constraint is dropped and added with the
    // constraint, so the primary key stays a primary key.
    let indexes: Vec<IndexStatements> = diesel::sql_query(
        "SELECT index.relname AS name, \
             CASE WHEN con.conname IS NULL \
                 THEN format('DROP INDEX %s', index.oid::regclass) \
                 ELSE format('ALTER TABLE certificates DROP CONSTRAINT %I', con.conname) \
             END AS drop, \
             CASE WHEN con.conname IS NULL \
                 THEN pg_get_indexdef(index.oid) \
                 ELSE format('ALTER TABLE certificates ADD CONSTRAINT %I %s', \
                             con.conname, pg_get_constraintdef(con.oid)) \
             END AS create \
         FROM pg_index \
         JOIN pg_class index ON index.oid = pg_index.indexrelid \
         LEFT JOIN pg_constraint con \
             ON con.conindid = pg_index.indexrelid AND con.conrelid = pg_index.indrelid \
         WHERE pg_index.indrelid = 'certificates'::regclass \
         ORDER BY index.relname",
    )
    .load(connection)
    .map_err(failed)?;
    for index in &indexes {
        diesel::sql_query(&index.drop)
            .execute(connection)
            .map_err(failed)?;
    }
    tracing::info!(
        indexes = indexes.len(),
        "the indexes of certificates are built at the end of the import"
    );
    Ok(indexes)
}

/// Creates the indexes that [`drop_certificate_indexes`] dropped, inside the
/// import's transaction, so that the commit has them or nothing.
///
/// Each build sorts the keys of all rows. The server's `maintenance_work_mem`
/// (64 MB by default in PostgreSQL 15) is raised to
/// [`INDEX_BUILD_MEMORY_KIB`] for the transaction when it is lower, so that the
/// sort of 10 million keys needs fewer passes over temporary files.
pub(crate) fn build_certificate_indexes(
    connection: &mut PgConnection,
    indexes: &[IndexStatements],
) -> Result<(), ImportFailure> {
    raise_setting(connection, "maintenance_work_mem", INDEX_BUILD_MEMORY_KIB)
        .map_err(|error| ImportFailure::Query("building the deferred index", error))?;
    for index in indexes {
        let started = std::time::Instant::now();
        diesel::sql_query(&index.create)
            .execute(connection)
            .map_err(|error| ImportFailure::Query("building the deferred index", error))?;
        tracing::info!(
            index = index.name,
            seconds = started.elapsed().as_secs_f64(),
            "deferred index built"
        );
    }
    Ok(())
}

/// Memory for the sort of one deferred index build, in KiB (1 GiB).
const INDEX_BUILD_MEMORY_KIB: u32 = 1_048_576;

/// Sets a memory setting of PostgreSQL, in KiB, for the rest of the
/// transaction, unless the server's value is larger already.
pub(crate) fn raise_setting(
    connection: &mut PgConnection,
    name: &str,
    kib: u32,
) -> QueryResult<()> {
    diesel::sql_query(
        "SELECT set_config($1, $2, true) FROM pg_settings \
         WHERE name = $1 AND unit = 'kB' AND setting::bigint < $3",
    )
    .bind::<diesel::sql_types::Text, _>(name)
    .bind::<diesel::sql_types::Text, _>(format!("{kib}kB"))
    .bind::<diesel::sql_types::BigInt, _>(i64::from(kib))
    .execute(connection)
    .map(|_| ())
}

/// A revocation whose certificate is stored for another beneficiary.
#[derive(QueryableByName)]
pub(crate) struct OwnerConflict {
    #[diesel(sql_type = diesel::sql_types::Text)]
    revoked_certificate_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    certificate_id: String,
}

/// Rejects the load when a revocation names a certificate of another
/// beneficiary. A normal import checks each batch against the stored rows:
/// its certificates against the revocations by revoked id, and its
/// revocations against the certificates by certificate id. That is a lookup
/// per certificate, and on PostgreSQL a first load has no index on
/// certificate ids until the end. Its store held no rows before, so one join
/// over both tables at the end finds every such pair, whichever of the two
/// came first in the file.
pub(crate) fn check_revoked_certificate_owners<C>(connection: &mut C) -> Result<(), ImportFailure>
where
    C: diesel::Connection,
    for<'a> diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'a, C, OwnerConflict>,
{
    let conflict = diesel::sql_query(
        "SELECT revocations.revoked_certificate_id, revocations.certificate_id \
         FROM revocations JOIN certificates \
             ON certificates.certificate_id = revocations.revoked_certificate_id \
         WHERE certificates.pre_enrollment_code <> revocations.pre_enrollment_code \
         ORDER BY revocations.certificate_id LIMIT 1",
    )
    .get_result::<OwnerConflict>(connection)
    .optional()
    .map_err(|error| ImportFailure::Query("beneficiary id check", error))?;
    match conflict {
        None => Ok(()),
        Some(conflict) => {
            let field = if conflict.revoked_certificate_id == conflict.certificate_id {
                "certificateId"
            } else {
                "previousCertificateId"
            };
            Err(ImportFailure::Invalid(ModelError::Record {
                record: format!("revocation (certificateId {})", conflict.certificate_id),
                field: field.to_owned(),
                reason: format!(
                    "{} {REVOKES_OTHER_BENEFICIARY}",
                    conflict.revoked_certificate_id
                ),
            }))
        }
    }
}
