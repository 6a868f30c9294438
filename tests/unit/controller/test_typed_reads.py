"""Reads through the typed views fail mypy when a field is misspelt, and pass when it is spelt right."""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api

SNIPPET = '''
from rayservice.controller.objects import flag, part, pod_status, rayservice_spec, text, whole_number


def right(obj: dict[str, object]) -> None:
    text(part(rayservice_spec(obj).get("upgradeStrategy")).get("type"))
    flag(rayservice_spec(obj).get("excludeHeadPodFromServeSvc"))
    whole_number(rayservice_spec(obj).get("rayClusterDeletionDelaySeconds"), 60)
    text(pod_status(obj).get("podIP"))


def wrong(obj: dict[str, object]) -> None:
    text(part(rayservice_spec(obj).get("upgradeStrategi")).get("type"))  # misspelt
    text(part(rayservice_spec(obj).get("upgradeStrategy")).get("tpye"))  # misspelt
    flag(rayservice_spec(obj).get("excludeHeadPodFromServeSvcc"))  # misspelt
    whole_number(rayservice_spec(obj).get("rayClusterDeletionDelaySecond"), 60)  # misspelt
    text(pod_status(obj).get("podIp"))  # misspelt
'''


def test_only_the_misspelt_reads_fail_mypy(tmp_path: Path) -> None:
    source = tmp_path / "reads.py"
    source.write_text(SNIPPET)
    out, _, _ = api.run(["--strict", "--no-error-summary", "--show-error-codes", str(source)])
    failing = {int(match) for match in re.findall(r"reads\.py:(\d+): error", out)}
    misspelt = {number for number, line in enumerate(SNIPPET.splitlines(), start=1) if line.endswith("# misspelt")}
    assert failing == misspelt, out
