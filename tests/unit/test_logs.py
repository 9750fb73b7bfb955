"""Log lines never carry ID numbers, bearer tokens or keys."""

from __future__ import annotations

import json
import logging

from clearing.logs import JsonFormatter, request_id_var, scrub


def test_id_numbers_tokens_and_keys_are_scrubbed() -> None:
    line = scrub(
        "payer 11010519491231002X token tj_abcdefghijklmnopqrstuvwxyz0123456789"
        " key -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
    )
    assert "11010519491231002X" not in line
    assert "110105********002X" in line
    assert "abcdefghijklmnopqrstuvwxyz" not in line
    assert "MIIE" not in line


def test_credit_codes_and_mobile_numbers_are_scrubbed() -> None:
    line = scrub("payer 91350100M000100Y43 (示范置业) mobile 13812345678, +8615900001111")
    assert "91350100M000100Y43" not in line
    assert "91**************43" in line
    assert "13812345678" not in line
    assert "138****5678" in line
    assert "+8615900001111" not in line
    assert "+86159****1111" in line


def test_order_numbers_and_amounts_survive() -> None:
    text = (
        "order TJ20261126A1C6FEA2AF08 amount 35008000 fen txn 4200168720261208430179257934"
        " out_trade_no TJ2026120700012345 batch TJSFBK20261126001"
    )
    assert scrub(text) == text


def test_json_lines_carry_the_request_id() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "paid %s", ("11010519491231002X",), None
    )
    token = request_id_var.set("req-1")
    try:
        event = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert event["request_id"] == "req-1"
    assert event["level"] == "info"
    assert "11010519491231002X" not in event["msg"]
