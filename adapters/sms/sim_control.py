"""The simulator's unsigned desk: ``GET /sim/`` (a page of the outbox), ``GET /sim/outbox``
(JSON, ``?phone=`` to filter), ``DELETE /sim/outbox``, and the fault knobs at ``/sim/faults``."""

from __future__ import annotations

import logging
from dataclasses import asdict
from html import escape

from aiohttp import web

from adapters.simkit.faults import add_fault_routes
from adapters.sms.sim_state import STATE

log = logging.getLogger(__name__)


async def outbox(request: web.Request) -> web.Response:
    state = request.app[STATE]
    phone = request.query.get("phone")
    items = [asdict(d) for d in state.outbox if phone in (None, d.phone)]
    return web.json_response({"messages": items, "requests": state.requests})


async def clear_outbox(request: web.Request) -> web.Response:
    request.app[STATE].outbox.clear()
    return web.json_response({"messages": []})


async def page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    a = state.account
    rows = "\n".join(
        f"<tr><td>{escape(d.serial_no)}</td><td>{escape(d.phone)}</td>"
        f"<td>{escape(d.template_id)}</td><td>{escape(d.content)}</td></tr>"
        for d in reversed(state.outbox)
    )
    templates = "\n".join(
        f"<li>{escape(t.template_id)} {escape(t.name)}：{escape(t.text)}</li>"
        for t in a.templates.values()
    )
    html = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>短信平台模拟器</title></head><body>
<h1>短信平台模拟器（腾讯云 SendSms 2021-01-11）</h1>
<p>SmsSdkAppId {escape(a.sdk_app_id)} · 签名【{escape(a.sign_name)}】 · 地域 {escape(a.region)}</p>
<h2>已审核模板</h2><ul>{templates}</ul>
<h2>已下发短信（{len(state.outbox)}）</h2>
<table border="1" cellpadding="4"><thead><tr><th>SerialNo</th><th>号码</th><th>模板</th>
<th>内容</th></tr></thead><tbody id="outbox">{rows}</tbody></table>
<p>JSON: <a href="/sim/outbox">/sim/outbox</a> · 故障开关: <a href="/sim/faults">/sim/faults</a></p>
</body></html>"""
    return web.Response(text=html, content_type="text/html")


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/sim/", page)
    app.router.add_get("/sim/outbox", outbox)
    app.router.add_delete("/sim/outbox", clear_outbox)
    add_fault_routes(app, lambda app: app[STATE].faults, refuse=_refuse)


def _refuse(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)
