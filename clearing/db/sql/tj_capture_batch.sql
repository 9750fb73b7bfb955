-- A batch of captures in a few statements instead of a dozen per capture (decision 0005 sends
-- concurrent notifications together). The common case — a new payment, for a known attempt, of
-- an open order, paid in full, the only payment of that order in the batch — is written set-wise
-- with exactly the rows tj_capture writes. Every other notification (a duplicate, a suspense
-- case, two payments of one order, a bad amount) goes through tj_capture itself, one by one, so
-- its rules stay in one place. The advisory locks on every (acquirer, transaction) are taken
-- first, in one order, and the orders are locked before they are read for the decision: the same
-- serialization tj_capture relies on. Rows come back numbered as they went in (n). Since 0028.

CREATE OR REPLACE FUNCTION tj_capture_batch(
    p_provider     text[],
    p_txn_id       text[],
    p_out_trade_no text[],
    p_amount_fen   bigint[],
    p_paid_at      timestamptz[],
    p_source       text[],
    p_request_id   text[],
    p_details      jsonb[]
) RETURNS TABLE (n bigint, payment_id bigint, outcome text, reason text, order_no text,
                 order_state text, first_time boolean, office text, window_no text)
LANGUAGE plpgsql AS $$
DECLARE
    v_fast bigint[];
    r      record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(u.provider || ':' || u.txn, 7001))
       FROM (SELECT * FROM unnest(p_provider, p_txn_id) AS x(provider, txn)
              ORDER BY provider, txn) u;

    -- a new statement, so a new snapshot: payments committed by whoever held a lock before us
    -- are seen here
    SELECT coalesce(array_agg(c.n), '{}') INTO v_fast FROM (
        SELECT u.n
          FROM unnest(p_provider, p_txn_id, p_out_trade_no, p_amount_fen)
               WITH ORDINALITY AS u(provider, txn, otn, amount, n)
          JOIN payment_attempts a ON a.out_trade_no = u.otn AND a.provider = u.provider
          JOIN orders o ON o.id = a.order_id
         WHERE u.amount > 0
           AND a.state <> 'REVERSED'
           AND o.state IN ('OPEN', 'PAYING') AND o.total_fen = u.amount
           AND EXISTS (SELECT 1 FROM ledger_accounts la WHERE la.code = 'receivable:' || u.provider)
           AND NOT EXISTS (SELECT 1 FROM payments p
                            WHERE p.provider = u.provider AND p.provider_txn_id = u.txn)
           -- one notification per transaction and per order in this batch, else one by one
           AND (SELECT count(*) FROM unnest(p_provider, p_txn_id) AS d(provider, txn)
                 WHERE d.provider = u.provider AND d.txn = u.txn) = 1
           AND (SELECT count(*) FROM unnest(p_provider, p_out_trade_no) AS d(provider, otn)
                  JOIN payment_attempts d_a ON d_a.out_trade_no = d.otn
                                           AND d_a.provider = d.provider
                 WHERE d_a.order_id = a.order_id) = 1
         ORDER BY o.id
           FOR UPDATE OF o
    ) c;

    IF cardinality(v_fast) > 0 THEN
        RETURN QUERY
        WITH f AS (
            SELECT u.n, u.provider, u.txn, u.otn, u.amount, u.paid_at, u.source, u.rid, u.details,
                   a.id AS attempt_id, o.id AS order_id, o.order_no, o.office, o.window_no,
                   (SELECT la.id FROM ledger_accounts la
                     WHERE la.code = 'receivable:' || u.provider) AS recv_id
              FROM unnest(p_provider, p_txn_id, p_out_trade_no, p_amount_fen, p_paid_at, p_source,
                          p_request_id, p_details)
                   WITH ORDINALITY AS u(provider, txn, otn, amount, paid_at, source, rid, details, n)
              JOIN payment_attempts a ON a.out_trade_no = u.otn AND a.provider = u.provider
              JOIN orders o ON o.id = a.order_id
             WHERE u.n = ANY (v_fast)
        ), entry AS (
            INSERT INTO journal_entries (kind, order_id, memo)
            SELECT 'CAPTURE', f.order_id, f.provider || ' ' || f.txn FROM f
            RETURNING id, journal_entries.order_id
        ), posted AS (
            -- debit the acquirer receivable with the total, credit each beneficiary line by line
            INSERT INTO postings (entry_id, account_id, amount_fen, order_id, line_no)
            SELECT e.id, f.recv_id, f.amount, f.order_id, NULL
              FROM f JOIN entry e ON e.order_id = f.order_id
            UNION ALL
            SELECT e.id, la.id, -l.amount_fen, l.order_id, l.line_no
              FROM entry e
              JOIN order_lines l ON l.order_id = e.order_id
              JOIN ledger_accounts la ON la.code = 'payable:' || l.beneficiary_code
        ), paid AS (
            INSERT INTO payments (provider, provider_txn_id, out_trade_no, order_id, attempt_id,
                                  amount_fen, outcome, reason, source, paid_at, entry_id, details)
            SELECT f.provider, f.txn, f.otn, f.order_id, f.attempt_id, f.amount, 'CLEARED', NULL,
                   f.source, f.paid_at, e.id, coalesce(f.details, '{}')
              FROM f JOIN entry e ON e.order_id = f.order_id
            RETURNING id, payments.order_id
        ), attempt AS (
            UPDATE payment_attempts a SET state = 'SUCCEEDED', updated_at = now()
              FROM f WHERE a.id = f.attempt_id
        ), cleared AS (
            UPDATE orders o SET state = 'CLEARED', cleared_at = now(), updated_at = now()
              FROM f WHERE o.id = f.order_id
        ), closing AS (
            -- other attempts of these orders must be closed at their acquirers
            INSERT INTO tasks (kind, payload, dedupe_key)
            SELECT 'attempt.close', jsonb_build_object('attempt_id', a.id), 'attempt.close:' || a.id
              FROM f JOIN payment_attempts a ON a.order_id = f.order_id
             WHERE a.id <> f.attempt_id AND a.state IN ('CREATING', 'OPEN')
            ON CONFLICT DO NOTHING
        ), audited AS (
            INSERT INTO audit_log (actor, action, object_type, object_id, detail, request_id)
            SELECT 'acquirer:' || f.provider, 'payment.cleared', 'order', f.order_no,
                   jsonb_build_object('payment_id', p.id, 'provider_txn_id', f.txn,
                                      'amount_fen', f.amount, 'reason', NULL::text,
                                      'source', f.source, 'order_state', 'CLEARED'),
                   f.rid
              FROM f JOIN paid p ON p.order_id = f.order_id
        )
        SELECT f.n, p.id, 'CLEARED'::text, NULL::text, f.order_no, 'CLEARED'::text, true,
               f.office, f.window_no
          FROM f JOIN paid p ON p.order_id = f.order_id;
    END IF;

    -- everything else, one by one, in the batch's order
    FOR r IN SELECT u.*
               FROM unnest(p_provider, p_txn_id, p_out_trade_no, p_amount_fen, p_paid_at,
                           p_source, p_request_id, p_details)
                    WITH ORDINALITY AS u(provider, txn, otn, amount, paid_at, source, rid,
                                         details, n)
              WHERE NOT (u.n = ANY (v_fast))
              ORDER BY u.n
    LOOP
        RETURN QUERY SELECT r.n, c.* FROM tj_capture(r.provider, r.txn, r.otn, r.amount,
                                                      r.paid_at, r.source, r.rid, r.details) c;
    END LOOP;
END $$;
