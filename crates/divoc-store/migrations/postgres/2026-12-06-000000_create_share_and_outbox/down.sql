DROP TABLE email_outbox;
DROP TABLE share_links;
