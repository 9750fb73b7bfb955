"""A real tax-bureau front-end simulator: ``sim.create_case(price=..., area_m2=...)`` declares a
resale, and ``sim.client().lookup(declaration_no)`` reads what it owes."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from adapters.tax import keys as keyset
from adapters.tax import signing
from adapters.tax.client import TaxClient
from adapters.tax.keys import MerchantKeys, PlatformKeys
from adapters.tax.simulator import create_simulator_app
from adapters.tax.wire import LOOKUP, wire_time
from tests.integration.serving import SimHandle, load_keyset, running_sim


@dataclass
class TaxSim(SimHandle[MerchantKeys, PlatformKeys]):
    """A running tax bureau front-end (see ``SimHandle``), and what its /sim/ desk offers beyond the others."""

    def client(self, *, base_url: str | None = None, timeout_s: float = 2.0) -> TaxClient:
        return TaxClient(
            self.session,
            base_url=base_url or self.base_url,
            keys=self.merchant,
            timeout_s=timeout_s,
        )

    async def create_case(self, **fields: Any) -> dict[str, Any]:
        """Declare one resale; every field is optional (see ``adapters.tax.sim_control``)."""
        return dict(await self.answered("POST", "/sim/cases", fields, expect=201))

    async def case(self, declaration_no: str) -> dict[str, Any]:
        return dict(await self.answered("GET", f"/sim/cases/{quote(declaration_no)}"))

    async def confirmations(self, day: str | None = None) -> list[dict[str, Any]]:
        path = "/sim/confirmations" + (f"?date={day}" if day else "")
        return list(await self.answered("GET", path))

    async def requests(self) -> list[dict[str, Any]]:
        return list(await self.answered("GET", "/sim/requests"))

    def lookup_request(self, declaration_no: str, sent: datetime) -> bytes:
        """The exact bytes of one lookup request, for tests that send them by hand."""
        head = {
            "Ver": "1.0", "App": "SFTJ", "MsgNo": "1101", "SrcOrgCode": self.merchant.src_org_code,
            "TaxOrgCode": self.merchant.tax_org_code, "EntrustDate": sent.strftime("%Y%m%d"),
            "TraNo": signing.new_tra_no(), "SendTime": wire_time(sent),
        }  # fmt: skip
        return json.dumps({"Head": head, "Body": {"DeclNo": declaration_no}}).encode()

    async def post_raw(self, body: bytes, token: bytes) -> tuple[int, dict[str, Any]]:
        """POST ``body`` to the lookup endpoint with a MAC under ``token``."""
        headers = {
            signing.MAC_HEADER: signing.mac_header(token, body),
            signing.SRC_HEADER: self.merchant.src_org_code,
            "Content-Type": "application/json",
        }
        async with self.session.post(self.base_url + LOOKUP[2], data=body, headers=headers) as resp:
            return resp.status, await resp.json()


def running_tax_sim(
    keys_root: Path,
) -> AbstractAsyncContextManager[TaxSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    return running_sim(TaxSim, create_simulator_app, load_keyset(keyset, keys_root))
