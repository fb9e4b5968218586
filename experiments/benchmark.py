"""Steady-state training images/s of the study's CNNs vs this machine's matmul peak.

python experiments/benchmark.py [--steps 400] [--archs seed,deep] [--out runs/benchmark]
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from cnn_jax import cli
from cnn_jax.nn.conv import CONV_IMPLS
from cnn_jax.results import machine, versions, write_json
from cnn_jax.training.benchmark import benchmark
from cnn_jax.training.config import ARCHS, TrainConfig
from cnn_jax.training.devices import data_mesh
from cnn_jax.training.train import check_devices


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = cli.Parser(prog="benchmark.py", description=__doc__.splitlines()[1])
    p.add_argument("--archs", default="seed,deep", help="comma-separated (default: %(default)s)")
    p.add_argument(
        "--steps",
        type=cli.positive_int,
        default=400,
        help="training steps per model after the compile step; windows of "
        "--window steps are timed apart (default: %(default)s)",
    )
    p.add_argument(
        "--window",
        type=cli.positive_int,
        default=100,
        help="steps per timed window (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size", type=cli.positive_int, default=128, help="(default: %(default)s)"
    )
    p.add_argument(
        "--conv",
        choices=CONV_IMPLS,
        default="auto",
        help="convolution routine (default: %(default)s)",
    )
    p.add_argument(
        "--micro-batch",
        type=cli.positive_int,
        default=None,
        help="gradient-accumulation chunk (default: automatic)",
    )
    p.add_argument("--devices", type=cli.positive_int, default=1,
                   help="split every batch over the first N devices")  # fmt: skip
    cli.add_common(p, out="runs/benchmark", seed_default=None)
    args = p.parse_args(argv)
    archs = tuple(a for a in args.archs.split(",") if a)
    if not archs or any(a not in ARCHS for a in archs):
        p.error(f"--archs takes names from {', '.join(ARCHS)}, got {args.archs!r}")
    if args.batch_size % (args.micro_batch or 1):
        p.error(f"--micro-batch {args.micro_batch} must divide --batch-size {args.batch_size}")
    mesh = data_mesh(args.devices)
    for arch in archs:  # every batch must split over the devices, and each share into chunks
        cfg = TrainConfig(arch=arch, batch_size=args.batch_size, micro_batch=args.micro_batch)
        check_devices(cfg, mesh)
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    cli.check_count("--batch-size", args.batch_size, len(mnist.train_labels), "training images")
    out = Path(args.out)
    with cli.RunFolder(out):  # one writer per folder
        result = benchmark(
            archs,
            steps=args.steps + 1,
            window=args.window,
            batch_size=args.batch_size,
            conv=args.conv,
            micro_batch=args.micro_batch,
            mnist=mnist,
            mesh=mesh,
            progress_factory=lambda name, total: tqdm(
                total=total, desc=name, unit="step", disable=args.no_progress
            ),
        )
        result.update(versions=versions(), machine=machine(), command=vars(args))
        write_json(out / "benchmark.json", result)

    peak = result["models"][archs[0]]["matmul_gflops"]
    print(
        f"float32 matmul peak here: {peak:.0f} GFLOP/s "
        f"(before/after: {', '.join(f'{g:.0f}' for g in result['matmul_gflops_before_after'])})"
    )
    print(
        f"{'model':6} {'MFLOP/img':>9} {'run':>5} {'images/s':>9} {'GFLOP/s':>8} "
        f"{'of peak':>8} {'compile s':>9}  images/s per {args.window}-step window"
    )
    for arch, m in result["models"].items():
        windows = " ".join(f"{r:.0f}" for r in m["window_images_per_second"])
        print(
            f"{arch:6} {m['model_train_flops_per_image'] / 1e6:9.1f} "
            f"{m['train_flops_per_image'] / 1e6:5.1f} {m['images_per_second']:9.0f} "
            f"{m['gflops']:8.1f} {m['fraction_of_peak']:8.1%} {m['compile_seconds']:9.2f}  "
            f"{windows}"
        )
    print(
        "MFLOP/img: the architecture's training FLOPs per image; run: what the training step "
        "computes (GFLOP/s and the fraction of peak use this)"
    )
    print(f"wrote {out / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
