ALTER TABLE email_outbox DROP COLUMN scope_mobile;
ALTER TABLE share_links DROP COLUMN scope_mobile;
