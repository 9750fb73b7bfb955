"""The one place where configuration becomes concrete adapters."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import aiohttp
import asyncpg

from clearing.channels import Channel
from clearing.config import Settings
from clearing.db.request_times import RequestTimes
from clearing.messaging import SmsSender
from clearing.metrics import Metrics
from clearing.ports import Authority, NotifyEndpoint

if TYPE_CHECKING:
    from adapters.bank.client import BankClient
    from clearing.service.settlement import SettlementSetup
    from reconciliation.runs import Options, Sources

# Alipay and UnionPay post their notifications as HTML forms
FORM = "application/x-www-form-urlencoded"


def _notify_url(settings: Settings, provider: str) -> str:
    """Where an acquirer posts its notifications to us (``routes_notify``)."""
    return settings.public_base_url.rstrip("/") + "/notify/" + provider


def acquirers(
    settings: Settings,
    session: aiohttp.ClientSession,
    metrics: Metrics,
    pool: asyncpg.Pool | None = None,
) -> tuple[dict[str, Channel], dict[str, NotifyEndpoint]]:
    found: dict[str, Channel] = {}
    parsers: dict[str, NotifyEndpoint] = {}
    if settings.wechatpay_keys is not None:
        from adapters.wechatpay.client import WeChatPayClient
        from adapters.wechatpay.keys import load_merchant_keys
        from adapters.wechatpay.notify import NotifyVerifier

        keys = load_merchant_keys(settings.wechatpay_keys)
        client = WeChatPayClient(
            session,
            base_url=settings.wechatpay_base_url,
            keys=keys,
            notify_url=_notify_url(settings, "wechatpay"),
            timeout_s=settings.wechatpay_timeout_s,
            open_url=settings.wechatpay_open_url,
            sns_url=settings.wechatpay_sns_url,
        )
        found["wechatpay"] = Channel(client, metrics)
        # refuses notifications for another merchant id or app id, too
        verifier = NotifyVerifier.for_merchant(keys)
        parsers["wechatpay"] = NotifyEndpoint(verifier.parse)
    if settings.alipay_keys is not None:
        from adapters.alipay.client import AlipayClient
        from adapters.alipay.keys import load_merchant_keys as load_alipay_keys
        from adapters.alipay.notify import ACK_OK as ALIPAY_OK
        from adapters.alipay.notify import ACK_REFUSED as ALIPAY_REFUSED
        from adapters.alipay.notify import AlipayNotifyParser

        ali_keys = load_alipay_keys(settings.alipay_keys)
        alipay = AlipayClient(
            session,
            gateway_url=settings.alipay_gateway_url,
            keys=ali_keys,
            notify_url=_notify_url(settings, "alipay"),
            timeout_s=settings.channel_timeout_s,
        )
        found["alipay"] = Channel(alipay, metrics)
        parsers["alipay"] = NotifyEndpoint(
            AlipayNotifyParser(
                app_id=ali_keys.app_id,
                seller_id=ali_keys.seller_id,
                alipay_public_key=ali_keys.alipay_public_key,
            ).parse,
            ok=ALIPAY_OK,
            content_type=FORM,
            refused_status=ALIPAY_REFUSED[0],
            refused_body=(ALIPAY_REFUSED[1], ALIPAY_REFUSED[2]),
        )
    if settings.unionpay_keys is not None:
        from adapters.unionpay.client import UnionPayClient
        from adapters.unionpay.keys import load_merchant_keys as load_unionpay_keys
        from adapters.unionpay.notify import ACK_OK as UNIONPAY_OK
        from adapters.unionpay.notify import UnionPayNotifyParser
        from adapters.unionpay.txn_times import MemoryTxnTimes

        up_keys = load_unionpay_keys(settings.unionpay_keys)
        unionpay = UnionPayClient(
            session,
            base_url=settings.unionpay_base_url,
            keys=up_keys,
            notify_url=_notify_url(settings, "unionpay"),
            timeout_s=settings.channel_timeout_s,
            # a one-off command (bills) has no pool and needs no query times
            txn_times=RequestTimes(pool, "unionpay") if pool is not None else MemoryTxnTimes(),
        )
        found["unionpay"] = Channel(unionpay, metrics)
        parsers["unionpay"] = NotifyEndpoint(
            UnionPayNotifyParser(up_keys).parse, ok=UNIONPAY_OK, content_type=FORM
        )
    if settings.pos_keys is not None:
        from adapters.pos.client import PosClient
        from adapters.pos.keys import load_merchant_keys as load_pos_keys
        from adapters.pos.notify import ACK_OK as POS_OK
        from adapters.pos.notify import ACK_REFUSED as POS_REFUSED
        from adapters.pos.notify import PosNotifyParser

        pos_keys = load_pos_keys(settings.pos_keys)
        pos = PosClient(
            session,
            base_url=settings.pos_base_url,
            keys=pos_keys,
            notify_url=_notify_url(settings, "pos"),
            timeout_s=settings.channel_timeout_s,
        )
        found["pos"] = Channel(pos, metrics)
        parsers["pos"] = NotifyEndpoint(
            PosNotifyParser(pos_keys).parse,
            ok=POS_OK,
            refused_status=POS_REFUSED[0],
            refused_body=(POS_REFUSED[1], POS_REFUSED[2]),
        )
    return found, parsers


def authorities(settings: Settings, session: aiohttp.ClientSession) -> dict[str, Authority]:
    """The authorities configured by their key folders (tax, fiscal, fund). Each adapter is
    imported only when configured, as the acquirers are: a node without an authority's keys
    needs none of its code."""
    found: dict[str, Authority] = {}
    for name, client_class, keys, base_url in (
        ("tax", "TaxClient", settings.tax_keys, settings.tax_base_url),
        ("fiscal", "FiscalClient", settings.fiscal_keys, settings.fiscal_base_url),
        ("fund", "FundClient", settings.fund_keys, settings.fund_base_url),
    ):
        if keys is None:
            continue
        client = importlib.import_module(f"adapters.{name}.client")
        load_keys = importlib.import_module(f"adapters.{name}.keys").load_merchant_keys
        found[name] = getattr(client, client_class)(
            session,
            base_url=base_url,
            keys=load_keys(keys),
            timeout_s=settings.authority_timeout_s,
        )
    return found


def sms_sender(settings: Settings, session: aiohttp.ClientSession) -> SmsSender | None:
    """The SMS provider for payment notices, when its account folder is configured."""
    if settings.sms_keys is None:
        return None
    from adapters.sms.client import TencentSmsClient
    from adapters.sms.keys import load_account

    return TencentSmsClient(
        session,
        account=load_account(settings.sms_keys),
        base_url=settings.sms_base_url,
        timeout_s=settings.sms_timeout_s,
    )


def settlement_setup(settings: Settings) -> SettlementSetup:
    """Our account at the partner bank, the key that signs our files (made on first use, for
    the demo; production names a key file it was given), and where files are written."""
    from typing import Literal, cast

    from clearing.service.settlement import SettlementSetup, files_root
    from clearing.settlement.model import DebtorAccount
    from clearing.settlement.signing import Alg, generate_keypair, load_signer

    alg = cast(Alg, settings.settlement_sign_alg)
    key_file = settings.settlement_key_file
    if key_file is None:
        key_file = settings.var_dir / "keys" / "settlement" / f"{settings.settlement_key_id}.key"
        if not key_file.exists():
            generate_keypair(alg, key_file.parent, settings.settlement_key_id)
    return SettlementSetup(
        bank=settings.settlement_bank,
        debtor=DebtorAccount(
            account_no=settings.settlement_account_no,
            name=settings.settlement_account_name,
            bank_code=settings.settlement_bank_code,
        ),
        signer=load_signer(key_file, settings.settlement_key_id, alg),
        out_dir=files_root(settings.var_dir, settings.settlement_dir),
        encoding=cast(Literal["gbk", "utf-8"], settings.settlement_payout_encoding),
    )


def bank_client(settings: Settings, session: aiohttp.ClientSession) -> BankClient | None:
    """The bank's host-to-host exchange over mutual TLS, when configured."""
    if settings.bank_base_url is None or settings.bank_tls_dir is None:
        return None
    from adapters.bank import pki
    from adapters.bank.client import BankClient

    mine = pki.client_files(settings.bank_tls_dir, "tongjiao")
    context = pki.client_ssl_context(mine.cert, mine.key, pki.ca_files(settings.bank_tls_dir).cert)
    return BankClient(session, settings.bank_base_url, context, timeout=settings.channel_timeout_s)


def recon_sources(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics, pool: asyncpg.Pool
) -> tuple[Sources, Options]:
    """What a reconciliation run reads (channels, authorities, the bank's outbox) and how."""
    from clearing.workers.settlement import SettlementWork
    from reconciliation.runs import Options, Sources

    channels, _ = acquirers(settings, session, metrics, pool)
    bank = bank_client(settings, session)
    read_bank = None
    if bank is not None:
        work = SettlementWork(
            pool,
            settlement_setup(settings),
            bank=bank,
            acquirer_accounts=settings.settlement_acquirer_accounts,
        )
        read_bank = work.poll_once
    sources = Sources(
        acquirers=channels, authorities=authorities(settings, session), read_bank=read_bank
    )
    options = Options(
        bank=settings.settlement_bank,
        collection_account=settings.settlement_account_no,
        acquirer_accounts=settings.settlement_acquirer_accounts,
        fee_ppm=settings.recon_fee_ppm,
        settle_lag_days=settings.recon_settle_lag_days,
    )
    return sources, options
