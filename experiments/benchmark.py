"""Steady-state training images/s of the study's CNNs vs this machine's matmul peak.

python experiments/benchmark.py [--steps 400] [--archs seed,deep] [--out runs/benchmark]
python experiments/benchmark.py --archs seed --profile 10   # where a step's time goes
"""

from __future__ import annotations

import time
from pathlib import Path

from cnn_jax import cli, flags
from cnn_jax.results import provenance, write_json
from cnn_jax.training.benchmark import BenchmarkConfig, benchmark
from cnn_jax.training.devices import data_mesh
from cnn_jax.training.profile import write_profiles
from cnn_jax.training.train import check_data, check_devices


def print_table(result: dict, window: int) -> None:
    peak = next(iter(result["models"].values()))["matmul_gflops"]
    before_after = ", ".join(f"{g:.0f}" for g in result["matmul_gflops_before_after"])
    print(f"float32 matmul peak here: {peak:.0f} GFLOP/s (before/after: {before_after})")
    print(
        f"{'model':6} {'MFLOP/img':>9} {'run':>5} {'images/s':>9} {'GFLOP/s':>8} "
        f"{'of peak':>8} {'compile s':>9}  images/s per {window}-step window"
    )
    for arch, m in result["models"].items():
        windows = " ".join(f"{r:.0f}" for r in m["window_images_per_second"])
        print(
            f"{arch:6} {m['model_train_flops_per_image'] / 1e6:9.1f} "
            f"{m['train_flops_per_image'] / 1e6:5.1f} {m['images_per_second']:9.0f} "
            f"{m['gflops']:8.1f} {m['fraction_of_peak']:8.1%} "
            f"{m['compile_seconds']:9.2f}  {windows}"
        )
    print(
        "MFLOP/img: the architecture's training FLOPs per image; run: what the training step "
        "computes (GFLOP/s and the fraction of peak use this)"
    )


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    description = __doc__.splitlines()[0]
    p = flags.script_parser("benchmark.py", description, BenchmarkConfig, out="runs/benchmark")
    args = p.parse_args(argv)
    config = flags.from_flags(BenchmarkConfig, vars(args))
    mesh = data_mesh(config.devices)
    for cfg in config.train_configs():  # every batch must split over the devices
        check_devices(cfg, mesh)
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    for cfg in config.train_configs():
        check_data(cfg, mnist)
    out = Path(args.out)
    if config.profile:
        print(write_profiles(config.train_configs(), mnist, out, steps=config.profile))
        return 0
    with cli.RunFolder(out):  # one writer per folder
        progress = cli.progress_bars(args.no_progress)
        result = benchmark(config, mnist, progress=progress, mesh=mesh)
        result["provenance"] = provenance(started)
        write_json(out / "benchmark.json", result)
    print_table(result, config.window)
    print(f"wrote {out / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
