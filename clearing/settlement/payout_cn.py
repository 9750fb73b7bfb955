"""A settlement batch as the partner bank's 批量代付 (batch payout) text file.

Chinese banks take batch payouts as delimited text (the same columns as their Excel/TXT upload
templates): a header with the batch totals, then one line per payee. Ours is ``|``-separated,
CRLF line ends, GBK (what bank front-ends expect) or UTF-8, no BOM, no quoting — so a value may
not contain ``|`` or a line break, and in GBK every character must exist in GBK. Such a value is
refused with the file, line and field (``FieldRefused``), never silently replaced.

Header (line 1)::

    H|批次号|第i个/共n个|笔数|金额|期望日期|币种|付款账号|付款户名

Detail (lines 2…), one per instruction::

    D|序号|收款账号|收款户名|收款行联行号|收款行名称|金额|用途|业务参考号

* amounts are yuan with exactly two decimals, formatted from integer fen (never a float);
  the header's count and amount are those of *this* chunk;
* 期望日期 is the requested execution date, ``YYYYMMDD``;
* 序号 counts the payees of this chunk from 1;
* 业务参考号 is the EndToEndId: the bank dedups on it, so it is the same on every resend;
* above ``chunk_size`` (1000) payees the batch is split into files 1…n, each with its own header.

Example (one chunk)::

    H|B20261125ICBC001|1/1|2|1323.45|20261126|CNY|1202020409000123456|某市不动产登记中心统缴专户
    D|1|6217000010001234567|某市住房专项维修资金管理中心|105100000017|中国建设银行北京分行|123.45|维修资金|TJ20261125E0001
    D|2|270001040000123|国家金库某市中心支库|011100000003|国家金库某市中心支库|1200.00|契税|TJ20261125E0002
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Literal

from clearing.domain.money import yuan_str
from clearing.settlement.model import BatchInvalid, FieldRefused, Instruction, SettlementBatch

DELIMITER: Final = "|"
EOL: Final = "\r\n"
CURRENCY: Final = "CNY"
MAX_CHUNK: Final = 1000
# naming.payout_name numbers chunks with two digits
MAX_CHUNKS: Final = 99

Encoding = Literal["gbk", "utf-8"]


def _check(value: str, *, encoding: Encoding, chunk: int, line: int, field: str, ref: str) -> str:
    def refuse(reason: str) -> FieldRefused:
        return FieldRefused(chunk=chunk, line=line, field=field, reason=reason, reference=ref)

    if DELIMITER in value:
        raise refuse(f"contains the delimiter '{DELIMITER}'")
    if "\r" in value or "\n" in value:
        raise refuse("contains a line break")
    if encoding == "gbk":
        try:
            value.encode("gbk")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise refuse(f"has a character GBK cannot encode: {bad!r} (U+{ord(bad):04X})") from None
    return value


def _line(
    fields: Iterable[tuple[str, str]], *, encoding: Encoding, chunk: int, line: int, ref: str
) -> str:
    checked = (
        _check(v, encoding=encoding, chunk=chunk, line=line, field=f, ref=ref) for f, v in fields
    )
    return DELIMITER.join(checked) + EOL


def _chunk_text(
    batch: SettlementBatch,
    part: Sequence[Instruction],
    *,
    chunk: int,
    chunks: int,
    encoding: Encoding,
) -> str:
    header = (
        ("record", "H"),
        ("batch_id", batch.batch_id),
        ("chunk", f"{chunk}/{chunks}"),
        ("count", str(len(part))),
        ("total", yuan_str(sum(i.amount_fen for i in part))),
        ("execution_date", f"{batch.execution_date:%Y%m%d}"),
        ("currency", CURRENCY),
        ("payer_account", batch.debtor.account_no),
        ("payer_name", batch.debtor.name),
    )
    lines = [_line(header, encoding=encoding, chunk=chunk, line=1, ref=batch.batch_id)]
    for seq, ins in enumerate(part, start=1):
        detail = (
            ("record", "D"),
            ("seq", str(seq)),
            ("payee_account", ins.creditor_account),
            ("payee_name", ins.creditor_name),
            ("payee_bank_code", ins.creditor_bank_code),
            ("payee_bank_name", ins.creditor_bank_name),
            ("amount", yuan_str(ins.amount_fen)),
            ("purpose", ins.purpose),
            ("reference", ins.end_to_end_id),
        )
        lines.append(
            _line(detail, encoding=encoding, chunk=chunk, line=seq + 1, ref=ins.end_to_end_id)
        )
    return "".join(lines)


def render(
    batch: SettlementBatch, *, encoding: Encoding, chunk_size: int = MAX_CHUNK
) -> list[tuple[int, bytes]]:
    """``[(chunk number from 1, file bytes), …]``; byte-identical for equal batches."""
    if encoding not in ("gbk", "utf-8"):
        raise ValueError(f"encoding must be 'gbk' or 'utf-8', not {encoding!r}")
    if isinstance(chunk_size, bool) or not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk_size must be 1..{MAX_CHUNK}, not {chunk_size!r}")
    parts = [batch.instructions[i : i + chunk_size] for i in range(0, batch.count, chunk_size)]
    if len(parts) > MAX_CHUNKS:
        raise BatchInvalid(
            "instructions",
            f"{batch.count} payees need {len(parts)} files; at most {MAX_CHUNKS} per batch",
            f"批次笔数过多（{batch.count}），请拆分批次",
        )
    return [
        (
            n,
            _chunk_text(batch, part, chunk=n, chunks=len(parts), encoding=encoding).encode(
                encoding
            ),
        )
        for n, part in enumerate(parts, start=1)
    ]
