"""Steady-state training images/s of the study's CNNs vs this machine's matmul peak.

python experiments/benchmark.py [--steps 400] [--archs seed,deep] [--out runs/benchmark]
python experiments/benchmark.py --archs seed --profile 10   # where a step's time goes
python experiments/benchmark.py --rounds 3 --peers          # beside PyTorch, interleaved
python experiments/benchmark.py --archs '' --mlp-engines map,vmap --rounds 3  # MLP engines
"""

from __future__ import annotations

import time
from pathlib import Path

from cnn_jax import cli, flags
from cnn_jax.results import provenance, write_json
from cnn_jax.training.benchmark import BenchmarkConfig, benchmark, peer_timers
from cnn_jax.training.devices import data_mesh
from cnn_jax.training.profile import write_profiles
from cnn_jax.training.train import check_data, check_devices


def _rounds(values, fmt: str = "{:.0f}") -> str:
    return " / ".join(fmt.format(v) for v in values)


def _engine(asked: str, e: dict) -> str:
    """ "auto" shows the engine it chose: "auto:map"."""
    return f"{asked}:{e['engine']}" if asked != e["engine"] else asked


def print_table(result: dict, window: int) -> None:
    peak = result["matmul_gflops"]
    rounds = _rounds(result["matmul_gflops_rounds"])
    print(f"float32 matmul peak here: {peak:.0f} GFLOP/s (each round, then after: {rounds})")
    cpu = result["matmul_gflops_per_cpu_second"]
    cpu_rounds = _rounds(result["matmul_gflops_per_cpu_second_rounds"])
    print(f"  per second of CPU time: {cpu:.0f} GFLOP/s ({cpu_rounds})")
    if result["models"]:
        print(
            f"{'model':6} {'MFLOP/img':>9} {'run':>5} {'images/s':>9} {'GFLOP/s':>8} "
            f"{'of peak':>8} {'compile s':>9}  images/s per round; per {window}-step window"
        )
    for arch, m in result["models"].items():
        windows = " ".join(f"{r:.0f}" for r in m["window_images_per_second"])
        print(
            f"{arch:6} {m['model_train_flops_per_image'] / 1e6:9.1f} "
            f"{m['train_flops_per_image'] / 1e6:5.1f} {m['images_per_second']:9.0f} "
            f"{m['gflops']:8.1f} {m['fraction_of_peak']:8.1%} "
            f"{m['compile_seconds']:9.2f}  {_rounds(m['rounds_images_per_second'])}; {windows}"
        )
    if result["models"]:
        print(
            "MFLOP/img: the architecture's training FLOPs per image; run: what the training "
            "step computes (GFLOP/s and the fraction of peak use this)"
        )
    if result["mlps"]:
        print(
            f"\n{'MLP':12} {'network':27} {'batch':>5} {'engine':8} {'updates/s':>9} "
            f"{'GFLOP/s':>8} {'of peak':>8} {'per CPU s':>9} {'of peak':>8}  updates/s per round"
        )
    for name, m in result["mlps"].items():
        for engine, e in m["engines"].items():
            print(
                f"{name:12} {m['net'] + ' ' + m['activation']:27} {m['batch_size']:5} "
                f"{_engine(engine, e):8} {e['updates_per_second']:9.0f} {e['gflops']:8.1f} "
                f"{e['fraction_of_peak']:8.1%} {e['updates_per_cpu_second']:9.0f} "
                f"{e['fraction_of_cpu_peak']:8.1%}  "
                f"{_rounds(e['rounds_updates_per_second'])}"
            )
    if result["mlps"]:
        print(
            "updates/s: SGD steps per second, summed over a sweep's networks; per CPU s: per "
            "second of this process's CPU time (both cores count; read against the matmul's "
            "GFLOP/s per CPU second), less sensitive to neighbours"
        )
    if "peers" in result:
        print_peers(result)


def print_peers(result: dict) -> None:
    """cnn_jax beside the peers on each CNN: images/s, fraction of peak, ratio to the best."""
    print(
        f"\n{'model':6} {'trainer':16} {'images/s':>9} {'of peak':>8} {'vs best peer':>12}"
        "  images/s per round"
    )
    for arch, m in result["models"].items():
        peers = {n: p for n, p in result["peers"].items() if p["arch"] == arch}
        best = max((p["images_per_second"] for p in peers.values()), default=float("nan"))
        rows = [("cnn_jax", m), *((p["trainer"], p) for p in peers.values())]
        for trainer, r in rows:
            print(
                f"{arch:6} {trainer:16} {r['images_per_second']:9.0f} "
                f"{r['fraction_of_peak']:8.1%} {r['images_per_second'] / best:11.2f}x  "
                f"{_rounds(r['rounds_images_per_second'])}"
            )
    print(
        "of peak: the FLOPs each trainer runs (the peers compute every pixel; cnn_jax skips "
        "those its max-pools discard)"
    )


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    description = __doc__.splitlines()[0]
    p = flags.script_parser("benchmark.py", description, BenchmarkConfig, out="runs/benchmark")
    args = p.parse_args(argv)
    config = flags.from_flags(BenchmarkConfig, vars(args))
    if config.peers:
        from cnn_jax.training.peers import import_torch

        import_torch()  # without torch: one line on how to get it, before any work
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
        peers = peer_timers(config, mnist) if config.peers else None
        result = benchmark(config, mnist, progress=progress, mesh=mesh, peers=peers)
        result["provenance"] = provenance(started)
        write_json(out / "benchmark.json", result)
    print_table(result, config.window)
    print(f"wrote {out / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
