"""Training throughput against the machine's own float32 matmul speed, measured in one run.

    python experiments/benchmark.py

Images per second are steady-state (the first, compiling step is timed apart) and
reported per window of steps, so a slowdown late in training (subnormal floats, say)
shows as a falling number. Achieved GFLOP/s = images/s x the analytic FLOPs per image
that the training step runs (``train_flops_per_image``; both CNNs skip the pixels their
max-pools discard, so this is below the architecture's ``model_train_flops_per_image``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.flags import flag
from cnn_jax.nn.conv import CONV_IMPLS
from cnn_jax.training import devices
from cnn_jax.training.config import ARCHS, TrainConfig
from cnn_jax.training.train import (
    INPUT_SHAPE,
    build_model,
    check_devices,
    create_train_state,
    make_train_step,
)

# Forward multiply-adds x 2 (FLOPs per multiply-add) x 3 (forward + two backward matmuls).
TRAIN_FLOPS_PER_MAC = 2 * 3


def forward_macs(model: nn.Module, *, as_trained: bool = False) -> dict[str, int]:
    """Multiply-adds per image of each Conv and Dense layer, named by module, input side first.

    By default the full network as defined (the study's numbers). ``as_trained=True``
    counts what the training step computes: the CNNs skip the pixels their max-pools
    discard (see SeedCNN, DeepCNN), so they run fewer.
    """
    x = jnp.zeros(INPUT_SHAPE, jnp.float32)
    macs = {}

    def count(next_fun, args, kwargs, context):
        y = next_fun(*args, **kwargs)
        module = context.module
        if context.method_name == "__call__" and isinstance(module, (nn.Conv, nn.Dense)):
            kernel = module.variables["params"]["kernel"].shape
            macs[module.name] = int(np.prod(y.shape[1:-1])) * int(np.prod(kernel))
        return y

    def forward():
        variables = model.init(jax.random.key(0), x)
        if as_trained:
            return model.apply(variables, x)
        return model.apply(variables, x, mutable=["intermediates"])

    with nn.intercept_methods(count):
        jax.eval_shape(forward)  # init counts too; the apply overwrites it
    return macs


def train_flops_per_image(model: nn.Module, *, as_trained: bool = False) -> int:
    return TRAIN_FLOPS_PER_MAC * sum(forward_macs(model, as_trained=as_trained).values())


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    """Best float32 [n, n] @ [n, n] GFLOP/s of several timed runs (jitted, compiled first)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    f = jax.jit(jnp.matmul)
    f(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def training_throughput(
    cfg: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    steps: int = 400,
    window: int = 100,
    progress: Callable[[int], object] | None = None,
    mesh=None,
) -> dict:
    """Train ``steps`` steps of ``cfg`` on ``images`` (cycled) with every batch split over
    the devices of ``mesh`` (default: one); images/s per window of steps.

    Returns ``compile_seconds`` (the first step), ``window_images_per_second`` and
    ``images_per_second`` over all steps after the first.
    """
    mesh = mesh or devices.data_mesh(1)
    check_devices(cfg, mesh)
    key = jax.random.key(cfg.seed)
    state = devices.replicate(create_train_state(cfg, key), mesh)
    step = jax.jit(make_train_step(cfg, mesh), donate_argnums=0)
    x, y = data_lib.scale(images), np.asarray(labels)
    n_batches = x.shape[0] // cfg.batch_size
    order = jax.random.permutation(key, n_batches * cfg.batch_size).reshape(n_batches, -1)
    batches = [
        {"image": devices.shard_rows(x[idx], mesh), "label": devices.shard_rows(y[idx], mesh)}
        for idx in np.asarray(order)
    ]

    t0 = time.perf_counter()
    state, metrics = step(state, batches[0], key)
    jax.block_until_ready(metrics)
    compile_seconds = time.perf_counter() - t0

    rates = []
    start = time.perf_counter()
    for w0 in range(1, steps, window):
        t0 = time.perf_counter()
        for i in range(w0, min(w0 + window, steps)):
            state, metrics = step(state, batches[i % n_batches], key)
            devices.pace(metrics, mesh)  # simulated CPU devices must not run far ahead
        jax.block_until_ready(metrics)
        done = min(w0 + window, steps) - w0
        rates.append(done * cfg.batch_size / (time.perf_counter() - t0))
        if progress:
            progress(done)
    total = (steps - 1) * cfg.batch_size / (time.perf_counter() - start)
    return {
        "compile_seconds": compile_seconds,
        "window_steps": window,
        "window_images_per_second": rates,
        "images_per_second": total,
        "final_loss": float(metrics["loss"]),
    }


def _names(text: str) -> tuple[str, ...]:
    """ "seed,deep" -> ("seed", "deep")."""
    return tuple(name for name in text.split(",") if name)


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    archs: tuple[str, ...] = flag(
        ("seed", "deep"),
        "The models to time, comma-separated (default: seed,deep).",
        type=_names,
    )
    steps: int = flags.count(
        400,
        "Training steps per model after the compile step; windows of --window steps are "
        "timed apart (default: %(default)s).",
    )
    window: int = flags.count(100, "Steps per timed window (default: %(default)s).")
    batch_size: int = flags.batch_size(128, "Images per mini-batch (default: %(default)s).")
    conv: str = flag(
        "auto", "The convolution routine (default: %(default)s).", choices=lambda: CONV_IMPLS
    )
    micro_batch: int | None = flags.count(
        None, "Gradient-accumulation chunk (default: chosen per model)."
    )
    devices: int = flags.count(
        1, "Split every batch over the first N devices (default: %(default)s)."
    )
    profile: int | None = flags.count(
        None,
        "Instead of timing, trace N training steps of each model and write profile.json: "
        "milliseconds per step of each operation of the compiled step.",
    )

    def __post_init__(self):
        archs = ",".join(self.archs)
        cli.check(
            bool(self.archs) and all(a in ARCHS for a in self.archs),
            f"--archs takes names from {', '.join(ARCHS)}, got {archs!r}",
        )
        cli.check(
            self.batch_size % (self.micro_batch or 1) == 0,
            f"--micro-batch {self.micro_batch} must divide --batch-size {self.batch_size}",
        )

    def train_configs(self) -> list[TrainConfig]:
        """The TrainConfig each arch is timed with."""
        return [
            TrainConfig(
                arch=arch, batch_size=self.batch_size, conv=self.conv, micro_batch=self.micro_batch
            )
            for arch in self.archs
        ]


def benchmark(
    config: BenchmarkConfig,
    mnist: data_lib.Mnist,
    *,
    progress: cli.Progress = cli.silent,
    mesh=None,
) -> dict:
    """Throughput of each arch (each batch split over ``mesh``'s devices, default one), the
    matmul peak before and after, and their ratio. ``config.steps`` are timed after the
    compile step."""
    peak_before = matmul_gflops()
    models = {}
    for cfg in config.train_configs():
        model = build_model(cfg)
        flops = {
            "model_train_flops_per_image": train_flops_per_image(model),
            "train_flops_per_image": train_flops_per_image(model, as_trained=True),
        }
        bar = progress(cfg.arch, config.steps)
        result = training_throughput(
            cfg,
            mnist.train_images,
            mnist.train_labels,
            steps=config.steps + 1,
            window=config.window,
            progress=bar.update,
            mesh=mesh,
        )
        bar.close()
        models[cfg.arch] = {
            "config": dataclasses.asdict(cfg),
            "devices": mesh.size if mesh else 1,
            **flops,
            **result,
        }
    peak_after = matmul_gflops()
    peak = max(peak_before, peak_after)
    for m in models.values():
        # What the machine computed: the FLOPs the training step runs, not the model's.
        m["gflops"] = m["images_per_second"] * m["train_flops_per_image"] / 1e9
        m["matmul_gflops"] = peak
        m["fraction_of_peak"] = m["gflops"] / peak
    return {"matmul_gflops_before_after": [peak_before, peak_after], "models": models}
