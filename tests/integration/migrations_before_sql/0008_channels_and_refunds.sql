-- Why: every way a citizen pays at the window, and refunds staff ask for.
-- Attempts now say how the citizen pays (QR, payment code, card on a terminal) and, for payment
-- codes and cards, by when an unknown outcome must be reversed so that nobody is charged for an
-- order we consider unpaid. Payments keep the channel's details (card mask, RRN, ...) and may be
-- learned synchronously (a payment code answered SUCCESS at once). Refunds are requested by a
-- supervisor and approved by a different finance user; each refunded line is reversed exactly.

ALTER TABLE payment_attempts
    ADD COLUMN method text NOT NULL DEFAULT 'qr' CHECK (method IN ('qr', 'code', 'card')),
    ADD COLUMN terminal_id text,
    ADD COLUMN auth_code_masked text,
    ADD COLUMN reverse_after timestamptz,
    ADD CONSTRAINT payment_attempts_card_has_terminal
        CHECK (method <> 'card' OR terminal_id IS NOT NULL);
ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_state_check;
ALTER TABLE payment_attempts ADD CONSTRAINT payment_attempts_state_check
    CHECK (state IN ('CREATING', 'OPEN', 'SUCCEEDED', 'CLOSED', 'FAILED', 'REVERSED'));

ALTER TABLE payments DROP CONSTRAINT payments_source_check;
ALTER TABLE payments ADD CONSTRAINT payments_source_check
    CHECK (source IN ('notify', 'query', 'sync'));
ALTER TABLE payments ADD COLUMN details jsonb NOT NULL DEFAULT '{}';

-- set by settlement (paid out to the beneficiary); a refund of a settled line is clawed back
ALTER TABLE order_lines ADD COLUMN settled_at timestamptz;

CREATE TABLE refund_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id),
    payment_id      bigint NOT NULL REFERENCES payments (id),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    state           text NOT NULL DEFAULT 'REQUESTED'
                    CHECK (state IN ('REQUESTED', 'REJECTED', 'APPROVED', 'PROCESSING',
                                     'ABNORMAL', 'SUCCEEDED', 'FAILED')),
    requested_by    bigint NOT NULL REFERENCES principals (id),
    decided_by      bigint REFERENCES principals (id),
    decision_note   text,
    out_refund_no   text NOT NULL,
    provider_refund_id text,
    entry_id        bigint REFERENCES journal_entries (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refund_requests_out_refund_no_key UNIQUE (out_refund_no),
    -- the four-eyes rule lives in the database too
    CONSTRAINT refund_requests_two_people CHECK (decided_by IS NULL OR decided_by <> requested_by),
    CONSTRAINT refund_requests_posted_once CHECK ((state = 'SUCCEEDED') = (entry_id IS NOT NULL))
);
CREATE INDEX refund_requests_order ON refund_requests (order_id);

CREATE TABLE refund_request_lines (
    refund_id   bigint NOT NULL REFERENCES refund_requests (id),
    order_id    bigint NOT NULL,
    line_no     int NOT NULL,
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (refund_id, line_no),
    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);

-- a line can be refunded once: no two live or finished requests may cover it
CREATE TABLE refunded_lines (
    order_id    bigint NOT NULL,
    line_no     int NOT NULL,
    refund_id   bigint NOT NULL REFERENCES refund_requests (id),
    PRIMARY KEY (order_id, line_no)
);

INSERT INTO ledger_accounts (code, name, kind)
SELECT 'clawback:' || code, '应追回 ' || name, 'asset' FROM beneficiaries
ON CONFLICT (code) DO NOTHING;

CREATE OR REPLACE FUNCTION tj_beneficiary_account() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_accounts (code, name, kind)
    VALUES ('payable:' || NEW.code, '应付 ' || NEW.name, 'liability'),
           ('clawback:' || NEW.code, '应追回 ' || NEW.name, 'asset')
    ON CONFLICT (code) DO NOTHING;
    RETURN NEW;
END $$;

-- Capture decides, in one place that later migrations can replace alone, whether a payment may
-- be split. New here: a payment that reaches us for an attempt we already reversed (a payment
-- code or card sale whose outcome we gave up waiting for) is never split: it goes to suspense,
-- and the refund task finds it already returned by the reversal.
CREATE FUNCTION tj_capture_reason(
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

DROP FUNCTION tj_capture(text, text, text, bigint, timestamptz, text, text);

CREATE FUNCTION tj_capture(
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
