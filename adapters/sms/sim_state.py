"""The SMS provider simulator's state: the account it knows, what it delivered, its faults.

Fault knobs (``PUT /sim/faults``, partial; ``DELETE`` resets)::

    api_5xx        the next N requests answer HTTP 502 from the front proxy (nothing sent)
    delay_s        every answer waits this long: the client times out (the message IS sent,
                   as a provider that answers late still delivers)
    rate_limit     the next N sends are refused LimitExceeded.DeliveryFrequencyLimit
    bad_signature  every request is answered AuthFailure.SignatureFailure, as if our key were wrong
    blacklist      numbers (+86…) in the provider's do-not-disturb list
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.simkit.faults import Knobs
from adapters.simkit.state import SimBase
from adapters.sms.keys import SmsAccount


@dataclass
class Faults(Knobs):
    api_5xx: int = 0
    delay_s: float = 0.0
    rate_limit: int = 0
    bad_signature: bool = False
    blacklist: list[str] = field(default_factory=list)

    def check(self, name: str, value: Any) -> Any:
        if name == "blacklist":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("blacklist must be a list of phone numbers")
            return list(value)
        return super().check(name, value)


@dataclass(frozen=True)
class Delivered:
    serial_no: str
    phone: str
    sign_name: str
    template_id: str
    params: list[str]
    content: str
    session_context: str
    at: float


class SimState(SimBase):
    def __init__(self, account: SmsAccount, *, public_base_url: str) -> None:
        super().__init__()
        self.account = account
        self.public_base_url = public_base_url
        self.faults = Faults()
        self.outbox: list[Delivered] = []
        self.requests = 0

    def deliver(
        self, phone: str, template_id: str, params: list[str], content: str, ctx: str
    ) -> Delivered:
        serial = f"2433:{secrets.randbelow(10**18):018d}"
        d = Delivered(
            serial, phone, self.account.sign_name, template_id, params, content, ctx, time.time()
        )
        self.outbox.append(d)
        return d


STATE = web.AppKey("sms_state", SimState)
