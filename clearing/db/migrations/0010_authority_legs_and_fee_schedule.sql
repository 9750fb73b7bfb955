-- Why: each paid line (leg) must be confirmed to the authority it belongs to, which answers with
-- its own proof (tax completion certificate, fiscal e-bill, fund deposit certificate); an order is
-- SETTLED only when every leg is confirmed. A confirmation is queued with the payment itself (a
-- trigger on cleared payments), so that no capture can forget it. An authority's reference can be
-- paid once: it is held by one open or paid order at a time. The registration fee schedule is
-- local, versioned data with effective dates.

ALTER TABLE order_lines
    ADD COLUMN confirm_state text CHECK (confirm_state IN ('PENDING', 'CONFIRMED', 'REFUSED')),
    ADD COLUMN proof_no text,
    ADD COLUMN proof jsonb,
    ADD COLUMN confirmed_at timestamptz,
    ADD COLUMN refusal text;

-- The confirmations are queued by tj_queue_leg_confirmations (clearing/db/sql).

CREATE TABLE held_references (
    authority   text NOT NULL,
    reference   text NOT NULL,
    order_id    bigint NOT NULL REFERENCES orders (id),
    held_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (authority, reference)
);
CREATE INDEX held_references_order ON held_references (order_id);

-- tj_release_references (clearing/db/sql): an expired or cancelled order lets go of its
-- references; a paid one keeps them for good.

CREATE TABLE registration_fee_schedules (
    version         int PRIMARY KEY,
    effective_from  date NOT NULL,
    -- fen per matter (件) and per extra certificate (本)
    residential_fen      bigint NOT NULL CHECK (residential_fen >= 0),
    non_residential_fen  bigint NOT NULL CHECK (non_residential_fen >= 0),
    extra_certificate_fen bigint NOT NULL CHECK (extra_certificate_fen >= 0),
    -- who pays nothing under this version, e.g. small and micro enterprises
    exemptions      text[] NOT NULL DEFAULT '{}',
    basis           text NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT registration_fee_schedules_effective_key UNIQUE (effective_from)
);
-- append-only: tj_append_only (clearing/db/sql)

INSERT INTO registration_fee_schedules (version, effective_from, residential_fen,
    non_residential_fen, extra_certificate_fen, exemptions, basis, created_by)
VALUES (1, '2016-10-01', 8000, 55000, 1000, '{small_micro_enterprise}',
        '发改价格规〔2016〕2559号：住宅类不动产登记每件80元，非住宅类每件550元，每增加一本证书加收工本费10元；小微企业免收',
        'migration');
