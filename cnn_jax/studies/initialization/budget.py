"""Test error against updates for Table 1's networks at one learning rate each: does the
paper's ordering appear with a longer budget?

Glorot & Bengio 2010, Table 1 and Figure 12 (MNIST test error during training): 5 hidden
layers of 1,000, mini-batch 10, about 5 million updates. Here every network trains at one
given learning rate (no selection: a rate grid would multiply the cost), its test error
measured on the 10,000 test images after every epoch. The networks of one activation share
a compiled sweep (:func:`cnn_jax.training.sgd.run_sweep`, the inits given as parameters)
with a checkpoint per epoch, so a stopped run continues from its last finished epoch.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.flags import flag
from cnn_jax.nn.mlp import draw_params
from cnn_jax.studies.initialization import config as config_lib
from cnn_jax.training import sgd
from cnn_jax.training.divergence import json_floats
from cnn_jax.training.rows import RowStore, slug

# The paired standard / normalized rows first: a run stopped early has those.
TABLE1_NETWORKS = ("tanh", "tanh N", "softsign", "softsign N", "sigmoid")


@dataclasses.dataclass(frozen=True)
class Budget:
    """Every knob of the long run; each field is one flag of
    experiments/initialization_budget.py."""

    # tiny: tests; smoke, default, full: experiments/reproduce.py's scales
    # fmt: off
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "tiny": flags.Preset(
            {"networks": ("tanh", "tanh N"), "lrs": (0.1, 0.05), "width": 8, "hidden": 2,
             "epochs": 2, "seeds": 2, "train_images": 200}
        ),
        "smoke": flags.Preset({"width": 8, "hidden": 2, "epochs": 1, "train_images": 1000}),
        "default": flags.Preset(
            {"width": 100, "epochs": 1},
            "100 units per layer and 1 of the default 6 epochs: at 5 × 1,000 units one "
            "epoch of 2 networks took 5–11 minutes on a busy 2-core CPU",
        ),
        "full": flags.Preset(
            {"epochs": 20, "seeds": 3},
            "Table 1's five networks at 5 × 1,000 for 100,000 updates each (2 % of the "
            "paper's 5 million), 3 seeds: hours on a 2-core CPU, resumed where it stopped",
        ),
    }
    # fmt: on

    networks: tuple[str, ...] = flag(
        TABLE1_NETWORKS,
        "Networks, comma-separated (Table 1's rows).",
        type=config_lib.network_names,
    )
    lrs: tuple[float, ...] = flag(
        (0.1, 0.03, 0.3, 0.03, 0.1),
        "One learning rate per network, comma-separated (default: the rates picked on "
        "validation at 5 × 100 units).",
        type=cli.float_list,
    )
    width: int = flags.count(1000, "Units per hidden layer (the paper: 1,000).")
    hidden: int = flags.count(5, "Hidden layers (the paper: 5).")
    epochs: int = flags.count(6, "Epochs over the 50,000 training images (5,000 updates each).")
    seeds: int = flags.count(1, "Seeds per network, trained in one sweep.")
    batch_size: int = flags.batch_size(10, "SGD mini-batch size.")
    train_images: int = flags.count(50_000, "Train on the first N of the 50,000 training images.")

    def __post_init__(self):
        object.__setattr__(self, "networks", tuple(self.networks))
        object.__setattr__(self, "lrs", tuple(self.lrs))
        unknown = [n for n in self.networks if n not in config_lib.NETWORKS]
        if unknown:
            choices = ", ".join(config_lib.NETWORKS)
            raise UsageError(f"unknown network {unknown[0]!r}; choose from {choices}")
        cli.check(
            len(self.lrs) == len(self.networks),
            f"--lrs gives {len(self.lrs)} rates for {len(self.networks)} networks",
        )
        cli.check(
            self.train_images >= self.batch_size,
            f"--batch-size {self.batch_size} is more than --train-images {self.train_images}",
        )

    @classmethod
    def tiny(cls) -> Budget:
        """Seconds on a CPU: for tests."""
        return flags.preset(cls, "tiny")

    @property
    def updates_per_epoch(self) -> int:
        return self.train_images // self.batch_size

    def groups(self) -> dict[str, list[str]]:
        """{activation: its networks}: the networks that share one compiled sweep."""
        out: dict[str, list[str]] = {}
        for label in self.networks:
            out.setdefault(config_lib.NETWORKS[label][0], []).append(label)
        return out


def group_rows(activation: str, labels, config: Budget, root, train, test, checkpoint, progress):
    """Train the networks ``labels`` (one activation) × seeds in one sweep; their test error
    after every epoch. Network ``label``'s seed s starts from ``fold_in(root, index)``'s
    s-th draw (index: its place in :data:`study.NETWORKS`); every network shares the seed's
    shuffling key."""
    s = config.seeds
    nets = [config_lib.network(label, config.hidden, config.width) for label in labels]
    init_keys = [
        jax.random.split(jax.random.fold_in(root, list(config_lib.NETWORKS).index(label)), s)
        for label in labels
    ]
    params = jax.tree.map(
        lambda *leaves: jnp.concatenate(leaves),
        *[draw_params(net.model(), keys) for net, keys in zip(nets, init_keys, strict=True)],
    )
    lr_of = dict(zip(config.networks, config.lrs, strict=True))
    hyper = sgd.hypers(np.repeat([lr_of[label] for label in labels], s).tolist(), 0.0, "softmax_ce")
    train_keys = jnp.tile(jax.random.split(jax.random.fold_in(root, 1_000), s), len(labels))
    _, metrics = sgd.run_sweep(
        nets[0],
        hyper,
        jnp.concatenate(init_keys),
        train_keys,
        train,
        test,
        epochs=config.epochs,
        batch_size=config.batch_size,
        block=1,
        checkpoint=checkpoint,
        progress=progress,
        desc=f"budget {activation}, epochs",
        params=params,
    )
    test_error = 100.0 * (1.0 - np.asarray(metrics["test_accuracy"], np.float64))  # [C, E]
    train_error = 100.0 * (1.0 - np.asarray(metrics["train_accuracy"], np.float64))
    rows = {}
    for i, (label, net) in enumerate(zip(labels, nets, strict=True)):
        live, diverged = sgd.row_survivors(
            metrics, hyper, list(range(i * s, (i + 1) * s)), label, "lower the learning rate"
        )
        errors = test_error[i * s : (i + 1) * s]  # [S, E]; NaN from a divergence on
        final = test_error[live, -1]
        rows[label] = {
            "network": net.name,
            "activation": net.activation,
            "init": net.init,
            "lr": lr_of[label],
            "updates": [(e + 1) * config.updates_per_epoch for e in range(errors.shape[1])],
            "test_error_by_epoch": json_floats(errors),
            "train_error_by_epoch": json_floats(train_error[i * s : (i + 1) * s]),
            "test_error": float(final.mean()),  # over the seeds that did not diverge
            "test_error_sd": float(final.std(ddof=1)) if len(final) > 1 else 0.0,
            "diverged": diverged,
            "published_test_error": config_lib.PUBLISHED_TEST_ERROR.get(label),
        }
    return rows


def open_rows(out, config: Budget, *, seed: int) -> RowStore:
    return RowStore(out, {"budget": dataclasses.asdict(config), "seed": seed}, len(config.groups()))


def measure(
    mnist: data_lib.Mnist,
    config: Budget,
    store: RowStore,
    *,
    seed: int,
    progress: Callable | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> dict:
    """Every network's test error by epoch; each activation's networks are one row of
    ``store`` (read back on a rerun), with checkpoints per epoch under ``<out>/checkpoints``
    while it trains."""
    started = time.perf_counter()
    cli.check_count("--train-images", config.train_images, 50_000, "training images")
    cli.check(len(mnist.train_labels) >= 50_000, "the budget run needs the MNIST training set")
    train_part, _ = data_lib.nielsen_split(mnist)
    train = sgd.to_device(
        train_part.train_images[: config.train_images],
        train_part.train_labels[: config.train_images],
    )
    test = sgd.to_device(mnist.test_images, mnist.test_labels)
    root = jax.random.key(seed)
    networks: dict[str, dict] = {}
    for activation, labels in config.groups().items():
        key = f"budget {activation}"
        saved = store.get(key)
        if saved is None:
            checkpoint = store.out / "checkpoints" / slug(activation)
            try:
                saved = group_rows(
                    activation, labels, config, root, train, test, checkpoint, progress
                )
            except Diverged as e:
                raise Diverged(f"budget {activation}: {e} (--lrs)") from None
            store.put(key, saved)
            shutil.rmtree(checkpoint, ignore_errors=True)
            log(store.pace())
        networks.update(saved)
        for label in labels:
            log(f"{label}: test error {saved[label]['test_error']:.2f} %")
    shutil.rmtree(store.out / "checkpoints", ignore_errors=True)
    return {
        "budget": dataclasses.asdict(config),
        "seed": seed,
        "updates_per_epoch": config.updates_per_epoch,
        "networks": {label: networks[label] for label in config.networks},
        "paper_updates": config_lib.PAPER_UPDATES,
        "timings": {"total_s": time.perf_counter() - started},
    }
