-- Why: an append-only, hash-chained record of every state change and staff action.
-- Rows are written by the transaction that makes the change and sealed into the chain shortly
-- after by one sealer (tj_audit_seal), so that writers never serialize on the chain's head
-- (docs/decisions/0003-audit-sealing.md). A sealed row can never change; nothing can be deleted.

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    action       text NOT NULL,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    request_id   text,
    seq          bigint,
    prev_hash    bytea,
    hash         bytea,
    CONSTRAINT audit_log_seq_key UNIQUE (seq)
);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

-- Defined in clearing/db/sql: tj_audit_canonical (what a row's hash covers), tj_audit_guard
-- (append-only but for sealing) and tj_audit_seal (the sealer).
