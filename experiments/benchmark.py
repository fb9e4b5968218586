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
from cnn_jax.training.benchmark_table import print_table
from cnn_jax.training.devices import data_mesh
from cnn_jax.training.profile import write_profiles
from cnn_jax.training.train import check_data, check_devices


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
