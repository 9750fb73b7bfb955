"""The day's 好差评 ratings for the daily report: counts per window and clerk, and each 差评
(不满意, 非常不满意) with its reason, for the follow-up call 谁办理、谁负责 asks for.

A rating belongs to the business day it was given on (Beijing time), whatever day its order was
paid; the clerk is the one who had the order open at the window when the citizen rated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clearing.db import Conn
from clearing.domain.ratings import BAD_GRADES, GRADES


@dataclass(frozen=True, slots=True)
class RatingCount:  # one window and clerk: how many of each grade
    office: str
    window: str
    clerk: str  # 显示名（用户名）, as staff know each other
    very_satisfied: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    very_dissatisfied: int

    @property
    def total(self) -> int:
        return (
            self.very_satisfied
            + self.satisfied
            + self.basically_satisfied
            + self.dissatisfied
            + self.very_dissatisfied
        )

    @property
    def bad(self) -> int:
        return self.dissatisfied + self.very_dissatisfied


@dataclass(frozen=True, slots=True)
class BadRating:  # one 差评, to be called back
    order_no: str
    office: str
    window: str
    clerk: str
    grade: str
    grade_zh: str
    reason: str | None
    rated_at: datetime


_COUNTS = """
SELECT r.office, r.window_no, p.display_name || '（' || p.username || '）' AS clerk,
       count(*) FILTER (WHERE r.grade = 'very_satisfied') AS very_satisfied,
       count(*) FILTER (WHERE r.grade = 'satisfied') AS satisfied,
       count(*) FILTER (WHERE r.grade = 'basically_satisfied') AS basically_satisfied,
       count(*) FILTER (WHERE r.grade = 'dissatisfied') AS dissatisfied,
       count(*) FILTER (WHERE r.grade = 'very_dissatisfied') AS very_dissatisfied
  FROM service_ratings r JOIN principals p ON p.id = r.clerk_id
 WHERE r.rated_at >= $1 AND r.rated_at < $2
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
_BAD = """
SELECT o.order_no, r.office, r.window_no, p.display_name || '（' || p.username || '）' AS clerk,
       r.grade, r.reason, r.rated_at
  FROM service_ratings r JOIN principals p ON p.id = r.clerk_id JOIN orders o ON o.id = r.order_id
 WHERE r.rated_at >= $1 AND r.rated_at < $2 AND r.grade = ANY($3::text[])
 ORDER BY r.rated_at, r.id
"""


async def counts(conn: Conn, start: datetime, end: datetime) -> list[RatingCount]:
    rows = await conn.fetch(_COUNTS, start, end)
    return [
        RatingCount(
            r["office"],
            r["window_no"],
            r["clerk"],
            *(int(r[g]) for g in GRADES),
        )
        for r in rows
    ]


async def bad(conn: Conn, start: datetime, end: datetime) -> list[BadRating]:
    rows = await conn.fetch(_BAD, start, end, sorted(BAD_GRADES))
    return [
        BadRating(
            r["order_no"],
            r["office"],
            r["window_no"],
            r["clerk"],
            r["grade"],
            GRADES[r["grade"]],
            r["reason"],
            r["rated_at"],
        )
        for r in rows
    ]
