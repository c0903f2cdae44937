DROP TABLE audit_events;
DROP TABLE rate_limits;
DROP TABLE otp_challenges;
