"""Markdown tables for each chapter's page, from that chapter's results snapshot.

A snapshot (``docs/results/<chapter>.json``) is ``{"chapter", "provenance", "runs": {run: r}}``
where each ``r`` is a run's ``results.json`` trimmed to the keys listed in :data:`KEEP` (the key
names are the scripts' own, so a fresh run trims into the same shape). Every function here
reads a snapshot and returns Markdown; nothing here runs an experiment.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from cnn_jax import published as registry


def _published() -> dict:
    """The registry's numbers (cnn_jax/published.toml, each checked in its source), in the
    shapes the tables use."""
    v = {e.id: e.value for e in registry.load()}

    def best_final(name: str) -> dict:
        return {"best": v[f"{name}_best"], "final": v[f"{name}_final"]}

    return {
        **{k: v[k] for k in ("study_seed_cnn", "study_deep_cnn", "study_deep_cnn_dropout")},
        # Nielsen ch. 3 (test data): best epoch, and the final epoch of his own fig/*.json
        **{
            k: best_final(k)
            for k in (
                "nielsen_ch3_overfit",
                "nielsen_ch3_regularized",
                "nielsen_ch3_full",
                "nielsen_ch3_full_l2",
            )
        },  # fmt: skip
        # Nielsen ch. 5, validation accuracy by number of hidden layers of 30 (single runs)
        "nielsen_ch5_depth": {k: v[f"nielsen_ch5_depth_{k}"] for k in (1, 2, 3, 4)},
        # Glorot & Bengio 2010, Section 4.2.2: mean singular value of the layer Jacobians
        "glorot_jacobian": {
            "standard": v["glorot_jacobian_std"],
            "normalized": v["glorot_jacobian_norm"],
        },  # fmt: skip
        # Bengio et al. 2007, Table 2 (MNIST test error), in the order compared
        # Erhan et al. 2010, Table 1: denoising-autoencoder pretraining minus none, 1 and 2 layers
        "erhan2010_gaps": (
            round(v["erhan2010_1layer_pretrained"] - v["erhan2010_1layer_uniform"], 2),
            round(v["erhan2010_pretrained"] - v["erhan2010_uniform"], 2),
        ),
        "bengio2007_table2": dict(
            zip(
                ("RBM", "autoencoder", "supervised greedy", "none"),
                v["bengio2007_table2_ordering"],
                strict=True,
            )  # fmt: skip
        ),
    }


PUBLISHED = _published()
FULL = "@full"  # the suffix of a run taken from a reproduction at --scale full
# The pretraining chapter's recorded long runs (the full-scale settings of its
# pretraining_converged and pretraining_depth runs, run once in the background): their stored
# entries are kept; a reproduction at a smaller scale does not replace them.
PRETRAINING_CONVERGED, PRETRAINING_DEPTH = "pretraining_converged_long", "pretraining_depth_long"
CONVERGED_FULL = "pretraining_converged" + FULL  # the --converged mode, 3 × 500
PRETRAINING_KEYS = [
    "network",
    "rows.*.test_error_mean",
    "rows.*.test_error_sd",
    "rows.*.early_stopping_test_error_mean",
    "rows.*.early_stopping_test_error_sd",
    "rows.*.gap_to_random_init",
    "rows.*.chosen_lr",
    "rows.*.lrs",
    "rows.*.best_epoch",
    "rows.*.epochs_run",
    "rows.*.delta_norm_median",
    "rows.*.first_over_last_hidden_median",
    "rows.*.readout",
    "input_readout",
]

# The keys of the regularization runs a snapshot keeps (Nielsen chapter 3 and his curves).
REGULARIZATION_KEYS = [
    "studies.*.configs.*.final_test_accuracy",
    "studies.*.configs.*.best_test_accuracy",
    "studies.*.configs.*.best_epoch",
    "studies.*.configs.*.final_train_accuracy",
    "studies.*.images",
    "studies.*.epochs",
    "studies.*.configs.*.seeds",
    "studies.*.configs.*.per_seed",
    "studies.*.configs.*.mechanism.*.kernel_norm",
    "studies.*.configs.*.mechanism.*.abs_z_median",
    "studies.*.configs.*.mechanism.*.fraction_saturated",
    *(f"studies.*.configs.*.nielsen.{k}" for k in ("file", "epochs", "seeds", "differs")),
    *(f"studies.*.configs.*.nielsen.{k}" for k in ("best", "final", "peak_epoch")),
]

# Each chapter's runs, by their folder under the reproduce output (experiments/reproduce.py:
# runs/reproduce/<run>/results.json, or <run>/s0, s1, ... for seeded runs), and the keys of
# results.json a snapshot keeps ("*" = every key at that level).
KEEP: dict[str, dict[str, list[str]]] = {
    "depth": {
        "depth": [
            "cybenko.widths",
            "cybenko.fits.*.rms_error",
            "cybenko.fits.*.max_error",
            "spn",
            "regions",
        ]
    },
    "vanishing": {
        "vanishing/gradients": [
            "delta_norms.*.layers",
            "delta_norms.*.published",
            "delta_norms.*.median",
            "delta_norms.*.p01",
            "delta_norms.*.p99",
            "delta_norms.*.published_percentile",
            "delta_norms.*.median_shrink",
            "mean_field",
            "comparison.*.median",
            "comparison.*.median_shrink",
            "comparison.*.network",
            "training.*.train_accuracy",
            "training.*.test_accuracy",
            "nielsen_training.*.layers",
            "nielsen_training.*.epoch",
            "nielsen_training.*.published",
            "nielsen_training.*.ours_min",
            "nielsen_training.*.ours_median",
            "nielsen_training.*.ours_max",
            "nielsen_training.*.percentile",
            "nielsen_training.*.inside_min_max",
            "nielsen_training.*.inside_p10_p90",
            "nielsen_training.*.ratio_epochs",
            "nielsen_training.*.ratio_published",
            "nielsen_training.*.ratio_ours",
            "nielsen_training.*.seeds",
        ],
        "vanishing/mlp_sigmoid": ["test_accuracy", "test_accuracies", "epochs"],
    },
    "costs": {
        "costs/cost_functions": [
            "mnist.*.costs.*.final_test_accuracy_mean",
            "mnist.*.costs.*.best_test_accuracy_mean",
            "mnist.*.costs.*.published_test_accuracy_pct",
            "neuron.runs.*.cost_name",
            "neuron.runs.*.start",
            "neuron.runs.*.initial_output",
            "neuron.runs.*.final_output",
            "neuron.runs.*.initial_grad_w",
            "neuron.runs.*.cost_drop_first_10_epochs",
            "neuron.runs.*.epochs_to_halve_cost",
        ],
        **{
            run: REGULARIZATION_KEYS
            for run in ("costs/regularization", f"costs/regularization{FULL}")
        },
    },
    "initialization": {
        "initialization": [
            "table.*.test_error",
            "table.*.test_error_sd",
            "table.*.test_errors",
            "table.*.chosen_lr",
            "table.*.published_test_error",
            "table.*.updates",
            "init.*.jacobian_mean_hidden_to_hidden",
            "curves.*.updates",
            "curves.*.backprop_ratio_first_to_last",
            "curves.*.weight_grad_ratio_first_to_last",
            "curves.*.weight_grad_spread",
            "curves.*.backprop_reversed_at",
        ],
        **{
            run: [
                "budget",
                "networks.*.lr",
                "networks.*.updates",
                "networks.*.test_error_by_epoch",
                "networks.*.published_test_error",
            ]
            for run in ("initialization_budget", "initialization_budget" + FULL)
        },
        **{
            run: [
                "plateau",
                "depths.*.depth",
                "depths.*.top_floor",
                "depths.*.top_floor_update",
                "depths.*.top_exit_update",
                "depths.*.error_exit_update",
                "depths.*.final_error",
                "summary",
            ]
            for run in ("initialization_plateau", "initialization_plateau" + FULL)
        },
    },
    "pretraining": {
        **{run: PRETRAINING_KEYS for run in ("pretraining", "pretraining_full")},
        **{
            run: [*PRETRAINING_KEYS, "rows.*.validation_error_by_epoch"]
            for run in (PRETRAINING_CONVERGED, CONVERGED_FULL)
        },
        PRETRAINING_DEPTH: [
            "network",
            *(f"depths.*.{k}" for k in PRETRAINING_KEYS),
            "depths.*.rows.*.early_stopping_test_error",
        ],
    },
    "cnn": {
        **{
            run + scale: ["test_accuracy", "test_accuracies", "epochs"]
            for run in ("cnn/seed", "cnn/deep", "cnn/deep_dropout")
            for scale in ("", FULL)
        },
        "cnn/benchmark": [
            "models.*.images_per_second",
            "models.*.gflops",
            "models.*.compile_seconds",
        ],
    },
    "layers": {"layers": ["statistics.layers"]},
    "probes": {
        "probes": ["runs.*.label", "runs.*.layers"],
        **{
            run: ["runs.*.label", "runs.*.layers", "by_epoch"]
            for run in ("probes_mlp", f"probes_mlp{FULL}")
        },
    },
}
# Runs that a default reproduction may not make (hours on a CPU, or another script): when the
# reproduce output lacks one, the snapshot keeps its stored entry and that entry's provenance.
# A run named "<path>@full" is <path> of a reproduction at --scale full (its own folder:
# ``python -m cnn_jax.report --docs --from-full-runs DIR``).
OPTIONAL = {
    "pretraining_full",
    PRETRAINING_CONVERGED,
    PRETRAINING_DEPTH,
    "cnn/benchmark",
    "probes_mlp",
    # The chapter's plateau and budget runs are new: snapshots made before them lack them.
    "initialization_budget",
    "initialization_plateau",
} | {name for runs in KEEP.values() for name in runs if name.endswith(FULL)}


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; cells are written with ``str``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float | None, digits: int = 2) -> str:
    """A fraction in [0, 1] as a percentage, or "–"."""
    return "–" if x is None else f"{100 * x:.{digits}f}"


def _scalar(x) -> float:
    """A number, or the mean of a list of them (a per-layer value averaged over layers)."""
    return float(statistics.mean(x)) if isinstance(x, list) else float(x)


def _side(ours: float, theirs: float) -> str:
    return "above" if ours > theirs else "below" if ours < theirs else "equal to"


def _bengio_order(rows: dict) -> bool:
    """RBM, then the autoencoders, then supervised greedy, then no pretraining (Table 2)."""
    e = {k: r["test_error_mean"] for k, r in rows.items()}
    auto = max(e["autoencoder"], e["denoising autoencoder"])
    best_auto = min(e["autoencoder"], e["denoising autoencoder"])
    none = min(e["random init"], e["normalized init"])
    return e["RBM"] < best_auto and auto < e["supervised greedy"] < none


def _error(x: float) -> str:
    return f"{x:.3f}" if x >= 0.01 else f"{x:.2g}"


def _g(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


# ----------------------------------------------------------------------------- depth


def depth_cybenko(s: dict) -> str:
    c = s["runs"]["depth"]["cybenko"]
    rows = []
    for target, fit in c["fits"].items():
        for kind in ("rms", "max"):
            errs = fit.get(f"{kind}_error")
            if errs is not None and (kind == "rms" or "8π" in target):
                rows.append(
                    [f"{target}, {kind.upper()}"] + [_error(statistics.median(e)) for e in errs]
                )
    return md_table(["target"] + [f"width {w}" for w in c["widths"]], rows)


def depth_spn(s: dict) -> str:
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
    header = [
        "n",
        "depth",
        "deep units",
        "depth-2 product units (counted)",
        "2^(√n − 1)",
        "deep vs expansion, max relative gap",
    ]
    return md_table(header, rows)


def depth_regions(s: dict) -> str:
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
    header = [
        f"depth × {reg['width']} units",
        "params",
        "deep regions (mean)",
        "shallow width, same params",
        "shallow regions (mean)",
        "sawtooth (2 units/layer)",
        f"bound {reg['width'] + 1}^depth",
    ]
    return md_table(header, rows)


# ----------------------------------------------------------------------------- vanishing


def vanishing_nielsen(s: dict) -> str:
    rows = []
    for name, e in s["runs"]["vanishing/gradients"]["delta_norms"].items():
        if not e.get("published"):
            continue
        for i, layer in enumerate(e["layers"]):
            rows.append(
                [
                    name if i == 0 else "",
                    layer,
                    f"{e['published'][i]:.4f}",
                    f"{e['median'][i]:.4f}",
                    f"{e['p01'][i]:.4f}–{e['p99'][i]:.4f}",
                    f"{e['published_percentile'][i]:.0f}",
                ]
            )
    header = [
        "network",
        "hidden layer",
        "Nielsen (fig/norms_during_training_*.json, epoch 0)",
        "our median",
        "our p01–p99",
        "percentile of Nielsen's value",
    ]
    return md_table(header, rows)


def vanishing_mean_field(s: dict) -> str:
    """Nielsen's sigmoid networks, and the ReLU network of the comparison."""
    run = s["runs"]["vanishing/gradients"]
    mf = run["mean_field"]
    nets = [("sigmoid", name, e) for name, e in run["delta_norms"].items()]
    nets += [
        ("relu", f"{label}, {e.get('network', '')}", e)
        for label, e in run["comparison"].items()
        if label.lower().startswith("relu")
    ]
    rows = [
        [
            name,
            act,
            f"{mf[act]['predicted_shrink']:.2f}",
            ", ".join(f"{x:.2f}" for x in e["median_shrink"]),
        ]
        for act, name, e in nets
    ]
    header = ["network", "activation", "computed 1/√χ1", "measured median shrink per layer"]
    return md_table(header, rows)


def vanishing_comparison(s: dict) -> str:
    run = s["runs"]["vanishing/gradients"]
    rows = []
    for label, e in run["comparison"].items():
        med, t = e["median"], run.get("training", {}).get(label)
        after = f"{t['train_accuracy'][-1]:.3f} / {t['test_accuracy'][-1]:.3f}" if t else "–"
        rows.append([label, ", ".join(f"{m:.2g}" for m in med), f"1/{med[-2] / med[0]:.3g}", after])
    header = [
        "network",
        "median ‖δˡ‖ at init, h1 … last hidden, output",
        "h1 / last hidden",
        "after training: train / test accuracy",
    ]
    return md_table(header, rows)


_NIELSEN_EPOCHS = (0, 10, 100, 499)  # of his recorded epochs, the ones shown


def _no_overlay(run: dict) -> str | None:
    if run.get("nielsen_training"):
        return None
    return "*(not in the stored run: `vanishing_gradient.py --train` writes `nielsen_training`)*"


def vanishing_nielsen_training(s: dict) -> str:
    """Nielsen's ‖δˡ‖ at some of his recorded epochs beside our median (min–max) over
    training seeds, and the percentage of our seeds below his value."""
    run = s["runs"]["vanishing/gradients"]
    if note := _no_overlay(run):
        return note
    shown = [
        e for e in _NIELSEN_EPOCHS if any(e in o["epoch"] for o in run["nielsen_training"].values())
    ]
    rows = []
    for name, o in run["nielsen_training"].items():
        for i, layer in enumerate(o["layers"]):
            cells = []
            for epoch in shown:
                if epoch not in o["epoch"]:
                    cells.append("–")
                    continue
                k = o["epoch"].index(epoch)
                cells.append(
                    f"{o['published'][k][i]:.2g} · {o['ours_median'][k][i]:.2g} "
                    f"({o['ours_min'][k][i]:.2g}–{o['ours_max'][k][i]:.2g}) · "
                    f"{o['percentile'][k][i]:.0f}"
                )
            rows.append([name if i == 0 else "", layer, *cells])
    header = ["network", "hidden layer", *(f"epoch {e}" for e in shown)]
    return md_table(header, rows)


def vanishing_nielsen_ratio(s: dict) -> str:
    """‖δ_last hidden‖/‖δ_h1‖ during training, his against our seeds, and the share of
    his recorded (epoch, layer) points inside our band."""
    run = s["runs"]["vanishing/gradients"]
    if note := _no_overlay(run):
        return note
    rows = []
    for name, o in run["nielsen_training"].items():
        his, ours = o["ratio_published"], o["ratio_ours"]
        cells = [
            f"{his[stat]:.3g} · {ours[stat]['median']:.3g} "
            f"({ours[stat]['min']:.3g}–{ours[stat]['max']:.3g})"
            for stat in ("at_init", "min", "median", "max", "final")
        ]
        inside = f"{100 * o['inside_min_max']:.0f} / {100 * o['inside_p10_p90']:.0f}"
        rows.append([name, o["seeds"], *cells, inside])
    first, last = next(iter(run["nielsen_training"].values()))["ratio_epochs"]
    header = [
        "network",
        "our seeds",
        "at init",
        f"min over epochs {first}–{last}",
        "median",
        "max",
        f"at epoch {last}",
        "his points inside our min–max / p10–p90 (%)",
    ]
    return md_table(header, rows)


def vanishing_depth_accuracy(s: dict) -> str:
    run = s["runs"]["vanishing/mlp_sigmoid"]
    ours = {4: f"{pct(run['test_accuracy'])} (best epoch {pct(max(run['test_accuracies']))})"}
    rows = [
        ["784" + "-30" * k + "-10", f"{v:.2f}", ours.get(k, "not run")]
        for k, v in PUBLISHED["nielsen_ch5_depth"].items()
    ]
    header = [
        "network",
        "Nielsen ch. 5, validation (%), one run of 30 epochs",
        f"ours, test (%), after {run['epochs']} epochs",
    ]
    return md_table(header, rows)


# ----------------------------------------------------------------------------- costs


def costs_mnist(s: dict) -> str:
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


_COST = {"quadratic": "quadratic", "sigmoid_ce": "cross-entropy"}


def costs_neuron(s: dict) -> str:
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


def costs_mechanism(s: dict) -> str:
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


_L2_IDS = {
    ("overfit", "lambda=0"): "nielsen_ch3_overfit",
    ("overfit", "lambda=0.1"): "nielsen_ch3_regularized",
    ("full", "lambda=0"): "nielsen_ch3_full",
    ("full", "lambda=5"): "nielsen_ch3_full_l2",
}


def _study(s: dict, name: str) -> str:
    e = s["runs"]["costs/regularization"]["studies"][name]
    return f"{e['images']:,} images, {e['epochs']} epochs"


def costs_l2(s: dict) -> str:
    rows = []
    for (study, label), pid in _L2_IDS.items():
        c = s["runs"]["costs/regularization"]["studies"][study]["configs"][label]
        pub = PUBLISHED[pid]
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
    header = [
        "study",
        "λ",
        "Nielsen best (%)",
        "ours best (%) (epoch)",
        "Nielsen final (%)",
        "ours final (%)",
    ]
    return md_table(header, rows)


def costs_l2_seeds(s: dict) -> str:
    rows = []
    for (study, label), pid in _L2_IDS.items():
        seeds = s["runs"]["costs/regularization"]["studies"][study]["configs"][label].get("seeds")
        if not seeds:
            continue
        pub = PUBLISHED[pid]
        fin = [100 * x for x in seeds["final_test_accuracy"]]
        best = [100 * x for x in seeds["best_test_accuracy"]]
        rows.append(
            [
                _study(s, study),
                label.split("=")[1],
                f"{pub['best']:.2f}",
                f"{statistics.mean(best):.2f} ({min(best):.2f}–{max(best):.2f})",
                f"{pub['final']:.2f}",
                f"{statistics.mean(fin):.2f} ± {statistics.stdev(fin):.2f} "
                f"({min(fin):.2f}–{max(fin):.2f})",
            ]
        )
    header = [
        "study",
        "λ",
        "Nielsen best (%)",
        f"ours best, {len(fin)} seeds: mean (range)",
        "Nielsen final (%)",
        "ours final: mean ± sd (range)",
    ]
    return md_table(header, rows)


def _against_his(m: dict, seeds: int, scale: float = 100, digits: int = 2) -> str:
    """Our seeds' mean (range) of one overlay measure, and how many seeds fall below and
    above Nielsen's value."""
    spread = f"{scale * m['mean']:.{digits}f}"
    if seeds > 1:
        spread += f" ({scale * m['min']:.{digits}f}–{scale * m['max']:.{digits}f})"
    return f"{spread}; {m['seeds_below']} below, {m['seeds_above']} above"


def costs_nielsen(s: dict, run: str = "costs/regularization") -> str:
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


def costs_dropout(s: dict) -> str:
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


# ----------------------------------------------------------------------------- initialization


def init_jacobian(s: dict) -> str:
    rows = []
    for label, e in s["runs"]["initialization"]["init"].items():
        j = {k: _scalar(v) for k, v in e["jacobian_mean_hidden_to_hidden"].items()}
        paper = ""
        if label.startswith("tanh"):
            kind = "normalized" if label.endswith("N") else "standard"
            paper = f"≈ {PUBLISHED['glorot_jacobian'][kind]}"
        rows.append([label, paper or "–", f"{j['median']:.3f}", f"{j['p05']:.3f}–{j['p95']:.3f}"])
    header = ["network", "paper (Sec. 4.2.2, Shapeset)", "ours (median over seeds)", "5–95 %"]
    return md_table(header, rows)


def init_table1(s: dict) -> str:
    rows = []
    for label, e in s["runs"]["initialization"]["table"].items():
        pub = e.get("published_test_error")
        seeds = len(e.get("test_errors", [e["test_error"]]))
        ours = f"{e['test_error']:.2f}"
        if seeds > 1:
            ours += f" ± {e['test_error_sd']:.2f}"
        rows.append([label, "–" if pub is None else f"{pub:.2f}", ours, seeds, e["chosen_lr"]])
    header = [
        "network",
        "paper, Table 1 (%)",
        "ours (%), mean ± sd",
        "seeds",
        "learning rate picked on validation",
    ]
    return md_table(header, rows)


def _updates(u) -> str:
    return "not within the run" if u is None else f"{u:,}"


def init_section43(s: dict) -> str:
    """Section 4.3: the gradient-variance ratios at init and at the end of the curves."""
    rows = []
    for label, e in s["runs"]["initialization"].get("curves", {}).items():
        if not label.startswith("tanh") or "backprop_ratio_first_to_last" not in e:
            continue
        back, weight = e["backprop_ratio_first_to_last"], e["weight_grad_ratio_first_to_last"]
        spread = e["weight_grad_spread"]
        rows.append(
            [
                label,
                f"{_g(back[0])} → {_g(back[-1])}",
                _updates(e["backprop_reversed_at"]),
                f"{_g(weight[0])} → {_g(weight[-1])}",
                f"{_g(spread[0])} → {_g(spread[-1])}",
                f"{e['updates'][-1]:,}",
            ]
        )
    if not rows:
        return "(no Section 4.3 curves in this snapshot: rerun the chapter)"
    header = [
        "network",
        "Var(∂C/∂s) layer 1 / top layer, init → end",
        "ratio first ≥ 1 at update",
        "Var(∂C/∂W) layer 1 / top hidden layer, init → end",
        "largest / smallest over hidden layers, init → end",
        "updates",
    ]
    return md_table(header, rows)


def _not_in_snapshot(run: str) -> str:
    how = (
        "`python -m cnn_jax.report --docs --from-full-runs DIR --only initialization`"
        if run.endswith(FULL)
        else "a reproduction of the chapter"
    )
    return f"({run} is not in docs/results yet: {how} adds it.)"


def init_budget(s: dict, run: str) -> str:
    """Test error after each epoch of the budget run ``run``, mean over its seeds."""
    r = s["runs"].get(run)
    if r is None:
        return _not_in_snapshot(run)
    networks = r["networks"]
    updates = next(iter(networks.values()))["updates"]
    rows = []
    for label, e in networks.items():
        per_epoch = [sum(col) / len(col) for col in zip(*e["test_error_by_epoch"], strict=True)]
        pub = e.get("published_test_error")
        rows.append([label, e["lr"], *[f"{v:.2f}" for v in per_epoch], "–" if pub is None else pub])
    width = f"{r['budget']['hidden']} × {r['budget']['width']:,}"
    header = [f"network ({width})", "lr", *[f"{u:,} updates" for u in updates], "paper, Table 1"]
    return md_table(header, rows)


def init_plateau(s: dict, run: str) -> str:
    """Per depth: the top layer's floor and when it and the error leave their plateaus."""
    r = s["runs"].get(run)
    if r is None:
        return _not_in_snapshot(run)
    rows = []
    for key, e in r["depths"].items():
        saturated = r["summary"][key]["top_saturated_per_seed"]
        exits = [
            _updates(u) if s else "not saturated"
            for u, s in zip(e["top_exit_update"], saturated, strict=True)
        ]
        rows.append(
            [
                e["depth"],
                " / ".join(f"{v:.3f}" for v in e["top_floor"]),
                " / ".join(exits),
                " / ".join(_updates(u) for u in e["error_exit_update"]),
                " / ".join(f"{v:.1f}" for v in e["final_error"]),
            ]
        )
    header = [
        "hidden layers",
        "top layer's floor (mean activation), per seed",
        "top layer (saturated: floor < 0.1) leaves its floor at update",
        "error leaves chance at update",
        "final error (%)",
    ]
    return md_table(header, rows)


# ----------------------------------------------------------------------------- pretraining


def _mean_sd(r: dict, key: str) -> str:
    """``key``_mean ± ``key``_sd of a row, or "–" when the run did not record it."""
    mean = r.get(f"{key}_mean")
    return "–" if mean is None else f"{mean:.2f} ± {r[f'{key}_sd']:.2f}"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{x:+.2f}"


def _pretraining_rows(run: dict) -> list[list]:
    rows = []
    for label, r in run["rows"].items():
        rows.append(
            [
                label,
                "–" if r.get("chosen_lr") is None else f"{r['chosen_lr']:g}",
                _mean_sd(r, "test_error"),
                _mean_sd(r, "early_stopping_test_error"),
                _signed(r.get("gap_to_random_init")),
                f"{r['first_over_last_hidden_median']:.3f}",
            ]
        )
    return rows


def pretraining_rows(s: dict, run: str = "pretraining") -> str:
    header = [
        "start",
        "η (picked on validation)",
        "test error (%), last epoch",
        "test error (%), best validation epoch",
        "gap to random init (points)",
        "‖δ¹‖/‖δ³‖",
    ]
    if run not in s["runs"]:
        return f"({run} is not in these results)"
    return md_table(header, _pretraining_rows(s["runs"][run]))


def _readout(r: dict, layer: int, probe: str = "probe_accuracy") -> str:
    """Probe accuracy (%) of hidden layer ``layer`` (0-based) before → after fine-tuning."""
    ro = r.get("readout") or {}
    if not ro:
        return "–"
    before, after = (list(ro[when].values())[layer][probe] for when in ("before", "after"))
    return f"{100 * before:.1f} → {100 * after:.1f}"


def pretraining_readout(s: dict, run: str = "pretraining") -> str:
    """Per row: ‖δˡ‖ at the start and the probes of the first and last hidden layer."""
    if run not in s["runs"]:
        return f"({run} is not in these results)"
    data = s["runs"][run]
    rows = []
    for label, r in data["rows"].items():
        d = r.get("delta_norm_median") or [None] * 3
        rows.append(
            [
                label,
                *("–" if x is None else f"{x:.2e}" for x in (d[0], d[-2])),
                f"{r['first_over_last_hidden_median']:.3f}",
                _readout(r, 0),
                _readout(r, -1),
                _readout(r, -1, "nearest_mean_accuracy"),
            ]
        )
    header = [
        "start",
        "‖δ¹‖",
        "‖δ³‖",
        "‖δ¹‖/‖δ³‖",
        "linear probe h1 (%), before → after",
        "linear probe h3 (%), before → after",
        "nearest class mean h3 (%), before → after",
    ]
    pixels = data.get("input_readout") or {}
    table = md_table(header, rows)
    if pixels:
        table += (
            f"\n\nOn the pixels themselves: linear probe {100 * pixels['probe_accuracy']:.1f} %, "
            f"nearest class mean {100 * pixels['nearest_mean_accuracy']:.1f} %."
        )
    return table


def pretraining_converged(s: dict, name: str = PRETRAINING_CONVERGED) -> str:
    run = s["runs"].get(name)
    if run is None:
        return "(the converged run is not in these results)"
    rows = []
    for label, r in run["rows"].items():
        rows.append(
            [
                label,
                f"{r['chosen_lr']:g}",
                r["epochs_run"],
                ", ".join(map(str, r["best_epoch"])),
                _mean_sd(r, "early_stopping_test_error"),
                _mean_sd(r, "test_error"),
                _signed(r.get("gap_to_random_init")),
                f"{r['first_over_last_hidden_median']:.3f}",
            ]
        )
    header = [
        "start",
        "η",
        "epochs run",
        "best validation epoch per seed",
        "test error (%), best validation epoch",
        "test error (%), last epoch",
        "gap to random init (points)",
        "‖δ¹‖/‖δ³‖",
    ]
    return md_table(header, rows)


def pretraining_depth(s: dict) -> str:
    run = s["runs"].get(PRETRAINING_DEPTH)
    if run is None:
        return "(the depth sweep is not in these results)"
    rows = []
    for depth, d in run["depths"].items():
        base = d["rows"].get("random init", {}).get("early_stopping_test_error_sd")
        for label, r in d["rows"].items():
            e = r["early_stopping_test_error"]
            sd = r["early_stopping_test_error_sd"]
            rows.append(
                [
                    depth,
                    label,
                    f"{r['chosen_lr']:g}",
                    _mean_sd(r, "early_stopping_test_error"),
                    f"{min(e):.2f}–{max(e):.2f}",
                    _signed(r.get("gap_to_random_init")),
                    "–" if not base else f"{sd / base:.2f}",
                ]
            )
    header = [
        "hidden layers",
        "start",
        "η",
        "test error (%), best validation epoch, mean ± sd",
        "min–max over seeds",
        "gap to random init (points)",
        "sd / random init's sd",
    ]
    return md_table(header, rows)


def pretraining_gaps(s: dict) -> str:
    """Each row's gap to random init here, beside the published gaps."""
    runs = s["runs"]
    bengio, erhan = PUBLISHED["bengio2007_table2"], PUBLISHED["erhan2010_gaps"]
    published = {
        "RBM": (bengio["RBM"] - bengio["none"], None),
        "autoencoder": (bengio["autoencoder"] - bengio["none"], None),
        "denoising autoencoder": (None, erhan),
        "supervised greedy": (bengio["supervised greedy"] - bengio["none"], None),
    }

    def gap(run: str, label: str):
        r = (runs.get(run) or {}).get("rows", {}).get(label) or {}
        return _signed(r.get("gap_to_random_init"))

    def depth_gap(label: str) -> str:
        d = (runs.get(PRETRAINING_DEPTH) or {}).get("depths", {})
        gaps = [
            f"{k}: {_signed(v['rows'][label].get('gap_to_random_init'))}"
            for k, v in d.items()
            if label in v["rows"]
        ]
        return ", ".join(gaps) or "–"

    rows = []
    for label in runs["pretraining"]["rows"]:
        if label == "random init":
            continue
        b, e = published.get(label, (None, None))
        rows.append(
            [
                label,
                gap("pretraining", label),
                gap(PRETRAINING_CONVERGED, label),
                gap(CONVERGED_FULL, label),
                depth_gap(label),
                _signed(b),
                "–" if e is None else f"1 layer {e[0]:+.2f}, 2 layers {e[1]:+.2f}",
            ]
        )
    header = [
        "start",
        "ours, default run",
        "ours, converged, 3 × 100",
        "ours, converged, 3 × 500",
        "ours, depth sweep (hidden layers: gap)",
        "Bengio et al. 2007, Table 2",
        "Erhan et al. 2010, Table 1",
    ]
    return md_table(header, rows)


# ----------------------------------------------------------------------------- cnn


_CNN = {
    "cnn/seed": ("seed CNN (the study's)", "study_seed_cnn"),
    "cnn/deep": ("deep CNN", "study_deep_cnn"),
    "cnn/deep_dropout": ("deep CNN + dropout 0.5", "study_deep_cnn_dropout"),
}


def _over_seeds(values: list[float]) -> str:
    """One value as a percentage, or the mean (min–max) over seeds."""
    if len(values) == 1:
        return pct(values[0])
    return f"{pct(statistics.mean(values))} ({pct(min(values))}–{pct(max(values))})"


def cnn_results(s: dict) -> str:
    rows = []
    for run, (label, pid) in _CNN.items():
        r = s["runs"][run]
        seeds = r.get("seeds", [r])
        rows.append(
            [
                label,
                f"{PUBLISHED[pid]:.2f}",
                _over_seeds([x["test_accuracy"] for x in seeds]),
                _over_seeds([max(x["test_accuracies"]) for x in seeds]),
                r["epochs"],
                len(seeds),
            ]
        )
    header = ["model", "study (%)", "ours, final epoch (%)", "ours, best epoch (%)", "epochs",
              "seeds"]  # fmt: skip
    return md_table(header, rows)


def where_in_spread(published: float, values: list[float]) -> str:
    """Where a published number (%) sits among our seeds' values (%): below or above all of
    them, or inside, with how many seeds reach it."""
    reach = sum(v >= published for v in values)
    if reach == 0:
        return f"above all {len(values)} seeds"
    if reach == len(values):
        return f"below all {len(values)} seeds"
    return f"inside: {reach} of {len(values)} seeds reach it"


def cnn_spread(s: dict) -> str:
    """The CNNs at the study's 10 epochs, over seeds: mean ± sd, min–max and where the
    study's number sits (runs ``cnn/<net>@full``, from a reproduction at --scale full)."""
    rows = []
    for run, (label, pid) in _CNN.items():
        r = s["runs"].get(run + FULL)
        if r is None:
            continue
        final = [100 * x["test_accuracy"] for x in r.get("seeds", [r])]
        best = [100 * max(x["test_accuracies"]) for x in r.get("seeds", [r])]
        sd = statistics.stdev(final) if len(final) > 1 else 0.0
        rows.append(
            [
                label,
                f"{PUBLISHED[pid]:.2f}",
                f"{statistics.mean(final):.2f} ± {sd:.2f}",
                f"{min(final):.2f}–{max(final):.2f}",
                f"{statistics.mean(best):.2f}",
                where_in_spread(PUBLISHED[pid], final),
                r["epochs"],
                len(final),
            ]
        )
    if not rows:
        return "(no reproduction at --scale full in these results)"
    header = ["model", "study (%)", "ours, final epoch: mean ± sd (%)", "min–max (%)",
              "best epoch, mean (%)", "the study's number", "epochs", "seeds"]  # fmt: skip
    return md_table(header, rows)


def cnn_benchmark(s: dict) -> str:
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


# ----------------------------------------------------------------------------- layers, probes


def layers_stats(s: dict) -> str:
    rows = []
    for name, st in s["runs"]["layers"]["statistics"]["layers"].items():
        zero, dead = st.get("zero_fraction"), st.get("dead_fraction")
        rows.append(
            [
                name,
                f"{st['mean']:.3f}",
                f"{st['std']:.3f}",
                "" if zero is None else f"{zero:.3f}",
                "" if dead is None else f"{dead:.3f}",
            ]
        )
    return md_table(["layer", "mean", "std", "zero fraction", "dead ReLU fraction"], rows)


def probes_by_epoch(s: dict, run: str = "probes_mlp") -> str:
    """Linear-probe test accuracy (nearest-class-mean accuracy in brackets) of every hidden
    layer's output and of the network's output, by epoch, from the "probes_mlp" run."""
    found = s["runs"].get(run, {}).get("by_epoch")
    if not found:
        return "(no run probed at several epochs in this snapshot)"
    rows, hidden = [], 0
    for run in found:
        # The activations' outputs: the layers after each dense layer but the last.
        names = [n for n in run["layers"][:-1] if n not in ("input", "flatten")]
        names = [n for n in names if not n.startswith("dense")] + run["layers"][-1:]
        hidden = max(hidden, len(names) - 1)
        for i, epoch in enumerate(run["epochs"]):
            accuracy = run["test_accuracy"][i]
            cells = [
                f"{run['probe_test_accuracy'][n][i]:.3f} ({run['nearest_mean_accuracy'][n][i]:.3f})"
                for n in names
            ]
            rows.append(
                [run["label"], str(epoch), "–" if accuracy is None else pct(accuracy), *cells]
            )
    header = [
        "network",
        "epoch",
        "test acc. (%)",
        *(f"hidden {k + 1}" for k in range(hidden)),
        "output",
    ]
    return md_table(header, rows)


def probes_table(s: dict, *, cnn: bool) -> str:
    """The CNNs' probes (cnn=True: networks with a conv layer) or the MLPs', side by side, from
    the "probes" run and, when there is one, the "probes_mlp" run."""
    nets = [n for run in ("probes", "probes_mlp") for n in s["runs"].get(run, {}).get("runs", [])]
    nets = [n for n in nets if any(name.startswith("conv") for name in n["layers"]) == cnn]
    if not nets:
        return "(no such network in this run)"
    names = list(nets[0]["layers"])
    rows = []
    for i, name in enumerate(names):
        cells = []
        for net in nets:
            layers = list(net["layers"].values())
            r = layers[i] if i < len(layers) else None
            cells.append(
                "–"
                if r is None
                else f"{r['probe_test_accuracy']:.3f} ({r['nearest_mean_accuracy']:.3f})"
            )
        rows.append([name, *cells])
    return md_table(["layer", *(n["label"] for n in nets)], rows)


# ----------------------------------------------------------------------------- headlines


def _depth_headline(runs: dict) -> tuple[str, str, str]:
    r = runs["depth"]["spn"][-1]
    return (
        f"n = {r['n']}: deep {r['deep_units']} units, "
        f"depth-2 {r['shallow_product_units']:,} products",
        f"2^(√n − 1) = {r['predicted_2^(sqrt(n)-1)']:,} (Delalleau & Bengio 2011)",
        "equal, by exact expansion"
        if r["shallow_product_units"] == r["predicted_2^(sqrt(n)-1)"]
        else "differs",
    )


def _vanishing_headline(runs: dict) -> tuple[str, str, str]:
    e = runs["vanishing/gradients"]["delta_norms"]["784-30-30-30-30-10"]
    inside = all(
        lo <= p <= hi for p, lo, hi in zip(e["published"], e["p01"], e["p99"], strict=True)
    )
    return (
        f"‖δ¹‖ median {e['median'][0]:.4f} over seeds",
        f"{e['published'][0]:.4f} (Nielsen ch. 5, one draw)",
        "inside our 1–99 % band" if inside else "outside our 1–99 % band",
    )


def _costs_headline(runs: dict) -> tuple[str, str, str]:
    c = runs["costs/regularization"]["studies"]["full"]["configs"]["lambda=5"]
    pub = PUBLISHED["nielsen_ch3_full_l2"]
    return (
        f"best {pct(c['best_test_accuracy'])} %, final {pct(c['final_test_accuracy'])} %",
        f"best {pub['best']:.2f} %, final {pub['final']:.2f} % (Nielsen ch. 3, λ 5)",
        f"best {_side(100 * c['best_test_accuracy'], pub['best'])}, "
        f"final {_side(100 * c['final_test_accuracy'], pub['final'])} his",
    )


def _initialization_headline(runs: dict) -> tuple[str, str, str]:
    j = _scalar(
        runs["initialization"]["init"]["tanh N"]["jacobian_mean_hidden_to_hidden"]["median"]
    )
    return (
        f"tanh N Jacobian {j:.3f}",
        f"≈ {PUBLISHED['glorot_jacobian']['normalized']} (Glorot & Bengio 2010)",
        "agrees (within 0.05)"
        if abs(j - PUBLISHED["glorot_jacobian"]["normalized"]) <= 0.05
        else "differs",
    )


def _pretraining_headline(runs: dict) -> tuple[str, str, str]:
    r, b = runs["pretraining"]["rows"], PUBLISHED["bengio2007_table2"]
    key = "early_stopping_test_error_mean"
    for run in (CONVERGED_FULL, PRETRAINING_CONVERGED):  # the larger network first
        converged = runs.get(run, {}).get("rows", {})
        if "RBM" in converged and "random init" in converged:
            rbm, none = converged["RBM"][key], converged["random init"][key]
            hidden = runs[run]["network"].split("-")[1:-1]  # "784-500-500-500-10"
            units = f"{len(hidden)} × {hidden[0]}" if len(set(hidden)) == 1 else "-".join(hidden)
            return (
                f"converged, η tuned, {units} units: RBM {rbm:.2f} %, random init {none:.2f} %",
                f"DBN {b['RBM']} %, no pretraining {b['none']} % (Bengio et al. 2007)",
                f"gap {rbm - none:+.2f} points against theirs {b['RBM'] - b['none']:+.1f}: "
                + ("pretraining helps, by less" if rbm < none else "no benefit once tuned"),
            )
    key = key if key in r["RBM"] else "test_error_mean"
    return (
        f"RBM {r['RBM'][key]:.2f} %, random init {r['random init'][key]:.2f} % error",
        f"DBN {b['RBM']} %, no pretraining {b['none']} % (Bengio et al. 2007)",
        ("same order" if _bengio_order(r) else "another order")
        + ", higher errors at a far smaller budget",
    )


def _cnn_headline(runs: dict) -> tuple[str, str, str]:
    study = PUBLISHED["study_seed_cnn"]
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


def _layers_headline(runs: dict) -> tuple[str, str, str]:
    layers = runs["layers"]["statistics"]["layers"]
    dead = max(st.get("dead_fraction") or 0.0 for st in layers.values())
    return f"largest dead-ReLU fraction {dead:.3f}", "–", "no published number"


def _probes_headline(runs: dict) -> tuple[str, str, str]:
    net = runs["probes"]["runs"][0]["layers"]
    first, last = next(iter(net.values())), list(net.values())[-1]
    return (
        f"probe {first['probe_test_accuracy']:.3f} on pixels → "
        f"{last['probe_test_accuracy']:.3f} at the output",
        "–",
        "no published number",
    )


def headline(chapter: str, s: dict) -> tuple[str, str, str]:
    """(measured, published, verdict) for the README's summary of chapters."""
    return _HEADLINES[chapter](s["runs"])


_HEADLINES: dict[str, Callable[[dict], tuple[str, str, str]]] = {
    "depth": _depth_headline,
    "vanishing": _vanishing_headline,
    "costs": _costs_headline,
    "initialization": _initialization_headline,
    "pretraining": _pretraining_headline,
    "cnn": _cnn_headline,
    "layers": _layers_headline,
    "probes": _probes_headline,
}


# chapter -> {table name: renderer}
TABLES: dict[str, dict[str, Callable[[dict], str]]] = {
    "depth": {"cybenko": depth_cybenko, "spn": depth_spn, "regions": depth_regions},
    "vanishing": {
        "nielsen": vanishing_nielsen,
        "mean_field": vanishing_mean_field,
        "comparison": vanishing_comparison,
        "depth_accuracy": vanishing_depth_accuracy,
        "nielsen_training": vanishing_nielsen_training,
        "nielsen_ratio": vanishing_nielsen_ratio,
    },
    "costs": {
        "neuron": costs_neuron,
        "mnist": costs_mnist,
        "l2": costs_l2,
        "mechanism": costs_mechanism,
        "dropout": costs_dropout,
        "nielsen": costs_nielsen,
        "nielsen_full": lambda s: costs_nielsen(s, f"costs/regularization{FULL}"),
    },
    "initialization": {
        "jacobian": init_jacobian,
        "table1": init_table1,
        "section43": init_section43,
        "budget": lambda s: init_budget(s, "initialization_budget"),
        "budget_full": lambda s: init_budget(s, "initialization_budget" + FULL),
        "plateau": lambda s: init_plateau(s, "initialization_plateau"),
        "plateau_full": lambda s: init_plateau(s, "initialization_plateau" + FULL),
    },
    "pretraining": {
        "default": pretraining_rows,
        "readout": pretraining_readout,
        "gaps": pretraining_gaps,
        "converged": pretraining_converged,
        "converged_full": lambda s: pretraining_converged(s, CONVERGED_FULL),
        "depth": pretraining_depth,
        "full": lambda s: pretraining_rows(s, "pretraining_full"),
    },
    "cnn": {"results": cnn_results, "spread": cnn_spread, "benchmark": cnn_benchmark},
    "layers": {"stats": layers_stats},
    "probes": {
        "seed": lambda s: probes_table(s, cnn=True),
        "mlp": lambda s: probes_table(s, cnn=False),
        "epochs": probes_by_epoch,
        "epochs_full": lambda s: probes_by_epoch(s, f"probes_mlp{FULL}"),
    },
}

QUESTIONS = {
    "depth": "Why go deep, if one hidden layer can approximate anything?",
    "vanishing": "Why do deep sigmoid networks learn slowly near the input?",
    "costs": "What do the cost function, L2 and dropout change?",
    "initialization": "Does a better starting point fix it?",
    "pretraining": "Does greedy layer-wise pretraining cure the vanishing gradient?",
    "cnn": "How well does the study's CNN do, and how fast?",
    "layers": "What does one digit look like in every layer?",
    "probes": "How much of the class does each layer make linearly readable?",
}
