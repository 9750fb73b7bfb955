"""What the window screen and the refund approval page need from the service, every channel and
refunds included, against the real service, PostgreSQL and WeChat Pay simulator."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clearing.api import receipt
from clearing.domain.money import MAX_FEN, capital_amount
from clearing.service.receipt_prints import Print
from tests.integration.pos_harness import PosSim, running_card_service
from tests.integration.service_harness import Service, order_body, service_fixture, staff_fixture

STATIC = Path(__file__).parents[2] / "clearing" / "api" / "static"


svc = service_fixture(
    "pages-channels", sim_retry_scale=0.01, workers=1, poll_first_s=0.3, log_json=False
)


staff = staff_fixture(clerk="HALL1", supervisor="HALL1", finance=None, auditor=None)


async def _page(
    svc: Service, path: str, token: str | None = None
) -> tuple[int, dict[str, str], str]:
    """GET as a browser does: the session cookie only, redirects not followed."""
    headers = {"Cookie": f"tj_session={token}"} if token else {}
    async with svc.session.get(svc.base_url + path, headers=headers, allow_redirects=False) as r:
        return r.status, dict(r.headers), await r.text()


async def _open_order(svc: Service, clerk: str, amounts: tuple[int, ...] = (80_00,)) -> str:
    status, order = await svc.create_order(await svc.supervisor(), order_body(amounts))
    assert status == 201, order
    return str(order["order_no"])


async def _paid_order(svc: Service, clerk: str, amounts: tuple[int, ...]) -> str:
    order_no = await _open_order(svc, clerk, amounts)
    qr = await svc.open_qr(clerk, order_no)
    status, _ = await svc.sim.pay(qr["out_trade_no"])
    assert status == 200
    await svc.wait_state(clerk, order_no, "CLEARED")
    return order_no


# --- the window screen's configuration and controls ------------------------------------------


async def test_config_lists_the_configured_channels(svc: Service) -> None:
    status, headers, text = await _page(svc, "/window/config.json")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    config = json.loads(text)
    # only WeChat Pay is configured here; it takes QR codes and payment codes, not cards
    assert config["channels"] == [
        {
            "provider": "wechatpay",
            "name_zh": "微信支付",
            "methods": ["qr", "code"],
            "sim_url": svc.sim.base_url,
        }
    ]
    assert config["terminals"] == []  # no channel takes cards, so no terminal is offered
    assert config["wechatpay_sim_url"] == svc.sim.base_url
    assert config["max_lines"] == 20


async def test_window_page_has_every_way_of_paying(svc: Service, staff: dict[str, str]) -> None:
    status, _, html = await _page(svc, "/window", staff["clerk"])
    assert status == 200
    for text in ("收款方式", "扫付款码", "扫码支付", "刷卡", "银行卡", "申请退款", "退款记录"):
        assert text in html, text
    for control in ("auth-code", "code-form", "qr-buttons", "terminal", "card-start", "code-test"):
        assert f'id="{control}"' in html, control
    # the scanner input comes first in the panel: it is where a scanner's keystrokes land
    assert (
        html.index('id="auth-code"') < html.index('id="qr-buttons"') < html.index('id="terminal"')
    )


EXPECTED_MODULES = {
    "/window": {"window.js", "pay-methods.js", "refund-panel.js", "refunds.js", "money.js"},
    "/finance": {"finance.js", "finance.css", "refunds.js", "money.js"},
}


def _imports(script: str) -> set[str]:
    return set(re.findall(r'from "\./([\w-]+\.js)"', script))


@pytest.mark.parametrize("page", ["/window", "/finance"])
async def test_every_module_of_a_page_is_served(
    svc: Service, staff: dict[str, str], page: str
) -> None:
    # each page as the role that works on it (an auditor is sent from /window to /finance)
    status, _, html = await _page(
        svc, page, staff["supervisor" if page == "/window" else "auditor"]
    )
    assert status == 200
    todo = set(re.findall(r'(?:src|href)="/window/static/([^"]+)"', html))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        seen.add(name)
        status, headers, body = await _page(svc, f"/window/static/{name}")
        assert status == 200 and body.strip(), name
        if name.endswith(".js"):
            assert headers["Content-Type"].startswith("text/javascript"), name
            todo |= _imports(body) - seen
    assert EXPECTED_MODULES[page] <= seen


async def test_qr_of_the_chosen_channel(svc: Service, staff: dict[str, str]) -> None:
    order_no = await _open_order(svc, staff["clerk"])
    await svc.open_qr(staff["clerk"], order_no)
    path = f"/api/v1/orders/{order_no}/qr.svg"
    status, headers, svg = await _page(svc, f"{path}?provider=wechatpay", staff["clerk"])
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert svg.startswith("<svg")
    # no Alipay attempt was opened for this order: there is no Alipay QR to show
    status, _, text = await _page(svc, f"{path}?provider=alipay", staff["clerk"])
    assert status == 404
    assert json.loads(text)["code"] == "NO_OPEN_PAYMENT"


async def test_test_payment_code_is_charged_and_clears_the_order(
    svc: Service, staff: dict[str, str]
) -> None:
    """The 生成测试付款码 helper's WeChat code (18 digits from 13) is routed and charged."""
    order_no = await _open_order(svc, staff["clerk"])
    code = "13" + "".join(random.choices("0123456789", k=16))
    started = await svc.start_payment(staff["clerk"], order_no, method="code", auth_code=code)
    assert (started["provider"], started["method"]) == ("wechatpay", "code")
    # what the page shows: SUCCEEDED → 已缴费; OPEN → waiting for the phone, then events
    assert started["state"] in ("SUCCEEDED", "OPEN"), started
    order = await svc.wait_state(staff["clerk"], order_no, "CLEARED")
    assert order["payments"][0]["provider"] == "wechatpay"


async def test_an_unknown_payment_code_is_refused_in_chinese(
    svc: Service, staff: dict[str, str]
) -> None:
    order_no = await _open_order(svc, staff["clerk"])
    problem = await svc.answered(
        "POST",
        f"/api/v1/orders/{order_no}/payments",
        staff["clerk"],
        json={"method": "code", "auth_code": "9" * 18},
        expect=422,
    )
    assert problem["code"] == "PAYMENT_CODE_UNKNOWN" and problem["detail_zh"]


async def test_demo_scan_link_opens_the_simulators_citizen_page(
    svc: Service, staff: dict[str, str]
) -> None:
    """模拟扫码支付: weixin://wxpay/bizpayurl?pr=X becomes {wechatpay_sim_url}/sim/scan/X."""
    order_no = await _open_order(svc, staff["clerk"])
    qr = await svc.open_qr(staff["clerk"], order_no)
    match = re.fullmatch(r"weixin://wxpay/bizpayurl\?pr=([^&#]+)", qr["code_url"])
    assert match, qr["code_url"]
    async with svc.session.get(f"{svc.sim.base_url}/sim/scan/{match.group(1)}") as r:
        assert r.status == 200


# --- card terminals ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def card_env(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Service, PosSim, str]]:
    async with running_card_service(
        db_dsn,
        tmp_path_factory.mktemp("pages-card"),
        ["T0000001", "T0000002"],
        workers=1,
        poll_first_s=0.3,
        code_poll_s=0.3,
        log_json=False,
    ) as (s, pos):
        yield s, pos, await s.add_user("clerk", "HALL1")


async def test_config_offers_the_card_terminals(card_env: tuple[Service, PosSim, str]) -> None:
    svc, pos, _ = card_env
    _, _, text = await _page(svc, "/window/config.json")
    config = json.loads(text)
    by_provider = {c["provider"]: c for c in config["channels"]}
    assert list(by_provider) == ["wechatpay", "pos"]  # display order, not configuration order
    assert by_provider["pos"] == {
        "provider": "pos",
        "name_zh": "银行卡",
        "methods": ["card"],
        "sim_url": pos.base_url,
    }
    assert config["terminals"] == ["T0000001", "T0000002"]
    # 模拟刷卡 opens the terminal's screen in the simulator
    async with svc.session.get(f"{pos.base_url}/sim/terminals/T0000002") as r:
        assert r.status == 200


async def test_card_sale_as_the_window_starts_it(card_env: tuple[Service, PosSim, str]) -> None:
    svc, pos, clerk = card_env
    order_no = await _open_order(svc, clerk, (1_500_00, 80_00))
    started = await svc.start_payment(
        clerk, order_no, method="card", channel="pos", terminal_id="T0000002"
    )
    assert (started["state"], started["terminal_id"]) == ("OPEN", "T0000002")
    # what the screen reads while waiting: an open attempt of the card channel, without a QR
    _, order = await svc.request("GET", f"/api/v1/orders/{order_no}", clerk)
    assert [(a["provider"], a["state"], a["code_url"]) for a in order["attempts"]] == [
        ("pos", "OPEN", None)
    ]
    status, _ = await pos.swipe("T0000002")
    assert status == 200
    order = await svc.wait_state(clerk, order_no, "CLEARED")
    status, _, html = await _page(svc, f"/orders/{order_no}/receipt", clerk)
    assert status == 200
    assert "<td>银行卡" in html and order["payments"][0]["provider_txn_id"] in html
    details = order["payments"][0].get("details") or {}
    if details:  # the order view carries the card facts: the receipt prints them
        assert details["rrn"] in html and details["card_no_masked"] in html


# --- refunds: the supervisor's request, the finance page -------------------------------------


async def test_finance_page_is_for_finance(svc: Service, staff: dict[str, str]) -> None:
    status, headers, html = await _page(svc, "/finance", staff["finance"])
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "审批退款" in html and "default-src 'self'" in headers["Content-Security-Policy"]
    # auditors read it too (the approve buttons are the script's business: only finance decides)
    status, _, _ = await _page(svc, "/finance", staff["auditor"])
    assert status == 200
    # a clerk is told plainly, not bounced somewhere else
    status, headers, html = await _page(svc, "/finance", staff["clerk"])
    assert status == 403 and headers["Content-Type"].startswith("text/html")
    assert "无权访问退款审批" in html and "/window" in html
    status, headers, _ = await _page(svc, "/finance")
    assert status == 302 and headers["Location"] == "/login?next=/finance"
    # finance takes no payments: its window screen is the approval page
    status, headers, _ = await _page(svc, "/window", staff["finance"])
    assert status == 302 and headers["Location"] == "/finance"


async def test_supervisor_refund_request_reaches_the_finance_page(
    svc: Service, staff: dict[str, str]
) -> None:
    order_no = await _paid_order(svc, staff["clerk"], (350_000_00, 80_00, 1_234_56))
    # the window's line picker: lines 1 and 3
    req = await svc.answered(
        "POST",
        f"/api/v1/orders/{order_no}/refunds",
        staff["supervisor"],
        json={"lines": [1, 3], "reason": "缴款人申请退回"},
        expect=201,
    )
    # the window's 退款记录 and its free lines come from the order's refunds
    status, mine = await svc.request("GET", f"/api/v1/orders/{order_no}/refunds", staff["clerk"])
    assert status == 200 and [r["id"] for r in mine["refunds"]] == [req["id"]]

    status, waiting = await svc.request("GET", "/api/v1/refunds", staff["finance"])
    assert status == 200
    row = next(r for r in waiting["refunds"] if r["id"] == req["id"])
    assert row["order_no"] == order_no
    assert row["amount_fen"] == 350_000_00 + 1_234_56
    assert row["reason"] == "缴款人申请退回" and row["state"] == "REQUESTED"
    assert [x["line_no"] for x in row["lines"]] == [1, 3]
    assert row["requested_by"]
    # the page reads the order (any office) for item names, payer and the original total
    status, order = await svc.request("GET", f"/api/v1/orders/{order_no}", staff["finance"])
    assert status == 200
    assert [ln["line_no"] for ln in order["lines"]] == [1, 2, 3]
    assert order["total_capital"] == capital_amount(350_000_00 + 80_00 + 1_234_56)

    # a clerk cannot list refunds, nor decide: the page is not theirs
    status, _ = await svc.request("GET", "/api/v1/refunds", staff["clerk"])
    assert status == 403
    status, decided = await svc.request(
        "POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance"], json={"note": "同意"}
    )
    assert (status, decided["state"]) == (200, "APPROVED")


async def test_clerk_cannot_request_a_refund(svc: Service, staff: dict[str, str]) -> None:
    """申请退款 is shown to supervisors only; the server refuses anyone else in Chinese."""
    order_no = await _paid_order(svc, staff["clerk"], (80_00,))
    status, problem = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/refunds", staff["clerk"], json={"reason": "x"}
    )
    assert status == 403 and problem["detail_zh"]


# --- the receipt of every channel ------------------------------------------------------------


def _view(payment: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_no": "TJ20260101ABCDEF123456",
        "case_no": "2026-BDC-000777",
        "office": "HALL1",
        "window": "W01",
        "payer_name": "张三",
        "payer_id_masked": "110105********002X",
        "total_fen": 80_00,
        "total_display": "¥80.00",
        "total_capital": capital_amount(80_00),
        "state": "CLEARED",
        "state_zh": "已缴费",
        "created_by": "clerk1",
        "cleared_at": "2026-01-01T02:00:00+00:00",
        "lines": [
            {
                "line_no": 1,
                "item_name": "不动产登记费",
                "beneficiary_name": "某某不动产登记中心",
                "reference": None,
                "amount_fen": 80_00,
            }
        ],
        "payments": [
            {
                "outcome": "CLEARED",
                "provider_txn_id": "TXN-1",
                "paid_at": "2026-01-01T02:00:00+00:00",
                **payment,
            }
        ],
    }


VERIFY = "http://127.0.0.1:8080/v/TJ20260101ABCDEF123456-1.abcdefghijklmnop"


def _render(view: dict[str, Any]) -> str:
    """The original print of ``view``: every line paid."""
    facts = {
        "l": [[ln["line_no"], ln["amount_fen"], ln["reference"] or "", 0] for ln in view["lines"]]
    }
    printed = Print(
        receipt_no=f"{view['order_no']}-1",
        order_no=view["order_no"],
        print_no=1,
        facts=facts,
        paid_fen=view["total_fen"],
        reason=None,
        printed_by="clerk1",
        printed_at=datetime.now(UTC),
        code=VERIFY.rsplit("/", 1)[1],
    )
    sheet = receipt.Sheet(printed, VERIFY, latest=True, stale=False, may_reprint=True)
    return receipt.render(view, sheet)


@pytest.mark.parametrize(
    ("provider", "name"),
    [
        ("alipay", "支付宝"),
        ("unionpay", "云闪付（银联）"),
        ("pos", "银行卡"),
        ("wechatpay", "微信支付"),
    ],
)
def test_receipt_names_every_channel(provider: str, name: str) -> None:
    html = _render(_view({"provider": provider}))
    assert f"<td>{name}</td>" in html
    assert "银行卡号" not in html  # no card facts: no card row


def test_receipt_of_a_card_payment_shows_the_masked_card_and_rrn() -> None:
    details = {"card_no_masked": "622848******1234", "rrn": "123456789012", "card_type": "D"}
    html = _render(_view({"provider": "pos", "details": details}))
    assert "银行卡（借记卡）" in html
    assert "622848******1234" in html and "123456789012" in html
    # only what exists: a payment without an RRN still prints its card number
    html = _render(_view({"provider": "pos", "details": {"card_no_masked": "6222<b>"}}))
    assert "6222&lt;b&gt;" in html and "检索参考号" in html


def test_refunded_order_has_no_receipt_and_says_why() -> None:
    view = {**_view({"provider": "wechatpay"}), "state": "REFUNDED", "state_zh": "已退款"}
    html = receipt.unpaid_page(view)
    assert "已办理退款" in html and "已退款" in html


# --- the page's 大写 is the server's ---------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_capital_amount_in_the_browser_matches_the_server(tmp_path: Path) -> None:
    module = tmp_path / "money.mjs"
    module.write_text((STATIC / "money.js").read_text(encoding="utf-8"), encoding="utf-8")
    rng = random.Random(7)
    values = [0, 1, 10, 100, 101, 1_00_00, 10_700_053, 168_032, 10**14, MAX_FEN, 10**10 + 5]
    for _ in range(3000):
        digits = "".join(rng.choice("0000123456789") for _ in range(rng.randint(1, 16)))
        values.append(min(int(digits), MAX_FEN))
    script = (
        f"import {{ capitalFen }} from {json.dumps(module.as_uri())};"
        "import { readFileSync } from 'node:fs';"
        "const v = JSON.parse(readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(v.map((x) => capitalFen(BigInt(x)))));"
    )
    node = shutil.which("node")
    assert node is not None
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps([str(v) for v in values]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    got = json.loads(out.stdout)
    wrong = [(v, g) for v, g in zip(values, got, strict=True) if g != capital_amount(v)]
    assert not wrong, wrong[:5]
