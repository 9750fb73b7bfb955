-- Balances are derived from postings, never kept in a row that every capture would lock
-- (docs/decisions/0002-derived-balances.md). Since 0002.

CREATE OR REPLACE VIEW account_balances AS
SELECT a.id, a.code, a.name, a.kind, coalesce(sum(p.amount_fen), 0)::bigint AS balance_fen
  FROM ledger_accounts a LEFT JOIN postings p ON p.account_id = a.id
 GROUP BY a.id;
