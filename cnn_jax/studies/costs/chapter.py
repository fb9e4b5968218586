"""The costs chapter: cost functions and regularization, Nielsen's chapter 3 (docs/costs.md)."""

from __future__ import annotations

from cnn_jax import stats
from cnn_jax.chapter import FULL, Chapter, Keys, Run, argv, keys, scales
from cnn_jax.tables import md_table, pct, published, side, tolerance

# The keys of the results.json of cost_functions.py (study.py) and regularization.py
# (regularization.py) that the tables below read.
COST_KEYS = keys(
    Keys(
        "mnist.*.costs.*",
        "final_test_accuracy_mean",
        "best_test_accuracy_mean",
        "published_test_accuracy_pct",
    ),
    Keys(
        "neuron.runs.*",
        "cost_name",
        "start",
        "initial_output",
        "final_output",
        "initial_grad_w",
        "cost_drop_first_10_epochs",
        "epochs_to_halve_cost",
        "cost",  # the figures' (plots.COST_FIGURES)
        "output",
        "grad_w",
    ),
    "neuron.grad_w_vs_output",
    "mnist.*.costs.*.curves",
)
REGULARIZATION_KEYS = keys(
    Keys(
        "studies.*",
        "configs.*.final_test_accuracy",
        "configs.*.best_test_accuracy",
        "configs.*.best_epoch",
        "configs.*.final_train_accuracy",
        "images",
        "epochs",
        "configs.*.seeds?",  # with --seeds above 1
        "configs.*.per_seed?",  # the dropout study's (--skip-dropout leaves it out)
        "configs.*.mechanism.*.kernel_norm",
        "configs.*.mechanism.*.abs_z_median",
        "configs.*.mechanism.*.fraction_saturated",
        "configs.*.curves",  # the figures' (plots.REGULARIZATION_FIGURES)
        "configs.*.mechanism.*.abs_z_hist",
        "configs.*.mechanism.*.slope_hist",
    ),
    "bins",
    Keys(
        "studies.*.configs.*.nielsen",
        *("file", "epochs", "seeds", "differs", "best", "final", "peak_epoch"),
        *("band", "his_curve"),
    ),
)
KERAS_KEYS = ("fit",)

COSTS = "cnn_jax.studies.costs.study:CostConfig"
REGULARIZATION = "cnn_jax.studies.costs.regularization:RegularizationConfig"
KERAS = "cnn_jax.studies.costs.keras_mlp:KerasConfig"
QUIET = argv(no_progress=True)

_COST = {"quadratic": "quadratic", "sigmoid_ce": "cross-entropy"}
# (study, config) of the regularization run -> the published entry of Nielsen ch. 3 (test
# data): best epoch, and the final epoch of his own fig/*.json
_L2_IDS = {
    ("overfit", "lambda=0"): "nielsen_ch3_overfit",
    ("overfit", "lambda=0.1"): "nielsen_ch3_regularized",
    ("full", "lambda=0"): "nielsen_ch3_full",
    ("full", "lambda=5"): "nielsen_ch3_full_l2",
}


def _best_final(pid: str) -> dict:
    return {"best": published()[f"{pid}_best"], "final": published()[f"{pid}_final"]}


def mnist(s: dict) -> str:
    rows = []
    for name, entry in s["runs"]["costs/cost_functions"]["mnist"].items():
        for cost, e in entry["costs"].items():
            rows.append(
                [
                    f"{name}, {_COST.get(cost, cost)}",
                    e["published_test_accuracy_pct"] or "–",
                    pct(e["final_test_accuracy_mean"]),
                    pct(e["best_test_accuracy_mean"]),
                ]
            )
    header = ["network, cost", "Nielsen (%)", "ours, final epoch (%)", "ours, best epoch (%)"]
    return md_table(header, rows)


def neuron(s: dict) -> str:
    rows = []
    for r in s["runs"]["costs/cost_functions"]["neuron"]["runs"].values():
        halve = r["epochs_to_halve_cost"]
        w, b = r["start"]
        rows.append(
            [
                f"{_COST.get(r['cost_name'], r['cost_name'])}, ({w:g}, {b:g})",
                f"{r['initial_output']:.3f}",
                f"{r['final_output']:.3f}",
                f"{r['initial_grad_w']:.3g}",
                f"{r['cost_drop_first_10_epochs']:.2g}",
                "not within the run" if halve is None else halve,
            ]
        )
    header = ["cost, start (w, b)", "a at start", "a at the end", "∂C/∂w at start",
              "cost drop in the first 10 epochs", "epochs to halve the cost"]  # fmt: skip
    return md_table(header, rows)


def _study(s: dict, name: str) -> str:
    e = s["runs"]["costs/regularization"]["studies"][name]
    return f"{e['images']:,} images, {e['epochs']} epochs"


def mechanism(s: dict) -> str:
    rows = []
    for (study, label), _ in _L2_IDS.items():
        c = s["runs"]["costs/regularization"]["studies"][study]["configs"][label]
        cells = []
        for m in c["mechanism"].values():
            cells += [
                f"{m['kernel_norm']:.1f}",
                f"{m['abs_z_median']:.2f}",
                f"{100 * m['fraction_saturated']:.0f} %",
            ]
        rows.append([f"{_study(s, study)}, λ {label.split('=')[1]}", *cells])
    header = ["study", "hidden ‖W‖", "hidden median \\|z\\|", "hidden saturated",
              "output ‖W‖", "output median \\|z\\|", "output saturated"]  # fmt: skip
    return md_table(header, rows)


def l2(s: dict) -> str:
    rows = []
    for (study, label), pid in _L2_IDS.items():
        c = s["runs"]["costs/regularization"]["studies"][study]["configs"][label]
        pub = _best_final(pid)
        rows.append(
            [
                _study(s, study),
                label.split("=")[1],
                f"{pub['best']:.2f}",
                f"{pct(c['best_test_accuracy'])} ({c['best_epoch']})",
                f"{pub['final']:.2f}",
                pct(c["final_test_accuracy"]),
            ]
        )
    header = ["study", "λ", "Nielsen best (%)", "ours best (%) (epoch)",
              "Nielsen final (%)", "ours final (%)"]  # fmt: skip
    return md_table(header, rows)


def _against_his(m: dict, seeds: int, scale: float = 100, digits: int = 2) -> str:
    """Our seeds' mean (range) of one overlay measure, and how many seeds fall below and
    above Nielsen's value."""
    spread = f"{scale * m['mean']:.{digits}f}"
    if seeds > 1:
        spread += f" ({scale * m['min']:.{digits}f}–{scale * m['max']:.{digits}f})"
    return f"{spread}; {m['seeds_below']} below, {m['seeds_above']} above"


def nielsen(s: dict, run: str = "costs/regularization") -> str:
    """Nielsen's own run against our seeds: best, final, and the epoch of the best."""
    rows = []
    for study, label in _L2_IDS:
        c = s["runs"].get(run, {}).get("studies", {}).get(study, {}).get("configs", {})
        o = c.get(label, {}).get("nielsen")
        if not o:
            continue
        n = o["seeds"]
        differs = f" (not his: {'; '.join(o['differs'])})" if o.get("differs") else ""
        rows.append(
            [
                _study(s, study) + differs,
                label.split("=")[1],
                str(n),
                f"{100 * o['best']['his']:.2f}",
                _against_his(o["best"], n),
                f"{100 * o['final']['his']:.2f}",
                _against_his(o["final"], n),
                str(o["peak_epoch"]["his"]),
                _against_his(o["peak_epoch"], n, 1, 0),
            ]
        )
    if not rows:
        return "(no run beside Nielsen's in this snapshot)"
    header = ["study", "λ", "seeds", "Nielsen best (%)", "ours best (%): mean (range)",
              "Nielsen final (%)", "ours final (%)", "Nielsen peak epoch",
              "ours peak epoch"]  # fmt: skip
    return md_table(header, rows)


def dropout(s: dict) -> str:
    study = s["runs"]["costs/regularization"]["studies"]["dropout"]
    rows = []
    for label, c in study["configs"].items():
        seeds = c["per_seed"]
        rows.append(
            [
                label.split("=")[1],
                " / ".join(pct(r["final_test_accuracy"]) for r in seeds),
                " / ".join(f"{pct(r['best_test_accuracy'])} ({r['best_epoch']})" for r in seeds),
                " / ".join(pct(r["final_train_accuracy"]) for r in seeds),
            ]
        )
    header = [f"dropout ({study['images']:,} images, {study['epochs']} epochs)",
              "final test (%), per seed", "best test (%) (epoch), per seed",
              "final train (%), per seed"]  # fmt: skip
    return md_table(header, rows)


def _seeds_headline(seeds: dict, pub: dict) -> tuple[str, str, str]:
    """The recorded seeds' mean, range and 95 % t-interval of the best and final epochs,
    each read against Nielsen's one run ± the registry's tolerance (:mod:`cnn_jax.stats`)."""
    ours, verdicts = [], []
    for when in ("best", "final"):
        values = [100 * v for v in seeds[f"{when}_test_accuracy"]]
        ci = stats.mean_interval(values)
        tol = tolerance(f"nielsen_ch3_full_l2_{when}")
        v = stats.value_verdict(ci, pub[when], tol)
        ours.append(
            f"{when} {ci.estimate:.2f} % ({min(values):.2f}–{max(values):.2f}, "
            f"95 % [{ci.low:.2f}, {ci.high:.2f}])"
        )
        verdicts.append(f"{when} {v.word}")
    return (
        f"{', '.join(ours)}, mean of {len(values)} seeds",
        f"best {pub['best']:.2f} %, final {pub['final']:.2f} % (Nielsen ch. 3, λ 5, one run)",
        f"{', '.join(verdicts)} (our interval against his ± {tol:g})",
    )


def headline(runs: dict) -> tuple[str, str, str]:
    c = runs["costs/regularization"]["studies"]["full"]["configs"]["lambda=5"]
    pub = _best_final("nielsen_ch3_full_l2")
    full = runs.get("costs/regularization" + FULL, {}).get("studies", {}).get("full", {})
    seeds = full.get("configs", {}).get("lambda=5", {}).get("seeds")
    if seeds and len(seeds.get("best_test_accuracy", [])) >= 2:
        return _seeds_headline(seeds, pub)
    return (
        f"best {pct(c['best_test_accuracy'])} %, final {pct(c['final_test_accuracy'])} %",
        f"best {pub['best']:.2f} %, final {pub['final']:.2f} % (Nielsen ch. 3, λ 5)",
        f"best {side(100 * c['best_test_accuracy'], pub['best'])}, "
        f"final {side(100 * c['final_test_accuracy'], pub['final'])} his",
    )


CHAPTER = Chapter(
    name="costs",
    title="Costs and regularization: Nielsen's chapter 3",
    question="Why does cross-entropy learn faster than the quadratic cost from a bad start, and "
    "how much do L2 and dropout close the gap between training and test accuracy when "
    "a small network memorizes 1,000 images? Nielsen's published accuracies are compared "
    "best epoch with best epoch and final epoch with final epoch.",
    summary="What do the cost function, L2 and dropout change?",
    runs=(
        Run(
            "costs/cost_functions",
            "cost_functions.py",
            **scales(COSTS, args=QUIET, minutes=(0.2, 0.7, 2.6)),
        ),
        Run(
            "costs/regularization",
            "regularization.py",
            **scales(REGULARIZATION, args=QUIET, minutes=(0.3, 2.0, 4.5)),
        ),
        Run("costs/keras_mlp", "keras_mlp.py", **scales(KERAS, minutes=(0.1, 0.2, 0.2))),
    ),
    keep={
        "costs/cost_functions": COST_KEYS,
        "costs/regularization": REGULARIZATION_KEYS,
        f"costs/regularization{FULL}": REGULARIZATION_KEYS,
        f"costs/cost_functions{FULL}": COST_KEYS,
        "costs/keras_mlp": KERAS_KEYS,
    },
    tables={
        "neuron": neuron,
        "mnist": mnist,
        "l2": l2,
        "mechanism": mechanism,
        "dropout": dropout,
        "nielsen": nielsen,
        "nielsen_full": lambda s: nielsen(s, f"costs/regularization{FULL}"),
    },
    headline=headline,
    figures="cnn_jax.studies.costs.plots",
)
