"""What `kubectl logs` gets of a run's log: the times of its lines, --since, --tail, --limit-bytes, --timestamps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from e2e.localcluster.node import logtimes
from e2e.localcluster.node.logs import LogOptionsError, select, since_time

LOG = b"one\ntwo\nthree\nfour\n"
MARKS = [(0, 100.0), (8, 200.0), (14, 300.0)]  # "one two" seen at 100, "three" at 200, "four" at 300


def test_a_line_takes_the_time_of_the_last_growth_seen_at_or_before_its_first_byte() -> None:
    assert logtimes.line_times(LOG, MARKS) == [(b"one\n", 100.0), (b"two\n", 100.0), (b"three\n", 200.0),
                                               (b"four\n", 300.0)]
    assert logtimes.since_offset(LOG, MARKS, 150.0) == 8
    assert logtimes.since_offset(LOG, MARKS, 301.0) == len(LOG)


def test_bytes_past_the_last_growth_recorded_were_written_since_and_take_the_readers_now(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    logtimes.times_path(log).write_text("0 0 100.0\n0 8 150.0\n")
    assert logtimes.read_marks(log, 8, 999.0) == [(0, 100.0), (0, 150.0)]
    assert logtimes.read_marks(log, 20, 999.0) == [(0, 100.0), (0, 150.0), (8, 999.0)]
    assert logtimes.read_marks(tmp_path / "none.log", 4, 5.0) == [(0, 5.0)]


def test_timestamps_are_rfc3339_with_nanoseconds_in_utc() -> None:
    assert logtimes.format_time(0.5) == "1970-01-01T00:00:00.500000000Z"
    assert logtimes.stamp([(b"x\n", 86400.25)]) == b"1970-01-02T00:00:00.250000000Z x\n"


def test_since_then_tail_then_limit_bytes_in_that_order() -> None:
    assert select(LOG, MARKS, {"sinceSeconds": "150"}, "p", now=350.0) == b"three\nfour\n"
    assert select(LOG, MARKS, {"sinceTime": "1970-01-01T00:04:10Z"}, "p", now=0.0) == b"four\n"
    assert select(LOG, MARKS, {"sinceSeconds": "300", "tailLines": "1"}, "p", now=350.0) == b"four\n"
    assert select(LOG, MARKS, {"tailLines": "0"}, "p", now=0.0) == b""
    assert select(LOG, MARKS, {"limitBytes": "5"}, "p", now=0.0) == b"one\nt"
    assert select(LOG, MARKS, {"timestamps": "true", "tailLines": "1"}, "p", now=0.0) == (
        b"1970-01-01T00:05:00.000000000Z four\n")


@pytest.mark.parametrize(("query", "code", "message"), [
    ({"sinceSeconds": "0"}, 422, 'PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: must be greater '
                                 "than 0"),
    ({"tailLines": "-1"}, 422, "tailLines: Invalid value: -1: must be greater than or equal to 0"),
    ({"limitBytes": "0"}, 422, "limitBytes: Invalid value: 0: must be greater than 0"),
    ({"tailLines": "x"}, 400, 'parsing "x": invalid syntax'),
    ({"sinceSeconds": "1", "sinceTime": "2026-01-01T00:00:00Z"}, 400, "at most one of `sinceTime` or"),
    ({"sinceTime": "yesterday"}, 400, 'parsing time "yesterday"'),
])
def test_bad_options_are_refused_as_kube_words_them(query: dict[str, str], code: int, message: str) -> None:
    with pytest.raises(LogOptionsError) as err:
        select(LOG, MARKS, query, "p", now=0.0)
    assert err.value.code == code and message in err.value.message


def test_no_since_option_means_no_since_time() -> None:
    assert since_time("p", {}, 10.0) is None


async def test_the_recorder_marks_the_start_and_each_growth_until_the_run_ends(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_bytes(b"")
    clock = iter([10.0, 11.0, 12.0, 13.0])
    polls: list[None] = []

    def still_running() -> bool:
        polls.append(None)
        if len(polls) == 1:
            log.write_bytes(b"hello\n")  # written while running
        return len(polls) < 2

    await asyncio.wait_for(logtimes.record(log, still_running, poll_s=0.0, now=lambda: next(clock)), 5)
    assert logtimes.read_marks(log, 6, 99.0) == [(0, 10.0), (0, 11.0)]
