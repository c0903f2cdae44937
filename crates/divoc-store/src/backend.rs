//! Connection pools, SQLite connection settings and migrations.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{CacheSize, SimpleConnection};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::result::ConnectionError;
use diesel::sql_types::BigInt;
use diesel::sqlite::BusyDecision;
use diesel::{Connection, PgConnection, QueryResult, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::pool_log::PoolErrorLog;
use crate::url::is_sqlite_memory;
use crate::{StoreError, StoreOptions};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock held while migrations run, so that two
/// servers starting at once do not both create the tables. The value is the
/// ASCII text `DIVOCSTO`.
const MIGRATION_LOCK_KEY: i64 = 0x4449_564F_4353_544F;

/// How long a PostgreSQL schema change waits for a table lock before the
/// migration fails. While it waits, PostgreSQL queues every later reader of
/// that table behind it, so a long wait, such as behind an import of an
/// earlier version, would stall the lookups of running servers.
const MIGRATION_LOCK_TIMEOUT: &str = "2s";

/// The connection pool of one backend.
#[derive(Clone)]
pub(crate) enum Backend {
    /// An SQLite database file or in-memory database.
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    /// A PostgreSQL database: the pool, and the URL that its connections
    /// open, for an import that reads on a second connection.
    Postgres(Pool<ConnectionManager<PgConnection>>, Arc<str>),
}

/// Largest page cache, in KiB, that `PRAGMA cache_size` takes as a negative
/// 32-bit number.
const SQLITE_MAX_CACHE_KIB: u32 = 2_147_483_647;

/// Settings applied to every new SQLite connection of a pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqliteSettings {
    /// How long a statement waits for another connection's lock (`PRAGMA busy_timeout`).
    pub(crate) busy_timeout: Duration,
    /// Page cache size in KiB (`PRAGMA cache_size`), from 1 to [`SQLITE_MAX_CACHE_KIB`].
    pub(crate) cache_kib: u32,
}

impl SqliteSettings {
    pub(crate) fn of(options: &StoreOptions) -> Self {
        Self {
            busy_timeout: options.sqlite_busy_timeout,
            // SQLite reads a cache_size beyond the 32-bit range as 0.
            cache_kib: options.sqlite_cache_kib.clamp(1, SQLITE_MAX_CACHE_KIB),
        }
    }

    fn apply(&self, connection: &mut SqliteConnection) -> diesel::QueryResult<()> {
        // busy_timeout comes first so that switching to WAL waits for other
        // connections instead of failing. WAL lets readers run beside one writer.
        // page_size takes effect only before a new database file's first write,
        // so it must precede the switch to WAL. Certificate rows are about
        // 2.5 KB. A 4 KiB page (the default) fits one of them and wastes the
        // rest, while a 16 KiB page fits six.
        // A negative cache_size counts KiB rather than pages.
        connection.batch_execute(&format!(
            "PRAGMA busy_timeout = {};
             PRAGMA page_size = 16384;
             PRAGMA journal_mode = WAL;
             PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -{};",
            self.busy_timeout.as_millis(),
            self.cache_kib
        ))
    }
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSettings {
    fn on_acquire(&self, connection: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        self.apply(connection)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// How often an import that waits for another connection's write lock tries
/// to take it again.
const WRITE_LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(50);

/// Runs `body` in an SQLite write transaction (`BEGIN IMMEDIATE`), waiting
/// as long as another connection holds the write lock.
///
/// Imports call this. Another import holds the lock until it commits, which
/// can take minutes, and a busy timeout of a few seconds would fail the
/// second import although it only had to wait. Once the wait has lasted
/// `busy_timeout`, the import logs a warning that it waits for another writer.
/// Inside the transaction, and after it, the connection waits `busy_timeout`
/// again, as every pooled connection does.
pub(crate) fn write_transaction_after_other_writers<T, E>(
    connection: &mut SqliteConnection,
    busy_timeout: Duration,
    body: impl FnOnce(&mut SqliteConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let started = std::time::Instant::now();
    let mut warned = false;
    connection.on_busy(move |_| {
        if !warned && started.elapsed() >= busy_timeout {
            tracing::warn!(
                "another connection, such as a second divoc-server import, is writing to \
                 the store; this import waits until that write transaction commits"
            );
            warned = true;
        }
        std::thread::sleep(WRITE_LOCK_RETRY_INTERVAL);
        BusyDecision::Retry
    });
    let result = connection.immediate_transaction(|connection| {
        connection.set_busy_timeout(busy_timeout);
        body(connection)
    });
    connection.set_busy_timeout(busy_timeout);
    result
}

/// Opens an SQLite database, applies the migrations and builds the pool.
pub(crate) fn open_sqlite(
    path: &str,
    target: &str,
    options: &StoreOptions,
) -> Result<Backend, StoreError> {
    let settings = SqliteSettings::of(options);
    let memory = is_sqlite_memory(path);
    if !memory {
        // A direct connection reports an open error at once. The pool would retry
        // until its timeout and then report the error less clearly.
        let mut connection =
            SqliteConnection::establish(path).map_err(|error| connection_error(target, error))?;
        settings.apply(&mut connection).map_err(|error| {
            // Switching to WAL needs a moment when no other connection has a
            // lock. SQLite returns at once, without waiting for busy_timeout,
            // while an import that uses a rollback journal has the file locked.
            let operation = if crate::error::is_sqlite_locked(&error) {
                "configuring the SQLite connection (another process, such as \
                 `divoc-server import`, holds the database until it commits; \
                 try again when it has finished)"
            } else {
                "configuring the SQLite connection"
            };
            StoreError::from_query(target, operation, error)
        })?;
        migrate_sqlite(&mut connection, target)?;
        check_sqlite_writable(&mut connection, target, &settings)?;
        warn_without_stable_plans(&mut connection);
    }

    // No `SELECT 1` before each checkout: a connection to a file cannot lose
    // its server, and the check cost a statement per lookup.
    // Connections to a file stay open for the pool's life. When the last
    // one closes, SQLite deletes the write-ahead log, and the next one makes
    // a new one, which the health check would take for a replaced file.
    let mut builder = Pool::builder()
        .max_size(options.max_connections.max(1))
        .min_idle(Some(1))
        .idle_timeout(None)
        .max_lifetime(None)
        .test_on_check_out(false)
        .connection_timeout(pool_timeout(options))
        .error_handler(Box::new(PoolErrorLog::new(target, "")))
        .connection_customizer(Box::new(settings));
    if memory {
        // Each connection to `:memory:` has its own database, so the pool keeps
        // exactly one connection for its whole life.
        // NOTE: r2d2 still drops a connection that diesel marks as broken (after a
        // failed transaction rollback), and the in-memory data goes with it.
        builder = builder.max_size(1).idle_timeout(None).max_lifetime(None);
    }
    let pool_path = if memory {
        path.to_owned()
    } else {
        open_existing(path)
    };
    let pool = builder
        .build(ConnectionManager::new(pool_path))
        .map_err(|error| pool_error(target, &error))?;

    if memory {
        let mut connection = pool.get().map_err(|error| pool_error(target, &error))?;
        migrate_sqlite(&mut connection, target)?;
    }
    Ok(Backend::Sqlite(pool))
}

/// Returns the SQLite URI that opens the file at `path` without creating it,
/// for the pool's connections once the store has created and migrated the
/// file. A new connection after the file was deleted then fails, instead of
/// creating an empty database without tables at the same path. A `file:` URI
/// gets `mode=rw` among its parameters, unless it names a `mode` itself or
/// has a fragment.
fn open_existing(path: &str) -> String {
    if let Some(uri) = path.strip_prefix("file:") {
        if uri.contains('#') {
            return path.to_owned();
        }
        return match uri.split_once('?') {
            Some((_, parameters))
                if parameters
                    .split('&')
                    .any(|parameter| parameter.starts_with("mode=")) =>
            {
                path.to_owned()
            }
            Some(_) => format!("{path}&mode=rw"),
            None => format!("{path}?mode=rw"),
        };
    }
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    let encoded = percent_encoding::utf8_percent_encode(path, KEEP);
    // An absolute path goes after an empty authority, so that a path that
    // starts with `//` is not read as one.
    let authority = if path.starts_with('/') { "//" } else { "" };
    format!("file:{authority}{encoded}?mode=rw")
}

/// One row of `PRAGMA compile_options`.
#[derive(diesel::QueryableByName)]
struct CompileOption {
    #[diesel(sql_type = diesel::sql_types::Text)]
    compile_options: String,
}

/// Returns whether SQLite was built with `SQLITE_ENABLE_QPSG`, the query
/// planner stability guarantee.
///
/// Without it, SQLite 3.54 marks the bound value of a `column = ?` term as
/// one that may change the plan, when it estimates the rows of a loop that
/// does not use the term. diesel clears a cached statement's bindings after
/// each use, which expires such a statement. Each cached statement was then
/// compiled again on every run: about 3.5 % of the server's CPU time for uncached PDFs in a
/// profile. The workspace builds the bundled SQLite with the option
/// (`LIBSQLITE3_FLAGS` in `.cargo/config.toml`).
pub(crate) fn has_stable_plans(connection: &mut SqliteConnection) -> diesel::QueryResult<bool> {
    let options: Vec<CompileOption> =
        diesel::sql_query("PRAGMA compile_options").load(connection)?;
    Ok(options
        .iter()
        .any(|option| option.compile_options == "ENABLE_QPSG"))
}

/// Logs a warning when SQLite lacks the planner option of [`has_stable_plans`].
fn warn_without_stable_plans(connection: &mut SqliteConnection) {
    match has_stable_plans(connection) {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "SQLite was built without SQLITE_ENABLE_QPSG, so every lookup compiles its \
             statement again; build with LIBSQLITE3_FLAGS=-DSQLITE_ENABLE_QPSG \
             (see divoc-store's README)"
        ),
        Err(error) => tracing::warn!(%error, "reading SQLite's compile options failed"),
    }
}

/// Connects to PostgreSQL, applies the migrations and builds the pool.
pub(crate) fn open_postgres(
    url: &str,
    target: &str,
    options: &StoreOptions,
) -> Result<Backend, StoreError> {
    let url = with_connect_timeout(url, options.connection_timeout);
    let mut connection =
        PgConnection::establish(&url).map_err(|error| connection_error(target, error))?;
    migrate_postgres(&mut connection, target)?;
    drop(connection);

    // The pool runs `SELECT 1` on a connection before each checkout. Without
    // the check, HEAD served about a third more requests per second. But diesel
    // does not notice a connection whose server has gone, so the pool would
    // keep handing it out and every lookup on it would fail.
    let pool = Pool::builder()
        .max_size(options.max_connections.max(1))
        .min_idle(Some(1))
        .connection_timeout(pool_timeout(options))
        .error_handler(Box::new(PoolErrorLog::new(target, &url)))
        .build(ConnectionManager::new(url.clone()))
        .map_err(|error| pool_error(target, &error))?;
    Ok(Backend::Postgres(pool, url.into()))
}

/// Maximum wait for a replica connection. A lookup that gets none by then
/// runs on the primary, and the store skips the replica for a few seconds, so
/// a replica that is down delays one lookup in that time by this much.
const REPLICA_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// Builds the pool of a read replica without connecting. Its connections are
/// opened on first use, so that a replica that is down at startup does not
/// keep the service from starting: lookups then run on the primary.
///
/// The pool's own error log is off: r2d2 logs every failed connection attempt,
/// again and again while the replica is down, and the store logs the failed
/// lookups itself, sparingly.
pub(crate) fn open_replica(
    url: &str,
    options: &StoreOptions,
) -> Pool<ConnectionManager<PgConnection>> {
    let timeout = pool_timeout(options).min(REPLICA_CONNECTION_TIMEOUT);
    Pool::builder()
        .max_size(options.max_connections.max(1))
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
        .build_unchecked(ConnectionManager::new(with_connect_timeout(url, timeout)))
}

/// Applies pending migrations to an SQLite database.
///
/// The check for pending migrations only reads, so opening a migrated store
/// does not wait for the write lock. An import holds that lock until it
/// commits, which can take minutes, and servers, `audit` and `print` must
/// open the store meanwhile.
fn migrate_sqlite(connection: &mut SqliteConnection, target: &str) -> Result<(), StoreError> {
    let pending = has_pending_sqlite_migration(connection)
        .map_err(|error| migration_error(target, &*error))?;
    if !pending {
        return Ok(());
    }
    // BEGIN IMMEDIATE takes the write lock first, so that a second process
    // opening the same file waits and then finds the migrations applied.
    // `run_pending_migrations` reads the applied ones again under the lock.
    connection
        .immediate_transaction(|connection| {
            connection.run_pending_migrations(SQLITE_MIGRATIONS)?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .map_err(|error| migration_error(target, &*error))
}

/// Returns whether the database lacks a migration of this version, without
/// writing. diesel's own check first runs `CREATE TABLE IF NOT EXISTS` on its
/// table of applied migrations, so it is called only once that table exists.
fn has_pending_sqlite_migration(
    connection: &mut SqliteConnection,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let tables: i64 = diesel::dsl::select(diesel::dsl::sql::<BigInt>(
        "(SELECT count(*) FROM sqlite_schema \
          WHERE type = 'table' AND name = '__diesel_schema_migrations')",
    ))
    .get_result(connection)?;
    if tables == 0 {
        return Ok(true);
    }
    connection.has_pending_migration(SQLITE_MIGRATIONS)
}

/// Checks that this process may write to the SQLite database, without
/// waiting for the write lock.
///
/// A store whose migrations are applied is opened without a write, and a
/// file that this process may only read would then fail every later write.
/// The check runs a `DELETE` that matches no row. SQLite rejects it at once
/// on a read-only database, before it requests the write lock. With a
/// busy timeout of zero, a lock held by another connection, such as an
/// import's, fails the statement at once with "database is locked", which
/// shows that the file is writable.
fn check_sqlite_writable(
    connection: &mut SqliteConnection,
    target: &str,
    settings: &SqliteSettings,
) -> Result<(), StoreError> {
    connection.set_busy_timeout(Duration::ZERO);
    let result = connection.batch_execute("DELETE FROM rate_limits WHERE 0");
    connection.set_busy_timeout(settings.busy_timeout);
    match result {
        Ok(()) => Ok(()),
        Err(error) if crate::error::is_sqlite_locked(&error) => Ok(()),
        Err(error) => Err(StoreError::from_query(
            target,
            "checking that the SQLite database can be written (the file and its \
             folder must be writable for this process, and the URL must not open it \
             read-only)",
            error,
        )),
    }
}

fn migrate_postgres(connection: &mut PgConnection, target: &str) -> Result<(), StoreError> {
    connection
        .transaction(|connection| {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(connection)?;
            // Set after the advisory lock, which a second server waits for as
            // long as the first one takes to migrate.
            connection.batch_execute(&format!(
                "SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'"
            ))?;
            if connection.has_pending_migration(POSTGRES_MIGRATIONS)? {
                lock_tables_for_migration(connection)?;
            }
            connection.run_pending_migrations(POSTGRES_MIGRATIONS)?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .map_err(|error| {
            let mut reason = error.to_string();
            if error
                .downcast_ref::<diesel::result::Error>()
                .is_some_and(is_lock_wait_timeout)
            {
                reason.push_str(&format!(
                    ": another transaction, such as an import, holds a table that the schema \
                     change needs for more than {MIGRATION_LOCK_TIMEOUT} (pg_stat_activity and \
                     pg_locks show which); start again when it has ended"
                ));
            }
            StoreError::Migration {
                target: target.to_owned(),
                reason,
            }
        })
}

/// The store's PostgreSQL tables, which [`lock_tables_for_migration`] locks.
/// A migration that adds a table adds it here too; a test compares this list
/// with the tables that the migrations create.
pub(crate) const STORE_TABLES: &[&str] = &[
    "audit_events",
    "certificate_mobiles",
    "certificates",
    "email_outbox",
    "otp_challenges",
    "rate_limits",
    "revocations",
    "share_links",
];

/// Locks the store's tables that exist before pending migrations run, waiting
/// [`MIGRATION_LOCK_TIMEOUT`] at most for all of them together. Other tables
/// of the schema, such as another application's, are left alone.
///
/// While a schema change waits for a lock, PostgreSQL queues every later
/// reader of that table behind it. Taking all locks first, under one timeout,
/// means that a migration either holds every table before it changes any, or
/// fails within that time without having changed one. (`lock_timeout` would
/// bound each lock alone, so a migration that needs eight tables could wait
/// eight times as long.)
fn lock_tables_for_migration(connection: &mut PgConnection) -> QueryResult<()> {
    #[derive(diesel::QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT format('%I', tablename) AS name FROM pg_tables \
         WHERE schemaname = current_schema() AND tablename = ANY($1) \
         ORDER BY tablename",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(STORE_TABLES)
    .load(connection)?;
    if tables.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = tables.iter().map(|table| table.name.as_str()).collect();
    connection.batch_execute(&format!(
        "SET LOCAL statement_timeout = '{MIGRATION_LOCK_TIMEOUT}'; \
         LOCK TABLE {} IN ACCESS EXCLUSIVE MODE; \
         SET LOCAL statement_timeout TO DEFAULT",
        names.join(", ")
    ))
}

/// Returns whether PostgreSQL stopped waiting for a lock: SQLSTATE 55P03
/// after `lock_timeout`, 57014 after `statement_timeout`.
fn is_lock_wait_timeout(error: &diesel::result::Error) -> bool {
    use diesel::pg::sql_state::{LOCK_NOT_AVAILABLE, QUERY_CANCELED};
    matches!(sqlstate(error), Some(LOCK_NOT_AVAILABLE | QUERY_CANCELED))
}

/// Returns the SQLSTATE of an error that the server reported.
fn sqlstate(error: &diesel::result::Error) -> Option<diesel::result::SqlState> {
    match error {
        diesel::result::Error::DatabaseError(_, information) => information.sqlstate(),
        _ => None,
    }
}

fn migration_error(target: &str, error: &(dyn std::error::Error + Send + Sync)) -> StoreError {
    StoreError::Migration {
        target: target.to_owned(),
        reason: error.to_string(),
    }
}

/// Turns a failed connection attempt into an error that keeps the driver's message.
fn connection_error(target: &str, error: ConnectionError) -> StoreError {
    match error {
        ConnectionError::InvalidConnectionUrl(reason) => StoreError::InvalidUrl {
            url: target.to_owned(),
            reason,
        },
        ConnectionError::InvalidCString(_) => StoreError::InvalidUrl {
            url: target.to_owned(),
            reason: "the URL contains a NUL byte".to_owned(),
        },
        ConnectionError::BadConnection(reason) => StoreError::Unavailable {
            target: target.to_owned(),
            reason: reason.trim_end().to_owned(),
        },
        other => StoreError::Unavailable {
            target: target.to_owned(),
            reason: other.to_string().trim_end().to_owned(),
        },
    }
}

/// Runs `query` on a PostgreSQL connection, and once more when the server
/// rejected one of the connection's prepared statements because a schema
/// change altered its result columns.
///
/// diesel prepares each statement once per connection and keeps it. When a
/// migration then changes a column that a statement returns, such as its
/// collation, PostgreSQL fails every later run of that statement with "cached
/// plan must not change result type" (SQLSTATE 0A000) until the connection
/// closes. A running server would then fail its lookups on every pooled
/// connection after a server of a later version migrated the database. Here
/// the connection drops its statements, prepares the query again and runs it
/// once more. Another error with that SQLSTATE is returned after the second
/// try.
///
/// NOTE: imports take their connection from the pool directly and are not
/// retried. An import that runs across a schema change fails and can be
/// started again.
pub(crate) fn replan_on_schema_change<T>(
    connection: &mut PgConnection,
    mut query: impl FnMut(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    match query(connection) {
        Err(error) if is_stale_statement(&error) => {
            tracing::warn!(
                %error,
                "a schema change altered the result of a prepared statement; \
                 the connection prepares its statements again"
            );
            forget_prepared_statements(connection)?;
            query(connection)
        }
        result => result,
    }
}

/// Returns whether `error` has SQLSTATE 0A000 (feature not supported), which
/// PostgreSQL returns for a prepared statement whose result columns changed.
/// The code is checked, not the message, because the message is translated
/// into the server's language.
fn is_stale_statement(error: &diesel::result::Error) -> bool {
    sqlstate(error) == Some(diesel::pg::sql_state::FEATURE_NOT_SUPPORTED)
}

/// Drops diesel's cache of prepared statements and the statements on the
/// server, so that the next queries are prepared for the current schema.
fn forget_prepared_statements(connection: &mut PgConnection) -> QueryResult<()> {
    // A new cache starts empty. diesel numbers statements per connection, not
    // per cache, so new names do not collide with the deallocated ones.
    connection.set_prepared_statement_cache_size(CacheSize::Disabled);
    connection.set_prepared_statement_cache_size(CacheSize::Unbounded);
    connection.batch_execute("DEALLOCATE ALL")
}

/// Turns a pool error, such as a timeout while waiting for a connection, into
/// [`StoreError::Unavailable`].
pub(crate) fn pool_error(target: &str, error: &diesel::r2d2::PoolError) -> StoreError {
    StoreError::Unavailable {
        target: target.to_owned(),
        reason: error.to_string().trim_end().to_owned(),
    }
}

/// r2d2 rejects a zero timeout, so the shortest one is 1 ms.
fn pool_timeout(options: &StoreOptions) -> Duration {
    options.connection_timeout.max(Duration::from_millis(1))
}

/// Adds libpq's `connect_timeout` to a URL that does not set it, so that an
/// unreachable host fails after the configured time instead of the operating
/// system's TCP timeout.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let whole_seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={}", whole_seconds.max(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite reads a `cache_size` beyond the 32-bit range as 0.
    #[test]
    fn sqlite_cache_size_is_clamped() {
        let settings = |kib| {
            SqliteSettings::of(&StoreOptions {
                sqlite_cache_kib: kib,
                ..StoreOptions::default()
            })
            .cache_kib
        };
        assert_eq!(settings(0), 1);
        assert_eq!(settings(1024), 1024);
        assert_eq!(settings(u32::MAX), 2_147_483_647);
    }

    /// The workspace's `.cargo/config.toml` builds SQLite with
    /// `SQLITE_ENABLE_QPSG`. Without it, every lookup compiles its statement again.
    #[test]
    fn sqlite_plans_are_stable() {
        let mut connection = SqliteConnection::establish(":memory:").unwrap();
        assert!(has_stable_plans(&mut connection).unwrap());
    }

    #[test]
    fn pool_opens_existing_file_only() {
        assert_eq!(
            open_existing("/srv/divoc/store.sqlite"),
            "file:///srv/divoc/store.sqlite?mode=rw"
        );
        assert_eq!(
            open_existing("data/my store?#%.sqlite"),
            "file:data/my%20store%3F%23%25.sqlite?mode=rw"
        );
        assert_eq!(open_existing("//x/y.db"), "file:////x/y.db?mode=rw");
        assert_eq!(
            open_existing("file:certs.db?mode=rwc"),
            "file:certs.db?mode=rwc"
        );
        assert_eq!(open_existing("file:certs.db"), "file:certs.db?mode=rw");
        assert_eq!(
            open_existing("file:certs.db?cache=private"),
            "file:certs.db?cache=private&mode=rw"
        );

        // The URI opens the file that the path names, with a space, `?`, `#`
        // and `%` in its name, and never creates one.
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("my store?#%.sqlite");
        let path = path.to_str().unwrap();
        assert!(SqliteConnection::establish(&open_existing(path)).is_err());
        assert!(!std::path::Path::new(path).exists());
        let mut created = SqliteConnection::establish(path).unwrap();
        created.batch_execute("CREATE TABLE marker (x)").unwrap();
        let mut opened = SqliteConnection::establish(&open_existing(path)).unwrap();
        opened
            .batch_execute("INSERT INTO marker VALUES (1)")
            .unwrap();
    }

    #[test]
    fn connect_timeout_is_added_once() {
        let five = Duration::from_secs(5);
        assert_eq!(
            with_connect_timeout("postgres://divoc@127.0.0.1/divoc", five),
            "postgres://divoc@127.0.0.1/divoc?connect_timeout=5"
        );
        assert_eq!(
            with_connect_timeout(
                "postgres://divoc@127.0.0.1/divoc?sslmode=disable",
                Duration::from_millis(1500)
            ),
            "postgres://divoc@127.0.0.1/divoc?sslmode=disable&connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout(
                "postgres://divoc@127.0.0.1/divoc",
                Duration::from_millis(10)
            ),
            "postgres://divoc@127.0.0.1/divoc?connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://divoc@127.0.0.1/divoc?connect_timeout=30", five),
            "postgres://divoc@127.0.0.1/divoc?connect_timeout=30"
        );
    }
}
