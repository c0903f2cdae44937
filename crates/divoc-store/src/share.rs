//! Share links: a token that gives its bearer one certificate, until it
//! expires or its creator revokes it.
//!
//! The store keeps only the SHA-256 of the token, so a copy of the database does
//! not reveal working links. Expired and revoked links stay in the table. Counting a passcode attempt is one statement, so
//! several server processes never allow more attempts than the limit together.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::otp::to_naive_micros;
use crate::schema::share_links;
use crate::store::with_connection;
use crate::{Store, StoreError};

/// A share link to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShareLink<'a> {
    /// Public id of the link.
    pub id: &'a str,
    /// SHA-256 of the token, in hex.
    pub token_hash: &'a str,
    /// `certificateId` the link is bound to.
    pub certificate_id: &'a str,
    /// Beneficiary of that certificate.
    pub pre_enrollment_code: &'a str,
    /// Owner key of the creator, which may list and revoke the link.
    pub creator: &'a str,
    /// Argon2id PHC string of the passcode, if any.
    pub passcode_hash: Option<&'a str>,
    /// Creation time; stored with microsecond precision.
    pub created_at: DateTime<Utc>,
    /// Expiry time; stored with microsecond precision.
    pub expires_at: DateTime<Utc>,
    /// For a link that a citizen creates, the citizen's mobile number: the
    /// link then shows only the doses registered to it.
    pub scope_mobile: Option<&'a str>,
}

/// A stored share link.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = share_links)]
pub struct ShareLink {
    /// Public id of the link.
    pub id: String,
    /// SHA-256 of the token, in hex.
    pub token_hash: String,
    /// `certificateId` the link is bound to.
    pub certificate_id: String,
    /// Beneficiary of that certificate.
    pub pre_enrollment_code: String,
    /// Owner key of the creator, which may list and revoke the link.
    pub creator: String,
    /// Argon2id PHC string of the passcode, if any.
    pub passcode_hash: Option<String>,
    /// Wrong passcodes tried so far.
    pub failed_attempts: i32,
    /// Creation time, UTC.
    pub created_at: NaiveDateTime,
    /// Expiry time, UTC.
    pub expires_at: NaiveDateTime,
    /// Revocation time, UTC, if the creator revoked the link.
    pub revoked_at: Option<NaiveDateTime>,
    /// The mobile number whose doses the link shows, for a citizen's link;
    /// `None` for every dose of the beneficiary.
    pub scope_mobile: Option<String>,
}

impl ShareLink {
    /// Returns true when the link is not revoked and has not expired at `now`.
    ///
    /// See the example of [`Store::create_share_link`].
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.and_utc() > now
    }
}

impl Store {
    /// Stores a new share link with no failed passcode attempts.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`], also when the id
    /// or the token hash is already taken.
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{NewShareLink, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let created_at = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// let link = NewShareLink {
    ///     id: "link-1",
    ///     // SHA-256 of the token "test".
    ///     token_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ///     certificate_id: "100000001",
    ///     pre_enrollment_code: "BEN-1",
    ///     creator: "operator-7",
    ///     passcode_hash: None,
    ///     created_at,
    ///     expires_at: created_at + TimeDelta::days(7),
    ///     scope_mobile: None,
    /// };
    /// store.create_share_link(&link)?;
    ///
    /// let token_hash = link.token_hash;
    /// let stored = store.share_link_by_token_hash(token_hash)?.unwrap();
    /// assert_eq!(stored.certificate_id, "100000001");
    /// assert_eq!(stored.failed_attempts, 0);
    /// assert!(stored.is_live(created_at + TimeDelta::days(6)));
    /// assert!(!stored.is_live(created_at + TimeDelta::days(7)));
    ///
    /// // Ids and token hashes are unique.
    /// assert!(store.create_share_link(&NewShareLink { id: "link-2", ..link }).is_err());
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn create_share_link(&self, link: &NewShareLink<'_>) -> Result<(), StoreError> {
        let values = (
            share_links::id.eq(link.id),
            share_links::token_hash.eq(link.token_hash),
            share_links::certificate_id.eq(link.certificate_id),
            share_links::pre_enrollment_code.eq(link.pre_enrollment_code),
            share_links::creator.eq(link.creator),
            share_links::passcode_hash.eq(link.passcode_hash),
            share_links::failed_attempts.eq(0),
            share_links::created_at.eq(to_naive_micros(link.created_at)),
            share_links::expires_at.eq(to_naive_micros(link.expires_at)),
            share_links::scope_mobile.eq(link.scope_mobile),
        );
        with_connection!(self, |connection| {
            diesel::insert_into(share_links::table)
                .values(values)
                .execute(connection)
        })
        .map(|_| ())
        .map_err(|error| self.query_error("share link insert", error))
    }

    /// Returns the share link whose token has this SHA-256 hex digest, whatever its state.
    ///
    /// See the example of [`Store::create_share_link`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub fn share_link_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ShareLink>, StoreError> {
        with_connection!(self, |connection| {
            share_links::table
                .filter(share_links::token_hash.eq(token_hash))
                .select(ShareLink::as_select())
                .first(connection)
                .optional()
        })
        .map_err(|error| self.query_error("share link lookup by token", error))
    }

    /// Returns the share links of one creator, newest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{NewShareLink, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let created_at = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// let link = NewShareLink {
    ///     id: "link-1",
    ///     // SHA-256 of the token "test".
    ///     token_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ///     certificate_id: "100000001",
    ///     pre_enrollment_code: "BEN-1",
    ///     creator: "operator-7",
    ///     passcode_hash: None,
    ///     created_at,
    ///     expires_at: created_at + TimeDelta::days(7),
    ///     scope_mobile: None,
    /// };
    /// store.create_share_link(&link)?;
    /// store.create_share_link(&NewShareLink {
    ///     id: "link-2",
    ///     // SHA-256 of the token "abc".
    ///     token_hash: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ///     created_at: created_at + TimeDelta::hours(1),
    ///     ..link
    /// })?;
    ///
    /// let ids = |links: Vec<divoc_store::ShareLink>| {
    ///     links.into_iter().map(|link| link.id).collect::<Vec<_>>()
    /// };
    /// assert_eq!(ids(store.share_links_by_creator("operator-7", 10)?), ["link-2", "link-1"]);
    /// assert_eq!(ids(store.share_links_by_creator("operator-7", 1)?), ["link-2"]);
    /// assert!(store.share_links_by_creator("operator-8", 10)?.is_empty());
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn share_links_by_creator(
        &self,
        creator: &str,
        limit: i64,
    ) -> Result<Vec<ShareLink>, StoreError> {
        with_connection!(self, |connection| {
            share_links::table
                .filter(share_links::creator.eq(creator))
                .order((share_links::created_at.desc(), share_links::id.desc()))
                .limit(limit.max(0))
                .select(ShareLink::as_select())
                .load(connection)
        })
        .map_err(|error| self.query_error("share link lookup by creator", error))
    }

    /// Revokes the link `id` if `creator` created it and it is not revoked yet.
    /// Returns the link as it is afterwards, or `None` when no link of this
    /// creator has the id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{NewShareLink, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let created_at = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// let link = NewShareLink {
    ///     id: "link-1",
    ///     // SHA-256 of the token "test".
    ///     token_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ///     certificate_id: "100000001",
    ///     pre_enrollment_code: "BEN-1",
    ///     creator: "operator-7",
    ///     passcode_hash: None,
    ///     created_at,
    ///     expires_at: created_at + TimeDelta::days(7),
    ///     scope_mobile: None,
    /// };
    /// store.create_share_link(&link)?;
    ///
    /// // Only the creator can revoke the link.
    /// let now = created_at + TimeDelta::hours(1);
    /// assert!(store.revoke_share_link("link-1", "operator-8", now)?.is_none());
    /// let revoked = store.revoke_share_link("link-1", "operator-7", now)?.unwrap();
    /// assert_eq!(revoked.revoked_at, Some(now.naive_utc()));
    /// assert!(!revoked.is_live(now));
    ///
    /// // Revoking again keeps the first revocation time.
    /// let later = now + TimeDelta::hours(1);
    /// let again = store.revoke_share_link("link-1", "operator-7", later)?.unwrap();
    /// assert_eq!(again.revoked_at, Some(now.naive_utc()));
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn revoke_share_link(
        &self,
        id: &str,
        creator: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ShareLink>, StoreError> {
        let now = to_naive_micros(now);
        with_connection!(self, |connection| {
            connection.transaction(|connection| {
                diesel::update(
                    share_links::table
                        .filter(share_links::id.eq(id))
                        .filter(share_links::creator.eq(creator))
                        .filter(share_links::revoked_at.is_null()),
                )
                .set(share_links::revoked_at.eq(Some(now)))
                .execute(connection)?;
                share_links::table
                    .filter(share_links::id.eq(id))
                    .filter(share_links::creator.eq(creator))
                    .select(ShareLink::as_select())
                    .first(connection)
                    .optional()
            })
        })
        .map_err(|error| self.query_error("share link revocation", error))
    }

    /// Counts one passcode attempt against link `id` and returns its passcode
    /// hash, or `None` when the link has no passcode or has had `max_attempts`
    /// attempts already.
    ///
    /// The attempt is counted before the caller checks the passcode, so
    /// concurrent guesses never exceed `max_attempts` in total. It stays counted
    /// unless [`Store::release_share_passcode_attempt`] takes it back.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// # Example
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use divoc_store::{NewShareLink, Store, StoreOptions};
    ///
    /// let store = Store::open("sqlite::memory:", &StoreOptions::default())?;
    /// let created_at = Utc.with_ymd_and_hms(2022, 1, 5, 17, 0, 0).unwrap();
    /// let link = NewShareLink {
    ///     id: "link-1",
    ///     // SHA-256 of the token "test".
    ///     token_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ///     certificate_id: "100000001",
    ///     pre_enrollment_code: "BEN-1",
    ///     creator: "operator-7",
    ///     passcode_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
    ///     created_at,
    ///     expires_at: created_at + TimeDelta::days(7),
    ///     scope_mobile: None,
    /// };
    /// store.create_share_link(&link)?;
    ///
    /// // A wrong passcode stays counted.
    /// assert!(store.claim_share_passcode_attempt("link-1", 2)?.is_some());
    /// // The right one: the caller verifies it and takes the attempt back.
    /// assert!(store.claim_share_passcode_attempt("link-1", 2)?.is_some());
    /// store.release_share_passcode_attempt("link-1")?;
    ///
    /// let stored = store.share_link_by_token_hash(link.token_hash)?.unwrap();
    /// assert_eq!(stored.failed_attempts, 1);
    /// // One more wrong passcode reaches the limit of 2.
    /// assert!(store.claim_share_passcode_attempt("link-1", 2)?.is_some());
    /// assert_eq!(store.claim_share_passcode_attempt("link-1", 2)?, None);
    /// # Ok::<(), divoc_store::StoreError>(())
    /// ```
    pub fn claim_share_passcode_attempt(
        &self,
        id: &str,
        max_attempts: u32,
    ) -> Result<Option<String>, StoreError> {
        let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        let hash: Option<Option<String>> = with_connection!(self, |connection| {
            diesel::update(
                share_links::table
                    .filter(share_links::id.eq(id))
                    .filter(share_links::passcode_hash.is_not_null())
                    .filter(share_links::failed_attempts.lt(max_attempts)),
            )
            .set(share_links::failed_attempts.eq(share_links::failed_attempts + 1))
            .returning(share_links::passcode_hash)
            .get_result::<Option<String>>(connection)
            .optional()
        })
        .map_err(|error| self.query_error("share link passcode attempt", error))?;
        Ok(hash.flatten())
    }

    /// Takes back an attempt counted by [`Store::claim_share_passcode_attempt`]
    /// after the passcode matched, so only wrong passcodes stay counted.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    ///
    /// See the example of [`Store::claim_share_passcode_attempt`].
    pub fn release_share_passcode_attempt(&self, id: &str) -> Result<(), StoreError> {
        with_connection!(self, |connection| {
            diesel::update(
                share_links::table
                    .filter(share_links::id.eq(id))
                    .filter(share_links::failed_attempts.gt(0)),
            )
            .set(share_links::failed_attempts.eq(share_links::failed_attempts - 1))
            .execute(connection)
        })
        .map(|_| ())
        .map_err(|error| self.query_error("share link passcode release", error))
    }
}
