"""A steady-rate HTTP load generator that accounts for every request it sends.

Guarantees:
1. Request i is scheduled at `start + i / rate_per_s` (an open loop: a slow answer never delays the next
   request; enough workers that `rate_per_s * timeout_s` requests can wait at once); each runs on its own new
   TCP connection (`Connection: close`, like curl), so an endpoint change reaches the very next request, as it
   reaches a real client through a Service.
2. Every scheduled request ends in exactly one `Outcome`: `ok` (HTTP 200), `http_<code>`, or `error:<kind>`
   (refused, reset, timeout, ...), with the answer body, its send time and its latency. `stop()` waits for the
   requests in flight, so `sent == len(outcomes)` afterwards.
3. `report()` counts them: `failed` is every outcome that is not an HTTP 200 with an accepted body.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    sent_s: float  # monotonic: when it was due (the schedule)
    kind: str  # ok | http_<code> | error:<exception>
    body: str
    latency_s: float  # from due to answered: a request that waited for a free worker counts its wait


@dataclass(frozen=True)
class LoadReport:
    sent: int
    ok: int
    failed: int
    duration_s: float
    rate_per_s: float
    kinds: dict[str, int]
    answers: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    failures: list[Outcome]

    def summary(self) -> str:
        return (f"{self.sent} requests in {self.duration_s:.1f} s ({self.rate_per_s:.1f}/s): {self.ok} ok, "
                f"{self.failed} failed {dict(self.kinds)}; answers {dict(self.answers)}; latency p50 "
                f"{self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, max {self.max_ms:.0f} ms")


class Load:
    def __init__(self, host: str, port: int, body: str, *, path: str = "/", rate_per_s: float = 50.0,
                 accept: Iterable[str] = (), timeout_s: float = 10.0, workers: int = 256) -> None:
        self.host, self.port, self.path, self.body = host, port, path, body.encode()
        self.rate_per_s = rate_per_s
        self.accept = set(accept)
        self.timeout_s = timeout_s
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load")
        self._stop = threading.Event()
        self._scheduler = threading.Thread(target=self._schedule, name="load-scheduler", daemon=True)
        self._sent = 0
        self._started_s = 0.0
        self._stopped_s = 0.0

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._started_s = time.monotonic()
        self._scheduler.start()

    def stop(self) -> LoadReport:
        if not self._stop.is_set():
            self._stop.set()
            self._scheduler.join()
            self._stopped_s = time.monotonic()
            self._pool.shutdown(wait=True)
        return self.report()

    @property
    def sent(self) -> int:
        return self._sent

    def since(self, t0: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.sent_s >= t0]

    def _schedule(self) -> None:
        i = 0
        while not self._stop.is_set():
            due = self._started_s + i / self.rate_per_s
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            self._pool.submit(self._one, time.monotonic())
            self._sent += 1
            i += 1

    def _one(self, sent_s: float) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request("POST", self.path, body=self.body,
                         headers={"Content-Type": "application/json", "Connection": "close"})
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace").strip()
            kind = "ok" if resp.status == 200 else f"http_{resp.status}"
        except (OSError, http.client.HTTPException) as exc:
            body, kind = str(exc)[:200], f"error:{type(exc).__name__}"
        finally:
            conn.close()
        outcome = Outcome(sent_s, kind, body, time.monotonic() - sent_s)
        with self._lock:
            self.outcomes.append(outcome)

    def is_failure(self, o: Outcome) -> bool:
        return o.kind != "ok" or (bool(self.accept) and o.body not in self.accept)

    def report(self, outcomes: list[Outcome] | None = None) -> LoadReport:
        with self._lock:
            chosen = list(self.outcomes if outcomes is None else outcomes)
        end = self._stopped_s or time.monotonic()
        duration = max(end - self._started_s, 1e-9) if outcomes is None else max(
            (max(o.sent_s for o in chosen) - min(o.sent_s for o in chosen)) if chosen else 0.0, 1e-9)
        failures = [o for o in chosen if self.is_failure(o)]
        latencies = sorted(o.latency_s * 1000 for o in chosen) or [0.0]
        kinds = Counter(o.kind if o.kind != "ok" or not self.is_failure(o) else "unexpected_answer" for o in chosen)
        answers = Counter(o.body for o in chosen if o.kind == "ok")
        return LoadReport(
            sent=len(chosen), ok=len(chosen) - len(failures), failed=len(failures), duration_s=duration,
            rate_per_s=len(chosen) / duration, kinds=dict(kinds), answers=dict(answers.most_common(5)),
            p50_ms=latencies[len(latencies) // 2], p99_ms=latencies[min(len(latencies) - 1,
                                                                       int(len(latencies) * 0.99))],
            max_ms=latencies[-1], failures=failures[:20])


def timeline(outcomes: list[Outcome], t0: float, bucket_s: float = 5.0) -> str:
    """Per `bucket_s` from `t0`: requests, failures and the slowest answer, e.g. `0-5s 100/3f/812ms`."""
    buckets: dict[int, list[Outcome]] = {}
    for o in outcomes:
        buckets.setdefault(int((o.sent_s - t0) // bucket_s), []).append(o)
    parts = []
    for b in sorted(buckets):
        items = buckets[b]
        failed = sum(1 for o in items if o.kind != "ok")
        slowest = max(o.latency_s for o in items) * 1000
        parts.append(f"{b * bucket_s:.0f}-{(b + 1) * bucket_s:.0f}s {len(items)}/{failed}f/{slowest:.0f}ms")
    return " ".join(parts)


def first_time(outcomes: list[Outcome], predicate: Callable[[Outcome], bool]) -> float | None:
    """The send time of the first outcome matching `predicate`."""
    return next((o.sent_s for o in sorted(outcomes, key=lambda o: o.sent_s) if predicate(o)), None)
