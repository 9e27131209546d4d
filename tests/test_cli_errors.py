"""Bad command lines exit 2 with one line naming the value (issue 17's list), in-process; defaults are the
recommended configuration."""
from __future__ import annotations

from pathlib import Path

import pytest

from jscc_rt.cli import build_parser, main


@pytest.fixture(autouse=True)
def _no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSCC_DATA", raising=False)


@pytest.mark.parametrize("argv,needle", [
    (["export", "onnx", "--model", "vae-1_16", "--denoiser", "denoiser-vae-1_16", "--steps", "-1"], "steps must be >= 0"),
    (["export", "onnx", "--model", "vae-1_16", "--denoiser", "denoiser-vae-1_16", "--steps", "0"], "step budget 0"),
    (["train", "--ratio", "1/0"], "bandwidth ratio must be a fraction"),
    (["train", "--ratio", "abc"], "bandwidth ratio must be a fraction"),
    (["train", "--ratio", "2"], "must lie in (0, 1]"),
    (["train", "--lr", "nan"], "lr must be a finite positive number"),
    (["train", "--rayleigh-share", "0.3"], "rayleigh_share 0.3 needs --channel mixed"),
    (["train", "--ladder-weights", "1,2"], "ladder_weights [1.0, 2.0] need a rate-adaptive run (--min-ratio)"),
    (["train", "--model", "unrolled", "--ratio", "1/4", "--min-ratio", "1/64", "--ladder-weights", "1,2"],
     "ladder_weights [1.0, 2.0] must be 7 finite weights >= 0"),
    (["train-diffusion", "--jscc", "unrolled-1_16", "--lr", "-1"], "lr must be a finite positive number"),
    (["train-compress", "--base", "vae-1_16", "--steps", "0"], "steps must be >= 1"),
    (["bench", "pareto", "--iters", "0"], "iters must be >= 1"),
    (["bench", "pareto", "--backends", "foo"], "unknown backend(s) 'foo'"),
    (["simulate", "--symbols", "0"], "--symbols must be >= 1"),
    (["eval", "unrolled-1_16", "--draws", "0"], "draws must be >= 1"),
    (["baselines", "--ratio", "1/0", "--max-images", "1"], "bandwidth ratio must be a fraction"),
])
def test_bad_arguments_exit_2_with_one_line(argv: list[str], needle: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*argv, "--out", str(tmp_path / "out")] if argv[0] in ("train", "train-diffusion", "train-compress",
                                                                 "export", "bench", "eval", "baselines") else argv
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("jscc-rt ") and needle in err[0], err
    assert not list((tmp_path / "out").glob("*.onnx")) if (tmp_path / "out").exists() else True


def test_trainers_take_shipped_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``train-diffusion --jscc`` and ``train --init`` accept shipped names like every other command: the error
    below comes from the loaded model (its stride), not from a failed lookup."""
    assert main(["train-diffusion", "--jscc", "unrolled-1_16", "--crop", "60", "--out", str(tmp_path / "d")]) == 2
    assert "multiple of the JSCC model's downsampling 8" in capsys.readouterr().err
    assert main(["train", "--init", "unrolled-1_16", "--model", "deepjscc", "--steps", "1", "--out",
                 str(tmp_path / "t"), "--no-progress"]) == 2
    assert "--init unrolled-1_16 has config" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["eval-diffusion", "--model", "x"], ["bench", "pareto"],
                                  ["export", "onnx", "--model", "x"]])
def test_decoder_snr_defaults_to_the_recommended_value(argv: list[str]) -> None:
    from jscc_rt.diffusion.receiver import DECODER_SNR_AFTER_DENOISING_DB

    a = build_parser().parse_args(argv)
    assert a.decoder_snr == DECODER_SNR_AFTER_DENOISING_DB == 20.0
    assert build_parser().parse_args([*argv, "--decoder-snr", "effective"]).decoder_snr is None


def test_ladder_weights_that_are_not_numbers_are_an_argparse_error_naming_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "unrolled", "--min-ratio", "1/64", "--ratio", "1/4", "--ladder-weights", "1,x"])
    assert e.value.code == 2
    assert "argument --ladder-weights: '1,x' is not a comma-separated list of numbers" in capsys.readouterr().err
