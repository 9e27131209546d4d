"""Two-user NOMA: SINR bookkeeping, SIC, distillation loss, training and the CLI."""
from __future__ import annotations

import json
import math

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.cli import main
from jscc_rt.data.samples import sample_images
from jscc_rt.eval.metrics import psnr
from jscc_rt.models import load_model
from jscc_rt.models.config import JSCCConfig
from jscc_rt.models.noma import NOMAConfig, TwoUserNOMA, distillation_loss, sinr_db, teacher_pass


def _crops() -> tuple[torch.Tensor, torch.Tensor]:
    imgs = [im for _, im in sample_images()]
    return imgs[0][None, :, :96, :128], imgs[1][None, :, :96, :128]


def test_sinr_bookkeeping_and_bad_input() -> None:
    g1, g2 = sinr_db(0.8, torch.tensor([10.0]))
    assert math.isclose(float(g1), 10 * math.log10(0.8 / (0.2 + 0.1)), rel_tol=1e-5)
    assert math.isclose(float(g2), 10 * math.log10(0.2 * 10), rel_tol=1e-5)
    m = TwoUserNOMA(NOMAConfig(JSCCConfig(model="unrolled", latent_channels=8, width=8, unroll_iters=2)))
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(JsccInputError, match="power split"):
        m(x, x, torch.tensor([10.0]), 0.4)
    with pytest.raises(JsccInputError, match="one shape"):
        m(x, torch.rand(1, 3, 32, 40), torch.tensor([10.0]), 0.8)


def test_sic_recovers_user2_that_treating_interference_as_noise_loses() -> None:
    """With the trained single-user model in both slots, at 20 dB and a1 = 0.8, user 2 (a2 * SNR = 13 dB after
    cancellation) must decode far better with SIC than when it treats user 1 (SINR -6 dB) as noise."""
    teacher = load_model("jscc_rt/weights/unrolled-1_16.pt")
    x1, x2 = _crops()
    snr = torch.tensor([20.0])
    with torch.no_grad():
        sic = TwoUserNOMA.from_teacher(teacher, sic=True)(x1, x2, snr, 0.8, generator=torch.Generator().manual_seed(0))
        tin = TwoUserNOMA.from_teacher(teacher, sic=False)(x1, x2, snr, 0.8, generator=torch.Generator().manual_seed(0))
    p_sic, p_tin = float(psnr(x2, sic.images[1])[0]), float(psnr(x2, tin.images[1])[0])
    assert p_sic > p_tin + 3.0, (p_sic, p_tin)
    # superposed JSCC interference is not Gaussian noise to a single-user decoder: user 1 in NOMA stays well below
    # the teacher decoding alone at the same SINR, which is why the NOMA receivers are trained (with or without KD)
    with torch.no_grad():
        alone, _ = teacher_pass(teacher, x1, sic.sinr_db[0], generator=torch.Generator().manual_seed(1))
    assert float(psnr(x1, alone)[0]) > float(psnr(x1, sic.images[0])[0]) + 3.0


def test_distillation_loss_is_zero_for_the_teacher_itself_and_checks_layers() -> None:
    teacher = load_model("jscc_rt/weights/unrolled-1_16.pt")
    x, _ = _crops()
    sinr = torch.tensor([10.0])
    with torch.no_grad():
        img, feats = teacher_pass(teacher, x, sinr, generator=torch.Generator().manual_seed(0))
        fm, out = distillation_loss(feats, feats, img, img)
        assert len(feats) == teacher.config.unroll_iters + 2, "every iterate and both synthesis activations"
        assert float(fm) == 0.0 and float(out) == 0.0
        noisy = [f + 0.1 * f.std() * torch.randn_like(f) for f in feats]
        assert 0.0 < float(distillation_loss(noisy, feats, img, img)[0]) < 0.05
    with pytest.raises(JsccInputError, match="feature maps"):
        distillation_loss(feats[:2], feats, img, img)


def test_train_noma_with_and_without_kd_and_eval_cli(tmp_path) -> None:
    common = ["--teacher", "unrolled-1_16", "--steps", "3", "--val-every", "3", "--val-images", "2", "--crop", "64",
              "--batch-size", "2", "--no-progress"]
    assert main(["train-noma", *common, "--out", str(tmp_path / "kd")]) == 0
    assert main(["train-noma", *common, "--no-kd", "--out", str(tmp_path / "nokd")]) == 0
    side = json.loads((tmp_path / "nokd" / "model.json").read_text())
    assert side["kind"] == "NOMAConfig" and side["meta"]["train_config"]["kd_feature"] == 0.0
    rc = main(["eval-noma", str(tmp_path / "kd" / "model.pt"), str(tmp_path / "nokd" / "model.pt"), "--snr", "10",
               "--split", "0.8", "--out", str(tmp_path / "ev")])
    assert rc == 0
    rows = json.loads((tmp_path / "ev" / "noma.json").read_text())["rows"]
    assert {r["model"].split(" ")[-1] for r in rows} == {"on)", "off)"}
    assert all(10.0 < r["psnr_user1"] < 40.0 for r in rows)
    assert main(["eval-noma", str(tmp_path / "kd" / "noma_config.json")]) == 2, "not a checkpoint: clear error"


def test_noma_onnx_export_matches_torch(tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from jscc_rt.runtime.graphs import NOMAReceiverGraph, NOMATransmitterGraph

    teacher = load_model("jscc_rt/weights/unrolled-1_16.pt")
    from jscc_rt.models import save_model

    save_model(TwoUserNOMA.from_teacher(teacher), tmp_path / "noma.pt")
    assert main(["export", "noma", str(tmp_path / "noma.pt"), "--out", str(tmp_path / "onnx")]) == 0
    m = load_model(tmp_path / "noma.pt", expect="NOMAConfig")
    x1, x2 = _crops()  # 96x128: not the 64x96 export example, so the dynamic axes are exercised
    snr, a1 = torch.tensor([10.0]), torch.tensor([0.75])
    with torch.no_grad():
        sym = NOMATransmitterGraph(m)(x1, x2, snr, a1)
        y = sym + 0.1 * torch.randn(sym.shape, generator=torch.Generator().manual_seed(0))
        refs = {u: NOMAReceiverGraph(m, u)(y, snr, a1) for u in (1, 2)}
    feeds = {"images1": x1.numpy(), "images2": x2.numpy(), "snr_db": snr.numpy(), "a1": a1.numpy()}
    s = ort.InferenceSession(str(tmp_path / "onnx" / "noma_transmitter.onnx"), providers=["CPUExecutionProvider"])
    assert float((torch.from_numpy(s.run(None, feeds)[0]) - sym).abs().max()) < 1e-4, "symbols"
    for u in (1, 2):
        s = ort.InferenceSession(str(tmp_path / "onnx" / f"noma_user{u}.onnx"), providers=["CPUExecutionProvider"])
        out = torch.from_numpy(s.run(None, {"received": y.numpy(), "snr_db": snr.numpy(), "a1": a1.numpy()})[0])
        assert float((out - refs[u]).abs().max()) < 1e-4, f"user {u} images"
