"""Validate an ISO 20022 message against the official XSD of its exact version.

The XSD is chosen by the root element's namespace: ``urn:iso:std:iso:20022:tech:xsd:<msg>`` maps
to ``xsd/<msg>.xsd``. We validate what we *produce* strictly (a bank rejects a whole file for one
bad element); what we *receive* is read leniently elsewhere (reconciliation/), because banks'
own files often break their schemas.

Errors::

    AdapterError
    └── SchemaUnknown   the root namespace names a message version we do not hold
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

from adapters.errors import AdapterError

_ISO_NS = re.compile(r"urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3}\.\d{3}\.\d{2})")
# XSD messages name elements by their Clark name; people read the local name
_CLARK = re.compile(r"\{[^}]*\}")


class SchemaUnknown(AdapterError):
    """No vendored XSD for this namespace: the message cannot be checked, so it must not be sent."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        super().__init__(f"no ISO 20022 schema held for namespace {namespace!r}")


def held() -> tuple[str, ...]:
    """Message versions we hold an XSD for, e.g. ``("camt.053.001.08", "pain.001.001.09")``."""
    folder = resources.files("adapters.iso20022") / "xsd"
    names = (entry.name for entry in folder.iterdir())
    return tuple(sorted(n.removesuffix(".xsd") for n in names if n.endswith(".xsd")))


def _safe_parser() -> etree.XMLParser:
    # No entity expansion, no DTD, no network: a document must not make us read files or URLs.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class _Schema:
    """One compiled XSD. libxml2 keeps the error log on the schema object, so validation and
    reading that log happen under a lock."""

    def __init__(self, xsd: bytes) -> None:
        self._schema = etree.XMLSchema(etree.fromstring(xsd, _safe_parser()))
        self._lock = threading.Lock()

    def errors(self, doc: etree._Element) -> list[str]:
        with self._lock:
            try:
                if self._schema.validate(doc):
                    return []
            except etree.XMLSchemaValidateError as exc:
                return [f"line 1: the validator gave up: {exc}"]
            log: Any = self._schema.error_log  # lxml-stubs declare _ErrorLog without iteration
            return [f"line {e.line}: {_CLARK.sub('', e.message)}" for e in log]


@cache
def _schema(message: str) -> _Schema:
    if message not in held():
        raise SchemaUnknown(f"urn:iso:std:iso:20022:tech:xsd:{message}")
    xsd = (resources.files("adapters.iso20022") / "xsd" / f"{message}.xsd").read_bytes()
    return _Schema(xsd)


def message_of(namespace: str) -> str:
    """``urn:iso:std:iso:20022:tech:xsd:pain.001.001.09`` → ``pain.001.001.09``; SchemaUnknown
    for any other namespace (a bank's own, such as the Swiss six-interbank-clearing ones)."""
    match = _ISO_NS.fullmatch(namespace)
    if match is None:
        raise SchemaUnknown(namespace)
    return match.group(1)


def validate(xml: bytes) -> list[str]:
    """Every schema violation of ``xml`` as ``"line N: message"``; ``[]`` when it is valid.

    A document that is not well-formed XML is reported the same way (one entry). Raises
    SchemaUnknown when the root namespace is not one of ``held()``.
    """
    try:
        root = etree.fromstring(xml, _safe_parser())
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: not well-formed XML: {exc.msg}"]
    namespace = etree.QName(root).namespace or ""
    schema = _schema(message_of(namespace))
    if root.getroottree().docinfo.internalDTD is not None:
        # an ISO message never has one, and unexpanded entities crash libxml2's validator
        return ["line 1: a DOCTYPE declaration is not allowed in an ISO 20022 message"]
    return schema.errors(root)
