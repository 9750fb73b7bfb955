"""What any request may carry (clearing.api.inputs): the characters refused, where a refusal
says it was, and the bounds of dates and counts in a query."""

from __future__ import annotations

from datetime import date

import pytest

from clearing.api import access, inputs
from clearing.errors import InvalidRequest, MalformedRequest


@pytest.mark.parametrize(
    ("text", "char"),
    [("a\x00b", "U+0000"), ("\x1b[31m", "U+001B"), ("x\x7f", "U+007F"), ("\ud800", "U+D800"),
     ("\x0bv", "U+000B")],
)  # fmt: skip
def test_refused_characters_are_named(text: str, char: str) -> None:
    assert inputs.refused_character(text) == char


@pytest.mark.parametrize("text", ["张三", "line one\nline two\r\n\tindented", "😀", "", "¥1,234"])
def test_ordinary_text_passes(text: str) -> None:
    assert inputs.refused_character(text) is None


def test_a_body_refusal_names_the_place() -> None:
    with pytest.raises(MalformedRequest) as caught:
        inputs.check_json({"lines": [{"item_code": "DEED_TAX"}, {"reference": "A\x00"}]})
    assert caught.value.code == "UNSUPPORTED_CHARACTER"
    assert caught.value.fields["field"] == "body lines.1.reference"
    with pytest.raises(MalformedRequest) as caught:
        inputs.check_json({"ok": 1, "bad\x00key": 2})
    assert caught.value.fields["field"] == "body key"


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01",
                                 "20260101", "2026-1-1", "2026-02-30", "x"])  # fmt: skip
def test_query_dates_outside_the_calendar_or_form_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        inputs.query_date({"date": raw}, "date")
    assert caught.value.code == "INVALID_DATE"


def test_query_dates_at_the_edges_are_accepted() -> None:
    assert inputs.query_date({"d": "2000-01-01"}, "d") == date(2000, 1, 1)
    assert inputs.query_date({"d": "2099-12-31"}, "d") == date(2099, 12, 31)
    assert inputs.query_date({}, "d") is None


@pytest.mark.parametrize("raw", ["0", "201", "9" * 5000, "١٢", "-1", "1.0"])
def test_query_counts_are_bounded_digits(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        inputs.query_int({"n": raw}, "n", default=1, lo=1, hi=200, code="X", zh="x")


def test_operation_keys_ignore_parameter_names_and_read_head_as_get() -> None:
    assert access.operation_key("HEAD", "/api/v1/discrepancies/{id}") == access.operation_key(
        "GET", "/api/v1/discrepancies/{discrepancy_id}"
    )
    assert access.callers("POST", "/api/v1/refunds/{x}/approve") == frozenset({"finance"})
    assert access.callers("GET", "/api/v1/no-such-route") is None
