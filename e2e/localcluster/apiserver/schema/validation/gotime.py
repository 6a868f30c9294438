"""Go's time layouts as kube decodes them: MicroTime (`2006-01-02T15:04:05.000000Z07:00`) and Time (RFC 3339).

Guarantees:
1. `micro_time_error(value)` is None exactly when Go's `time.Parse(RFC3339Micro, value)` succeeds: exactly six
   fraction digits (`.` or `,`) and a zone (`Z` or `+hh:mm`); otherwise it is Go's ParseError text, e.g.
   `parsing time "2026-11-25T10:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"`.
2. `time_error(value)` is the same for metav1.Time (RFC 3339; any fraction, or none, is accepted).
3. A value that is not a string is Go's `json: cannot unmarshal <type> into Go value of type string`.

Not guaranteed: Go's exact wording for months and days out of range is kept, not its treatment of leap seconds.
Pure and synchronous.
"""

from __future__ import annotations

import calendar
import json
from typing import Any

from e2e.localcluster.apiserver.schema.validation.gojson import type_name

__all__ = ["MICRO_LAYOUT", "RFC3339_LAYOUT", "micro_time_error", "time_error"]

MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"


class _Fail(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def micro_time_error(value: Any) -> str | None:
    return _parse_error(value, MICRO_LAYOUT, fraction_digits=6)


def time_error(value: Any) -> str | None:
    return _parse_error(value, RFC3339_LAYOUT, fraction_digits=None)


def _parse_error(value: Any, layout: str, fraction_digits: int | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return f"json: cannot unmarshal {type_name(value)} into Go value of type string"
    try:
        _Parser(value, layout, fraction_digits).run()
    except _Fail as fail:
        return fail.message
    return None


class _Parser:
    def __init__(self, value: str, layout: str, fraction_digits: int | None) -> None:
        self.value, self.layout, self.rest = value, layout, value
        self.fraction_digits = fraction_digits

    def fail(self, element: str) -> _Fail:
        return _Fail(f"parsing time {json.dumps(self.value)} as {json.dumps(self.layout)}: cannot parse "
                     f"{json.dumps(self.rest)} as {json.dumps(element)}")

    def out_of_range(self, what: str) -> _Fail:
        return _Fail(f"parsing time {json.dumps(self.value)}: {what} out of range")

    def literal(self, text: str) -> None:
        if not self.rest.startswith(text):
            raise self.fail(text)
        self.rest = self.rest[len(text):]

    def number(self, element: str, width: int, fixed: bool = True) -> int:
        digits = self.rest[:width]
        if fixed and (len(digits) < width or not digits.isdigit()):
            raise self.fail(element)
        if not fixed:
            digits = digits[:2] if digits[:2].isdigit() else digits[:1]
            if not digits.isdigit():
                raise self.fail(element)
        self.rest = self.rest[len(digits):]
        return int(digits)

    def run(self) -> None:
        year = self.number("2006", 4)
        self.literal("-")
        month = self.number("01", 2)
        if not 1 <= month <= 12:
            raise self.out_of_range("month")
        self.literal("-")
        day = self.number("02", 2)
        self.literal("T")
        if not 0 <= self.number("15", 2, fixed=False) < 24:
            raise self.out_of_range("hour")
        self.literal(":")
        if not 0 <= self.number("04", 2) < 60:
            raise self.out_of_range("minute")
        self.literal(":")
        if not 0 <= self.number("05", 2) < 60:
            raise self.out_of_range("second")
        self.fraction()
        self.zone()
        if self.rest:
            raise _Fail(f"parsing time {json.dumps(self.value)}: extra text: {json.dumps(self.rest)}")
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            raise self.out_of_range("day")

    def fraction(self) -> None:
        if self.fraction_digits is None:  # RFC 3339: an optional fraction of any length
            if len(self.rest) >= 2 and self.rest[0] in ".," and self.rest[1].isdigit():
                self.rest = self.rest[1:]
                while self.rest[:1].isdigit():
                    self.rest = self.rest[1:]
            return
        element = "." + "0" * self.fraction_digits
        chunk = self.rest[:len(element)]
        if len(chunk) < len(element) or chunk[0] not in ".," or not chunk[1:].isdigit():
            raise self.fail(element)
        self.rest = self.rest[len(element):]

    def zone(self) -> None:
        if self.rest.startswith("Z"):
            self.rest = self.rest[1:]
            return
        chunk = self.rest[:6]
        if len(chunk) < 6 or chunk[3] != ":" or chunk[0] not in "+-" \
                or not chunk[1:3].isdigit() or not chunk[4:6].isdigit():
            raise self.fail("Z07:00")
        if int(chunk[1:3]) > 24:
            raise self.out_of_range("time zone offset hour")
        if int(chunk[4:6]) > 60:
            raise self.out_of_range("time zone offset minute")
        self.rest = self.rest[6:]
