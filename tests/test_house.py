"""The house's import rules, read from the source (ast): one installed namespace, and arrows that point down.

- Every import of the product names it under `corpgraph.` (a bare `graph`/`schema`/`api` would be another,
  second copy of the module, and PyPI's `schema` would shadow ours).
- Packages: schema imports nothing of the project; loaders only schema; graph only schema; api anything below.
- Inside graph/: wings ranked low to high. A module may import a module of a higher room only when that module
  is a leaf (it imports nothing of graph/ but the shared rooms): pure key functions, result shapes, protocols.
  And no import cycle between modules (imports under TYPE_CHECKING do not count: they never run).
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schema", "loaders", "graph", "api")
ALLOWED = {"schema": {"schema"}, "loaders": {"schema", "loaders"}, "graph": {"schema", "graph"},
           "api": {"schema", "loaders", "graph", "api"}}
# graph/ rooms, low to high; a module directly in graph/ not named here is a shared room (rank 0)
RANKS = {"write": 1, "stores": 2, "identity": 3, "projection": 4, "subgraph": 5, "analytics": 6,
         "browse": 7, "exports": 7, "service": 8,
         # workflows that are clients of the facade: screening a portfolio, watching, the FtM export
         "screening": 9, "watch": 9, "ftm_export": 9}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return "corpgraph." + ".".join(parts)


def _imports(tree: ast.Module, typing_only: bool = False) -> Iterator[tuple[int, str]]:
    """(line, module) of each import; with typing_only False the `if TYPE_CHECKING:` blocks are skipped."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not typing_only:
            skip.update(id(n) for sub in node.body for n in ast.walk(sub))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from corpgraph.graph import budget` imports the module budget
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from (p for p in (ROOT / folder).rglob("*.py") if "vendor" not in p.parts)


def _graph_modules() -> dict[str, set[str]]:
    """Each module of graph/ -> the modules of graph/ it imports at run time."""
    modules = {_module(p): p for p in _sources("graph")}
    deps: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = {m for _, m in _imports(ast.parse(path.read_text(encoding="utf-8"))) if m in modules}
        deps[name] = found - {name}
    return deps


def _room(module: str) -> str:
    return module.split(".")[2] if module.count(".") >= 2 else ""


def test_every_import_names_the_corpgraph_namespace() -> None:
    bad = []
    for path in _sources(*PACKAGES, "tests", "benchmarks", "tools"):
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8")), typing_only=True):
            if module.split(".")[0] in PACKAGES:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert not bad, "import the product as corpgraph.<package>:\n" + "\n".join(sorted(set(bad)))


def test_packages_import_only_downwards() -> None:
    bad = []
    for package in PACKAGES:
        for path in _sources(package):
            for line, module in _imports(ast.parse(path.read_text(encoding="utf-8")), typing_only=True):
                parts = module.split(".")
                if parts[0] == "corpgraph" and len(parts) > 1 and parts[1] not in ALLOWED[package]:
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {module}")
    assert not bad, "\n".join(bad)


def test_no_upward_arrow_inside_graph() -> None:
    deps = _graph_modules()
    shared = {m for m in deps if RANKS.get(_room(m), 0) == 0}
    leaves = {m for m, found in deps.items() if found <= shared}
    bad = []
    for module, found in deps.items():
        rank = RANKS.get(_room(module), 0)
        for target in found:
            if RANKS.get(_room(target), 0) > rank and target not in leaves:
                bad.append(f"{module} ({_room(module) or 'shared'}) imports {target} ({_room(target)})")
    assert not bad, "upward arrows inside graph/:\n" + "\n".join(sorted(bad))


def test_no_import_cycle_between_graph_modules() -> None:
    cycles = list(nx.simple_cycles(nx.DiGraph([(m, t) for m, found in _graph_modules().items() for t in found])))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_the_rules_see_what_they_guard() -> None:
    """The checks above read real imports: the facade is found importing the analytics it faces."""
    deps = _graph_modules()
    assert "corpgraph.graph.analytics.liability" in deps["corpgraph.graph.service"]
    assert "corpgraph.graph.stores.base" in deps["corpgraph.graph.write.ingest"]
