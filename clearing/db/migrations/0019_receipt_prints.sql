-- Why: a receipt's QR code must be short enough to scan from paper (≤ 80 characters), so it can
-- no longer carry the receipt's facts itself; it names a stored print instead (receipt number +
-- a short MAC of the print's facts). Each print keeps what it claimed — which lines were paid,
-- which already refunded, the net paid — so verification can compare it with the ledger line by
-- line, and reprints (补打) are numbered per order, attributed and kept, never edited.

CREATE TABLE receipt_prints (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- order number, a dash and the print number: TJ20261207A1B2C3D4E5F6-2 is its first reprint
    receipt_no  text NOT NULL UNIQUE CHECK (receipt_no ~ '^TJ[0-9]{8}[0-9A-F]{12}-[0-9]{1,3}$'),
    order_id    bigint NOT NULL REFERENCES orders (id),
    print_no    int NOT NULL CHECK (print_no BETWEEN 1 AND 999),
    -- the facts the receipt states, exactly as MACed (see clearing/service/receipts.py)
    facts       jsonb NOT NULL,
    paid_fen    bigint NOT NULL CHECK (paid_fen >= 0),
    reason      text CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 200),
    printed_by  bigint NOT NULL REFERENCES principals (id),
    printed_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT receipt_prints_order_print UNIQUE (order_id, print_no),
    -- the first print is the original; every later one is a reprint and says why
    CONSTRAINT receipt_prints_reprint_reason CHECK ((print_no = 1) = (reason IS NULL))
);

-- never changed or removed: tj_receipt_prints_append_only (clearing/db/sql)

-- which lines of an order were refunded, read from the ledger at verification time; partial, so
-- the capture hot path (which dropped journal_entries_order in 0006) pays nothing for it
CREATE INDEX journal_entries_refund_order ON journal_entries (order_id) WHERE kind = 'REFUND';
