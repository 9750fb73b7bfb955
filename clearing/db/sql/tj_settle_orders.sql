-- An order is SETTLED only when every leg is confirmed by its authority *and* every line has been
-- paid out to its beneficiary (its instruction booked by the bank). Both events call this one
-- function, so the rule lives in one place; it moves only CLEARED orders, so calling it twice, or
-- for an order not yet complete, changes nothing. Since 0014.

CREATE OR REPLACE FUNCTION tj_settle_orders(p_order_ids bigint[])
RETURNS TABLE (order_no text, office text, window_no text)
LANGUAGE sql AS $$
    UPDATE orders o SET state = 'SETTLED', updated_at = now()
     WHERE o.id = ANY(p_order_ids) AND o.state = 'CLEARED'
       AND NOT EXISTS (SELECT 1 FROM order_lines l
                        WHERE l.order_id = o.id AND l.reference IS NOT NULL
                          AND l.confirm_state IS DISTINCT FROM 'CONFIRMED')
       AND NOT EXISTS (SELECT 1 FROM order_lines l
                        WHERE l.order_id = o.id AND NOT EXISTS (
                            SELECT 1 FROM settlement_items s
                              JOIN settlement_instructions i ON i.id = s.instruction_id
                             WHERE s.order_id = l.order_id AND s.line_no = l.line_no
                               AND s.released_at IS NULL AND i.state = 'BOOKED'))
    RETURNING o.order_no, o.office, o.window_no
$$;
