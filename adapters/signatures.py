"""What the parties' signature schemes do alike, whatever their keys and algorithms.

Each party's ``signing``/``crypto`` module keeps its own scheme (what is signed, with what key,
in which header); the nonce, the comparison and the ``Name="value", ...`` header syntax they
share live here once, so that a fix to one (a timing leak, a parser that accepts a repeated
parameter) reaches all of them.
"""

from __future__ import annotations

import hmac
import re
import secrets

# one ``Name="value"`` parameter of a signature header, blanks around it allowed
PARAM = re.compile(r'\s*([A-Za-z_]+)="([^"]*)"\s*')


def new_nonce() -> str:
    """32 random hex characters: unguessable, and the shape the parties' SDKs send."""
    return secrets.token_hex(16)


def same(expected: str, given: str) -> bool:
    """Constant-time comparison, so that timing reveals nothing about the right signature."""
    return hmac.compare_digest(expected.encode(), given.encode())


def quoted_params(text: str, fields: tuple[str, ...], what: str = "signature") -> dict[str, str]:
    """``Name="value"`` parameters split on commas; ``ValueError`` for a malformed or repeated
    one, or when one of ``fields`` is missing or empty."""
    found: dict[str, str] = {}
    for part in text.split(","):
        match = PARAM.fullmatch(part)
        if match is None:
            raise ValueError(f"malformed {what} parameter")
        name, value = match.groups()
        if name in found:
            raise ValueError(f"repeated {what} parameter {name}")
        found[name] = value
    missing = [name for name in fields if not found.get(name)]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing)}")
    return found


def authorization_params(
    header: str, scheme: str, fields: tuple[str, ...], what: str = "signature"
) -> dict[str, str]:
    """The parameters of an ``Authorization`` value ``<scheme> Name="value", ...``;
    ``ValueError`` for another scheme, or as ``quoted_params`` says."""
    given, _, params = header.strip().partition(" ")
    if given != scheme:
        raise ValueError("unsupported authorization scheme")
    return quoted_params(params, fields, what)
