-- Why: an order is SETTLED only when every leg is confirmed by its authority *and* every line
-- has been paid out to its beneficiary (its instruction booked by the bank). Both events call
-- this one function, so the rule lives in one place; it moves only CLEARED orders, so calling
-- it twice, or for an order not yet complete, changes nothing.

-- tj_settle_orders: clearing/db/sql/tj_settle_orders.sql.
