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
