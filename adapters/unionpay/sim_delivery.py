"""What the UnionPay simulator tells a merchant: a transaction's fields, as query answers show them
and as the back notification carries them; ``SimState`` signs each form POST to backUrl and
``simkit.notify`` resends it on UnionPay's schedule until the merchant answers HTTP 200 or 302."""

from __future__ import annotations

from adapters.simkit.notify import Notice
from adapters.unionpay import wire
from adapters.unionpay.sim_state import RESP_MSG, SimState, Txn


def txn_fields(state: SimState, txn: Txn) -> dict[str, str]:
    """A transaction as query answers and notifications show it (unsigned)."""
    fields = {
        "version": wire.VERSION,
        "encoding": wire.ENCODING,
        "signMethod": wire.SIGN_METHOD_RSA,
        "txnType": txn.txn_type,
        "txnSubType": txn.txn_sub_type,
        "bizType": txn.biz_type,
        "accessType": wire.ACCESS_MERCHANT,
        "merId": state.keys.mer_ids[0],
        "orderId": txn.order_id,
        "txnTime": txn.txn_time,
        "txnAmt": wire.fen_text(txn.amount_fen),
        "currencyCode": wire.CURRENCY_CNY,
    }
    if txn.query_id is not None:
        fields["queryId"] = txn.query_id
    if txn.completed_at is not None and txn.trace_no is not None:
        fields["traceNo"] = txn.trace_no
        fields["traceTime"] = txn.completed_at.astimezone(wire.BEIJING).strftime("%m%d%H%M%S")
    if txn.state == "SUCCESS" and txn.settle_date is not None:
        fields["settleDate"] = wire.mmdd(txn.settle_date)
        fields["settleAmt"] = wire.fen_text(txn.amount_fen)
        fields["settleCurrencyCode"] = wire.CURRENCY_CNY
    if txn.acc_no:
        fields["accNo"] = txn.acc_no
        fields["payCardType"] = "01"
        fields["payType"] = "0002"
    if txn.orig_query_id:
        fields["origQryId"] = txn.orig_query_id
    if txn.req_reserved:
        fields["reqReserved"] = txn.req_reserved
    return fields


def notification_for(state: SimState, txn: Txn) -> Notice:
    """The back notification of a transaction that reached its final result."""
    fields = txn_fields(state, txn)
    fields["respCode"] = txn.result_code
    fields["respMsg"] = RESP_MSG.get(txn.result_code, RESP_MSG["01"])
    notification = Notice(
        id=f"{txn.query_id}:{txn.txn_type}",
        url=txn.back_url,
        payload=fields,
        label=fields["respCode"],
    )
    txn.notifications.append(notification)
    return notification


def notify(state: SimState, txn: Txn) -> None:
    """Start delivering the notification of ``txn`` in the background."""
    state.send(notification_for(state, txn))
