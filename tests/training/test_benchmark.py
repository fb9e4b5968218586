import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.models import DeepCNN, SeedCNN
from cnn_jax.training.benchmark import MLP_WORKLOADS, forward_macs, train_flops_per_image

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
                "--mlps",
                "",
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


def test_mlp_workloads_flops_per_update():
    glorot = MLP_WORKLOADS["glorot"]
    macs = 784 * 1000 + 4 * 1000 * 1000 + 1000 * 10  # multiply-adds of one image's forward
    assert glorot.flops_per_update == 6 * macs * 10  # x2 FLOPs, x3 matmuls, batch 10
    assert MLP_WORKLOADS["glorot-x3"].networks == 3
    assert MLP_WORKLOADS["pretraining"].flops_per_update == 6 * 20 * (
        784 * 500 + 2 * 500 * 500 + 500 * 10
    )


def test_benchmark_times_mlps_on_both_engines_in_rounds(mnist, tmp_path, capsys, load_script):
    del mnist
    bench = load_script("benchmark")
    out = tmp_path / "b"
    argv = ["--archs", "", "--mlps", "nielsen", "--mlp-engines", "map,vmap", "--rounds", "2"]
    assert bench.main([*argv, "--mlp-updates", "5", "--out", str(out), "--no-progress"]) == 0
    result = json.loads((out / "benchmark.json").read_text())
    assert result["models"] == {}
    assert len(result["matmul_gflops_rounds"]) == 3  # before each round, after the last
    nielsen = result["mlps"]["nielsen"]
    assert nielsen["flops_per_update"] == 6 * 10 * (784 * 30 + 30 * 10)
    for engine in ("map", "vmap"):
        e = nielsen["engines"][engine]
        assert len(e["rounds_updates_per_second"]) == 2
        assert e["updates_per_second"] == float(np.median(e["rounds_updates_per_second"]))
        gflops = e["updates_per_second"] * nielsen["flops_per_update"] / 1e9
        assert abs(e["fraction_of_peak"] - gflops / result["matmul_gflops"]) < 1e-9
    assert "updates/s" in capsys.readouterr().out


def test_peers_without_torch_say_how_to_get_it(tmp_path, capsys, load_script, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    bench = load_script("benchmark")
    out = tmp_path / "b"
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--peers", "--archs", "seed", "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install" in err[0] and "[peers]" in err[0], err
    assert not out.exists()  # nothing was started


def test_peer_models_match_ours_and_train():
    torch = pytest.importorskip("torch", reason="the optional extra `peers` is not installed")
    from cnn_jax.nn.models import param_count
    from cnn_jax.training import peers

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, size=16)
    for arch, flax_model in (("seed", SeedCNN()), ("deep", DeepCNN())):
        model = peers.torch_model(arch, torch)
        ours = flax_model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
        assert sum(p.numel() for p in model.parameters()) == param_count(ours)
        assert tuple(model(torch.zeros(2, 1, 28, 28)).shape) == (2, 10)
        run = peers.peer_timer(
            arch, "torch eager", images, labels, batch_size=8, lr=1e-3, steps=2,
            train_flops_per_image=1,
        )  # fmt: skip
        result = run()
        assert result["images_per_second"] > 0 and np.isfinite(result["final_loss"])
