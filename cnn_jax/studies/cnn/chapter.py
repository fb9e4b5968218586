"""The CNN chapter: the study's CNNs on MNIST (docs/cnn.md). They train with the package's
one trainer (cnn_jax/training, experiments/mnist_cnn.py); this folder holds their chapter."""

from __future__ import annotations

import statistics

from cnn_jax.chapter import FULL, Chapter, FromPreset, Run, Setting, argv
from cnn_jax.tables import md_table, pct, published, where_in_spread
from cnn_jax.training.config import RESULT_KEYS

# The keys of benchmark.py's benchmark.json (cnn_jax/training/benchmark.py) that the
# benchmark table reads.
BENCHMARK_KEYS = ("models.*.images_per_second", "models.*.gflops", "models.*.compile_seconds")

SMOKE = FromPreset("cnn_jax.training.config:TrainConfig", "smoke")
# run path -> (the table's label, the study's published accuracy)
NETWORKS = {
    "cnn/seed": ("seed CNN (the study's)", "study_seed_cnn"),
    "cnn/deep": ("deep CNN", "study_deep_cnn"),
    "cnn/deep_dropout": ("deep CNN + dropout 0.5", "study_deep_cnn_dropout"),
}


def network(path: str, arch: tuple[str, ...], default_epochs: int) -> Run:
    """One of the study's CNNs (``arch``: its flags), trained per seed."""
    return Run(
        path,
        "mnist_cnn.py",
        smoke=Setting((*arch, *argv(no_progress=True)), 0.3, presets=(SMOKE,)),
        default=Setting(
            (*arch, *argv(epochs=default_epochs, no_progress=True)),
            0.6 * default_epochs,
            f"{default_epochs} of the study's 10 epochs: 10 take 5-6 minutes per network",
        ),
        full=Setting((*arch, *argv(epochs=10, no_progress=True)), 6.0),
        seeded=True,
    )


def _over_seeds(values: list[float]) -> str:
    """One value as a percentage, or the mean (min–max) over seeds."""
    if len(values) == 1:
        return pct(values[0])
    return f"{pct(statistics.mean(values))} ({pct(min(values))}–{pct(max(values))})"


def results(s: dict) -> str:
    rows = []
    for run, (label, pid) in NETWORKS.items():
        r = s["runs"][run]
        seeds = r.get("seeds", [r])
        rows.append(
            [
                label,
                f"{published()[pid]:.2f}",
                _over_seeds([x["test_accuracy"] for x in seeds]),
                _over_seeds([max(x["test_accuracies"]) for x in seeds]),
                r["epochs"],
                len(seeds),
            ]
        )
    header = ["model", "study (%)", "ours, final epoch (%)", "ours, best epoch (%)", "epochs",
              "seeds"]  # fmt: skip
    return md_table(header, rows)


def spread(s: dict) -> str:
    """The CNNs at the study's 10 epochs, over seeds: mean ± sd, min–max and where the
    study's number sits (runs ``cnn/<net>@full``, from a reproduction at --scale full)."""
    rows = []
    for run, (label, pid) in NETWORKS.items():
        r = s["runs"].get(run + FULL)
        if r is None:
            continue
        final = [100 * x["test_accuracy"] for x in r.get("seeds", [r])]
        best = [100 * max(x["test_accuracies"]) for x in r.get("seeds", [r])]
        sd = statistics.stdev(final) if len(final) > 1 else 0.0
        study = published()[pid]
        rows.append(
            [
                label,
                f"{study:.2f}",
                f"{statistics.mean(final):.2f} ± {sd:.2f}",
                f"{min(final):.2f}–{max(final):.2f}",
                f"{statistics.mean(best):.2f}",
                where_in_spread(study, final),
                r["epochs"],
                len(final),
            ]
        )
    if not rows:
        return "(no reproduction at --scale full in these results)"
    header = ["model", "study (%)", "ours, final epoch: mean ± sd (%)", "min–max (%)",
              "best epoch, mean (%)", "the study's number", "epochs", "seeds"]  # fmt: skip
    return md_table(header, rows)


def benchmark(s: dict) -> str:
    if "cnn/benchmark" not in s["runs"]:
        return "(cnn/benchmark is not in these results)"
    rows = [
        [
            arch,
            f"{m['images_per_second']:,.0f}",
            f"{m['gflops']:.1f}",
            f"{m['compile_seconds']:.1f}",
        ]
        for arch, m in s["runs"]["cnn/benchmark"]["models"].items()
    ]
    return md_table(["model", "images/s", "GFLOP/s", "first step (compile), s"], rows)


def headline(runs: dict) -> tuple[str, str, str]:
    study = published()["study_seed_cnn"]
    full = runs.get(f"cnn/seed{FULL}")
    if full is not None:  # the study's 10 epochs, over seeds
        final = [100 * x["test_accuracy"] for x in full.get("seeds", [full])]
        return (
            f"{statistics.mean(final):.2f} % test ({min(final):.2f}–{max(final):.2f}, "
            f"{len(final)} seeds, {full['epochs']} epochs)",
            f"{study:.2f} % (the study)",
            where_in_spread(study, final).replace("below all", "above: the study below all"),
        )
    a = runs["cnn/seed"]["test_accuracy"]
    verdict = "above" if 100 * a > study else "below"
    return f"{pct(a)} % test", f"{study:.2f} % (the study)", verdict


CHAPTER = Chapter(
    name="cnn",
    title="The study's CNNs on MNIST",
    question="The 2016 study reports 98.02 % for its small CNN and about 99 % for a deeper one, "
    "with and without dropout. Do the same networks, trained in JAX, reach those test "
    "accuracies, and how much do seeds move them?",
    summary="How well does the study's CNN do, and how fast?",
    runs=(
        network("cnn/seed", (), 2),
        network("cnn/deep", argv(arch="deep"), 1),
        network("cnn/deep_dropout", argv(arch="deep", dropout="0.5"), 1),
    ),
    keep={
        **{run + scale: RESULT_KEYS for run in NETWORKS for scale in ("", FULL)},
        "cnn/benchmark": BENCHMARK_KEYS,
    },
    optional=frozenset({"cnn/benchmark"}),
    tables={"results": results, "spread": spread, "benchmark": benchmark},
    headline=headline,
    links_to=("layers", "probes"),
)
