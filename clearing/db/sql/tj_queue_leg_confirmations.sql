-- A CLEARED payment marks its order's referenced lines PENDING and queues one leg-confirmation
-- task for the order (clearing/workers/legs.py confirms its legs and retries each until its
-- authority answers), once per statement that records payments, so that a batch of captures
-- queues its orders' tasks in one statement and no capture can forget it. Since 0010 (one task
-- per leg, per row); 0028 made it one task per order, per statement.

CREATE OR REPLACE FUNCTION tj_queue_leg_confirmations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH paid AS (
        SELECT DISTINCT ON (order_id) order_id, id
          FROM new_payments
         WHERE outcome = 'CLEARED' AND order_id IS NOT NULL
         ORDER BY order_id, id
    ), pending AS (
        UPDATE order_lines l SET confirm_state = 'PENDING'
          FROM paid
         WHERE l.order_id = paid.order_id AND l.reference IS NOT NULL AND l.confirm_state IS NULL
        RETURNING l.order_id
    )
    INSERT INTO tasks (kind, payload, dedupe_key, max_attempts)
    SELECT 'leg.confirm', jsonb_build_object('order_id', p.order_id, 'payment_id', p.id),
           'leg.confirm:' || p.order_id,
           -- retried until every authority acknowledges: a day and more of backoff
           200
      FROM paid p
     WHERE EXISTS (SELECT 1 FROM pending WHERE pending.order_id = p.order_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER payments_queue_leg_confirmations AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_payments
    FOR EACH STATEMENT EXECUTE FUNCTION tj_queue_leg_confirmations();
