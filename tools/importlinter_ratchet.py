"""Print the ``ignore_imports`` of the model contracts: today's direct cross-app ``models`` imports.

Run by hand when the ratchet shrinks (decision 0006); it never adds to the list in ``pyproject.toml``
by itself: ``lint-imports`` fails on a new import, and a person decides.

    .venv/bin/python tools/importlinter_ratchet.py
"""

from __future__ import annotations

import grimp

OWNERS = ("org", "core", "hotline", "brain")


def direct_imports() -> dict[str, list[str]]:
    graph = grimp.build_graph("cityloop")
    found: dict[str, list[str]] = {}
    for owner in OWNERS:
        target = f"cityloop.{owner}.models"
        importers = graph.find_modules_that_directly_import(target)
        found[owner] = sorted(m for m in importers if not m.startswith(f"cityloop.{owner}."))
    return found


if __name__ == "__main__":
    for owner, modules in direct_imports().items():
        print(f"# cityloop.{owner}.models: {len(modules)}")
        for module in modules:
            print(f'    "{module} -> cityloop.{owner}.models",')
