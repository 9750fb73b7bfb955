-- One cut-off for one bank: gathers every paid, unsettled line whose beneficiary account is due
-- (p_all: every account, whatever its schedule) into a new batch and returns its id, or NULL when
-- nothing is due. Serialized per bank by an advisory lock; the unique index settlement_items_live
-- is the proof. A daily account is cut once per business day, at its cut-off instant
-- (cutoff_local, Beijing time), and gathers the lines paid before that instant; real-time
-- accounts, and a cut-off of every account by hand, gather up to now. Since 0012; 0021 made daily
-- accounts cut once per day (docs/decisions/0022-daily-cutoff-once-per-day.md).

CREATE OR REPLACE FUNCTION tj_settlement_cutoff(
    p_bank text, p_now timestamptz, p_all boolean, p_actor text
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_local   timestamp := p_now AT TIME ZONE 'Asia/Shanghai';
    v_day     date := (p_now AT TIME ZONE 'Asia/Shanghai')::date;
    v_seq     int;
    v_msg     text;
    v_batch   bigint;
    v_n       int;
    v_total   bigint;
    v_lines   int;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tj_settlement_cutoff'), hashtext(p_bank));
    -- each account's latest cut-off instant at or before p_now: today's in Beijing time once
    -- its time has come, else yesterday's; real-time accounts (and p_all) are due up to now
    CREATE TEMP TABLE IF NOT EXISTS tj_due (code text, due_at timestamptz, daily boolean)
        ON COMMIT DROP;
    TRUNCATE tj_due;
    INSERT INTO tj_due
    SELECT b.code,
           CASE WHEN p_all OR b.settle_mode = 'realtime' THEN p_now
                ELSE ((v_day + b.cutoff_local)
                      - CASE WHEN v_local::time >= b.cutoff_local THEN interval '0'
                             ELSE interval '1 day' END) AT TIME ZONE 'Asia/Shanghai' END,
           NOT p_all AND b.settle_mode = 'daily'
      FROM beneficiaries b
     WHERE p_all OR b.settle_mode = 'realtime' OR b.cut_through IS NULL
        OR b.cut_through < ((v_day + b.cutoff_local)
                            - CASE WHEN v_local::time >= b.cutoff_local THEN interval '0'
                                   ELSE interval '1 day' END) AT TIME ZONE 'Asia/Shanghai';
    CREATE TEMP TABLE IF NOT EXISTS tj_cut (
        order_id bigint, line_no int, beneficiary_code text, amount_fen bigint, posting_id bigint
    ) ON COMMIT DROP;
    TRUNCATE tj_cut;
    INSERT INTO tj_cut
    SELECT l.order_id, l.line_no, l.beneficiary_code, l.amount_fen, p.id
      FROM order_lines l
      JOIN orders o ON o.id = l.order_id
      JOIN beneficiaries b ON b.code = l.beneficiary_code
      JOIN tj_due d ON d.code = b.code
      JOIN ledger_accounts a ON a.code = 'payable:' || l.beneficiary_code
      JOIN postings p ON p.order_id = l.order_id AND p.line_no = l.line_no
                     AND p.account_id = a.id AND p.amount_fen = -l.amount_fen
     WHERE l.settled_at IS NULL
       AND o.state IN ('CLEARED', 'SETTLED')
       AND o.cleared_at <= d.due_at
       AND b.bank_code IS NOT NULL AND b.payout_hold IS NULL AND b.active
       AND NOT EXISTS (SELECT 1 FROM refunded_lines r
                        WHERE r.order_id = l.order_id AND r.line_no = l.line_no)
       FOR UPDATE OF l;
    -- this cut-off instant is served for every daily account it was due for, lines or none
    UPDATE beneficiaries b SET cut_through = d.due_at
      FROM tj_due d WHERE d.code = b.code AND d.daily;
    SELECT count(DISTINCT beneficiary_code), coalesce(sum(amount_fen), 0), count(*)
      INTO v_n, v_total, v_lines FROM tj_cut;
    IF v_lines = 0 THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(max(seq), 0) + 1 INTO v_seq
      FROM settlement_batches WHERE bank = p_bank AND business_date = v_day;
    v_msg := 'TJ' || p_bank || to_char(v_day, 'YYYYMMDD') || lpad(v_seq::text, 3, '0');
    INSERT INTO settlement_batches (bank, business_date, seq, msg_id, cutoff_at, execution_date,
                                    instruction_count, total_fen, line_count, created_by)
    VALUES (p_bank, v_day, v_seq, v_msg, p_now, v_day, v_n, v_total, v_lines, p_actor)
    RETURNING id INTO v_batch;
    INSERT INTO settlement_instructions (batch_id, seq, end_to_end_id, beneficiary_code,
        creditor_name, creditor_account, creditor_bank_code, creditor_bank_name, amount_fen)
    SELECT v_batch, row_number() OVER (ORDER BY c.beneficiary_code),
           v_msg || 'E' || lpad((row_number() OVER (ORDER BY c.beneficiary_code))::text, 4, '0'),
           c.beneficiary_code, b.account_name, b.account_no, b.bank_code, b.bank_name, c.total
      FROM (SELECT beneficiary_code, sum(amount_fen) AS total FROM tj_cut
             GROUP BY beneficiary_code) c
      JOIN beneficiaries b ON b.code = c.beneficiary_code;
    INSERT INTO settlement_items (instruction_id, order_id, line_no, posting_id, amount_fen)
    SELECT i.id, c.order_id, c.line_no, c.posting_id, c.amount_fen
      FROM tj_cut c JOIN settlement_instructions i
        ON i.batch_id = v_batch AND i.beneficiary_code = c.beneficiary_code;
    UPDATE order_lines l SET settled_at = p_now
      FROM tj_cut c WHERE l.order_id = c.order_id AND l.line_no = c.line_no;
    INSERT INTO tasks (kind, payload, dedupe_key)
    VALUES ('settlement.files', jsonb_build_object('batch_id', v_batch),
            'settlement.files:' || v_batch);
    RETURN v_batch;
END $$;
