"""The initialization study's knobs (one frozen dataclass, one flag per field, and its
presets), its networks and the paper's numbers."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from cnn_jax import cli, flags
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag
from cnn_jax.nn.activations import (
    SIGMOID_SATURATION_Z,
    SOFTSIGN_SATURATION_Z,
    TANH_SATURATION_Z,
)
from cnn_jax.nn.mlp import MLPSpec

# Glorot & Bengio 2010, Table 1, MNIST column: test error (%) of 5 hidden layers of 1,000
# units; "N" = normalized init.
PUBLISHED_TEST_ERROR = {
    "softsign": 1.64,
    "softsign N": 1.72,
    "tanh": 1.76,
    "tanh N": 1.64,
    "sigmoid": 2.21,
}
PAPER_UPDATES = 5_000_000  # "after about 5 million updates"

# (activation, init) of each network the study compares, by the paper's row labels.
NETWORKS = {
    "sigmoid": ("sigmoid", "standard"),
    "tanh": ("tanh", "standard"),
    "tanh N": ("tanh", "normalized"),
    "softsign": ("softsign", "standard"),
    "softsign N": ("softsign", "normalized"),
    "relu He": ("relu", "he"),  # not in the paper: the later fix, as an extra row
}
# Figures 2–3 (standard init), and "tanh N" beside "tanh" for Section 4.3's gradient trends.
CURVE_NETWORKS = ("sigmoid", "tanh", "tanh N", "softsign")
SATURATION_Z = {
    "sigmoid": SIGMOID_SATURATION_Z,
    "tanh": TANH_SATURATION_Z,
    "softsign": SOFTSIGN_SATURATION_Z,
}


def network(label: str, hidden: int, width: int) -> MLPSpec:
    """[784, width × hidden, 10] with the row ``label``'s activation and init, softmax + NLL."""
    activation, init = NETWORKS[label]
    return MLPSpec((784, *[width] * hidden, 10), activation, init, cost="softmax_ce")


def network_names(text: str) -> tuple[str, ...]:
    """ "tanh,tanh N" -> ("tanh", "tanh N"): a flag's comma-separated network labels."""
    return tuple(text.split(","))


def check_records(train_images: int, batch_size: int, record_every: int) -> None:
    """An epoch has at least one update, and a record falls every ``record_every`` of them
    (UsageError naming the flags otherwise)."""
    steps = train_images // batch_size
    cli.check(steps >= 1, f"--batch-size {batch_size} is more than --train-images {train_images}")
    cli.check(
        steps % record_every == 0,
        f"--record-every {record_every} must divide the {steps} updates per epoch "
        f"(--train-images / --batch-size)",
    )


@dataclasses.dataclass(frozen=True)
class Study:
    """Every knob of the study; each field is one flag of experiments/initialization.py."""

    # tiny: tests; smoke, default, full: experiments/reproduce.py's scales
    # fmt: off
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "tiny": flags.Preset(
            {"width": 16, "hidden": 2, "epochs": 1, "lrs": (0.05, 0.1), "seeds": 2,
             "train_images": 200, "networks": ("tanh", "tanh N"), "init_width": 32,
             "init_hidden": 3, "init_seeds": 4, "init_images": 20, "jacobian_examples": 2,
             "curve_width": 16, "curve_hidden": 2, "curve_epochs": 1, "record_every": 5,
             "probe_images": 20, "curve_networks": ("tanh",)}
        ),
        "smoke": flags.Preset(
            {"width": 8, "hidden": 2, "epochs": 1, "lrs": (0.1,), "seeds": 2, "train_images": 1000,
             "networks": ("sigmoid", "tanh", "tanh N", "softsign", "softsign N"), "init_width": 64,
             "init_hidden": 3, "init_seeds": 2, "init_images": 8, "curve_width": 32,
             "curve_hidden": 4, "record_every": 50, "probe_images": 100,
             "curve_networks": ("sigmoid", "tanh", "tanh N")}
        ),
        "default": flags.Preset(
            {"epochs": 1, "lrs": (0.03, 0.1, 0.3)},
            "1 of the default 5 Table-1 epochs (5,000 updates), and 3 of the 4 learning "
            "rates (0.01 was never picked on validation), so that the 3 seeds of each "
            "row fit: Table 1 is then a fifth of the run; the default one trains 6.7 "
            "times as much",
        ),
        "full": flags.Preset({"width": 1000, "init_width": 1000, "curve_width": 1000}),
    }
    # fmt: on

    width: int = flags.count(100, "Table 1: units per hidden layer (the paper: 1,000).")
    hidden: int = flags.count(5, "Table 1: hidden layers (the paper: 5).")
    epochs: int = flags.count(5, "Table 1: epochs over the training images.")
    lrs: tuple[float, ...] = flag(
        (0.01, 0.03, 0.1, 0.3),
        "Table 1: learning rates, comma-separated; each row keeps the best on validation.",
        type=cli.float_list,
    )
    seeds: int = flags.count(
        3, "Table 1: seeds per network, vmapped with the learning rates; mean ± sd over them."
    )
    batch_size: int = flags.batch_size(10, "SGD mini-batch size.")
    train_images: int = flags.count(50_000, "Train on the first N of the 50,000 training images.")
    networks: tuple[str, ...] = flag(
        tuple(NETWORKS),
        f"Networks of Table 1 and of the at-init rows, comma-separated, of: {', '.join(NETWORKS)}.",
        type=network_names,
    )
    init_width: int = flags.count(
        256, "At init: units per hidden layer (the paper: 1,000; each n×n SVD grows as n³)."
    )
    init_hidden: int = flags.count(5, "At init: hidden layers.")
    init_seeds: int = flags.count(8, "At init: seeds, vmapped.")
    init_images: int = flags.count(300, "At init: the first N test images, the fixed batch.")
    jacobian_examples: int = flags.count(
        2, "At init: examples per seed whose layer Jacobians are decomposed."
    )
    curve_width: int = flags.count(500, "Curves: units per hidden layer (the paper: 1,000).")
    curve_hidden: int = flags.count(4, "Curves: hidden layers.")
    curve_epochs: int = flags.count(1, "Curves: epochs.")
    curve_lr: float = flags.learning_rate(0.1, "Curves: learning rate.")
    record_every: int = flags.count(
        250, "Curves: updates between records; must divide the updates per epoch."
    )
    probe_images: int = flags.count(300, "Curves: the first N test images, the fixed probe.")
    curve_networks: tuple[str, ...] = flag(
        CURVE_NETWORKS, "Curves: networks, comma-separated.", type=network_names
    )

    def __post_init__(self):
        object.__setattr__(self, "lrs", tuple(self.lrs))
        object.__setattr__(self, "networks", tuple(self.networks))
        object.__setattr__(self, "curve_networks", tuple(self.curve_networks))
        unknown = [n for n in (*self.networks, *self.curve_networks) if n not in NETWORKS]
        if unknown:
            raise UsageError(f"unknown network {unknown[0]!r}; choose from {', '.join(NETWORKS)}")
        check_records(self.train_images, self.batch_size, self.record_every)
        cli.check(
            self.jacobian_examples <= self.init_images,
            f"--jacobian-examples {self.jacobian_examples} is more than --init-images "
            f"{self.init_images}",
        )

    @classmethod
    def tiny(cls) -> Study:
        """Seconds on a CPU: for tests."""
        return flags.preset(cls, "tiny")

    @property
    def updates_per_epoch(self) -> int:
        return self.train_images // self.batch_size
