"""kube-apiserver's 403 answer for a denied request (responsewriters.ForbiddenStatusError).

Guarantees:
1. The message is `<resource>[.<group>] ["<name>"] is forbidden: User "<u>" cannot <verb> resource
   "<resource>[/<subresource>]" in API group "<group>" in the namespace "<ns>"` (or `at the cluster scope`), and
   `forbidden: User "<u>" cannot <verb> path "<path>"` for a non-resource request; a non-empty authorizer reason
   follows after `: `. `&`, `<` and `>` are escaped as kube does.
2. The Status has reason Forbidden, code 403 and details {name, group, kind=resource} with empty fields left out.
"""

from __future__ import annotations

from typing import Any

from e2e.localcluster.apiserver.errors import ApiError

from .attributes import RequestAttributes

_SANITIZE = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))


def forbidden_message(attrs: RequestAttributes) -> str:
    user = attrs.user.name
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    head = f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}"'
    if attrs.namespace:
        return f'{head} in the namespace "{attrs.namespace}"'
    return f"{head} at the cluster scope"


def new_forbidden(group: str, resource: str, name: str, err: str) -> ApiError:
    """apierrors.NewForbidden: the qualified resource, the name if any, then the cause."""
    if not group and not resource:
        message = f"forbidden: {err}"
    else:
        qualified = f"{resource}.{group}" if group else resource
        message = f'{qualified} "{name}" is forbidden: {err}' if name else f"{qualified} is forbidden: {err}"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return ApiError(403, "Forbidden", message, details)


def forbidden(attrs: RequestAttributes, reason: str = "") -> ApiError:
    msg = forbidden_message(attrs)
    for raw, escaped in _SANITIZE:
        msg = msg.replace(raw, escaped)
    err = f"{msg}: {reason}" if reason else msg
    return new_forbidden(attrs.api_group, attrs.resource, attrs.name, err)
