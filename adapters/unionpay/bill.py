"""The UnionPay ZM clearing file (全渠道商户一般交易明细, protocols-cn.md 3.4), read strictly.

The file transfer answer (76/01) carries ``fileName`` and ``fileContent`` = Base64 of a zlib stream
of a ZIP archive. Inside, ``INN<yymmdd><nn>ZM_<merId>`` holds one fixed-width record per line:
41 fields of fixed byte widths (GBK), separated by one space. Amounts are fen; the signed ones
(``X+n12``) lead with C (credit to the merchant) or D (debit). ZM has no totals row, so every line
is cross-footed instead: settlement = ±amount − fee, and net = settlement − sub-merchant share.
``…ZME_…`` holds error transactions (差错); we refuse to hide them, so a non-empty ZME is an error.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from datetime import date, datetime, time

from adapters.errors import AcquirerUnavailable
from adapters.unionpay import wire
from adapters.unionpay.status import mask_card
from clearing import bounds
from clearing.ports import BillRecord

PROVIDER = "unionpay"

# (name, byte width, kind): n = digits, s = C/D + 12 digits, s? = signed or blank, a = text
ZM_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("trade_code", 3, "a"),  # 交易代码
    ("acq_ins_code", 11, "a"),  # 代理机构标识码
    ("send_ins_code", 11, "a"),  # 发送机构标识码
    ("trace_no", 6, "n"),  # 系统跟踪号
    ("trace_time", 10, "n"),  # 交易传输时间 MMDDhhmmss
    ("acc_no", 19, "a"),  # 账号 (masked)
    ("txn_amt", 12, "n"),  # 交易金额 (fen)
    ("mcc", 4, "a"),  # 商户类别
    ("term_type", 2, "a"),  # 终端类型
    ("query_id", 21, "a"),  # 查询流水号
    ("old_pay_type", 2, "a"),  # 支付方式（旧）
    ("order_id", 32, "a"),  # 商户订单号
    ("pay_card_type", 2, "a"),  # 支付卡类型
    ("orig_trace_no", 6, "a"),  # 原始交易系统跟踪号
    ("orig_trace_time", 10, "a"),  # 原始交易日期时间
    ("mer_fee", 13, "s"),  # 商户手续费
    ("settle_amt", 13, "s"),  # 结算金额
    ("pay_type", 4, "a"),  # 支付方式
    ("group_mer_id", 15, "a"),  # 集团商户代码
    ("txn_type", 2, "n"),  # 交易类型
    ("txn_sub_type", 2, "n"),  # 交易子类
    ("biz_type", 6, "a"),  # 业务类型
    ("acc_type", 2, "a"),  # 账号类型
    ("bill_type", 4, "a"),  # 账单类型
    ("bill_no", 32, "a"),  # 账单号码
    ("interact_mode", 1, "a"),  # 交互方式
    ("orig_qry_id", 21, "a"),  # 原交易查询流水号
    ("mer_id", 15, "a"),  # 商户代码
    ("split_mode", 1, "a"),  # 分账入账方式
    ("sub_mer_id", 15, "a"),  # 二级商户代码
    ("sub_mer_abbr", 32, "a"),  # 二级商户简称
    ("sub_mer_amt", 13, "s?"),  # 二级商户分账入账金额
    ("net_amt", 13, "s"),  # 清算净额
    ("term_id", 8, "a"),  # 终端号
    ("mer_reserved", 32, "a"),  # 商户自定义域 (our reqReserved)
    ("discount_amt", 13, "s?"),  # 优惠金额
    ("invoice_amt", 13, "s?"),  # 发票金额
    ("instalment_fee", 12, "a"),  # 分期付款附加手续费
    ("instalments", 2, "a"),  # 分期付款期数
    ("medium", 1, "a"),  # 交易介质
    ("reserved", 131, "a"),  # 保留使用
)
ZME_WIDTHS = (3, 11, 11, 6, 10, 19, 12, 4, 2, 2, 6, 10, 4, 12, 13, 13, 15, 15, 1, 12, 2, 135)
ZM_LINE_BYTES = sum(w for _, w, _ in ZM_FIELDS) + len(ZM_FIELDS) - 1
ZME_LINE_BYTES = sum(ZME_WIDTHS) + len(ZME_WIDTHS) - 1
KINDS = {"01": "PAYMENT", "04": "REFUND", "31": "REVERSAL"}
_SIGNED = re.compile(rb"[CD][0-9]{12}")


class BillUnreadable(AcquirerUnavailable):
    """The downloaded file is malformed or truncated; ``where`` names the file and line."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(provider=PROVIDER, operation="daily_bill", reason=f"{where}: {why}")
        self.where = where
        self.why = why


def file_name(mer_id: str, day: date) -> str:
    """The archive name UnionPay gives a merchant's files of one clearing day."""
    return f"{mer_id}_{day:%Y%m%d}.zip"


def parse_download(fields: Mapping[str, str], *, mer_id: str, day: date) -> list[BillRecord]:
    """Records from a verified 76/01 answer for clearing day ``day``."""
    name = fields.get("fileName", "")
    if name != file_name(mer_id, day):
        raise BillUnreadable("answer", f"fileName {name!r} is not {file_name(mer_id, day)!r}")
    try:
        packed = base64.b64decode(fields.get("fileContent", ""), validate=True)
        archive = bounds.inflate(packed, wbits=zlib.MAX_WBITS, limit=bounds.MAX_BILL_TEXT_BYTES)
    except bounds.TooLarge as exc:
        raise BillUnreadable(name, f"fileContent {exc}") from None
    except (binascii.Error, ValueError):
        raise BillUnreadable(name, "fileContent is not Base64") from None
    except zlib.error:
        raise BillUnreadable(name, "fileContent is not a complete zlib stream") from None
    zm, zme = _members(name, archive, mer_id, day)
    check_zme(zme)
    return parse_zm(zm, mer_id=mer_id, day=day)


def _members(name: str, archive: bytes, mer_id: str, day: date) -> tuple[bytes, bytes]:
    stem = f"INN{day:%y%m%d}[0-9]{{2}}"
    zm_name = re.compile(stem + f"ZM_{mer_id}")
    zme_name = re.compile(stem + f"ZME_{mer_id}")
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            for info in zf.infolist():  # before testzip inflates them: the declared sizes
                cap = min(bounds.MAX_BILL_TEXT_BYTES, max(info.compress_size, 1) * 100)
                if info.file_size > cap:
                    raise bounds.TooLarge(f"{info.filename} declares {info.file_size} bytes")
            broken = zf.testzip()
            if broken is not None:
                raise BillUnreadable(f"{name}/{broken}", "CRC mismatch")
            names = zf.namelist()
            zm = [n for n in names if zm_name.fullmatch(n)]
            zme = [n for n in names if zme_name.fullmatch(n)]
            if len(zm) != 1 or len(zme) > 1:
                raise BillUnreadable(name, f"expected one ZM file for {mer_id}, found {names}")
            limit = bounds.MAX_BILL_TEXT_BYTES
            return (
                bounds.read_member(zf, zm[0], limit=limit),
                bounds.read_member(zf, zme[0], limit=limit) if zme else b"",
            )
    except bounds.TooLarge as exc:
        raise BillUnreadable(name, str(exc)) from None
    except (zipfile.BadZipFile, EOFError):
        raise BillUnreadable(name, "not a complete ZIP archive") from None


def _lines(data: bytes, where: str, width: int) -> list[tuple[int, bytes]]:
    """Numbered lines of exactly ``width`` bytes; the last must end with a line break."""
    if not data:
        return []
    if not data.endswith(b"\n"):
        last = data.count(b"\n") + 1
        raise BillUnreadable(f"{where} line {last}", "truncated: no line end")
    out = []
    for number, ended in enumerate(data[:-1].split(b"\n"), start=1):
        line = ended.removesuffix(b"\r")
        if len(line) != width:
            raise BillUnreadable(f"{where} line {number}", f"{len(line)} bytes, expected {width}")
        out.append((number, line))
    return out


def check_zme(data: bytes) -> None:
    """A ZME file must be well formed, and empty: error transactions need a person."""
    for number, _ in _lines(data, "ZME", ZME_LINE_BYTES):
        raise BillUnreadable(f"ZME line {number}", "error transactions (差错) are not handled here")


def split_zm_line(line: bytes, where: str) -> dict[str, str]:
    """The fields of one ZM line, right-stripped, after checking every separator and kind."""
    fields: dict[str, str] = {}
    at = 0
    for name, width, kind in ZM_FIELDS:
        if at and line[at - 1 : at] != b" ":
            raise BillUnreadable(where, f"no separator before {name}")
        raw = line[at : at + width]
        at += width + 1
        if kind == "n" and not raw.isdigit():
            raise BillUnreadable(where, f"{name} is not digits")
        signed = kind == "s" or (kind == "s?" and raw.strip())
        if signed and not _SIGNED.fullmatch(raw):
            raise BillUnreadable(where, f"{name} is not C/D and 12 digits")
        try:
            fields[name] = raw.decode("gbk").rstrip(" ")
        except UnicodeDecodeError:
            raise BillUnreadable(where, f"{name} is not GBK text") from None
    fields["acc_no"] = mask_card(fields["acc_no"])
    return fields


def _signed(text: str) -> int:
    """C000000000100 → +100 (credit to the merchant), D… → negative, blank → 0."""
    if not text:
        return 0
    return int(text[1:]) if text[0] == "C" else -int(text[1:])


def parse_zm(data: bytes, *, mer_id: str, day: date) -> list[BillRecord]:
    """Every line of a ZM file as a ``BillRecord``; ``BillUnreadable`` names the first bad line."""
    near = datetime.combine(day, time(12), tzinfo=wire.BEIJING)
    records = []
    for number, line in _lines(data, "ZM", ZM_LINE_BYTES):
        where = f"ZM line {number}"
        f = split_zm_line(line, where)
        if f["mer_id"] != mer_id:
            raise BillUnreadable(where, f"merchant {f['mer_id']} is not ours")
        kind = KINDS.get(f["txn_type"])
        if kind is None:
            raise BillUnreadable(where, f"txnType {f['txn_type']} is not handled")
        amount = int(f["txn_amt"])
        fee = _signed(f["mer_fee"])
        settle = _signed(f["settle_amt"])
        signed_amount = amount if kind == "PAYMENT" else -amount
        if settle != signed_amount + fee:
            raise BillUnreadable(where, "settlement amount is not amount less fee")
        if _signed(f["net_amt"]) != settle - _signed(f["sub_mer_amt"]):
            raise BillUnreadable(where, "net amount is not settlement less sub-merchant share")
        if amount <= 0 or not f["query_id"] or not f["order_id"]:
            raise BillUnreadable(where, "amount, queryId or orderId missing")
        try:
            occurred_at = wire.resolve_mmddhhmmss(f["trace_time"], near)
        except ValueError:
            raise BillUnreadable(where, "trace_time is not a time") from None
        # a refund or void names the payment by origQryId and is itself the orderId/queryId
        back = kind != "PAYMENT"
        if back and not f["orig_qry_id"]:
            raise BillUnreadable(where, "a refund or void without origQryId")
        records.append(
            BillRecord(
                provider=PROVIDER,
                kind=kind,
                occurred_at=occurred_at,
                # our refunds carry the paid order id in reqReserved; others leave it blank
                out_trade_no=f["mer_reserved"] if back else f["order_id"],
                provider_txn_id=f["orig_qry_id"] if back else f["query_id"],
                amount_fen=amount,
                # positive: the merchant pays a fee; negative: a fee is given back
                fee_millifen=-fee * 1000,
                out_refund_no=f["order_id"] if back else None,
                provider_refund_id=f["query_id"] if back else None,
                raw=f,
            )
        )
    return records
