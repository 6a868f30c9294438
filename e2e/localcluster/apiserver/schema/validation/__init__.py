"""What a real kube-apiserver rejects before it stores an object, with its codes and wording.

Modules, one rule each: `typemeta` (the body's apiVersion/kind against the URL), `patchbody` (patch media
types and bodies), `kinds` (which kind gets which checks) over `lease`, `service`, `event`, `keys`
(ConfigMap/Secret), `pod`; and Go's wording helpers `gojson`, `gotime`, `gotypes`, `ports`.
Everything here is pure and synchronous, and imports nothing from the HTTP or storage layers.
"""

from e2e.localcluster.apiserver.schema.validation.kinds import check_decodable, decode_problem, validate_kind
from e2e.localcluster.apiserver.schema.validation.patchbody import (
    check_patch_type,
    decode_patch_body,
    unsupported_body_type,
)
from e2e.localcluster.apiserver.schema.validation.typemeta import check_type_meta

__all__ = [
    "check_decodable",
    "check_patch_type",
    "check_type_meta",
    "decode_patch_body",
    "decode_problem",
    "unsupported_body_type",
    "validate_kind",
]
