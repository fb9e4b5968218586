"""The benchmark's tables as printed by experiments/benchmark.py: the CNNs against the in-run
matmul peak, the MLP workloads per engine, and the peers beside cnn_jax."""

from __future__ import annotations


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
