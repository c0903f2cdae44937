//! Diesel table definitions, shared by both backends.
//!
//! The migrations under `migrations/sqlite` and `migrations/postgres` create these
//! tables. Timestamps are UTC with at most microsecond precision.

diesel::table! {
    /// One row per certificate, keyed by `certificateId`.
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
    /// One row per revoked certificate id.
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

diesel::allow_tables_to_appear_in_same_query!(certificates, revocations);
