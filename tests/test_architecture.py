"""The house's shape, kept: imports run one way, down the layers; nothing outside the store reaches into it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "yurudb"

# Lowest first. A module may import its own layer's modules and any layer below, never one above.
LAYERS = [
    {"errors", "times", "events", "paths", "pricing"},
    {"validation"},
    {"models"},
    {"backends"},
    {"lines"},
    {"tables"},
    {"secrets"},
    {"search"},
    {"writes"},
    {"degraded"},
    {"store"},
    {"recovery"},
    {"archive"},
    {"claude", "importers"},
    {"serve", "mcp"},
    {"cli", "testing", "__main__", "__init__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    where = PACKAGE.parent / name.replace(".", "/")
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """The yurudb modules a file imports at run time (what `if TYPE_CHECKING:` guards is left out)."""
    tree = ast.parse(path.read_text())
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("yurudb"):
                # `from pkg import module` imports the module; `from pkg import name`, the package
                modules = {f"{target}.{a.name}" for a in node.names if is_module(f"{target}.{a.name}")}
                found |= modules
                if len(modules) < len(node.names):
                    found.add(target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("yurudb")}
    return found - {me}


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYER[parts[1] if len(parts) > 1 else "__init__"]


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_its_own_layer_and_those_below(module: str) -> None:
    above = sorted(t for t in GRAPH[module] if t in GRAPH and layer_of(t) > layer_of(module))
    assert not above, f"{module} imports upward: {above}"


def test_no_two_modules_import_each_other_through_any_chain() -> None:
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        seen[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH:
                continue
            if seen.get(target) == 1:
                circle = path[path.index(target):] + [target] if target in path else path + [target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in seen:
                visit(target, path + [target])
        seen[module] = 2

    for module in sorted(GRAPH):
        if module not in seen:
            visit(module, [module])


def test_nothing_outside_the_store_reaches_into_its_private_parts() -> None:
    private = {"_writer", "_reads", "_readers", "_cache", "_checkpointer"}
    offenders = []
    for folder in ("yurudb", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(PACKAGE / "store"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in private and not (
                        isinstance(node.value, ast.Name) and node.value.id == "self"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not offenders, offenders


def test_the_layer_table_names_every_package() -> None:
    tops = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    tops |= {p.stem for p in PACKAGE.glob("*.py")}
    assert tops - {"examples"} <= set(LAYER), sorted(tops - set(LAYER))
