"""Training throughput against the machine's own float32 matmul speed, measured in one run.

    python experiments/benchmark.py

Images per second are steady-state (the first, compiling step is timed apart) and
reported per window of steps, so a slowdown late in training (subnormal floats, say)
shows as a falling number. Achieved GFLOP/s = images/s x the analytic FLOPs per image
that the training step runs (``train_flops_per_image``; both CNNs skip the pixels their
max-pools discard, so this is below the architecture's ``model_train_flops_per_image``).

The MLP workloads are the studies' networks on Nielsen's SGD engine
(:func:`cnn_jax.training.sgd.sgd_epoch`): updates per second of one network (or of each
of several trained in one sweep) and the GFLOP/s they make. With several ``rounds`` every
workload is timed once per round, one after another, so a noisy neighbour hits all alike.
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
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.training import devices, sgd
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
    return matmul_speed(n, repeats)["gflops"]


def matmul_speed(n: int = 1024, repeats: int = 20) -> dict:
    """The best float32 [n, n] @ [n, n] of several timed runs (jitted, compiled first):
    {"gflops": by the wall clock, "gflops_per_cpu_second": per second of this process's CPU
    time}. On a shared machine the second is the steadier: time the scheduler gives to other
    processes does not count."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    f = jax.jit(jnp.matmul)
    f(a, b).block_until_ready()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    flops = 2 * n**3 / 1e9
    return {"gflops": flops / best, "gflops_per_cpu_second": flops / max(best_cpu, 1e-9)}


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


@dataclasses.dataclass(frozen=True)
class MLPWorkload:
    """A study's network as its engine trains it: ``networks`` configurations in one sweep."""

    net: MLPSpec
    batch_size: int
    lr: float
    networks: int = 1

    @property
    def flops_per_update(self) -> int:
        """Training FLOPs of one SGD step of one network (forward and both backward matmuls)."""
        return train_flops_per_image(self.net.model()) * self.batch_size


_GLOROT = MLPSpec((784, *[1000] * 5, 10), "tanh", "standard", cost="softmax_ce")
MLP_WORKLOADS = {
    # Glorot & Bengio 2010's Table 1 networks (studies/initialization): 5 x 1,000, batch 10.
    "glorot": MLPWorkload(_GLOROT, batch_size=10, lr=0.1),
    # The same, 3 seeds in one sweep (the budget run's seeds).
    "glorot-x3": MLPWorkload(_GLOROT, batch_size=10, lr=0.1, networks=3),
    # The pretraining study's fine-tuning: 3 x 500 sigmoid, batch 20.
    "pretraining": MLPWorkload(
        MLPSpec((784, 500, 500, 500, 10), "sigmoid", "nielsen", cost="softmax_ce"),
        batch_size=20,
        lr=0.1,
    ),
    # Nielsen's network2 784-30-10 (cross-entropy), batch 10.
    "nielsen": MLPWorkload(MLPSpec((784, 30, 10), "sigmoid", "nielsen"), batch_size=10, lr=0.5),
}


class MLPTimer:
    """One workload on one engine, compiled once and timed once per :meth:`time` call
    (training on, so a later call starts where the last ended)."""

    def __init__(self, workload: MLPWorkload, images, labels, *, engine: str, updates: int):
        self.workload, self.epoch = workload, 0
        self.engine = sgd.engine_for(workload.net) if engine == "auto" else engine
        c = workload.networks
        self.keys = jax.random.split(jax.random.key(0), c)
        self.hyper = sgd.hypers([workload.lr] * c, 0.0, workload.net.cost)
        n = updates * workload.batch_size
        self.train = sgd.to_device(images[:n], labels[:n])
        self.params = workload.net.init_params(self.keys)
        t0 = time.perf_counter()
        self._epoch()
        self.compile_seconds = time.perf_counter() - t0  # with one epoch's updates

    def _epoch(self) -> None:
        self.params = sgd.sgd_epoch(
            self.params, self.hyper, self.keys, self.train, self.epoch,
            net=self.workload.net, batch_size=self.workload.batch_size, engine=self.engine,
        )  # fmt: skip
        jax.block_until_ready(self.params)
        self.epoch += 1

    def time(self, min_seconds: float = 1.0) -> dict:
        """Epochs until ``min_seconds`` have passed: network-updates per second, by the wall
        clock and per second of this process's CPU time (both cores count)."""
        epochs, t0, c0 = 0, time.perf_counter(), time.process_time()
        while epochs == 0 or time.perf_counter() - t0 < min_seconds:
            self._epoch()
            epochs += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        updates = epochs * self.train[0].shape[0] // self.workload.batch_size
        updates *= self.workload.networks
        return {"updates_per_second": updates / wall, "updates_per_cpu_second": updates / cpu}


def _names(text: str) -> tuple[str, ...]:
    """ "seed,deep" -> ("seed", "deep")."""
    return tuple(name for name in text.split(",") if name)


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    archs: tuple[str, ...] = flag(
        ("seed", "deep"),
        "The CNNs to time, comma-separated; '' for none (default: seed,deep).",
        type=_names,
    )
    mlps: tuple[str, ...] = flag(
        tuple(MLP_WORKLOADS),
        f"The MLP workloads to time, comma-separated, from {', '.join(MLP_WORKLOADS)}; "
        "'' for none (default: all).",
        type=_names,
    )
    mlp_engines: tuple[str, ...] = flag(
        ("auto",),
        f"The sweep engines to time each MLP workload on, from auto, {', '.join(sgd.ENGINES)} "
        "(auto: the one the studies use for that network; map: configurations one after "
        "another; vmap: side by side) (default: auto).",
        type=_names,
    )
    mlp_updates: int = flags.count(
        200, "SGD steps per timed MLP epoch; epochs repeat for a second (default: %(default)s)."
    )
    rounds: int = flags.count(
        1, "Time every workload once per round, interleaved (default: %(default)s)."
    )
    peers: bool = flag(
        False,
        "Also train the CNNs of --archs in PyTorch, eager and torch.compile, in the same "
        "rounds (needs the optional extra `peers`: pip install -e '.[peers]').",
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
            all(a in ARCHS for a in self.archs),
            f"--archs takes names from {', '.join(ARCHS)}, got {archs!r}",
        )
        cli.check(
            all(m in MLP_WORKLOADS for m in self.mlps),
            f"--mlps takes names from {', '.join(MLP_WORKLOADS)}, got {','.join(self.mlps)!r}",
        )
        cli.check(
            bool(self.mlp_engines) and all(e in ("auto", *sgd.ENGINES) for e in self.mlp_engines),
            f"--mlp-engines takes names from auto, {', '.join(sgd.ENGINES)}, "
            f"got {','.join(self.mlp_engines)!r}",
        )
        cli.check(bool(self.archs or self.mlps), "--archs and --mlps are both empty")
        cli.check(self.profile is None or bool(self.archs), "--profile times the CNNs of --archs")
        cli.check(not self.peers or bool(self.archs), "--peers times the CNNs of --archs")
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


def peer_timers(config: BenchmarkConfig, mnist: data_lib.Mnist) -> dict[str, Callable]:
    """{"<arch>, <trainer>": its timer} for every CNN of ``config`` and every PyTorch
    trainer, each built and past its first step (see :func:`cnn_jax.training.peers.peer_timer`)."""
    from cnn_jax.training import peers  # torch is optional: imported only when asked for

    timers = {}
    for cfg in config.train_configs():
        for trainer in peers.TRAINERS:
            timers[f"{cfg.arch}, {trainer}"] = peers.peer_timer(
                cfg.arch,
                trainer,
                mnist.train_images,
                mnist.train_labels,
                batch_size=cfg.batch_size,
                lr=cfg.lr,
                steps=config.steps,
                train_flops_per_image=train_flops_per_image(build_model(cfg)),
                seed=cfg.seed,
            )
    return timers


def benchmark(
    config: BenchmarkConfig,
    mnist: data_lib.Mnist,
    *,
    progress: cli.Progress = cli.silent,
    mesh=None,
    peers: dict[str, Callable[[], dict]] | None = None,
) -> dict:
    """Throughput of each CNN (each batch split over ``mesh``'s devices, default one), each
    MLP workload on each engine and each of ``peers`` ({name: a function that times one
    run and returns {"arch", "images_per_second", ...}}), ``config.rounds`` times in
    turn, with the matmul peak before every round and after the last; every GFLOP/s is
    read against the highest peak. A workload's headline speed is the median of its rounds.
    ``config.steps`` CNN steps are timed after the compile step."""
    peaks, cpu_peaks = [], []
    models: dict[str, dict] = {}
    for cfg in config.train_configs():
        model = build_model(cfg)
        models[cfg.arch] = {
            "config": dataclasses.asdict(cfg),
            "devices": mesh.size if mesh else 1,
            "model_train_flops_per_image": train_flops_per_image(model),
            "train_flops_per_image": train_flops_per_image(model, as_trained=True),
            "rounds": [],
        }
    timers: dict[tuple[str, str], MLPTimer] = {}
    mlps = {
        name: {
            "net": MLP_WORKLOADS[name].net.name,
            "activation": MLP_WORKLOADS[name].net.activation,
            "batch_size": MLP_WORKLOADS[name].batch_size,
            "networks": MLP_WORKLOADS[name].networks,
            "flops_per_update": MLP_WORKLOADS[name].flops_per_update,
            "engines": {engine: {"rounds": []} for engine in config.mlp_engines},
        }
        for name in config.mlps
    }
    peer_rounds: dict[str, list[dict]] = {name: [] for name in peers or {}}

    def measure_peak():
        speed = matmul_speed()
        peaks.append(speed["gflops"])
        cpu_peaks.append(speed["gflops_per_cpu_second"])

    for r in range(config.rounds):
        measure_peak()
        for cfg in config.train_configs():
            bar = progress(f"{cfg.arch}, round {r + 1}", config.steps)
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
            models[cfg.arch]["rounds"].append(result)
        for name in config.mlps:
            for engine in config.mlp_engines:
                timer = timers.get((name, engine))
                if timer is None:
                    timer = timers[name, engine] = MLPTimer(
                        MLP_WORKLOADS[name],
                        mnist.train_images,
                        mnist.train_labels,
                        engine=engine,
                        updates=config.mlp_updates,
                    )
                    mlps[name]["engines"][engine]["compile_seconds"] = timer.compile_seconds
                    mlps[name]["engines"][engine]["engine"] = timer.engine
                mlps[name]["engines"][engine]["rounds"].append(timer.time())
        for name, run in (peers or {}).items():
            peer_rounds[name].append(run())
    measure_peak()
    peak, cpu_peak = max(peaks), max(cpu_peaks)
    for m in models.values():
        rounds = m.pop("rounds")
        m.update(rounds[0])  # the first round's compile time and windows
        m["rounds_images_per_second"] = [x["images_per_second"] for x in rounds]
        m["images_per_second"] = float(np.median(m["rounds_images_per_second"]))
        # What the machine computed: the FLOPs the training step runs, not the model's.
        m["gflops"] = m["images_per_second"] * m["train_flops_per_image"] / 1e9
        m["matmul_gflops"] = peak
        m["fraction_of_peak"] = m["gflops"] / peak
    for m in mlps.values():
        for e in m["engines"].values():
            rounds = e.pop("rounds")
            for key in ("updates_per_second", "updates_per_cpu_second"):
                e[f"rounds_{key}"] = [x[key] for x in rounds]
                e[key] = float(np.median(e[f"rounds_{key}"]))
            e["gflops"] = e["updates_per_second"] * m["flops_per_update"] / 1e9
            e["fraction_of_peak"] = e["gflops"] / peak
            cpu_gflops = e["updates_per_cpu_second"] * m["flops_per_update"] / 1e9
            e["fraction_of_cpu_peak"] = cpu_gflops / cpu_peak
    result = {
        "matmul_gflops_rounds": peaks,
        "matmul_gflops": peak,
        "matmul_gflops_per_cpu_second_rounds": cpu_peaks,
        "matmul_gflops_per_cpu_second": cpu_peak,
        "models": models,
        "mlps": mlps,
    }
    if peers:
        result["peers"] = {
            name: _peer_summary(rounds, peak) for name, rounds in peer_rounds.items()
        }
    return result


def _peer_summary(rounds: list[dict], peak: float) -> dict:
    """A peer's rounds -> the median images/s, its GFLOP/s (the FLOPs the peer runs) and
    fraction of ``peak``."""
    ips = [r["images_per_second"] for r in rounds]
    out = {k: v for k, v in rounds[0].items() if k != "images_per_second"}
    out["rounds_images_per_second"] = ips
    out["images_per_second"] = float(np.median(ips))
    out["gflops"] = out["images_per_second"] * out["train_flops_per_image"] / 1e9
    out["fraction_of_peak"] = out["gflops"] / peak
    return out
