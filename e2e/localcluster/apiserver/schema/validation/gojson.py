"""Go's `encoding/json` wording for bodies it cannot read, so a 400 says what kube-apiserver says.

Guarantees:
1. `syntax_error(raw)` is None exactly when `raw` is one JSON value (surrounded by optional white space);
   otherwise it is the message Go's scanner gives, e.g. `unexpected end of JSON input` for an empty or cut-off
   body, `invalid character 'x' looking for beginning of value`, `invalid character '}' after object key`.
2. `quote_char` renders a byte as Go's scanner does (`'x'`, `'\\''`, `'"'`, `'\\n'`).
3. `summarize(raw)` is kube's 30-byte body summary (`<empty>`, or the first 30 bytes and ` ...`).
4. `type_name(value)` names a decoded JSON value as Go's UnmarshalTypeError does (`string`, `number`,
   `object`, `array`, `bool`).

Not guaranteed: invalid UTF-8 is not reported (Go replaces it silently too, inside strings).
Pure and synchronous: any task may call anything here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["quote_char", "summarize", "syntax_error", "type_name"]

_SPACE = b" \t\r\n"
_END = "unexpected end of JSON input"


class _Bad(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def quote_char(c: int) -> str:
    """A byte as Go's scanner quotes it in `invalid character ...` messages."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    text = json.dumps(chr(c))[1:-1] if c < 0x80 else chr(c)
    return "'" + text + "'"


def summarize(raw: bytes, max_length: int = 30) -> str:
    """kube's summarizeData: what a decode error quotes of the body."""
    if not raw:
        return "<empty>"
    text = raw.decode("utf-8", "replace")
    return text[:max_length] + " ..." if len(raw) > max_length else text


def type_name(value: Any) -> str:
    """The JSON type of a decoded value, as Go's `json: cannot unmarshal <type> into ...` names it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


def syntax_error(raw: bytes) -> str | None:
    """Go's error for a body that is not one JSON value, or None when it is one."""
    scanner = _Scanner(raw)
    try:
        scanner.space()
        scanner.value()
        scanner.space()
        if scanner.i < len(raw):
            raise _Bad(f"invalid character {quote_char(raw[scanner.i])} after top-level value")
    except _Bad as bad:
        return bad.message
    return None


class _Scanner:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.i = raw, 0

    def peek(self) -> int:
        if self.i >= len(self.raw):
            raise _Bad(_END)
        return self.raw[self.i]

    def space(self) -> None:
        while self.i < len(self.raw) and self.raw[self.i] in _SPACE:
            self.i += 1

    def bad(self, context: str) -> _Bad:
        return _Bad(f"invalid character {quote_char(self.peek())} {context}")

    def value(self) -> None:
        c = self.peek()
        if c == ord("{"):
            self.obj()
        elif c == ord("["):
            self.array()
        elif c == ord('"'):
            self.string()
        elif c == ord("-") or ord("0") <= c <= ord("9"):
            self.number()
        elif c in b"tfn":
            self.literal({ord("t"): "true", ord("f"): "false", ord("n"): "null"}[c])
        else:
            raise self.bad("looking for beginning of value")

    def obj(self) -> None:
        self.i += 1
        self.space()
        if self.peek() == ord("}"):
            self.i += 1
            return
        while True:
            if self.peek() != ord('"'):
                raise self.bad("looking for beginning of object key string")
            self.string()
            self.space()
            if self.peek() != ord(":"):
                raise self.bad("after object key")
            self.i += 1
            self.space()
            self.value()
            self.space()
            c = self.peek()
            if c == ord("}"):
                self.i += 1
                return
            if c != ord(","):
                raise self.bad("after object key:value pair")
            self.i += 1
            self.space()

    def array(self) -> None:
        self.i += 1
        self.space()
        if self.peek() == ord("]"):
            self.i += 1
            return
        while True:
            self.value()
            self.space()
            c = self.peek()
            if c == ord("]"):
                self.i += 1
                return
            if c != ord(","):
                raise self.bad("after array element")
            self.i += 1
            self.space()

    def string(self) -> None:
        self.i += 1
        while True:
            c = self.peek()
            if c == ord('"'):
                self.i += 1
                return
            if c < 0x20:
                raise self.bad("in string literal")
            self.i += 1
            if c == ord("\\"):
                e = self.peek()
                if e == ord("u"):
                    self.i += 1
                    for _ in range(4):
                        if self.peek() not in b"0123456789abcdefABCDEF":
                            raise self.bad("in \\u hexadecimal character escape")
                        self.i += 1
                elif e in b'"\\/bfnrt':
                    self.i += 1
                else:
                    raise self.bad("in string escape code")

    def digits(self) -> int:
        start = self.i
        while self.i < len(self.raw) and ord("0") <= self.raw[self.i] <= ord("9"):
            self.i += 1
        return self.i - start

    def number(self) -> None:
        if self.peek() == ord("-"):
            self.i += 1
            if not ord("0") <= self.peek() <= ord("9"):
                raise self.bad("in numeric literal")
        if self.peek() == ord("0"):
            self.i += 1
        else:
            self.digits()
        if self.i < len(self.raw) and self.raw[self.i] == ord("."):
            self.i += 1
            if not ord("0") <= self.peek() <= ord("9"):
                raise self.bad("after decimal point in numeric literal")
            self.digits()
        if self.i < len(self.raw) and self.raw[self.i] in b"eE":
            self.i += 1
            if self.peek() in b"+-":
                self.i += 1
            if not ord("0") <= self.peek() <= ord("9"):
                raise self.bad("in exponent of numeric literal")
            self.digits()

    def literal(self, word: str) -> None:
        self.i += 1
        for expected in word[1:]:
            if self.peek() != ord(expected):
                raise self.bad(f"in literal {word} (expecting {quote_char(ord(expected))})")
            self.i += 1
