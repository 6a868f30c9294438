"""Zip each test application into a ``working_dir`` that Ray unpacks: ``python -m e2e.apps.package [DEST]``.

Guarantees:
1. Every application directory of ``e2e/apps`` (one holding ``.py`` files) becomes ``DEST/<dir>.zip`` (default
   ``/var/lib/localcluster/apps``, the place the ``*_local.yaml`` samples name), with one top-level directory as
   in a GitHub archive: Ray strips it when it unpacks a remote ``working_dir``, so ``fruit.py`` is importable as
   ``fruit``.
2. The zip is reproducible (sorted entries, fixed timestamps, no ``__pycache__``) and written atomically; an
   unchanged application leaves the existing file untouched (same bytes), so a running cluster never sees a
   half-written zip.
3. Prints one ``file://`` URI per application.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

APPS = Path(__file__).resolve().parent
DEFAULT_DEST = Path("/var/lib/localcluster/apps")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def app_dirs() -> list[Path]:
    """The application directories, sorted by name."""
    return sorted(d for d in APPS.iterdir() if d.is_dir() and not d.name.startswith("_") and any(d.glob("*.py")))


def zip_bytes(app: Path) -> bytes:
    """The reproducible zip of one application directory (guarantees 1-2)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(app.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(f"{app.name}/{path.relative_to(app).as_posix()}", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def package(dest: Path = DEFAULT_DEST) -> dict[str, Path]:
    """Write ``dest/<app>.zip`` for every application; returns app name -> zip path."""
    dest.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for app in app_dirs():
        target = dest / f"{app.name}.zip"
        data = zip_bytes(app)
        if not (target.is_file() and target.read_bytes() == data):
            partial = target.with_suffix(f".zip.{os.getpid()}.part")
            partial.write_bytes(data)
            partial.chmod(0o644)
            os.replace(partial, target)
        written[app.name] = target
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.apps.package", description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST,
                        help=f"where to write the zips (default {DEFAULT_DEST})")
    args = parser.parse_args(argv)
    try:
        written = package(args.dest)
    except PermissionError as exc:
        print(f"e2e.apps.package: cannot write {exc.filename} (run as root, or name another DEST)", file=sys.stderr)
        return 1
    for path in written.values():
        print(f"file://{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
