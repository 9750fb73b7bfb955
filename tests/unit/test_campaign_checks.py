"""The fault campaign's judgements (tests/bench/campaign.py): what counts as a payment lost or
doubled, a leg confirmed exactly once, reconciliation finding exactly what was injected."""

from __future__ import annotations

from tests.bench.campaign import plan
from tests.cluster.books import Expected, compare_findings, judge_legs, judge_money
from tests.cluster.traffic import channel_kept


def test_money_held_by_a_channel_and_unknown_to_us_is_lost() -> None:
    check = judge_money(
        {"O1": "CLEARED", "O2": "CLEARED"},
        [("O1", "T1"), ("O2", "T2")],
        kept={"T1", "T2"},
        payments=[("O1", "T1", "CLEARED")],
    )
    assert check.lost == ["T2"]
    assert check.kept_at_channels == 2 and check.recorded == 1
    assert check.doubled == []


def test_an_order_paid_twice_at_the_channels_is_doubled_unless_one_was_given_back() -> None:
    orders = {"O1": "CLEARED"}
    attempts = [("O1", "T1"), ("O1", "T2")]
    recorded = [("O1", "T1", "CLEARED"), ("O1", "T2", "SUSPENSE")]
    assert judge_money(orders, attempts, {"T1", "T2"}, recorded).doubled == ["O1"]
    # the second payment refunded: the channel no longer holds it
    assert judge_money(orders, attempts, {"T1"}, recorded).doubled == []
    # cleared twice in our books is doubled too, whatever the channels say
    twice = [("O1", "T1", "CLEARED"), ("O1", "T2", "CLEARED")]
    assert judge_money(orders, attempts, {"T1"}, twice).doubled == ["O1"]


def test_attempts_that_never_took_money_are_neither_lost_nor_paid() -> None:
    check = judge_money(
        {"O1": "CLEARED", "O2": "OPEN"},
        [("O1", "T1"), ("O1", "T9"), ("O2", "T2")],
        kept={"T1"},
        payments=[("O1", "T1", "CLEARED")],
    )
    assert check.lost == [] and check.doubled == []
    assert check.unpaid == ["O2"]
    assert check.not_cleared == []


def test_a_leg_is_confirmed_exactly_once_when_the_authority_lists_it_once() -> None:
    ours = [("tax", "V1", "CONFIRMED"), ("fiscal", "P1", "CONFIRMED"), ("tax", "V2", "PENDING")]
    theirs = {"tax": ["V1", "V1"], "fiscal": []}
    check = judge_legs(ours, theirs, tasks_twice=0)
    assert check.confirmed == 2 and check.legs == 3
    assert check.unconfirmed == ["tax:V2"]
    assert check.twice_at_authority == ["tax:V1"]
    assert check.missing_at_authority == ["fiscal:P1", "tax:V2"]


def test_reconciliation_must_find_exactly_what_was_injected() -> None:
    expected = [
        Expected("FEE_MISMATCH", "alipay", our_ref="T1"),
        Expected("STATEMENT_CREDIT_UNMATCHED", "bank:SFBK", amount_fen=12345),
    ]
    fee = {"type": "FEE_MISMATCH", "source": "alipay", "our_ref": "T1", "their_amount_fen": 6}
    credit = {
        "type": "STATEMENT_CREDIT_UNMATCHED",
        "source": "bank:SFBK",
        "our_ref": None,
        "amount_fen": None,
        "their_amount_fen": 12345,
    }
    assert compare_findings(expected, [fee, credit]) == ([], [])
    stray = {"type": "SHORT", "source": "wechatpay", "our_ref": "T7", "their_amount_fen": None}
    assert compare_findings(expected, [fee, credit, stray]) == ([], [stray])
    assert compare_findings(expected, [credit]) == ([expected[0]], [])
    # one finding answers for one injection only
    assert compare_findings([expected[0], expected[0]], [fee]) == ([expected[0]], [])
    wrong_amount = {**credit, "their_amount_fen": 12346}
    assert compare_findings(expected[1:], [wrong_amount]) == ([expected[1]], [wrong_amount])


def test_the_channels_hold_money_only_for_paid_trades_not_given_back() -> None:
    assert channel_kept("wechatpay", {"state": "SUCCESS"})
    assert not channel_kept("wechatpay", {"state": "REFUND"})
    assert not channel_kept("wechatpay", {"state": "REVOKED"})
    assert channel_kept("alipay", {"state": "TRADE_SUCCESS", "refunds": []})
    assert not channel_kept("alipay", {"state": "TRADE_SUCCESS", "refunds": [{"amount": 1}]})
    assert not channel_kept("alipay", {"state": "WAIT_BUYER_PAY"})
    assert channel_kept("unionpay", {"state": "SUCCESS", "voided": False, "refunded_fen": 0})
    assert not channel_kept("unionpay", {"state": "SUCCESS", "voided": True})
    assert channel_kept("pos", {"state": "APPROVED", "refunds": []})
    assert not channel_kept("pos", {"state": "REVERSED"})
    assert not channel_kept("pos", None)


def test_faults_are_spread_over_the_run_in_order() -> None:
    events = plan(10_000, 20, 2)
    assert [k for _, k in events].count("kill") == 20
    assert [k for _, k in events].count("failover") == 2
    ats = [at for at, _ in events]
    assert ats == sorted(ats) and ats[0] > 0 and ats[-1] < 10_000
    assert len(set(ats)) == len(ats), "two faults at the same moment"
