CREATE INDEX certificates_mobile_certificate_id ON certificates (mobile, certificate_id);
DROP TABLE certificate_mobiles;
DROP INDEX revocations_pre_enrollment_code;
DROP INDEX certificates_pre_enrollment_code;
CREATE INDEX certificates_pre_enrollment_code ON certificates (pre_enrollment_code, certificate_id);
