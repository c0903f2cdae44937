//! The audit trail: one row per certificate served.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;

use crate::schema::audit_events;
use crate::store::with_connection;
use crate::{Store, StoreError};

/// One certificate served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it was served; stored with microsecond precision.
    pub served_at: DateTime<Utc>,
    /// `certificateId` of the certificate served.
    pub certificate_id: String,
    /// Route pattern of the request, such as `/certificate/api/certificatePDF/{beneficiaryId}`.
    pub route: String,
    /// The token's subject (`sub`), if it had one. Never the token itself.
    pub subject: Option<String>,
    /// The access the token had, such as `distribution` or `citizen`.
    pub role: String,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
struct NewAuditRow<'a> {
    served_at: NaiveDateTime,
    certificate_id: &'a str,
    route: &'a str,
    subject: Option<&'a str>,
    role: &'a str,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    served_at: NaiveDateTime,
    certificate_id: String,
    route: String,
    subject: Option<String>,
    role: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        AuditEvent {
            served_at: row.served_at.and_utc(),
            certificate_id: row.certificate_id,
            route: row.route,
            subject: row.subject,
            role: row.role,
        }
    }
}

/// Which audit rows to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditQuery<'a> {
    /// Every time one certificate was served.
    Certificate(&'a str),
    /// Everything served to one token subject.
    Subject(&'a str),
}

impl Store {
    /// Records that a certificate was served.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use divoc_store::{AuditEvent, AuditQuery, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let event = AuditEvent {
    ///     served_at: Utc.with_ymd_and_hms(2022, 1, 5, 17, 43, 34).unwrap(),
    ///     certificate_id: "100000001".to_owned(),
    ///     route: "/certificate/api/certificatePDF/{beneficiaryId}".to_owned(),
    ///     subject: Some("operator-7".to_owned()),
    ///     role: "distribution".to_owned(),
    /// };
    /// store.record_served(&event)?;
    ///
    /// assert_eq!(store.audit_events(AuditQuery::Certificate("100000001"), 10)?, [event.clone()]);
    /// assert_eq!(store.audit_events(AuditQuery::Subject("operator-7"), 10)?, [event]);
    /// assert!(store.audit_events(AuditQuery::Subject("operator-8"), 10)?.is_empty());
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn record_served(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.record_served_batch(std::slice::from_ref(event))
    }

    /// Writes several audit rows with one multi-row INSERT, which costs about
    /// as much as one row: a server that serves thousands of certificates a
    /// second writes them in batches.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`]; then no row is written.
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{AuditEvent, AuditQuery, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let start = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// let events: Vec<AuditEvent> = (0..3)
    ///     .map(|minute| AuditEvent {
    ///         served_at: start + TimeDelta::minutes(minute),
    ///         certificate_id: "100000001".to_owned(),
    ///         route: "/certificate/api/certificatePDF/{beneficiaryId}".to_owned(),
    ///         subject: None,
    ///         role: "distribution".to_owned(),
    ///     })
    ///     .collect();
    /// store.record_served_batch(&events)?;
    ///
    /// // The newest two, oldest first.
    /// let read = store.audit_events(AuditQuery::Certificate("100000001"), 2)?;
    /// assert_eq!(read, events[1..]);
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn record_served_batch(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<NewAuditRow<'_>> = events
            .iter()
            .map(|event| NewAuditRow {
                served_at: truncate_to_micros(event.served_at),
                certificate_id: &event.certificate_id,
                route: &event.route,
                subject: event.subject.as_deref(),
                role: &event.role,
            })
            .collect();
        with_connection!(self, |connection| {
            diesel::insert_into(audit_events::table)
                .values(&rows)
                .execute(connection)
        })
        .map(|_| ())
        .map_err(|error| self.query_error("audit record", error))
    }

    /// Returns audit rows, oldest first, at most `limit` of them (the newest ones).
    ///
    /// See the examples of [`Store::record_served`] and [`Store::record_served_batch`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub fn audit_events(
        &self,
        query: AuditQuery<'_>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut rows: Vec<AuditRow> = with_connection!(self, |connection| {
            let select = audit_events::table
                .select(AuditRow::as_select())
                .order((audit_events::served_at.desc(), audit_events::id.desc()))
                .limit(limit.max(0));
            match query {
                AuditQuery::Certificate(id) => select
                    .filter(audit_events::certificate_id.eq(id))
                    .load(connection),
                AuditQuery::Subject(subject) => select
                    .filter(audit_events::subject.eq(subject))
                    .load(connection),
            }
        })
        .map_err(|error| self.query_error("audit lookup", error))?;
        rows.reverse();
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }
}

fn truncate_to_micros(instant: DateTime<Utc>) -> NaiveDateTime {
    let naive = instant.naive_utc();
    let micros = naive.and_utc().timestamp_subsec_micros();
    naive.with_nanosecond(micros * 1000).unwrap_or(naive)
}
