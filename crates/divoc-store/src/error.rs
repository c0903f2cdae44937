//! The error type of this crate.

use divoc_model::ModelError;

/// Errors from opening, reading and writing a store.
///
/// URLs in these errors have their passwords replaced by `***`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or did not hand out a connection in time.
    ///
    /// Covers refused or failed connections (with the driver's message), pool
    /// timeouts, dropped connections and SQLite's "database is locked" after the
    /// busy timeout. A server should respond with 503 and let the client retry.
    #[error("store {target} is unavailable: {reason}")]
    Unavailable {
        /// The store URL, password redacted.
        target: String,
        /// The driver's or the pool's message.
        reason: String,
    },
    /// A statement failed for a reason other than an unavailable database.
    #[error("{operation} failed: {source}")]
    Query {
        /// The operation that failed, such as `certificate lookup by mobile`.
        operation: &'static str,
        /// The error diesel returned.
        #[source]
        source: diesel::result::Error,
    },
    /// Creating or updating the tables failed when the store was opened.
    #[error("migrating store {target} failed: {reason}")]
    Migration {
        /// The store URL, password redacted.
        target: String,
        /// The failing migration's error.
        reason: String,
    },
    /// The store URL has an unsupported scheme or is malformed.
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// Description of the problem and of the accepted forms.
        reason: String,
    },
    /// An entry of an import was invalid, so nothing of the import was written.
    ///
    /// The error names the entry by its position in the file and its `certificateId`.
    #[error("import rejected, nothing was written: {0}")]
    Import(#[from] ModelError),
    /// A first load found certificates, revocations or mobile numbers stored,
    /// so nothing was written.
    #[error(
        "store {target} is not empty: a first load writes only into a store without \
         certificates, revocations or mobile numbers; nothing was written"
    )]
    NotEmpty {
        /// The store URL, password redacted.
        target: String,
    },
    /// A stored row cannot be turned back into a record.
    #[error("stored certificate {certificate_id} is corrupt: column `{column}`: {reason}")]
    Corrupt {
        /// `certificateId` of the row.
        certificate_id: String,
        /// The column that could not be read.
        column: &'static str,
        /// The parse error.
        reason: String,
    },
}

impl StoreError {
    /// Returns `true` when the database could not be reached or was too busy,
    /// which a server reports as 503 Service Unavailable.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::StoreError;
    ///
    /// let busy = StoreError::Unavailable {
    ///     target: "sqlite::memory:".to_owned(),
    ///     reason: "no connection was free within 5 s".to_owned(),
    /// };
    /// assert!(busy.is_unavailable());
    /// let invalid = StoreError::InvalidUrl {
    ///     url: "mysql://localhost/divoc".to_owned(),
    ///     reason: "unsupported scheme".to_owned(),
    /// };
    /// assert!(!invalid.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Classifies a diesel error from a statement, so that lost connections and
    /// SQLite lock timeouts become [`StoreError::Unavailable`].
    pub(crate) fn from_query(
        target: &str,
        operation: &'static str,
        source: diesel::result::Error,
    ) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};

        let unavailable = match &source {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => true,
            _ => is_sqlite_locked(&source),
        };
        if unavailable {
            Self::Unavailable {
                target: target.to_owned(),
                reason: format!("{operation} failed: {source}"),
            }
        } else {
            Self::Query { operation, source }
        }
    }
}

/// Returns `true` for SQLite's SQLITE_BUSY and SQLITE_LOCKED errors, which it
/// reports once the busy timeout has run out, or at once where it does not
/// wait. diesel passes on no error code for them, only the message.
pub(crate) fn is_sqlite_locked(error: &diesel::result::Error) -> bool {
    match error {
        diesel::result::Error::DatabaseError(_, information) => {
            let message = information.message();
            message.starts_with("database is locked")
                || message.starts_with("database table is locked")
        }
        _ => false,
    }
}
