"""`import jscc_rt` needs only torch and numpy (extras are imported lazily)."""
from __future__ import annotations

import subprocess
import sys

EXTRAS = ["PIL", "onnx", "onnxruntime", "tensorrt", "triton", "matplotlib", "lpips", "skimage", "tqdm", "scipy"]


def test_import_needs_only_torch_and_numpy() -> None:
    code = (
        "import sys\n"
        f"for m in {EXTRAS!r}: sys.modules[m] = None  # any import of an extra now fails\n"
        "import jscc_rt, jscc_rt.channel, jscc_rt.models, jscc_rt.pipeline, jscc_rt.data, jscc_rt.eval, jscc_rt.cli\n"
        "print(jscc_rt.__version__)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0.1.0"
