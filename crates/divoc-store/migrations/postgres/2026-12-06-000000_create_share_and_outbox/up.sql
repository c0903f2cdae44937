-- Share links and the email outbox (PostgreSQL).

-- One row per share link. The token itself is never stored, only its SHA-256.
CREATE TABLE share_links (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    certificate_id TEXT NOT NULL,
    pre_enrollment_code TEXT NOT NULL,
    -- Who created the link: the token subject, or "mobile:<number>" without one.
    creator TEXT NOT NULL,
    -- Argon2id PHC string of the passcode, when the link has one.
    passcode_hash TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX share_links_creator ON share_links (creator, created_at);

-- Emails waiting to be sent, being sent, sent or given up.
CREATE TABLE email_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    certificate_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    -- Password rule of the attachment ("dob"), or NULL for an unprotected PDF.
    protect TEXT,
    requester TEXT NOT NULL,
    -- queued, sending, sent or failed.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When a queued row is due, or when the claim of a sending row lapses.
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
