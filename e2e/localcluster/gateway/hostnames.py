"""Gateway API hostname rules (pure): wildcard matching, listener/route intersection, precedence.

Guarantees:
1. `host_matches("*.example.com", h)` holds for any host with one or more labels before `.example.com`, never
   for `example.com` itself; an exact hostname matches only itself; both case-insensitively.
2. `intersect(listener_hostname, route_hostnames)` is the hostnames a route answers to on that listener: `()`
   for any host, None when they share none. The more specific of two matching hostnames is kept.
3. `host_score(hostnames, host)` orders the routes that answer a host as the spec says: more characters of a
   matching non-wildcard hostname first, then more characters of a matching hostname; None when none
   matches. `()` (any host) scores lowest.
"""

from __future__ import annotations

from collections.abc import Sequence


def host_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower(), host.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def _overlap(a: str, b: str) -> str | None:
    if a.startswith("*.") and b.startswith("*."):
        if b.lower().endswith(a[1:].lower()):
            return b
        if a.lower().endswith(b[1:].lower()):
            return a
        return None
    if a.startswith("*."):
        return b if host_matches(a, b) else None
    if b.startswith("*."):
        return a if host_matches(b, a) else None
    return a if a.lower() == b.lower() else None


def intersect(listener_hostname: str | None, route_hostnames: Sequence[str]) -> tuple[str, ...] | None:
    if not listener_hostname:
        return tuple(route_hostnames)
    if not route_hostnames:
        return (listener_hostname,)
    found = [h for h in (_overlap(listener_hostname, r) for r in route_hostnames) if h is not None]
    return tuple(dict.fromkeys(found)) or None


def host_score(hostnames: Sequence[str], host: str) -> tuple[int, int] | None:
    if not hostnames:
        return (0, 0)
    best: tuple[int, int] | None = None
    for pattern in hostnames:
        if host_matches(pattern, host):
            score = (0, len(pattern)) if pattern.startswith("*.") else (len(pattern), len(pattern))
            best = score if best is None or score > best else best
    return best
