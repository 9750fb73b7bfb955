-- Why: a capture cost PostgreSQL about twice a TPC-B transaction, and most of it was rows and
-- index entries that no guarantee needs written on the capture path (measured per capture in
-- docs/decisions/0033-capture-cost.md). The same guarantees, fewer writes:
--   * one leg-confirmation task per order instead of one per leg; the worker confirms the
--     order's PENDING legs concurrently (clearing/workers/legs.py) and still retries each until
--     its authority answers. Tasks queued one per leg before this migration still run.
--   * postings: the primary key leads with the entry, so it serves the per-entry balance check
--     and the entry's lookups; the separate index on entry_id goes (one index entry fewer per
--     posting). Posting ids stay unique: they are GENERATED ALWAYS and postings append-only.
--   * audit_log: the sequence is unique among sealed rows through a partial index, so an
--     unsealed row (every new one) adds no entry for its NULL seq.
--   * orders, payment attempts and order lines leave room on each page, so that the state
--     changes a capture makes (no indexed column changes) are HOT updates: no new index entries.
--     It applies to pages written from now on.

ALTER TABLE postings DROP CONSTRAINT postings_pkey;
ALTER TABLE postings ADD CONSTRAINT postings_pkey PRIMARY KEY (entry_id, id);
DROP INDEX postings_entry;

ALTER TABLE audit_log DROP CONSTRAINT audit_log_seq_key;
CREATE UNIQUE INDEX audit_log_seq_key ON audit_log (seq) WHERE seq IS NOT NULL;

ALTER TABLE orders SET (fillfactor = 70);
ALTER TABLE payment_attempts SET (fillfactor = 80);
ALTER TABLE order_lines SET (fillfactor = 80);

-- Leg confirmations are queued once per statement that records payments, not once per
-- payment: tj_queue_leg_confirmations (clearing/db/sql).

-- A batch of captures in a few statements: tj_capture_batch (clearing/db/sql).
