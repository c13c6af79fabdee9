"""The package's shape (docs/design.md, "Layout"): layers import one way, no import cycle (imports
inside functions counted), no private name crosses modules, and every folder is packaged."""

import ast
import configparser
from pathlib import Path

import networkx as nx
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "neurosim"
# layer of each top-level part of the package; a module imports only from layers <= its own
LAYERS = {
    "errors": 0,
    "paths": 0,
    "yamlfile": 0,
    "plain": 0,
    "atomic": 0,
    "units": 0,
    "neuron": 0,
    "describe": 1,
    "io": 2,
    "data": 2,
    "mapping": 3,
    "sim": 4,
    "train": 4,
    "interop": 5,
    "analysis": 5,
    "report": 6,
    "experiments": 7,
    "cli": 8,
}
EXTRAS = {"torch", "numba", "pandas", "pyarrow", "dask", "distributed", "tonic", "pymetis", "h5py", "threadpoolctl"}
EXTRAS |= {"snntorch", "norse", "sinabs", "rockpool", "spyx", "jax", "flax", "nirtorch"}  # the interop extra


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """(module, names, inside a function) of every import statement."""
    tree = ast.parse(path.read_text())
    inner = {
        id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(f)
    }
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            assert n.level == 0, f"{path}: relative import"
            out.append((n.module or "", [a.name for a in n.names], id(n) in inner))
        elif isinstance(n, ast.Import):
            out += [(a.name, [], id(n) in inner) for a in n.names]
    return out


def _graph() -> nx.DiGraph:
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for m, p in mods.items():
        for mod, names, _ in _imports(p):
            if mod.startswith("neurosim"):
                for name in names or [""]:
                    target = f"{mod}.{name}"
                    g.add_edge(m, target if target in mods else mod)
    return g


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_no_import_cycle_counting_imports_inside_functions():
    assert list(nx.simple_cycles(_graph())) == []


def test_layers_import_one_way_and_the_trainer_never_imports_the_simulator():
    bad = []
    for a, b in _graph().edges:
        la, lb = _layer(a), _layer(b)
        if la is not None and lb is not None and lb > la:
            bad.append(f"{a} -> {b}")
        sides = (
            {a.split(".")[1:2] == ["sim"], b.split(".")[1:2] == ["train"]},
            {a.split(".")[1:2] == ["train"], b.split(".")[1:2] == ["sim"]},
        )
        if any(s == {True} for s in sides):
            bad.append(f"{a} -> {b}")
    assert bad == []
    assert {m.split(".")[1] for m in _modules() if m != "neurosim"} <= set(LAYERS)


def test_imports_inside_functions_are_only_for_optional_extras():
    bad = [
        f"{m}: {mod}"
        for m, p in _modules().items()
        for mod, _, inner in _imports(p)
        if inner and mod.split(".")[0] not in EXTRAS and not mod.startswith("neurosim.train.")
    ]
    assert bad == []


def test_no_private_name_crosses_modules():
    bad = [
        f"{m}: {mod}.{n}"
        for m, p in _modules().items()
        for mod, names, _ in _imports(p)
        if mod.startswith("neurosim")
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert bad == []


def test_every_folder_is_a_package_and_setuptools_finds_it():
    folders = {p.parent for p in PKG.rglob("*.py") if "__pycache__" not in p.parts}
    assert [str(f) for f in folders if not (f / "__init__.py").is_file()] == []
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    include = [s.strip() for s in cfg["options.packages.find"]["include"].split()]
    found = set(find_packages(str(ROOT), include=include))
    wanted = {".".join(f.relative_to(ROOT).parts) for f in folders}
    assert wanted <= found
    assert "options.package_data" not in cfg or "presets" not in str(dict(cfg["options.package_data"]))


# The wheel itself (every subpackage, the presets, the models, py.typed; installed and run away
# from the checkout) is tests/test_wheel.py.
