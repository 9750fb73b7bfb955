"""The SMS provider simulator over HTTP, through our real client: a signed send is delivered to
the outbox; a forged or stale signature, an unapproved template or a link in a variable is
refused as Tencent Cloud refuses it, and nothing is delivered; faults map to clear errors."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.sms import tc3
from clearing.messaging import NoticeMessage, SmsOutcomeUnknown, SmsRefused, SmsUnavailable
from tests.integration.serving import closed_url, running_sim_cli, stops_on_sigterm
from tests.integration.sms_harness import SmsSim, running_sms_sim

PHONE = "+8613800138000"
MESSAGE = NoticeMessage(
    case_no="2026-BDC-000777",
    amount_fen=350_080_00,
    pay_by=datetime(2026, 12, 7, 13, 15, tzinfo=UTC),
    token="TJ2026120700AB12CD34EF.tt3k2o.AbCdEfGhIjKlMnOpQrStUv",
)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SmsSim]:
    async with running_sms_sim(tmp_path / "sms") as s:
        yield s


async def test_a_signed_send_is_delivered_with_the_approved_template(sim: SmsSim) -> None:
    sent = await sim.client().send_notice(PHONE, MESSAGE, "notice-1")
    assert sent.code == "Ok" and sent.serial_no
    [msg] = await sim.outbox(PHONE)
    assert msg["serial_no"] == sent.serial_no and msg["session_context"] == "notice-1"
    assert msg["params"] == ["2026-BDC-000777", "350080.00", "12月07日21:15", MESSAGE.token]
    assert msg["content"].startswith("【示范市不动产登记中心】")
    assert f"https://jf.example.gov.cn/m/{MESSAGE.token}" in msg["content"]
    async with sim.session.get(sim.base_url + "/sim/") as r:
        assert r.status == 200 and sent.serial_no in await r.text()


async def test_a_forged_signature_is_refused_and_nothing_is_sent(sim: SmsSim) -> None:
    forged = replace(sim.merchant, secret_key="not-the-key-the-provider-issued")
    with pytest.raises(SmsRefused) as e:
        await sim.client(account=forged).send_notice(PHONE, MESSAGE, "x")
    assert e.value.code == "AuthFailure.SignatureFailure" and not e.value.retryable
    assert "签名" in e.value.message_zh
    # a body altered after signing: the signature no longer covers it
    body, headers = sim.client().request(PHONE, ["2026-BDC-000777", "1.00", "x", "y"], "c")
    tampered = body.replace(b"1.00", b"0.01")
    async with sim.session.post(sim.base_url + "/", data=tampered, headers=headers) as r:
        answer = await r.json()
    assert answer["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert await sim.outbox() == []


async def test_a_stale_timestamp_is_refused(sim: SmsSim) -> None:
    body = json.dumps({"PhoneNumberSet": [PHONE]}).encode()
    stale = int(time.time()) - 301
    host = sim.base_url.split("//", 1)[1]
    headers = {
        "Content-Type": tc3.CONTENT_TYPE,
        "X-TC-Action": "SendSms",
        "X-TC-Version": "2021-01-11",
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Timestamp": str(stale),
        "Authorization": tc3.authorization(
            secret_id=sim.merchant.secret_id,
            secret_key=sim.merchant.secret_key,
            service="sms",
            host=host,
            body=body,
            timestamp=stale,
        ),
    }
    async with sim.session.post(sim.base_url + "/", data=body, headers=headers) as r:
        answer = await r.json()
    assert answer["Response"]["Error"]["Code"] == "AuthFailure.SignatureExpire"


async def test_the_provider_enforces_its_templates_even_when_the_client_does_not(
    sim: SmsSim,
) -> None:
    # straight to the wire, past our client's own checks
    def signed(params: list[str], template: str | None = None) -> tuple[bytes, dict[str, str]]:
        body, headers = sim.client().request(PHONE, params, "c")
        if template is not None:
            data = json.loads(body)
            data["TemplateId"] = template
            body = json.dumps(data, ensure_ascii=False).encode()
            now = int(time.time())
            headers["X-TC-Timestamp"] = str(now)
            headers["Authorization"] = tc3.authorization(
                secret_id=sim.merchant.secret_id,
                secret_key=sim.merchant.secret_key,
                service="sms",
                host=sim.base_url.split("//", 1)[1],
                body=body,
                timestamp=now,
            )
        return body, headers

    cases = [
        (signed(["a", "1", "b", "c"], template="999999"), "FailedOperation.TemplateIncorrectOrUnapproved"),
        (signed(["a", "1", "b", "https://pay.example.com/x"]), "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"),
        (signed(["a", "1", "b", "c" * 65]), "InvalidParameterValue.TemplateParameterLengthLimit"),
        (signed(["a", "1", "b"]), "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"),
    ]  # fmt: skip
    for (body, headers), code in cases:
        async with sim.session.post(sim.base_url + "/", data=body, headers=headers) as r:
            answer = await r.json()
        assert answer["Response"]["Error"]["Code"] == code
    assert await sim.outbox() == []


async def test_faults_map_to_clear_errors(sim: SmsSim) -> None:
    client = sim.client(timeout_s=0.5)
    await sim.set_faults(rate_limit=1)
    with pytest.raises(SmsRefused) as refused:
        await client.send_notice(PHONE, MESSAGE, "a")
    assert refused.value.code == "LimitExceeded.DeliveryFrequencyLimit" and refused.value.retryable
    await sim.set_faults(api_5xx=1)
    with pytest.raises(SmsOutcomeUnknown):
        await client.send_notice(PHONE, MESSAGE, "b")
    await sim.set_faults(blacklist=[PHONE])
    with pytest.raises(SmsRefused) as black:
        await client.send_notice(PHONE, MESSAGE, "c")
    assert black.value.code == "FailedOperation.PhoneNumberInBlacklist"
    await sim.reset_faults()
    await sim.set_faults(delay_s=2)
    with pytest.raises(SmsOutcomeUnknown) as late:
        await client.send_notice(PHONE, MESSAGE, "d")
    assert "可能已发出" in late.value.message_zh
    # it did go out: "unknown" is why a send is never repeated blindly
    assert [m["session_context"] for m in await sim.outbox()] == ["d"]
    await sim.reset_faults()
    down = replace(sim, base_url=closed_url()).client(timeout_s=0.5)
    with pytest.raises(SmsUnavailable):
        await down.send_notice(PHONE, MESSAGE, "e")


async def test_tongjiao_sim_sms_runs_as_a_command(tmp_path: Path) -> None:
    async with running_sim_cli("sms", tmp_path / "keys") as (url, proc):
        async with running_sms_sim(tmp_path / "keys") as local:
            client = replace(local, base_url=url).client()
            sent = await client.send_notice(PHONE, MESSAGE, "cli")
            assert sent.code == "Ok"
            async with local.session.get(url + "/sim/outbox") as r:
                assert [m["serial_no"] for m in (await r.json())["messages"]] == [sent.serial_no]
        assert await stops_on_sigterm(proc)
