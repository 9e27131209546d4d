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


def test_comparators9_script_skips_resumes_starts_and_reevaluates(tmp_path: Path) -> None:
    """train/comparators9.sh, with `make` and `jscc-rt` replaced by fakes that log their arguments: a final run with
    current results is left alone, an unfinished one resumed (with --allow-precision-change), a missing one
    started, a final run whose results are of other weights re-evaluated; each evaluation, and the end, is followed
    by the rate-adaptive comparison over the current results only, whose failure does not stop the queue."""
    import hashlib
    import json
    import os
    import subprocess
    import sys

    from jscc_rt.train.precision import cpu_bf16_supported

    work, bin_, calls = tmp_path / "w", tmp_path / "bin", tmp_path / "calls.log"
    (work / "train").mkdir(parents=True)
    (work / "train/comparators9.sh").write_bytes((ROOT / "train/comparators9.sh").read_bytes())
    bin_.mkdir()
    (bin_ / "python").write_text(f'#!/bin/bash\nexec {sys.executable} "$@"\n')  # a symlink would lose the venv
    (bin_ / "make").write_text(f"""#!/bin/bash
echo "make $*" >> {calls}
for a in "$@"; do case $a in RATIO=*) R=${{a#RATIO=}};; esac; done
out=train/checkpoints/fixed-comparator9-${{R/\\//_}}
mkdir -p $out && echo "weights $R" > $out/model.pt && echo '{{"meta": {{"final": true}}}}' > $out/model.json
""")
    (bin_ / "jscc-rt").write_text(f"""#!/bin/bash
echo "jscc-rt $*" >> {calls}
if [ "$1 $2" = "eval jscc" ]; then
  while [ $# -gt 0 ]; do if [ "$1" = --out ]; then mkdir -p "$2" && echo {{}} > "$2/results.json"; fi; shift; done
fi
[ "$1 $2" != "eval compare" ]  # the comparison fails: the queue must go on
""")
    for f in ("python", "make", "jscc-rt"):
        (bin_ / f).chmod(0o755)

    def run_dir(r: str, *, final: bool, state: bool = False, results_sha: str | None = None) -> None:
        out, res = work / f"train/checkpoints/fixed-comparator9-{r}", work / f"docs/results/fixed_comparator9_{r}"
        out.mkdir(parents=True)
        (out / "model.pt").write_text(f"weights {r}\n")
        (out / "model.json").write_text(json.dumps({"meta": {"final": final}}))
        if state:
            (out / "train_state.pt").write_text("state")
        if results_sha is not None:
            res.mkdir(parents=True)
            (res / "results.json").write_text("{}")
            (res / "model.sha256").write_text(results_sha + "\n")

    run_dir("1_16", final=True, results_sha=hashlib.sha256(b"weights 1_16\n").hexdigest())  # done and evaluated
    run_dir("1_4", final=False, state=True)  # stopped mid-run
    run_dir("1_32", final=True, results_sha="0" * 64)  # evaluated, but on other weights
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "BIN": str(bin_), "DATA": "D",
           "RATIOS": "1/16 1/4 1/64 1/32"}
    proc = subprocess.run(["bash", "train/comparators9.sh"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = calls.read_text().splitlines()
    prec = "" if cpu_bf16_supported() else "--precision fp32"
    compare = ("jscc-rt eval compare --adaptive docs/results/kodak_ra_ratios --fixed {} "
               "--out docs/results/fixed_comparator9_compare.md")
    res = lambda *rs: " ".join(f"docs/results/fixed_comparator9_{r}/results.json" for r in rs)  # noqa: E731
    ev = lambda r: (f"jscc-rt eval jscc train/checkpoints/fixed-comparator9-{r}/model.pt --data D/kodak --snr 0 10 20 "  # noqa: E731
                    f"--channel awgn --out docs/results/fixed_comparator9_{r} --no-progress")
    assert log == [
        f"make --no-print-directory train-fixed-comparator9 RATIO=1/4 DATA=D RESUME=--resume --allow-precision-change{' ' + prec if prec else ''}",
        ev("1_4"), compare.format(res("1_16", "1_4")),  # 1_32's results are of other weights: left out
        f"make --no-print-directory train-fixed-comparator9 RATIO=1/64 DATA=D RESUME={prec}",
        ev("1_64"), compare.format(res("1_64", "1_16", "1_4")),
        ev("1_32"), compare.format(res("1_64", "1_32", "1_16", "1_4")),
        compare.format(res("1_64", "1_32", "1_16", "1_4")),  # once more at the end
    ]
    assert proc.stderr.count("eval compare failed: table not updated") == 4
    assert (work / "docs/results/fixed_comparator9_1_32/model.sha256").read_text().strip() == \
        hashlib.sha256(b"weights 1_32\n").hexdigest()
    # make fails (as GNU make does when the trainer, stopped by SIGTERM, exits 143): the queue ends there and
    # nothing unfinished is evaluated
    (work / "train/checkpoints/fixed-comparator9-1_64/model.json").write_text(json.dumps({"meta": {"final": False}}))
    (bin_ / "make").write_text(f'#!/bin/bash\necho "make $*" >> {calls}\nexit 2\n')
    before = len(calls.read_text().splitlines())
    proc = subprocess.run(["bash", "train/comparators9.sh"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert [c.split(" RATIO=")[1].split()[0] for c in calls.read_text().splitlines()[before:]] == ["1/64"]
