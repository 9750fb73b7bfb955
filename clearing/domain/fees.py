"""The registration fee (不动产登记费), from the published schedule in force on a day. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from clearing.errors import InvalidRequest

KINDS = ("residential", "non_residential")


@dataclass(frozen=True)
class FeeSchedule:
    version: int
    effective_from: date
    residential_fen: int
    non_residential_fen: int
    extra_certificate_fen: int
    exemptions: frozenset[str]


@dataclass(frozen=True)
class Matter:
    """One registration matter (件): its kind, how many extra certificates, who applies."""

    kind: str
    extra_certificates: int = 0
    exemption: str | None = None


def in_force(schedules: Sequence[FeeSchedule], on: date) -> FeeSchedule:
    usable = [s for s in schedules if s.effective_from <= on]
    if not usable:
        raise InvalidRequest(
            "NO_FEE_SCHEDULE",
            f"no registration fee schedule in force on {on}",
            "当日无有效的登记收费标准",
        )
    return max(usable, key=lambda s: s.effective_from)


def registration_fee(schedule: FeeSchedule, matter: Matter) -> int:
    """Fen owed for one matter under ``schedule``; zero for an exemption the schedule grants."""
    if matter.kind not in KINDS:
        raise InvalidRequest(
            "INVALID_MATTER_KIND",
            "matter kind must be residential or non_residential",
            "登记类型无效",
        )
    if not 0 <= matter.extra_certificates <= 99:
        raise InvalidRequest(
            "INVALID_CERTIFICATE_COUNT", "extra certificates must be 0 to 99", "加发证书数量无效"
        )
    if matter.exemption is not None:
        if matter.exemption not in schedule.exemptions:
            raise InvalidRequest(
                "UNKNOWN_EXEMPTION",
                f"schedule {schedule.version} grants no exemption {matter.exemption!r}",
                "该减免类型不在现行收费标准内",
            )
        return 0
    base = (
        schedule.residential_fen if matter.kind == "residential" else schedule.non_residential_fen
    )
    return base + matter.extra_certificates * schedule.extra_certificate_fen
