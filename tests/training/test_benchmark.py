import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.models import DeepCNN, SeedCNN
from cnn_jax.training.benchmark import forward_macs, train_flops_per_image

ROOT = Path(__file__).resolve().parents[2]


def test_seed_cnn_flops_per_layer():
    macs = forward_macs(SeedCNN())
    assert macs == {"conv1": 609_408, "conv2": 11_943_936, "dense1": 51_200, "dense2": 1_000}
    assert abs(train_flops_per_image(SeedCNN()) / 1e6 - 75.6) < 0.05
    # As trained: conv1 21x21 and conv2 16x16 outputs (the crop), the rest unchanged.
    trained = forward_macs(SeedCNN(), as_trained=True)
    assert trained == {**macs, "conv1": 21 * 21 * 36 * 32, "conv2": 16 * 16 * 1152 * 32}


def test_deep_cnn_flops():
    macs = forward_macs(DeepCNN())
    # 26², 24², 22² outputs of 3x3 convs on 1, 32, 32 channels; then 9², 7², 5² at 32/64 -> 64.
    assert macs["conv1"] == 26 * 26 * 9 * 32
    assert macs["conv3"] == 22 * 22 * 9 * 32 * 32
    assert macs["conv6"] == 5 * 5 * 9 * 64 * 64
    assert list(macs) == [f"conv{i}" for i in range(1, 7)] + ["dense1", "dense2"]
    # As trained (the crop to 26x26) the six conv outputs shrink; the dense layers do not.
    trained = forward_macs(DeepCNN(), as_trained=True)
    full, cropped = (26, 24, 22, 9, 7, 5), (24, 22, 20, 8, 6, 4)
    for i, (f, c) in enumerate(zip(full, cropped, strict=True)):
        assert trained[f"conv{i + 1}"] == macs[f"conv{i + 1}"] // f**2 * c**2
    assert trained["dense1"] == macs["dense1"] and trained["dense2"] == macs["dense2"]


def test_benchmark_command_runs_and_writes_json(mnist, tmp_path, capsys, load_script):
    del mnist
    bench = load_script("benchmark")
    out = tmp_path / "b"
    assert (
        bench.main(
            [
                "--archs",
                "seed",
                "--steps",
                "4",
                "--window",
                "2",
                "--batch-size",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads((out / "benchmark.json").read_text())
    seed = result["models"]["seed"]
    for key in (
        "images_per_second",
        "gflops",
        "matmul_gflops",
        "fraction_of_peak",
        "compile_seconds",
    ):
        assert seed[key] > 0
    assert len(seed["window_images_per_second"]) == 2
    assert abs(seed["gflops"] / seed["matmul_gflops"] - seed["fraction_of_peak"]) < 1e-9
    assert "images/s" in capsys.readouterr().out


def test_jitted_cpu_code_flushes_subnormals():
    # Why the benchmark needs no denormal handling: products below float32's normal range
    # become 0 in XLA's compiled code (numpy keeps the subnormal 1e-40).
    if jax.default_backend() != "cpu":
        pytest.skip("a CPU property")
    tiny = jnp.full((4,), 1e-20, jnp.float32)
    assert float(jax.jit(lambda x: x * jnp.float32(1e-20))(tiny)[0]) == 0.0
    assert np.float32(1e-20) * np.float32(1e-20) > 0
