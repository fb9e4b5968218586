"""Which network and which digit to draw: a saved run (or a brief one trained here), and
a test image chosen by index or by label. The probes' networks: probe_networks.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag
from cnn_jax.inside.layers import output_activation
from cnn_jax.inside.page import ARCH_NAMES, Drawing, write_visualization
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import SavedRun, finished_results, load_run, run
from cnn_jax.training.train import build_model

# Without a checkpoint: the seed CNN, one epoch on 2,000 images: enough to show trained filters.
BRIEF_TRAINING = TrainConfig(arch="seed", epochs=1, batch_size=32, limit=2000, test_limit=1000)
BRIEF_RUN_NAME = "brief-seed-run"
DEFAULT_ROOT = Path("runs/visualize_layers")


@dataclasses.dataclass(frozen=True)
class VisualizeConfig:
    """Which network and which test image to draw (experiments/visualize_layers.py)."""

    # experiments/reproduce.py's smoke scale (the others are the defaults)
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "smoke": flags.Preset({"stats_images": 100}),
    }

    checkpoint: str | None = flag(
        None,
        "a run folder written by experiments/mnist_cnn.py --out RUN_DIR (default: train the "
        f"seed CNN briefly first, 1 epoch on 2,000 images, into <out's parent>/{BRIEF_RUN_NAME})",
    )
    epoch: int | None = flag(
        None, "which saved epoch to load (default: the latest)", type=cli.positive_int
    )
    index: int | None = flag(
        None, "the test image to draw, 0-9999 (default: 0)", type=cli.non_negative_int
    )
    digit: int | None = flag(None, "draw the first test image with this label, 0-9", type=int)
    stats_images: int = flag(1000, "statistics over the first N test images", type=cli.positive_int)
    per_map_scale: bool = flag(
        False,
        "stretch every feature map to its own colour range (default: one colour scale shared "
        "by all maps of a layer)",
    )

    def __post_init__(self):
        if self.index is not None and self.digit is not None:
            raise UsageError("give --index or --digit, not both")


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


def folders(
    out: str | None, config: VisualizeConfig, saved: SavedRun | None, index: int
) -> tuple[Path, Path]:
    """(the run folder drawn, the output folder). Without a saved run, the brief run's
    folder beside ``out`` (or under DEFAULT_ROOT); without ``out``, a folder under
    DEFAULT_ROOT named after the run, its epoch and the image."""
    if saved is None:
        run_dir = (Path(out).parent if out else DEFAULT_ROOT) / BRIEF_RUN_NAME
        epoch = config.epoch or BRIEF_TRAINING.epochs
    else:
        run_dir, epoch = Path(config.checkpoint), saved.epoch
    name = f"{run_dir.resolve().name}-epoch{epoch}-index{index}"
    return run_dir, Path(out or DEFAULT_ROOT / name)


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
    drawing: Drawing,
    trained_here: str | None = None,
) -> dict:
    """The saved run's network drawn by :func:`write_visualization` into ``out``, on
    ``mnist``'s test images; returns its results."""
    cfg = saved.config
    cli.check_count("--stats-images", drawing.stats_images, len(mnist.test_labels), "test images")
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
        source=source,
        drawing=dataclasses.replace(drawing, output=output_activation(cfg.loss)),
    )
