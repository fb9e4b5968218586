"""How long the whole run has left, from the stages it has timed.

Each stage (a pretraining layer of one method, a row's fine-tuning) is weighed by its
multiply-adds: images × seeds (× rates) × the weights it trains, times its epochs. The time
per multiply-add of the stages of its kind timed so far (pretraining layers, fine-tuned rows;
their compiling included), else of any kind, prices the stages left. With ``patience`` a row's
epochs are a bound, so the estimate is one too ("at most").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cnn_jax.studies.pretraining.config import PretrainConfig


def _weights(sizes) -> int:
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def stage_work(config: PretrainConfig, images: int, validation: int) -> dict[str, float]:
    """{stage key: multiply-adds}: "<method> layer <l>" (the RowStore's keys) and each row."""
    sizes = (784, *config.hidden, 10)
    work = {}
    for method in config.pretrained:
        for layer in range(len(config.hidden)):
            # training passes (forward, backward: about 3 products) on one layer's weights
            per_epoch = 3 * images * config.seeds * sizes[layer] * sizes[layer + 1]
            work[f"{method} layer {layer + 1}"] = per_epoch * config.pretrain_epochs
    configs = config.seeds * len(config.lrs)
    # per epoch: training (3 products per weight per image) and two error readings
    per_epoch = configs * _weights(sizes) * (3 * images + 2 * validation)
    for name in config.rows:
        work[name] = per_epoch * config.epochs
    return work


def _kind(key: str) -> str:
    """ "pretraining" for a stage "<method> layer <l>", else "fine-tuning"."""
    return "pretraining" if " layer " in key else "fine-tuning"


class WholeRun:
    """Tracks the stages of one run; :meth:`finished` logs a line with the time left."""

    def __init__(self, work: dict[str, float], *, bound: bool, log: Callable[[str], None]):
        self.work, self.bound, self.log = work, bound, log
        self.left = dict(work)
        self.timed: dict[str, list[float]] = {}  # kind -> [work, seconds] of its timed stages
        self.started = time.perf_counter()

    def saved(self, key: str) -> None:
        """Stage ``key`` was read back from an earlier run: nothing left, nothing timed."""
        self.left.pop(key, None)

    def finished(self, key: str, seconds: float) -> None:
        timed = self.timed.setdefault(_kind(key), [0.0, 0.0])
        timed[0] += self.left.pop(key, 0.0)
        timed[1] += seconds
        self.log(f"{key}: {seconds:.0f} s; whole run: {self.remaining()}")

    def remaining(self) -> str:
        """ "about 12 min left (at most)", or "done"."""
        if not self.left:
            return "done"
        work, seconds = (sum(t[i] for t in self.timed.values()) for i in (0, 1))
        if work == 0:
            return "no estimate yet"

        def rate(kind: str) -> float:
            own = self.timed.get(kind)
            return own[1] / own[0] if own and own[0] else seconds / work

        minutes = sum(w * rate(_kind(key)) for key, w in self.left.items()) / 60
        elapsed = (time.perf_counter() - self.started) / 60
        return (
            f"{elapsed:.0f} min so far, about {minutes:.0f} min left"
            f"{' at most' if self.bound else ''} ({len(self.left)} of {len(self.work)} "
            "stages to go)"
        )
