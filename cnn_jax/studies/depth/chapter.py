"""The depth chapter: what a deep network represents with fewer units (docs/depth.md)."""

from __future__ import annotations

import statistics

from cnn_jax.chapter import Chapter, Keys, Run, Setting, argv, keys
from cnn_jax.tables import error, md_table

# The keys of results.json (study.py's ``run``) that the tables below read.
KEEP = keys(
    Keys("cybenko", "widths", "fits.*.rms_error", "fits.*.max_error"),
    "spn",
    "regions",
    Keys("trained", "threshold", "rows"),
)


def cybenko(s: dict) -> str:
    c = s["runs"]["depth"]["cybenko"]
    rows = []
    for target, fit in c["fits"].items():
        for kind in ("rms", "max"):
            errs = fit.get(f"{kind}_error")
            if errs is not None and (kind == "rms" or "8π" in target):
                rows.append(
                    [f"{target}, {kind.upper()}"] + [error(statistics.median(e)) for e in errs]
                )
    return md_table(["target"] + [f"width {w}" for w in c["widths"]], rows)


def spn(s: dict) -> str:
    rows = [
        [
            r["n"],
            r["depth"],
            r["deep_units"],
            f"{r['shallow_product_units']:,}",
            f"{r['predicted_2^(sqrt(n)-1)']:,}",
            f"{r['max_relative_gap']:.1e}",
        ]
        for r in s["runs"]["depth"]["spn"]
    ]
    header = ["n", "depth", "deep units", "depth-2 product units (counted)",
              "2^(√n − 1)", "deep vs expansion, max relative gap"]  # fmt: skip
    return md_table(header, rows)


def regions(s: dict) -> str:
    reg = s["runs"]["depth"]["regions"]
    rows = [
        [
            r["depth"],
            f"{r['params']:,}",
            f"{r['deep_regions_mean']:.1f}",
            r["shallow_width"],
            f"{r['shallow_regions_mean']:.1f}",
            r["sawtooth_regions"],
            f"{r['deep_upper_bound']:,}",
        ]
        for r in reg["rows"]
    ]
    header = [f"depth × {reg['width']} units", "params", "deep regions (mean)",
              "shallow width, same params", "shallow regions (mean)",
              "sawtooth (2 units/layer)", f"bound {reg['width'] + 1}^depth"]  # fmt: skip
    return md_table(header, rows)


def _smallest(side: dict) -> str:
    """The fewest hidden units with which some seed reached the threshold, or "none of"
    the widths tried."""
    if side["smallest_units_reaching"] is None:
        return f"none of {', '.join(map(str, side['units']))}"
    return str(side["smallest_units_reaching"])


def trained(s: dict) -> str:
    """Gradient descent against the exact constructions: per task, the fewest hidden units
    (of the widths tried) with which a trained deep or shallow network reached the threshold
    of relative RMS error, beside the units the exact constructions need (the sawtooth's:
    2 per layer deep, at least 2^k − 1 in one layer)."""
    t = s["runs"]["depth"]["trained"]
    rows = [
        [
            f"{r['task']} (size {r['size']})",
            r.get("exact_deep_units", "–"),  # known for the sawtooth only
            _smallest(r["deep"]),
            f"≥ {r['exact_shallow_units_at_least']}"
            if "exact_shallow_units_at_least" in r
            else "–",
            _smallest(r["shallow"]),
        ]
        for r in t["rows"]
    ]
    reach = f"fewest units reaching {t['threshold']:g}"
    header = ["task", "exact deep: units", f"trained deep: {reach}", "exact shallow: units",
              f"trained shallow: {reach}"]  # fmt: skip
    return md_table(header, rows)


def headline(runs: dict) -> tuple[str, str, str]:
    r = runs["depth"]["spn"][-1]
    return (
        f"n = {r['n']}: deep {r['deep_units']} units, "
        f"depth-2 {r['shallow_product_units']:,} products",
        f"2^(√n − 1) = {r['predicted_2^(sqrt(n)-1)']:,} (Delalleau & Bengio 2011)",
        "equal, by exact expansion"
        if r["shallow_product_units"] == r["predicted_2^(sqrt(n)-1)"]
        else "differs",
    )


CHAPTER = Chapter(
    name="depth",
    title="Why depth: what a deep network represents with fewer units",
    question="One hidden layer can approximate any continuous function, so why stack layers? "
    "This chapter counts units: families of functions that a deep network builds with "
    "a number of units growing like the input size, where a shallow one needs "
    "exponentially many (Delalleau & Bengio's sum-product networks, Telgarsky's sawtooth), "
    "trains both kinds to see whether gradient descent finds the compact deep solutions, "
    "and counts the linear regions a ReLU network actually cuts a line into at init.",
    summary="Why go deep, if one hidden layer can approximate anything?",
    runs=(
        Run(
            "depth",
            "depth_efficiency.py",
            smoke=Setting(argv(tiny=True), 0.2),
            default=Setting((), 1.5),
            full=Setting((), 1.5),
        ),
    ),
    keep={"depth": KEEP},
    tables={"cybenko": cybenko, "spn": spn, "regions": regions, "trained": trained},
    headline=headline,
    figures="cnn_jax.studies.depth.plots",
)
