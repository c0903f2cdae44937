-- Certificates and revocations of DIVOC registry exports (SQLite).
-- Timestamps are UTC, written as text by diesel and truncated to microseconds.
CREATE TABLE certificates (
    certificate_id TEXT PRIMARY KEY NOT NULL,
    pre_enrollment_code TEXT NOT NULL,
    mobile TEXT,
    name TEXT,
    -- JSON array of contact URIs.
    contact TEXT NOT NULL DEFAULT '[]',
    program_id TEXT,
    -- The signed credential, byte for byte as imported.
    certificate TEXT NOT NULL,
    -- JSON object, or NULL when the record had no meta.
    meta TEXT,
    osid TEXT,
    os_created_at TIMESTAMP,
    os_updated_at TIMESTAMP,
    -- Dose of the credential's first vaccination event.
    dose BIGINT
);

-- certificate_id is part of the key so that the revocation check of an
-- existence query reads only this index.
CREATE INDEX certificates_pre_enrollment_code ON certificates (pre_enrollment_code, certificate_id);
-- Also serves lookups by mobile alone, through its leading column.
CREATE INDEX certificates_mobile_certificate_id ON certificates (mobile, certificate_id);

-- Small rows keyed by text: WITHOUT ROWID keeps each row in its primary key
-- index, so the revocation check of a lookup reads only that index.
CREATE TABLE revocations (
    revoked_certificate_id TEXT PRIMARY KEY NOT NULL,
    pre_enrollment_code TEXT NOT NULL,
    certificate_id TEXT NOT NULL,
    dose BIGINT,
    previous_certificate_id TEXT
) WITHOUT ROWID;
