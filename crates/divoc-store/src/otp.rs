//! State of the built-in citizen login: one-time-password challenges and
//! fixed-window rate-limit counters.
//!
//! Every method that changes a count, an attempt or a challenge is one
//! statement, so several server processes that share one database see
//! consistent counts without a lock of their own.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::dsl::{case_when, exists};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Timestamp};

use crate::schema::{certificates, otp_challenges, rate_limits};
use crate::store::{mobile_beneficiaries, not_revoked, with_connection};
use crate::{Store, StoreError};

/// Deletes the buckets named `prefix…` whose window ended by `now`, on
/// either backend's connection. `prefix` is matched with `LIKE`, its
/// wildcards escaped.
macro_rules! delete_ended_buckets {
    ($connection:ident, $prefix:expr, $now:expr, $window:expr) => {{
        let cutoff = to_naive_micros(window_cutoff($now, $window));
        diesel::delete(
            rate_limits::table
                .filter(rate_limits::bucket.like(like_prefix($prefix)).escape('\\'))
                .filter(rate_limits::window_start.le(cutoff)),
        )
        .execute($connection)
    }};
}

/// The live one-time password of a mobile number, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallenge {
    /// Mobile number the code was issued for.
    pub mobile: String,
    /// Keyed hash of the code. The code itself is never stored.
    pub code_hash: String,
    /// When the code was issued, with microsecond precision.
    pub created_at: DateTime<Utc>,
    /// When the code stops being accepted, with microsecond precision.
    pub expires_at: DateTime<Utc>,
    /// Attempts that did not consume the code.
    pub failed_attempts: u32,
    /// Whether the code was used.
    pub consumed: bool,
}

/// State of one rate-limit bucket after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCount {
    /// Hits in the current window, this one included.
    pub hits: u32,
    /// Start of the current window, with microsecond precision.
    pub window_start: DateTime<Utc>,
}

/// Rows removed by [`Store::purge_otp_state`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtpPurge {
    /// Expired challenges.
    pub challenges: usize,
    /// Rate-limit buckets whose window ended.
    pub rate_limits: usize,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = otp_challenges)]
struct ChallengeRow {
    mobile: String,
    code_hash: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    failed_attempts: i32,
    consumed: bool,
}

impl From<ChallengeRow> for OtpChallenge {
    fn from(row: ChallengeRow) -> Self {
        OtpChallenge {
            mobile: row.mobile,
            code_hash: row.code_hash,
            created_at: row.created_at.and_utc(),
            expires_at: row.expires_at.and_utc(),
            failed_attempts: u32::try_from(row.failed_attempts).unwrap_or(0),
            consumed: row.consumed,
        }
    }
}

impl Store {
    /// Stores a new challenge for `mobile`, replacing any earlier one, with no
    /// attempts counted and not consumed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let now = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// let expires = now + TimeDelta::minutes(5);
    /// store.save_otp_challenge("9000000001", "hash-1", now, expires)?;
    /// store.claim_otp_attempt("9000000001", now, 3)?;
    ///
    /// // A new challenge replaces the old one and its attempts.
    /// store.save_otp_challenge("9000000001", "hash-2", now, expires)?;
    /// let challenge = store.otp_challenge("9000000001")?.unwrap();
    /// assert_eq!(challenge.code_hash, "hash-2");
    /// assert_eq!(challenge.expires_at, expires);
    /// assert_eq!(challenge.failed_attempts, 0);
    /// assert!(!challenge.consumed);
    /// assert!(store.otp_challenge("9000000002")?.is_none());
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn save_otp_challenge(
        &self,
        mobile: &str,
        code_hash: &str,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let created_at = to_naive_micros(created_at);
        let expires_at = to_naive_micros(expires_at);
        let values = (
            otp_challenges::mobile.eq(mobile),
            otp_challenges::code_hash.eq(code_hash),
            otp_challenges::created_at.eq(created_at),
            otp_challenges::expires_at.eq(expires_at),
            otp_challenges::failed_attempts.eq(0),
            otp_challenges::consumed.eq(false),
        );
        with_connection!(self, |connection| {
            diesel::insert_into(otp_challenges::table)
                .values(values)
                .on_conflict(otp_challenges::mobile)
                .do_update()
                .set((
                    otp_challenges::code_hash.eq(code_hash),
                    otp_challenges::created_at.eq(created_at),
                    otp_challenges::expires_at.eq(expires_at),
                    otp_challenges::failed_attempts.eq(0),
                    otp_challenges::consumed.eq(false),
                ))
                .execute(connection)
        })
        .map(|_| ())
        .map_err(|error| self.query_error("one-time password save", error))
    }

    /// Returns the stored challenge of `mobile`, whatever its state.
    ///
    /// See the example of [`Store::save_otp_challenge`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub fn otp_challenge(&self, mobile: &str) -> Result<Option<OtpChallenge>, StoreError> {
        let row: Option<ChallengeRow> = with_connection!(self, |connection| {
            otp_challenges::table
                .filter(otp_challenges::mobile.eq(mobile))
                .select(ChallengeRow::as_select())
                .first(connection)
                .optional()
        })
        .map_err(|error| self.query_error("one-time password lookup", error))?;
        Ok(row.map(OtpChallenge::from))
    }

    /// Counts one attempt against the challenge of `mobile` and returns its code
    /// hash, or `None` when there is no challenge or it is consumed, expired at
    /// `now`, or has had `max_attempts` attempts already.
    ///
    /// The attempt is counted before the caller compares codes, so concurrent
    /// guesses never exceed `max_attempts` in total. It stays counted as a failed
    /// attempt unless [`Store::consume_otp_challenge`] succeeds.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let now = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// store.save_otp_challenge("9000000001", "hash-1", now, now + TimeDelta::minutes(5))?;
    ///
    /// // A wrong code: the caller compares and does not consume.
    /// assert_eq!(store.claim_otp_attempt("9000000001", now, 2)?.as_deref(), Some("hash-1"));
    /// // The right code on the second attempt.
    /// let hash = store.claim_otp_attempt("9000000001", now, 2)?.unwrap();
    /// assert!(store.consume_otp_challenge("9000000001", &hash)?);
    /// // A code is consumed once.
    /// assert!(!store.consume_otp_challenge("9000000001", &hash)?);
    /// assert_eq!(store.claim_otp_attempt("9000000001", now, 2)?, None);
    /// assert_eq!(store.otp_challenge("9000000001")?.unwrap().failed_attempts, 1);
    ///
    /// // No attempt counts on an expired challenge.
    /// let expired = now + TimeDelta::minutes(5);
    /// store.save_otp_challenge("9000000002", "hash-2", now, expired)?;
    /// assert_eq!(store.claim_otp_attempt("9000000002", expired, 2)?, None);
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn claim_otp_attempt(
        &self,
        mobile: &str,
        now: DateTime<Utc>,
        max_attempts: u32,
    ) -> Result<Option<String>, StoreError> {
        let now = to_naive_micros(now);
        let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        with_connection!(self, |connection| {
            diesel::update(
                otp_challenges::table
                    .filter(otp_challenges::mobile.eq(mobile))
                    .filter(otp_challenges::consumed.eq(false))
                    .filter(otp_challenges::expires_at.gt(now))
                    .filter(otp_challenges::failed_attempts.lt(max_attempts)),
            )
            .set(otp_challenges::failed_attempts.eq(otp_challenges::failed_attempts + 1))
            .returning(otp_challenges::code_hash)
            .get_result::<String>(connection)
            .optional()
        })
        .map_err(|error| self.query_error("one-time password attempt", error))
    }

    /// Marks the challenge of `mobile` consumed if it still has `code_hash` and
    /// was not consumed, and takes back the attempt that
    /// [`Store::claim_otp_attempt`] counted. Returns `true` when this call
    /// consumed it, so of two concurrent calls only one succeeds.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// See the example of [`Store::claim_otp_attempt`].
    pub fn consume_otp_challenge(&self, mobile: &str, code_hash: &str) -> Result<bool, StoreError> {
        let changed = with_connection!(self, |connection| {
            diesel::update(
                otp_challenges::table
                    .filter(otp_challenges::mobile.eq(mobile))
                    .filter(otp_challenges::code_hash.eq(code_hash))
                    .filter(otp_challenges::consumed.eq(false)),
            )
            .set((
                otp_challenges::consumed.eq(true),
                otp_challenges::failed_attempts.eq(otp_challenges::failed_attempts - 1),
            ))
            .execute(connection)
        })
        .map_err(|error| self.query_error("one-time password use", error))?;
        Ok(changed == 1)
    }

    /// Counts a hit in the fixed-window counter `bucket` and returns the count.
    ///
    /// A window starts at the first hit after the previous one has lasted
    /// `window`, and the count then starts again at 1. The read and the write are
    /// one upsert, so concurrent hits from several processes are all counted.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{RateCount, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let hour = Duration::from_secs(3600);
    /// let start = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// let later = start + TimeDelta::minutes(59);
    ///
    /// assert_eq!(store.count_rate_hit("otp:9000000001", start, hour)?.hits, 1);
    /// assert_eq!(
    ///     store.count_rate_hit("otp:9000000001", later, hour)?,
    ///     RateCount { hits: 2, window_start: start }
    /// );
    /// // The window has lasted an hour, so a new one starts.
    /// let next = start + TimeDelta::hours(1);
    /// assert_eq!(
    ///     store.count_rate_hit("otp:9000000001", next, hour)?,
    ///     RateCount { hits: 1, window_start: next }
    /// );
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn count_rate_hit(
        &self,
        bucket: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<RateCount, StoreError> {
        let now_naive = to_naive_micros(now);
        let cutoff = to_naive_micros(window_cutoff(now, window));
        let (window_start, hits): (NaiveDateTime, i32) = with_connection!(self, |connection| {
            let window_over = rate_limits::window_start.le(cutoff);
            diesel::insert_into(rate_limits::table)
                .values((
                    rate_limits::bucket.eq(bucket),
                    rate_limits::window_start.eq(now_naive),
                    rate_limits::hits.eq(1),
                ))
                .on_conflict(rate_limits::bucket)
                .do_update()
                .set((
                    // Both expressions read the row as it was before this update.
                    rate_limits::hits
                        .eq(case_when::<_, _, Integer>(window_over, 1)
                            .otherwise(rate_limits::hits + 1)),
                    rate_limits::window_start.eq(case_when::<_, _, Timestamp>(
                        window_over,
                        now_naive,
                    )
                    .otherwise(rate_limits::window_start)),
                ))
                .returning((rate_limits::window_start, rate_limits::hits))
                .get_result(connection)
        })
        .map_err(|error| self.query_error("rate-limit count", error))?;
        Ok(RateCount {
            hits: u32::try_from(hits).unwrap_or(0),
            window_start: window_start.and_utc(),
        })
    }

    /// Deletes, in one transaction, challenges that expired at or before `now`
    /// and the rate-limit buckets of the citizen login, whose names start with
    /// `otp:`, once their window of length `window` ended by `now`. Buckets of
    /// other names count against windows of their own, so they are left to
    /// [`Store::purge_rate_limits`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{OtpPurge, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let hour = Duration::from_secs(3600);
    /// let start = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// store.save_otp_challenge("9000000001", "hash-1", start, start + TimeDelta::minutes(5))?;
    /// store.count_rate_hit("otp:9000000001", start, hour)?;
    /// store.count_rate_hit("email:9000000001", start, hour)?;
    ///
    /// let later = start + TimeDelta::hours(2);
    /// assert_eq!(
    ///     store.purge_otp_state(later, hour)?,
    ///     OtpPurge { challenges: 1, rate_limits: 1 }
    /// );
    /// assert!(store.otp_challenge("9000000001")?.is_none());
    /// // The `email:` bucket is left to `purge_rate_limits`.
    /// assert_eq!(store.purge_rate_limits("email:", later, hour)?, 1);
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn purge_otp_state(
        &self,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<OtpPurge, StoreError> {
        let now_naive = to_naive_micros(now);
        with_connection!(self, |connection| {
            connection.transaction(|connection| {
                let challenges = diesel::delete(
                    otp_challenges::table.filter(otp_challenges::expires_at.le(now_naive)),
                )
                .execute(connection)?;
                let rate_limits =
                    delete_ended_buckets!(connection, OTP_BUCKET_PREFIX, now, window)?;
                Ok(OtpPurge {
                    challenges,
                    rate_limits,
                })
            })
        })
        .map_err(|error| self.query_error("one-time password purge", error))
    }

    /// Deletes the rate-limit buckets whose name starts with `prefix` and whose
    /// window of length `window` ended by `now`, and returns how many it
    /// deleted. Each kind of limit has its own window, so each is purged with
    /// its own prefix and window.
    ///
    /// NOTE: the prefix is compared with `LIKE`, which SQLite runs without
    /// regard to ASCII case, so there `Email:` matches `email:` buckets too.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// use chrono::{TimeDelta, Utc};
    /// use divoc_store::{Store, StoreOptions};
    ///
    /// let store = Store::open(":memory:", &StoreOptions::default())?;
    /// let hour = Duration::from_secs(3600);
    /// let now = Utc::now();
    /// store.count_rate_hit("email:mobile:1", now, hour)?;
    /// store.count_rate_hit("share:mobile:1", now, hour)?;
    /// let later = now + TimeDelta::hours(2);
    /// assert_eq!(store.purge_rate_limits("email:", later, hour)?, 1);
    /// // The share bucket is still counting.
    /// assert_eq!(store.count_rate_hit("share:mobile:1", now, hour)?.hits, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn purge_rate_limits(
        &self,
        prefix: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<usize, StoreError> {
        with_connection!(self, |connection| delete_ended_buckets!(
            connection, prefix, now, window
        ))
        .map_err(|error| self.query_error("rate-limit purge", error))
    }

    /// Returns `true` if at least one certificate that is not revoked is
    /// registered to `mobile`. Reads no certificate text.
    ///
    /// Like the lookups by mobile number, it reads the number's beneficiaries
    /// from `certificate_mobiles` first. Each of its two statements then
    /// filters on the distribution column of a table sharded by Citus.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_store::{Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let export = r#"[
    ///     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "mobile": "9000000001",
    ///      "certificate": "{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"},
    ///     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001", "mobile": "9000000002",
    ///      "certificate": "{\"credentialSubject\":{},\"evidence\":[{\"dose\":1}]}"},
    ///     {"preEnrollmentCode": "BEN-2", "certificateId": "200000001",
    ///      "previousCertificateId": "200000001"}
    /// ]"#;
    /// store.import_text(export)?;
    /// assert!(store.mobile_has_certificates("9000000001")?);
    /// // The only certificate of this number is revoked.
    /// assert!(!store.mobile_has_certificates("9000000002")?);
    /// assert!(!store.mobile_has_certificates("9000000003")?);
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn mobile_has_certificates(&self, mobile: &str) -> Result<bool, StoreError> {
        with_connection!(self, |connection| {
            mobile_beneficiaries(mobile)
                .load::<String>(connection)
                .and_then(|beneficiaries| {
                    let not_revoked: not_revoked = not_revoked();
                    diesel::select(exists(
                        certificates::table
                            .filter(certificates::pre_enrollment_code.eq_any(&beneficiaries))
                            .filter(certificates::mobile.eq(mobile))
                            .filter(not_revoked)
                            .select(certificates::certificate_id),
                    ))
                    .get_result::<bool>(connection)
                })
        })
        .map_err(|error| self.query_error("certificate check by mobile", error))
    }
}

/// Returns the latest window start whose window has ended at `now`.
/// Name prefix of the rate-limit buckets of the citizen login.
const OTP_BUCKET_PREFIX: &str = "otp:";

/// Returns the `LIKE` pattern of names that start with `prefix`, with `\`
/// as the escape character.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn window_cutoff(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    now.checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Drops the nanoseconds below a microsecond, which neither backend stores.
pub(crate) fn to_naive_micros(instant: DateTime<Utc>) -> NaiveDateTime {
    let naive = instant.naive_utc();
    let micros = naive.and_utc().timestamp_subsec_micros();
    naive.with_nanosecond(micros * 1000).unwrap_or(naive)
}
