"""The ``ray start`` command line of a Ray container, built from a group's ``rayStartParams``.

Guarantees:
1. The command is ``ray start``, ``--head`` for the head, one flag per parameter in name order, then
   ``--block`` last: always, whatever the parameters say, because the container must not exit once Ray is up.
   The parameter names ``head`` and ``block`` are therefore ignored.
2. The head gets ``--port=6379`` and ``--dashboard-host=0.0.0.0``, a worker gets ``--address=<head>``, and
   both get ``--num-cpus`` from the container's CPUs, each only when the parameters do not set it.
3. A value ``true`` (any case) is a bare flag and ``false`` leaves the flag out, as in KubeRay, except for
   ``log-color`` and ``include-dashboard`` whose ``true``/``false`` are values.
4. Any other value is quoted for bash so Ray receives it as one argument, exactly as written, except that
   ``$NAME`` and ``${NAME}`` are expanded by the shell. Kubernetes ``$(NAME)`` references stay in the text
   for the kubelet to expand before the shell runs.
5. A value wrapped in one layer of shell quotes, as KubeRay manifests write JSON
   (``'"{\\"CPU\\": 1}"'``), loses that layer first, as KubeRay's unquoted command line made bash do; inside
   single quotes ``$`` stays literal, as in bash.
6. A parameter name that is not a valid flag name (see ``is_valid_flag_name``) is quoted whole, so no
   parameter can inject shell syntax; validation reports it.

Pure.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Final

DEFAULT_GCS_PORT: Final = 6379
_FLAG_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SHELL_VARIABLE: Final = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")
_FORCED: Final = frozenset({"head", "block"})
_BOOLEAN_VALUED: Final = frozenset({"log-color", "include-dashboard"})


def is_valid_flag_name(key: str) -> bool:
    """A ``ray start`` option name: a letter or digit, then letters, digits, ``-`` or ``_``."""
    return bool(_FLAG_NAME.match(key))


def param_text(value: object) -> str:
    """A parameter value as text; non-strings (which validation reports) are rendered as YAML would."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def complete_params(
    raw: Mapping[str, object] | None,
    *,
    head: bool,
    address: str | None,
    num_cpus: int | None,
) -> dict[str, str]:
    """The parameters with our defaults filled in (guarantee 2), ``head`` and ``block`` dropped."""
    params = {str(key): param_text(value) for key, value in (raw or {}).items() if str(key) not in _FORCED}
    if head:
        params.setdefault("port", str(DEFAULT_GCS_PORT))
        params.setdefault("dashboard-host", "0.0.0.0")
    elif address is not None:
        params.setdefault("address", address)
    if num_cpus is not None:
        params.setdefault("num-cpus", str(num_cpus))
    return params


def ray_start_command(params: Mapping[str, str], *, head: bool) -> str:
    """``ray start [--head] --key=value ... --block`` (guarantees 1, 3, 4, 6)."""
    words = ["ray", "start"]
    if head:
        words.append("--head")
    for key in sorted(params):
        if key in _FORCED:
            continue
        flag = f"--{key}" if is_valid_flag_name(key) else shlex.quote(f"--{key}")
        value = params[key]
        if value.lower() in ("true", "false") and key not in _BOOLEAN_VALUED:
            if value.lower() == "true":
                words.append(flag)
            continue
        words.append(f"{flag}={shell_value(value)}")
    words.append("--block")
    return " ".join(words)


def shell_value(value: str) -> str:
    """``value`` quoted for bash, keeping ``$NAME`` references expandable (guarantees 4 and 5)."""
    text, expandable = _unquote_once(value)
    if not expandable:
        return shlex.quote(text)
    pieces: list[str] = []
    position = 0
    for match in _SHELL_VARIABLE.finditer(text):
        if match.start() > position:
            pieces.append(shlex.quote(text[position : match.start()]))
        # Double quotes: expanded, but never split into words or globbed.
        pieces.append(f'"{match.group(0)}"')
        position = match.end()
    if position < len(text) or not pieces:
        pieces.append(shlex.quote(text[position:]))
    return "".join(pieces)


def param_port(params: Mapping[str, object], key: str, default: int) -> int:
    """The port a parameter sets (``dashboard-port``, ...), or ``default`` when unset or not a number."""
    value = params.get(key)
    text = "" if value is None else param_text(value)
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return default


def _unquote_once(value: str) -> tuple[str, bool]:
    """``value`` without one layer of enclosing shell quotes, and whether ``$NAME`` still expands."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        try:
            words = shlex.split(value)
        except ValueError:
            return value, True
        if len(words) == 1:
            return words[0], value[0] == '"'
    return value, True
