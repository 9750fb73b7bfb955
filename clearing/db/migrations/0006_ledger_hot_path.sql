-- Why: every capture writes one entry and its postings, and the benchmark showed the per-row
-- machinery costing more than the writes: eight foreign-key checks per capture (four of them
-- locking the one hot receivable account row FOR KEY SHARE, which makes every concurrent capture
-- create a MultiXact) and a balance query per posting. The same guarantees, cheaper:
--   * ledger accounts and journal entries are never deleted (triggers), so a posting's account and
--     entry need no lock to stay valid; one statement-level check per INSERT verifies both exist
--     and that the entry belongs to the inserting transaction (nobody adds postings to an entry
--     someone else already committed);
--   * the balance is checked once per entry at commit (deferred constraint trigger on
--     journal_entries), not once per posting.
-- Also: indexes no query needs are dropped, so that updating an order's state is a HOT update.

ALTER TABLE postings DROP CONSTRAINT postings_entry_id_fkey;
ALTER TABLE postings DROP CONSTRAINT postings_account_id_fkey;
-- tj_append_only now also guards ledger accounts, tj_ledger_account_fixed keeps their identity,
-- tj_postings_valid checks each INSERT statement, and tj_entry_must_balance is a constraint
-- trigger on journal_entries instead of postings (all in clearing/db/sql).

DROP INDEX journal_entries_order;
DROP INDEX payments_recorded;
-- expiry is driven by 'order.expire' tasks; without this partial index a state change is HOT
DROP INDEX orders_open_expiry;
