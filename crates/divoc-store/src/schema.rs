//! Diesel table definitions, shared by both backends.
//!
//! The migrations under `migrations/sqlite` and `migrations/postgres` create these
//! tables. Timestamps are UTC with at most microsecond precision.

diesel::table! {
    /// One row per certificate. `certificate_id` is unique. The primary key is
    /// (`pre_enrollment_code`, `certificate_id`) on PostgreSQL, and a unique
    /// index on SQLite, so that the table can be distributed by beneficiary id.
    certificates (certificate_id) {
        /// `certificateId` of the record.
        certificate_id -> Text,
        /// `preEnrollmentCode`: the beneficiary id.
        pre_enrollment_code -> Text,
        /// Registered mobile number.
        mobile -> Nullable<Text>,
        /// Recipient name.
        name -> Nullable<Text>,
        /// Contact URIs as a JSON array.
        contact -> Text,
        /// Vaccination program id.
        program_id -> Nullable<Text>,
        /// The signed credential, byte for byte as imported. SQLite stores
        /// keep it compressed (see [`crate::Credential`]).
        certificate -> crate::Credential,
        /// Issuer metadata as JSON text.
        meta -> Nullable<Text>,
        /// Registry entity id.
        osid -> Nullable<Text>,
        /// Registry creation time, UTC.
        os_created_at -> Nullable<Timestamp>,
        /// Registry update time, UTC.
        os_updated_at -> Nullable<Timestamp>,
        /// Dose of the credential's first vaccination event.
        dose -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// One row per revoked certificate id, which is unique. Keyed like
    /// `certificates`, by (`pre_enrollment_code`, `revoked_certificate_id`).
    revocations (revoked_certificate_id) {
        /// The certificate id that must no longer be served.
        revoked_certificate_id -> Text,
        /// `preEnrollmentCode` of the revocation record.
        pre_enrollment_code -> Text,
        /// `certificateId` of the revocation record.
        certificate_id -> Text,
        /// `dose` of the revocation record.
        dose -> Nullable<BigInt>,
        /// `previousCertificateId` of the revocation record.
        previous_certificate_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// The live one-time password of a mobile number.
    otp_challenges (mobile) {
        /// Mobile number the code was sent to.
        mobile -> Text,
        /// Keyed hash of the code.
        code_hash -> Text,
        /// When the code was sent, UTC.
        created_at -> Timestamp,
        /// When the code stops being accepted, UTC.
        expires_at -> Timestamp,
        /// Wrong codes tried so far.
        failed_attempts -> Integer,
        /// Whether the code was already used.
        consumed -> Bool,
    }
}

diesel::table! {
    /// Fixed-window request counters.
    rate_limits (bucket) {
        /// What is counted, such as `otp:mobile:<hash>`.
        bucket -> Text,
        /// Start of the current window, UTC.
        window_start -> Timestamp,
        /// Hits in the current window.
        hits -> Integer,
    }
}

diesel::table! {
    /// One row per certificate served.
    audit_events (id) {
        /// Row id.
        id -> BigInt,
        /// When the certificate was served, UTC.
        served_at -> Timestamp,
        /// `certificateId` of the certificate served.
        certificate_id -> Text,
        /// Route pattern of the request.
        route -> Text,
        /// The token's subject (`sub`), if any.
        subject -> Nullable<Text>,
        /// The access the token had: `distribution`, `print` or `citizen`.
        role -> Text,
    }
}

diesel::table! {
    /// The beneficiaries with a certificate registered to a mobile number, so
    /// that a lookup by mobile number reads one key of one table, which a
    /// distributed database keeps on one node. Written by imports. A row stays
    /// when a later import changes the certificate's number, so lookups also
    /// match `certificates.mobile`.
    certificate_mobiles (mobile, pre_enrollment_code) {
        /// Registered mobile number.
        mobile -> Text,
        /// `preEnrollmentCode`: the beneficiary id.
        pre_enrollment_code -> Text,
    }
}

diesel::table! {
    /// One row per share link; the token is stored only as its SHA-256.
    share_links (id) {
        /// Public id of the link, used to list and revoke it.
        id -> Text,
        /// SHA-256 of the token, in hex.
        token_hash -> Text,
        /// `certificateId` the link is bound to.
        certificate_id -> Text,
        /// Beneficiary of that certificate, for the check that it is still the latest.
        pre_enrollment_code -> Text,
        /// Creator of the link: the token subject, or `mobile:<number>` without one.
        creator -> Text,
        /// Argon2id PHC string of the passcode, if the link has one.
        passcode_hash -> Nullable<Text>,
        /// Wrong passcodes tried so far.
        failed_attempts -> Integer,
        /// When the link was created, UTC.
        created_at -> Timestamp,
        /// When the link stops working, UTC.
        expires_at -> Timestamp,
        /// When the creator revoked the link, UTC.
        revoked_at -> Nullable<Timestamp>,
        /// For a citizen's link, the citizen's mobile number: the link shows
        /// only the doses registered to it.
        scope_mobile -> Nullable<Text>,
    }
}

diesel::table! {
    /// Emails waiting to be sent, being sent, sent or given up.
    email_outbox (id) {
        /// Public id, returned to the requester.
        id -> Text,
        /// `certificateId` of the attached certificate.
        certificate_id -> Text,
        /// Recipient address.
        recipient -> Text,
        /// Language of the subject and body, such as `en`.
        language -> Text,
        /// Password rule of the attachment (`dob`), if protected.
        protect -> Nullable<Text>,
        /// Requester of the email, written as `share_links.creator` is.
        requester -> Text,
        /// `queued`, `sending`, `sent` or `failed`.
        status -> Text,
        /// Delivery attempts started.
        attempts -> Integer,
        /// When a queued row is due, or when the claim of a sending row lapses.
        next_attempt_at -> Timestamp,
        /// Error of the last failed attempt.
        last_error -> Nullable<Text>,
        /// When the email was requested, UTC.
        created_at -> Timestamp,
        /// When the row last changed, UTC.
        updated_at -> Timestamp,
        /// For a citizen's email, the citizen's mobile number: the PDF shows
        /// only the doses registered to it.
        scope_mobile -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(certificates, revocations, certificate_mobiles);
