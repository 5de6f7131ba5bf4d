"""The architecture as rules: dependencies point one way (the README's layer order), no
command imports another, no import cycles, modules <= 400 lines, strategy names stay in models/."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "cnnperf"
# lower layers first; a module may import from its own layer and the ones before it
LAYERS = [("errors", "fileio", "lsq", "data"), ("networks",), ("engine",), ("parallel",), ("opcount", "hardware"),
          ("models",), ("measure", "validation"), ("report",), ("api",), ("commands", "cli", "__main__")]
RANK = {name: k for k, names in enumerate(LAYERS) for name in names}


def modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(path: Path) -> set[str]:
    """Every cnnperf module imported anywhere in the file (also inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("cnnperf")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnnperf"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def layer(module: str) -> int | None:
    parts = module.split(".")
    return RANK.get(parts[1]) if len(parts) > 1 else None


ALL = dict(modules())


def test_every_package_has_a_layer():
    assert {m.split(".")[1] for m in ALL if "." in m} <= set(RANK)


@pytest.mark.parametrize("module", [m for m in ALL if layer(m) is not None])
def test_dependencies_point_one_way(module):
    mine = layer(module)
    upward = sorted(i for i in imports(ALL[module]) if (layer(i) or 0) > mine and i.split(".")[1] != "api")
    # `import cnnperf` + cnnperf.api from commands/cli is the top of the stack; below it nothing may reach up
    upward += sorted(i for i in imports(ALL[module]) if i.startswith("cnnperf.api") and mine < RANK["api"])
    assert not upward, f"{module} (layer {mine}) imports from higher layers: {upward}"


def test_no_command_imports_another_command():
    for module, path in ALL.items():
        if module.startswith("cnnperf.commands.") and not module.endswith("_args"):
            others = {i for i in imports(path) if i in ALL and i.startswith("cnnperf.commands.")
                      and i != "cnnperf.commands._args"}
            assert not others, f"{module} imports {others}"


def test_no_import_cycles():
    known = set(ALL)
    graph = {m: {i for i in imports(p) if i in known and i != m} for m, p in ALL.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                # a package __init__ re-exporting its own submodules is not a cycle of behaviour
                if not (m.startswith(n + ".") or n.startswith(m + ".")):
                    raise AssertionError("import cycle: " + " -> ".join([*stack, m, n]))
            elif not state.get(n):
                visit(n, [*stack, m])
        state[m] = 2

    for m in graph:
        if not state.get(m):
            visit(m, [])


@pytest.mark.parametrize("module", list(ALL))
def test_modules_stay_small(module):
    assert len(ALL[module].read_text().splitlines()) <= 400


def test_strategy_names_appear_only_in_models():
    """Plug-ins are closed: outside models/ no code names a strategy by its letter."""
    from cnnperf.models import STRATEGIES
    names = set(STRATEGIES)
    for module, path in ALL.items():
        if module.startswith("cnnperf.models"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                raise AssertionError(f"{module}:{node.lineno} names strategy {node.value!r}")
