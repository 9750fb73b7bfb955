"""What the bank's pain.002 and camt.053 writers share: element building in one namespace, fen
as decimal yuan text, the bank's own identity, and its clock's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from lxml import etree

from adapters import wiretime

BEIJING = wiretime.BEIJING
CURRENCY = "CNY"
CNAPS = "CNAPS"  # ISO external clearing system code of China's payment system (联行号 members)


@dataclass(frozen=True)
class BankIdentity:
    """Who the simulated bank is: its name and the 联行号 of the branch keeping our accounts."""

    name: str = "示范银行市分行营业部"
    bank_code: str = "313100000013"
    short: str = "SFBK"  # the first letters of its message ids


class Builder:
    """Child elements in the document's default namespace, in the order the XSD wants them."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def root(self, name: str) -> etree._Element:
        # the default namespace has the key None, which the stubs do not allow for
        nsmap = cast(Any, {None: self.namespace})
        return etree.Element(f"{{{self.namespace}}}{name}", nsmap=nsmap)

    def add(
        self, parent: etree._Element, name: str, text: str | None = None, **attributes: str
    ) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.namespace}}}{name}", attributes)
        if text is not None:
            element.text = text
        return element

    def path(self, parent: etree._Element, *names: str, text: str | None = None) -> etree._Element:
        """Nested elements ``a/b/c``; ``text`` goes in the last one."""
        element = parent
        for name in names[:-1]:
            element = self.add(element, name)
        return self.add(element, names[-1], text)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def yuan(fen: int) -> str:
    """Fen as the decimal text ISO amounts use: 123456 -> "1234.56" (never negative)."""
    if fen < 0:
        raise ValueError("ISO amounts are never negative; the sign goes in CdtDbtInd")
    return f"{fen // 100}.{fen % 100:02d}"


def iso_time(moment: datetime) -> str:
    """ISODateTime in Beijing time with its offset, to the second."""
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


def agent(builder: Builder, parent: etree._Element, name: str, bank_code: str) -> None:
    """``name``/FinInstnId/ClrSysMmbId with the CNAPS member id (联行号)."""
    member = builder.path(parent, name, "FinInstnId", "ClrSysMmbId")
    builder.path(member, "ClrSysId", "Cd", text=CNAPS)
    builder.add(member, "MmbId", bank_code)


def reason(builder: Builder, parent: etree._Element, name: str, code: str, text: str) -> None:
    """``name`` (StsRsnInf, RtrInf) with Rsn/Cd and, when there is one, AddtlInf."""
    info = builder.add(parent, name)
    builder.path(info, "Rsn", "Cd", text=code)
    if text:
        builder.add(info, "AddtlInf", text[:105])
