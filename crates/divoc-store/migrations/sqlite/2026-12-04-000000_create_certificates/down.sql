DROP TABLE revocations;
DROP TABLE certificates;
