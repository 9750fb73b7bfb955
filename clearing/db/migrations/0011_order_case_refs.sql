-- Why: an amount can change at its authority between the lookup and the payment (a house
-- re-measured, a tax re-assessed). The order keeps the references it was looked up with, so that
-- they can be asked again before the citizen is shown a QR code or charged.

ALTER TABLE orders ADD COLUMN case_refs jsonb;
