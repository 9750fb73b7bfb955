-- Capture and split in one round trip. A confirmed payment (from a callback, a query or a
-- synchronous answer) is recorded, split to every beneficiary's payable in one balanced journal
-- entry, the order moved, follow-up tasks queued and the change audited, all in one transaction
-- by one call; the service announces the change after commit (docs/decisions/
-- 0004-announce-after-commit.md). Calling it again for the same acquirer transaction changes
-- nothing and returns the same outcome. Whether a payment may be split: tj_capture_reason.
-- Since 0004; 0007 returned office and window instead of notifying; 0008 added p_details.

-- the signature it had before 0008 (a database migrated before then still has it)
DROP FUNCTION IF EXISTS tj_capture(text, text, text, bigint, timestamptz, text, text);

CREATE OR REPLACE FUNCTION tj_capture(
    p_provider     text,
    p_txn_id       text,
    p_out_trade_no text,
    p_amount_fen   bigint,
    p_paid_at      timestamptz,
    p_source       text,
    p_request_id   text DEFAULT NULL,
    p_details      jsonb DEFAULT '{}'
) RETURNS TABLE (payment_id bigint, outcome text, reason text, order_no text,
                 order_state text, first_time boolean, office text, window_no text)
LANGUAGE plpgsql AS $$
DECLARE
    v_pay      payments%ROWTYPE;
    v_att      payment_attempts%ROWTYPE;
    v_ord      orders%ROWTYPE;
    v_recv     bigint;
    v_susp     bigint;
    v_entry    bigint;
    v_outcome  text;
    v_reason   text;
    v_pid      bigint;
BEGIN
    IF p_amount_fen IS NULL OR p_amount_fen <= 0 THEN
        RAISE EXCEPTION 'capture amount must be positive fen, got %', p_amount_fen
            USING ERRCODE = 'check_violation', CONSTRAINT = 'capture_amount_positive';
    END IF;
    -- duplicates of one acquirer transaction wait here for each other, and only for each other
    PERFORM pg_advisory_xact_lock(hashtextextended(p_provider || ':' || p_txn_id, 7001));

    SELECT * INTO v_pay FROM payments p
     WHERE p.provider = p_provider AND p.provider_txn_id = p_txn_id;
    IF FOUND THEN
        RETURN QUERY SELECT v_pay.id, v_pay.outcome, v_pay.reason, o.order_no, o.state, false,
                            o.office, o.window_no
                       FROM (SELECT 1) x LEFT JOIN orders o ON o.id = v_pay.order_id;
        RETURN;
    END IF;

    SELECT * INTO v_att FROM payment_attempts a
     WHERE a.out_trade_no = p_out_trade_no AND a.provider = p_provider;
    IF FOUND THEN
        -- two channels paying one order race here; the first to lock the order wins
        SELECT * INTO v_ord FROM orders o WHERE o.id = v_att.order_id FOR UPDATE;
    END IF;

    SELECT id INTO v_recv FROM ledger_accounts WHERE code = 'receivable:' || p_provider;
    IF v_recv IS NULL THEN
        RAISE EXCEPTION 'no receivable account for acquirer %', p_provider
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'capture_known_acquirer';
    END IF;

    v_reason := tj_capture_reason(v_att.id IS NOT NULL, v_att.state, v_ord.state, v_ord.total_fen,
                                  p_amount_fen);
    v_outcome := CASE WHEN v_reason IS NULL THEN 'CLEARED' ELSE 'SUSPENSE' END;

    INSERT INTO journal_entries (kind, order_id, memo)
    VALUES (CASE WHEN v_reason IS NULL THEN 'CAPTURE' ELSE 'SUSPENSE' END, v_ord.id,
            p_provider || ' ' || p_txn_id)
    RETURNING id INTO v_entry;

    IF v_reason IS NULL THEN
        -- debit the acquirer receivable with the total, credit each beneficiary line by line
        INSERT INTO postings (entry_id, account_id, amount_fen, order_id, line_no)
        SELECT v_entry, v_recv, p_amount_fen, v_ord.id, NULL
        UNION ALL
        SELECT v_entry, la.id, -l.amount_fen, l.order_id, l.line_no
          FROM order_lines l
          JOIN ledger_accounts la ON la.code = 'payable:' || l.beneficiary_code
         WHERE l.order_id = v_ord.id;
    ELSE
        SELECT id INTO v_susp FROM ledger_accounts WHERE code = 'suspense';
        INSERT INTO postings (entry_id, account_id, amount_fen, order_id)
        VALUES (v_entry, v_recv, p_amount_fen, v_ord.id),
               (v_entry, v_susp, -p_amount_fen, v_ord.id);
    END IF;

    INSERT INTO payments (provider, provider_txn_id, out_trade_no, order_id, attempt_id,
                          amount_fen, outcome, reason, source, paid_at, entry_id, details)
    VALUES (p_provider, p_txn_id, p_out_trade_no, v_ord.id, v_att.id, p_amount_fen, v_outcome,
            v_reason, p_source, p_paid_at, v_entry, coalesce(p_details, '{}'))
    RETURNING id INTO v_pid;

    IF v_att.id IS NOT NULL AND v_att.state <> 'REVERSED' THEN
        UPDATE payment_attempts SET state = 'SUCCEEDED', updated_at = now()
         WHERE id = v_att.id;
    END IF;

    IF v_reason IS NULL THEN
        UPDATE orders SET state = 'CLEARED', cleared_at = now(), updated_at = now()
         WHERE id = v_ord.id;
        v_ord.state := 'CLEARED';
        -- other attempts of this order must be closed at their acquirers
        INSERT INTO tasks (kind, payload, dedupe_key)
        SELECT 'attempt.close', jsonb_build_object('attempt_id', a.id), 'attempt.close:' || a.id
          FROM payment_attempts a
         WHERE a.order_id = v_ord.id AND a.id <> v_att.id AND a.state IN ('CREATING', 'OPEN')
        ON CONFLICT DO NOTHING;
    ELSE
        IF v_reason IN ('AMOUNT_MISMATCH', 'ORDER_NOT_OPEN') THEN
            UPDATE orders SET state = 'EXCEPTION', exception_reason = v_reason, updated_at = now()
             WHERE id = v_ord.id;
            v_ord.state := 'EXCEPTION';
        END IF;
        -- money we cannot attribute goes back to the citizen
        INSERT INTO tasks (kind, payload, dedupe_key)
        VALUES ('payment.refund', jsonb_build_object('payment_id', v_pid),
                'payment.refund:' || v_pid);
    END IF;

    INSERT INTO audit_log (actor, action, object_type, object_id, detail, request_id)
    VALUES ('acquirer:' || p_provider,
            CASE WHEN v_reason IS NULL THEN 'payment.cleared' ELSE 'payment.suspense' END,
            'order', coalesce(v_ord.order_no, p_out_trade_no),
            jsonb_build_object('payment_id', v_pid, 'provider_txn_id', p_txn_id,
                               'amount_fen', p_amount_fen, 'reason', v_reason,
                               'source', p_source, 'order_state', v_ord.state),
            p_request_id);

    RETURN QUERY SELECT v_pid, v_outcome, v_reason, v_ord.order_no, v_ord.state, true,
                        v_ord.office, v_ord.window_no;
END $$;
