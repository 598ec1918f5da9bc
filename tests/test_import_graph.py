"""The package's import graph (issue 11, item 7): no cycles between subpackages, no reaching into
another subpackage's private modules.

Every module of ``automl_har`` is parsed with :mod:`ast`; every ``import`` counts, also those
inside functions (a deferred import is still a dependency, and hiding a cycle in a function
does not remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import automl_har

PACKAGE_DIR = Path(automl_har.__file__).parent
#: the subpackages between which no cycle may exist; ``cli`` may import all, nothing imports it
SUBPACKAGES = ("engines", "export", "objectives", "tracking", "methods", "data", "search_spaces", "models", "config",
               "papers", "cli")

def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the automl_har modules (or module attributes) ``path`` imports anywhere."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import _module`
    return {name for name in found if name == "automl_har" or name.startswith("automl_har.")}


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _existing_module(name: str) -> str | None:
    """``name`` if it is a module of the package, else its longest prefix that is (``x.y.attr`` -> ``x.y``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE_DIR / parts[1]).is_dir()) else None


def _node(module: str) -> str:
    """A subpackage (``engines``) or a top-level module (``search_spec``, ``automl_har`` for the root):
    a cycle through a top-level module is a cycle between subpackages all the same."""
    return _subpackage(module) or module.removeprefix("automl_har.")


def _edges() -> dict[tuple[str, str], list[str]]:
    """(node, imported node) -> ``importer -> imported`` examples."""
    edges: dict[tuple[str, str], list[str]] = {}
    for importer, names in MODULES.items():
        for name in names:
            target = _existing_module(name)
            if target is not None and _node(importer) != _node(target):
                edges.setdefault((_node(importer), _node(target)), []).append(f"{importer} -> {name}")
    return edges


def _cycle(edges) -> list[str] | None:
    """One cycle of the directed graph ``edges`` as ``[a, b, ..., a]``, or None."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                return path[path.index(nxt):] + [nxt]
            if nxt not in done and (found := visit(nxt, path + [nxt])):
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (found := visit(start, [start])):
            return found
    return None


def test_the_parser_sees_the_package_and_function_level_imports():
    assert len(MODULES) > 50 and "automl_har.engines.optuna" in MODULES
    # a function-level import (cli commands import their engine inside the command function)
    assert "automl_har.engines.optuna" in {_existing_module(n) for n in MODULES["automl_har.cli.search"]}
    assert set(SUBPACKAGES) <= {_subpackage(m) for m in MODULES}


def test_the_cycle_finder_finds_cycles():
    assert _cycle({("a", "b"): [], ("b", "c"): [], ("c", "a"): []}) == ["a", "b", "c", "a"]
    assert _cycle({("a", "b"): [], ("a", "c"): [], ("b", "c"): []}) is None


def test_no_cycle_between_subpackages():
    edges = _edges()
    cycle = _cycle(edges)
    assert cycle is None, "import cycle " + " -> ".join(cycle) + ": " + "; ".join(
        example for a, b in zip(cycle, cycle[1:]) for example in edges[(a, b)][:2])


def test_nothing_imports_the_cli():
    assert [example for (_, target), examples in _edges().items() if target == "cli" for example in examples] == []


#: subpackages whose own modules import each other today (not part of issue 11), and why
MODULE_CYCLES_LEFT = {
    "data": ("the dataset registry imports a loader module on first lookup and the loaders register "
             "themselves in it", ("automl_har.data.registry", "automl_har.data.loaders")),
}


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_no_cycle_between_the_modules_of_a_subpackage(subpackage):
    """E.g. ``engines/optuna.py`` and ``engines/_workers.py`` both import ``engines/_loop.py``,
    not each other (imports of the subpackage's own ``__init__`` do not count)."""
    edges = {(importer, target): [] for importer, names in MODULES.items() if _subpackage(importer) == subpackage
             for target in map(_existing_module, names)
             if target not in (None, importer, f"automl_har.{subpackage}") and _subpackage(target) == subpackage}
    cycle = _cycle(edges)
    if subpackage in MODULE_CYCLES_LEFT:
        _, allowed = MODULE_CYCLES_LEFT[subpackage]
        assert cycle is None or all(module.startswith(allowed) for module in cycle), cycle
    else:
        assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("importer", sorted(MODULES))
def test_no_module_imports_a_private_module_of_another_subpackage(importer):
    reaches = set()
    for name in MODULES[importer]:
        target = _existing_module(name)
        if target is None or target == importer:
            continue
        private = any(part.startswith("_") and part != "__init__" for part in target.split(".")[1:])
        if private and _subpackage(target) is not None and _subpackage(target) != _subpackage(importer):
            reaches.add((importer, target))
    assert reaches == set()
