DO $$
BEGIN
    EXECUTE 'ALTER TABLE certificates ALTER COLUMN certificate SET COMPRESSION DEFAULT';
EXCEPTION
    WHEN syntax_error OR feature_not_supported OR invalid_parameter_value THEN
        NULL;
END
$$;
