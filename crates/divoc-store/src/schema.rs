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
        /// The signed credential, byte for byte as imported.
        certificate -> Text,
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

diesel::allow_tables_to_appear_in_same_query!(certificates, revocations, certificate_mobiles);
