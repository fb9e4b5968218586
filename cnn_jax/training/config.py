"""One frozen dataclass per training run; the CLI flags map onto its fields."""

from __future__ import annotations

import dataclasses

ARCHS = ("seed", "deep", "mlp")
OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    arch: str = "seed"
    dropout: float = 0.0
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    l2: float = 0.0  # the study's λ in λ·wᵀw, over kernels only (losses.l2_penalty)
    loss: str = "softmax_ce"
    seed: int = 0
    limit: int | None = None  # first N training images; None = all 60,000
    test_limit: int | None = None  # first N test images; None = all 10,000
    # MLP only:
    mlp_widths: tuple[int, ...] = (100, 10)
    activation: str = "relu"
    init: str = "glorot"
    eval_batch_size: int = 1000
    # Speed only; the numbers stay the same up to float32 rounding:
    conv: str = "auto"  # "xla", "im2col", "rows", or "auto" (rows on CPU, XLA's conv elsewhere)
    micro_batch: int | None = None  # gradient accumulation chunk; None = per model on CPU

    def __post_init__(self):
        from cnn_jax.nn.conv import CONV_IMPLS
        from cnn_jax.nn.losses import LOSSES
        from cnn_jax.nn.models import ACTIVATIONS, INITS

        checks = [
            (self.arch in ARCHS, f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"learning rate must be > 0, got {self.lr}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.l2 >= 0, f"l2 must be >= 0, got {self.l2}"),
            (self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}"),
            (self.limit is None or self.limit >= 1, f"limit must be >= 1, got {self.limit}"),
            (self.test_limit is None or self.test_limit >= 1, "test limit must be >= 1"),
            (self.activation in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)}"),
            (self.init in INITS, f"init must be one of {', '.join(INITS)}"),
            (len(self.mlp_widths) >= 1 and min(self.mlp_widths) >= 1, "MLP widths must be >= 1"),
            (self.eval_batch_size >= 1, "eval batch size must be >= 1"),
            (self.conv in CONV_IMPLS, f"conv must be one of {', '.join(CONV_IMPLS)}"),
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
        d = dict(d)
        d["mlp_widths"] = tuple(d.get("mlp_widths", cls.mlp_widths))
        return cls(**d)
