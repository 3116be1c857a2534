"""The project's layout rules, read from the source with `ast`: nothing here imports the project.

The rules check whatever is on disk, so a rule about a package that does not exist yet (users/views/)
has nothing to check and passes. Imports by name at runtime (`import_module`, settings strings) are not seen.
Only the cycle rule leaves out imports under `if TYPE_CHECKING:` (they never run); the other rules are about
which module knows which, so they count them.
"""

from __future__ import annotations

import ast
import os
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
AWS_SDK = {"boto3", "botocore", "moto", "mypy_boto3_iam"}


class _Import(NamedTuple):
    line: int
    module: str  # absolute: relative imports are resolved
    names: tuple[str, ...]  # what `from module import ...` names; () for `import module`
    guarded: bool  # under `if TYPE_CHECKING:`


class _Edge(NamedTuple):
    source: str
    target: str
    where: str  # path:line of the import
    guarded: bool


def _python_files(*folders: str) -> Iterator[Path]:
    """Every .py file under the folders, migrations left out. os.walk skips folders that vanish mid-walk."""
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(ROOT / folder):
            dirnames[:] = sorted(d for d in dirnames if d not in ("migrations", "__pycache__"))
            yield from (Path(dirpath) / name for name in sorted(filenames) if name.endswith(".py"))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:  # moved away since the walk listed it
        return None


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[Path, str]:
    """The project's modules by file: users/iam/__init__.py is `users.iam`, users/iam/gateway.py `users.iam.gateway`."""
    return {path: _module_name(path) for path in _python_files("users", "iamconsole")}


def _is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING`."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    """The module `from ... import` reads: `from ..iam import gateway` in package users.views reads users.iam."""
    if not node.level:
        return node.module
    parts = package.split(".")
    if node.level > len(parts):  # above the top-level package: Python refuses it too
        return None
    return ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))


def _imports_in(tree: ast.AST, package: str) -> list[_Import]:
    """Every import in the tree at any depth (functions, methods, branches); `package` anchors relative ones."""
    found: list[_Import] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(_Import(node.lineno, alias.name, (), guarded) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if module := _absolute(node, package):
                found.append(_Import(node.lineno, module, tuple(alias.name for alias in node.names), guarded))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:  # the else branch does run
                visit(child, guarded)
        else:
            for inner in ast.iter_child_nodes(node):
                visit(inner, guarded)

    visit(tree, False)
    return found


def _imports(path: Path) -> list[_Import]:
    """The imports of one project file; none if it has disappeared."""
    if (source := _read(path)) is None:
        return []
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_in(ast.parse(source, filename=str(path)), package)


def _targets(imp: _Import, importer: str, modules: Collection[str]) -> set[str]:
    """The project modules an import runs: the one it names (`from pkg import sub` names `pkg.sub` when that is
    a module, else `pkg`) and the packages above it, which Python runs first. A package only implied that sits
    above the importer itself is left out: Python started it before the importer's first line (otherwise every
    `from .shortcuts import x` in users/views/ would loop back through users/views/__init__.py)."""
    named = {f"{imp.module}.{n}" if f"{imp.module}.{n}" in modules else imp.module for n in imp.names or [""]}
    parts, own = imp.module.split("."), importer.split(".")
    implied = {".".join(parts[:i]) for i in range(1, len(parts) + 1)} - named
    implied -= {".".join(own[:i]) for i in range(1, len(own) + 1)}
    return ((named | implied) & set(modules)) - {importer}


@cache
def _edges() -> tuple[_Edge, ...]:
    """Every import of a project module by a project module, TYPE_CHECKING ones included (marked guarded)."""
    modules = _modules()
    names = set(modules.values())
    return tuple(
        _Edge(source, target, f"{_rel(path)}:{imp.line}", imp.guarded)
        for path, source in modules.items()
        for imp in _imports(path)
        for target in sorted(_targets(imp, source, names))
    )


def _graph() -> dict[str, set[str]]:
    """Who imports whom when the code runs."""
    graph: dict[str, set[str]] = {}
    for edge in _edges():
        # `if TYPE_CHECKING:` bodies never run (TYPE_CHECKING is False at runtime), so such an import cannot
        # hand out a half-initialised module; it is the usual way to break a cycle. No edge.
        if not edge.guarded:
            graph.setdefault(edge.source, set()).add(edge.target)
    return graph


def _cycles(graph: Mapping[str, Collection[str]]) -> list[tuple[str, ...]]:
    """The shortest cycle through each module that is on one (breadth-first search), each cycle listed once."""
    found: set[tuple[str, ...]] = set()
    for start in graph:
        parent: dict[str, str] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for successor in sorted(graph.get(node, ())):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    path.reverse()
                    first = path.index(min(path))
                    found.add(tuple(path[first:] + path[:first]))
                    queue.clear()
                    break
                if successor not in parent:
                    parent[successor] = node
                    queue.append(successor)
    return sorted(found)


def _fail_if(problems: Iterable[str | _Edge], heading: str) -> None:
    lines = [f"  {p.where}: {p.source} imports {p.target}" if isinstance(p, _Edge) else f"  {p}" for p in problems]
    if lines:
        pytest.fail("\n".join([heading, *lines]), pytrace=False)


def test_it_has_no_import_cycles() -> None:
    """No import cycles in users/ or iamconsole/: a cycle makes import order matter and hands out half-built modules."""
    problems = []
    for cycle in _cycles(_graph()):
        problems.append(" -> ".join((*cycle, cycle[0])))
        for source, target in zip(cycle, (*cycle[1:], cycle[0]), strict=True):
            lines = [e.where for e in _edges() if (e.source, e.target, e.guarded) == (source, target, False)]
            problems.append(f"    {source} -> {target} at {', '.join(lines)}")
    _fail_if(problems, "Import cycles; break one import in each (those under `if TYPE_CHECKING:` don't count):")


def test_it_imports_boto3_only_in_the_iam_package() -> None:
    """Only users/iam/ imports the AWS SDK (boto3, botocore, moto, stubs), so the rest of users/ depends on the
    gateway, not on boto3. TYPE_CHECKING imports count: the rule is about which modules know the SDK."""
    problems = [
        f"{_rel(path)}:{imp.line}: imports {imp.module}"
        for path in _python_files("users")
        if not _rel(path).startswith("users/iam/")
        for imp in _imports(path)
        if imp.module.partition(".")[0] in AWS_SDK
    ]
    _fail_if(problems, "Only users/iam/ may import boto3, botocore, moto or mypy_boto3_iam; go through the gateway:")


def test_it_keeps_modules_under_1000_lines() -> None:
    """No .py file (migrations aside) is over 1,000 lines: past that a module does several jobs; split it."""
    sizes = {
        path: len(source.splitlines())
        for path in _python_files("users", "iamconsole", "tests", "bench")
        if (source := _read(path)) is not None
    }
    _fail_if([f"{_rel(p)}: {n} lines" for p, n in sizes.items() if n > 1000], "Modules over 1,000 lines; split them:")


def test_it_keeps_the_users_package_top_level_small() -> None:
    """users/ holds at most 25 modules directly; past that, group related ones in subpackages (iam/, views/, forms/)."""
    modules = sorted(path.name for path in (ROOT / "users").glob("*.py"))
    if len(modules) > 25:
        _fail_if([", ".join(modules)], f"users/ has {len(modules)} modules at its top level (at most 25); move some:")


def test_it_keeps_views_independent() -> None:
    """A module under users/views/ imports no other one but users/views/shortcuts.py, so each view changes (or goes)
    alone. Importing the package itself is fine, and its __init__.py may gather the views."""
    problems = [
        e
        for e in _edges()
        if e.source.startswith("users.views.")
        and e.target.startswith("users.views.")
        and not _within(e.target, "users.views.shortcuts")
    ]
    _fail_if(problems, "Views import each other; share through users/views/shortcuts.py instead:")


def test_it_points_job_dependencies_one_way() -> None:
    """Job code depends one way, web side -> tasks -> worker side: users.job_items imports neither users.jobs nor
    users.tasks, and users.tasks does not import users.jobs, so the worker never loads the web side."""
    forbidden = {"users.job_items": ("users.jobs", "users.tasks"), "users.tasks": ("users.jobs",)}
    problems = [
        e
        for e in _edges()
        for source, targets in forbidden.items()
        if _within(e.source, source) and any(_within(e.target, t) for t in targets)
    ]
    _fail_if(problems, "Job modules import against the flow web (jobs) -> tasks -> worker (job_items):")


def test_it_keeps_models_free_of_project_imports() -> None:
    """users/models.py imports only Django and the standard library, so any module can import the models."""
    problems = [e for e in _edges() if _within(e.source, "users.models") and not _within(e.target, "users.models")]
    _fail_if(problems, "users/models.py imports project modules (only Django and the standard library allowed):")


def test_it_keeps_business_modules_off_context_processors() -> None:
    """No module in users/ imports users.context_processors: it serves templates (settings name it as a string);
    what both need belongs in a module they can each import."""
    problems = [
        e
        for e in _edges()
        if _within(e.target, "users.context_processors")
        and _within(e.source, "users")
        and not _within(e.source, "users.context_processors")
    ]
    _fail_if(problems, "Modules import users.context_processors; move what they need out of it:")


def test_it_reads_the_project() -> None:
    """The walk finds the project and its imports, so the rules above cannot pass by seeing nothing."""
    assert {"users", "iamconsole"} <= set(_modules().values())
    assert any(_within(e.source, "users") and not e.guarded for e in _edges())


def test_it_finds_cycles() -> None:
    """The cycle finder gives the shortest cycle through each module on one, once each, and nothing else."""
    assert _cycles({"a": {"b"}, "b": {"a", "c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b"), ("a", "b", "c")]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_it_sees_imports_inside_functions() -> None:
    """Imports in functions, methods and TYPE_CHECKING's else branch count; only `if TYPE_CHECKING:` (or
    `typing.TYPE_CHECKING`) bodies are guarded, and guarded imports make no edge in the graph."""
    source = """
import typing
if TYPE_CHECKING:
    from .gateway import IamGateway
if typing.TYPE_CHECKING:
    import boto3
else:
    from . import tasks
def start():
    from .tasks import run_job_item
class Job:
    def run(self):
        if True:
            import users.jobs
"""
    assert {(i.line, i.module, i.names, i.guarded) for i in _imports_in(ast.parse(source), "users")} == {
        (2, "typing", (), False),
        (4, "users.gateway", ("IamGateway",), True),
        (6, "boto3", (), True),
        (8, "users", ("tasks",), False),
        (10, "users.tasks", ("run_job_item",), False),
        (14, "users.jobs", (), False),
    }


def test_it_resolves_relative_imports() -> None:
    """Relative imports resolve against the importer's package, `from pkg import sub` points at the submodule,
    and the importer's own packages count only when imported by name."""
    modules = {"users", "users.iam", "users.iam.gateway", "users.views", "users.views.detail", "users.views.shortcuts"}
    source = "from ..iam import gateway\nfrom .shortcuts import x\nfrom . import helper\nimport users.iam.gateway"
    in_detail = [_targets(i, "users.views.detail", modules) for i in _imports_in(ast.parse(source), "users.views")]
    iam = {"users.iam", "users.iam.gateway"}
    assert in_detail == [iam, {"users.views.shortcuts"}, {"users.views"}, iam]
    in_init = _imports_in(ast.parse("from . import detail\nfrom .. import views\nfrom ... import x"), "users.views")
    assert [_targets(i, "users.views", modules) for i in in_init] == [{"users.views.detail"}, set()]
