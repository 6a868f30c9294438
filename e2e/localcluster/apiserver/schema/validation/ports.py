"""Port numbers and port names as k8s.io/apimachinery's validation words them.

Guarantees: `port_num_errors(n)` is empty exactly for 1..65535 (`must be between 1 and 65535, inclusive`);
`port_name_errors(s)` applies IsValidPortName (at most 15 characters, `[-a-z0-9]`, at least one letter, no `--`,
no leading or trailing `-`), in kube's order.
Pure and synchronous.
"""

from __future__ import annotations

import re

__all__ = ["port_name_errors", "port_num_errors"]

_CHARSET = re.compile(r"^[-a-z0-9]+$")
_LETTER = re.compile(r"[a-z]")


def port_num_errors(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


def port_name_errors(name: str) -> list[str]:
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not _CHARSET.match(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _LETTER.search(name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs
