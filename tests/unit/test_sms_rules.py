"""The SMS adapter's pure parts: the TC3-HMAC-SHA256 signature, the template rules, phone numbers."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.sms import errors, tc3
from adapters.sms.templates import Template, TemplateRuleError, notice_template
from clearing.errors import InvalidRequest
from clearing.service.notices import mask_name, mask_phone, normalize_phone

# Tencent Cloud's worked example for signature v3 (签名方法 v3, CVM DescribeInstances): the
# documented key (printed with its last characters starred, which is the key the example uses),
# timestamp, body, and the hashes and signature the documentation prints for each step
DOC_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******"
DOC_KEY = "Gu5t9xGARNpq86cd98joQYCN3*******"
DOC_BODY = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
DOC_TIME = 1551113065


def test_the_signature_matches_tencent_s_documented_example_step_by_step() -> None:
    canonical = tc3.canonical_request("cvm.tencentcloudapi.com", DOC_BODY)
    assert canonical.endswith("35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    to_sign = tc3.string_to_sign(DOC_TIME, "cvm", canonical)
    assert to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    header = tc3.authorization(
        secret_id=DOC_ID,
        secret_key=DOC_KEY,
        service="cvm",
        host="cvm.tencentcloudapi.com",
        body=DOC_BODY,
        timestamp=DOC_TIME,
    )
    assert header == (
        f"TC3-HMAC-SHA256 Credential={DOC_ID}/2019-02-25/cvm/tc3_request,"
        " SignedHeaders=content-type;host,"
        " Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )


def test_the_signature_agrees_with_an_independent_computation_for_sms() -> None:
    body = '{"PhoneNumberSet":["+8613800138000"],"TemplateParamSet":["一"]}'.encode()
    ts = 1796673600  # 2026-12-07 20:00 UTC, already the 8th in Beijing: the scope is UTC's date
    canonical = (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:sms.tencentcloudapi.com\n"
        "\ncontent-type;host\n" + hashlib.sha256(body).hexdigest()
    )
    to_sign = (
        f"TC3-HMAC-SHA256\n{ts}\n2026-12-07/sms/tc3_request\n"
        + hashlib.sha256(canonical.encode()).hexdigest()
    )
    key = b"TC3secret"
    for part in ("2026-12-07", "sms", "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    wanted = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    header = tc3.authorization(
        secret_id="AKIDx",
        secret_key="secret",
        service="sms",
        host="sms.tencentcloudapi.com",
        body=body,
        timestamp=ts,
    )
    assert header.endswith(f"Signature={wanted}")
    parsed = tc3.parse_authorization(header)
    assert parsed is not None and (parsed.secret_id, parsed.date) == ("AKIDx", "2026-12-07")


def test_the_notice_template_keeps_the_link_constant_and_checks_each_value() -> None:
    t = notice_template("https://jf.example.gov.cn")
    token = "TJ2026120700AB12CD34EF.tt3k2o.AbCdEfGhIjKlMnOpQrStUv"
    message = t.check_params(
        "示范市不动产登记中心", ["2026-BDC-000777", "3500.80", "12月07日21:15", token]
    )
    assert message.startswith("【示范市不动产登记中心】")
    assert f"https://jf.example.gov.cn/m/{token}" in message and len(message) <= 500
    with pytest.raises(TemplateRuleError) as e:
        t.check_params("签名", ["a", "1", "b", "https://evil.example.com/x"])
    assert e.value.code == "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"
    with pytest.raises(TemplateRuleError) as e:
        t.check_params("签名", ["a", "1", "b"])
    assert e.value.code == "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    with pytest.raises(TemplateRuleError) as e:
        t.check_params("签名", ["a" * 33, "1", "b", "c"])
    assert e.value.code == "InvalidParameterValue.TemplateParameterLengthLimit"


@pytest.mark.parametrize(
    "text",
    ["{1}{2}", "您好{2}", "{1}", "【签名】您好{1}"],
    ids=["adjacent", "gap", "all-var", "brackets"],
)
def test_templates_the_provider_would_not_approve_are_refused(text: str) -> None:
    n = text.count("{")
    with pytest.raises(ValueError):
        Template.from_json("1", {"text": text, "max_lengths": [6] * n})


def test_provider_codes_have_chinese_for_the_window_and_a_retry_verdict() -> None:
    assert errors.meaning("LimitExceeded.DeliveryFrequencyLimit")[0] is True
    retry, zh = errors.meaning("FailedOperation.PhoneNumberInBlacklist")
    assert retry is False and "退订" in zh
    assert errors.meaning("LimitExceeded.SomethingNew")[0] is True  # by its category
    assert "短信" in errors.meaning("NoSuchThing")[1]


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("008619912345678", "+8619912345678"),
    ],
)
def test_mainland_mobiles_are_accepted_in_the_ways_people_write_them(typed: str, e164: str) -> None:
    assert normalize_phone(typed) == e164


@pytest.mark.parametrize("typed", ["12800138000", "1380013800", "010-88886666", "+1 4155550100"])
def test_other_numbers_are_refused_in_chinese(typed: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        normalize_phone(typed)
    assert e.value.code == "PHONE_INVALID" and "手机号码" in e.value.message_zh


def test_masks() -> None:
    assert mask_phone("+8613800138000") == "138****8000"
    assert [mask_name(n) for n in ("张三", "欧阳娜", "示范置业有限公司")] == [
        "张*",
        "欧*娜",
        "示范****公司",
    ]
