"""Pure parts of search and 日结: the keyed ID hash, the timeline's words, the printed 日结单."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from clearing.api import shift_sheet
from clearing.errors import Forbidden
from clearing.security import PiiCipher
from clearing.service import timeline
from clearing.service.principals import Principal
from clearing.service.search import office_scope

ID = "11010519491231002X"


def test_the_search_hash_is_keyed_and_stable() -> None:
    key, search = os.urandom(32), os.urandom(32)
    a = PiiCipher(key, search_key=search)
    assert a.search_hash(ID) == PiiCipher(os.urandom(32), search_key=search).search_hash(ID)
    assert a.search_hash(ID) != PiiCipher(key, search_key=os.urandom(32)).search_hash(ID)
    assert a.search_hash(ID) != a.search_hash("110105194912310021")
    assert PiiCipher(key).search_hash(ID) is None
    with pytest.raises(ValueError, match="32 bytes"):
        PiiCipher(key, search_key=b"short")


def _who(role: str, office: str | None) -> Principal:
    return Principal(1, "staff", "u", "测试", role, office)


def test_window_staff_search_only_their_own_office() -> None:
    assert office_scope(_who("clerk", "HALL1"), None) == "HALL1"
    assert office_scope(_who("supervisor", "HALL1"), "HALL1") == "HALL1"
    with pytest.raises(Forbidden) as refused:
        office_scope(_who("clerk", "HALL1"), "HALL2")
    assert refused.value.message_zh == "只能查询本大厅的缴费单"
    assert office_scope(_who("finance", None), None) is None
    assert office_scope(_who("auditor", None), "HALL2") == "HALL2"


def test_timeline_events_read_in_chinese() -> None:
    assert timeline._title("payment.cleared") == "收到支付结果，已入账分账"
    assert timeline._title("receipt.reprinted") == "补打回执"
    assert timeline._title("something.new") == "其他操作"
    detail = timeline._detail(
        "payment.suspense", {"amount_fen": 12345, "source": "query", "reason": "ALREADY_PAID"}
    )
    assert detail == "¥123.45，主动查询，原因：重复支付"
    assert timeline._detail("receipt.reprinted", {"count": 2}) == "第 2 次补打"
    assert timeline._who("acquirer:alipay", None) == "支付宝"
    assert timeline._who("user:zhang", "张敏") == "张敏"


def _shift(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 7,
        "clerk": "<b>张敏</b>",
        "office": "HALL1",
        "window": "W01",
        "opened_at": "2026-12-07T01:00:00+00:00",
        "closed_at": "2026-12-07T09:30:00+00:00",
        "orders_count": 3,
        "orders_fen": 100_00,
        "received_count": 2,
        "received_fen": 1_234_56,
        "cancelled_count": 1,
        "cancelled_fen": 10_00,
        "refunds_count": 0,
        "refunds_fen": 0,
        "by_channel": [{"channel": "alipay", "count": 2, "amount_fen": 1_234_56}],
        "refunds_by_channel": [],
    }
    base.update(over)
    return base


def test_the_shift_sheet_prints_capital_totals_beijing_times_and_escapes() -> None:
    html = shift_sheet.render(_shift(), printed_at=datetime(2026, 12, 7, 10, tzinfo=UTC))
    assert "壹仟贰佰叁拾肆元伍角陆分" in html
    assert "支付宝" in html
    assert "交班 2026-12-07 17:30:00" in html  # 09:30 UTC is 17:30 in Beijing
    assert "<b>张敏</b>" not in html and "&lt;b&gt;张敏&lt;/b&gt;" in html
    assert "经办人（签字）" in html and "复核人（签字）" in html
    assert "退款申请（按原支付渠道）" not in html
    with_refund = shift_sheet.render(
        _shift(refunds_by_channel=[{"channel": "alipay", "count": 1, "amount_fen": 5_00}]),
        printed_at=datetime(2026, 12, 7, 10, tzinfo=UTC),
    )
    assert "退款申请（按原支付渠道）" in with_refund and "伍元整" in with_refund
