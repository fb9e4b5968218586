"""Which network and which digit to draw: a saved run (or a brief one trained here), and
a test image chosen by index or by label; which networks to probe, and which to compare."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag
from cnn_jax.inside import probes
from cnn_jax.inside.layers import output_activation
from cnn_jax.inside.page import ARCH_NAMES, Drawing, write_visualization
from cnn_jax.training.config import ARCHS, TrainConfig
from cnn_jax.training.run import SavedRun, finished_results, load_run, run
from cnn_jax.training.train import build_model, create_train_state, initial_state

# Without a checkpoint: the seed CNN, one epoch on 2,000 images: enough to show trained filters.
BRIEF_TRAINING = TrainConfig(arch="seed", epochs=1, batch_size=32, limit=2000, test_limit=1000)
BRIEF_RUN_NAME = "brief-seed-run"
DEFAULT_ROOT = Path("runs/visualize_layers")


@dataclasses.dataclass(frozen=True)
class VisualizeConfig:
    """Which network and which test image to draw (experiments/visualize_layers.py)."""

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
            run(cfg, run_dir, mnist, progress=progress, log=log)
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


# ----------------------------------------------------------------------------- networks to probe

# What each flag of experiments/probe_layers.py asks for.
TRAINED, INIT_OF_RUN, INIT_OF_ARCH = "checkpoint", "at_init_of", "at_init"


def first_network_name(requests: Sequence[tuple[str, str]]) -> str:
    """The default output folder's name: the first network's ("<run>" or "<run|arch>-init");
    no network at all is a usage error."""
    if not requests:
        raise UsageError(
            "give at least one --checkpoint RUN_DIR, --at-init-of RUN_DIR or --at-init ARCH"
        )
    kind, first = requests[0]
    return Path(first).resolve().name + ("" if kind == TRAINED else "-init")


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
                source = {
                    "checkpoint": str(value),
                    "epoch": saved.epoch,
                    "test_accuracy": saved.test_accuracy,
                }
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


class InOrder(argparse.Action):
    """Appends (this flag's kind, value) to ``networks``: the networks keep the order of
    the command line, whichever flag names them."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.networks = [*namespace.networks, (self.dest, values)]


def add_network_flags(parser: argparse.ArgumentParser) -> None:
    """--checkpoint, --at-init-of and --at-init, each repeatable, gathered in command-line
    order into ``networks`` [(TRAINED | INIT_OF_RUN | INIT_OF_ARCH, value)]."""
    parser.set_defaults(networks=[])
    add = parser.add_argument
    add(
        "--checkpoint",
        metavar="RUN_DIR",
        action=InOrder,
        dest=TRAINED,
        help="a run folder of experiments/mnist_cnn.py (repeatable)",
    )
    add(
        "--at-init-of",
        metavar="RUN_DIR",
        action=InOrder,
        dest=INIT_OF_RUN,
        help="that run's network at its initialization (repeatable)",
    )
    add(
        "--at-init",
        metavar="ARCH",
        choices=ARCHS,
        action=InOrder,
        dest=INIT_OF_ARCH,
        help="an architecture at its initialization, with --seed (repeatable)",
    )


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """The probes' data and fit (experiments/probe_layers.py has one flag per field)."""

    train_images: int = flag(
        2000, "fit the probes on the first N training images", type=cli.positive_int
    )
    test_images: int = flag(1000, "measure on the first N test images", type=cli.positive_int)
    l2: float = flag(1e-4, "the probes' L2 coefficient λ in λ·Σw²", type=cli.non_negative_float)
    steps: int = flag(200, "full-batch Adam steps of each probe", type=cli.positive_int)
    components: int = flag(
        10, "principal components for the class separation", type=cli.positive_int
    )
    seed: int = flag(0, "root random seed of the initializations and the PCA", type=cli.seed)

    def __post_init__(self):
        if self.components > self.test_images:
            raise UsageError("--components must be <= --test-images")

    def check_data(self, mnist: data_lib.Mnist) -> None:
        n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
        cli.check_count("--train-images", self.train_images, n_train, "training images")
        cli.check_count("--test-images", self.test_images, n_test, "test images")

    def data(self, mnist: data_lib.Mnist):
        """(train, test), each (images float32 [N, 28, 28, 1] in [0, 1], labels [N])."""
        n, m = self.train_images, self.test_images
        return (
            (data_lib.scale(mnist.train_images[:n]), mnist.train_labels[:n]),
            (data_lib.scale(mnist.test_images[:m]), mnist.test_labels[:m]),
        )


def probe_all(nets, train, test, config: ProbeConfig, key, log=print) -> tuple[dict, list]:
    """Every layer of every network of :func:`networks_to_probe` probed, and the CKA
    between layers within each network and across :func:`cka_pairs`: (the results'
    "runs" and "cross_cka", the PCA scores per network)."""
    runs, scatter, grams = [], [], []
    for net in nets:
        cfg = net["cfg"]
        log(f"{net['label']}:")
        rows, xy, gram = probes.probe_network(
            build_model(cfg),
            net["params"](),
            train,
            test,
            output=output_activation(cfg.loss),
            l2=config.l2,
            steps=config.steps,
            components=config.components,
            key=jax.random.fold_in(key, len(runs)),
            log=log,
        )
        runs.append(
            {
                "label": net["label"],
                "source": net["source"],
                "layers": rows,
                "cka": probes.cka_matrix(gram, gram).tolist(),
            }
        )
        scatter.append(xy)
        grams.append(gram)
    cross = [
        {
            "a": runs[i]["label"],
            "b": runs[j]["label"],
            "layers_a": list(grams[i]),
            "layers_b": list(grams[j]),
            "matrix": probes.cka_matrix(grams[i], grams[j]).tolist(),
        }
        for i, j in cka_pairs(nets)
    ]
    return {"runs": runs, "cross_cka": cross}, scatter
