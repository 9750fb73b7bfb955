"""The 政务服务"好差评" grades a citizen gives at the window, and what the citizen's screen may
show of a payer.

Five grades, best first (国办发〔2019〕51号 and the local rules that cite it); the last two are
差评, for which the citizen may say why (optional, bounded), so that someone can call back.
"""

from __future__ import annotations

from clearing.errors import InvalidRequest

# code → the words on the screen and in the report, best first
GRADES: dict[str, str] = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
BAD_GRADES = frozenset({"dissatisfied", "very_dissatisfied"})
REASON_MAX = 200


def check_rating(grade: str, reason: str | None) -> str | None:
    """The reason to store (trimmed, None when empty), or InvalidRequest."""
    if grade not in GRADES:
        raise InvalidRequest(
            "INVALID_GRADE",
            f"grade must be one of {', '.join(GRADES)}",
            "评价等级无效",
        )
    text = (reason or "").strip()
    if not text:
        return None
    if grade not in BAD_GRADES:
        raise InvalidRequest(
            "REASON_ONLY_FOR_BAD_GRADE",
            "a reason is taken only with dissatisfied or very_dissatisfied",
            "仅“不满意”“非常不满意”可填写原因",
        )
    if len(text) > REASON_MAX:
        raise InvalidRequest(
            "REASON_TOO_LONG",
            f"the reason may have at most {REASON_MAX} characters",
            f"原因最多{REASON_MAX}字",
        )
    return text


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the first character and one star for each other one, so the
    citizen recognises the order as theirs and a passer-by learns nothing."""
    text = name.strip()
    if not text:
        return ""
    return text[0] + "*" * max(1, len(text) - 1)
