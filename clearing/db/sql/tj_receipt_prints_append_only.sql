-- Receipt prints (originals and numbered reprints) are kept as printed, never edited or removed.
-- Since 0019.

CREATE OR REPLACE FUNCTION tj_receipt_prints_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'receipt prints are never changed or removed'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE TRIGGER receipt_prints_append_only BEFORE UPDATE OR DELETE ON receipt_prints
    FOR EACH ROW EXECUTE FUNCTION tj_receipt_prints_append_only();
