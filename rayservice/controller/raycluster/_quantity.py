"""Kubernetes resource quantities (``500m``, ``2``, ``1.5``, ``4Gi``, ``1e3``) read as exact decimals.

Guarantees:
1. ``parse_quantity`` accepts exactly the Kubernetes quantity grammar (a signed decimal, then a binary-SI
   suffix ``Ki``..``Ei``, a decimal-SI suffix ``n u m k M G T P E`` or an exponent ``e3``/``E3``) and also
   JSON numbers (YAML ``cpu: 2`` arrives as an int); anything else, booleans included, raises ``ValueError``.
2. ``whole_cpus`` rounds a CPU quantity up to whole CPUs, as KubeRay does for ``--num-cpus``: ``500m`` -> 1,
   ``1500m`` -> 2, ``2`` -> 2; a zero or negative quantity gives ``None`` (Ray then detects the CPUs itself).

Pure.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Final

_QUANTITY: Final = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exponent>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)
_BINARY: Final = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL: Final = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: object) -> Decimal:
    """The exact value of a Kubernetes quantity (guarantee 1)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a quantity")
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a quantity")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{value!r} is not a quantity") from exc
    if match["exponent"]:
        return number.scaleb(int(match["exponent"][1:]))
    suffix = match["suffix"]
    if suffix in _BINARY:
        return number * Decimal(1024) ** _BINARY[suffix]
    if suffix:
        return number.scaleb(_DECIMAL[suffix])
    return number


def whole_cpus(value: object) -> int | None:
    """CPUs for ``ray start --num-cpus``: the quantity rounded up, or ``None`` when it is not positive."""
    amount = parse_quantity(value)
    if amount <= 0:
        return None
    return int(amount.to_integral_value(rounding=ROUND_CEILING))
