"""Checksums that numbered migrations had before their functions moved to ``clearing/db/sql``.

A numbered migration may not change once applied (``migrate`` refuses a file whose SHA-256 differs
from the one recorded). The one exception is this list: when the functions, triggers and views of
0001–0028 moved to one file each in ``clearing/db/sql`` (docs/decisions, repeatable SQL), the
definitions were cut out of the old migrations, which changed their checksums. A database migrated
before then recorded the checksums below; it has exactly the schema the shortened files plus the
repeatable files give (tests/integration/test_migrate_repeatable.py builds both and compares them),
so its record is accepted as it is and left untouched (a node of the previous release still starts
against it).

Each entry is the SHA-256 of the file as it was on ``main`` before the move; anybody can check one
with ``git show <commit>:clearing/db/migrations/<file> | sha256sum``. Add to this list only in the
same way: the schema a database has after applying the old text must be the schema the new text
gives, and a test must prove it.
"""

from __future__ import annotations

# the files' text at commit 0ec385c, before their definitions moved to clearing/db/sql
SUPERSEDED: dict[int, frozenset[str]] = {
    2: frozenset({"17194d2f531ae8b6bf526ea9b34228caaebcd71947d92c8b33af5db4474f4bc8"}),
    3: frozenset({"eb26b810f7618b6a89aa9d8cc87ef92f10defdefa364bbcab0604c3737f8e289"}),
    4: frozenset({"b32682d3fb15dd71248e621132e5e8f79f595f5babdead05be89cfdcf7b62b47"}),
    6: frozenset({"407e4ef7bcba0cc305be5cc072de80818dc17848adb6050101aaf3e0b708ebc8"}),
    7: frozenset({"a4f9ed9d8b4de43f15d1cf830ee1a6e237d92a47e95f6a20018494c7b24155f4"}),
    8: frozenset({"f86847fc2e687661df6f91f1144e694f258df1a0365fa5d351a163ffd741cd54"}),
    10: frozenset({"848afcd0a5f0648f90283e5f7ae2e295966511fb937423fe8d85b02edc4e1106"}),
    12: frozenset({"14f24d1fdf7238af30b31eb87a7c1d7bf7e3749c36b31794d808410cddda3114"}),
    14: frozenset({"63de1af3e6b5164356c8b57655517c044b4e4bf74bb501589071ca4ecace5763"}),
    17: frozenset({"d633fbcc80d92707fbc2dfbe1b6a285d553a9a0b9a90f01cd336d6b95f95d114"}),
    19: frozenset({"77d39a0e0862e98e29a74d267799fa49fdc8b2a732a57be95a7b148ebc16be09"}),
    21: frozenset({"b00733db9c4eeab31d15b8fe111238632137c59cb4a343a7399623683c3358a7"}),
    23: frozenset({"b4449f1b2a9a4c6323860ba3a96d418760e607f4c72ed80dae6d5b61ada9d9d1"}),
    28: frozenset({"e2dbbad3f9bda00050ec367f00f1e95a9a5851a87f43c899819a9db62852713d"}),
}


def accepted(version: int, recorded: str) -> bool:
    """Whether ``recorded`` is an earlier text of migration ``version`` that is accepted."""
    return recorded in SUPERSEDED.get(version, frozenset())
