"""The benchmarks import CityLoop by module path; a module that moves must not break `make bench`.

`make bench` is not part of CI (it takes minutes per target), so a stale import there would only show
when someone measures. This reads every `from cityloop… import …` in bench/ and tools/ and checks that
the module and the names exist.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*ROOT.joinpath("bench").rglob("*.py"), *ROOT.joinpath("tools").glob("*.py")])


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cityloop"):
            found.append((node.lineno, node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.startswith("cityloop")]
    return found


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cityloop_import_of_a_benchmark_or_tool_resolves(path):
    missing = []
    for line, module_name, names in _imports(path):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing.append(f"line {line}: {module_name}: {exc}")
            continue
        for name in names:
            if not hasattr(module, name):
                try:
                    importlib.import_module(f"{module_name}.{name}")
                except ImportError:
                    missing.append(f"line {line}: {module_name} has no {name}")
    assert not missing, "\n".join(missing)
