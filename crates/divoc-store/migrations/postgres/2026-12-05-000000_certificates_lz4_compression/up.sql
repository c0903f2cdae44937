-- Certificate rows are about 2.5 KB, above the roughly 2 KB at which PostgreSQL
-- compresses long values. Its default method, pglz, costs more CPU on insert than
-- the rest of the row's work; lz4 is several times faster and compresses about as
-- well. lz4 needs PostgreSQL 14 or later built with lz4 support; elsewhere the
-- statement fails and the column keeps the server's default method. Applies to
-- values written from now on.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE certificates ALTER COLUMN certificate SET COMPRESSION lz4';
EXCEPTION
    WHEN syntax_error OR feature_not_supported OR invalid_parameter_value THEN
        RAISE NOTICE 'lz4 compression is unavailable: certificates keep the default compression';
END
$$;
