-- Keys that let a distributed PostgreSQL (Citus) place each beneficiary's
-- certificates and revocations on one node. Citus requires the distribution
-- column in every primary key and unique constraint, so both tables are keyed
-- by (pre_enrollment_code, id). On one server the ids stay unique through the
-- extra unique indexes; a Citus deployment drops those two indexes and relies
-- on the import, which rejects an id stored for another beneficiary.
CREATE UNIQUE INDEX certificates_certificate_id ON certificates (certificate_id);
ALTER TABLE certificates DROP CONSTRAINT certificates_pkey;
ALTER TABLE certificates ADD CONSTRAINT certificates_pkey
    PRIMARY KEY (pre_enrollment_code, certificate_id);
-- The new primary key covers the same columns.
DROP INDEX certificates_pre_enrollment_code;

CREATE UNIQUE INDEX revocations_revoked_certificate_id ON revocations (revoked_certificate_id);
ALTER TABLE revocations DROP CONSTRAINT revocations_pkey;
ALTER TABLE revocations ADD CONSTRAINT revocations_pkey
    PRIMARY KEY (pre_enrollment_code, revoked_certificate_id);

-- Lookups by mobile number read this table first, keyed by the number, and
-- then each beneficiary's certificates by the primary key above.
CREATE TABLE certificate_mobiles (
    mobile TEXT NOT NULL,
    pre_enrollment_code TEXT NOT NULL,
    PRIMARY KEY (mobile, pre_enrollment_code)
);
INSERT INTO certificate_mobiles (mobile, pre_enrollment_code)
    SELECT DISTINCT mobile, pre_enrollment_code FROM certificates WHERE mobile IS NOT NULL;
DROP INDEX certificates_mobile_certificate_id;

-- The audit trail is distributed by certificate id, so its key includes it.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (certificate_id, id);
