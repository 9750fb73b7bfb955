"""What each of the provider's error codes means for the window, and whether to try again.

Codes from Tencent Cloud's SMS error list (API 3.0, counter-and-beyond.md §5.3) and its common
codes. A code not listed falls back on its category (the part before the first dot).
"""

from __future__ import annotations

# code: (retryable, Chinese for the window)
CODES: dict[str, tuple[bool, str]] = {
    "LimitExceeded.DeliveryFrequencyLimit": (True, "发送过于频繁，请稍后再发"),
    "LimitExceeded.PhoneNumberThirtySecondLimit": (True, "该号码30秒内已收到短信，请稍后再发"),
    "LimitExceeded.PhoneNumberOneHourLimit": (True, "该号码1小时内短信已达上限，请稍后再发"),
    "LimitExceeded.PhoneNumberDailyLimit": (False, "该号码今日短信已达上限，请将通知书交缴款人"),
    "LimitExceeded.AppDailyLimit": (False, "本单位今日短信已达上限，请将通知书交缴款人"),
    "RequestLimitExceeded": (True, "短信平台繁忙，请稍后再发"),
    "FailedOperation.PhoneNumberInBlacklist": (
        False,
        "该号码已退订或在免打扰名单中，无法接收短信，请将通知书交缴款人",
    ),
    "FailedOperation.ContainSensitiveWord": (False, "短信内容被平台拦截，请联系系统管理员"),
    "FailedOperation.SignatureIncorrectOrUnapproved": (
        False,
        "短信签名未审核通过，请联系系统管理员",
    ),
    "FailedOperation.TemplateIncorrectOrUnapproved": (
        False,
        "短信模板未审核通过，请联系系统管理员",
    ),
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": (
        False,
        "短信内容与已审核模板不符，请联系系统管理员",
    ),
    "InvalidParameterValue.IncorrectPhoneNumber": (False, "手机号码有误，请核对后重发"),
    "InvalidParameterValue.ContentLengthLimit": (False, "短信内容过长，请联系系统管理员"),
    "InvalidParameterValue.TemplateParameterLengthLimit": (
        False,
        "短信内容超出模板长度限制，请联系系统管理员",
    ),
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": (
        False,
        "短信模板变量中不能含链接，请联系系统管理员",
    ),
    "InvalidParameterValue.SdkAppIdNotExist": (False, "短信应用配置有误，请联系系统管理员"),
    "AuthFailure.SignatureFailure": (False, "短信平台拒绝了本系统的签名，请联系系统管理员"),
    "AuthFailure.SignatureExpire": (True, "服务器时间与短信平台相差过大，请联系系统管理员"),
    "AuthFailure.SecretIdNotFound": (False, "短信平台密钥无效，请联系系统管理员"),
    "InternalError.Timeout": (True, "短信平台下发超时，请稍后再发"),
}
_CATEGORY: dict[str, tuple[bool, str]] = {
    "LimitExceeded": (True, "短信发送超出限额，请稍后再发"),
    "RequestLimitExceeded": (True, "短信平台繁忙，请稍后再发"),
    "InternalError": (True, "短信平台内部错误，请稍后再发"),
    "AuthFailure": (False, "短信平台鉴权失败，请联系系统管理员"),
}
_OTHER = (False, "短信平台拒绝发送，请联系系统管理员")


def meaning(code: str) -> tuple[bool, str]:
    """(retryable, Chinese) for a provider error code."""
    if code in CODES:
        return CODES[code]
    return _CATEGORY.get(code.split(".", 1)[0], _OTHER)
