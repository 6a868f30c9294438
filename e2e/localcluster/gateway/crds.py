"""The vendored Gateway API CRDs (../gatewayapi, v1.4.1 standard channel) as objects, to install at start.

Guarantees:
1. `vendored_crds()` returns the GatewayClass, Gateway and HTTPRoute CustomResourceDefinitions exactly as the
   vendored files hold them, sorted by name, fresh copies on every call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CRD_DIR = Path(__file__).resolve().parent.parent / "gatewayapi"


def vendored_crds() -> list[dict[str, Any]]:
    crds = [yaml.safe_load(path.read_text()) for path in sorted(CRD_DIR.glob("*.yaml"))]
    return sorted(crds, key=lambda crd: str(crd["metadata"]["name"]))
