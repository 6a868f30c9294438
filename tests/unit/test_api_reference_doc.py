"""docs/api-reference.md: generated from the models, never drifts, and documents every field of the CRDs."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api-reference.md"
CRD_DIR = ROOT / "manifests" / "crd"
KIND_FILES = {"RayService": "ray.io_rayservices.yaml", "RayCluster": "ray.io_rayclusters.yaml"}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api_reference", ROOT / "docs" / "gen_api_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


GEN = load_generator()


# ---- drift -----------------------------------------------------------------------------------------------------


def test_checked_in_api_reference_equals_what_the_models_generate() -> None:
    assert DOC.read_text(encoding="utf-8") == GEN.render(), (
        "docs/api-reference.md drifted from the models in rayservice/api: run `make docs`"
    )


def test_check_mode_passes_on_the_checked_in_file() -> None:
    assert GEN.main(["--check"]) == 0


def test_check_mode_fails_and_write_mode_fixes_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "api-reference.md"
    stale.write_text("stale\n", encoding="utf-8")
    assert GEN.main(["--check", "--output", str(stale)]) == 1
    assert stale.read_text(encoding="utf-8") == "stale\n"
    assert GEN.main(["--output", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")


# ---- completeness: the checked-in CRDs against the checked-in document ----------------------------------------


Rows = dict[str, str]  # field name -> its Type cell


def parse_doc(text: str) -> dict[str, Rows]:
    """Heading anchor -> the rows of the table under that heading."""
    sections: dict[str, Rows] = {}
    current: Rows | None = None
    for line in text.splitlines():
        heading = re.match(r"^#{2,3} (\w+)$", line)
        if heading:
            current = sections.setdefault(heading.group(1).lower(), {})
        elif current is not None and line.startswith("| `"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            for name in re.findall(r"`([^`]+)`", cells[0]):
                current[name] = cells[1]
    return sections


def typed_child(node: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema a property leads to (through lists and maps), if it has typed properties."""
    for candidate in (node, node.get("items") or {}, node.get("additionalProperties") or {}):
        if candidate.get("properties"):
            return candidate
    return None


def undocumented(schema: dict[str, Any], anchor: str, sections: dict[str, Rows], path: str) -> list[str]:
    rows = sections.get(anchor)
    if rows is None:
        return [f"{path}: no section #{anchor}"]
    missing: list[str] = []
    for name, node in schema["properties"].items():
        if name not in rows:
            missing.append(f"{path}.{name} (section #{anchor})")
            continue
        child = typed_child(node)
        if child is not None:
            link = re.search(r"\]\(#(\w+)\)", rows[name])
            if link is None:
                missing.append(f"{path}.{name}: its type links to no section")
            else:
                missing += undocumented(child, link.group(1), sections, f"{path}.{name}")
    return missing


@pytest.mark.parametrize("kind", sorted(KIND_FILES))
def test_every_field_of_the_crd_is_documented_in_its_section(kind: str) -> None:
    crd = yaml.safe_load((CRD_DIR / KIND_FILES[kind]).read_text(encoding="utf-8"))
    sections = parse_doc(DOC.read_text(encoding="utf-8"))
    for version in crd["spec"]["versions"]:
        root = version["schema"]["openAPIV3Schema"]
        assert undocumented(root, kind.lower(), sections, kind) == [], version["name"]


def test_a_missing_field_is_reported() -> None:
    sections = parse_doc(DOC.read_text(encoding="utf-8"))
    schema = {"properties": {"spec": {"type": "object", "properties": {"bogus": {"type": "string"}}}}}
    assert undocumented(schema, "rayservice", sections, "RayService") == [
        "RayService.spec.bogus (section #rayservicespec)"
    ]
