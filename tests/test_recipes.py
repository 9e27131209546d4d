"""The card's top-level recipe folders: train/, export/, kernels/ are not importable; every shipped weight has a
`make train-NAME` recipe whose command is TRAINING.md's (plus the settings it ran with) and parses as a valid
command line; `make engines` and `make kernels` exist."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from jscc_rt.cli import build_parser, normalize
from jscc_rt.models.registry import WEIGHTS_DIR, shipped_weights

ROOT = Path(__file__).resolve().parent.parent
TRAINING = (WEIGHTS_DIR / "TRAINING.md").read_text()


def _recipes() -> dict[str, str]:
    """``{target: first recipe line}`` of train/recipes.mk with $(JR) / $(TRAIN_DATA) / ... expanded."""
    text = (ROOT / "train/recipes.mk").read_text()
    var = dict(re.findall(r"^(\w+) \??= ?(.*)$", text, flags=re.M))
    out = {}
    for targets, line in re.findall(r"^([\w .-]+): \$\(STAMP\)\n(?:#.*\n)*\t(.*)$", text, flags=re.M):
        for _ in range(3):
            line = re.sub(r"\$\((\w+)\)", lambda m: var.get(m.group(1), m.group(0)), line)
        for t in targets.split():
            out[t] = line
    return out


@pytest.mark.parametrize("folder", ["train", "export", "kernels"])
def test_recipe_folders_are_not_packages(folder: str) -> None:
    d = ROOT / folder
    assert (d / "README.md").is_file() and (d / "recipes.mk").is_file()
    assert not list(d.rglob("__init__.py")) and not list(d.rglob("*.py"))


def test_makefile_includes_the_recipes() -> None:
    mk = (ROOT / "Makefile").read_text()
    assert "include train/recipes.mk export/recipes.mk kernels/recipes.mk" in mk
    assert re.search(r"^engines:", (ROOT / "export/recipes.mk").read_text(), flags=re.M)
    assert re.search(r"^kernels:", (ROOT / "kernels/recipes.mk").read_text(), flags=re.M)


@pytest.mark.parametrize("name", shipped_weights())
def test_every_shipped_weight_has_its_training_command(name: str) -> None:
    recipes = _recipes()
    assert f"train-{name}" in recipes, f"no `make train-{name}` in train/recipes.mk"
    argv = shlex.split(recipes[f"train-{name}"])
    assert argv[0] == "$(BIN)/jscc-rt"
    args = build_parser().parse_args(normalize(argv[1:]))  # a valid command line of today's CLI
    section = re.search(rf"## `{re.escape(name)}\.pt`\n((?:.*\n)*?)(?=## |\Z)", TRAINING).group(1)
    doc = re.search(r"- command[^`]*: `(jscc-rt [^`]*)`", section)
    if doc is None:  # e.g. the consistency student: "same run as ..."
        return
    documented = [a for a in shlex.split(doc.group(1).split("#")[0])[1:] if a != "[--resume]"]
    assert args.command == documented[0]
    given = set(zip(argv[1:], argv[2:] + [""]))
    missing = [f"{a} {b}" for a, b in zip(documented, documented[1:] + [""])
               if a.startswith("--") and not b.startswith("--") and b and (a, b) not in given]
    missing += [a for a in documented if a.startswith("--") and a not in argv]
    assert missing == [], f"train-{name} differs from TRAINING.md in {missing}"
