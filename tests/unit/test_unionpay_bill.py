"""The UnionPay ZM clearing-file reader on hand-written layouts from protocols-cn.md 3.4."""

from __future__ import annotations

import base64
import io
import zipfile
import zlib
from datetime import date, datetime

import pytest

from adapters.unionpay import bill
from adapters.unionpay.bill import BillUnreadable, parse_download, parse_zm
from adapters.unionpay.wire import BEIJING

MER = "898111222333444"
DAY = date(2025, 3, 14)
# the widths exactly as the protocol note lists them, 41 fields
NOTE_WIDTHS = (
    3,
    11,
    11,
    6,
    10,
    19,
    12,
    4,
    2,
    21,
    2,
    32,
    2,
    6,
    10,
    13,
    13,
    4,
    15,
    2,
    2,
    6,
    2,
    4,
    32,
    1,
    21,
    15,
    1,
    15,
    32,
    13,
    13,
    8,
    32,
    13,
    13,
    12,
    2,
    1,
    131,
)


def line(*values: str) -> bytes:
    """One record from values the test writes at their exact widths (nothing is padded here)."""
    assert len(values) == len(NOTE_WIDTHS)
    for value, width in zip(values, NOTE_WIDTHS, strict=True):
        assert len(value.encode("gbk")) == width, (value, width)
    return " ".join(values).encode("gbk") + b"\r\n"


def payment() -> bytes:
    return line(
        "S22", "00049992900", "00049992900", "000123", "0314101530", "621700*********4446",
        "000000012345", "9399", "08", "202503141015304944728", "00",
        "TJ20250314A1B2C3D4E5F6P01       ", "01", "      ", "          ",
        "D000000000047", "C000000012298", "0002", " " * 15, "01", "07", "000000", "01",
        "    ", " " * 32, "1", " " * 21, MER, " ", " " * 15, " " * 32, "C000000000000",
        "C000000012298", " " * 8, "window=3".ljust(32), "C000000000000", "C000000000000",
        "000000000000", "00", "0", " " * 131,
    )  # fmt: skip


def refund() -> bytes:
    return line(
        "S30", "00049992900", "00049992900", "000124", "0314113000", "621700*********4446",
        "000000000345", "9399", "08", "202503141130003640112", "00",
        "RF000000000001                  ", "01", "000123", "0314101530",
        "C000000000001", "D000000000344", "0002", " " * 15, "04", "00", "000000", "01",
        "    ", " " * 32, "1", "202503141015304944728", MER, " ", " " * 15, " " * 32,
        "C000000000000", "D000000000344", " " * 8, "TJ20250314A1B2C3D4E5F6P01".ljust(32),
        "C000000000000", "C000000000000", "000000000000", "00", "0", " " * 131,
    )  # fmt: skip


def void() -> bytes:
    return line(
        "S31", "00049992900", "00049992900", "000125", "0314120000", "6217001234567894446",
        "000000000500", "9399", "08", "202503141200006264162", "00",
        "TJ20250314FFFFFFFFFFFFP01RV     ", "01", "000120", "0314115900",
        "C000000000002", "D000000000498", "0002", " " * 15, "31", "00", "000000", "01",
        "    ", " " * 32, "1", "202503141159000000001", MER, " ", " " * 15, " " * 32,
        " " * 13, "D000000000498", " " * 8,
        "TJ20250314FFFFFFFFFFFFP01".ljust(32), " " * 13, " " * 13, "000000000000", "00", "0",
        " " * 131,
    )  # fmt: skip


def test_layout_is_the_protocol_note() -> None:
    assert tuple(w for _, w, _ in bill.ZM_FIELDS) == NOTE_WIDTHS
    assert bill.ZM_LINE_BYTES == sum(NOTE_WIDTHS) + 40 == 607
    assert bill.ZME_WIDTHS == (
        3,
        11,
        11,
        6,
        10,
        19,
        12,
        4,
        2,
        2,
        6,
        10,
        4,
        12,
        13,
        13,
        15,
        15,
        1,
        12,
        2,
        135,
    )


def test_payment_refund_and_void_lines() -> None:
    pay, ref, rev = parse_zm(payment() + refund() + void(), mer_id=MER, day=DAY)
    assert (pay.kind, pay.out_trade_no, pay.provider_txn_id) == (
        "PAYMENT",
        "TJ20250314A1B2C3D4E5F6P01",
        "202503141015304944728",
    )
    assert (pay.amount_fen, pay.fee_millifen, pay.out_refund_no) == (12_345, 47_000, None)
    assert pay.occurred_at == datetime(2025, 3, 14, 10, 15, 30, tzinfo=BEIJING)
    assert pay.raw["mer_reserved"] == "window=3" and pay.raw["settle_amt"] == "C000000012298"
    assert (ref.kind, ref.out_trade_no, ref.provider_txn_id, ref.out_refund_no) == (
        "REFUND",
        "TJ20250314A1B2C3D4E5F6P01",
        "202503141015304944728",
        "RF000000000001",
    )
    assert (ref.amount_fen, ref.fee_millifen, ref.provider_refund_id) == (
        345,
        -1_000,
        "202503141130003640112",
    )
    assert (rev.kind, rev.out_refund_no, rev.amount_fen, rev.fee_millifen) == (
        "REVERSAL",
        "TJ20250314FFFFFFFFFFFFP01RV",
        500,
        -2_000,
    )
    # a full card number in a file is masked before it is kept anywhere
    assert rev.raw["acc_no"] == "621700*********4446"


def test_lf_line_ends_and_an_empty_file() -> None:
    assert parse_zm(b"", mer_id=MER, day=DAY) == []
    [record] = parse_zm(payment().replace(b"\r\n", b"\n"), mer_id=MER, day=DAY)
    assert record.amount_fen == 12_345


def test_year_is_restored_across_new_year() -> None:
    text = payment().replace(b"0314101530", b"1231235959", 1)
    [record] = parse_zm(text, mer_id=MER, day=date(2026, 1, 1))
    assert record.occurred_at == datetime(2025, 12, 31, 23, 59, 59, tzinfo=BEIJING)


def refused(data: bytes) -> str:
    with pytest.raises(BillUnreadable) as caught:
        parse_zm(data, mer_id=MER, day=DAY)
    return str(caught.value.reason)


def test_truncated_file_names_the_last_line() -> None:
    data = payment() + refund() + void()
    assert refused(data[:-1]) == "ZM line 3: truncated: no line end"
    assert refused(data[:-40]) == "ZM line 3: truncated: no line end"
    assert refused(payment() + refund() + void()[:-4] + b"\r\n") == (
        "ZM line 3: 605 bytes, expected 607"
    )
    assert refused(payment() + b"\r\n") == "ZM line 2: 0 bytes, expected 607"


def test_each_field_is_checked() -> None:
    good = payment()
    separator = good[:3] + b"_" + good[4:]
    assert refused(separator) == "ZM line 1: no separator before acq_ins_code"
    assert refused(good.replace(b"000000012345", b"00000001234X")) == (
        "ZM line 1: txn_amt is not digits"
    )
    assert refused(good.replace(b"D000000000047", b"X000000000047")) == (
        "ZM line 1: mer_fee is not C/D and 12 digits"
    )
    assert refused(good.replace(b"D000000000047", b"D000000000048")) == (
        "ZM line 1: settlement amount is not amount less fee"
    )
    assert refused(good.replace(MER.encode(), b"898000000000000")) == (
        "ZM line 1: merchant 898000000000000 is not ours"
    )
    assert refused(good.replace(b" 01 07 000000 ", b" 02 07 000000 ")) == (
        "ZM line 1: txnType 02 is not handled"
    )
    assert refused(payment() + refund().replace(b"202503141015304944728", b" " * 21)) == (
        "ZM line 2: a refund or void without origQryId"
    )


def test_net_amount_must_foot() -> None:
    good = payment()
    # the second C000000012298 on the line is the net amount (清算净额)
    at = good.rindex(b"C000000012298")
    assert refused(good[:at] + b"C000000012299" + good[at + 13 :]) == (
        "ZM line 1: net amount is not settlement less sub-merchant share"
    )


def package(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def answer(archive: bytes, name: str = f"{MER}_20250314.zip") -> dict[str, str]:
    return {"fileName": name, "fileContent": base64.b64encode(zlib.compress(archive)).decode()}


def download_refused(fields: dict[str, str]) -> str:
    with pytest.raises(BillUnreadable) as caught:
        parse_download(fields, mer_id=MER, day=DAY)
    return str(caught.value.reason)


def test_download_unpacks_base64_zlib_zip() -> None:
    members = {f"INN25031488ZM_{MER}": payment() + refund(), f"INN25031488ZME_{MER}": b""}
    records = parse_download(answer(package(members)), mer_id=MER, day=DAY)
    assert [r.kind for r in records] == ["PAYMENT", "REFUND"]


def test_download_refuses_damaged_packages() -> None:
    members = {f"INN25031488ZM_{MER}": payment(), f"INN25031488ZME_{MER}": b""}
    archive = package(members)
    assert "is not" in download_refused(answer(archive, name="other.zip"))
    assert download_refused({**answer(archive), "fileContent": "%%%"}) == (
        f"{MER}_20250314.zip: fileContent is not Base64"
    )
    cut = answer(archive)
    cut["fileContent"] = base64.b64encode(zlib.compress(archive)[:-9]).decode()
    assert download_refused(cut).endswith("fileContent is not a complete zlib stream")
    assert download_refused(answer(archive[:-30])).endswith("not a complete ZIP archive")
    assert "expected one ZM file" in download_refused(answer(package({"README": b"x"})))
    zme = bill.ZME_LINE_BYTES * b"0" + b"\r\n"
    with_errors = package({f"INN25031488ZM_{MER}": payment(), f"INN25031488ZME_{MER}": zme})
    assert download_refused(answer(with_errors)) == (
        "ZME line 1: error transactions (差错) are not handled here"
    )


def test_crc_mismatch_is_named() -> None:
    name = f"INN25031488ZM_{MER}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(name, payment())
    archive = bytearray(buffer.getvalue())
    at = archive.index(b"TJ20250314A1B2")
    archive[at] = ord("X")
    assert download_refused(answer(bytes(archive))).endswith(f"/{name}: CRC mismatch")


def test_a_nested_bomb_is_refused_without_unpacking_it() -> None:
    """A ZIP whose member is 64 MiB of zeros, packed again with zlib (both layers compress
    about a thousandfold). Refused on its ratio, never unpacked."""
    name = f"INN25031488ZM_{MER}"
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open(zipfile.ZipInfo(name), "w", force_zip64=True) as member,
    ):
        block = bytes(1024 * 1024)
        for _ in range(64):
            member.write(block)
    fields = answer(buffer.getvalue())
    assert len(fields["fileContent"]) < 200_000
    reason = download_refused(fields)
    assert "bytes" in reason and ("more than" in reason or "declares" in reason), reason
