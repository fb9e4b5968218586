"""One frozen dataclass per training run; each field is one command-line flag.

A field's ``metadata`` holds its flag: ``help`` (argparse's, with ``%(default)s``),
``type`` (a :mod:`cnn_jax.cli` checker), ``choices`` (a function returning them, so the
model registries load only when asked) and ``flags`` (names other than ``--<field>``).
:func:`add_flags` turns every field into a flag and :func:`from_flags` builds the config
back, so a new field is a new flag with nothing copied by hand.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from cnn_jax import cli

ARCHS = ("seed", "deep", "mlp")
OPTIMIZERS = ("sgd", "momentum", "adam")
NUM_CLASSES = 10


def _losses():
    from cnn_jax.nn.losses import LOSSES

    return tuple(LOSSES)


def _activations():
    from cnn_jax.nn.models import ACTIVATIONS

    return tuple(ACTIVATIONS)


def _inits():
    from cnn_jax.nn.models import INITS

    return tuple(INITS)


def _convs():
    from cnn_jax.nn.conv import CONV_IMPLS

    return CONV_IMPLS


def _flag(default, help: str, **metadata):
    """A field with its flag's help text and, optionally, type, choices and flag names."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    arch: str = _flag(
        "seed",
        "seed: the study's CNN (Conv32 6x6, ReLU, Conv32 6x6, MaxPool4, Dense100 ReLU, "
        "Dense10); deep: 3 conv + pool + 3 conv + pool + 2 FC; mlp: fully connected (see "
        "--widths) (default: %(default)s)",
        choices=lambda: ARCHS,
    )
    dropout: float = _flag(
        0.0,
        "dropout rate on the fully connected part, in [0, 1); 0 = off (default: %(default)s)",
        type=cli.rate,
    )
    epochs: int = _flag(
        10, "passes over the training set (default: %(default)s)", type=cli.positive_int
    )
    batch_size: int = _flag(128, "mini-batch size (default: %(default)s)", type=cli.positive_int)
    lr: float = _flag(
        1e-3, "learning rate, finite and > 0 (default: %(default)s)", type=cli.positive_float
    )
    optimizer: str = _flag(
        "adam", "sgd, momentum or adam (default: %(default)s)", choices=lambda: OPTIMIZERS
    )
    momentum: float = _flag(
        0.9, "momentum of --optimizer momentum, in [0, 1) (default: %(default)s)", type=cli.rate
    )
    # The study's λ in λ·wᵀw, over kernels only (losses.l2_penalty).
    l2: float = _flag(
        0.0,
        "L2 coefficient λ in λ·Σw² over kernels (the study's λ·wᵀw; Nielsen's λ_N on n images "
        "is λ_N/(2n)) (default: %(default)s)",
        type=cli.non_negative_float,
    )
    loss: str = _flag("softmax_ce", "cost on the logits (default: %(default)s)", choices=_losses)
    seed: int = _flag(0, "root random seed, in [0, 2**32) (default: %(default)s)", type=cli.seed)
    limit: int | None = _flag(
        None,
        "train on the first N training images only (default: all 60,000)",
        type=cli.positive_int,
    )
    test_limit: int | None = _flag(
        None,
        "evaluate on the first N test images only (default: all 10,000)",
        type=cli.positive_int,
    )
    # MLP only:
    mlp_widths: tuple[int, ...] = _flag(
        (100, NUM_CLASSES),
        "MLP layer sizes after the 784 inputs, comma-separated, last = 10 (default: 100,10)",
        type=cli.int_list,
        flags=("--widths", "--mlp-widths"),
    )
    activation: str = _flag(
        "relu", "MLP hidden activation (default: %(default)s)", choices=_activations
    )
    init: str = _flag("glorot", "MLP weight init (default: %(default)s)", choices=_inits)
    eval_batch_size: int = _flag(
        1000, "images per evaluation batch (default: %(default)s)", type=cli.positive_int
    )
    # Speed only; the numbers stay the same up to float32 rounding:
    conv: str = _flag(
        "auto",
        "convolution routine, the same numbers: auto is rows on CPU, XLA's conv elsewhere "
        "(default: %(default)s)",
        choices=_convs,
    )
    micro_batch: int | None = _flag(
        None,
        "gradient-accumulation chunk, dividing --batch-size; the same gradient (default: "
        "chosen per model on CPU)",
        type=cli.positive_int,
    )

    def __post_init__(self):
        checks = [
            (self.arch in ARCHS, f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (
                math.isfinite(self.lr) and self.lr > 0,
                f"learning rate must be a finite number > 0, got {self.lr}",
            ),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (0.0 <= self.momentum < 1.0, f"momentum must be in [0, 1), got {self.momentum}"),
            (
                math.isfinite(self.l2) and self.l2 >= 0,
                f"l2 must be a finite number >= 0, got {self.l2}",
            ),
            (self.loss in _losses(), f"loss must be one of {', '.join(_losses())}"),
            (0 <= self.seed < cli.SEED_RANGE, f"seed must be in [0, 2**32), got {self.seed}"),
            (self.limit is None or self.limit >= 1, f"limit must be >= 1, got {self.limit}"),
            (self.test_limit is None or self.test_limit >= 1, "test limit must be >= 1"),
            (
                self.activation in _activations(),
                f"activation must be one of {', '.join(_activations())}",
            ),
            (self.init in _inits(), f"init must be one of {', '.join(_inits())}"),
            (len(self.mlp_widths) >= 1 and min(self.mlp_widths) >= 1, "MLP widths must be >= 1"),
            (
                self.arch != "mlp" or self.mlp_widths[-1] == NUM_CLASSES,
                f"the MLP's last width is its {NUM_CLASSES} outputs, one per digit; got "
                f"{','.join(map(str, self.mlp_widths))}",
            ),
            (self.eval_batch_size >= 1, "eval batch size must be >= 1"),
            (self.conv in _convs(), f"conv must be one of {', '.join(_convs())}"),
            (
                self.micro_batch is None
                or (self.micro_batch >= 1 and self.batch_size % self.micro_batch == 0),
                f"micro batch must divide the batch size {self.batch_size}, got {self.micro_batch}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @classmethod
    def tiny(cls, **overrides) -> TrainConfig:
        """A few hundred images, one epoch: for tests and smoke runs."""
        defaults = dict(epochs=1, batch_size=32, limit=256, test_limit=200, eval_batch_size=100)
        return cls(**{**defaults, **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config of ``to_dict`` (other keys, like a checkpoint's data_source, ignored)."""
        names = {field.name for field in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["mlp_widths"] = tuple(d.get("mlp_widths", cls.mlp_widths))
        return cls(**d)

    def differences(self, other: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """{field: (this value, other value)} for every field but ``epochs`` that differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if k != "epochs" and mine[k] != theirs[k]}

    def same_run(self, other: TrainConfig) -> bool:
        """The same run, perhaps trained for another number of epochs: a longer config
        continues a shorter one's checkpoints."""
        return not self.differences(other)


# ----------------------------------------------------------------------------- flags


def add_flags(parser, defaults: TrainConfig | None = None) -> None:
    """One flag per field of TrainConfig (``--batch-size`` for ``batch_size``), with the
    field's help, checker, choices and default (from ``defaults``, else TrainConfig())."""
    defaults = defaults or TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        meta = field.metadata
        names = meta.get("flags") or ("--" + field.name.replace("_", "-"),)
        kwargs: dict[str, Any] = {"dest": field.name, "help": meta["help"]}
        if "choices" in meta:
            kwargs["choices"] = meta["choices"]()
        if "type" in meta:
            kwargs["type"] = meta["type"]
        kwargs["default"] = getattr(defaults, field.name)
        parser.add_argument(*names, **kwargs)


def from_flags(values: Mapping[str, Any]) -> TrainConfig:
    """The TrainConfig of parsed flag values ({field name: value}, e.g. ``vars(args)``);
    other keys are ignored. Raises ValueError for a combination the config refuses."""
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in names})
