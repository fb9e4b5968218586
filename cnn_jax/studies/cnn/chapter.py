"""The CNN chapter: the study's CNNs on MNIST (docs/cnn.md). They train with the package's
one trainer (cnn_jax/training, experiments/mnist_cnn.py); this folder holds their chapter."""

from __future__ import annotations

import statistics

from cnn_jax import stats
from cnn_jax.chapter import FULL, Chapter, FromPreset, Run, Setting, argv
from cnn_jax.studies.cnn.runs import (
    DROPOUT_GRID,
    KERAS,
    KERAS_DEFAULT_IMAGES,
    LARGER,
    NETWORKS,
    NIELSEN,
    VARIANTS,
    finals,
    keras_runs,
)
from cnn_jax.tables import md_table, pct, published, signed_interval, tolerance, updates
from cnn_jax.training.config import RESULT_KEYS

# The keys of benchmark.py's benchmark.json (cnn_jax/training/benchmark.py) that the
# benchmark table reads.
BENCHMARK_KEYS = ("models.*.images_per_second", "models.*.gflops", "models.*.compile_seconds")

SMOKE = FromPreset("cnn_jax.training.config:TrainConfig", "smoke")
NIELSEN_EPOCHS = 60
NIELSEN_DEFAULT_EPOCHS = 1


def network(path: str, arch: tuple[str, ...], default_epochs: int, per_epoch: float = 0.6) -> Run:
    """One of the study's CNNs (``arch``: its flags), trained per seed; ``per_epoch``: the
    minutes one epoch takes on a quiet 2-core CPU, start-up included."""
    return Run(
        path,
        "mnist_cnn.py",
        smoke=Setting((*arch, *argv(no_progress=True)), 0.3, presets=(SMOKE,)),
        default=Setting(
            (*arch, *argv(epochs=default_epochs, no_progress=True)),
            per_epoch * default_epochs,
            f"{default_epochs} of the study's 10 epochs: 10 take 3-10 minutes per network",
        ),
        full=Setting((*arch, *argv(epochs=10, no_progress=True)), 10 * per_epoch),
        seeded=True,
    )


def short_run(path: str, flags: tuple[str, ...], full_minutes: float, why: str) -> Run:
    """A run whose question needs the study's 10 epochs (``full_minutes`` on a quiet 2-core
    CPU, ``why`` says so), per seed; at default scale a quarter of an epoch, which shows it
    runs but not where it ends."""
    return Run(
        path,
        "mnist_cnn.py",
        smoke=Setting((*flags, *argv(no_progress=True)), 0.3, presets=(SMOKE,)),
        default=Setting(
            (*flags, *argv(epochs=1, limit=KERAS_DEFAULT_IMAGES, no_progress=True)),
            0.3,
            f"1 epoch on {KERAS_DEFAULT_IMAGES:,} of the 60,000 images: {why} (--scale full)",
        ),
        full=Setting((*flags, *argv(epochs=10, no_progress=True)), full_minutes),
        seeded=True,
    )


def nielsen(path: str, arch: tuple[str, ...]) -> Run:
    """One of Nielsen's chapter 6 networks on his 50,000 training images, per seed."""
    data = argv(limit=50000)
    return Run(
        path,
        "mnist_cnn.py",
        smoke=Setting((*arch, *argv(no_progress=True)), 0.3, presets=(SMOKE,)),
        default=Setting(
            (*arch, *data, *argv(epochs=NIELSEN_DEFAULT_EPOCHS, no_progress=True)),
            0.3 * NIELSEN_DEFAULT_EPOCHS,
            f"{NIELSEN_DEFAULT_EPOCHS} of his {NIELSEN_EPOCHS} epochs: his budget takes about "
            "8-13 minutes per network and seed on a 2-core CPU",
        ),
        full=Setting(
            (*arch, *data, *argv(epochs=NIELSEN_EPOCHS, no_progress=True)), 0.25 * NIELSEN_EPOCHS
        ),
        seeded=True,
    )


def _over_seeds(values: list[float]) -> str:
    """One value as a percentage, or the mean (min–max) over seeds."""
    if len(values) == 1:
        return pct(values[0])
    return f"{pct(statistics.mean(values))} ({pct(min(values))}–{pct(max(values))})"


def _interval(values: list[float]) -> str:
    """ "99.07 [98.89, 99.25]": the mean and its 95 % t-interval over seeds (one seed: the
    value alone; no interval can be drawn from it)."""
    if len(values) < 2:
        return f"{values[0]:.2f} (1 seed: no interval)"
    ci = stats.mean_interval(values)
    return f"{ci.estimate:.2f} [{ci.low:.2f}, {ci.high:.2f}]"


def verdict(run: str, values: list[float], pid: str) -> str:
    """Our seeds against the study's number under the registry's rule for it, "at least"
    (compare.py's): reproduced when the 95 % interval of our mean lies at or above it, below
    when wholly under it, else inconclusive. A larger network is not judged by it."""
    if run in LARGER:
        return "not the study's network: shown, not judged"
    if len(values) < 2:
        return "one seed: no interval"
    ci, study = stats.mean_interval(values), float(published()[pid])
    if ci.low >= study:
        return f"{stats.REPRODUCED}: the interval lies at or above {study:g}"
    if ci.high < study:
        return f"{stats.BELOW}: the interval lies wholly below {study:g}"
    return f"{stats.INCONCLUSIVE}: the interval reaches {study:g}"


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
    """The CNNs at the study's 10 epochs, over seeds: mean and its 95 % interval, sd,
    min–max and the verdict (runs ``cnn/<net>@full``, from a reproduction at --scale full)."""
    rows = []
    for run, (label, pid) in NETWORKS.items():
        r = s["runs"].get(run + FULL)
        if r is None:
            continue
        final = finals(r)
        best = [100 * max(x["test_accuracies"]) for x in r.get("seeds", [r])]
        sd = statistics.stdev(final) if len(final) > 1 else 0.0
        rows.append(
            [
                label,
                f"{published()[pid]:.2f}",
                _interval(final),
                f"{sd:.2f}",
                f"{min(final):.2f}–{max(final):.2f}",
                f"{statistics.mean(best):.2f}",
                verdict(run, final, pid),
                r["epochs"],
                len(final),
            ]
        )
    if not rows:
        return "(no reproduction at --scale full in these results)"
    header = ["model", "study (%)", "ours, final epoch: mean [95 % interval] (%)", "sd",
              "min–max (%)", "best epoch, mean (%)", "verdict", "epochs", "seeds"]  # fmt: skip
    return md_table(header, rows)


def keras(s: dict) -> str:
    """The seed CNN under 2016 Keras's optimizers at their default rates, batch 128 (and
    Keras's batch 32 for one), the study's 10 epochs: where the study's 98.02 % sits against
    each setting's interval."""
    study = float(published()["study_seed_cnn"])
    rows = []
    for label, r in keras_runs(s):
        final = finals(r)
        where = "–"
        if len(final) > 1:
            ci = stats.mean_interval(final)
            where = ("inside" if ci.contains(study) else
                     "below it" if study < ci.low else "above it")  # fmt: skip
        rows.append(
            [
                label,
                _interval(final),
                ", ".join(f"{v:.2f}" for v in final),
                where,
                r["epochs"],
                len(final),
            ]
        )
    if not rows:
        return "(no reproduction at --scale full in these results)"
    header = ["optimizer (Keras 1 default rate; batch 128 unless said)",
              "final epoch: mean [95 % interval] (%)",
              "per seed (%)", f"the study's {study:.2f} %", "epochs", "seeds"]  # fmt: skip
    return md_table(header, rows)


def keras_answer(s: dict) -> str:
    """Which setting lands nearest the study's 98.02 %, and whether any explains it."""
    study = float(published()["study_seed_cnn"])
    runs = [(label, finals(r)) for label, r in keras_runs(s)]
    if not runs:
        return "(no reproduction at --scale full in these results)"
    label, values = min(runs, key=lambda lv: abs(statistics.mean(lv[1]) - study))
    explains = [lab for lab, v in runs if len(v) > 1 and stats.mean_interval(v).contains(study)]
    single = [lab for lab, v in runs if len(v) < 2]
    seeds = f"{len(values)} seed{'s' if len(values) > 1 else ''}"
    text = (
        f"Nearest to the study's {study:.2f} %: {label}, "
        f"{statistics.mean(values):.2f} % on the mean of {seeds}."
    )
    excludes = [lab for lab, v in runs if len(v) > 1 and lab not in explains]
    if len(explains) == 1:
        return text + (
            f" The study's number lies inside the 95 % interval of {explains[0]} alone: that "
            "setting can explain it."
        )
    if explains:
        return text + (
            f" The study's number lies inside the 95 % interval of each of {'; '.join(explains)}"
            " (with 2 or 3 seeds a t-interval is wide), so these settings cannot be told from "
            "it" + (f"; only {'; '.join(excludes)} can" if excludes else "") + "."
        )
    if single:
        return text + (
            f" It lies inside no interval of the settings with seeds enough for one; "
            f"{', '.join(single)}: one seed, no interval yet."
        )
    return text + " It lies inside no setting's 95 % interval: no setting here explains it."


def _difference(a: list[float], b: list[float]) -> stats.Interval:
    """mean(a) − mean(b): paired over seeds when both sides hold the same seeds (a seed fixes
    the initial weights and the batch order whatever the dropout), else Welch's."""
    if len(a) == len(b):
        return stats.paired_difference(a, b)
    return stats.welch_difference(a, b)


def _dropout_runs(s: dict) -> list[tuple[str, list[float], list[float]]]:
    """(network, final accuracies without dropout, with dropout 0.5) at --scale full, for each
    slide whose two runs are stored with 2 seeds or more."""
    found = []
    for network, off, on in DROPOUT_GRID:
        r_off, r_on = s["runs"].get(off + FULL), s["runs"].get(on + FULL)
        if r_off is None or r_on is None:
            continue
        off, on_ = finals(r_off), finals(r_on)
        if min(len(off), len(on_)) > 1:
            found.append((network, off, on_))
    return found


def dropout(s: dict) -> str:
    """The slides' two networks, each without and with dropout 0.5, at the study's 10 epochs:
    what dropout changes on each (with − without, 95 % interval over seeds)."""
    rows = []
    for network, off, on in _dropout_runs(s):
        ci = _difference(on, off)
        reading = ("dropout helps: the interval lies above 0" if ci.low > 0 else
                   "dropout hurts: the interval lies below 0" if ci.high < 0 else
                   "inconclusive: the interval holds 0")  # fmt: skip
        rows.append([network, _interval(off), _interval(on), signed_interval(ci), reading,
                     f"{len(off)}, {len(on)}"])  # fmt: skip
    if not rows:
        return "(no reproduction at --scale full of both dropout settings in these results)"
    header = ["network", "no dropout: mean [95 % interval] (%)",
              "dropout 0.5: mean [95 % interval] (%)",
              "with − without: mean [95 % interval] (points)", "reading", "seeds"]  # fmt: skip
    return md_table(header, rows)


def dropout_answer(s: dict) -> str:
    """The study's step from slide 1 without dropout to slide 2 with it, split into the part a
    change of network makes and the part dropout makes."""
    grid = {network: (off, on) for network, off, on in _dropout_runs(s)}
    if len(grid) < 2:
        return "(no reproduction at --scale full of both networks with and without dropout)"
    (one_off, _), (two_off, two_on) = grid[DROPOUT_GRID[0][0]], grid[DROPOUT_GRID[1][0]]
    step = float(published()["study_deep_cnn_dropout"]) - float(published()["study_deep_cnn"])
    ours = stats.welch_difference(two_on, one_off)
    network, drop = stats.welch_difference(two_off, one_off), _difference(two_on, two_off)
    where = ("inside" if ours.contains(step) else
             "below" if step < ours.low else "above")  # fmt: skip
    return (
        f"The study's step from slide 1 without dropout to slide 2 with it is {step:+.2f} "
        f"points. The same step here: {signed_interval(ours)} (Welch, 95 %); the study's "
        f"{step:+.2f} lies {where} that interval. Of it, the change of network alone (slide 2 − "
        f"slide 1, both without dropout) is {signed_interval(network)}, and dropout on slide 2 "
        f"alone {signed_interval(drop)}."
    )


def nielsen_table(s: dict) -> str:
    """Nielsen's chapter 6 networks: his number (best validation epoch, 60 epochs), ours at
    the budget run, the fraction of his updates that is, and the registry's verdict (his
    number ± its tolerance against our 95 % interval; "not comparable" below the fraction
    of his budget at which his claim should show)."""
    rows = []
    for run, (label, pid, _) in NIELSEN.items():
        for name in (run, run + FULL):
            r = s["runs"].get(name)
            if r is None:
                continue
            final = finals(r)
            ratio = r["epochs"] * r["train_images"] / r["config"]["batch_size"] / updates(pid)
            if len(final) > 1:
                v = stats.value_verdict(stats.mean_interval(final), float(published()[pid]),
                                        tolerance(pid), budget_ratio=ratio,
                                        claim_budget=stats.CLAIM_BUDGET)  # fmt: skip
                said = f"{v.word}: {v.rule}"
            else:
                said = "one seed: no interval"
            rows.append(
                [
                    label,
                    f"{published()[pid]:.2f} ± {tolerance(pid):g}",
                    _interval(final),
                    f"{min(final):.2f}–{max(final):.2f}",
                    r["epochs"],
                    f"{ratio:.2g}",
                    len(final),
                    said,
                ]
            )
    header = ["network", "Nielsen (%) ± tolerance", "ours, final epoch: mean [95 % interval] (%)",
              "min–max (%)", "epochs", "his updates run", "seeds", "verdict"]  # fmt: skip
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
    """The study's own seed CNN against its 98.02 %: at the study's 10 epochs over seeds when
    a full-scale reproduction is stored, else the default run's single value."""
    pid = "study_seed_cnn"
    study = published()[pid]
    full = runs.get(f"cnn/seed{FULL}")
    if full is not None:
        final = finals(full)
        return (
            f"{_interval(final)} % test (95 % interval; {min(final):.2f}–{max(final):.2f}, "
            f"{len(final)} seeds, {full['epochs']} epochs)",
            f"{study:.2f} % (the study)",
            verdict("cnn/seed", final, pid),
        )
    a = runs["cnn/seed"]["test_accuracy"]
    return f"{pct(a)} % test", f"{study:.2f} % (the study)", verdict("cnn/seed", [100 * a], pid)


# Kept per run: the trainer's results, the train curve where the run stored it (older
# full-scale runs did not keep it), and what the optimizer and Nielsen tables read.
CURVES = (*RESULT_KEYS, "train_accuracies?")
SETTING = ("config.batch_size", "train_images")

CHAPTER = Chapter(
    name="cnn",
    title="The study's CNNs on MNIST",
    question="The 2016 study reports 98.02 % for its small CNN and 98.89 % and 99.06 % for two "
    "deeper ones, without and with dropout. Do the same networks, trained in JAX, reach those "
    "test accuracies, how much do seeds move them, and which 2016 Keras optimizer lands near "
    "98.02 %? Nielsen's chapter 6 CNNs, which the study builds on, are the nearest anchors.",
    summary="How well does the study's CNN do, and how fast?",
    runs=(
        network("cnn/seed", (), 2),
        network("cnn/study_deep", argv(arch="study_deep"), 1, per_epoch=1.0),
        network("cnn/study_deep_dropout", argv(arch="study_deep_dropout", dropout="0.5"), 1, 0.4),
        network("cnn/deep", argv(arch="deep"), 1),
        network("cnn/deep_dropout", argv(arch="deep", dropout="0.5"), 1),
        *(
            short_run(
                run,
                flags_,
                7.0,
                "the question needs the study's 10 epochs, 5-10 minutes per setting",
            )
            for run, (_, flags_) in KERAS.items()
        ),  # fmt: skip
        *(
            short_run(
                run,
                flags_,
                6.0,
                "the comparison needs the study's 10 epochs, 3-10 minutes per network",
            )
            for run, (_, flags_) in VARIANTS.items()
        ),  # fmt: skip
        *(nielsen(run, flags_) for run, (_, _, flags_) in NIELSEN.items()),
    ),
    keep={
        **{run + scale: CURVES for run in (*NETWORKS, *VARIANTS) for scale in ("", FULL)},
        **{
            run + scale: (*CURVES, *SETTING) for run in (*KERAS, *NIELSEN) for scale in ("", FULL)
        },  # fmt: skip
        "cnn/benchmark": BENCHMARK_KEYS,
    },
    optional=frozenset({"cnn/benchmark"}),
    tables={
        "results": results,
        "spread": spread,
        "keras": keras,
        "keras_answer": keras_answer,
        "dropout": dropout,
        "dropout_answer": dropout_answer,
        "nielsen": nielsen_table,
        "benchmark": benchmark,
    },
    headline=headline,
    links_to=("layers", "probes"),
    figures="cnn_jax.studies.cnn.figures",
)
