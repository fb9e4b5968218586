"""How long a sigmoid network's top hidden layer stays saturated, against depth.

Glorot & Bengio 2010, Section 3.1 and Figure 2: with the standard init, the top hidden layer
of a deep sigmoid network is pushed to its lower saturation value 0 at once, and "slowly
desaturates around epoch 100" (four hidden layers, Shapeset-3×2); "the depth-five model never
escaped this regime during training". Here: sigmoid networks of 1–5 hidden layers, standard
init, plain SGD with mini-batch 10, seeds vmapped; every ``record_every`` updates, the mean
activation of each hidden layer and the error on fixed test images. :func:`plateau_exit`
finds when a curve leaves its plateau: the top layer's mean leaves its floor, the error
leaves chance.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.errors import Diverged
from cnn_jax.flags import flag
from cnn_jax.nn import losses
from cnn_jax.nn.mlp import draw_params
from cnn_jax.studies.initialization import study as study_lib
from cnn_jax.training import sgd
from cnn_jax.training.rows import RowStore, non_finite

CHANCE_ERROR = 90.0  # % error of a guess among 10 balanced classes
# A top layer whose mean sigmoid output falls below this has most units near 0: saturated.
SATURATED_MEAN = 0.1


def plateau_exit(values, level: float, tolerance: float, *, start: int = 0, hold: int = 1):
    """Index of the first record i >= ``start`` at which the curve ``values`` [R] has left
    the plateau at ``level``: values[i], ..., values[i + hold − 1] all differ from ``level``
    by more than ``tolerance``. None when no such stretch of ``hold`` records exists (the
    plateau outlasts the curve, or the curve leaves it only in its last hold − 1 records)."""
    v = np.asarray(values, np.float64)
    if hold < 1:
        raise ValueError(f"hold must be >= 1, got {hold}")
    away = np.abs(v - level) > tolerance
    for i in range(max(start, 0), len(v) - hold + 1):
        if away[i : i + hold].all():
            return i
    return None


def top_layer_plateau(top_mean, tolerance: float, hold: int) -> dict:
    """The top hidden layer's saturation plateau in its mean activation [R]: the floor (the
    curve's minimum) and the record where it is reached, and the first record after it that
    leaves the floor by more than ``tolerance`` for ``hold`` records (None: never)."""
    top = np.asarray(top_mean, np.float64)
    floor_at = int(np.argmin(top))
    floor = float(top[floor_at])
    return {
        "floor": floor,
        "floor_at": floor_at,
        "exit": plateau_exit(top, floor, tolerance, start=floor_at, hold=hold),
    }


@dataclasses.dataclass(frozen=True)
class Plateau:
    """Every knob of the plateau sweep; each field is one flag of
    experiments/initialization_plateau.py."""

    depths: tuple[int, ...] = flag(
        (1, 2, 3, 4, 5), "Hidden layers of each network, comma-separated.", type=cli.int_list
    )
    width: int = flags.count(300, "Units per hidden layer (the paper: 1,000).")
    seeds: int = flags.count(2, "Seeds per depth, vmapped.")
    lr: float = flags.learning_rate(0.1, "SGD learning rate, every depth.")
    epochs: int = flags.count(10, "Epochs over the training images (5,000 updates each).")
    batch_size: int = flags.batch_size(10, "SGD mini-batch size.")
    train_images: int = flags.count(50_000, "Train on the first N of the 50,000 training images.")
    record_every: int = flags.count(
        500, "Updates between records; must divide the updates per epoch."
    )
    probe_images: int = flags.count(
        1000, "The first N test images: the error and the mean activations."
    )
    chance_margin: float = flag(
        10.0,
        "The error has left chance once it is this many points below chance (90 percent).",
        type=float,
    )
    tolerance: float = flag(
        0.05,
        "The top layer's mean activation has left its floor once this far above it.",
        type=float,
    )
    hold: int = flags.count(2, "Records a curve must stay off its plateau to count as leaving.")

    def __post_init__(self):
        object.__setattr__(self, "depths", tuple(self.depths))
        cli.check(all(d >= 1 for d in self.depths), "--depths must be >= 1 each")
        study_lib.check_records(self.train_images, self.batch_size, self.record_every)
        cli.check(0 < self.chance_margin < CHANCE_ERROR, "--chance-margin must be in (0, 90)")
        cli.check(self.tolerance > 0, "--tolerance must be > 0")

    @classmethod
    def tiny(cls) -> Plateau:
        """Seconds on a CPU: for tests."""
        return cls(
            depths=(1, 2),
            width=16,
            seeds=2,
            epochs=1,
            train_images=500,
            record_every=10,
            probe_images=50,
        )

    @property
    def updates_per_epoch(self) -> int:
        return self.train_images // self.batch_size


def probe_record(net, params, images, targets) -> dict[str, jax.Array]:
    """Mean activation of each hidden layer [H] and the error (%) on the probe images."""
    logits, _, post = study_lib.forward(net, params, images)
    accuracy = losses.accuracy(logits, jnp.argmax(targets, -1))
    return {
        "mean": jnp.stack([jnp.mean(z) for z in post]),
        "error": 100.0 * (1.0 - accuracy),
    }


@functools.partial(jax.jit, static_argnames=("net", "epochs", "batch_size", "every"))
def _train_seeds(params, keys, lr, train, probe, *, net, epochs, batch_size, every):
    def one(p, k):
        _, records = study_lib.train_recorded(
            net,
            p,
            k,
            lr,
            train,
            probe,
            epochs=epochs,
            batch_size=batch_size,
            every=every,
            record=probe_record,
        )
        return records

    return jax.vmap(one)(params, keys)


def depth_row(depth: int, config: Plateau, key, train, probe) -> dict:
    """One depth: records over seeds and the plateau exits of each seed (updates; None when
    the curve never leaves its plateau within the run)."""
    net = study_lib.network("sigmoid", depth, config.width)
    init_key, train_key = jax.random.split(key)
    params = draw_params(net.model(), jax.random.split(init_key, config.seeds))
    records = jax.device_get(
        _train_seeds(
            params,
            jax.random.split(train_key, config.seeds),
            jnp.float32(config.lr),
            train,
            probe,
            net=net,
            epochs=config.epochs,
            batch_size=config.batch_size,
            every=config.record_every,
        )
    )
    mean = np.asarray(records["mean"], np.float64)  # [S, R, H]
    error = np.asarray(records["error"], np.float64)  # [S, R]
    every = config.record_every

    def updates(index):
        return None if index is None else index * every

    tops = [top_layer_plateau(m[:, -1], config.tolerance, config.hold) for m in mean]
    error_exits = [
        plateau_exit(e, CHANCE_ERROR, config.chance_margin, hold=config.hold) for e in error
    ]
    return {
        "network": net.name,
        "depth": depth,
        "updates": [i * every for i in range(error.shape[1])],
        "mean": mean.tolist(),
        "error": error.tolist(),
        "top_floor": [t["floor"] for t in tops],
        "top_floor_update": [updates(t["floor_at"]) for t in tops],
        "top_exit_update": [updates(t["exit"]) for t in tops],
        "error_exit_update": [updates(i) for i in error_exits],
        "final_error": error[:, -1].tolist(),
    }


def summary(row: dict) -> dict:
    """Counts over the seeds of one depth: how many top layers saturated (floor below
    :data:`SATURATED_MEAN`), how many of those left the floor within the run, and how many
    errors left chance; and the latest update among the seeds at which each left (None when
    one did not)."""
    saturated = [f < SATURATED_MEAN for f in row["top_floor"]]
    escaped = [s and u is not None for s, u in zip(saturated, row["top_exit_update"], strict=True)]
    left = [u is not None for u in row["error_exit_update"]]

    def latest(updates):
        return None if not updates or any(u is None for u in updates) else max(updates)

    saturated_exits = [u for u, s in zip(row["top_exit_update"], saturated, strict=True) if s]
    return {
        "seeds": len(saturated),
        "top_saturated_per_seed": saturated,
        "top_saturated": sum(saturated),
        "top_escaped": sum(escaped),
        "top_escaped_fraction": sum(escaped) / len(escaped),
        "error_left_chance": sum(left),
        "error_left_chance_fraction": sum(left) / len(left),
        "error_exit_latest": latest(row["error_exit_update"]),
        "top_exit_latest": latest(saturated_exits),
    }


def open_rows(out, config: Plateau, *, seed: int) -> RowStore:
    return RowStore(out, {"plateau": dataclasses.asdict(config), "seed": seed}, len(config.depths))


def measure(
    mnist: data_lib.Mnist,
    config: Plateau,
    store: RowStore,
    *,
    seed: int,
    log: Callable[[str], None] = lambda line: None,
) -> dict:
    """Every depth's row (saved in ``store`` as it finishes, read back on a rerun)."""
    started = time.perf_counter()
    cli.check_count("--train-images", config.train_images, len(mnist.train_labels), "images")
    cli.check_count("--probe-images", config.probe_images, len(mnist.test_labels), "images")
    train_part, _ = data_lib.nielsen_split(mnist)
    train = sgd.to_device(
        train_part.train_images[: config.train_images],
        train_part.train_labels[: config.train_images],
    )
    probe = sgd.to_device(
        mnist.test_images[: config.probe_images], mnist.test_labels[: config.probe_images]
    )
    root = jax.random.key(seed)
    rows, seconds = {}, {}
    for depth in config.depths:
        key = f"depth {depth}"
        t = time.perf_counter()
        row = store.get(key)
        if row is None:
            row = depth_row(depth, config, jax.random.fold_in(root, depth), train, probe)
            if (where := non_finite(row)) is not None:
                raise Diverged(f"{key}: {where} is not finite; lower --lr")
            store.put(key, row)
        rows[key] = row
        seconds[key] = time.perf_counter() - t
        log(
            f"{key}: top layer leaves its floor at {row['top_exit_update']}, "
            f"error leaves chance at {row['error_exit_update']} updates"
        )
    return {
        "plateau": dataclasses.asdict(config),
        "seed": seed,
        "updates_per_epoch": config.updates_per_epoch,
        "depths": rows,
        "summary": {key: summary(row) for key, row in rows.items()},
        "timings": {
            **{f"{k.replace(' ', '_')}_s": v for k, v in seconds.items()},
            "total_s": time.perf_counter() - started,
        },
    }
