//! The email outbox: emails are queued here and a worker sends them, so a
//! restart loses none.
//!
//! A worker claims a due row by setting it to `sending` and moving its
//! `next_attempt_at` forward by a lease. A row whose worker died while sending
//! becomes due again when the lease lapses.
//! NOTE: if the worker died after the SMTP server accepted the email, the
//! email is sent a second time. Rows are never deleted: there is no purge of
//! sent and failed emails yet. On PostgreSQL the claim skips rows
//! that another process has locked (`FOR UPDATE SKIP LOCKED`), so several
//! processes never claim the same row. SQLite has one writer at a time, which
//! gives the same guarantee.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Timestamp;

use crate::backend::Backend;
use crate::otp::to_naive_micros;
use crate::schema::email_outbox;
use crate::store::with_connection;
use crate::{Store, StoreError};

/// Delivery state of a queued email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailStatus {
    /// Waiting for its next attempt.
    Queued,
    /// Claimed by a worker.
    Sending,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up after the last attempt or a permanent error.
    Failed,
}

impl EmailStatus {
    /// Returns the name stored in the `status` column.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::EmailStatus;
    ///
    /// assert_eq!(EmailStatus::Sending.as_str(), "sending");
    /// assert_eq!(EmailStatus::Failed.to_string(), "failed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Queued => "queued",
            EmailStatus::Sending => "sending",
            EmailStatus::Sent => "sent",
            EmailStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(EmailStatus::Queued),
            "sending" => Some(EmailStatus::Sending),
            "sent" => Some(EmailStatus::Sent),
            "failed" => Some(EmailStatus::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for EmailStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An email to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail<'a> {
    /// Public id of the email.
    pub id: &'a str,
    /// `certificateId` of the certificate to attach.
    pub certificate_id: &'a str,
    /// Recipient address.
    pub recipient: &'a str,
    /// Language of the subject and body.
    pub language: &'a str,
    /// Password rule of the attachment, if protected.
    pub protect: Option<&'a str>,
    /// Owner key of the requester, which may read the status.
    pub requester: &'a str,
    /// Request time. The email is due at once.
    pub created_at: DateTime<Utc>,
    /// For an email that a citizen requests, the citizen's mobile number:
    /// the attached PDF then shows only the doses registered to it.
    pub scope_mobile: Option<&'a str>,
}

/// A row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEmail {
    /// Public id of the email.
    pub id: String,
    /// `certificateId` of the certificate to attach.
    pub certificate_id: String,
    /// Recipient address.
    pub recipient: String,
    /// Language of the subject and body.
    pub language: String,
    /// Password rule of the attachment, if protected.
    pub protect: Option<String>,
    /// Owner key of the requester, which may read the status.
    pub requester: String,
    /// Delivery state.
    pub status: EmailStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// When a queued row is due, or when the claim of a sending row lapses.
    pub next_attempt_at: DateTime<Utc>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// Request time.
    pub created_at: DateTime<Utc>,
    /// Time of the last change.
    pub updated_at: DateTime<Utc>,
    /// The mobile number whose doses the attached PDF shows, for a
    /// citizen's email; `None` for every dose of the beneficiary.
    pub scope_mobile: Option<String>,
}

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = email_outbox)]
struct OutboxRow {
    id: String,
    certificate_id: String,
    recipient: String,
    language: String,
    protect: Option<String>,
    requester: String,
    status: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    scope_mobile: Option<String>,
}

impl OutboxRow {
    fn into_email(self) -> Result<OutboxEmail, StoreError> {
        let status = EmailStatus::parse(&self.status).ok_or_else(|| StoreError::Corrupt {
            certificate_id: self.certificate_id.clone(),
            column: "email_outbox.status",
            reason: format!("unknown status {:?}", self.status),
        })?;
        Ok(OutboxEmail {
            id: self.id,
            certificate_id: self.certificate_id,
            recipient: self.recipient,
            language: self.language,
            protect: self.protect,
            requester: self.requester,
            status,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: self.next_attempt_at.and_utc(),
            last_error: self.last_error,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
            scope_mobile: self.scope_mobile,
        })
    }
}

/// Columns returned by the claim statements, in the order of [`OutboxRow`].
const RETURNED_COLUMNS: &str = "id, certificate_id, recipient, language, protect, requester, \
     status, attempts, next_attempt_at, last_error, created_at, updated_at, scope_mobile";

impl Store {
    /// Queues an email, due at its creation time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{EmailStatus, NewEmail, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let created_at = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// store.enqueue_email(&NewEmail {
    ///     id: "email-1",
    ///     certificate_id: "100000001",
    ///     recipient: "asha@example.org",
    ///     language: "en",
    ///     protect: None,
    ///     requester: "operator-7",
    ///     created_at,
    ///     scope_mobile: None,
    /// })?;
    ///
    /// let email = store.email("email-1")?.unwrap();
    /// assert_eq!(email.status, EmailStatus::Queued);
    /// assert_eq!(email.attempts, 0);
    /// assert_eq!(email.next_attempt_at, created_at);
    /// assert!(store.email("email-2")?.is_none());
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn enqueue_email(&self, email: &NewEmail<'_>) -> Result<(), StoreError> {
        let created_at = to_naive_micros(email.created_at);
        let values = (
            email_outbox::id.eq(email.id),
            email_outbox::certificate_id.eq(email.certificate_id),
            email_outbox::recipient.eq(email.recipient),
            email_outbox::language.eq(email.language),
            email_outbox::protect.eq(email.protect),
            email_outbox::requester.eq(email.requester),
            email_outbox::scope_mobile.eq(email.scope_mobile),
            email_outbox::status.eq(EmailStatus::Queued.as_str()),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(created_at),
            email_outbox::created_at.eq(created_at),
            email_outbox::updated_at.eq(created_at),
        );
        with_connection!(self, |connection| {
            diesel::insert_into(email_outbox::table)
                .values(values)
                .execute(connection)
        })
        .map(|_| ())
        .map_err(|error| self.query_error("email enqueue", error))
    }

    /// Returns the outbox row `id`.
    ///
    /// See the example of [`Store::enqueue_email`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or
    /// [`StoreError::Corrupt`] for an unknown status.
    pub fn email(&self, id: &str) -> Result<Option<OutboxEmail>, StoreError> {
        let row: Option<OutboxRow> = with_connection!(self, |connection| {
            email_outbox::table
                .filter(email_outbox::id.eq(id))
                .select(OutboxRow::as_select())
                .first(connection)
                .optional()
        })
        .map_err(|error| self.query_error("email lookup", error))?;
        row.map(OutboxRow::into_email).transpose()
    }

    /// Claims the email that has been due longest at `now`, if any: sets it to
    /// `sending`, counts an attempt and moves its `next_attempt_at` to
    /// `lease_until`. A queued row and a sending row whose lease lapsed are both due.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or
    /// [`StoreError::Corrupt`] for an unknown status.
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{EmailStatus, NewEmail, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let created_at = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// store.enqueue_email(&NewEmail {
    ///     id: "email-1",
    ///     certificate_id: "100000001",
    ///     recipient: "asha@example.org",
    ///     language: "en",
    ///     protect: None,
    ///     requester: "operator-7",
    ///     created_at,
    ///     scope_mobile: None,
    /// })?;
    ///
    /// let lease_until = created_at + TimeDelta::minutes(5);
    /// let claimed = store.claim_due_email(created_at, lease_until)?.unwrap();
    /// assert_eq!(claimed.id, "email-1");
    /// assert_eq!(claimed.status, EmailStatus::Sending);
    /// assert_eq!(claimed.attempts, 1);
    /// // Nothing else is due while the lease runs.
    /// assert!(store.claim_due_email(created_at + TimeDelta::minutes(1), lease_until)?.is_none());
    ///
    /// // When the lease lapses, for example because the worker died, the email is due again.
    /// let next_lease = lease_until + TimeDelta::minutes(5);
    /// let again = store.claim_due_email(lease_until, next_lease)?.unwrap();
    /// assert_eq!(again.attempts, 2);
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn claim_due_email(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<OutboxEmail>, StoreError> {
        let now = to_naive_micros(now);
        let lease_until = to_naive_micros(lease_until);
        let due = "status IN ('queued', 'sending') AND next_attempt_at <= {now}";
        let row: Option<OutboxRow> = match &self.backend {
            Backend::Sqlite(_) => {
                let sql = format!(
                    "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, \
                     next_attempt_at = ?, updated_at = ? WHERE id = (SELECT id FROM email_outbox \
                     WHERE {} ORDER BY next_attempt_at, id LIMIT 1) RETURNING {RETURNED_COLUMNS}",
                    due.replace("{now}", "?")
                );
                with_connection!(self, |connection| {
                    diesel::sql_query(sql.as_str())
                        .bind::<Timestamp, _>(lease_until)
                        .bind::<Timestamp, _>(now)
                        .bind::<Timestamp, _>(now)
                        .get_result::<OutboxRow>(connection)
                        .optional()
                })
            }
            Backend::Postgres(..) => {
                let sql = format!(
                    "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, \
                     next_attempt_at = $1, updated_at = $2 WHERE id = (SELECT id FROM email_outbox \
                     WHERE {} ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     RETURNING {RETURNED_COLUMNS}",
                    due.replace("{now}", "$2")
                );
                with_connection!(self, |connection| {
                    diesel::sql_query(sql.as_str())
                        .bind::<Timestamp, _>(lease_until)
                        .bind::<Timestamp, _>(now)
                        .get_result::<OutboxRow>(connection)
                        .optional()
                })
            }
        }
        .map_err(|error| self.query_error("email claim", error))?;
        row.map(OutboxRow::into_email).transpose()
    }

    /// Records the end of an attempt on a claimed email: `Sent`, `Queued` again
    /// with a new due time `next_attempt_at`, or `Failed`. `error` is the
    /// attempt's error, kept in `last_error`. `attempt` is the `attempts` count
    /// of the claim. Returns false, and changes nothing, when the row is no
    /// longer `sending` or was claimed again since: an attempt that outlived
    /// its lease must not overwrite the result of the worker that took over.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{EmailStatus, NewEmail, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let created_at = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// store.enqueue_email(&NewEmail {
    ///     id: "email-1",
    ///     certificate_id: "100000001",
    ///     recipient: "asha@example.org",
    ///     language: "en",
    ///     protect: None,
    ///     requester: "operator-7",
    ///     created_at,
    ///     scope_mobile: None,
    /// })?;
    ///
    /// let lease_until = created_at + TimeDelta::minutes(5);
    /// let claimed = store.claim_due_email(created_at, lease_until)?.unwrap();
    /// let retry_at = created_at + TimeDelta::minutes(10);
    /// let error = Some("SMTP server busy");
    /// let finished = store.finish_email_attempt(
    ///     &claimed.id, claimed.attempts, EmailStatus::Queued, created_at, Some(retry_at), error,
    /// )?;
    /// assert!(finished);
    /// let email = store.email("email-1")?.unwrap();
    /// assert_eq!(email.status, EmailStatus::Queued);
    /// assert_eq!(email.next_attempt_at, retry_at);
    /// assert_eq!(email.last_error.as_deref(), error);
    ///
    /// // The row is no longer `sending`, so a second result of the same attempt is ignored.
    /// let finished = store.finish_email_attempt(
    ///     &claimed.id, claimed.attempts, EmailStatus::Sent, created_at, None, None,
    /// )?;
    /// assert!(!finished);
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn finish_email_attempt(
        &self,
        id: &str,
        attempt: u32,
        status: EmailStatus,
        now: DateTime<Utc>,
        next_attempt_at: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = to_naive_micros(now);
        let next = next_attempt_at.map_or(now, to_naive_micros);
        // A count beyond the column's range matches no claim.
        let Ok(attempt) = i32::try_from(attempt) else {
            return Ok(false);
        };
        let changed = with_connection!(self, |connection| {
            diesel::update(
                email_outbox::table
                    .filter(email_outbox::id.eq(id))
                    .filter(email_outbox::status.eq(EmailStatus::Sending.as_str()))
                    .filter(email_outbox::attempts.eq(attempt)),
            )
            .set((
                email_outbox::status.eq(status.as_str()),
                email_outbox::next_attempt_at.eq(next),
                email_outbox::updated_at.eq(now),
                email_outbox::last_error.eq(error),
            ))
            .execute(connection)
        })
        .map_err(|error| self.query_error("email attempt result", error))?;
        Ok(changed == 1)
    }
}
