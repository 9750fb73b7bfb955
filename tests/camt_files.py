"""Large camt.053 files written entry by entry, for the memory test and its benchmark."""

from __future__ import annotations

from pathlib import Path

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def write_statement(path: Path, entries: int, *, amount_fen: int = 12_345) -> int:
    """One statement of ``entries`` booked credits that balances; returns the file's size."""
    total = entries * amount_fen
    yuan = f"{amount_fen // 100}.{amount_fen % 100:02d}"
    with path.open("w", encoding="utf-8") as f:
        f.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS}"><BkToCstmrStmt>'
            "<GrpHdr><MsgId>BIG-1</MsgId><CreDtTm>2026-12-07T23:00:00+08:00</CreDtTm></GrpHdr>"
            "<Stmt><Id>BIG-STMT-1</Id><ElctrncSeqNb>1</ElctrncSeqNb>"
            "<Acct><Id><Othr><Id>6222000012345678</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"
            '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">0.00</Amt>'
            "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-07</Dt></Dt></Bal>"
            f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">'
            f"{total // 100}.{total % 100:02d}</Amt>"
            "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-07</Dt></Dt></Bal>\n"
        )
        for i in range(entries):
            f.write(
                f'<Ntry><NtryRef>{i}</NtryRef><Amt Ccy="CNY">{yuan}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-12-07</Dt></BookgDt>"
                f"<ValDt><Dt>2026-12-07</Dt></ValDt><AcctSvcrRef>BANKREF{i:012d}</AcctSvcrRef>"
                "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd>"
                "</Fmly></Domn></BkTxCd><NtryDtls><TxDtls><Refs><EndToEndId>"
                f"TJ2026120700{i:08d}</EndToEndId></Refs><RmtInf><Ustrd>缴费单 TJ{i:010d}"
                "</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
            )
        f.write("</Stmt></BkToCstmrStmt></Document>\n")
    return path.stat().st_size
