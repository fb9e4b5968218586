"""The pretraining study's configuration and its presets, the one source of every scale.

:class:`PretrainConfig` is one frozen dataclass whose fields are experiments/pretraining.py's
flags. :data:`PRESETS` names the sizes the study runs at (``tiny`` for tests and the smoke
reproduction, ``full`` for the published size, ``converged`` for the long comparison), each
with why it differs from the defaults; ``--preset NAME`` (or ``--full``, ``--converged``)
starts from one and any other flag given wins. :meth:`PretrainConfig.preset` builds one.

Imports no JAX: the report reads the presets.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from cnn_jax import cli, flags
from cnn_jax.flags import Preset, flag

ROWS = (
    "random init",
    "random init (zero biases)",
    "normalized init",
    "RBM",
    "autoencoder",
    "denoising autoencoder",
    "supervised greedy",
    "ReLU + He",
)
PRETRAINED = ("RBM", "autoencoder", "denoising autoencoder", "supervised greedy")
TRAIN_IMAGES = 50_000  # the last 10,000 training images validate (Nielsen's split)


PRESETS = {
    "tiny": Preset(
        dict(
            hidden=(8,),
            images=100,
            validation=100,
            seeds=2,
            epochs=2,
            pretrain_epochs=1,
            lrs=(0.3, 1.0),
            grad_images=50,
            probe_images=50,
            filters=4,
            widen=0,
        ),
        "seconds on 2 CPU cores, for tests and the smoke reproduction: one hidden layer of 8 "
        "units on 100 images, 2 seeds, 2 epochs, 2 rates, grid not widened",
    ),
    "full": Preset(
        dict(hidden=(1000, 1000, 1000), images=None),
        "the published size: 3 × 1,000 hidden units on all 50,000 training images",
    ),
    "converged": Preset(
        dict(hidden=(500, 500, 500), images=None, epochs=40, patience=5),
        "3 × 500 on all 50,000 training images, each configuration fine-tuned until its "
        "validation error has not improved for 5 epochs (at most 40): every row trained "
        "until it stops improving, at half the published width",
    ),
}


def row_names(text: str) -> tuple[str, ...]:
    """ "random init,RBM" -> ("random init", "RBM"): a flag's comma-separated row names."""
    return tuple(name.strip() for name in text.split(","))


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """The whole study. ``hidden`` sigmoid layers on the first ``images`` training images;
    every row is fine-tuned for ``epochs`` epochs of SGD (each rate in ``lrs``, batch_size)
    with softmax cross-entropy and keeps the rate best on ``validation`` images; pretraining
    runs ``pretrain_epochs`` epochs per layer. Each field with a help text is one flag of
    experiments/pretraining.py."""

    PRESETS: ClassVar[dict[str, Preset]] = PRESETS

    hidden: tuple[int, ...] = flag(
        (500, 500, 500), "Hidden layer widths, comma-separated.", type=cli.int_list
    )
    images: int | None = flags.count(
        10_000, "Train on the first N training images (of the 50,000 before validation)."
    )  # None: all 50,000
    validation: int = flags.count(
        10_000, "Pick learning rates and epochs on the first N of the last 10,000 training images."
    )
    seeds: int = flags.count(5, "Seeds per row, vmapped; at least 2.")
    epochs: int = flags.count(5, "Fine-tuning epochs of every row (at most, with --patience).")
    patience: int = flag(
        0,
        "Stop a row's fine-tuning once its validation error has not improved for N epochs "
        "(0: run every epoch).",
        type=cli.non_negative_int,
    )
    lrs: tuple[float, ...] = flag(
        (0.1, 0.3, 1.0, 3.0),
        "Fine-tuning learning rates η, comma-separated; each row keeps the best on validation.",
        type=cli.float_list,
    )
    widen: int = flag(
        1,
        "Widen a row's grid by up to N rates when its pick sits on an edge: the next rate past "
        "that edge, at the grid's own end ratio (0: never).",
        type=cli.non_negative_int,
    )
    rows: tuple[str, ...] = flag(
        ROWS, "Rows to run, comma-separated, of: " + ", ".join(ROWS) + ".", type=row_names
    )
    depths: tuple[int, ...] = flag(
        (),
        "Depth sweep: run the rows with each of these numbers of hidden layers, all as wide "
        "as the first of --hidden, comma-separated.",
        type=cli.int_list,
    )
    probe_images: int = flag(
        1000,
        "Fit the linear probes on the first N training images and score them on as many "
        "validation images (fewer when there are fewer; 0: no probes).",
        type=cli.non_negative_int,
    )
    batch_size: int = flags.batch_size(20, "Mini-batch size of fine-tuning and pretraining.")
    pretrain_epochs: int = flags.count(3, "Pretraining epochs per layer.")
    rbm_lr: float = flags.learning_rate(0.05, "Learning rate of the RBMs' CD-k.")
    cd_k: int = flags.count(1, "Gibbs steps of CD-k.")
    ae_lr: float = flags.learning_rate(0.1, "Learning rate of the (denoising) autoencoders.")
    corruption: float = flag(
        0.25, "Masking noise of the denoising autoencoder, in [0, 1).", type=cli.rate
    )
    tied: bool = True  # the script's --untied sets False: decoders with their own weights
    supervised_lr: float = flags.learning_rate(
        0.1, "Learning rate of supervised greedy pretraining."
    )
    grad_images: int = flags.count(
        1000, "Measure ‖δˡ‖ at the start of fine-tuning on the first N training images."
    )
    filters: int = flags.count(64, "First-layer filters to draw.")
    seed: int = flags.seed()

    def __post_init__(self):
        for name in ("hidden", "lrs", "rows", "depths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        images = self.images or TRAIN_IMAGES
        check = cli.check
        check(
            images <= TRAIN_IMAGES,
            f"--images {images}: at most {TRAIN_IMAGES:,} (the last 10,000 validate)",
        )
        check(self.validation <= 10_000, f"--validation {self.validation}: at most 10,000")
        unknown = [name for name in self.rows if name not in ROWS]
        check(not unknown, f"--rows: unknown {', '.join(unknown)}; choose from {', '.join(ROWS)}")
        check(
            len(self.rows) > 0 and len(set(self.rows)) == len(self.rows),
            "--rows: name each row once",
        )
        check(
            0.0 <= self.corruption < 1.0, f"--corruption must be in [0, 1), got {self.corruption}"
        )
        check(self.seeds >= 2, f"--seeds {self.seeds}: need at least 2 for a spread")
        check(
            self.filters <= min(self.hidden),
            f"--filters {self.filters} is more than the {min(self.hidden)} first-layer units",
        )
        check(
            self.grad_images <= images,
            f"--grad-images {self.grad_images} is more than the {images} images",
        )
        check(
            self.batch_size <= images,
            f"--batch-size {self.batch_size} is more than the {images} images",
        )

    @classmethod
    def preset(cls, name: str, **overrides) -> PretrainConfig:
        """The config of preset ``name`` (:data:`PRESETS`); ``overrides`` win."""
        return flags.preset(cls, name, **overrides)

    @classmethod
    def tiny(cls, **overrides) -> PretrainConfig:
        """Seconds: for tests (the ``tiny`` preset)."""
        return cls.preset("tiny", **overrides)

    @property
    def pretrained(self) -> tuple[str, ...]:
        """The pretraining methods the rows need, in :data:`PRETRAINED` order."""
        return tuple(name for name in PRETRAINED if name in self.rows)

    @property
    def net(self):
        """The sigmoid network every sigmoid row fine-tunes (its init: the random-init row),
        an :class:`~cnn_jax.nn.mlp.MLPSpec`."""
        from cnn_jax.nn.mlp import MLPSpec  # here, not above: the report imports no JAX

        return MLPSpec((784, *self.hidden, 10), "sigmoid", "nielsen", cost="softmax_ce")
