"""The docs name code that exists: every ``path.py:name`` in docs/rules.md is a function, class
or constant defined in that module, and every relative link in README.md and docs/ names a file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "yibao"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_REF = re.compile(r"`([a-z_/]+\.py):([A-Za-z_][A-Za-z0-9_]*)`")
_LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")


def _defined(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names = {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    }
    targets = [n.target for n in tree.body if isinstance(n, ast.AnnAssign)]
    targets += [t for n in tree.body if isinstance(n, ast.Assign) for t in n.targets]
    return names | {t.id for t in targets if isinstance(t, ast.Name)}


def test_every_rule_reference_names_a_defined_function() -> None:
    refs = _REF.findall((ROOT / "docs" / "rules.md").read_text(encoding="utf-8"))
    assert len(refs) >= 15  # every section 6 layer at least
    missing = [
        f"{path}:{name}"
        for path, name in refs
        if not (SRC / path).is_file() or name not in _defined(SRC / path)
    ]
    assert missing == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_name_files(doc: Path) -> None:
    broken = [
        target
        for target in _LINK.findall(doc.read_text(encoding="utf-8"))
        if not target.startswith(("http", "mailto"))
        and not (doc.parent / target).exists()
        and not target.startswith("../shared")  # the specification beside the repository
    ]
    assert broken == []
