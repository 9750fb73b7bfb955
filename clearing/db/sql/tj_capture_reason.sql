-- Capture decides, in this one place, whether a payment may be split; NULL means it may, anything
-- else is why it goes to suspense. A payment that reaches us for an attempt we already reversed
-- (a payment code or card sale whose outcome we gave up waiting for) is never split: it goes to
-- suspense, and the refund task finds it already returned by the reversal. Since 0008.

CREATE OR REPLACE FUNCTION tj_capture_reason(
    p_has_attempt   boolean,
    p_attempt_state text,
    p_order_state   text,
    p_order_total   bigint,
    p_amount_fen    bigint
) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN NOT p_has_attempt THEN 'ORDER_UNKNOWN'
        WHEN p_attempt_state = 'REVERSED' THEN 'ATTEMPT_REVERSED'
        WHEN p_order_state IN ('OPEN', 'PAYING') AND p_amount_fen = p_order_total THEN NULL
        WHEN p_order_state IN ('OPEN', 'PAYING') THEN 'AMOUNT_MISMATCH'
        WHEN p_order_state IN ('EXPIRED', 'CANCELLED') THEN 'ORDER_NOT_OPEN'
        ELSE 'ALREADY_PAID'
    END
$$;
