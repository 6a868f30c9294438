"""Tests of the Ray-agnostic controller runtime (rayservice.runtime)."""
