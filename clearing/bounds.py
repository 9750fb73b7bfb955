"""Limits on every file we read from outside, and bounded ways to unpack them.

A file from a bank, an acquirer or an operator's disk is input like any other: its size is
checked before it is read, and a compressed file is inflated only up to a stated size and a
stated ratio, so that 1 KB cannot become a gigabyte in memory (nested zlib/ZIP "bombs").

The numbers are far above any real day's file (a busy hall's daily bill is a few MB; a bank's
statement for the collection account tens of MB) and far below what would hurt the service.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import Final

MIB: Final = 1024 * 1024

# bank statements (camt.052/053/054), read streaming: the size on disk or on the wire
MAX_STATEMENT_BYTES: Final = 256 * MIB
# payment status reports (pain.002): one answer per settlement file, read whole
MAX_STATUS_REPORT_BYTES: Final = 32 * MIB
# acquirers' daily bills, unpacked (text), and how much larger than packed they may be
MAX_BILL_TEXT_BYTES: Final = 256 * MIB
MAX_PACK_RATIO: Final = 100


class TooLarge(ValueError):
    """A file, or what it unpacks to, is beyond its limit; the message says which."""


def inflate(packed: bytes, *, wbits: int, limit: int, ratio: int = MAX_PACK_RATIO) -> bytes:
    """zlib/gzip/raw deflate (by ``wbits``) unpacked to at most ``limit`` bytes and at most
    ``ratio`` times the packed size. ``zlib.error`` for a broken or truncated stream."""
    cap = min(limit, max(len(packed), 1) * ratio)
    inflater = zlib.decompressobj(wbits=wbits)
    plain = inflater.decompress(packed, cap)
    if inflater.unconsumed_tail or (not inflater.eof and len(plain) >= cap):
        raise TooLarge(
            f"unpacks to more than {cap} bytes (limit {limit}, at most {ratio}x {len(packed)})"
        )
    if not inflater.eof:
        raise zlib.error("incomplete or truncated stream")
    return plain


def read_member(
    archive: zipfile.ZipFile, name: str, *, limit: int, ratio: int = MAX_PACK_RATIO
) -> bytes:
    """One ZIP member, read in chunks up to ``limit`` bytes and ``ratio`` times its packed
    size, whatever sizes its header declares (a header can lie)."""
    info = archive.getinfo(name)
    cap = min(limit, max(info.compress_size, 1) * ratio)
    if info.file_size > cap:
        raise TooLarge(f"{name} declares {info.file_size} bytes, more than {cap}")
    out = io.BytesIO()
    with archive.open(info) as member:
        while chunk := member.read(64 * 1024):
            if out.tell() + len(chunk) > cap:
                raise TooLarge(f"{name} unpacks to more than {cap} bytes")
            out.write(chunk)
    return out.getvalue()
