-- An expired or cancelled order lets go of the authority references it held; a paid one keeps
-- them for good. Since 0010.

CREATE OR REPLACE FUNCTION tj_release_references() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IN ('EXPIRED', 'CANCELLED') AND OLD.state IN ('OPEN', 'PAYING') THEN
        DELETE FROM held_references WHERE order_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER orders_release_references AFTER UPDATE OF state ON orders
    FOR EACH ROW EXECUTE FUNCTION tj_release_references();
