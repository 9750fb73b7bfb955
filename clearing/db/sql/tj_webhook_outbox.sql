-- The webhook outbox: an order's state change writes its event in the same transaction (only
-- when somebody subscribes to its type), a delivery per such subscription and a task per
-- delivery, in one statement. The body carries what the case system sent us (case number and
-- references) and amounts in fen, never the payer (docs/decisions/
-- 0026-webhooks-outbox-and-order.md). Since 0023.

CREATE OR REPLACE FUNCTION tj_webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_type text := CASE NEW.state WHEN 'CLEARED' THEN 'order.paid'
                                  WHEN 'SETTLED' THEN 'order.settled'
                                  WHEN 'REFUNDED' THEN 'order.refunded'
                                  WHEN 'CANCELLED' THEN 'order.cancelled'
                                  WHEN 'EXPIRED' THEN 'order.expired' END;
BEGIN
    WITH subs AS (
        SELECT s.id FROM webhook_subscriptions s WHERE s.active AND v_type = ANY (s.event_types)
    ), ev AS (
        INSERT INTO webhook_events (event_id, type, order_id, occurred_at, body)
        SELECT k.event_id, v_type, NEW.id, now(), jsonb_build_object(
                   'id', k.event_id,
                   'type', v_type,
                   'occurred_at', to_char(now() AT TIME ZONE 'Asia/Shanghai',
                                          'YYYY-MM-DD"T"HH24:MI:SS.MS"+08:00"'),
                   'data', jsonb_build_object(
                       'order_no', NEW.order_no,
                       'case_no', NEW.case_no,
                       'case_refs', NEW.case_refs,
                       'office', NEW.office,
                       'state', NEW.state,
                       'total_fen', NEW.total_fen,
                       'paid_fen', (SELECT coalesce(sum(p.amount_fen), 0) FROM payments p
                                     WHERE p.order_id = NEW.id AND p.outcome = 'CLEARED'),
                       'refunded_fen', (SELECT coalesce(sum(r.amount_fen), 0)
                                          FROM refund_requests r
                                         WHERE r.order_id = NEW.id AND r.state = 'SUCCEEDED'),
                       'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                            'line_no', l.line_no, 'item_code', l.item_code,
                                            'amount_fen', l.amount_fen,
                                            'reference', l.reference) ORDER BY l.line_no), '[]')
                                   FROM order_lines l WHERE l.order_id = NEW.id)))
          FROM (SELECT 'evt_' || replace(gen_random_uuid()::text, '-', '') AS event_id) k
         WHERE EXISTS (SELECT 1 FROM subs)
        RETURNING id, order_id
    ), d AS (
        INSERT INTO webhook_deliveries (event_row, subscription_id, order_id)
        SELECT ev.id, subs.id, ev.order_id FROM ev CROSS JOIN subs
        RETURNING id
    )
    INSERT INTO tasks (kind, payload, dedupe_key)
    SELECT 'webhook.deliver', jsonb_build_object('delivery_id', d.id), 'webhook.deliver:' || d.id
      FROM d;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER orders_webhook_outbox AFTER UPDATE OF state ON orders FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
          AND (NEW.state IN ('SETTLED', 'REFUNDED', 'CANCELLED', 'EXPIRED')
               -- paid: from payable only (a failed refund puts REFUNDING back to CLEARED)
               OR (NEW.state = 'CLEARED' AND OLD.state IN ('OPEN', 'PAYING'))))
    EXECUTE FUNCTION tj_webhook_outbox();
