"""The layout of the schema's SQL: numbered migrations hold no functions, views or triggers; each
repeatable file holds one object named as the file, in an order that never depends on the disk."""

from __future__ import annotations

import re

import pytest

from clearing.db import migrate, repeatable, superseded
from tests import migrations_before as old_layout


def _file(name: str, body: str = "") -> repeatable.Repeatable:
    return repeatable.parse(
        f"{name}.sql",
        f"{body}CREATE OR REPLACE FUNCTION {name}() RETURNS int LANGUAGE sql AS 'SELECT 1';",
    )


def test_files_apply_by_name_unless_one_must_come_after_another() -> None:
    files = [
        _file("b_total", "-- after: z_rate\n"),
        _file("a_helper"),
        _file("z_rate"),
        _file("c_view_like", "-- after: b_total, a_helper\n"),
    ]
    assert [r.name for r in repeatable.ordered(files)] == [
        "a_helper",
        "z_rate",
        "b_total",
        "c_view_like",
    ]
    # the order is the same whatever order the folder listed them in
    assert repeatable.ordered(list(reversed(files))) == repeatable.ordered(files)


def test_unknown_or_circular_order_is_refused() -> None:
    with pytest.raises(repeatable.RepeatableError, match="comes after nothere: no such file"):
        repeatable.ordered([_file("a", "-- after: nothere\n")])
    with pytest.raises(repeatable.RepeatableError, match=r"circle: \['a', 'b'\]"):
        repeatable.ordered([_file("a", "-- after: b\n"), _file("b", "-- after: a\n"), _file("c")])


def test_a_file_defines_the_one_object_it_is_named_after() -> None:
    view = repeatable.parse("balances.sql", "CREATE OR REPLACE VIEW balances AS SELECT 1;")
    assert (view.kind, view.label) == ("view", "view balances")
    with pytest.raises(
        repeatable.RepeatableError, match="must define exactly one function or view named other"
    ):
        repeatable.parse(
            "other.sql", "CREATE OR REPLACE FUNCTION tj_x() RETURNS int LANGUAGE sql AS 'SELECT 1';"
        )
    with pytest.raises(repeatable.RepeatableError, match="must define exactly one"):
        # not re-runnable: a second apply would fail on the existing function
        repeatable.parse(
            "tj_x.sql", "CREATE FUNCTION tj_x() RETURNS int LANGUAGE sql AS 'SELECT 1';"
        )
    with pytest.raises(repeatable.RepeatableError, match=r"named <object>\.sql in lower case"):
        repeatable.parse("TJ-X.sql", "")


def test_every_function_and_view_the_migrations_defined_has_its_one_file() -> None:
    before = {
        m.group(1)
        for name, text in old_layout.files().items()
        if name.endswith(".sql")
        for m in re.finditer(
            r"^CREATE (?:OR REPLACE )?(?:FUNCTION|VIEW) ([a-z_]+)", text, re.MULTILINE
        )
    }
    files = repeatable.available()
    assert sorted(r.name for r in files) == sorted(before)
    for r in files:
        assert r.sql.startswith("-- "), f"{r.name}.sql opens with a comment on what it is for"


_DEFINITION = re.compile(
    r"^\s*CREATE\s+(OR\s+REPLACE\s+)?(CONSTRAINT\s+)?(FUNCTION|PROCEDURE|VIEW|MATERIALIZED\s+VIEW|TRIGGER)\b",
    re.IGNORECASE | re.MULTILINE,
)


def test_numbered_migrations_define_no_functions_views_or_triggers() -> None:
    # a numbered migration that (re)defined one would be overwritten by the repeatable file on a
    # fresh database and not on an old one: the two would differ. Change the file in
    # clearing/db/sql instead (docs/decisions, repeatable SQL).
    found = [
        f"{m.version:04d}_{m.name}: {hit.group(0).strip()}"
        for m in migrate.available()
        for hit in _DEFINITION.finditer(m.sql)
    ]
    assert found == []


def test_superseded_checksums_are_those_of_the_files_before_the_move() -> None:
    # tests/fixtures/migrations_before_sql.tar.gz holds those files, with the checksums of all 28
    # files on main before the move (SHA256SUMS)
    sums = old_layout.checksums()
    for version, checksums in superseded.SUPERSEDED.items():
        old = next(name for name in sums if name.startswith(f"{version:04d}_"))
        assert checksums == {sums[old]}, old
    assert superseded.accepted(4, sums["0004_capture.sql"])
    assert not superseded.accepted(3, sums["0004_capture.sql"])
