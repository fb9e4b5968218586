"""One frozen dataclass per training run; each field is one command-line flag.

Every field is made with :func:`cnn_jax.flags.flag`, so ``flags.add_flags(parser,
TrainConfig)`` gives a script its flags and ``flags.from_flags(TrainConfig, values)`` the
config back; ``__post_init__`` refuses a bad combination with a one-line UsageError.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from cnn_jax import cli, flags
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag

ARCHS = ("seed", "deep", "mlp")
OPTIMIZERS = ("sgd", "momentum", "adam")
NUM_CLASSES = 10
# The keys of a training run's results.json (written by run.py) that the chapters'
# tables read: the results contract of mnist_cnn.py.
RESULT_KEYS = ("test_accuracy", "test_accuracies", "epochs")


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


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    # tiny: tests; smoke: experiments/reproduce.py's CNNs at test size; nielsen: Nielsen's
    # network2.py settings for his chapter-5 784-30-30-30-30-10 (README, "probes")
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "tiny": flags.Preset(
            {
                "epochs": 1,
                "batch_size": 32,
                "limit": 256,
                "test_limit": 200,
                "eval_batch_size": 100,
            }  # fmt: skip
        ),
        "smoke": flags.Preset({"batch_size": 32, "limit": 256, "test_limit": 100, "epochs": 1}),
        "nielsen": flags.Preset(
            {
                "arch": "mlp",
                "mlp_widths": (30, 30, 30, 30, 10),
                "init": "nielsen",
                "loss": "sigmoid_ce",
                "optimizer": "sgd",
                "lr": 0.1,
                "batch_size": 10,
                "l2": 5e-5,
            }  # fmt: skip
        ),
    }

    arch: str = flag(
        "seed",
        "The network: seed is the study's CNN (Conv32 6x6, ReLU, Conv32 6x6, MaxPool4, "
        "Dense100 ReLU, Dense10), deep has 3 conv + pool + 3 conv + pool + 2 FC, mlp is fully "
        "connected (see --widths) (default: %(default)s).",
        choices=lambda: ARCHS,
    )
    dropout: float = flag(
        0.0,
        "Dropout rate on the fully connected part, in [0, 1); 0 is off (default: %(default)s).",
        type=cli.rate,
    )
    epochs: int = flags.count(10, "Passes over the training set (default: %(default)s).")
    batch_size: int = flags.batch_size(128, "Images per mini-batch (default: %(default)s).")
    lr: float = flags.learning_rate(1e-3, "Learning rate, finite and > 0 (default: %(default)s).")
    optimizer: str = flag(
        "adam", "The optimizer (default: %(default)s).", choices=lambda: OPTIMIZERS
    )
    momentum: float = flag(
        0.9,
        "Momentum of --optimizer momentum, in [0, 1) (default: %(default)s).",
        type=cli.rate,
    )
    # The study's λ in λ·wᵀw, over kernels only (losses.l2_penalty).
    l2: float = flag(
        0.0,
        "L2 coefficient λ in λ·Σw² over kernels: the study's λ·wᵀw; Nielsen's λ_N on n "
        "images is λ_N/(2n) (default: %(default)s).",
        type=cli.non_negative_float,
    )
    loss: str = flag(
        "softmax_ce", "The cost on the logits (default: %(default)s).", choices=_losses
    )
    seed: int = flags.seed(0, "Root random seed, in [0, 2**32) (default: %(default)s).")
    limit: int | None = flags.count(
        None, "Train on the first N training images only (default: all 60,000)."
    )
    test_limit: int | None = flags.count(
        None, "Evaluate on the first N test images only (default: all 10,000)."
    )
    # MLP only:
    mlp_widths: tuple[int, ...] = flag(
        (100, NUM_CLASSES),
        "MLP layer sizes after the 784 inputs, comma-separated, the last 10 (default: 100,10).",
        type=cli.int_list,
        flags=("--widths", "--mlp-widths"),
    )
    activation: str = flag(
        "relu", "The MLP's hidden activation (default: %(default)s).", choices=_activations
    )
    init: str = flag(
        "glorot", "The MLP's weight initialization (default: %(default)s).", choices=_inits
    )
    eval_batch_size: int = flags.count(1000, "Images per evaluation batch (default: %(default)s).")
    # Speed only; the numbers stay the same up to float32 rounding:
    conv: str = flag(
        "auto",
        "Convolution routine, with the same numbers: auto is the C++ kernel on CPU where "
        "pip install built it (else rows), XLA's conv elsewhere (default: %(default)s).",
        choices=_convs,
    )
    micro_batch: int | None = flags.count(
        None,
        "Gradient-accumulation chunk, dividing --batch-size; the same gradient (default: "
        "chosen per model on CPU).",
    )

    def __post_init__(self):
        flags.check(self)  # each field by its flag's checker and choices
        checks = [  # across fields
            (
                self.arch != "mlp" or self.mlp_widths[-1] == NUM_CLASSES,
                f"the MLP's last width is its {NUM_CLASSES} outputs, one per digit; got "
                f"{','.join(map(str, self.mlp_widths))}",
            ),
            (
                self.micro_batch is None or self.batch_size % self.micro_batch == 0,
                f"micro batch must divide the batch size {self.batch_size}, got {self.micro_batch}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)

    @classmethod
    def tiny(cls, **overrides) -> TrainConfig:
        """A few hundred images, one epoch: for tests."""
        return flags.preset(cls, "tiny", **overrides)

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
