"""The vendored Gateway API CRDs (../gatewayapi, v1.4.1 standard channel) as objects, to install at start.

Guarantees:
1. `vendored_crds()` returns the GatewayClass, Gateway and HTTPRoute CustomResourceDefinitions exactly as the
   vendored files hold them, sorted by name, fresh copies on every call.
2. The files (half a megabyte of YAML) are parsed once per process, with libyaml when PyYAML has it: every
   API server start installs them, and parsing them each time made a start 0.3 s instead of a few ms.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

CRD_DIR = Path(__file__).resolve().parent.parent / "gatewayapi"


def vendored_crds() -> list[dict[str, Any]]:
    return copy.deepcopy(_parsed())


@functools.cache
def _parsed() -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crds = [yaml.load(path.read_text(), Loader=loader) for path in sorted(CRD_DIR.glob("*.yaml"))]
    return sorted(crds, key=lambda crd: str(crd["metadata"]["name"]))
