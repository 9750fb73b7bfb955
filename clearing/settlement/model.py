"""What one settlement file pays: our account at the partner bank (the debtor), one instruction
per beneficiary, and the order lines that make up each instruction.

Pure frozen values, amounts in integer fen, validated on construction so that every renderer
(pain.001, the 批量代付 file, the detail CSV) can trust what it is given. Identifiers are checked
against the strictest place they go: EndToEndId and MsgId are ``Max35Text`` in ISO 20022 and the
business reference of a Chinese payout line; account numbers are ``Max34Text``.

Errors::

    ClearingError
    └── SettlementError         code SETTLEMENT_*, fields say which value
        ├── BatchInvalid        a batch, instruction or line that cannot be paid as given
        ├── FieldRefused        a value a file format cannot carry (payout_cn: delimiter, GBK)
        ├── KeyFileInvalid      signing: a key file that is not a key of the named algorithm
        └── SignatureInvalid    signing: a signature we must not accept, with a stable reason
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Final

from clearing.domain.money import MAX_FEN
from clearing.errors import ClearingError

# CNAPS bank code (联行号/行号): bank class 3 + location 4 + branch 4 + check digit 1
CNAPS_CODE: Final = re.compile(r"[0-9]{12}")
# our own ids go into file names, XML and delimited files alike: keep them to safe ASCII
_REF: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,34}")
_BENEFICIARY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_BANK: Final = re.compile(r"[A-Z0-9]{2,10}")
_ACCOUNT: Final = re.compile(r"[0-9A-Za-z-]{1,34}")
_BIC: Final = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
# C0/C1 controls and DEL: XML 1.0 cannot carry most of them, and no bank field needs any
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SettlementError(ClearingError):
    status: ClassVar[int] = 422
    title: ClassVar[str] = "Settlement file refused"


class BatchInvalid(SettlementError):
    def __init__(self, field: str, message: str, message_zh: str, **fields: Any) -> None:
        super().__init__("SETTLEMENT_BATCH_INVALID", message, message_zh, field=field, **fields)


class FieldRefused(SettlementError):
    """One value of one line that the target file cannot carry; ``chunk``, ``line`` (1-based,
    header included) and ``field`` say where."""

    def __init__(self, *, chunk: int, line: int, field: str, reason: str, reference: str) -> None:
        self.chunk = chunk
        self.line = line
        self.field = field
        self.reason = reason
        super().__init__(
            "SETTLEMENT_FIELD_REFUSED",
            f"file {chunk}, line {line} ({reference}): {field} {reason}",
            f"第{chunk}个文件第{line}行（{reference}）：{field} {reason}",
            chunk=chunk,
            line=line,
            field=field,
            reference=reference,
        )


def _text(field: str, value: str, max_len: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise BatchInvalid(field, f"{field} must be non-empty text", f"{field} 不能为空")
    if value != value.strip() or _CONTROL.search(value):
        raise BatchInvalid(
            field,
            f"{field} must not carry control characters or surrounding spaces: {value!r}",
            f"{field} 含控制字符或首尾空格",
        )
    if len(value) > max_len:
        raise BatchInvalid(
            field,
            f"{field} is {len(value)} characters, at most {max_len} allowed",
            f"{field} 超过 {max_len} 个字符",
        )


def _match(field: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BatchInvalid(field, f"{field} must be {what}: {value!r}", f"{field} 格式不正确")


def _fen(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BatchInvalid(field, f"{field} must be int fen", f"{field} 必须为整数（分）")
    if not 0 < value <= MAX_FEN:
        raise BatchInvalid(
            field, f"{field} must be positive and at most {MAX_FEN}", f"{field} 必须大于零"
        )
    return value


@dataclass(frozen=True)
class DebtorAccount:
    """Our settlement account at the partner bank; every instruction debits it."""

    account_no: str
    name: str
    bank_code: str  # 12-digit 联行号 (CNAPS) of the branch holding the account
    bic: str | None = None

    def __post_init__(self) -> None:
        _match("debtor.account_no", self.account_no, _ACCOUNT, "1-34 letters or digits")
        _text("debtor.name", self.name, 140)
        _match("debtor.bank_code", self.bank_code, CNAPS_CODE, "a 12-digit CNAPS code")
        if self.bic is not None:
            _match("debtor.bic", self.bic, _BIC, "an 8 or 11 character BIC")


@dataclass(frozen=True)
class InstructionDetail:
    """One order line inside an instruction: what the beneficiary is being paid for."""

    order_no: str
    case_no: str
    line_no: int
    item_code: str
    item_name: str
    reference: str | None  # tax voucher no., non-tax payment code (缴款码) or fund notice no.
    amount_fen: int

    def __post_init__(self) -> None:
        _text("detail.order_no", self.order_no, 64)
        _text("detail.case_no", self.case_no, 64)
        if isinstance(self.line_no, bool) or not isinstance(self.line_no, int) or self.line_no < 1:
            raise BatchInvalid("detail.line_no", "line_no must be a positive int", "行号无效")
        _text("detail.item_code", self.item_code, 32)
        _text("detail.item_name", self.item_name, 70)
        if self.reference is not None:
            _text("detail.reference", self.reference, 64)
        _fen("detail.amount_fen", self.amount_fen)


@dataclass(frozen=True)
class Instruction:
    """One credit transfer to one beneficiary's account: the sum of its ``details``."""

    end_to_end_id: str
    beneficiary_code: str
    creditor_name: str
    creditor_account: str
    creditor_bank_code: str  # 12-digit 联行号 of the beneficiary's branch
    creditor_bank_name: str
    amount_fen: int
    purpose: str
    details: tuple[InstructionDetail, ...]

    def __post_init__(self) -> None:
        # the bank dedups on this reference, so it is ours, fixed, and travels unchanged
        _match("end_to_end_id", self.end_to_end_id, _REF, "1-35 ASCII letters, digits, ._/-")
        _match("beneficiary_code", self.beneficiary_code, _BENEFICIARY, "1-32 letters, digits")
        _text("creditor_name", self.creditor_name, 140)
        _match("creditor_account", self.creditor_account, _ACCOUNT, "1-34 letters or digits")
        _match("creditor_bank_code", self.creditor_bank_code, CNAPS_CODE, "a 12-digit CNAPS code")
        _text("creditor_bank_name", self.creditor_bank_name, 140)
        _fen("amount_fen", self.amount_fen)
        _text("purpose", self.purpose, 140)  # RmtInf/Ustrd is Max140Text
        if not isinstance(self.details, tuple) or not self.details:
            raise BatchInvalid("details", "an instruction needs its order lines", "缺少明细")
        total = sum(d.amount_fen for d in self.details)
        if total != self.amount_fen:
            raise BatchInvalid(
                "details",
                f"{self.end_to_end_id}: lines sum to {total} fen, instruction is"
                f" {self.amount_fen} fen",
                f"{self.end_to_end_id}：明细合计与指令金额不符",
                end_to_end_id=self.end_to_end_id,
            )


@dataclass(frozen=True)
class SettlementBatch:
    """One settlement file to one bank. ``msg_id`` is unique per file and reused only when the
    very same file is sent again; ``sequence`` numbers the day's files to that bank."""

    batch_id: str
    bank_code: str  # our short code of the bank, e.g. "ICBC"
    business_date: date
    sequence: int
    created_at: datetime
    execution_date: date
    msg_id: str
    debtor: DebtorAccount
    instructions: tuple[Instruction, ...]

    def __post_init__(self) -> None:
        _match("batch_id", self.batch_id, _REF, "1-35 ASCII letters, digits, ._/-")
        _match("bank_code", self.bank_code, _BANK, "2-10 capital letters or digits")
        _match("msg_id", self.msg_id, _REF, "1-35 ASCII letters, digits, ._/-")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise BatchInvalid("sequence", "sequence must be an int", "序号无效")
        if not 1 <= self.sequence <= 999:
            raise BatchInvalid("sequence", "sequence must be 1..999", "序号须在 1-999 之间")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            # CreDtTm without an offset is read in the bank's zone, which may not be ours
            raise BatchInvalid("created_at", "created_at must be timezone-aware", "须带时区")
        if not isinstance(self.instructions, tuple) or not self.instructions:
            raise BatchInvalid("instructions", "a batch needs instructions", "批次没有指令")
        seen: set[str] = set()
        for ins in self.instructions:
            if ins.end_to_end_id in seen:
                # a bank rejects a duplicate EndToEndId (DU04), and the payout file dedups on it
                raise BatchInvalid(
                    "end_to_end_id",
                    f"EndToEndId {ins.end_to_end_id} appears twice in the batch",
                    f"业务参考号 {ins.end_to_end_id} 重复",
                    end_to_end_id=ins.end_to_end_id,
                )
            seen.add(ins.end_to_end_id)

    @property
    def count(self) -> int:
        return len(self.instructions)

    @property
    def total_fen(self) -> int:
        return sum(i.amount_fen for i in self.instructions)
