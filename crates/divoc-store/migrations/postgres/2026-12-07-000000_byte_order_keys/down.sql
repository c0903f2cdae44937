-- Back to the database's default collation.
ALTER TABLE certificates
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "default",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "default",
    ALTER COLUMN mobile TYPE TEXT COLLATE "default";

ALTER TABLE revocations
    ALTER COLUMN revoked_certificate_id TYPE TEXT COLLATE "default",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "default",
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "default",
    ALTER COLUMN previous_certificate_id TYPE TEXT COLLATE "default";

ALTER TABLE certificate_mobiles
    ALTER COLUMN mobile TYPE TEXT COLLATE "default",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "default";

ALTER TABLE otp_challenges
    ALTER COLUMN mobile TYPE TEXT COLLATE "default";

ALTER TABLE rate_limits
    ALTER COLUMN bucket TYPE TEXT COLLATE "default";

ALTER TABLE audit_events
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "default",
    ALTER COLUMN subject TYPE TEXT COLLATE "default";

ALTER TABLE share_links
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN token_hash TYPE TEXT COLLATE "default",
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "default",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "default",
    ALTER COLUMN creator TYPE TEXT COLLATE "default";

ALTER TABLE email_outbox
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "default",
    ALTER COLUMN status TYPE TEXT COLLATE "default";
