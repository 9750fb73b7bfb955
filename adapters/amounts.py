"""The check every acquirer client makes on an amount before anything is sent."""

from __future__ import annotations


def require_fen(value: int) -> None:
    """An amount the caller passes in is a positive int of fen: a float or a bool is a bug in the
    caller (``TypeError``), zero or less is a value no acquirer takes (``ValueError``)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("amounts are int fen")
    if value <= 0:
        raise ValueError("amount must be positive")
