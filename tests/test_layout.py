"""The package's tree shows the pipeline's stages, and no module imports one that imports it
back (directly or through others): read from the source with `ast`, imports inside functions
included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "conflict_report"
STAGES = ("data", "analysis", "runs", "report")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import mod` imports the module pkg.mod when there is one
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert len(graph) > 25, "the package's modules were not found"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_is_a_subpackage(stage):
    assert (PACKAGE / stage / "__init__.py").is_file()


def test_stages_import_only_stages_below_them():
    """report -> runs -> analysis -> data; the notebook API (run, sections) sits beside analysis."""
    rank = {"data": 0, "analysis": 1, "runs": 2, "report": 3}
    graph = import_graph()
    upward = []
    for module, imported in graph.items():
        stage = module.split(".")[1] if module.count(".") >= 1 else None
        for target in imported:
            target_stage = target.split(".")[1] if target.count(".") >= 1 else None
            if stage in rank and target_stage in rank and rank[target_stage] > rank[stage]:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_the_notebook_api_keeps_its_old_names():
    import conflict_report
    from conflict_report import case_study, run, sections, source_sections  # noqa: F401

    assert conflict_report.case_study.__name__ == "conflict_report.analysis.case_study"
    with pytest.raises(AttributeError):
        conflict_report.no_such_module  # noqa: B018
