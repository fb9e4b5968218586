"""results.json names the convolution routine that ran, never "auto"."""

import json

import jax
import pytest

from cnn_jax.nn import conv_kernel
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import run


@pytest.mark.parametrize("arch, conv", [("seed", "auto"), ("deep", "rows"), ("mlp", "auto")])
def test_results_name_the_convolution_that_ran(arch, conv, mnist, tmp_path):
    cfg = TrainConfig.tiny(arch=arch, conv=conv, limit=64, test_limit=32, batch_size=32)
    run(cfg, tmp_path, mnist, log=lambda _: None)
    recorded = json.loads((tmp_path / "results.json").read_text())["conv_routine"]
    if arch == "mlp":
        assert recorded is None  # no convolution to name
    elif conv == "rows":
        assert recorded == "rows"
    elif jax.default_backend() != "cpu":
        assert recorded == "xla"
    else:
        kernel = conv_kernel.state()
        assert recorded == (f"direct-{kernel.isas[0]}" if kernel.isas else "rows")
