-- Why: capture and split in one round trip. A confirmed payment (from a callback or a query) is
-- recorded, split to every beneficiary's payable in one balanced journal entry, the order moved,
-- follow-up tasks queued, the change audited and announced (NOTIFY) -- all in one transaction,
-- by one call. Calling it again for the same acquirer transaction changes nothing and returns the
-- same outcome.

-- tj_capture is defined in clearing/db/sql/tj_capture.sql.
