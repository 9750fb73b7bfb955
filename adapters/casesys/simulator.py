"""A simulator of the registration case system (不动产登记业务系统) receiving our webhooks.

``create_simulator_app`` serves ``POST /webhooks/tongjiao`` — the URL a case system registers —
which checks each event as a careful receiver does (sim_state.py: signature over the raw body
with the secret(s) it holds, timestamp within 5 minutes, duplicates acknowledged once), records
it per order, and answers 200; fault knobs make it fail, answer slowly, time out or be down. The
unsigned ``/sim/`` desk shows what arrived (a page at ``/sim/``, JSON at ``/sim/events``), sets
its secrets and faults. ``main`` is ``tongjiao sim casesys``.

Desk routes::

    GET    /sim/                 what arrived, per order (a page in Chinese)
    GET    /sim/events           the same as JSON, with duplicates, refusals, faults
    DELETE /sim/events           forget every event (and the ids seen)
    PUT    /sim/secrets          {"secrets": ["whsec_…", …]}: the secrets it verifies with
    GET|PUT|DELETE /sim/faults   {"down", "fail_next", "delay_s"} (sim_state.Faults)
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from aiohttp import web

from adapters import simkit
from adapters.casesys.sim_state import STATE, SimState
from adapters.simkit import wiring
from adapters.simkit.authority import Refusal
from adapters.simkit.faults import add_fault_routes

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhooks/tongjiao"
SECRET_FILE = "casesys-webhook-secret"  # noqa: S105 - a file name; in --keys: one secret per line, when given that way
_BEIJING = timezone(timedelta(hours=8))
_TYPE_ZH = {
    "order.paid": "缴费成功",
    "order.settled": "清算完成",
    "order.refunded": "已退款",
    "order.cancelled": "缴费单已撤销",
    "order.expired": "缴费单已过期",
}


def create_simulator_app(*, secrets: list[str] | None = None) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``."""
    app = web.Application(client_max_size=256 * 1024)
    state = SimState(secrets=list(secrets or []))
    return wiring.assemble(app, STATE, state, _add_routes)


def _add_routes(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, _webhook)
    app.router.add_get("/sim/", _page)
    app.router.add_get("/sim/events", _events)
    app.router.add_delete("/sim/events", _forget)
    app.router.add_put("/sim/secrets", _secrets)
    add_fault_routes(app, lambda app: app[STATE].faults, refuse=_refuse)


def _refusal(state: SimState, exc: Refusal) -> web.Response:
    state.refused.append({"code": exc.code, "detail": exc.words, "at": time.time()})
    log.warning("webhook refused code=%s detail=%s", exc.code, exc.words)
    return web.json_response({"code": exc.code, "detail": exc.words}, status=exc.status)


async def _webhook(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if state.faults.down:
        return web.Response(status=503, text="service unavailable")
    body = await request.read()  # the raw bytes: the signature is over exactly these
    try:
        event = state.verify(request.headers, body, time.time())
    except Refusal as exc:
        return _refusal(state, exc)
    event_id = str(event["id"])
    state.requests[event_id] = state.requests.get(event_id, 0) + 1
    state.in_flight[event_id] = state.in_flight.get(event_id, 0) + 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight[event_id])
    try:
        await state.pause(state.faults.delay_s)
        if state.faults.take("fail_next"):
            return web.json_response({"code": "BUSY"}, status=500)
        received = datetime.now(UTC).astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        fresh = state.keep(event, received)
    finally:
        state.in_flight[event_id] -= 1
    if not fresh:
        log.info("webhook duplicate event=%s (acknowledged, not processed again)", event_id)
    return web.json_response({"received": True, "duplicate": not fresh})


async def _events(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].as_json())


async def _forget(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.events.clear()
    state.seen.clear()
    state.refused.clear()
    state.requests.clear()
    state.duplicates = 0
    state.max_in_flight = 0
    return web.json_response(state.as_json())


async def _secrets(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    given = body.get("secrets") if isinstance(body, dict) else None
    if not isinstance(given, list) or not all(isinstance(s, str) and s for s in given):
        return web.json_response({"detail": 'body must be {"secrets": ["…"]}'}, status=400)
    request.app[STATE].secrets = list(given)
    log.info("secrets set count=%d", len(given))
    return web.json_response({"secrets": len(given)})


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"  # integer fen, never a float


async def _page(request: web.Request) -> web.Response:
    """What arrived, per order, for a person watching the demo."""
    state = request.app[STATE]
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            *(
                html.escape(str(x))
                for x in (
                    e["received_at"],
                    e["order_no"],
                    e["case_no"],
                    _TYPE_ZH.get(str(e["type"]), e["type"]),
                    _yuan(int(e["paid_fen"] or 0)),
                    e["id"],
                )
            )
        )
        for e in reversed(state.events)
    )
    faults = state.faults
    status = "离线（模拟故障）" if faults.down else "在线"
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>不动产登记业务系统（模拟）事件接收</title>
<meta http-equiv="refresh" content="3"></head><body style="font-family:sans-serif">
<h1>不动产登记业务系统（模拟）</h1>
<p>接收地址 <code>{html.escape(WEBHOOK_PATH)}</code>；状态：{status}；
已配置密钥 {len(state.secrets)} 个；重复事件 {state.duplicates} 次；
拒收 {len(state.refused)} 次。</p>
<table border="1" cellpadding="4"><thead><tr><th>收到时间</th><th>缴费单号</th><th>业务受理号</th>
<th>事件</th><th>已缴金额（元）</th><th>事件编号</th></tr></thead><tbody>{rows}</tbody></table>
</body></html>"""
    return web.Response(text=page, content_type="text/html")


def main(argv: list[str]) -> int:
    """``tongjiao sim casesys --host H --port P --keys DIR [--secret S]``."""
    return simkit.run(
        "casesys",
        argv,
        port=8099,
        add_options=_options,
        build=_build,
        rebase=_rebase,
        keys_help=f"folder that may hold {SECRET_FILE} (one signing secret per line)",
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret", action="append", default=[], help="a signing secret (repeat for two)"
    )


def _build(args: argparse.Namespace) -> simkit.MakeApp:
    secrets = list(args.secret)
    path = Path(args.keys) / SECRET_FILE
    if path.exists():
        secrets += [s.strip() for s in path.read_text("utf-8").splitlines() if s.strip()]
    return lambda _base_url: create_simulator_app(secrets=secrets)


def _refuse(detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=400)


def _rebase(app: web.Application, base_url: str) -> None:
    """The receiver needs no URL of its own."""


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
