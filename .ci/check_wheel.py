"""Build the operator's wheel from a copy of the source tree and fail unless it carries only ``rayservice``.

Guarantees:
1. Exit 0 only when every file of the wheel is under ``rayservice/`` or its ``*.dist-info/``; otherwise exit 1
   and print each file that does not belong (the local cluster under ``e2e/``, the benchmarks, the tests).
2. The checkout is left as it was: the build runs on a temporary copy, so no ``build/`` or ``*.egg-info``
   appears in the working tree.

Usage: ``python .ci/check_wheel.py [SOURCE]`` (default: this repository; ``make lint`` runs it); needs ``pip``
beside the Python that runs it and its package index (or cache) for the build backend.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "results"
)
BUILD_TIMEOUT_S = 300


def foreign_files(names: list[str]) -> list[str]:
    """The wheel's files that are neither the ``rayservice`` package nor its metadata (pure)."""
    return [name for name in names if not name.startswith("rayservice/") and ".dist-info/" not in name]


def build_wheel(tree: Path, into: Path) -> Path:
    source = into / "src"
    shutil.copytree(tree, source, ignore=IGNORED)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(into), str(source)],
        check=True,
        timeout=BUILD_TIMEOUT_S,
    )
    (wheel,) = into.glob("*.whl")
    return wheel


def main(argv: list[str]) -> int:
    tree = Path(argv[0]) if argv else ROOT
    with tempfile.TemporaryDirectory(prefix="wheel-check-") as tmp:
        wheel = build_wheel(tree, Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
    foreign = foreign_files(names)
    for name in foreign:
        print(f"check_wheel: {wheel.name} carries {name}, which is not part of the rayservice package")
    if not any(name.startswith("rayservice/") for name in names):
        print(f"check_wheel: {wheel.name} carries no rayservice package at all")
        return 1
    if foreign:
        return 1
    print(f"check_wheel: {wheel.name}: {len(names)} files, only rayservice/ and its metadata")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
