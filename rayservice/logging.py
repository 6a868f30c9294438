"""structlog configuration: JSON lines for machines (the default), a colourless console format for humans.

Guarantees:
1. Nothing happens at import; ``configure_logging`` (called once, by ``rayservice.cli``) sets the process's
   logging, and calling it again replaces the previous configuration.
2. Every line carries ``timestamp`` (ISO 8601, UTC), ``level``, ``logger`` and ``event``, plus every
   structlog contextvar bound at the time: a reconcile's lines carry ``controller``, ``key`` and
   ``reconcile_id`` (bound by ``rayservice.controller``'s worker).
3. ``json``: exactly one JSON object per line; an exception becomes an ``exception`` string field.
4. The standard library's loggers (aiohttp, the kubernetes client) go through the same renderer and level.
5. Lines below ``level`` are dropped before any formatting work.
"""

from __future__ import annotations

import logging
import sys
from typing import Final, Literal, TextIO

import structlog
from structlog.typing import Processor

LogFormat = Literal["json", "console"]

LEVELS: Final = ("debug", "info", "warning", "error")
FORMATS: Final = ("json", "console")


class _RayserviceHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so reconfiguring replaces it rather than adding one."""


def configure_logging(log_format: LogFormat = "json", level: str = "info", *, stream: TextIO | None = None) -> None:
    """Send structlog and standard-library logs at ``level`` or above to ``stream`` (stderr by default)."""
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; expected one of {', '.join(FORMATS)}")
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: list[Processor]
    if log_format == "json":
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=False)]
    handler = _RayserviceHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _RayserviceHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
