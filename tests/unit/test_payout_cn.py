"""The 批量代付 payout file, the per-beneficiary detail CSVs and the file names."""

from __future__ import annotations

import csv
import io

import pytest

from clearing.settlement import detail_csv, naming, payout_cn
from clearing.settlement.model import BatchInvalid, FieldRefused, Instruction
from tests.unit.test_pain001 import batch, detail, instruction, many


def _lines(data: bytes, encoding: str = "gbk") -> list[list[str]]:
    text = data.decode(encoding)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return [line.split("|") for line in text.removesuffix("\r\n").split("\r\n")]


def test_one_chunk_header_and_lines_in_gbk() -> None:
    b = batch(
        (instruction(1, 12_345), instruction(2, 120_000, name="某市住房专项维修资金管理中心"))
    )
    [(n, data)] = payout_cn.render(b, encoding="gbk")
    assert n == 1
    header, first, second = _lines(data)
    assert header == [
        "H",
        "B20261125ICBC001",
        "1/1",
        "2",
        "1323.45",
        "20261126",
        "CNY",
        "1202020409000123456",
        "某市不动产登记中心统缴专户",
    ]
    assert first == [
        "D",
        "1",
        "270001040000123",
        "国家金库某市中心支库",
        "011100000003",
        "国家金库某市中心支库",
        "123.45",
        "契税 2026-11-25",
        "TJ20261125E00001",
    ]
    assert second[3] == "某市住房专项维修资金管理中心" and second[6] == "1200.00"
    assert "某市".encode("gbk") in data  # really GBK, not UTF-8


def test_utf8_is_the_same_text_without_bom() -> None:
    b = many(3)
    [(_, gbk)] = payout_cn.render(b, encoding="gbk")
    [(_, utf8)] = payout_cn.render(b, encoding="utf-8")
    assert gbk.decode("gbk") == utf8.decode("utf-8") and not utf8.startswith(b"\xef\xbb\xbf")


def test_above_1000_lines_it_chunks_with_own_headers() -> None:
    b = many(2500)
    chunks = payout_cn.render(b, encoding="gbk")
    assert [n for n, _ in chunks] == [1, 2, 3]
    totals = 0
    for n, data in chunks:
        lines = _lines(data)
        header, details = lines[0], lines[1:]
        assert header[2] == f"{n}/3"
        assert int(header[3]) == len(details) == (1000 if n < 3 else 500)
        chunk_fen = sum(int(d[6].replace(".", "")) for d in details)
        assert header[4] == f"{chunk_fen // 100}.{chunk_fen % 100:02d}"
        assert [d[1] for d in details] == [str(i) for i in range(1, len(details) + 1)]
        totals += chunk_fen
    assert totals == b.total_fen
    refs = [d[8] for _, data in chunks for d in _lines(data)[1:]]
    assert refs == [i.end_to_end_id for i in b.instructions]


def test_exactly_1000_is_one_file_and_chunk_size_is_bounded() -> None:
    assert len(payout_cn.render(many(1000), encoding="utf-8")) == 1
    assert len(payout_cn.render(many(10), encoding="utf-8", chunk_size=3)) == 4
    with pytest.raises(ValueError, match="chunk_size"):
        payout_cn.render(many(1), encoding="utf-8", chunk_size=1001)


def test_a_resend_is_byte_identical() -> None:
    assert payout_cn.render(many(1200), encoding="gbk") == payout_cn.render(
        many(1200), encoding="gbk"
    )


def test_the_delimiter_in_a_value_is_refused_with_line_and_field() -> None:
    b = batch((instruction(1, 100), instruction(2, 100, name="甲|乙公司")))
    with pytest.raises(FieldRefused) as caught:
        payout_cn.render(b, encoding="utf-8")
    err = caught.value
    assert (err.chunk, err.line, err.field) == (1, 3, "payee_name")
    assert "TJ20261125E00002" in err.message and "'|'" in err.message


def test_a_character_gbk_cannot_encode_is_refused_only_in_gbk() -> None:
    rare = "𠀀"  # U+20000, outside GBK (a 生僻字 needs the bank's agreed substitute)
    b = batch((instruction(1, 100, purpose=f"契税{rare}"),))
    with pytest.raises(FieldRefused) as caught:
        payout_cn.render(b, encoding="gbk")
    assert caught.value.field == "purpose" and "U+20000" in caught.value.message
    [(_, data)] = payout_cn.render(b, encoding="utf-8")
    assert rare in data.decode("utf-8")


def test_a_line_break_never_reaches_the_file() -> None:
    with pytest.raises(BatchInvalid):
        instruction(1, 100, name="换行\r\n名称")


def test_payout_names_carry_the_chunk() -> None:
    b = batch((instruction(1, 1),), seq=12)
    assert naming.payout_name(b, 3) == "TJ_ICBC_20261125_012_p03.payout.txt"
    assert naming.detail_name(b, "TREASURY") == "TJ_ICBC_20261125_012_TREASURY.detail.csv"
    assert naming.checksum_name("a.xml") == "a.xml.sha256"
    assert naming.signature_name("a.xml") == "a.xml.sig"
    for bad in ("../x", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            naming.signature_name(bad)
    with pytest.raises(ValueError):
        naming.detail_name(b, "../../etc")


# --- detail CSV ------------------------------------------------------------------------------


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline="")))


def test_one_csv_per_beneficiary_with_every_line_and_a_total() -> None:
    fund = Instruction(
        end_to_end_id="TJ20261125E09001",
        beneficiary_code="FUND01",
        creditor_name="某市住房专项维修资金管理中心",
        creditor_account="6217000010001234567",
        creditor_bank_code="105100000017",
        creditor_bank_name="中国建设银行某市分行",
        amount_fen=1_234_501,
        purpose="维修资金",
        details=(
            detail(1, 1_000_000, order="TJ20261125A0001"),
            detail(2, 234_501, order="TJ20261125A0002"),
        ),
    )
    b = batch((instruction(1, 5_000), fund, instruction(2, 7_000)))
    files = detail_csv.render(b)
    assert list(files) == ["TREASURY", "FUND01"]

    rows = _rows(files["FUND01"])
    assert rows[0][0] == "业务参考号" and rows[0][-1] == "金额（元）"
    assert [r[1] for r in rows[1:3]] == ["\tTJ20261125A0001", "\tTJ20261125A0002"]
    assert rows[1][0] == "\tTJ20261125E09001"
    assert rows[1][6] == "\t330100123456780001"
    assert [r[7] for r in rows[1:3]] == ["10000.00", "2345.01"]
    assert rows[3] == ["合计", "2笔", "", "", "", "", "", "12345.01"]

    treasury = _rows(files["TREASURY"])
    assert len(treasury) == 4 and treasury[-1][-1] == "120.00"


def test_detail_without_reference_leaves_the_cell_empty() -> None:
    no_ref = Instruction(
        **{
            **instruction(1, 8_000).__dict__,
            "details": (
                detail(1, 8_000).__class__(**{**detail(1, 8_000).__dict__, "reference": None}),
            ),
        }
    )
    rows = _rows(detail_csv.render(batch((no_ref,)))["TREASURY"])
    assert rows[1][6] == ""
