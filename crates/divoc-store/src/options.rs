//! Pool and timeout settings.

use std::time::Duration;

/// Connection pool and timeout settings of a [`Store`](crate::Store).
///
/// The defaults suit a web server with a few worker threads:
///
/// | field | default |
/// | --- | --- |
/// | `max_connections` | 10 |
/// | `connection_timeout` | 5 s |
/// | `sqlite_busy_timeout` | 5 s |
/// | `sqlite_cache_kib` | 1,024 KiB |
/// | `replica_url` | none |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Maximum number of pooled connections; 0 is read as 1. An in-memory
    /// SQLite store always uses one connection, because every SQLite connection to
    /// `:memory:` opens a separate, empty database.
    pub max_connections: u32,
    /// How long a request waits for a free pooled connection before the store
    /// reports [`StoreError::Unavailable`](crate::StoreError::Unavailable); zero
    /// is read as 1 ms. For PostgreSQL it is also passed to libpq as
    /// `connect_timeout` unless the URL sets one, rounded up to whole seconds and
    /// at least 2, because libpq 15 reads smaller values as 2.
    pub connection_timeout: Duration,
    /// How long an SQLite statement waits for another connection's write lock
    /// (`PRAGMA busy_timeout`). Ignored for PostgreSQL.
    pub sqlite_busy_timeout: Duration,
    /// Page cache of each pooled SQLite connection, in KiB (`PRAGMA
    /// cache_size`); 0 is read as 1 and values above 2,147,483,647 as that. Every connection keeps its own cache, so
    /// the pool holds up to `max_connections` times this. SQLite's own default
    /// is 2,000 KiB. Pages that miss the cache are read again from the
    /// operating system's file cache, which costs a few microseconds each.
    /// Ignored for PostgreSQL.
    pub sqlite_cache_kib: u32,
    /// A PostgreSQL read replica (hot standby) of the store, as a
    /// `postgres://` URL. Certificate lookups go to it; imports and everything
    /// else that writes or must read its own writes go to the store's URL.
    /// A lookup that fails on the replica runs again on the primary. Only
    /// for a PostgreSQL store; its pool has `max_connections` connections too.
    pub replica_url: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            connection_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_cache_kib: 1024,
            replica_url: None,
        }
    }
}
