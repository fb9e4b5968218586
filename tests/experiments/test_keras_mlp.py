"""experiments/keras_mlp.py end to end."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def keras_script(load_script):
    return load_script("keras_mlp")


def test_keras_script_writes_json(tmp_path, keras_script):
    out = tmp_path / "k"
    args = ["--points", "8", "--batch-size", "8", "--hidden", "4", "--epochs", "1"]
    assert keras_script.main([*args, "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert len(r["fit"]["train_loss"]) == 1 and len(r["fit"]["grid_prediction"]) == 201
    assert r["final_train_mse"] == r["fit"]["train_loss"][-1]
    np.testing.assert_allclose(
        r["fit"]["grid_target"], np.sin(np.pi * np.array(r["fit"]["grid_x"])), atol=1e-6
    )
    assert (out / "fit.png").stat().st_size < 300_000
