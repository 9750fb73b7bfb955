-- Why: the citizen pays on their own phone (不见面缴费) from the link on a payment notice: in the
-- phone's browser (method 'h5': WeChat Pay H5, Alipay wap, UnionPay WAP) or inside WeChat
-- (method 'jsapi'). Such attempts are started by nobody on the staff (started_by stays NULL; a
-- shift counts the payment as the order's creator's, as for attempts from before 0017). The
-- receipt of an order paid that way is first printed by the payer's own phone, not by window
-- staff: receipt_prints.printed_by is NULL for such a print, and so is printed_by_kiosk (0025
-- required exactly one of the two; now at most one, neither meaning the payer's own phone).
-- Forward-only.

ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_method_check;
ALTER TABLE payment_attempts ADD CONSTRAINT payment_attempts_method_check
    CHECK (method IN ('qr', 'code', 'card', 'h5', 'jsapi'));

ALTER TABLE receipt_prints DROP CONSTRAINT receipt_prints_printer;
ALTER TABLE receipt_prints ADD CONSTRAINT receipt_prints_printer
    CHECK (printed_by IS NULL OR printed_by_kiosk IS NULL);
