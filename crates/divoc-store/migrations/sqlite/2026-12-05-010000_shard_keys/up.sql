-- The same keys as on PostgreSQL, where they let a distributed database keep
-- each beneficiary's rows on one node. SQLite cannot change a primary key in
-- place, so the ids stay the primary keys and unique indexes provide the
-- (pre_enrollment_code, id) keys that imports name as their conflict targets.
DROP INDEX certificates_pre_enrollment_code;
CREATE UNIQUE INDEX certificates_pre_enrollment_code ON certificates (pre_enrollment_code, certificate_id);
CREATE UNIQUE INDEX revocations_pre_enrollment_code ON revocations (pre_enrollment_code, revoked_certificate_id);

-- Lookups by mobile number read this table first, keyed by the number, and
-- then each beneficiary's certificates by the index above.
CREATE TABLE certificate_mobiles (
    mobile TEXT NOT NULL,
    pre_enrollment_code TEXT NOT NULL,
    PRIMARY KEY (mobile, pre_enrollment_code)
) WITHOUT ROWID;
INSERT INTO certificate_mobiles (mobile, pre_enrollment_code)
    SELECT DISTINCT mobile, pre_enrollment_code FROM certificates WHERE mobile IS NOT NULL;
DROP INDEX certificates_mobile_certificate_id;
