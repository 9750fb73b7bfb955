"""SMS body templates as the provider registers them, and the rules a send must keep.

A template is fixed text with ``{1}``, ``{2}``… filled in order from ``TemplateParamSet``
(counter-and-beyond.md §5.3): numbered from 1 without gaps, never two side by side, never a
template of variables only, no ``【】`` (the sign is put in them). Each variable has a maximum
length the provider approved. A variable may not carry a link — links must be constant text of
the template (an ICP-filed address), so a payment notice's template holds the pay site and
``/m/`` and only the token is a variable. The whole message, sign and values included, is at
most 500 characters.

Both our client (to refuse a bad send before it leaves) and the simulator (as the provider
would) use these rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 500
_VAR = re.compile(r"\{(\d+)\}")
# a value that is, or holds, a link: a scheme, www., or a host name ending in a common TLD
# followed by a path, a port or the end (a token's dots are followed by more token, never these)
_LINK = re.compile(
    r"(?i)([a-z][a-z0-9+.-]*://|www\.|[a-z0-9-]+(\.[a-z0-9-]+)*\.(cn|com|net|org|gov|top|xyz|cc|io)"
    r"(?=[/:?#]|$))"
)
_SIGN = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{2,12}$")


class TemplateRuleError(ValueError):
    """A send that breaks the template's rules: the provider's ``code`` and what it means."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    text: str
    max_lengths: tuple[int, ...]

    @classmethod
    def from_json(cls, template_id: str, data: dict[str, Any]) -> Template:
        t = cls(
            template_id=template_id,
            name=str(data.get("name", "")),
            text=str(data["text"]),
            max_lengths=tuple(int(n) for n in data["max_lengths"]),
        )
        t.check_text()
        return t

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "text": self.text, "max_lengths": list(self.max_lengths)}

    def check_text(self) -> None:
        """A template the provider would approve, in form at least."""
        numbers = [int(n) for n in _VAR.findall(self.text)]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(
                f"template {self.template_id}: variables must be {{1}}, {{2}}… in order"
            )
        if len(numbers) != len(self.max_lengths):
            raise ValueError(f"template {self.template_id}: one maximum length per variable")
        if re.search(r"\}\{", self.text):
            raise ValueError(f"template {self.template_id}: two variables side by side")
        if not _VAR.sub("", self.text).strip():
            raise ValueError(f"template {self.template_id}: a template of variables only")
        if "【" in self.text or "】" in self.text:
            raise ValueError(f"template {self.template_id}: 【】 are for the sign only")

    def render(self, sign_name: str, params: list[str]) -> str:
        """The message as the phone shows it, after ``check_params``."""
        body = _VAR.sub(lambda m: params[int(m[1]) - 1], self.text)
        return f"【{sign_name}】{body}"

    def check_params(self, sign_name: str, params: list[str]) -> str:
        """The rendered message, or ``TemplateRuleError`` with the provider's code."""
        if len(params) != len(self.max_lengths):
            raise TemplateRuleError(
                "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                f"template {self.template_id} takes {len(self.max_lengths)} parameters,"
                f" {len(params)} given",
            )
        for i, (value, limit) in enumerate(zip(params, self.max_lengths, strict=True), start=1):
            if not isinstance(value, str) or not value:
                raise TemplateRuleError(
                    "InvalidParameterValue.TemplateParameterFormatError",
                    f"parameter {{{i}}} must be non-empty text",
                )
            if len(value) > limit:
                raise TemplateRuleError(
                    "InvalidParameterValue.TemplateParameterLengthLimit",
                    f"parameter {{{i}}} is {len(value)} characters, at most {limit}",
                )
            if _LINK.search(value):
                raise TemplateRuleError(
                    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
                    f"parameter {{{i}}} holds a link; links must be constant template text",
                )
        message = self.render(sign_name, params)
        if len(message) > MAX_MESSAGE:
            raise TemplateRuleError(
                "InvalidParameterValue.ContentLengthLimit",
                f"the message is {len(message)} characters, at most {MAX_MESSAGE}",
            )
        return message


def check_sign(sign_name: str) -> None:
    if not _SIGN.match(sign_name):
        raise ValueError("a sign is 2 to 12 Chinese or English letters or digits")


# the payment notice: case number, amount in yuan, deadline (Beijing), the link's token; the
# site before /m/ is the deployment's ICP-filed address, registered as part of the text
NOTICE_TEMPLATE_ID = "2316001"
NOTICE_MAX_LENGTHS = (32, 16, 12, 64)


def notice_template(site: str, template_id: str = NOTICE_TEMPLATE_ID) -> Template:
    text = (
        "您的不动产登记业务（受理号{1}）应缴税费{2}元，请于{3}前缴纳，逾期请到窗口重新开具。"
        f"缴费页面：{site.rstrip('/')}/m/{{4}} 如非本人业务请忽略。"
    )
    return Template(template_id, "缴费通知", text, NOTICE_MAX_LENGTHS)
