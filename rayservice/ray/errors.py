"""The errors a Ray dashboard call may raise.

```
DashboardError                 anything that went wrong talking to a Ray dashboard
├── DashboardUnavailable       no usable answer: connection refused or reset, name not resolved, timeout,
│                              a body cut off
└── DashboardRejected(status, body)   an answer, but not a success: 4xx or 5xx, a redirect, or a success
                               whose body is not the JSON the API promises
```

Guarantees:
1. ``DashboardRejected`` keeps the HTTP ``status`` and the whole response ``body`` (decoded leniently), so a
   400's pydantic message can go into an event; its ``str()`` shows at most the first 500 characters.
2. No message carries a request header: the dashboard token never appears in an error or a log line.
3. This module imports no HTTP library: callers above ``rayservice.ray`` catch these classes only, and
   ``rayservice.ray.dashboard`` raises them ``from`` the library's exception.
"""

from __future__ import annotations

from typing import Final

_SHOWN_BODY: Final = 500


class DashboardError(Exception):
    """Base class of every error raised by a dashboard client."""


class DashboardUnavailable(DashboardError):
    """The dashboard gave no usable answer: connect failure, timeout, or a broken response."""


class DashboardRejected(DashboardError):
    """The dashboard answered, but not with a usable success."""

    def __init__(self, status: int, body: str, *, what: str = "") -> None:
        shown = body if len(body) <= _SHOWN_BODY else body[:_SHOWN_BODY] + "..."
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}HTTP {status}: {shown}" if shown else f"{prefix}HTTP {status}")
        self.status = status
        self.body = body
