"""The CLI, in-process: help for every subcommand, simulate vs theory, train/eval end to end, error exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jscc_rt.cli import build_parser, main

SUBCOMMANDS = ["simulate", "train", "train-diffusion", "train-compress", "eval", "eval-diffusion", "eval-unrolled",
               "train-noma", "eval-noma", "export", "bench", "baselines", "demo"]


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_help(cmd: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert cmd in capsys.readouterr().out


def test_all_subcommands_registered() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(SUBCOMMANDS) <= set(sub.choices)


def test_simulate_json_matches_theory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--snr", "0", "6", "--symbols", "400000", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for r in rows:
        assert abs(r["measured_snr_db"] - r["snr_db"]) < 0.05
        assert abs(r["ber_bpsk"] / r["ber_bpsk_theory"] - 1) < 0.1


def test_simulate_rejects_bad_snr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--snr", "55"]) == 2
    assert "snr_db must lie in [-20, 40]" in capsys.readouterr().err


def test_train_then_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    out = tmp_path / "run"
    assert main(["train", "--width", "16", "--crop", "32", "--batch-size", "2", "--steps", "3", "--val-every", "3",
                 "--val-images", "1", "--threads", "1", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    ev = tmp_path / "ev"
    assert main(["eval", str(out / "model.pt"), "--snr", "0", "10", "--channel", "awgn", "rayleigh", "--draws", "1",
                 "--out", str(ev), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| model | k/n | channel |" in printed
    res = json.loads((ev / "results.json").read_text())
    assert len(res["results"]) == 4 and res["meta"]["eval_set"].startswith("embedded")
    assert (ev / "psnr_vs_snr.png").stat().st_size > 1000


def test_eval_missing_checkpoint_and_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nope.pt")]) == 2
    assert "neither a file nor shipped weights" in capsys.readouterr().err
    assert main(["eval", "whatever", "--data", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_diffusion_train_simulate_and_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)
    from jscc_rt import JSCCConfig, JSCCModel, save_model

    save_model(JSCCModel(JSCCConfig(width=16)), tmp_path / "jscc.pt")
    d = tmp_path / "diff"
    assert main(["train-diffusion", "--jscc", str(tmp_path / "jscc.pt"), "--crop", "64", "--n-latents", "32",
                 "--latent-crop", "8", "--batch-size", "4", "--steps", "4", "--cd-steps", "2", "--width", "16",
                 "--threads", "1", "--out", str(d), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["simulate", "--model", str(tmp_path / "jscc.pt"), "--denoiser", str(d / "denoiser.pt"),
                 "--steps", "2", "--snr", "5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["snr_db"] == 5.0 and 5 < rows[0]["psnr"] < 60
    assert main(["eval-diffusion", "--model", str(tmp_path / "jscc.pt"), "--denoiser", str(d / "denoiser.pt"),
                 "--consistency", str(d / "consistency.pt"), "--snr", "0", "--ddim-steps", "1",
                 "--cm-steps", "1", "--noise-start-steps", "1", "--max-images", "1", "--out", str(tmp_path / "ev"),
                 "--no-progress"]) == 0
    out = json.loads((tmp_path / "ev" / "diffusion.json").read_text())
    assert [r["receiver"] for r in out] == ["decoder", "decoder-cond", "ddim", "consistency", "ddim-from-noise",
                                              "mean-latent"]
    latent_mean = json.loads((d / "denoiser.json").read_text())["meta"]["latent_mean"]
    assert len(latent_mean) == 24 and all(abs(v) < 5 for v in latent_mean)
    assert main(["simulate", "--model", str(tmp_path / "jscc.pt"), "--denoiser", str(d / "denoiser.pt"),
                 "--steps", "2000"]) == 2
    assert "exceeds the schedule" in capsys.readouterr().err


@pytest.mark.parametrize("new,old", [
    (["train", "jscc", "--model", "unrolled", "--out", "x"], ["train", "--model", "unrolled", "--out", "x"]),
    (["train", "diffusion", "--jscc", "m", "--out", "x"], ["train-diffusion", "--jscc", "m", "--out", "x"]),
    (["train", "compress", "--base", "m", "--out", "x"], ["train-compress", "--base", "m", "--out", "x"]),
    (["train", "noma", "--out", "x"], ["train-noma", "--out", "x"]),
    (["eval", "jscc", "m.pt", "--snr", "0"], ["eval", "m.pt", "--snr", "0"]),
    (["eval", "diffusion", "--model", "m"], ["eval-diffusion", "--model", "m"]),
    (["eval", "unrolled", "m.pt"], ["eval-unrolled", "m.pt"]),
    (["eval", "noma", "s.pt"], ["eval-noma", "s.pt"]),
])
def test_command_groups_and_todays_spellings_parse_alike(new: list[str], old: list[str]) -> None:
    """`jscc-rt train|eval KIND` is the grammar; the older flat spellings stay as aliases with the same options."""
    from jscc_rt.cli import normalize

    a, b = (vars(build_parser().parse_args(normalize(v))) for v in (new, old))
    assert a["func"] is b["func"]
    strip = ("command", "train_command", "eval_command", "func")
    assert {k: v for k, v in a.items() if k not in strip} == {k: v for k, v in b.items() if k not in strip}


def test_group_help_lists_the_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    for group, kinds in (("train", ("jscc", "diffusion", "receiver", "compress", "compress-decoder", "noma")),
                         ("eval", ("jscc", "diffusion", "unrolled", "noma", "zoom", "compare"))):
        with pytest.raises(SystemExit):
            main([group, "--help"])
        listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()
                  if line.startswith("    ") and not line.startswith("     ")]
        assert listed == list(kinds)


def test_module_entry_points() -> None:
    """`python -m jscc_rt` and `python -m jscc_rt.cli` (what torchrun runs) both start the CLI."""
    import subprocess
    import sys

    for mod in ("jscc_rt", "jscc_rt.cli"):
        r = subprocess.run([sys.executable, "-m", mod, "simulate", "--help"], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0 and "jscc-rt simulate" in r.stdout, r.stderr
