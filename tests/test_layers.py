"""The import graph: no cycles, and no import from a lower layer into a higher one.

``LAYERS`` lists the layers lowest first, as the code is built: a module may import its own
layer and the ones below. The neutral file module is at the bottom, the Python API above every
package but the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "penguin"

LAYERS: list[set[str]] = [
    {"penguin", "penguin.errors", "penguin.files", "penguin.progress", "penguin.crisis"},
    {"penguin.schema", "penguin.taxonomy"},
    {"penguin.prompts"},
    {"penguin.models"},
    {"penguin.dataset"},
    {"penguin.evaluation"},
    {"penguin.planner"},
    {"penguin.agent"},
    {"penguin.runs"},
    {"penguin.report", "penguin.serve"},
    {"penguin.api"},
    {"penguin.cli", "penguin.__main__"},
]


def module_name(path: Path) -> str:
    parts = ("penguin", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every penguin module a file imports (at any level: lazy imports count too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("penguin"):
                found.add(target)
                for alias in node.names:  # "from . import prompts" imports a module
                    candidate = f"{target}.{alias.name}"
                    if (ROOT.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or \
                            (ROOT.parent / candidate.replace(".", "/")).is_dir():
                        found.add(candidate)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("penguin")}
    return found - {name}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in ROOT.rglob("*.py")}


def layer_of(module: str) -> int:
    for i, members in enumerate(LAYERS):
        for m in members:
            if module == m or module.startswith(m + "."):
                if m == "penguin" and module != "penguin":
                    continue
                return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_module_has_a_layer_and_imports_only_downward():
    wrong = []
    for module, deps in graph().items():
        for dep in deps:
            if layer_of(dep) > layer_of(module):
                wrong.append(f"{module} (layer {layer_of(module)}) imports {dep} (layer {layer_of(dep)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_there_is_no_import_cycle():
    g = graph()
    modules = set(g)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(d for d in g.get(m, ()) if d in modules):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_online_agent_does_not_import_the_benchmark_engine():
    g = graph()
    seen, todo = set(), ["penguin.agent.loop", "penguin.serve.app"]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += [d for d in g.get(m, ()) if d in g]
    assert "penguin.evaluation.engine" not in seen and "penguin.evaluation.config" not in seen
