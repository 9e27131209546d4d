"""Straight layers: every import inside ``jscc_rt`` (module level or inside a function) goes to the same or a lower
layer of :data:`LAYERS`, and no private name (``_x``) is imported from another module."""
from __future__ import annotations

import ast
from pathlib import Path

import jscc_rt

ROOT = Path(jscc_rt.__file__).resolve().parent

#: Bottom to top. A module is placed by its top-level package (``jscc_rt.<first part>``).
LAYERS: list[set[str]] = [
    {"_validate", "_progress", "_partial"},  # shared checks and progress; torch only
    {"channel", "data"},
    {"kernels"},
    {"diffusion"},
    {"models"},
    {"pipeline", "sim"},  # the simulated link
    {"runtime"},  # runners, the deployable receiver graphs, timing, the embeddable Receiver
    {"eval"},
    {"export", "baselines"},
    {"train", "bench"},
    {"demo", "cli", "__init__", "__main__"},
]


def _layer(part: str) -> int:
    for i, names in enumerate(LAYERS):
        if part in names:
            return i
    raise AssertionError(f"jscc_rt.{part} is in no layer of LAYERS; add it")


def _imports() -> list[tuple[str, int, str, list[str]]]:
    """``(file, line, imported module, imported names)`` for every ``jscc_rt`` import in the package."""
    out = []
    for f in sorted(ROOT.rglob("*.py")):
        for n in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "jscc_rt":
                out.append((str(f.relative_to(ROOT.parent)), n.lineno, n.module, [a.name for a in n.names]))
            elif isinstance(n, ast.Import):
                out += [(str(f.relative_to(ROOT.parent)), n.lineno, a.name, []) for a in n.names
                        if a.name.split(".")[0] == "jscc_rt"]
    return out


def _part(path_or_module: str) -> str:
    parts = path_or_module.replace("/", ".").removesuffix(".py").split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_part_has_a_layer() -> None:
    for p in ROOT.iterdir():
        if p.name.endswith(".py") or (p.is_dir() and (p / "__init__.py").is_file()):
            _layer(p.name.removesuffix(".py"))


def test_imports_go_down_only() -> None:
    up = [f"{f}:{line} imports {mod} (layer {_layer(_part(mod))} above {_layer(_part(f))})"
          for f, line, mod, _ in _imports() if _layer(_part(mod)) > _layer(_part(f))]
    assert up == []


def test_no_private_name_crosses_a_module() -> None:
    bad = [f"{f}:{line} imports {name} from {mod}" for f, line, mod, names in _imports() for name in names
           if name.startswith("_") and not name.startswith("__")]
    assert bad == []


def test_no_module_over_400_lines() -> None:
    """One concept per file: no module of the package grows past 400 lines."""
    long = {str(f.relative_to(ROOT.parent)): n for f in ROOT.rglob("*.py")
            if (n := len(f.read_text().splitlines())) > 400}
    assert long == {}
