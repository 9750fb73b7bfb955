"""Rows into dataclasses: a column carries the value of the field that bears its name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def row_into(cls: type[T], row: asyncpg.Record | Mapping[str, Any], **given: Any) -> T:
    """``cls`` from the row's columns of the same names; ``given`` holds the fields whose value
    is not a column as it stands (renamed, converted or computed). A field that is neither is
    a KeyError, as a misspelt column would be: no field falls back to its default unseen."""
    taken = {f.name: row[f.name] for f in fields(cls) if f.init and f.name not in given}
    return cls(**taken, **given)
