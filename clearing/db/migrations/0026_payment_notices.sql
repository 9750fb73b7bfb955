-- Why: payment notices (缴费通知书). A window hands the payer a printed notice with a link and QR
-- code to the mobile payment page, and may send the link by SMS. Every issue is a row here (who,
-- when, until when the link works), so a notice PDF is only ever made of an issue that was
-- recorded and audited. A send by SMS is part of its issue: its state and the provider's answer
-- (SerialNo, Code) are kept on the row, so that a retried request (same Idempotency-Key) answers
-- what happened instead of sending a second message, and staff can see whether it went out.
-- The phone number is personal data: stored encrypted by the service (AES-256-GCM, like the
-- payer's name) and as a mask for display only. Forward-only.

CREATE TABLE payment_notices (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id          bigint NOT NULL REFERENCES orders (id),
    issued_by         bigint NOT NULL REFERENCES principals (id),
    issued_at         timestamptz NOT NULL DEFAULT now(),
    -- the link's end, which is the order's own expiry at the moment of issue
    link_expires_at   timestamptz NOT NULL,
    -- the caller's Idempotency-Key and a hash of its body; NULL for a plain re-issue
    request_key       text CHECK (request_key IS NULL OR length(request_key) BETWEEN 8 AND 128),
    request_hash      bytea,
    sms_phone_enc     bytea,
    sms_phone_masked  text,
    -- SENDING until the provider answers; UNKNOWN when it did not (a timeout: it may have sent)
    sms_state         text CHECK (sms_state IN ('SENDING', 'SENT', 'FAILED', 'UNKNOWN')),
    sms_provider      text,
    sms_serial_no     text,
    sms_code          text,
    sms_message_zh    text,
    sms_updated_at    timestamptz,
    CONSTRAINT payment_notices_request_key UNIQUE (issued_by, request_key),
    CONSTRAINT payment_notices_sms_whole CHECK (
        (sms_state IS NULL) = (sms_phone_enc IS NULL)
        AND (sms_phone_enc IS NULL) = (sms_phone_masked IS NULL)
    ),
    CONSTRAINT payment_notices_key_hash CHECK ((request_key IS NULL) = (request_hash IS NULL))
);
CREATE INDEX payment_notices_by_order ON payment_notices (order_id, id DESC);
