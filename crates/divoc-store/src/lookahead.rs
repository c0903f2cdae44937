//! Reading the stored certificates of the next batch on a second PostgreSQL
//! connection while the import's own connection writes the current one.
//!
//! An import into a filled store reads the stored row of every certificate id
//! before it writes, to tell new rows from changed ones. On one connection the
//! server does that read and the `COPY` of new rows one after the other, in one
//! server process. With this reader, the read of batch `n + 1` runs in a second
//! server process during the write of batch `n`.
//!
//! The reader sees what was committed before the import, never the import's
//! own rows. That is all it needs: a certificate id occurs once in a streamed
//! import, and the import's table lock keeps every other writer out until the
//! commit, so what was committed cannot change in between.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, QueryResult};

use crate::rows::StoredCertificate;
use crate::schema::certificates;

/// Batches whose ids may wait for the reader. The import requests one batch ahead.
const QUEUED_BATCHES: usize = 2;

/// How long a query of the reader waits for a lock before it fails. The
/// reader keeps its table lock from the start (see [`begin_reading`]), so
/// only an index lock could make it wait. The limit turns such a wait into an
/// error instead of a stalled import.
const READER_LOCK_TIMEOUT: &str = "10s";

/// The import's end of the reading thread.
pub(crate) struct StoredCertificateReader {
    requests: mpsc::SyncSender<Vec<String>>,
    replies: mpsc::Receiver<QueryResult<Vec<StoredCertificate>>>,
}

impl StoredCertificateReader {
    /// Opens a second connection with `url`, locks `certificates` there for
    /// reading, and starts the reading thread in `scope`. Call it after the
    /// import has locked its tables, so that the reader's snapshot follows
    /// every write committed before the import.
    ///
    /// The lock is taken here, before the import reads its first entry, and
    /// without waiting. A reader that took it only with its first query could
    /// queue behind a session that waits for ACCESS EXCLUSIVE, such as a
    /// `--first-load` import. That session waits for this import, which would
    /// wait for its reader until `READER_LOCK_TIMEOUT` failed the import.
    ///
    /// Returns `None`, after a log line, when the connection, the lock or the
    /// thread cannot be had. The import then reads on its own connection.
    pub(crate) fn start<'scope>(
        scope: &'scope thread::Scope<'scope, '_>,
        url: &str,
    ) -> Option<Self> {
        let mut connection = match PgConnection::establish(url) {
            Ok(connection) => connection,
            Err(error) => {
                tracing::info!(%error, "opening a second connection for reading stored rows failed; the import reads them on its own connection");
                return None;
            }
        };
        if let Err(error) = begin_reading(&mut connection) {
            tracing::info!(%error, "locking certificates on the second connection failed; the import reads the stored rows on its own connection");
            return None;
        }
        let (requests, pending) = mpsc::sync_channel::<Vec<String>>(QUEUED_BATCHES);
        let (answer, replies) = mpsc::sync_channel(QUEUED_BATCHES);
        let started = thread::Builder::new()
            .name("import-read".to_owned())
            .spawn_scoped(scope, move || {
                read_stored_certificates(&mut connection, &pending, &answer);
            });
        match started {
            Ok(_) => Some(Self { requests, replies }),
            Err(error) => {
                tracing::info!(%error, "starting the thread for reading stored rows failed; the import reads them on its own connection");
                None
            }
        }
    }

    /// Requests the stored rows of `ids`. Replies come in the order of the
    /// requests. When the thread has stopped, [`Self::receive`] reports it.
    pub(crate) fn request(&self, ids: Vec<String>) {
        let _ = self.requests.send(ids);
    }

    /// Waits for the reply to the oldest request and returns the stored rows by
    /// certificate id.
    pub(crate) fn receive(&self) -> QueryResult<HashMap<String, StoredCertificate>> {
        let rows = self.replies.recv().map_err(|_| reader_gone())??;
        Ok(rows
            .into_iter()
            .map(|row| (row.key().to_owned(), row))
            .collect())
    }
}

/// Begins the reader's read-only transaction and takes ACCESS SHARE on
/// `certificates` without waiting, so that no later query of the reader waits
/// for the table. The snapshot is taken by the first query.
fn begin_reading(connection: &mut PgConnection) -> QueryResult<()> {
    connection.batch_execute(&format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
         SET LOCAL lock_timeout = '{READER_LOCK_TIMEOUT}'; \
         SET LOCAL enable_seqscan = off; SET LOCAL jit = off; \
         LOCK TABLE certificates IN ACCESS SHARE MODE NOWAIT"
    ))
}

/// Replies to each request with the stored rows of its ids, in the
/// transaction that [`begin_reading`] began, until the import drops its end
/// of the channels.
fn read_stored_certificates(
    connection: &mut PgConnection,
    requests: &mpsc::Receiver<Vec<String>>,
    replies: &mpsc::SyncSender<QueryResult<Vec<StoredCertificate>>>,
) {
    for ids in requests {
        let rows = certificates::table
            .filter(certificates::certificate_id.eq_any(&ids))
            .select(StoredCertificate::as_select())
            .load(connection);
        let failed = rows.is_err();
        if replies.send(rows).is_err() || failed {
            return;
        }
    }
}

fn reader_gone() -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        "the thread that reads stored certificates has stopped".into(),
    )
}
