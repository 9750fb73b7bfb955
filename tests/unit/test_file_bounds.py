"""Every compressed file we read unpacks within a stated size and ratio."""

from __future__ import annotations

import gzip
import zlib

import pytest

from adapters.errors import AcquirerUnavailable
from adapters.wechatpay.client import _gunzip
from clearing import bounds


def test_inflate_keeps_honest_files_and_refuses_bombs() -> None:
    text = "".join(
        f"2026-12-07 10:{i % 60:02d}:{i * 7 % 60:02d},TJ2026120700{i * 7919 % 10**6:06d},{i * 37}.00\n"
        for i in range(2000)
    ).encode()
    assert bounds.inflate(zlib.compress(text), wbits=zlib.MAX_WBITS, limit=10**6) == text
    bomb = zlib.compress(bytes(50 * 1024 * 1024), 9)
    with pytest.raises(bounds.TooLarge, match="more than"):
        bounds.inflate(bomb, wbits=zlib.MAX_WBITS, limit=bounds.MAX_BILL_TEXT_BYTES)
    with pytest.raises(bounds.TooLarge):
        bounds.inflate(zlib.compress(text), wbits=zlib.MAX_WBITS, limit=1000)
    with pytest.raises(zlib.error):
        bounds.inflate(zlib.compress(text)[:-6], wbits=zlib.MAX_WBITS, limit=10**6)


def test_a_gzip_bomb_as_a_wechat_bill_is_refused() -> None:
    with pytest.raises(AcquirerUnavailable, match="larger than the limit"):
        _gunzip(gzip.compress(bytes(50 * 1024 * 1024), 9))
    assert _gunzip(gzip.compress(b"a,b\n1,2\n")) == b"a,b\n1,2\n"
