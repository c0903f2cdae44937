ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id);

CREATE INDEX certificates_mobile_certificate_id ON certificates (mobile, certificate_id);
DROP TABLE certificate_mobiles;

ALTER TABLE revocations DROP CONSTRAINT revocations_pkey;
ALTER TABLE revocations ADD CONSTRAINT revocations_pkey PRIMARY KEY (revoked_certificate_id);
DROP INDEX revocations_revoked_certificate_id;

CREATE INDEX certificates_pre_enrollment_code ON certificates (pre_enrollment_code, certificate_id);
ALTER TABLE certificates DROP CONSTRAINT certificates_pkey;
ALTER TABLE certificates ADD CONSTRAINT certificates_pkey PRIMARY KEY (certificate_id);
DROP INDEX certificates_certificate_id;
