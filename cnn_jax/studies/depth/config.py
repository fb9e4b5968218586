"""The depth study's sizes: one frozen dataclass, one flag per field, and its presets."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from cnn_jax import cli, flags
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag


@dataclasses.dataclass(frozen=True)
class DepthConfig:
    """Every size in the study; experiments/depth_efficiency.py has one flag per field."""

    # tiny: two seeds, few steps, the smallest sizes (--tiny); the other scales are the defaults
    # fmt: off
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "tiny": flags.Preset(
            {"seeds": 2, "steps": 50, "cybenko_widths": (2, 8), "spn_inputs": (4, 16),
             "trained_spn_inputs": (4,), "sawtooth_ks": (1, 2), "shallow_widths": (2, 4),
             "deep_widths": (2,), "region_width": 4, "region_depths": (1, 2), "region_nets": 2}
        ),
    }
    # fmt: on

    seed: int = flags.seed(0, "root random seed of all four parts")
    seeds: int = flags.count(2, "random initializations per trained size, vmapped")
    steps: int = flags.count(2000, "full-batch Adam steps for every trained network")
    lr: float = flags.learning_rate(0.01, "Adam learning rate of every trained network")
    cybenko_widths: tuple[int, ...] = flag(
        (2, 4, 8, 16, 32, 64), "hidden widths of the one-layer sigmoid fits", type=cli.int_list
    )
    spn_inputs: tuple[int, ...] = flag(
        (4, 16, 64, 256),
        "inputs n of the sum-product networks expanded to depth 2, powers of 4 up to 256",
        type=cli.int_list,
    )
    trained_spn_inputs: tuple[int, ...] = flag(
        (4, 16),
        "inputs n of the sum-product targets the ReLU networks learn, powers of 4 up to 64",
        type=cli.int_list,
    )
    sawtooth_ks: tuple[int, ...] = flag(
        (1, 2, 3, 4),
        "compositions k of Telgarsky's tent map the ReLU networks learn (2^k pieces), up to 12",
        type=cli.int_list,
    )
    shallow_widths: tuple[int, ...] = flag(
        (2, 4, 8, 16, 32, 64),
        "widths of the trained one-hidden-layer ReLU networks",
        type=cli.int_list,
    )
    deep_widths: tuple[int, ...] = flag(
        (2, 4, 8), "units per layer of the trained deep-narrow ReLU networks", type=cli.int_list
    )
    threshold: float = flag(
        0.1,
        "test RMS error over the target's std that counts as reached, in (0, 1)",
        type=cli.positive_float,
    )
    region_width: int = flags.count(
        16, "units per layer of the random deep networks whose regions are counted"
    )
    region_depths: tuple[int, ...] = flag(
        (1, 2, 3, 4, 6, 8),
        "depths of the random networks whose regions are counted",
        type=cli.int_list,
    )
    region_input_dim: int = flags.count(
        4, "input dimension of the random networks whose regions are counted"
    )
    region_nets: int = flags.count(8, "random networks per depth whose regions are counted")

    @classmethod
    def tiny(cls, **overrides) -> DepthConfig:
        """Seconds, for tests and the smoke reproduction (--tiny)."""
        return flags.preset(cls, "tiny", **overrides)

    def __post_init__(self):
        if problems := self.problems():
            raise UsageError("; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with these values, one line each (empty when nothing is)."""
        out = []
        for n in (*self.spn_inputs, *self.trained_spn_inputs):
            if not is_power_of_four(n):
                out.append(f"sum-product inputs must be powers of 4 (4, 16, 64, ...), got {n}")
        if max(self.spn_inputs) > 256:
            out.append("expanding F beyond n = 256 needs 2^31 monomials; use n <= 256")
        if max(self.trained_spn_inputs) > 64:
            out.append("trained sum-product inputs above 64 are out of this study's budget")
        if max(self.sawtooth_ks) > 12:
            out.append("sawtooth k above 12 has more pieces than the 4096-point training grid")
        if not 0 < self.threshold < 1:
            out.append(f"threshold must be in (0, 1), got {self.threshold}")
        if not self.lr > 0:
            out.append(f"learning rate must be > 0, got {self.lr}")
        return out


def is_power_of_four(n: int) -> bool:
    return n >= 4 and n & (n - 1) == 0 and int(math.log2(n)) % 2 == 0
