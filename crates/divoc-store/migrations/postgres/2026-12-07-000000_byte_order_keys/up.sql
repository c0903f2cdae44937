-- Ids, mobile numbers and other key columns compare as bytes (collation "C"),
-- whatever the database's default collation is.
--
-- A database created with a language's collation, such as en_US.UTF-8 or an
-- ICU locale, compares text by the rules of that language. Every B-tree step
-- of every index on these columns then pays for it: an import of 1 million
-- records into a store of 1 million took 33 to 38 s on a database whose
-- default collation was ICU "en-US", against 27 s with "C". Ids have no
-- language, and byte order also sorts them the same way on every server.
--
-- Every column that is compared with a column of another table gets the same
-- collation, so that joins keep using the indexes. The indexes on these
-- columns are rebuilt; the rows are not rewritten.

-- Every table is locked first, waiting 2 s at most for all of them together,
-- so that a transaction holding one of them fails the migration before any
-- index is rebuilt. (The lock timeout of the migration applies to each lock
-- alone.)
SET LOCAL statement_timeout = '2s';
LOCK TABLE certificates, revocations, certificate_mobiles, otp_challenges,
    rate_limits, audit_events, share_links, email_outbox IN ACCESS EXCLUSIVE MODE;
SET LOCAL statement_timeout TO DEFAULT;

ALTER TABLE certificates
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "C",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "C",
    ALTER COLUMN mobile TYPE TEXT COLLATE "C";

ALTER TABLE revocations
    ALTER COLUMN revoked_certificate_id TYPE TEXT COLLATE "C",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "C",
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "C",
    ALTER COLUMN previous_certificate_id TYPE TEXT COLLATE "C";

ALTER TABLE certificate_mobiles
    ALTER COLUMN mobile TYPE TEXT COLLATE "C",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "C";

ALTER TABLE otp_challenges
    ALTER COLUMN mobile TYPE TEXT COLLATE "C";

ALTER TABLE rate_limits
    ALTER COLUMN bucket TYPE TEXT COLLATE "C";

ALTER TABLE audit_events
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "C",
    ALTER COLUMN subject TYPE TEXT COLLATE "C";

ALTER TABLE share_links
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN token_hash TYPE TEXT COLLATE "C",
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "C",
    ALTER COLUMN pre_enrollment_code TYPE TEXT COLLATE "C",
    ALTER COLUMN creator TYPE TEXT COLLATE "C";

ALTER TABLE email_outbox
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN certificate_id TYPE TEXT COLLATE "C",
    ALTER COLUMN status TYPE TEXT COLLATE "C";
