"""Bad input to the channel gets a clear error naming the value (issue 2)."""
from __future__ import annotations

import pytest
import torch

from jscc_rt._validate import JsccInputError
from jscc_rt.channel import Channel, ChannelConfig, from_symbols, power_normalize, to_symbols


@pytest.mark.parametrize("snr", [-25.0, 45.0, float("nan"), [0.0, 50.0]])
def test_snr_out_of_range(snr: object) -> None:
    x = power_normalize(torch.randn(2, 8, 2))
    with pytest.raises(JsccInputError, match="snr_db"):
        Channel()(x, snr)


def test_wrong_shapes_and_dtypes() -> None:
    with pytest.raises(JsccInputError, match="last dimension 2"):
        Channel()(torch.randn(2, 8, 3), 0.0)
    with pytest.raises(JsccInputError, match="3 dimensions"):
        Channel()(torch.randn(8, 2), 0.0)
    with pytest.raises(JsccInputError, match="floating-point"):
        power_normalize(torch.ones(2, 8, 2, dtype=torch.int64))
    with pytest.raises(JsccInputError, match="odd"):
        to_symbols(torch.randn(2, 3, 1, 1))
    with pytest.raises(JsccInputError, match="latent shape"):
        from_symbols(torch.randn(2, 8, 2), (3, 2, 2))
    with pytest.raises(JsccInputError, match=r"shape \(2,\)"):
        Channel()(torch.randn(2, 8, 2), torch.zeros(3))


def test_non_finite_and_zero_power() -> None:
    x = torch.randn(2, 8, 2)
    x[1, 3, 0] = float("nan")
    with pytest.raises(JsccInputError, match="non-finite"):
        power_normalize(x)
    z = torch.randn(3, 8, 2)
    z[2] = 0
    with pytest.raises(JsccInputError, match=r"samples \[2\] have zero power"):
        power_normalize(z)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"kind": "rician"}, "kind"), ({"block_len": 0}, "block_len"), ({"csi_err_var": 1.0}, "csi_err_var"),
     ({"equalizer": "ml"}, "equalizer"), ({"power": 0.0}, "power")],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    with pytest.raises(JsccInputError, match=match):
        ChannelConfig(**kwargs)
