"""Every time staff read is Beijing time: the one Python helper for showing an instant.

Pages, receipts, reports and exports format instants only through ``beijing_time`` (and days
through ``business_day``), whatever the server's or the database session's time zone. The
browser's scripts have the same helper in ``clearing/api/static/time.js``.

China has kept one offset, +08:00, without daylight saving since 1991, so a fixed offset is exact
for every instant this service records and needs no tz database on the host.

Usage::

    from clearing.domain.times import beijing_time, business_day
    beijing_time(payment["paid_at"])          # '2026-12-07 09:30:00' (datetime or ISO text)
    beijing_time(at, seconds=False)           # '2026-12-07 09:30'
    business_day(datetime.now(UTC))           # the Beijing calendar date of that instant
    start, end = day_bounds(day)              # [00:00, 24:00) Beijing, as aware instants
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Final

BEIJING: Final = timezone(timedelta(hours=8), "CST")


def _instant(at: datetime | str) -> datetime:
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    if value.tzinfo is None:
        # a naive time has no meaning here: whose wall clock was it?
        raise ValueError("a naive datetime cannot be shown in Beijing time")
    return value


def beijing(at: datetime | str) -> datetime:
    """The instant as a Beijing wall-clock datetime."""
    return _instant(at).astimezone(BEIJING)


def beijing_time(at: datetime | str | None, *, seconds: bool = True, empty: str = "") -> str:
    """``YYYY-MM-DD HH:MM:SS`` (or without seconds) in Beijing time; ``empty`` for no time."""
    if at is None or at == "":
        return empty
    return beijing(at).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def beijing_clock(at: datetime | str | None, *, empty: str = "") -> str:
    """``HH:MM:SS`` in Beijing time, for lists of one day."""
    if at is None or at == "":
        return empty
    return beijing(at).strftime("%H:%M:%S")


def business_day(at: datetime) -> date:
    """The Beijing calendar date of an instant: the business day it belongs to."""
    return beijing(at).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Beijing day as the half-open interval [start, end) of aware instants, to hand to SQL
    as two timestamptz parameters (no session time zone involved)."""
    start = datetime.combine(day, time(), BEIJING)
    return start, start + timedelta(days=1)
