"""The route table of one Gateway port and the choice of rule for a request (pure).

Guarantees:
1. `compile_port(gateway, port, routes, services, namespace_labels)` holds one `Entry` per match of every rule
   of every HTTPRoute attached (see attach.py) to an HTTP listener of that Gateway on `port`, with the
   route's hostnames on that listener and its backends resolved (see backends.py). A rule without matches
   has the default match, PathPrefix "/".
2. `select(entries, host, method, path, headers, query)` returns the entry the spec's precedence picks among
   those that match (None when none matches: a 404): the most specific matching hostname first, then an Exact
   path, the longest PathPrefix, a method match, the most header matches, the most query-param matches, the
   oldest route, the route first by "namespace/name", the first rule and match in list order.
3. PathPrefix matches whole path elements (`/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`;
   a trailing `/` in the prefix is ignored); Exact compares the whole path; header names are
   case-insensitive. RegularExpression matches (paths, headers, query params) use Python's `re.fullmatch`
   and rank after every Exact and PathPrefix path.
4. Entries of one rule share its `rule_id`, so a rule's weighted split is one sequence whichever match hit.

`headers` and `query` map lower-cased header names, and query parameter names, to their first value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .attach import GatewayKey, attach_route
from .backends import Resolved, ServiceKey, resolve_backend
from .hostnames import host_score

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Entry:
    rule_id: str  # "namespace/route#rule index"
    hostnames: tuple[str, ...]  # () = any host
    path_type: str
    path: str
    method: str | None
    headers: tuple[tuple[str, str, str], ...]  # (lower-cased name, type, value)
    query: tuple[tuple[str, str, str], ...]
    backends: tuple[Resolved, ...]
    order: tuple[Any, ...]  # static precedence, smaller first


def compile_port(gateway: Obj, port: int, routes: Iterable[Obj], services: Mapping[ServiceKey, Obj],
                 namespace_labels: Mapping[str, Mapping[str, str]]) -> tuple[Entry, ...]:
    gmeta = gateway.get("metadata") or {}
    key: GatewayKey = (str(gmeta.get("namespace")), str(gmeta.get("name")))
    on_port = {str(ls.get("name")) for ls in (gateway.get("spec") or {}).get("listeners") or []
               if ls.get("port") == port}
    entries: list[Entry] = []
    for route in routes:
        rmeta = route.get("metadata") or {}
        namespace, name = str(rmeta.get("namespace")), str(rmeta.get("name"))
        hostnames: list[tuple[str, ...]] = []
        for result in attach_route(route, {key: gateway}, namespace_labels):
            hostnames += [result.hostnames[ls] for ls in result.listeners if ls in on_port]
        if not hostnames:
            continue
        route_order = (str(rmeta.get("creationTimestamp") or ""), f"{namespace}/{name}")
        for r, rule in enumerate((route.get("spec") or {}).get("rules") or []):
            backends = tuple(resolve_backend(namespace, ref, services) for ref in rule.get("backendRefs") or [])
            for m, match in enumerate(rule.get("matches") or [{}]):
                for hosts in dict.fromkeys(hostnames):
                    entries.append(_entry(f"{namespace}/{name}#{r}", hosts, match, backends, (*route_order, r, m)))
    return tuple(sorted(entries, key=lambda e: e.order))


def _entry(rule_id: str, hosts: tuple[str, ...], match: Obj, backends: tuple[Resolved, ...],
           tiebreak: tuple[Any, ...]) -> Entry:
    path = match.get("path") or {}
    path_type, value = str(path.get("type") or "PathPrefix"), str(path.get("value") or "/")
    headers = tuple((str(h.get("name")).lower(), str(h.get("type") or "Exact"), str(h.get("value")))
                    for h in match.get("headers") or [])
    query = tuple((str(q.get("name")), str(q.get("type") or "Exact"), str(q.get("value")))
                  for q in match.get("queryParams") or [])
    method = match.get("method")
    rank = {"Exact": 0, "PathPrefix": 1}.get(path_type, 2)
    order = (rank, -len(value.rstrip("/")) if rank == 1 else 0, method is None, -len(headers), -len(query),
             *tiebreak)
    return Entry(rule_id, hosts, path_type, value, method, headers, query, backends, order)


def select(entries: Sequence[Entry], host: str, method: str, path: str, headers: Mapping[str, str],
           query: Mapping[str, str]) -> Entry | None:
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    best: Entry | None = None
    best_score: tuple[int, int] | None = None
    for entry in entries:  # sorted by static precedence: the first at the best host score wins
        score = host_score(entry.hostnames, host)
        if score is None or (best_score is not None and score <= best_score):
            continue
        if matches(entry, method, path, headers, query):
            best, best_score = entry, score
    return best


def matches(entry: Entry, method: str, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    if not _path_matches(entry.path_type, entry.path, path):
        return False
    if entry.method is not None and entry.method != method:
        return False
    for name, kind, value in entry.headers:
        if not _value_matches(kind, value, headers.get(name)):
            return False
    return all(_value_matches(kind, value, query.get(name)) for name, kind, value in entry.query)


def _path_matches(kind: str, value: str, path: str) -> bool:
    if kind == "Exact":
        return path == value
    if kind == "PathPrefix":
        prefix = value.rstrip("/")
        return path == prefix or path.startswith(prefix + "/") or not prefix
    return re.fullmatch(value, path) is not None


def _value_matches(kind: str, value: str, got: str | None) -> bool:
    if got is None:
        return False
    return got == value if kind == "Exact" else re.fullmatch(value, got) is not None
