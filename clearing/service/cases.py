"""What a case owes, asked of the authorities that decide it, concurrently and with timeouts.

Window staff do not type amounts: the tax bureau (by declaration number), the fiscal non-tax
system (by payment code) and the maintenance-fund office (by notice or property unit) say what is
due, and the registration fee comes from the published schedule. One authority failing does not
hide what the others answered: the clerk sees which one failed, and can ask it again alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from clearing.domain.display import name
from clearing.domain.fees import FeeSchedule, Matter, in_force, registration_fee
from clearing.errors import (
    ClearingError,
    Conflict,
    InvalidRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from clearing.ports import Authority, AuthorityRefused, DueItem

log = logging.getLogger(__name__)

# the authorities by the names staff read (the one table: clearing.domain.display)
AUTHORITY_ZH = {code: name("authority", code) for code in ("tax", "fiscal", "fund")}
# what a clerk reads when an authority refused without words of its own (a check we make before
# asking, or a bare code)
REFUSAL_ZH = {
    "BAD_REFERENCE": "号码格式不正确，请核对后重新输入",
    "PAYMENT_CODE_INVALID": "不是本地区的缴款码，请核对",
    "NOT_FOUND": "未找到该凭证，请核对号码",
    "ALREADY_PAID": "该凭证已缴款，不能重复缴纳",
    "CASE_MISMATCH": "凭证与缴款人或不动产不一致",
}
# refusals that are about our request, not the reference (a signature or clock problem on our
# side): asking again may well succeed, so they read as an outage
NOT_ABOUT_THE_REFERENCE = frozenset({"REQUEST_REFUSED"})
# what a failed lookup is: the authority's final word, or no word at all
REFUSED, TIMEOUT, UNAVAILABLE = "refused", "timeout", "unavailable"


@dataclass(frozen=True)
class CaseRefs:
    payer_name: str
    payer_id: str
    declaration_no: str | None = None
    payment_codes: tuple[str, ...] = ()
    fund_notice: str | None = None
    property_unit: str | None = None
    matters: tuple[Matter, ...] = ()


@dataclass
class Lookup:
    items: list[DueItem] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failures


def _failure(
    authority: str, reference: str, code: str, message: str, zh: str, *, kind: str
) -> dict[str, Any]:
    return {
        "authority": authority,
        "reference": reference,
        "code": code,
        "message": message,
        "message_zh": zh,
        "kind": kind,
        # asking again can only help when the authority did not answer; its "no" stays a "no",
        # and one we are not connected to stays unconnected
        "retryable": kind != REFUSED and code != "AUTHORITY_NOT_CONFIGURED",
    }


async def _ask(
    authorities: Mapping[str, Authority],
    name: str,
    reference: str,
    case: dict[str, str],
    timeout_s: float,
) -> list[DueItem] | dict[str, Any]:
    authority = authorities.get(name)
    who = AUTHORITY_ZH[name]
    if authority is None:
        return _failure(
            name,
            reference,
            "AUTHORITY_NOT_CONFIGURED",
            f"{name} is not configured",
            f"{who}未接入",
            kind=UNAVAILABLE,
        )
    try:
        return await asyncio.wait_for(authority.lookup(reference, **case), timeout_s)
    except AuthorityRefused as exc:
        why = exc.reason or REFUSAL_ZH.get(exc.code, "查询被拒绝")
        kind = UNAVAILABLE if exc.code in NOT_ABOUT_THE_REFERENCE else REFUSED
        return _failure(name, reference, exc.code, exc.message, f"{who}：{why}", kind=kind)
    except Exception as exc:
        if not _timed_out(exc):
            log.warning("lookup at %s failed: %r", name, exc)
            return _failure(
                name,
                reference,
                "AUTHORITY_UNAVAILABLE",
                f"{name}: {type(exc).__name__}",
                f"{who}暂时无法查询，请稍后仅重试该部门",
                kind=UNAVAILABLE,
            )
        log.warning("lookup at %s timed out", name)
        return _failure(
            name,
            reference,
            "AUTHORITY_TIMEOUT",
            f"{name} did not answer in time",
            f"{who}未在规定时间内答复，请稍后仅重试该部门",
            kind=TIMEOUT,
        )


def _timed_out(exc: BaseException | None) -> bool:
    """Our deadline, or the adapter's own (its error raised from the timeout)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, TimeoutError):
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


async def lookup(
    authorities: Mapping[str, Authority],
    refs: CaseRefs,
    *,
    schedules: list[FeeSchedule],
    today: date,
    timeout_s: float,
) -> Lookup:
    """Ask every authority the case names, at once; collect items and per-authority failures."""
    asks = []
    if refs.declaration_no:
        # the declaration names buyer and seller itself; the payer may be either, or an agent
        asks.append(_ask(authorities, "tax", refs.declaration_no, {}, timeout_s))
    for code in refs.payment_codes:
        asks.append(_ask(authorities, "fiscal", code, {"payer_name": refs.payer_name}, timeout_s))
    if refs.fund_notice or refs.property_unit:
        case = {"property_unit": refs.property_unit} if refs.property_unit else {}
        asks.append(_ask(authorities, "fund", refs.fund_notice or "", case, timeout_s))
    result = Lookup()
    for answer in await asyncio.gather(*asks):
        if isinstance(answer, dict):
            result.failures.append(answer)
        else:
            result.items.extend(answer)
    if refs.matters:
        schedule = in_force(schedules, today)
        for matter in refs.matters:
            fen = registration_fee(schedule, matter)
            if fen:
                result.items.append(
                    DueItem(
                        "schedule",
                        "REG_FEE",
                        "",  # from the local schedule: no authority reference to confirm
                        fen,
                        details={
                            "schedule_version": schedule.version,
                            "kind": matter.kind,
                            "extra_certificates": matter.extra_certificates,
                        },
                    )
                )
    return result


def lookup_error(failures: list[dict[str, Any]]) -> ClearingError:
    """Why no order was made of a half-answered case, with the right status.

    An authority's own refusal is final: 409 when every refusal says "already paid" (naming the
    order that paid, where ``order_no`` was found), else 422, with the authority's reasons and no
    retry. Only silence is an outage: 504 when every failed authority timed out, else 502."""
    refused = [f for f in failures if f["kind"] == REFUSED]
    listed = "；".join(_line(f) for f in (refused or failures))
    if refused and all(f["code"] == "ALREADY_PAID" for f in refused):
        paid_by = next((f["order_no"] for f in refused if f.get("order_no")), None)
        return Conflict(
            "REFERENCE_ALREADY_PAID",
            "the authority says a reference of the case is already paid; no order was created",
            f"凭证已缴款，不能重复缴纳，缴费单未生成：{listed}",
            failures=failures,
            order_no=paid_by,
        )
    if refused:
        return InvalidRequest(
            "AUTHORITY_REFUSED",
            "an authority refused a reference of the case; no order was created",
            f"主管部门不受理该凭证，缴费单未生成：{listed}",
            failures=failures,
        )
    names = "、".join(dict.fromkeys(AUTHORITY_ZH[f["authority"]] for f in failures))
    if all(f["kind"] == TIMEOUT for f in failures):
        return UpstreamTimeout(
            "AUTHORITY_TIMEOUT",
            "an authority did not answer in time; no order was created",
            f"{names}未在规定时间内答复，缴费单未生成；请稍后重试该部门",
            failures=failures,
        )
    return UpstreamUnavailable(
        "AUTHORITY_LOOKUP_FAILED",
        "an authority could not say what the case owes; no order was created",
        f"{names}查询失败，缴费单未生成；请稍后重试该部门",
        failures=failures,
    )


def _line(f: dict[str, Any]) -> str:
    """One failure as the clerk reads it: the authority's words, the reference, the order."""
    text = f"{f['message_zh']}（{f['reference']}）" if f["reference"] else f["message_zh"]
    return f"{text}，已由缴费单 {f['order_no']} 缴纳" if f.get("order_no") else text


async def recheck(
    authorities: Mapping[str, Authority],
    case_refs: Mapping[str, Any],
    payer_name: str,
    payer_id: str,
    lines: list[tuple[str, int]],
    *,
    timeout_s: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ask the authorities again; return (lines whose amount changed, authorities that failed).

    ``lines`` are the order's (reference, amount_fen) pairs that came from an authority."""
    refs = CaseRefs(
        payer_name=payer_name,
        payer_id=payer_id,
        declaration_no=case_refs.get("declaration_no"),
        payment_codes=tuple(case_refs.get("payment_codes") or ()),
        fund_notice=case_refs.get("fund_notice"),
        property_unit=case_refs.get("property_unit"),
    )
    # no matters: the local fee schedule is not asked again, so no day is needed
    found = await lookup(authorities, refs, schedules=[], today=date.min, timeout_s=timeout_s)
    now_due = {i.reference: i.amount_fen for i in found.items if i.reference}
    failed = {f["authority"] for f in found.failures}
    changed = [
        {"reference": ref, "amount_fen": fen, "now_fen": now_due.get(ref)}
        for ref, fen in lines
        if now_due.get(ref) != fen and not failed
    ]
    return changed, found.failures
