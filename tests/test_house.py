"""The house rules that hold for the whole code base, checked from the source.

Two rules: no import cycle between the project's own modules (counting imports made
inside functions and under TYPE_CHECKING, because a cycle there still ties two modules
together and breaks the moment the lazy import runs at load time), and no source file
over 600 lines. Both walk whatever files exist when the test runs, so a module added
later is held to the same rules without touching this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "core", "models")
MAX_LINES = 600


def _sources() -> list[Path]:
    return sorted(
        p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts
    )


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path, name: str) -> str:
    """The package a relative import in this file starts from."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """Every project module this file imports, wherever in the file the import sits.

    `from pkg import name` imports pkg.name when that is a module, else pkg itself.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _package_of(path, name).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = []
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                targets.append(sub if sub in modules else base)
        else:
            continue
        for target in targets:
            # `import core.media.probe` names core.media.probe; `import core.x.y` where only core.x is
            # ours still ties us to core.x: climb to the nearest project module.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in _sources()}
    modules = set(files)
    return {name: _imports(path, name, modules) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: fully explored
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def all_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly tied group, so a failure names every tangle at once."""
    cycles: list[list[str]] = []
    remaining = {k: set(v) for k, v in graph.items()}
    while cycle := find_cycle(remaining):
        cycles.append(cycle)
        # Cut the cycle's first edge and look again: other tangles still show.
        remaining[cycle[0]].discard(cycle[1])
    return cycles


def test_the_cycle_finder_sees_a_cycle() -> None:
    # The finder itself must be able to fail: a made-up three-module loop is found.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_and_type_checking_count(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    src = pkg / "one.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import two\n"
        "def f():\n    from . import three\n    import pkg.four.deep\n"
    )
    modules = {"pkg", "pkg.one", "pkg.two", "pkg.three", "pkg.four"}
    assert _imports(src, "pkg.one", modules) == {"pkg.two", "pkg.three", "pkg.four"}


def test_no_import_cycle() -> None:
    cycles = all_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_source_file_over_the_limit() -> None:
    long = {}
    for path in _sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long[str(path.relative_to(ROOT))] = lines
    assert not long, f"files over {MAX_LINES} lines: {long}"


MAX_CORE_MODULES = 20  # core/ is rooms by stage (subtitles/, speakers/, audio/, job/, ...)


def test_core_is_in_rooms() -> None:
    flat = sorted(p.name for p in (ROOT / "core").glob("*.py") if p.name != "__init__.py")
    assert len(flat) <= MAX_CORE_MODULES, f"{len(flat)} modules directly in core/: {flat}"
    rooms = [p for p in (ROOT / "core").iterdir() if p.is_dir() and p.name != "__pycache__"]
    for room in rooms:
        init = room / "__init__.py"
        assert init.is_file() and ast.get_docstring(ast.parse(init.read_text())), (
            f"{room.name}/ needs an __init__.py that says what the room holds"
        )
