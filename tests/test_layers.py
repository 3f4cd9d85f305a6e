"""Layers point one way, and no project module imports itself in a circle.

A static check (``ast``, nothing is imported) over every ``.py`` in bot/, engine/ and jobs/,
imports inside functions included:

* the engine never imports ``bot`` or ``jobs`` (front-ends -> commands -> engine, jobs -> engine);
* the module graph has no cycle.

The graph has one node per module (a package is its ``__init__``) and one edge per explicit
import, resolved to the project module it names: ``import a.b.c`` and ``from a.b import c``
(c a module) point at ``a.b.c`` only; ``from a.b import name`` (name not a module) points
at ``a.b``; relative imports are resolved against the importing module's package, so
``from . import x`` in ``pkg/__init__.py`` points at ``pkg.x``. Decision: importing
``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__`` first, but those implied parent
imports are NOT edges: a package's ``__init__`` re-exporting its children is normal, and
Python has already started initialising the parent; counting them would make every
subpackage that imports a sibling "cyclic" through the top-level ``__init__``. Imports
under ``if TYPE_CHECKING:`` never run and are not edges either.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "engine", "jobs")
# (importer prefix, forbidden imported prefixes)
FORBIDDEN = {"engine": ("bot", "jobs")}

def module_names(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py below the given top-level packages."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): imports only a type checker runs."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(module: str, path: Path, tree: ast.AST, modules: dict[str, Path]
                    ) -> list[tuple[str, int]]:
    """Every (dotted name, line) the module imports, relative imports made absolute."""
    is_package = path.name == "__init__.py"
    names = []
    type_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block)
                 for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):  # walks function bodies too
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # from P import n: the module P.n if there is one, else (a name defined in) P
            names += [(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target,
                       node.lineno) for alias in node.names]
    return names


def import_graph(root: Path, packages=PACKAGES) -> tuple[dict[str, set[str]], list[str]]:
    """(module -> project modules it imports, layer violations as readable lines)."""
    modules = module_names(root, packages)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    violations = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for name, line in _imported_names(module, path, tree, modules):
            # the longest prefix of the name that is a project module
            parts = name.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            target = ".".join(parts) or name
            banned = FORBIDDEN.get(module.split(".")[0], ())
            if target.split(".")[0] in banned:
                violations.append(f"{path.relative_to(root)}:{line}: {module} imports {target}")
            if parts and target != module:
                targets.add(target)
        graph[module] = targets
    return graph, sorted(set(violations))


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(frozenset(component))
    return sorted(out, key=sorted)


# -- the real tree ---------------------------------------------------------------------------
def test_engine_never_imports_bot_or_jobs():
    _, violations = import_graph(ROOT)
    assert not violations, "engine must not import bot/jobs:\n" + "\n".join(violations)


def test_no_import_cycles_among_project_modules():
    graph, _ = import_graph(ROOT)
    assert len(graph) > 100  # really looked at the tree
    found = cycles(graph)
    assert not found, f"import cycles: {[sorted(c) for c in found]}"


# -- the checker catches planted violations --------------------------------------------------
def _plant(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_reports_a_planted_engine_to_bot_import_and_a_hidden_cycle(tmp_path):
    _plant(tmp_path, {
        "bot/__init__.py": "",
        "bot/ui.py": "X = 1\n",
        "jobs/__init__.py": "",
        "engine/__init__.py": "",
        "engine/ok.py": "from .results import Movie\n",
        "engine/results.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from .ok import Movie as M\nMovie = object\n"),
        # the violation hides inside a function
        "engine/leaky.py": "def f():\n    from bot.ui import X\n    return X\n",
        # a two-module cycle, one side at module level, the other inside a function
        "engine/pkg/__init__.py": "from . import a\n",
        "engine/pkg/a.py": "from .b import helper\n",
        "engine/pkg/b.py": "def helper():\n    from engine.pkg import a\n    return a\n",
    })
    graph, violations = import_graph(tmp_path)
    assert violations == ["engine/leaky.py:2: engine.leaky imports bot.ui"]
    assert graph["engine.ok"] == {"engine.results"}
    assert graph["engine.results"] == set()                  # TYPE_CHECKING only
    assert graph["engine.pkg"] == {"engine.pkg.a"}          # from . import a, in __init__
    assert frozenset({"engine.pkg.a", "engine.pkg.b"}) in cycles(graph)
    assert all(len(c) > 1 for c in cycles(graph))


def test_checker_resolves_relative_imports_from_modules_and_packages(tmp_path):
    _plant(tmp_path, {
        "engine/__init__.py": "from .x import y\n",
        "engine/x/__init__.py": "from ..z import w\nfrom . import y\n",
        "engine/x/y.py": "from ..z import w\n",
        "engine/z.py": "w = 1\n",
    })
    graph, violations = import_graph(tmp_path, packages=("engine",))
    assert not violations
    assert graph["engine"] == {"engine.x.y"}       # from .x import y: y is a module
    assert graph["engine.x"] == {"engine.z", "engine.x.y"}
    assert graph["engine.x.y"] == {"engine.z"}
    assert cycles(graph) == []
