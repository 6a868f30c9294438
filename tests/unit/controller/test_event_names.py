"""Event names stay valid for objects whose own names use the whole 253-character limit."""

from __future__ import annotations

import re

from rayservice.controller.events import event_name

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_a_short_name_is_kept_whole() -> None:
    assert event_name("rs-1", 255) == "rs-1.00000000000000ff"


def test_a_name_at_the_limit_is_cut_to_a_valid_253_character_name() -> None:
    for name in ("a" * 253, "a" * 235 + "-b" * 9, "x." * 126 + "y"):
        out = event_name(name, 1)
        assert len(out) <= 253
        assert _SUBDOMAIN.match(out), out
        assert out.startswith(name[:200])
