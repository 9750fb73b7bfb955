"""A line cursor for Alipay bill files that names the file and line in every error."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from adapters.alipay import bill_format as fmt
from adapters.alipay.crypto import BEIJING


class BillFormatError(ValueError):
    """A bill that cannot be trusted as written; ``line`` is 1-based, None for the whole file."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        where = f"{file} line {line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


class LineReader:
    """Reads one file top to bottom; every ``expect…`` either matches or raises with the line."""

    def __init__(self, text: str, file: str) -> None:
        self.lines = text.splitlines()
        self.file = file
        self.index = 0

    def error(self, number: int | None, reason: str) -> BillFormatError:
        return BillFormatError(self.file, number, reason)

    def next(self, wanted: str) -> tuple[int, str]:
        if self.index >= len(self.lines):
            # a file cut short in transfer ends here: say what was still missing
            raise self.error(len(self.lines), f"file ends before the {wanted}")
        self.index += 1
        return self.index, self.lines[self.index - 1]

    def expect(self, exact: str, what: str) -> int:
        number, line = self.next(what)
        if fmt.frame_line(line) != exact:
            raise self.error(number, f"expected the {what} {exact!r}")
        return number

    def expect_re(self, pattern: re.Pattern[str], what: str) -> tuple[int, re.Match[str]]:
        number, line = self.next(what)
        match = pattern.fullmatch(fmt.frame_line(line))
        if match is None:
            raise self.error(number, f"expected the {what}")
        return number, match

    def account(self, seller_id: str | None) -> str:
        number, match = self.expect_re(fmt.ACCOUNT_RE, "#账号 line")
        account = match.group(1)
        if seller_id is not None and account != seller_id + fmt.ACCOUNT_SUFFIX:
            raise self.error(number, "the bill is for another account")
        return account

    def date_range(self, day: date | None) -> tuple[datetime, datetime]:
        number, match = self.expect_re(fmt.RANGE_RE, "#起始日期 line")
        try:
            start, end = (
                datetime.strptime(match.group(i), fmt.RANGE_TIME_FORMAT).replace(tzinfo=BEIJING)
                for i in (1, 2)
            )
        except ValueError:
            raise self.error(number, "unreadable date range") from None
        midnight = (start.hour, start.minute, start.second) == (0, 0, 0)
        if end - start != timedelta(days=1) or not midnight:
            raise self.error(number, "the range is not one whole day")
        if day is not None and start.date() != day:
            raise self.error(number, f"the bill is not for {day.isoformat()}")
        return start, end

    def rows(self, end: re.Pattern[str], wanted: str, part: str) -> Iterator[tuple[int, str]]:
        """The lines up to the ``end`` marker; a comment line among them is refused."""
        while True:
            number, line = self.next(wanted)
            if end.fullmatch(fmt.frame_line(line)):
                return
            if line.startswith("#"):
                raise self.error(number, f"comment line inside the {part} rows")
            yield number, line

    def header(self, columns: tuple[str, ...]) -> None:
        number, line = self.next("header")
        if tuple(fmt.clean(c) for c in split(line)) != columns:
            raise self.error(number, "unexpected header columns")

    def cells(self, number: int, line: str, columns: tuple[str, ...]) -> dict[str, str]:
        values = split(line)
        if len(values) != len(columns):
            raise self.error(number, f"{len(values)} cells where {len(columns)} were expected")
        return {name: fmt.clean(value) for name, value in zip(columns, values, strict=True)}

    def closing(self) -> None:
        """After the totals: the export time line, then nothing but blank lines."""
        self.expect_re(fmt.EXPORTED_RE, "export time")
        while self.index < len(self.lines):
            number, line = self.next("end")
            if line.strip():
                raise self.error(number, "unexpected text after the totals")


def split(line: str) -> list[str]:
    """The cells of one row; one physical line is one row (Alipay writes no breaks in cells)."""
    return next(csv.reader([line]), [])
