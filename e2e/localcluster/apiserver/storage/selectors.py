"""Label selectors for list and watch, parsed and matched the way kube-apiserver does.

Guarantees:
1. `parse_label_selector` accepts the grammar of k8s.io/apimachinery/pkg/labels: `k=v`, `k==v`, `k!=v`,
   `k in (a,b)`, `k notin (a,b)`, `k`, `!k` and `k>n`/`k<n` (integers), joined by commas, with spaces, tabs
   and newlines allowed between tokens.
2. A malformed label selector raises a 400 BadRequest carrying apimachinery's message, e.g.
   `unable to parse requirement: found '', expected: ',' or ')'` for `app in (web`.
3. `str()` of a selector is its canonical form (label requirements sorted by key, set values sorted and
   unique) and parses back to an equal selector.
4. An empty selector matches everything; labels given as None are no labels.
5. `notin`, `!=` and `!k` match objects without the key; `in`, `=`, `==`, `k`, `>` and `<` need it.
6. Field selectors (`parse_field_selector`, `FieldSelector`) are not here: they live in `fieldselectors.py`,
   which does not import this module.

Pure: no I/O, no shared state; any task may call anything here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, assert_never

from e2e.localcluster.apiserver import errors

__all__ = ["LabelSelector", "Operator", "Requirement", "label_selector_from_dict", "label_selector_from_map",
           "parse_label_selector"]


class Operator(StrEnum):
    """Label requirement operators, spelled as apimachinery's `selection.Operator`."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_INT64 = re.compile(r"[+-]?[0-9]+")


def _as_int64(text: str) -> int | None:
    value = int(text) if _INT64.fullmatch(text) else None
    return value if value is not None and -(2**63) <= value < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One label condition. `values` is sorted and unique; empty for exists and does-not-exist."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        match self.operator:
            case Operator.EQUALS | Operator.DOUBLE_EQUALS | Operator.IN:
                return has and labels[self.key] in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return not has or labels[self.key] not in self.values
            case Operator.EXISTS:
                return has
            case Operator.DOES_NOT_EXIST:
                return not has
            case Operator.GREATER_THAN | Operator.LESS_THAN:
                actual = _as_int64(labels[self.key]) if has else None
                bound = _as_int64(self.values[0]) if len(self.values) == 1 else None
                if actual is None or bound is None:
                    return False
                return actual > bound if self.operator is Operator.GREATER_THAN else actual < bound
            case _:
                assert_never(self.operator)

    def __str__(self) -> str:
        return _FORMATS[self.operator].format(k=self.key, v=",".join(self.values))


_FORMATS = {Operator.EXISTS: "{k}", Operator.DOES_NOT_EXIST: "!{k}", Operator.IN: "{k} in ({v})",
            Operator.NOT_IN: "{k} notin ({v})", Operator.GREATER_THAN: "{k}>{v}", Operator.LESS_THAN: "{k}<{v}",
            Operator.EQUALS: "{k}={v}", Operator.DOUBLE_EQUALS: "{k}=={v}", Operator.NOT_EQUALS: "{k}!={v}"}


@dataclass(frozen=True)
class LabelSelector:
    """All requirements must hold. `selects_nothing` is a nil metav1.LabelSelector, which matches no object."""

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.requirements and not self.selects_nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.selects_nothing:
            return False
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


# ---- validation messages (k8s.io/apimachinery/pkg/util/validation) -----------------------------------

_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_RE = re.compile(_NAME_FMT)
_VALUE_FMT = f"({_NAME_FMT})?"
_VALUE_RE = re.compile(_VALUE_FMT)
_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = rf"{_DNS_LABEL}(\.{_DNS_LABEL})*"
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character")


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _qualified_name_problems(key: str) -> list[str]:
    parts = key.split("/")
    problems: list[str] = []
    if len(parts) > 2:
        return ["a qualified name " + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                problems.append("prefix part must be no more than 253 characters")
            if not _SUBDOMAIN_RE.fullmatch(prefix):
                problems.append("prefix part " + _regex_error(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                    "'.', and must start and end with an alphanumeric character", _SUBDOMAIN_FMT, "example.com"))
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    if not _NAME_RE.fullmatch(name):
        problems.append("name part " + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc"))
    return problems


def _label_value_problems(value: str) -> list[str]:
    problems = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _VALUE_RE.fullmatch(value):
        problems.append(_regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character", _VALUE_FMT, "MyValue", "my_value", "12345"))
    return problems


def _invalid(field: str, value: Any, detail: str) -> str:
    return f"{field}: Invalid value: {json.dumps(value, ensure_ascii=False)}: {detail}"


def _aggregate(messages: list[str]) -> str:
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class _SelectorError(Exception):
    """A selector problem worded as apimachinery words it; becomes a 400 at the public boundary."""


def _new_requirement(key: str, op: Operator, values: Sequence[str], key_field: str = "key") -> Requirement:
    problems = [_invalid(key_field, key, "; ".join(p))] if (p := _qualified_name_problems(key)) else []
    if op in (Operator.IN, Operator.NOT_IN) and not values:
        problems.append(_invalid("values", [], "for 'in', 'notin' operators, values set can't be empty"))
    elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(values) != 1:
        problems.append(_invalid("values", list(values), "exact-match compatibility requires one single value"))
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        problems.append(_invalid("values", list(values), "values set must be empty for exists and does not exist"))
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(values) != 1:
            problems.append(_invalid("values", list(values), "for 'Gt', 'Lt' operators, exactly one value is required"))
        problems += [_invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                     for i, v in enumerate(values) if _as_int64(v) is None]
    for i, v in enumerate(values):
        if p := _label_value_problems(v):
            problems.append(_invalid(f"values[{i}][{key}]", v, "; ".join(p)))
    if problems:
        raise _SelectorError(_aggregate(problems))
    return Requirement(key, op, tuple(sorted(set(values))))


# ---- the label selector lexer and parser (grammar of apimachinery's labels.Parse) -------------------


# Token kinds are the symbols and keywords themselves, plus _WORD for keys and values and _END.
_END, _WORD = "end of string", "identifier"
_SYMBOLS = frozenset({"(", ")", ",", "!", "=", "==", "!=", ">", "<"})
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")
_BINARY = {"in": Operator.IN, "notin": Operator.NOT_IN, "=": Operator.EQUALS, "==": Operator.DOUBLE_EQUALS,
           "!=": Operator.NOT_EQUALS, ">": Operator.GREATER_THAN, "<": Operator.LESS_THAN}
_BINARY_NAMES = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        if pos == len(text):
            return [*tokens, (_END, "")]
        end = pos + 1
        if text[pos] in _SPECIAL:  # the longest run that still spells a symbol: "!=", but "=" "!" for "=!"
            while end < len(text) and text[pos:end + 1] in _SYMBOLS:
                end += 1
            tokens.append((text[pos:end], text[pos:end]))
        else:
            while end < len(text) and text[end] not in _SPECIAL and text[end] not in _SPACE:
                end += 1
            word = text[pos:end]
            tokens.append((word if word in ("in", "notin") else _WORD, word))
        pos = end


class _Parser:
    """Recursive descent over the tokens, wording each error as apimachinery's parser does."""

    def __init__(self, text: str) -> None:
        self._tokens = _lex(text)
        self._pos = 0

    def _peek(self, keywords: bool = False) -> tuple[str, str]:
        kind, literal = self._tokens[self._pos]
        # "in" and "notin" are plain words wherever a key or a value may stand
        return (_WORD, literal) if kind in ("in", "notin") and not keywords else (kind, literal)

    def _take(self, keywords: bool = False) -> tuple[str, str]:
        token = self._peek(keywords)
        self._pos += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            kind, literal = self._peek()
            if kind == _END:
                return requirements
            if kind not in (_WORD, "!"):
                raise _SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except _SelectorError as exc:
                raise _SelectorError(f"unable to parse requirement: {exc}") from None
            kind, literal = self._take()
            if kind == _END:
                return requirements
            if kind != ",":
                raise _SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self._peek()
            if kind not in (_WORD, "!"):
                raise _SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        kind, key = self._take()
        negated = kind == "!"
        if negated:
            kind, key = self._take()
        if kind != _WORD:
            raise _SelectorError(f"found '{key}', expected: identifier")
        if problems := _qualified_name_problems(key):
            raise _SelectorError(_invalid("<nil>", key, "; ".join(problems)))
        if negated:
            return _new_requirement(key, Operator.DOES_NOT_EXIST, [])
        if self._peek()[0] in (_END, ","):
            return _new_requirement(key, Operator.EXISTS, [])
        kind, literal = self._take(keywords=True)
        if kind not in _BINARY:
            raise _SelectorError(f"found '{literal}', expected: {_BINARY_NAMES}")
        op = _BINARY[kind]
        values = self._set_values() if op in (Operator.IN, Operator.NOT_IN) else self._exact_value()
        return _new_requirement(key, op, sorted(values))

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_END, ","):
            return {""}
        kind, literal = self._take()
        if kind != _WORD:
            raise _SelectorError(f"found '{literal}', expected: identifier")
        return {literal}

    def _set_values(self) -> set[str]:
        kind, literal = self._take()
        if kind != "(":
            raise _SelectorError(f"found '{literal}' expected: '('")
        kind, literal = self._peek()
        if kind == ")":
            self._take()
            return {""}
        if kind not in (_WORD, ","):
            raise _SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:
            kind, literal = self._take()
            following, text = self._peek()
            if kind == _WORD:
                values.add(literal)
                if following not in (",", ")"):
                    raise _SelectorError(f"found '{text}', expected: ',' or ')'")
            elif kind == ",":  # an empty value stands before, between or after commas
                values.update([""] if not values or following in (",", ")") else [])
                if following == ",":
                    self._take()
            else:
                raise _SelectorError(f"found '{literal}', expected: ',', or identifier")
            if following == ")":
                self._take()
                return values


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a `labelSelector` query value; "" selects everything."""
    try:
        requirements = _Parser(text).parse()
    except _SelectorError as exc:
        raise errors.bad_request(str(exc)) from None
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


def label_selector_from_map(labels: Mapping[str, str] | None) -> LabelSelector:
    """`k=v` for every entry, unvalidated, as a Service's spec.selector; None and {} select everything."""
    return LabelSelector(tuple(Requirement(k, Operator.EQUALS, (v,)) for k, v in sorted((labels or {}).items())))


_EXPRESSION_OPERATORS = {"In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
                         "DoesNotExist": Operator.DOES_NOT_EXIST}


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector: None selects nothing, {} selects everything; a bad one is a 400."""
    if selector is None:
        return LabelSelector(selects_nothing=True)
    try:
        match_labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
        if not isinstance(match_labels, Mapping) or not isinstance(expressions, list) or not all(
                isinstance(e, Mapping) for e in expressions):
            raise _SelectorError("invalid label selector: matchLabels must be a map, matchExpressions a list")
        requirements = [_new_requirement(str(k), Operator.EQUALS, [str(v)]) for k, v in match_labels.items()]
        for expression in expressions:
            name = expression.get("operator", "")
            if name not in _EXPRESSION_OPERATORS:
                raise _SelectorError(f"{json.dumps(name)} is not a valid label selector operator")
            values = [str(v) for v in expression.get("values") or []]
            requirements.append(_new_requirement(str(expression.get("key", "")), _EXPRESSION_OPERATORS[name],
                                                 values))
    except _SelectorError as exc:
        raise errors.bad_request(str(exc)) from None
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))
