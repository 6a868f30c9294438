"""``rayservice run`` flags: parsing, defaults and help (the subprocess tests are in tests/integration)."""

from __future__ import annotations

import pytest

from rayservice.cli import build_parser

FLAGS = [
    "--kubeconfig",
    "--namespace",
    "--metrics-addr",
    "--leader-elect",
    "--leader-election-namespace",
    "--leader-election-id",
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
