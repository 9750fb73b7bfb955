"""The webhook signature a case system verifies, and the retry schedule's promise of 24 hours."""

from __future__ import annotations

import hashlib
import hmac

from clearing.domain.webhooks import (
    MAX_ATTEMPTS,
    RETRY_SCHEDULE_S,
    retry_delay_s,
    signature,
    signature_header,
)

BODY = b'{"id":"evt_1","type":"order.paid","data":{"order_no":"T1","paid_fen":8000}}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_raw_body() -> None:
    # what the README tells the case system to compute, written out independently
    expected = hmac.new(b"whsec_k1", b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert signature("whsec_k1", 1767225600, BODY) == expected
    assert signature_header(["whsec_k1"], 1767225600, BODY) == f"v1={expected}"


def test_any_change_of_body_time_or_key_changes_the_signature() -> None:
    base = signature("whsec_k1", 1767225600, BODY)
    assert signature("whsec_k1", 1767225601, BODY) != base
    assert signature("whsec_k1", 1767225600, BODY.replace(b"8000", b"8001")) != base
    assert signature("whsec_k2", 1767225600, BODY) != base


def test_during_a_rotation_every_secret_signs_newest_first() -> None:
    header = signature_header(["whsec_new", "whsec_old"], 1767225600, BODY)
    assert header.split(",") == [
        f"v1={signature('whsec_new', 1767225600, BODY)}",
        f"v1={signature('whsec_old', 1767225600, BODY)}",
    ]


def test_retries_back_off_over_about_a_day_then_give_up() -> None:
    assert list(RETRY_SCHEDULE_S) == sorted(RETRY_SCHEDULE_S)
    assert 23 * 3600 <= sum(RETRY_SCHEDULE_S) <= 25 * 3600
    assert len(RETRY_SCHEDULE_S) + 1 == MAX_ATTEMPTS
    assert retry_delay_s(MAX_ATTEMPTS, scale=1, jitter=0.5) is None
    assert retry_delay_s(0, scale=1, jitter=0.5) is None
    for attempt, step in enumerate(RETRY_SCHEDULE_S, start=1):
        low = retry_delay_s(attempt, scale=1, jitter=0.0)
        high = retry_delay_s(attempt, scale=1, jitter=0.999)
        assert low == step * 0.75 and high is not None and step * 1.2 < high < step * 1.25


def test_a_compressed_schedule_keeps_its_shape() -> None:
    assert retry_delay_s(7, scale=0.001, jitter=0.5) == RETRY_SCHEDULE_S[6] * 0.001
