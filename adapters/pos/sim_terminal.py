"""The terminal at the window, for the demo and the tests: its screen, the card, the PIN pad, and
the end-of-day batch settlement. Unsigned ``/sim/`` endpoints; the PIN is never kept or logged."""

from __future__ import annotations

import html
import logging
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from adapters.pos.sim_delivery import notify_result
from adapters.pos.sim_host import WireError, complete, read_card, settle
from adapters.pos.sim_state import BEIJING, DECLINES, STATE, Sale, SimState, sale_json
from adapters.simkit import desk
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

TEST_CARD = "6222021234567890128"
_CARD_NO = re.compile(r"[0-9]{13,19}")
_ENTRY_MODES = ("051", "071", "021")  # IC chip with PIN, contactless, magnetic stripe
_STYLE = (
    "body{font-family:sans-serif;max-width:24rem;margin:2rem auto;padding:0 1rem;background:#222;"
    "color:#eee}.screen{background:#cfe8cf;color:#123;padding:1rem;border-radius:.5rem}"
    "dt{color:#456}dd{margin:0 0 .6rem}.amount{font-size:2rem}input,select{width:100%;"
    "padding:.5rem;margin:.3rem 0;font-size:1.1rem}button{width:100%;padding:.8rem;"
    "font-size:1.1rem;background:#c00;color:#fff;border:0;margin-top:.5rem}"
)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def _page(terminal_id: str, body: str, *, refresh: bool) -> web.Response:
    meta = '<meta http-equiv="refresh" content="3">' if refresh else ""
    text = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>智能POS（模拟）{html.escape(terminal_id)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>智能POS（模拟）</h1>"
        f"<p>终端号 {html.escape(terminal_id)}</p><div class=screen>{body}</div></body></html>"
    )
    return web.Response(text=text, content_type="text/html", charset="utf-8")


def _sale_screen(state: SimState, terminal_id: str, sale: Sale | None, note: str) -> str:
    path = f"/sim/terminals/{quote(terminal_id, safe='')}"
    if sale is None or sale.state not in ("WAITING", "PROCESSING"):
        return f"<p>{html.escape(note or '等待收银指令…')}</p>"
    facts = (
        f"<dl><dt>商户</dt><dd>{html.escape(state.keys.merchant_name)}</dd>"
        f"<dt>订单号</dt><dd>{html.escape(sale.out_trade_no)}</dd>"
        f"<dt>摘要</dt><dd>{html.escape(sale.description)}</dd>"
        f'<dt>金额</dt><dd class="amount">¥{yuan_str(sale.amount_fen)}'
        "</dd></dl>"
    )
    if sale.state == "WAITING":
        return (
            f'{facts}<form method="post" action="{path}/insert"><label>卡号'
            f'<input name="card_no" value="{TEST_CARD}" inputmode="numeric"></label>'
            "<button>插卡/刷卡</button></form>"
        )
    options = "".join(
        f'<option value="{code}">拒绝 {code} {html.escape(text)}</option>'
        for code, text in DECLINES.items()
    )
    return (
        f"{facts}<p>卡号 {html.escape(sale.card_no)}</p>"
        f'<form method="post" action="{path}/swipe"><label>请输入密码'
        '<input name="pin" type="password" inputmode="numeric" maxlength="6" autocomplete="off">'
        '</label><label>模拟结果<select name="resp_code"><option value="00">批准</option>'
        f"{options}</select></label><button>确认</button></form>"
    )


def _pending(state: SimState, terminal_id: str) -> Sale | None:
    terminal = state.terminals.get(terminal_id)
    if terminal is None:
        raise ControlError(404, "T2", "终端未登记")
    return state.sales.get(terminal.pending) if terminal.pending else None


async def _knobs(request: web.Request) -> tuple[dict[str, Any], bool]:
    """The body as a dict, and whether it came from the terminal's page (a form)."""
    if request.content_type == "application/x-www-form-urlencoded":
        return dict(await request.post()), True
    try:
        return await desk.json_object(request), False
    except ValueError as exc:
        raise ControlError(400, "PARAM_ERROR", str(exc)) from None


def _card(knobs: dict[str, Any]) -> tuple[str, str, str]:
    card_no = str(knobs.get("card_no") or TEST_CARD).strip()
    if not _CARD_NO.fullmatch(card_no):
        raise ControlError(400, "PARAM_ERROR", "card_no must be 13 to 19 digits")
    card_type = str(knobs.get("card_type") or "D")
    entry_mode = str(knobs.get("entry_mode") or "051")
    if card_type not in ("D", "C") or entry_mode not in _ENTRY_MODES:
        raise ControlError(400, "PARAM_ERROR", "card_type is D or C; entry_mode 051, 071 or 021")
    return card_no, card_type, entry_mode


def _outcome(knobs: dict[str, Any], sale: Sale) -> tuple[str, int]:
    approve = knobs.get("approve", True)
    code = str(knobs.get("resp_code") or ("00" if approve is not False else "05"))
    if code != "00" and code not in DECLINES:
        raise ControlError(400, "PARAM_ERROR", f"resp_code must be 00 or one of {sorted(DECLINES)}")
    try:
        return code, desk.positive_fen(knobs, "amount_fen", sale.amount_fen)
    except ValueError as exc:
        raise ControlError(400, "PARAM_ERROR", str(exc)) from None


def _finish(state: SimState, sale: Sale, knobs: dict[str, Any]) -> None:
    code, amount = _outcome(knobs, sale)
    if sale.state == "WAITING":
        read_card(sale, *_card(knobs))
    now = datetime.now(BEIJING)
    complete(state, sale, code, amount, now)
    notify_result(state, sale, now)


def _done(state: SimState, sale: Sale) -> dict[str, Any]:
    """What the terminal shows the harness once a step is done: the sale as the API shows it,
    in brief."""
    shown = sale_json(state.keys, sale)
    brief = ("out_trade_no", "terminal_id", "state", "resp_code", "card_no")
    done = {name: shown[name] for name in (*brief, "batch_no", "trace_no", "rrn", "auth_code")}
    done["amount_fen"] = shown["amount"]
    done["notify_id"] = sale.notifications[-1].id if sale.notifications else None
    return done


def _error(exc: ControlError | WireError) -> web.Response:
    status = exc.status if isinstance(exc, ControlError) else 409
    return web.json_response({"code": exc.code, "message": exc.message}, status=status)


async def show_terminal(request: web.Request) -> web.Response:
    state = request.app[STATE]
    terminal_id = request.match_info["terminal_id"]
    try:
        sale = _pending(state, terminal_id)
    except ControlError as exc:
        return _error(exc)
    if "application/json" in request.headers.get("Accept", ""):
        terminal = state.terminals[terminal_id]
        return web.json_response(
            {
                "terminal_id": terminal_id,
                "batch_no": terminal.batch,
                "pending": None if sale is None else sale.out_trade_no,
                "state": None if sale is None else sale.state,
            }
        )
    idle = sale is None
    return _page(terminal_id, _sale_screen(state, terminal_id, sale, ""), refresh=idle)


async def insert(request: web.Request) -> web.Response:
    """The card goes in (or is tapped or swiped); the terminal asks for the PIN."""
    state = request.app[STATE]
    terminal_id = request.match_info["terminal_id"]
    try:
        knobs, from_page = await _knobs(request)
        sale = _pending(state, terminal_id)
        if sale is None:
            raise ControlError(409, "NO_SALE", "终端上没有待付款的交易")
        read_card(sale, *_card(knobs))
    except (ControlError, WireError) as exc:
        return _error(exc)
    if from_page:
        return _page(terminal_id, _sale_screen(state, terminal_id, sale, ""), refresh=False)
    return web.json_response(_done(state, sale))


async def swipe(request: web.Request) -> web.Response:
    """The PIN is confirmed and the host answers: approved, or declined with ``resp_code``."""
    state = request.app[STATE]
    terminal_id = request.match_info["terminal_id"]
    try:
        knobs, from_page = await _knobs(request)
        knobs.pop("pin", None)  # the simulator never needs, keeps or logs a PIN
        sale = _pending(state, terminal_id)
        if sale is None:
            raise ControlError(409, "NO_SALE", "终端上没有待付款的交易")
        _finish(state, sale, knobs)
    except (ControlError, WireError) as exc:
        return _error(exc)
    if from_page:
        note = (
            "交易成功，请取走您的卡" if sale.state == "APPROVED" else f"交易失败：{sale.resp_msg}"
        )
        return _page(terminal_id, _sale_screen(state, terminal_id, None, note), refresh=False)
    return web.json_response(_done(state, sale))


async def pay(request: web.Request) -> web.Response:
    """The sale for ``out_trade_no`` is paid with the test card on its terminal."""
    state = request.app[STATE]
    sale = state.sales.get(request.match_info["out_trade_no"])
    if sale is None:
        return web.json_response({"code": "25", "message": "原交易不存在"}, status=404)
    try:
        knobs, _ = await _knobs(request)
        _finish(state, sale, knobs)
    except (ControlError, WireError) as exc:
        return _error(exc)
    return web.json_response(_done(state, sale))


async def settle_batches(request: web.Request) -> web.Response:
    """批结算: close the open batch (of one terminal, or all); optional settle_date YYYY-MM-DD."""
    state = request.app[STATE]
    try:
        knobs, _ = await _knobs(request)
        text = knobs.get("settle_date")
        day = date.fromisoformat(text) if isinstance(text, str) else datetime.now(BEIJING).date()
        terminal_id = knobs.get("terminal_id")
        terminals = [terminal_id] if isinstance(terminal_id, str) else sorted(state.terminals)
        closed = settle(state, day, terminals)
    except ValueError:
        return _error(ControlError(400, "PARAM_ERROR", "settle_date must be YYYY-MM-DD"))
    except (ControlError, WireError) as exc:
        return _error(exc)
    return web.json_response({"settle_date": day.isoformat(), "batches": closed})


def add_terminal_routes(app: web.Application) -> None:
    app.router.add_get("/sim/terminals/{terminal_id}", show_terminal)
    app.router.add_post("/sim/terminals/{terminal_id}/insert", insert)
    app.router.add_post("/sim/terminals/{terminal_id}/swipe", swipe)
    app.router.add_post("/sim/orders/{out_trade_no}/pay", pay)
    app.router.add_post("/sim/settle", settle_batches)
