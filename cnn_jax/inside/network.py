"""Which network and which digit to draw: a saved run (or a brief one trained here), and
a test image chosen by index or by label; which networks to probe, and which to compare."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.inside.layers import output_activation
from cnn_jax.inside.page import ARCH_NAMES, write_visualization
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import SavedRun, finished_results, load_run, run
from cnn_jax.training.train import build_model, create_train_state, initial_state

# Without a checkpoint: the seed CNN, one epoch on 2,000 images (about 90 % test accuracy).
BRIEF_TRAINING = TrainConfig(arch="seed", epochs=1, batch_size=32, limit=2000, test_limit=1000)
BRIEF_RUN_NAME = "brief-seed-run"


def pick_index(labels: np.ndarray, *, index: int | None = None, digit: int | None = None) -> int:
    """The test image to draw: ``index``, the first image labelled ``digit``, or 0."""
    if digit is not None:
        if not 0 <= digit <= 9:
            raise UsageError(f"--digit must be a digit 0-9, got {digit}")
        if not np.any(labels == digit):
            raise UsageError(f"no test image has the label {digit}")
        return int(np.argmax(labels == digit))
    index = 0 if index is None else index
    if not 0 <= index < labels.shape[0]:
        raise UsageError(
            f"--index {index} is out of range: the test set has {labels.shape[0]:,} "
            f"images (0-{labels.shape[0] - 1})"
        )
    return index


def brief_run(
    run_dir: str | Path,
    mnist: data_lib.Mnist,
    *,
    epoch: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[SavedRun, str]:
    """Train BRIEF_TRAINING into ``run_dir`` (or reuse it there), holding the folder while
    training; return the saved run and a note saying so."""
    run_dir = Path(run_dir)
    cfg = BRIEF_TRAINING
    what = f"{ARCH_NAMES[cfg.arch]} ({cfg.epochs} epoch on the first {cfg.limit:,} training images)"
    with cli.RunFolder(run_dir):
        if finished_results(run_dir, cfg, mnist.source) is None:
            log(f"no --checkpoint: training {what} briefly first, into {run_dir}")
            run(cfg, run_dir, mnist, progress=cli.progress_bars(not progress), log=log)
        else:
            log(f"no --checkpoint: using the brief run of {what} already in {run_dir}")
        saved = load_run(run_dir, epoch)
    note = (
        f"no --checkpoint was given, so {what} was trained briefly first, into {run_dir}. "
        "Train a full run with experiments/mnist_cnn.py and pass --checkpoint RUN_DIR."
    )
    return saved, note


def draw(
    out: str | Path,
    saved: SavedRun,
    run_dir: str | Path,
    mnist: data_lib.Mnist,
    *,
    index: int,
    trained_here: str | None = None,
    stats_images: int = 1000,
    per_map_scale: bool = False,
    command: str = "",
) -> dict:
    """Test image ``index`` through the saved run's network, written to ``out`` by
    :func:`write_visualization`; returns its results."""
    cfg = saved.config
    cli.check_count("--stats-images", stats_images, len(mnist.test_labels), "test images")
    source = {
        "checkpoint": str(run_dir),
        "epoch": saved.epoch,
        "arch": cfg.arch,
        "test_accuracy": saved.test_accuracy,
        "trained_here": trained_here,
        "config": cfg.to_dict(),
    }
    return write_visualization(
        out,
        model=build_model(cfg),
        params=saved.params,
        images=data_lib.scale(mnist.test_images),
        labels=mnist.test_labels,
        index=index,
        source=source,
        output=output_activation(cfg.loss),
        stats_images=stats_images,
        per_map_scale=per_map_scale,
        command=command,
    )


# ----------------------------------------------------------------------------- networks to probe

# What each flag of experiments/probe_layers.py asks for.
TRAINED, INIT_OF_RUN, INIT_OF_ARCH = "checkpoint", "at_init_of", "at_init"


def networks_to_probe(
    requests: Sequence[tuple[str, str]], *, seed: int, key: jax.Array
) -> list[dict]:
    """The networks ``requests`` names, in order: (TRAINED, RUN_DIR) the run's latest
    checkpoint; (INIT_OF_RUN, RUN_DIR) the same run's network before its first step, built
    from its saved config and seed exactly as training built it; (INIT_OF_ARCH, ARCH) the
    default config of ARCH with ``seed``, initialized from ``key`` folded with the
    network's position in ``requests``.

    Returns [{label, cfg, source, params}], ``params`` a function that builds them (the
    initializations wait until the work starts). Every run folder is read here, so a bad
    one fails (one line) before anything is computed."""
    nets = []
    for i, (kind, value) in enumerate(requests):
        if kind == INIT_OF_ARCH:
            cfg = TrainConfig(arch=value, seed=seed)
            label, source = f"{value} at init", {"checkpoint": None, "seed": seed}
            init_key = jax.random.fold_in(key, i)
            params = lambda cfg=cfg, k=init_key: create_train_state(cfg, k).params  # noqa: E731
        else:
            saved = load_run(value)
            cfg, name = saved.config, Path(value).resolve().name
            if kind == TRAINED:
                label = f"{name} (epoch {saved.epoch})"
                source = {"checkpoint": str(value), "epoch": saved.epoch,
                          "test_accuracy": saved.test_accuracy}  # fmt: skip
                params = lambda saved=saved: saved.params  # noqa: E731
            else:
                label = f"{name} at init"
                source = {"checkpoint": None, "initialization_of": str(value), "seed": cfg.seed}
                params = lambda cfg=cfg: initial_state(cfg).params  # noqa: E731
        source.update(arch=cfg.arch, config=cfg.to_dict())
        nets.append({"label": label, "cfg": cfg, "source": source, "params": params})
    labels = [net["label"] for net in nets]
    for i, net in enumerate(nets):
        if labels.count(net["label"]) > 1:
            net["label"] += f" #{i + 1}"
    return nets


def cka_pairs(nets: Sequence[dict]) -> list[tuple[int, int]]:
    """Which networks to compare layer by layer (indices into ``nets``): the first against
    every other, and each trained run against its own initialization."""

    def folder(net: dict, key: str) -> Path | None:
        where = net["source"].get(key)
        return Path(where).resolve() if where else None

    pairs = [(0, j) for j in range(1, len(nets))]
    for i, j in itertools.permutations(range(len(nets)), 2):
        trained = folder(nets[i], "checkpoint")
        if trained and trained == folder(nets[j], "initialization_of") and 0 not in (i, j):
            pairs.append((i, j))
    return pairs
