"""The ``/sim/`` order desk every acquirer simulator has, for the citizen's phone and the tests::

    GET  /sim/scan/{code}          the page a scanned QR code opens (``Counter`` only, as the
                                   two below)
    POST /sim/orders/{no}/pay      the citizen pays: JSON (``amount_fen`` to pay another amount)
                                   for the harness, an HTML page for the scan page's form
    POST /sim/orders/{no}/expire   let the order's expiry pass now, so tests need not sleep
    GET  /sim/orders/{no}          the order, its refunds, every notification and attempt
    GET|PUT|DELETE /sim/faults     the knobs (``simkit.faults``)

How an order is found and shown is the party's: it derives a ``Desk`` (show and knobs only, as
the card terminal's host, whose sales are paid on the terminal) or a ``Counter`` (a desk where
the citizen also scans, pays and lets orders expire) and implements its abstract methods. The
answers' shapes (404 and 400 codes, 409 on an order that cannot be paid, the page for a form)
are the same everywhere.
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar
from urllib.parse import quote

from aiohttp import web

from adapters.simkit import desk
from adapters.simkit.acquirer import Acquirer
from adapters.simkit.faults import add_fault_routes
from adapters.simkit.notify import BEIJING
from clearing.domain.money import yuan_str

S = TypeVar("S", bound=Acquirer[Any])
T = TypeVar("T")

Paid = tuple[dict[str, Any], str]
"""What paying answers: the JSON for the harness, and what the page then says."""

_SCAN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:2rem auto;padding:0 1rem}}
dt{{color:#666}}dd{{margin:0 0 .8rem}}.amount{{font-size:2rem}}
button{{width:100%;padding:.8rem;font-size:1.1rem;background:{color};color:#fff;border:0}}</style>
</head><body>
<h1>{heading}</h1>
<dl>{facts}
<dt>金额</dt><dd class="amount">¥{yuan}</dd><dt>状态</dt><dd>{state}</dd></dl>
{action}
</body></html>
"""


class Brand(NamedTuple):
    """How a party's scan page looks and what it calls things."""

    title: str
    heading: str
    color: str
    button: str  # 确认支付, 确认付款
    merchant: str  # 商户, 收款方
    item: str  # 商品, 订单号
    closed: str = "该订单当前不可支付"


class Desk(ABC, Generic[S, T]):
    """One simulator's desk (its state ``S``) over its orders of type ``T``."""

    MISSING: ClassVar[tuple[str, str]] = ("ORDER_NOT_EXIST", "订单不存在")
    BAD_CODE: ClassVar[str] = "PARAM_ERROR"

    def __init__(self, state: S) -> None:
        self.state = state

    # ---- what the party's desk knows of its orders

    @abstractmethod
    def find(self, no: str) -> T | None: ...

    @abstractmethod
    def view(self, order: T) -> dict[str, Any]:
        """The order as ``GET /sim/orders/{no}`` shows it."""

    def missing(self) -> web.Response:
        code, message = self.MISSING
        return web.json_response({"code": code, "message": message}, status=404)

    def bad(self, message: str) -> web.Response:
        return web.json_response({"code": self.BAD_CODE, "message": message}, status=400)

    async def show(self, request: web.Request) -> web.Response:
        order = self.find(request.match_info["no"])
        return self.missing() if order is None else web.json_response(self.view(order))

    def add_routes(self, app: web.Application) -> None:
        """Serve the desk: its orders and the knobs."""
        app.router.add_get("/sim/orders/{no}", self.show)
        add_fault_routes(app, lambda _: self.state.faults, refuse=self.bad)


class Counter(Desk[S, T]):
    """A desk where the citizen also pays: the scan page, ``/pay`` and ``/expire``."""

    BRAND: ClassVar[Brand]

    @abstractmethod
    def expire(self, order: T, now: datetime) -> None: ...

    @abstractmethod
    def by_code(self, code: str) -> T | None:
        """The order a scanned QR code names."""

    def payable(self, no: str) -> T | None:
        """The order ``/pay`` may pay (others are not found); the order itself by default."""
        return self.find(no)

    @abstractmethod
    def refusal(self, order: T, now: datetime) -> tuple[str, str, str] | None:
        """Why ``order`` cannot be paid now: the 409 code, its message and what the page says;
        None when it can be."""

    @abstractmethod
    def pay(self, order: T, amount_fen: int | None, now: datetime) -> Paid:
        """The citizen pays (``amount_fen``, or what was asked when None): the JSON answer and
        what the page then says."""

    @abstractmethod
    def scan_facts(self, order: T, now: datetime) -> tuple[str, str, int, str, bool]:
        """What the scan page shows: the merchant, the item, the amount, the state, and whether
        the order may be paid now."""

    # ---- the answers

    def page(self, order: T, note: str = "") -> web.Response:
        """The scan page: the order, and the pay button while it can be paid."""
        brand = self.BRAND
        merchant, item, fen, state, open_ = self.scan_facts(order, datetime.now(BEIJING))
        facts = (
            f"<dt>{brand.merchant}</dt><dd>{html.escape(merchant)}</dd>"
            f"<dt>{brand.item}</dt><dd>{html.escape(item)}</dd>"
        )
        if open_:
            target = html.escape(f"/sim/orders/{quote(self.number(order), safe='')}/pay")
            action = f'<form method="post" action="{target}"><button>{brand.button}</button></form>'
        else:
            action = f"<p>{html.escape(note or brand.closed)}</p>"
        text = _SCAN_PAGE.format(
            title=brand.title,
            heading=brand.heading,
            color=brand.color,
            facts=facts,
            yuan=yuan_str(fen),
            state=html.escape(state),
            action=action,
        )
        return web.Response(text=text, content_type="text/html", charset="utf-8")

    @abstractmethod
    def number(self, order: T) -> str: ...

    # ---- the handlers

    async def expire_now(self, request: web.Request) -> web.Response:
        order = self.find(request.match_info["no"])
        if order is None:
            return self.missing()
        self.expire(order, datetime.now(BEIJING))
        return web.json_response(self.view(order))

    async def scan(self, request: web.Request) -> web.Response:
        order = self.by_code(request.match_info["code"])
        if order is None:
            return web.Response(status=404, text="二维码无效", content_type="text/plain")
        return self.scanned(order)

    def scanned(self, order: T) -> web.Response:
        return self.page(order)

    async def pay_now(self, request: web.Request) -> web.Response:
        """The citizen confirms; JSON for the harness, an HTML page for the scan form."""
        from_page = request.content_type == "application/x-www-form-urlencoded"
        order = self.payable(request.match_info["no"])
        if order is None:
            return self.missing()
        amount_fen: int | None = None
        if not from_page:
            try:
                body = await desk.json_object(request)
                if "amount_fen" in body:
                    amount_fen = desk.positive_fen(body, "amount_fen", 0)
            except ValueError as exc:
                return self.bad(str(exc))
        now = datetime.now(BEIJING)
        refused = self.refusal(order, now)
        if refused is not None:
            code, message, note = refused
            if from_page:
                return self.page(order, note)
            return web.json_response({"code": code, "message": message}, status=409)
        answer, note = self.pay(order, amount_fen, now)
        return self.page(order, note) if from_page else web.json_response(answer)

    def add_routes(self, app: web.Application) -> None:
        """Serve the desk, and the scan page, paying and expiry."""
        app.router.add_get("/sim/scan/{code}", self.scan)
        app.router.add_post("/sim/orders/{no}/pay", self.pay_now)
        app.router.add_post("/sim/orders/{no}/expire", self.expire_now)
        super().add_routes(app)
