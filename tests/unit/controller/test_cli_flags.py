"""``rayservice run`` flags: parsing, defaults and help (the subprocess tests are in tests/integration)."""

from __future__ import annotations

import pytest

from rayservice.cli import build_parser, main

FLAGS = [
    "--kubeconfig",
    "--namespace",
    "--metrics-addr",
    "--leader-elect",
    "--leader-election-namespace",
    "--leader-election-id",
    "--leader-election-lease-duration",
    "--leader-election-renew-deadline",
    "--leader-election-retry-period",
    "--workers",
    "--log-format",
    "--log-level",
]


def test_defaults_match_the_documented_ones() -> None:
    args = build_parser().parse_args(["run"])
    assert args.kubeconfig is None and args.namespace is None
    assert args.metrics_addr == ("", 8080)
    assert args.leader_elect is False and args.leader_election_id == "rayservice-operator"
    assert (args.workers, args.log_format, args.log_level) == (16, "json", "info")
    timings = (args.leader_election_lease_duration, args.leader_election_renew_deadline,
               args.leader_election_retry_period)
    assert timings == (15.0, 10.0, 2.0)


def test_lease_timings_are_read_in_seconds() -> None:
    args = build_parser().parse_args(["run", "--leader-election-lease-duration", "3",
                                      "--leader-election-renew-deadline", "2", "--leader-election-retry-period", "0.5"])
    timings = (args.leader_election_lease_duration, args.leader_election_renew_deadline,
               args.leader_election_retry_period)
    assert timings == (3.0, 2.0, 0.5)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--leader-election-renew-deadline", "15"], "--leader-election-renew-deadline (15 s) must be shorter than "
                                                     "--leader-election-lease-duration (15 s)"),
        (["--leader-election-lease-duration", "5", "--leader-election-renew-deadline", "6"], "must be shorter than"),
        (["--leader-election-retry-period", "10"], "--leader-election-retry-period (10 s) must be shorter than "
                                                   "--leader-election-renew-deadline (10 s) divided by 1.2"),
        (["--leader-election-renew-deadline", "2", "--leader-election-retry-period", "2"], "retry-period"),
    ],
)
def test_lease_timings_that_cannot_work_together_exit_2_naming_the_flags(
    flags: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--leader-elect", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "--help" in err


def test_namespaces_may_be_repeated_or_comma_separated() -> None:
    args = build_parser().parse_args(["run", "--namespace", "a,b", "--namespace", "c"])
    assert args.namespace == [["a", "b"], ["c"]]


@pytest.mark.parametrize(("flag", "parsed"), [(":9090", ("", 9090)), ("127.0.0.1:0", ("127.0.0.1", 0))])
def test_metrics_addr_takes_an_optional_host_and_a_port(flag: str, parsed: tuple[str, int]) -> None:
    assert build_parser().parse_args(["run", "--metrics-addr", flag]).metrics_addr == parsed


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--metrics-addr", "8080"],
        ["run", "--workers", "0"],
        ["run", "--leader-election-lease-duration", "0"],
        ["run", "--leader-election-retry-period", "soon"],
        ["run", "--log-format", "xml"],
        ["run", "--log-level", "loud"],
        ["run", "--namespace", ","],
        ["run", "--no-such-flag"],
        [],
    ],
)
def test_bad_flags_exit_2_with_one_line_naming_the_problem(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "--help" in err


def test_help_documents_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    text = capsys.readouterr().out
    for flag in FLAGS:
        assert flag in text, flag
    assert "kubectl apply -f manifests/crd" in " ".join(text.split())  # however argparse wraps it
