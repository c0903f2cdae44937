-- The mobile number that limits what a share link or an emailed PDF shows,
-- for those that a citizen created: only the doses registered to that number,
-- as in the citizen's own download. NULL for a distribution role's links and
-- emails, which show every dose of the beneficiary.
ALTER TABLE share_links ADD COLUMN scope_mobile TEXT;
ALTER TABLE email_outbox ADD COLUMN scope_mobile TEXT;
