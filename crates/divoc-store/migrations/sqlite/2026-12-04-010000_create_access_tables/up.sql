-- Citizen login (one-time passwords and rate limits) and the audit trail (SQLite).

-- At most one live one-time password per mobile number; a new request replaces it.
CREATE TABLE otp_challenges (
    mobile TEXT PRIMARY KEY NOT NULL,
    -- Keyed hash of the code; the code itself is never stored.
    code_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    consumed BOOLEAN NOT NULL DEFAULT 0
);

-- Fixed-window counters, such as "otp:mobile:<hash>" or "otp:ip:<address>".
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits INTEGER NOT NULL
);

-- One row per certificate served.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    served_at TIMESTAMP NOT NULL,
    certificate_id TEXT NOT NULL,
    route TEXT NOT NULL,
    subject TEXT,
    role TEXT NOT NULL
);
CREATE INDEX audit_events_certificate_id ON audit_events (certificate_id, served_at);
CREATE INDEX audit_events_subject ON audit_events (subject, served_at);
