import argparse
import dataclasses

import jax
import numpy as np
import pytest

from cnn_jax import data as data_lib
from cnn_jax import flags
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.training import devices
from cnn_jax.training.checkpoint import RunCheckpoints
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.train import (
    create_train_state,
    make_eval_step,
    make_train_step,
    train_and_evaluate,
)

B = 32


def fixed_batch(n=B):
    k1, k2 = jax.random.split(jax.random.key(42))
    return {
        "image": jax.random.uniform(k1, (n, 28, 28, 1)),
        "label": jax.random.randint(k2, (n,), 0, 10),
    }


CONFIGS = {
    "seed": TrainConfig.tiny(arch="seed", batch_size=B, micro_batch=B),
    "seed-micro8-l2": TrainConfig.tiny(arch="seed", batch_size=B, micro_batch=8, l2=1e-3),
    "mlp-dropout-sgd": TrainConfig.tiny(
        arch="mlp",
        batch_size=B,
        dropout=0.3,
        optimizer="sgd",
        lr=0.5,
        mlp_widths=(30, 10),
        activation="sigmoid",
        init="nielsen",
        loss="sigmoid_ce",
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_jit_equals_eager_and_compiles_once(name):
    cfg = CONFIGS[name]
    key = jax.random.key(0)
    step = make_train_step(cfg)
    jitted = jax.jit(step, donate_argnums=0)
    eager_state, eager_metrics = step(create_train_state(cfg, key), fixed_batch(), key)
    # Placed on the one-device mesh first, as train_and_evaluate does: the step's output
    # lives there, and an input elsewhere would compile the step a second time.
    on_mesh = devices.replicate(create_train_state(cfg, key), devices.data_mesh(1))
    state, metrics = jitted(on_mesh, fixed_batch(), key)
    for a, b in zip(
        jax.tree.leaves(state.params), jax.tree.leaves(eager_state.params), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["loss"], eager_metrics["loss"], rtol=1e-5)
    state, _ = jitted(state, fixed_batch(), key)
    assert int(state.step) == 2
    assert jitted._cache_size() == 1  # the second call reused the first compilation


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_loss_falls_on_a_fixed_batch(name):
    cfg = CONFIGS[name]
    key = jax.random.key(0)
    step = jax.jit(make_train_step(cfg), donate_argnums=0)
    state = create_train_state(cfg, key)
    losses = []
    for _ in range(25):
        state, m = step(state, fixed_batch(), key)
        losses.append(float(m["loss"]))
    assert losses[-1] < 0.75 * losses[0], losses


def test_micro_batching_is_the_same_gradient():
    key = jax.random.key(0)
    results = []
    for micro in (B, 8):
        cfg = TrainConfig.tiny(
            arch="seed", batch_size=B, micro_batch=micro, optimizer="sgd", lr=0.1
        )
        state, metrics = jax.jit(make_train_step(cfg))(
            create_train_state(cfg, key), fixed_batch(), key
        )
        results.append((state.params, metrics))
    (p_full, m_full), (p_micro, m_micro) = results
    np.testing.assert_allclose(m_micro["grad_norm"], m_full["grad_norm"], rtol=1e-5)
    np.testing.assert_allclose(m_micro["loss"], m_full["loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(p_micro), jax.tree.leaves(p_full), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_cpu_convolution_gives_xlas_trajectory():
    """Five SGD steps of the seed CNN from one seed with the CPU default convolution (the
    C++ kernel where it is built, else the rows method) and with XLA's: the same parameters
    up to float32 rounding. Adam would divide near-zero gradients by their own size, turning
    rounding into steps."""
    key = jax.random.key(4)
    params = []
    for impl in ("auto", "xla"):
        cfg = TrainConfig.tiny(
            arch="seed", batch_size=B, conv=impl, micro_batch=16, optimizer="sgd", lr=0.1
        )
        step = jax.jit(make_train_step(cfg))
        state = create_train_state(cfg, key)
        for i in range(5):
            state, _ = step(state, fixed_batch(), jax.random.fold_in(key, i))
        params.append(state.params)
    for a, b in zip(*map(jax.tree.leaves, params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_dropout_masks_do_not_depend_on_the_micro_batch():
    """Each image draws its own mask from (step, position in the batch), so splitting the
    batch into other chunks gives the same masks, hence the same gradient."""
    key = jax.random.key(3)
    results = []
    for micro in (B, 8, 4):
        cfg = TrainConfig.tiny(arch="seed", batch_size=B, micro_batch=micro, dropout=0.5)
        results.append(
            jax.jit(make_train_step(cfg))(create_train_state(cfg, key), fixed_batch(), key)
        )
    (p_full, m_full), *others = results
    for p_micro, m_micro in others:
        np.testing.assert_allclose(m_micro["loss"], m_full["loss"], rtol=1e-5)
        np.testing.assert_allclose(m_micro["grad_norm"], m_full["grad_norm"], rtol=1e-5)
        for a, b in zip(jax.tree.leaves(p_micro), jax.tree.leaves(p_full), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and the masks are really drawn: another dropout key gives another gradient
    cfg = TrainConfig.tiny(arch="seed", batch_size=B, micro_batch=8, dropout=0.5)
    other = jax.random.key(4)
    _, m_other = jax.jit(make_train_step(cfg))(create_train_state(cfg, key), fixed_batch(), other)
    assert abs(float(m_other["loss"]) - float(m_full["loss"])) > 1e-4


def test_chunked_evaluation_is_the_same_as_whole_batch():
    batch = fixed_batch()
    out = []
    for micro in (4, B):  # 4: lax.map over chunks; B: one call
        cfg = TrainConfig.tiny(arch="seed", batch_size=B, micro_batch=micro)
        state = create_train_state(cfg, jax.random.key(0))
        out.append(jax.jit(make_eval_step(cfg, state.apply_fn))(state.params, batch))
    np.testing.assert_allclose(out[0]["loss_sum"], out[1]["loss_sum"], rtol=1e-5)
    assert int(out[0]["correct"]) == int(out[1]["correct"])


def synthetic_mnist(n_train=128, n_test=64) -> data_lib.Mnist:
    rng = np.random.default_rng(0)  # fixture data only; the training randomness is JAX's
    labels = rng.integers(0, 10, n_train + n_test).astype(np.int32)
    images = rng.integers(0, 50, (n_train + n_test, 28, 28, 1)).astype(np.uint8)
    images[np.arange(labels.size), 2 * labels + 2, 5:20, 0] = 255  # a learnable bar per class
    return data_lib.Mnist(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:])


def test_same_seed_same_numbers_other_seed_other_numbers():
    ds = synthetic_mnist()
    # 3 epochs of 4 steps: enough for the bars to be learned well above chance.
    cfg = TrainConfig.tiny(arch="mlp", epochs=3, dropout=0.2, limit=None, test_limit=None)
    runs = [
        train_and_evaluate(dataclasses.replace(cfg, seed=s), ds, log=lambda _: None)[1]
        for s in (0, 0, 1)
    ]
    strip = [[{k: v for k, v in h.items() if "second" not in k} for h in run] for run in runs]
    assert strip[0] == strip[1]
    assert strip[0] != strip[2]
    assert strip[0][-1]["test_accuracy"] > 0.5  # the bars are learnable: well above 0.1


def test_batch_larger_than_data_is_an_error():
    with pytest.raises(UsageError, match="more than the 128 training images"):
        train_and_evaluate(
            TrainConfig.tiny(arch="mlp", batch_size=512, limit=None, test_limit=None),
            synthetic_mnist(),
        )


def test_config_validation():
    for bad in (dict(epochs=-1), dict(dropout=1.0), dict(arch="vgg"), dict(micro_batch=5)):
        with pytest.raises(UsageError):
            TrainConfig(**bad)


def test_divergence_stops_with_one_line_and_saves_nothing(tmp_path):
    cfg = TrainConfig.tiny(arch="mlp", optimizer="sgd", lr=1e12, limit=None, test_limit=None)
    with pytest.raises(Diverged) as info:
        train_and_evaluate(cfg, synthetic_mnist(), tmp_path, log=lambda _: None)
    assert str(info.value) == ("epoch 1 of mlp/lr=1e+12: non-finite loss; lower the learning rate")
    assert not list((tmp_path / "checkpoints").iterdir())


def test_same_run_ignores_only_the_epoch_count():
    cfg = TrainConfig.tiny()
    assert cfg.same_run(dataclasses.replace(cfg, epochs=5))
    assert not cfg.same_run(dataclasses.replace(cfg, lr=0.01))
    assert cfg.differences(dataclasses.replace(cfg, lr=0.01, epochs=3)) == {"lr": (1e-3, 0.01)}
    # A checkpoint's config JSON carries the data source beside the fields.
    assert TrainConfig.from_dict({**cfg.to_dict(), "data_source": "idx:/x"}) == cfg


def test_every_config_field_is_a_flag():
    parser = argparse.ArgumentParser()
    flags.add_flags(parser, TrainConfig)
    dests = {action.dest for action in parser._actions}
    assert {field.name for field in dataclasses.fields(TrainConfig)} <= dests
    args = parser.parse_args(["--widths", "30,10", "--micro-batch", "4", "--conv", "xla"])
    cfg = flags.from_flags(TrainConfig, vars(args))
    assert cfg.mlp_widths == (30, 10) and cfg.micro_batch == 4 and cfg.conv == "xla"
    assert flags.from_flags(TrainConfig, vars(parser.parse_args([]))) == TrainConfig()


def test_mlp_output_width_must_be_ten():
    with pytest.raises(UsageError, match="last width is its 10 outputs"):
        TrainConfig(arch="mlp", mlp_widths=(30, 5))
    TrainConfig(arch="seed", mlp_widths=(30, 5))  # unused by a CNN


def test_every_flag_help_is_a_sentence():
    from cnn_jax.training.benchmark import BenchmarkConfig

    for cls in (TrainConfig, BenchmarkConfig):
        for field in dataclasses.fields(cls):
            text = field.metadata["help"]
            assert text[0].isupper() and text.endswith("."), (cls.__name__, field.name, text)


def test_keep_epochs_keeps_those_and_the_newest_and_resumes_exactly(tmp_path):
    from cnn_jax.training.run import load_run
    from cnn_jax.training.train import initial_state

    ds, quiet = synthetic_mnist(), (lambda _: None)
    cfg = TrainConfig.tiny(arch="mlp", epochs=5, limit=None, test_limit=None)
    _, whole = train_and_evaluate(cfg, ds, tmp_path / "whole", log=quiet, keep_epochs=(0, 1))
    with RunCheckpoints(tmp_path / "whole", read_only=True) as ckpt:
        assert ckpt.all_steps() == [0, 1, 4, 5]  # the chosen epochs and the two newest
    # Stopped after 2 epochs, then continued to 5 with the same epochs kept.
    short = dataclasses.replace(cfg, epochs=2)
    train_and_evaluate(short, ds, tmp_path / "split", log=quiet, keep_epochs=(0, 1))
    _, split = train_and_evaluate(cfg, ds, tmp_path / "split", log=quiet, keep_epochs=(0, 1))
    with RunCheckpoints(tmp_path / "split", read_only=True) as ckpt:
        assert ckpt.all_steps() == [0, 1, 4, 5]
    # A run resumed with epochs to keep that it has already passed says so.
    said = []
    more = dataclasses.replace(cfg, epochs=6)
    train_and_evaluate(more, ds, tmp_path / "split", log=said.append, keep_epochs=(0, 2, 3))
    assert "epochs 2, 3 were not kept by the run resumed here" in said
    drop_time = lambda h: [{k: v for k, v in r.items() if "second" not in k} for r in h]  # noqa: E731
    assert drop_time(split) == drop_time(whole)
    # Epoch 0 is the initialization; epoch 1 is not.
    init = jax.tree.leaves(initial_state(cfg).params)
    at = {e: jax.tree.leaves(load_run(tmp_path / "whole", e).params) for e in (0, 1)}
    assert load_run(tmp_path / "whole", 0).history == []
    for a, b, c in zip(init, at[0], at[1], strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_keep_epochs_past_the_run_is_an_error(tmp_path):
    cfg = TrainConfig.tiny(arch="mlp", epochs=2, limit=None, test_limit=None)
    with pytest.raises(UsageError, match="--keep-epochs 3: the run has epochs 0 to 2 only"):
        train_and_evaluate(cfg, synthetic_mnist(), tmp_path, keep_epochs=(0, 3))
    assert not (tmp_path / "checkpoints").exists()
