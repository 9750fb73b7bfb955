"""A real partner-bank simulator on 127.0.0.1 for tests: its file exchange over mutual TLS, its
``/sim/`` desk over plain HTTP, our signing keys, and helpers to read what it answers.

    async with running_bank_sim(tmp_path) as bank:
        data = pain001("MSG1", [Transfer("E2E1", TREASURY, "国家金库示范市中心支库", "100.00")])
        await bank.push("TJ_SFBK_20260302_001.pain001.xml", data)
        [status] = await bank.outbox_files("pain.002")
        assert values(status, "GrpSts") == ["ACSC"]

Files are signed with ``clearing.settlement.signing`` (what the service itself uses); the bank
verifies them with its own code. ``pain001`` writes small pain.001.001.09 files by hand, so that
tests can also write wrong ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from lxml import etree

from adapters.bank import pki
from adapters.bank.client import BankClient
from adapters.bank.sim_signature import VerifyKey, parse_verify_key
from adapters.bank.sim_state import STATE, PullConfig, SimState
from adapters.bank.simulator import OUR_CN, TlsFiles, bank_cn, create_simulator_app, prepare_tls
from adapters.iso20022.schemas import validate
from clearing.settlement.signing import (
    Alg,
    Signer,
    checksum_file,
    generate_keypair,
    load_signer,
    signature_file,
)
from tests.integration.service_harness import Service, running_wechat_service
from tests.integration.serving import SimControl, bound_socket
from tests.integration.wechat_harness import WeChatSim
from tests.procs import free_port

COLLECTION = "6217000010000000009"
TREASURY = "270000000001"
FISCAL = "6217000010000000001"
FUND = "6217000010000000002"
REG_FEE = "6217000010000000003"
BANK_CODE = "313100000013"
TREASURY_BANK = "001100000009"  # the treasury's account is kept at the central bank
TREASURY_NAME = "国家金库示范市中心支库"
FISCAL_NAME = "示范市财政局"
FUND_NAME = "示范市住房保障和房产管理局"
KEY_ID = "tj-test-ed25519"
ACQUIRER = "财付通支付科技有限公司"  # WeChat Pay's settling company, as named on statements


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    account: str
    name: str
    amount: str  # yuan text as it goes into InstdAmt
    bank_code: str = BANK_CODE
    currency: str = "CNY"
    remittance: str = "税费通缴 分账"


def pain001(
    msg_id: str,
    transfers: list[Transfer],
    *,
    debtor: str = COLLECTION,
    nb_of_txs: str | None = None,
    ctrl_sum: str | None = None,
    pmt_inf_id: str = "B20260302SFBK001",
) -> bytes:
    """A pain.001.001.09 with one PmtInf; ``nb_of_txs``/``ctrl_sum`` override the true totals."""
    total = sum((Decimal(t.amount) for t in transfers), Decimal(0))
    count = nb_of_txs if nb_of_txs is not None else str(len(transfers))
    control = ctrl_sum if ctrl_sum is not None else f"{total:.2f}"
    lines = "".join(
        f"""
      <CdtTrfTxInf>
        <PmtId><InstrId>{t.end_to_end_id}</InstrId><EndToEndId>{t.end_to_end_id}</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="{t.currency}">{t.amount}</InstdAmt></Amt>
        <CdtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Cd>CNAPS</Cd></ClrSysId><MmbId>{t.bank_code}</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt>
        <Cdtr><Nm>{escape(t.name)}</Nm></Cdtr>
        <CdtrAcct><Id><Othr><Id>{t.account}</Id></Othr></Id></CdtrAcct>
        <RmtInf><Ustrd>{escape(t.remittance)}</Ustrd></RmtInf>
      </CdtTrfTxInf>"""
        for t in transfers
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>{msg_id}</MsgId>
      <CreDtTm>2026-03-02T17:00:00+08:00</CreDtTm>
      <NbOfTxs>{count}</NbOfTxs>
      <CtrlSum>{control}</CtrlSum>
      <InitgPty><Nm>示范市不动产登记中心</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>{pmt_inf_id}</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <BtchBookg>false</BtchBookg>
      <NbOfTxs>{len(transfers)}</NbOfTxs>
      <CtrlSum>{total:.2f}</CtrlSum>
      <ReqdExctnDt><Dt>2026-03-03</Dt></ReqdExctnDt>
      <Dbtr><Nm>示范市不动产登记中心</Nm></Dbtr>
      <DbtrAcct><Id><Othr><Id>{debtor}</Id></Othr></Id></DbtrAcct>
      <DbtrAgt><FinInstnId><ClrSysMmbId><ClrSysId><Cd>CNAPS</Cd></ClrSysId><MmbId>{BANK_CODE}</MmbId></ClrSysMmbId></FinInstnId></DbtrAgt>
      <ChrgBr>DEBT</ChrgBr>{lines}
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
""".encode()


def parse(xml: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(xml, parser)


def values(xml: bytes, name: str) -> list[str]:
    """The text of every element with local name ``name``, in document order."""
    return [
        (e.text or "").strip()
        for e in parse(xml).iter()
        if isinstance(e.tag, str) and etree.QName(e).localname == name
    ]


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return [
        e for e in element.iter() if isinstance(e.tag, str) and etree.QName(e).localname == name
    ]


def first(element: etree._Element, name: str) -> str:
    found = children(element, name)
    return (found[0].text or "").strip() if found else ""


def reasons(xml: bytes) -> list[str]:
    """Every reason code (StsRsnInf/Rsn/Cd, RtrInf/Rsn/Cd), in document order."""
    return [first(r, "Cd") for r in children(parse(xml), "Rsn")]


def reasons_in(element: etree._Element) -> list[str]:
    return [first(r, "Cd") for r in children(element, "Rsn")]


def account_of(statement: bytes) -> str:
    """camt.053: the statement's account number (Stmt/Acct/Id/Othr/Id)."""
    return first(children(children(parse(statement), "Acct")[0], "Othr")[0], "Id")


def tx_statuses(xml: bytes) -> dict[str, tuple[str, str]]:
    """pain.002: EndToEndId -> (TxSts, reason code or "")."""
    return {
        first(tx, "OrgnlEndToEndId"): (first(tx, "TxSts"), "".join(reasons_in(tx)))
        for tx in children(parse(xml), "TxInfAndSts")
    }


def entries(xml: bytes) -> list[etree._Element]:
    """camt.053: the Ntry elements."""
    return children(parse(xml), "Ntry")


def fen(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


@dataclass
class Keys:
    """Our signing keys, as the service holds them, and their public halves for the bank."""

    folder: Path
    signers: dict[str, Signer] = field(default_factory=dict)
    public: dict[str, VerifyKey] = field(default_factory=dict)

    def make(self, key_id: str, alg: Alg = "ed25519", *, register: bool = True) -> Signer:
        private, public = generate_keypair(alg, self.folder, key_id)
        signer = load_signer(private, key_id, alg)
        self.signers[key_id] = signer
        if register:
            self.public[key_id] = parse_verify_key(f"{key_id}:{alg}:{public}")
        return signer


@dataclass
class BankSim(SimControl):
    """A running bank; ``base_url`` is its control desk (for ``SimControl``)."""

    base_url: str
    exchange_url: str
    tls: TlsFiles
    keys: Keys
    app: web.Application
    session: aiohttp.ClientSession

    @property
    def state(self) -> SimState:
        return self.app[STATE]

    def ssl_context(self, cert: pki.CertFiles | None) -> Any:
        return pki.client_ssl_context(
            cert.cert if cert else None, cert.key if cert else None, self.tls.ca
        )

    def client(self, cert: pki.CertFiles | None = None, *, timeout: float = 5.0) -> BankClient:
        """Our client, with our certificate unless told otherwise."""
        mine = cert if cert is not None else self.tls.client(OUR_CN)
        return BankClient(self.session, self.exchange_url, self.ssl_context(mine), timeout)

    def sig(self, name: str, data: bytes, key_id: str = KEY_ID) -> bytes:
        return signature_file(self.keys.signers[key_id], name, data)

    async def push(self, name: str, data: bytes, *, sig: bytes | None = None) -> None:
        await self.client().push(
            name,
            data,
            sig if sig is not None else self.sig(name, data),
            checksum=checksum_file(name, data),
        )

    async def outbox_files(self, kind: str = "") -> list[bytes]:
        client = self.client()
        names = [n for n in await client.list_outbox() if n.startswith(kind)]
        return [await client.fetch(n) for n in names]

    async def accounts(self) -> dict[str, dict[str, Any]]:
        data = await self.answered("GET", "/sim/accounts")
        return {a["number"]: a for a in data["accounts"]}

    async def balances(self) -> dict[str, int]:
        return {n: a["balance_fen"] for n, a in (await self.accounts()).items()}

    async def bookings(self) -> list[dict[str, Any]]:
        return list((await self.answered("GET", "/sim/bookings"))["bookings"])

    async def close_day(self, day: date) -> list[bytes]:
        data = await self.answered("POST", "/sim/close-day", {"date": day.isoformat()})
        client = self.client()
        return [await client.fetch(n) for n in data["statements"]]


@asynccontextmanager
async def serving_tls(app: web.Application, tls: Any) -> AsyncIterator[tuple[str, str]]:
    """Serve ``app`` over TLS and over plain HTTP: (https URL, http URL)."""
    secure, plain = bound_socket(), bound_socket()
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.SockSite(runner, secure, ssl_context=tls).start()
        await web.SockSite(runner, plain).start()
        yield (
            f"https://127.0.0.1:{secure.getsockname()[1]}",
            f"http://127.0.0.1:{plain.getsockname()[1]}",
        )
    finally:
        await runner.cleanup()
        secure.close()
        plain.close()


@asynccontextmanager
async def running_bank_sim(
    root: Path,
    *,
    demo: bool = True,
    configure: Callable[[Keys], None] | None = None,
    **options: Any,
) -> AsyncIterator[BankSim]:
    """A fresh bank with the demo accounts, trusting our Ed25519 key ``KEY_ID`` (and whatever
    ``configure`` adds). ``options`` go to ``create_simulator_app``."""
    tls = prepare_tls(root / "tls")
    keys = Keys(root / "keys")
    keys.folder.mkdir(parents=True, exist_ok=True)
    keys.make(KEY_ID)
    if configure is not None:
        configure(keys)
    app = create_simulator_app(verify_keys=keys.public, demo=demo, **options)
    server = pki.server_ssl_context(tls.server.cert, tls.server.key, tls.ca)
    async with serving_tls(app, server) as (exchange, desk), aiohttp.ClientSession() as session:
        yield BankSim(desk, exchange, tls, keys, app, session)


@asynccontextmanager
async def running_settling_service(
    dsn: str, tmp: Path, *, demo: bool = True, others: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[tuple[Service, WeChatSim, BankSim, str, TlsFiles]]:
    """The service with WeChat (retrying fast) and the bank: it signs settlement files with
    ``KEY_ID``, sends them over mutual TLS, and the bank pulls what it asks for from our
    endpoint (its URL yielded with the rest). ``settings`` go to the service."""
    tls = prepare_tls(tmp / "bank" / "tls")
    port = free_port()
    ours = f"https://127.0.0.1:{port}"
    async with (
        running_bank_sim(tmp / "bank", demo=demo, pull=pull_config(tls, ours)) as bank,
        running_wechat_service(
            dsn,
            tmp,
            sim_retry_scale=0.01,
            others=others,
            workers=2,
            settlement_key_file=tmp / "bank" / "keys" / f"{KEY_ID}.key",
            settlement_key_id=KEY_ID,
            settlement_acquirer_accounts={ACQUIRER: "wechatpay"},
            bank_base_url=bank.exchange_url,
            bank_tls_dir=tls.directory,
            bank_poll_s=0.2,
            bankfiles_port=port,
            **settings,
        ) as svc,
    ):
        yield svc, svc.sim, bank, ours, tls


def balanced(statement: bytes) -> tuple[str, int, int]:
    """(account, opening, closing) of a camt.053 after checking that it adds up."""
    assert validate(statement) == []
    root = parse(statement)
    balances = {
        first(b, "Cd"): fen(first(b, "Amt")) * (1 if first(b, "CdtDbtInd") == "CRDT" else -1)
        for b in children(root, "Bal")
    }
    moved = sum(
        fen(first(e, "Amt")) * (1 if first(e, "CdtDbtInd") == "CRDT" else -1)
        for e in entries(statement)
    )
    assert balances["OPBD"] + moved == balances["CLBD"]
    summary = children(root, "TtlNtries")[0]
    assert int(first(summary, "NbOfNtries")) == len(entries(statement))
    return account_of(statement), balances["OPBD"], balances["CLBD"]


@asynccontextmanager
async def our_bankfiles(
    tls: TlsFiles, files: dict[str, bytes]
) -> AsyncIterator[tuple[str, list[str | None]]]:
    """A stand-in for our /bankfiles/ endpoint: mutual TLS, records the caller's CN."""
    callers: list[str | None] = []

    async def listing(request: web.Request) -> web.Response:
        callers.append(pki.peer_common_name(request))
        listed = [
            {"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in files.items()
        ]
        return web.json_response({"files": listed})

    async def one(request: web.Request) -> web.Response:
        data = files.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/bankfiles/", listing)
    app.router.add_get("/bankfiles/{name}", one)
    server = pki.server_ssl_context(tls.server.cert, tls.server.key, tls.ca)
    async with serving_tls(app, server) as (url, _):
        yield url, callers


def pull_config(tls: TlsFiles, url: str, poll_seconds: float = 0.0) -> PullConfig:
    mine = tls.client(bank_cn())
    context = pki.client_ssl_context(mine.cert, mine.key, tls.ca)
    return PullConfig(base_url=url, ssl_context=context, poll_seconds=poll_seconds)


def publish(bank: BankSim, files: dict[str, bytes], name: str, data: bytes) -> None:
    """Put a signed file on our endpoint: the file, then .sha256, then .sig."""
    files[name] = data
    files[name + ".sha256"] = checksum_file(name, data)
    files[name + ".sig"] = bank.sig(name, data)
