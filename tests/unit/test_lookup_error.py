"""Which status a half-answered case gets: the authority's "no" is final, its silence is not."""

from __future__ import annotations

from typing import Any

from clearing.service.cases import lookup_error


def _f(authority: str, code: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "authority": authority,
        "reference": "R1",
        "code": code,
        "message": code,
        "message_zh": f"{authority}：{code}",
        "kind": kind,
        "retryable": kind != "refused",
        **extra,
    }


def test_a_refusal_is_422_with_the_authority_s_words_and_no_retry() -> None:
    err = lookup_error([_f("tax", "NOT_FOUND", "refused")])
    assert (err.status, err.code) == (422, "AUTHORITY_REFUSED")
    assert "tax：NOT_FOUND（R1）" in err.message_zh and "稍后" not in err.message_zh


def test_already_paid_is_409_naming_the_paying_order() -> None:
    err = lookup_error([_f("fiscal", "ALREADY_PAID", "refused", order_no="TJ1")])
    assert (err.status, err.code, err.fields["order_no"]) == (409, "REFERENCE_ALREADY_PAID", "TJ1")
    assert "已由缴费单 TJ1 缴纳" in err.message_zh


def test_paid_beside_another_refusal_is_422() -> None:
    err = lookup_error([_f("fiscal", "ALREADY_PAID", "refused"), _f("tax", "NOT_FOUND", "refused")])
    assert err.status == 422


def test_only_timeouts_are_504_and_any_other_silence_502() -> None:
    assert lookup_error([_f("tax", "AUTHORITY_TIMEOUT", "timeout")]).status == 504
    mixed = [_f("tax", "AUTHORITY_TIMEOUT", "timeout"), _f("fund", "X", "unavailable")]
    err = lookup_error(mixed)
    assert (err.status, err.code) == (502, "AUTHORITY_LOOKUP_FAILED")
    assert "稍后重试" in err.message_zh


async def test_an_authority_we_are_not_connected_to_is_not_offered_again() -> None:
    from datetime import date

    from clearing.service.cases import CaseRefs, lookup

    found = await lookup(
        {},
        CaseRefs("张三", "11010519491231002X", declaration_no="199999999999999999"),
        schedules=[],
        today=date(2030, 3, 14),
        timeout_s=1.0,
    )
    (failure,) = found.failures
    assert (failure["code"], failure["retryable"]) == ("AUTHORITY_NOT_CONFIGURED", False)
    assert lookup_error(found.failures).status == 502
